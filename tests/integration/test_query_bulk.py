"""Query.update, Query.delete's count, values and values_list on a real Redis."""

from __future__ import annotations

import pytest
import redis

import rom
from rom.exceptions import DataRaceError
from rom.exceptions import InvalidColumnValue
from rom.exceptions import QueryError
from rom.testing import CallCounter

HOOKS: list[str] = []


class QbItem(rom.Model):
    n = rom.Integer(index=True)
    state = rom.Text(index=True, keygen=rom.IDENTITY)
    note = rom.Text()
    must = rom.Integer(required=True, default=0)

    def _before_update(self) -> None:
        HOOKS.append(f"before {self.id}")

    def _after_update(self) -> None:
        HOOKS.append(f"after {self.id}")


def populate(count: int) -> list[QbItem]:
    items = [QbItem(n=i, state="new" if i % 2 else "old") for i in range(count)]
    rom.session.commit()
    return items


def test_update_writes_each_match_with_hooks(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    populate(250)
    HOOKS.clear()
    rom.session.rollback()
    query = QbItem.query.filter(state="new")
    assert query.update(state="done", note="x") == 125
    assert QbItem.query.filter(state="new").count() == 0
    assert QbItem.query.filter(state="done").count() == 125
    assert rom_redis.hmget("QbItem:2", "state", "note") == [b"done", b"x"]
    assert rom_redis.hget("QbItem:1", "note") is None  # not matched
    assert HOOKS[:2] == ["before 2", "before 4"] and len(HOOKS) == 250
    # The ids cached once, then per 100 entities one page read and one write
    # (125: 2 pages, 2 writes), and the DEL of the cached ids.
    rom.session.rollback()
    roundtrips.reset()
    assert QbItem.query.filter(state="done").update(note="y") == 125
    assert roundtrips.roundtrips == 6, roundtrips.names


def test_update_checks_values_before_anything(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    populate(3)
    roundtrips.reset()
    with pytest.raises(QueryError, match="'nope' is not a column"):
        QbItem.query.update(nope=1)
    with pytest.raises(QueryError, match="'id' is not a column"):
        QbItem.query.update(id=1)
    with pytest.raises(QueryError, match="must is required"):
        QbItem.query.update(must=None)
    with pytest.raises(InvalidColumnValue):
        QbItem.query.update(n="many")
    assert roundtrips.roundtrips == 0


def test_update_stops_at_a_race(rom_redis: redis.Redis) -> None:
    populate(4)
    rom.session.rollback()
    items = QbItem.get([1, 2, 3, 4])  # read now; the query reuses them
    rom_redis.hset("QbItem:3", "n", "99")  # another writer
    with pytest.raises(DataRaceError, match="QbItem:3"):
        QbItem.query.filter(n=(0, 10)).update(state="x")
    assert [i.state for i in items[:2]] == ["x", "x"]
    assert rom_redis.hget("QbItem:3", "state") == b"old"
    assert rom_redis.hget("QbItem:4", "state") == b"new"


def test_delete_returns_the_number_deleted(rom_redis: redis.Redis) -> None:
    populate(7)
    assert QbItem.query.filter(state="new").delete(blocksize=2) == 3
    assert QbItem.query.filter(state="new").delete() == 0
    assert QbItem.query.delete() == 4
    assert rom_redis.keys("QbItem:[0-9]*") == []


def test_values_and_values_list(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    populate(4)
    query = QbItem.query.filter(n=(1, 2))
    assert query.values("n", "state").all() == [
        {"n": 1, "state": "new"},
        {"n": 2, "state": "old"},
    ]
    assert query.values_list("state", "n").all() == [("new", 1), ("old", 2)]
    roundtrips.reset()
    assert query.values_list("n", flat=True).all() == [1, 2]
    assert roundtrips.roundtrips == 1
    assert query.order_by("-n").values_list("n", flat=True).first() == 2
    assert list(QbItem.query.filter(state="new").values_list("n", flat=True)) == [1, 3]
    with pytest.raises(QueryError, match=r"flat=True\) takes one column"):
        query.values_list("n", "state", flat=True)
    with pytest.raises(QueryError, match="not a stored column"):
        query.values("nope")
