"""A plain save that changes no index entry's name keeps the stored record.

When every column a plain save writes names the same index entries with
its new value as with the row's (a number's score moves, an unindexed
column changes), the plan carries no ``-index-data-`` record and no token
or affix, and the writer keeps the row's record as it is. A row with no
record of this library's to keep (none, or rom 1.1.2's legacy ``<ns>::``
one) is answered ``replan`` and the save is sent again in full. Either way
the indexes end as a full save leaves them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import rom
from rom import _scripts
from rom.testing import CallCounter
from rom.testing import RedisServer

from .faults import assert_consistent
from .index_keys import index_members
from .server_commands import Ran
from .server_commands import commands_ran


class LeanDoc(rom.Model):
    email = rom.Text(unique=True)
    body = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE_CI, prefix=True)
    n = rom.Integer(index=True)
    f = rom.Float(index=True)
    flag = rom.Boolean(index=True)
    meta = rom.Json()


RECORD = "-index-data-"


@pytest.fixture
def ran(rom_redis: redis.Redis, rom_redis_server: RedisServer | None) -> Iterator[Ran]:
    """Run a callable; return the commands the server ran meanwhile."""
    if rom_redis_server is None:
        pytest.skip("counts server commands: needs the private test server")
    warm = _saved(email="warm@example.com")
    warm.delete()
    yield commands_ran(rom_redis)


@pytest.fixture
def sent() -> Iterator[list[list[str]]]:
    """The ARGV of every write script call made meanwhile."""
    calls: list[list[str]] = []
    real = _scripts.write_entity_steps

    def spy(conn: Any, key: str, ttl: int, args: list[str], probe: str) -> Any:
        calls.append(list(args))
        return (yield from real(conn, key, ttl, args, probe))

    _scripts.write_entity_steps = spy
    try:
        yield calls
    finally:
        _scripts.write_entity_steps = real


def _saved(**changes: Any) -> LeanDoc:
    values: dict[str, Any] = {
        "email": "a@example.com",
        "body": "Hello big world",
        "name": "Ada",
        "n": 1,
        "f": 0.5,
        "flag": True,
        "meta": {"k": 1},
    }
    doc = LeanDoc(**{**values, **changes})
    doc.save()
    return doc


def _indexes(conn: redis.Redis) -> dict[bytes, object]:
    """Every index key of LeanDoc with its members (and scores)."""
    return index_members(conn, "LeanDoc")


def _record(conn: redis.Redis, doc: LeanDoc) -> bytes | None:
    return conn.hget(f"LeanDoc:{doc.id}", RECORD)  # type: ignore[return-value]


# -- what a lean update sends and writes --------------------------------------------


def test_a_number_update_sends_no_record_and_keeps_it(
    ran: Ran, sent: list[list[str]], rom_redis: redis.Redis
) -> None:
    """Changing an indexed number sends a plan with only scores, no record,
    no affix scores; the row's record is left as it was, its score moved."""
    doc = _saved()
    record = _record(rom_redis, doc)
    sent.clear()
    doc.n = 7
    counts = ran(doc.save)
    (args,) = sent
    plan, plan_record = args[1], args[2]
    assert plan_record == ""
    assert '"keep":true' in plan
    assert '"prefix"' not in plan and '"suffix"' not in plan
    assert "body:" not in plan  # no token of the unchanged text
    assert counts["hset"] == 1  # the field only: no record written
    assert counts["zadd"] == 3  # n, f and name's scores, as before
    for name in ("sadd", "srem", "zrem", "hdel"):
        assert name not in counts, name
    assert _record(rom_redis, doc) == record
    assert rom_redis.zscore("LeanDoc:n:idx", doc.id) == 7
    assert assert_consistent(rom_redis, "LeanDoc") == {str(doc.id)}


def test_an_unindexed_column_update_keeps_every_entry(
    sent: list[list[str]], rom_redis: redis.Redis
) -> None:
    """Changing a Json column keeps the record and every entry."""
    doc = _saved()
    before, record = _indexes(rom_redis), _record(rom_redis, doc)
    sent.clear()
    doc.meta = {"k": 2}
    doc.save()
    assert sent[0][2] == "" and '"keep":true' in sent[0][1]
    assert _indexes(rom_redis) == before
    assert _record(rom_redis, doc) == record


@pytest.mark.parametrize(
    "change",
    [
        {"body": "Hello small world"},  # another token
        {"name": "Bob"},  # another affix
        {"flag": False},  # another boolean token
        {"n": None},  # the score entry goes
    ],
    ids=["text", "affix", "flag", "none"],
)
def test_a_change_of_entry_names_sends_the_whole_plan(
    change: dict[str, Any], sent: list[list[str]], rom_redis: redis.Redis
) -> None:
    """A written column whose entries are named otherwise now plans every
    entry and the record, as any save did."""
    doc = _saved()
    sent.clear()
    doc.update(**change)
    doc.save()
    assert sent[0][2] != "" and '"keep"' not in sent[0][1]
    plain = _indexes(rom_redis), _record(rom_redis, doc)
    doc.save(full=True)
    assert (_indexes(rom_redis), _record(rom_redis, doc)) == plain
    assert assert_consistent(rom_redis, "LeanDoc") == {str(doc.id)}


# -- rows without a record to keep ------------------------------------------------


