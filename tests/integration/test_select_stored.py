"""select() returns what is stored in Redis, never the session's unsaved values.

An entity that is in the session with an unsaved assignment (or an unsaved
new entity) must not change what ``select`` returns, on every path: all(),
first(), iteration, iter_result(), decoded or raw, with the primary key
indexed (one script call) or not (ids probed from the counter).
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom


class SsIndexed(rom.Model):
    name = rom.Text(index=True, keygen=rom.IDENTITY)
    n = rom.Integer(index=True)
    created = rom.PrimaryKey(index=True)


class SsBare(rom.Model):
    name = rom.Text()
    n = rom.Integer()


MODELS = [SsIndexed, SsBare]


@pytest.fixture(params=MODELS, ids=lambda m: m.__name__)
def model(request: pytest.FixtureRequest, rom_redis: redis.Redis) -> Any:
    cls = request.param
    for i in range(1, 4):
        cls(name=f"saved{i}", n=i).save()
    return cls


def _queries(model: Any, **select: Any) -> dict[str, Any]:
    query = model.query.select("name", "n", **select)
    ordered = model.query.order_by("n") if model is SsIndexed else model.query
    return {
        "all": lambda: query.all(),
        "iter": lambda: list(query),
        "iter_result": lambda: list(query.iter_result(pagesize=2)),
        "first": lambda: [query.first()],
        "limit": lambda: query.limit(1, 1).all(),
        "ordered": lambda: ordered.select("name", "n", **select).all(),
    }


EXPECTED = {
    "all": [("saved1", 1), ("saved2", 2), ("saved3", 3)],
    "iter": [("saved1", 1), ("saved2", 2), ("saved3", 3)],
    "iter_result": [("saved1", 1), ("saved2", 2), ("saved3", 3)],
    "first": [("saved1", 1)],
    "limit": [("saved2", 2)],
    "ordered": [("saved1", 1), ("saved2", 2), ("saved3", 3)],
}


def _pairs(rows: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return [(r["name"], r["n"]) for r in rows]


def test_unsaved_changes_do_not_show(model: Any) -> None:
    """Loaded, changed and unsaved entities leave select() results alone."""
    loaded = model.get([1, 2, 3])
    loaded[0].name = "unsaved"
    loaded[1].n = 99
    model(name="new-unsaved", n=0)  # in the session, never saved
    for how, run in _queries(model).items():
        assert sorted(_pairs(run())) == sorted(EXPECTED[how]), how
    raw = _queries(model, decode=False)
    for how, run in raw.items():
        expected = [(name, str(n)) for name, n in EXPECTED[how]]
        assert sorted(_pairs(run())) == sorted(expected), how
    # The session still holds the unsaved values, and saving them shows.
    assert loaded[0].name == "unsaved"
    loaded[0].save()
    assert model.query.select("name").first()["name"] == "unsaved"


def test_select_keeps_entities_out_of_the_session(model: Any) -> None:
    """Rows read by select() are not added to the session."""
    rom.session.rollback()
    model.query.select("name").all()
    list(model.query.select("name").iter_result())
    assert rom.session.get(f"{model.__name__}:1") is None
