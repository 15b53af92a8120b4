"""Values Redis would refuse are refused in Python, before anything is written.

A keygen score or geo point that Python accepts but Redis refuses used to
stop the write script half-way: a new row was written without its index
entries or ``-index-data-`` record, and an update left its index
half-changed. Each case here must raise InvalidColumnValue naming model,
column and value, and leave the database dump unchanged, on both write
paths; accepted spellings must index the number Redis reads.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import InvalidColumnValue

from .dump import dump

REFUSED_SCORES = [
    "1_000",
    "\u0661\u0662\u0663",  # Arabic-Indic digits, which float() takes
    " 5",
    "5 ",
    "nan",
    "NaN",
    "1e999",
    "-1e999",
    "1e-400",
    "abc",
    float("nan"),
    decimal.Decimal("NaN"),
    decimal.Decimal("sNaN"),
    b"\xd9\xa1",
    object(),
]


@pytest.fixture
def scored(fresh_models: None) -> type[rom.Model]:
    """A model whose IndexOnly gives the score held in ``holder``."""
    holder: dict[str, Any] = {}

    class WvScored(rom.Model):
        name = rom.Text(index=True, keygen=rom.FULL_TEXT)
        by = rom.IndexOnly(
            keygen2=lambda attr, d: {"": holder["score"]} if "score" in holder else None
        )

    WvScored.holder = holder  # type: ignore[attr-defined]
    return WvScored


def _refused(
    conn: redis.Redis, action: Callable[[], Any], column: str, value: Any
) -> InvalidColumnValue:
    before = dump(conn)
    with pytest.raises(InvalidColumnValue) as raised:
        action()
    assert dump(conn) == before
    assert raised.value.column == column
    assert raised.value.value is value or raised.value.value == value
    return raised.value


@pytest.mark.parametrize("score", REFUSED_SCORES, ids=repr)
def test_refused_score_on_insert_writes_nothing(
    rom_redis: redis.Redis, write_path: str, scored: Any, score: Any
) -> None:
    """A new entity with a refused score: no row, no index, no id taken."""
    scored.holder["score"] = score
    entity = scored(name="fresh words")
    error = _refused(rom_redis, entity.save, "by", score)
    assert error.model == "WvScored"
    assert "WvScored.by" in str(error)
    assert not rom_redis.exists("WvScored:id:")


@pytest.mark.parametrize("score", REFUSED_SCORES, ids=repr)
def test_refused_score_on_update_keeps_old_state(
    rom_redis: redis.Redis, write_path: str, scored: Any, score: Any
) -> None:
    """An update with a refused score leaves row and indexes as they were."""
    scored.holder["score"] = 7
    entity = scored(name="old words")
    entity.save()
    entity.name = "new words"
    scored.holder["score"] = score
    _refused(rom_redis, entity.save, "by", score)
    rom.session.rollback()
    scored.holder.pop("score")
    assert scored.get_by(by=(7, 7)) == [scored.get(entity.id)]
    assert scored.query.filter(name="old").count() == 1
    assert scored.query.filter(name="new").count() == 0


@pytest.mark.parametrize(
    ("score", "stored"),
    [
        ("0x10", 16.0),
        ("+5", 5.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("inf", float("inf")),
        ("-Infinity", float("-inf")),
        ("1e-310", 1e-310),
        (10**400, float("inf")),
        (decimal.Decimal("1E-500"), 0.0),
        (True, 1.0),
        (b"42", 42.0),
    ],
    ids=repr,
)
def test_accepted_scores_index_the_redis_number(
    rom_redis: redis.Redis, write_path: str, scored: Any, score: Any, stored: float
) -> None:
    """Spellings Redis accepts are indexed as the double Redis reads."""
    scored.holder["score"] = score
    entity = scored(name="x")
    entity.save()
    assert rom_redis.zscore("WvScored:by:idx", str(entity.id)) == stored
    assert rom_redis.hget(f"WvScored:{entity.id}", "-index-data-") is not None


def test_unencodable_token_writes_nothing(
    rom_redis: redis.Redis, write_path: str, fresh_models: None
) -> None:
    """A keygen token with a lone surrogate cannot go to Redis: refused first."""

    class WvToken(rom.Model):
        name = rom.Text()
        tag = rom.IndexOnly("name", keygen=lambda v: [v + "\ud800"] if v else None)

    entity = WvToken(name="a")
    error = _refused(rom_redis, entity.save, "tag", "a\ud800")
    assert "surrogate" in str(error)


@pytest.mark.parametrize(
    "point",
    [
        {"lon": 10**400, "lat": 0},
        {"lon": float("nan"), "lat": 0},
        {"lon": 0, "lat": decimal.Decimal("sNaN")},
        {"lon": "1_0", "lat": 0},
        {"lon": 0, "lat": 85.06},
        {"lon": -180.5, "lat": 0},
        {"lon": 0},
        {"lon": "x", "lat": 0},
        [{"lon": 1, "lat": 2}, {"lon": 1, "lat": 99}],
        (1, 2, 3),
        "1,2",
        42,
    ],
    ids=repr,
)
def test_refused_geo_point_writes_nothing(
    rom_redis: redis.Redis, write_path: str, fresh_models: None, point: Any
) -> None:
    """A geo point GEOADD would refuse raises before the write: nothing written."""

    class WvGeo(rom.Model):
        name = rom.Text()
        geo_index = [rom.GeoIndex("where", lambda d: point if d.name else None)]  # noqa: RUF012

    entity = WvGeo(name="x")
    error = _refused(rom_redis, entity.save, "where", point)
    assert "WvGeo geo index 'where'" in str(error)