def test_a_row_without_its_record_is_sent_again_in_full(
    rom_redis: redis.Redis, roundtrips: CallCounter, sent: list[list[str]]
) -> None:
    """The record was lost (deleted by hand): the lean plan is answered
    ``replan`` with nothing written, and sent again with every entry,
    which writes the record back and repairs what it names."""
    doc = _saved()
    record = _record(rom_redis, doc)
    rom_redis.hdel(f"LeanDoc:{doc.id}", RECORD)
    rom_redis.delete("LeanDoc:body:big:idx")  # an entry lost with it
    sent.clear()
    doc.n = 2
    with roundtrips.count() as c:
        doc.save()
    assert c.names == ["EVALSHA", "EVALSHA"]
    assert [args[2] == "" for args in sent] == [True, False]
    assert _record(rom_redis, doc) == record
    assert rom_redis.sismember("LeanDoc:body:big:idx", doc.id)
    assert rom_redis.zscore("LeanDoc:n:idx", doc.id) == 2
    assert assert_consistent(rom_redis, "LeanDoc") == {str(doc.id)}


def test_a_legacy_record_is_sent_again_in_full_and_cleaned(
    rom_redis: redis.Redis, sent: list[list[str]]
) -> None:
    """A record in rom 1.1.2's legacy <ns>:: hash wins over -index-data-:
    the lean plan cannot keep it, so the save goes in full, moves the
    record into the row and removes the legacy one."""
    doc = _saved()
    record = _record(rom_redis, doc)
    assert record is not None
    rom_redis.hset("LeanDoc::", str(doc.id), record)
    rom_redis.hdel(f"LeanDoc:{doc.id}", RECORD)
    sent.clear()
    doc.f = 2.5
    doc.save()
    assert len(sent) == 2
    assert not rom_redis.exists("LeanDoc::")
    assert _record(rom_redis, doc) == record
    assert assert_consistent(rom_redis, "LeanDoc") == {str(doc.id)}


def test_a_batch_goes_on_after_a_replanned_entity(
    rom_redis: redis.Redis, sent: list[list[str]]
) -> None:
    """In a commit of three, the second's record was lost: the first is
    written once, the second and third are sent again and written."""
    docs = [_saved(email=f"{i}@example.com") for i in range(3)]
    rom_redis.hdel(f"LeanDoc:{docs[1].id}", RECORD)
    for i, doc in enumerate(docs):
        doc.n = 10 + i
    sent.clear()
    rom.session.commit()
    # Three plans, then the two left (the first one was written).
    assert [(len(args) - 1) // 2 for args in sent] == [3, 2]
    for i, doc in enumerate(docs):
        assert rom_redis.zscore("LeanDoc:n:idx", doc.id) == 10 + i
    assert _record(rom_redis, docs[1]) is not None
    assert len(assert_consistent(rom_redis, "LeanDoc")) == 3


def test_the_watch_writer_writes_the_whole_record(rom_redis: redis.Redis) -> None:
    """The WATCH writer rewrites the record on every save: a lean plan is
    planned in full for it."""
    doc = _saved()
    record = _record(rom_redis, doc)
    rom_redis.hdel(f"LeanDoc:{doc.id}", RECORD)
    rom._disable_lua_writes()
    try:
        doc.n = 3
        doc.save()
    finally:
        rom._enable_lua_writes()
    assert _record(rom_redis, doc) == record
    assert rom_redis.zscore("LeanDoc:n:idx", doc.id) == 3


def test_models_that_cannot_keep_their_record_plan_in_full(
    fresh_models: None, sent: list[list[str]]
) -> None:
    """A geo index, or a keygen reading the whole entity, may name other
    entries when any column changes: such a model's saves plan in full."""

    class LeanGeo(rom.Model):
        lon = rom.Float()
        lat = rom.Float()
        n = rom.Integer(index=True)
        geo_index = [rom.GeoIndex("pos", lambda d: (d.lon, d.lat))]  # noqa: RUF012

    def whole(attr: str, data: dict[str, Any]) -> list[str]:
        return [f"{data.get('n')}"]

    class LeanWhole(rom.Model):
        n = rom.Integer()
        tag = rom.Text(index=True, keygen2=whole)

    for doc in (LeanGeo(lon=1.0, lat=2.0, n=1), LeanWhole(n=1, tag="x")):
        doc.save()
        sent.clear()
        doc.n = 5
        doc.save()
        assert sent[0][2] != "" and '"keep"' not in sent[0][1]


# -- whatever changes, a plain save ends where a full one does --------------------

_values = st.fixed_dictionaries(
    {
        "body": st.sampled_from(["Hello big world", "Hello small world", "other"]),
        "name": st.sampled_from(["Ada", "ada", "Bob", None]),
        "n": st.one_of(st.none(), st.integers(-5, 5)),
        "f": st.one_of(st.none(), st.floats(-10, 10, allow_nan=False)),
        "flag": st.booleans(),
        "meta": st.sampled_from([{"k": 1}, {"k": 2}, None]),
    }
)


@settings(
    max_examples=40,
    deadline=None,
    # rom_redis is emptied by the test itself for every example.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(first=_values, changes=st.lists(_values, min_size=1, max_size=3))
def test_plain_saves_end_as_full_saves(
    rom_redis: redis.Redis, first: dict[str, Any], changes: list[dict[str, Any]]
) -> None:
    """After each plain save, a full save changes no index entry and no
    byte of the record, and the consistency check finds nothing."""
    rom_redis.flushdb()
    rom.session.rollback()
    doc = _saved(**first)
    for change in changes:
        doc.update(**change)
        doc.save()
        plain = _indexes(rom_redis), _record(rom_redis, doc)
        doc.save(full=True)
        assert (_indexes(rom_redis), _record(rom_redis, doc)) == plain
    assert assert_consistent(rom_redis, "LeanDoc") == {str(doc.id)}
