"""Round trips and temporary keys of queries (docs/design.rst).

A query is answered by one script call; a count on one range runs a plain
ZCOUNT with no temp key; no query leaves a key behind except cached_result,
and iter_result deletes its cached key however the iteration ends.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from typing import Any

import pytest
import redis

import rom
from rom.testing import CallCounter
from rom.testing import is_write_record

from .server_commands import command_calls


class QrItem(rom.Model):
    n = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    body = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    lon = rom.Float()
    lat = rom.Float()
    geo_index = [rom.GeoIndex("pos", lambda d: (d["lon"], d["lat"]))]  # noqa: RUF012


# Every key a QrItem may own: rows, the id counter and its indexes.
KNOWN = re.compile(rb"^QrItem:(\d+|id:|.+:(idx|pre|suf|geo))$")


def leftovers(conn: redis.Redis) -> list[bytes]:
    """Keys that are not rows, counters or indexes: query temporaries."""
    return sorted(
        k
        for k in conn.scan_iter(count=1000)
        if not KNOWN.match(k) and not is_write_record(k)
    )


def populate(count: int = 30) -> list[QrItem]:
    """Save ``count`` items: n = 0.., three tags, a few words, a position."""
    items = [
        QrItem(
            n=i,
            tag=f"t{i % 3}",
            body=f"word{i % 5} common",
            lon=i * 0.01,
            lat=50.0,
        )
        for i in range(count)
    ]
    rom.session.commit()
    rom.session.rollback()
    return items


@pytest.fixture
def warm(rom_redis: redis.Redis, roundtrips: CallCounter) -> CallCounter:
    """Load the query scripts on the server, then start from an empty db.

    A script's first call after a server start costs NOSCRIPT + SCRIPT LOAD;
    budgets are about the steady state.
    """
    populate(3)
    list(QrItem.query.filter(n=(0, 5)).iter_result(pagesize=1))
    rom_redis.flushdb()
    rom.session.rollback()
    populate()
    roundtrips.reset()
    return roundtrips


def test_count_on_one_range_is_one_zcount(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """count() on one range is one round trip, a ZCOUNT inside, no temp key."""
    before = command_calls(rom_redis)
    with warm.count() as calls:
        assert QrItem.query.filter(n=(5, 14)).count() == 10
    after = command_calls(rom_redis)
    assert calls.roundtrips == 1
    assert calls.names == ["ZCOUNT"]  # sent from Python: no plan, no script
    ran = {
        name: after[name] - before.get(name, 0)
        for name in after
        if after[name] != before.get(name, 0) and name not in ("info", "evalsha")
    }
    assert ran == {"zcount": 1}


def test_filter_limit_all_is_one_roundtrip(warm: CallCounter) -> None:
    """filter(...).limit(...).all() is one script call, rows included."""
    with warm.count() as calls:
        found = QrItem.query.filter(tag="t1", n=(0, 20)).limit(1, 3).all()
    assert [e.n for e in found] == [4, 7, 10]
    assert calls.roundtrips == 1
    assert calls.names == ["EVALSHA"]


@pytest.mark.parametrize(
    "run",
    [
        lambda: QrItem.query.filter(n=(3, 9)).all(),
        lambda: QrItem.query.filter(tag="t2").all(),
        lambda: QrItem.query.filter(tag="t2").count(),
        lambda: QrItem.query.filter(tag=["t0", "t2"], body="word1").count(),
        lambda: QrItem.query.filter(n=(3, 9)).order_by("-n").limit(0, 2).all(),
        lambda: QrItem.query.filter(tag="t2").order_by("-n").first(),
        lambda: QrItem.query.startswith(body="wor").limit(0, 5).all(),
        lambda: QrItem.query.endswith(body="d3").count(),
        lambda: QrItem.query.like(body="w*3").all(),
        lambda: QrItem.query.near("pos", 0.0, 50.0, 5, "km").all(),
        lambda: QrItem.query.filter(n=(3, 9)).select("n", "tag").all(),
        lambda: QrItem.query.order_by("n").limit(5, 5).all(),
        lambda: QrItem.query.filter(n=(3, 9)).cached_result(10),
    ],
)
def test_queries_are_one_roundtrip(warm: CallCounter, run: Callable[[], Any]) -> None:
    """Each of these queries costs one round trip."""
    with warm.count() as calls:
        run()
    assert calls.roundtrips == 1


def test_get_by_a_range_costs_at_most_two(warm: CallCounter) -> None:
    """get_by on a numeric range reads ids, then rows: at most two round trips."""
    with warm.count() as calls:
        assert [e.n for e in QrItem.get_by(n=(3, 6), _limit=(1, 2))] == [4, 5]
    assert calls.roundtrips <= 2


def test_building_a_query_sends_nothing(warm: CallCounter) -> None:
    """Chaining filters, order and limits talks to no server."""
    with warm.count() as calls:
        QrItem.query.filter(n=(1, 2), tag="t0").startswith(body="w").order_by(
            "-n"
        ).limit(0, 3).select("n")
    assert calls.roundtrips == 0


def test_iter_result_pages(warm: CallCounter, rom_redis: redis.Redis) -> None:
    """iter_result: one call to cache, one per page, one to delete the key."""
    with warm.count() as calls:
        found = [
            e.n
            for e in QrItem.query.filter(tag="t0", n=(0, 20)).iter_result(pagesize=3)
        ]
    assert found == [0, 3, 6, 9, 12, 15, 18]
    assert calls.roundtrips == 1 + 3 + 1
    assert calls.names[-1] == "DEL"
    assert leftovers(rom_redis) == []


@pytest.mark.parametrize(
    "run",
    [
        lambda: QrItem.query.filter(n=(3, 9)).all(),
        lambda: QrItem.query.filter(n=(3, 9)).count(),
        lambda: QrItem.query.filter(tag="t1", n=(3, 9)).all(),
        lambda: QrItem.query.filter(tag="t1", n=(3, 9)).count(),
        lambda: QrItem.query.filter(tag=["t0", "t1"], body="common").all(),
        lambda: QrItem.query.filter(tag="t1").order_by("-n").all(),
        lambda: QrItem.query.filter(tag="t1").first(),
        lambda: QrItem.query.startswith(body="word").filter(n=(0, 9)).all(),
        lambda: QrItem.query.endswith(body="d1").like(body="w+1").count(),
        lambda: QrItem.query.near("pos", 0.0, 50.0, 5, "km", 3).filter(tag="t0").all(),
        lambda: QrItem.query.filter(tag="none", n=(3, 9)).all(),
        lambda: QrItem.query.filter(n=(3, 9)).select("n").all(),
        lambda: list(QrItem.query.filter(tag="t1")),
        lambda: list(QrItem.query),
        lambda: list(QrItem.query.filter(n=(0, 9)).iter_result(pagesize=4)),
        lambda: QrItem.query.filter(tag="t2", n=(0, 9)).delete(blocksize=2),
    ],
)
def test_no_temp_key_is_left(
    warm: CallCounter, rom_redis: redis.Redis, run: Callable[[], Any]
) -> None:
    """Once a query has finished, only rows and indexes remain in the db."""
    run()
    assert leftovers(rom_redis) == []


def test_cached_result_keeps_its_key_with_a_ttl(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """cached_result leaves exactly one key, namespaced, expiring in time."""
    key = QrItem.query.filter(tag="t1", n=(0, 9)).order_by("-n").cached_result(20)
    assert leftovers(rom_redis) == [key.encode()]
    assert key.startswith("QrItem:")
    assert 0 < rom_redis.ttl(key) <= 20
    assert rom_redis.zrange(key, 0, -1) == [b"8", b"5", b"2"]


def test_iter_result_closed_early_deletes_its_key(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """Closing the generator after one page deletes the cached key."""
    pages = QrItem.query.filter(n=(0, 29)).iter_result(timeout=15, pagesize=2)
    assert next(pages).n == 0
    (key,) = leftovers(rom_redis)
    assert 0 < rom_redis.ttl(key) <= 15
    pages.close()
    assert leftovers(rom_redis) == []


def test_iter_result_abandoned_deletes_its_key(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """Breaking out of a loop and dropping the generator deletes the key."""
    for entity in QrItem.query.filter(tag="t0").iter_result(pagesize=2):
        if entity.n >= 6:
            break
    gc.collect()
    assert leftovers(rom_redis) == []


def test_iter_result_interrupted_by_an_error_deletes_its_key(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """An exception in the consumer's loop still deletes the key."""

    def consume() -> None:
        for entity in QrItem.query.filter(n=(0, 29)).order_by("-n"):
            if entity.n < 25:
                raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        consume()
    gc.collect()
    assert leftovers(rom_redis) == []
