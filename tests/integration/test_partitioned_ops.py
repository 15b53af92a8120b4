"""Partitioned models (``_partitions``) in rom's operations: maintenance jobs,
the consistency check and repair, expiry, the CLI and relations work one
partition at a time (on a Redis Cluster each partition's slot on its own
master) and add up over all of them.

The ``cluster`` tests run on one server by default and on a private
3-master cluster with ``--rom-cluster -m cluster``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

import rom
import rom.connection
from rom.consistency import check
from rom.testing import data_keys
from rom.util import clean_old_index
from rom.util import clean_unsafe_cols
from rom.util import refresh_indices

pytestmark = pytest.mark.cluster

P = 4


def _where(e: Any) -> tuple[float, float] | None:
    return (e.lon, e.lat) if e.lon is not None else None


class PoItem(rom.Model):
    _partitions = P
    n = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    name = rom.Text(index=True, keygen=rom.SIMPLE, prefix=True, suffix=True)
    lon = rom.Float()
    lat = rom.Float()
    scratch = rom.UnsafeColumn()
    geo_index = [rom.GeoIndex("where", _where)]  # noqa: RUF012


def _keys(conn: Any, pattern: str) -> list[str]:
    return sorted(k.decode() if isinstance(k, bytes) else k for k in data_keys(conn, pattern))


def _items(count: int) -> list[PoItem]:
    items = [
        PoItem(n=i, tag=f"t{i % 3}", name=f"name{i}", lon=float(i % 90), lat=1.0)
        for i in range(count)
    ]
    rom.session.commit()
    rom.session.rollback()
    return items


def _arun(coro: Any) -> Any:
    """Run ``coro`` on a fresh event loop, closing rom's async clients after."""

    async def main() -> Any:
        try:
            return await coro
        finally:
            await rom.connection.close_async_connections()

    return asyncio.run(main())


def _part(model: Any, id: object) -> Any:
    return model._meta.keys_for(id)


def _index_dump(conn: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in _keys(conn, "*PoItem~*"):
        kind = conn.type(key)
        if kind == b"zset":
            found[key] = conn.zrange(key, 0, -1, withscores=True)
        elif kind == b"set":
            found[key] = sorted(conn.smembers(key))
    return found


# -- maintenance ---------------------------------------------------------------


def test_refresh_indices_rebuilds_every_partition(rom_redis: redis.Redis) -> None:
    items = _items(40)
    before = _index_dump(rom_redis)
    assert {key.split(":")[0] for key in before} >= {
        part.namespace for part in PoItem._meta.parts
    }
    for key in before:
        rom_redis.delete(key)
    for e in items:
        rom_redis.hdel(_part(PoItem, e.id).entity(e.id), "-index-data-")
    progress = list(refresh_indices(PoItem, block_size=10))
    assert progress[-1].done == progress[-1].total == 40
    assert progress[-1].resume is None
    assert _index_dump(rom_redis) == before
    assert check(PoItem) == []
    # Probing ids counter by counter finds every row too.
    for key in before:
        rom_redis.delete(key)
    progress = list(refresh_indices(PoItem, block_size=10, scan=False))
    assert progress[-1].done == 40
    assert _index_dump(rom_redis) == before


@pytest.mark.parametrize("scan", [True, False])
def test_refresh_indices_resumes_in_the_right_partition(
    rom_redis: redis.Redis, scan: bool
) -> None:
    _items(60)
    seen = 0
    resume = 0
    steps = 0
    while True:
        job = refresh_indices(PoItem, block_size=10, scan=scan, resume_from=resume)
        first = next(job)
        seen += first.done
        steps += 1
        if first.resume is None:
            break
        resume = first.resume
    # Every row once (a SCAN may return a key twice across pages, rarely).
    assert seen >= 60
    assert steps >= 6


def test_clean_old_index_and_unsafe_cols_per_partition(rom_redis: redis.Redis) -> None:
    items = _items(12)
    for e in items[:4]:
        e.scratch.set("x")
    gone = items[:4]
    # Rows removed behind rom's back: their entries and UnsafeColumn keys
    # are left in their partitions.
    for e in gone:
        rom_redis.delete(_part(PoItem, e.id).entity(e.id))
    parts_hit = {_part(PoItem, e.id).namespace for e in gone}
    assert len(parts_hit) > 1
    progress = list(clean_old_index(PoItem, block_size=10))
    # n, tag, name (idx, pre, suf), where: 6 entries per removed row.
    assert progress[-1].removed == 6 * len(gone)
    assert clean_unsafe_cols(PoItem) == (4, 4)
    for e in gone:
        keys = _part(PoItem, e.id)
        assert rom_redis.zscore(keys.index("n"), str(e.id)) is None
        assert not rom_redis.exists(keys.unsafe(e.id, "scratch"))
    assert check(PoItem) == []
    assert [x.n for x in PoItem.get([e.id for e in items[4:]])] == [
        e.n for e in items[4:]
    ]


def test_async_maintenance_per_partition(rom_redis: redis.Redis) -> None:
    from rom.maintenance import aclean_old_index
    from rom.maintenance import arefresh_indices

    items = _items(20)
    before = _index_dump(rom_redis)
    for key in before:
        rom_redis.delete(key)

    async def run() -> tuple[Any, Any]:
        refreshed = [p async for p in arefresh_indices(PoItem, block_size=10)]
        cleaned = [p async for p in aclean_old_index(PoItem)]
        return refreshed[-1], cleaned[-1]

    refreshed, cleaned = _arun(run())
    assert refreshed.done == len(items)
    assert cleaned.removed == 0
    assert _index_dump(rom_redis) == before


# -- consistency check and repair --------------------------------------------------


def test_check_is_clean_after_writes_and_says_partitioned(
    rom_redis: redis.Redis,
) -> None:
    items = _items(20)
    items[3].delete()
    items[4].n = 99
    items[4].save()
    report = check(PoItem)
    assert report == []
    assert report.partitions == {"PoItem": P}
    assert report.summary() == f"PoItem: ok (19 rows in {P} partitions)"


def test_check_finds_planted_damage_per_partition_and_repair_fixes_it(
    rom_redis: redis.Redis,
) -> None:
    from rom._repair import apply_repair
    from rom._repair import plan_repair

    items = _items(16)
    by_part: dict[int, list[PoItem]] = {}
    for e in items:
        by_part.setdefault(e.id % P, []).append(e)
    a, b, c = by_part[0][0], by_part[1][0], by_part[2][0]
    ka, kb, kc = _part(PoItem, a.id), _part(PoItem, b.id), _part(PoItem, c.id)
    rom_redis.zrem(ka.index("n"), str(a.id))  # missing-entry in partition 0
    rom_redis.zadd(kb.index("n"), {"999": 5})  # orphan-entry in partition 1
    top = max(e.id for e in by_part[2])
    rom_redis.set(kc.counter, 0)  # id-above-counter in partition 2
    # A row copied into partition 3 under an id of partition 1.
    stray = _part(PoItem, 3).entity(b.id)
    rom_redis.hset(stray, mapping={"id": str(b.id), "n": "1"})
    report = check(PoItem)
    found = {(p.kind, p.partition) for p in report}
    assert found == {
        ("missing-entry", 0),
        ("orphan-entry", 1),
        ("id-above-counter", 2),
        ("wrong-partition", 3),
    }
    above = [p for p in report if p.kind == "id-above-counter"]
    assert len(above) == len(by_part[2])
    assert f"SET {kc.counter} {(top - 2) // P}" in above[0].detail
    wrong = next(p for p in report if p.kind == "wrong-partition")
    assert wrong.key == stray and "belongs in partition 1" in wrong.detail
    assert "(partition 3)" in str(wrong)
    assert wrong.to_dict()["partition"] == 3
    assert "(partitions 0, 1, 2, 3)" in report.summary()

    models = {"PoItem": PoItem}
    result = apply_repair(plan_repair(report, models), models)
    assert [s.kind for s in result.manual] == ["manual"]
    assert not result.skipped
    after = check(PoItem)
    assert [(p.kind, p.partition) for p in after] == [("wrong-partition", 3)]
    assert int(rom_redis.get(kc.counter)) == (top - 2) // P
    rom_redis.delete(stray)
    assert check(PoItem) == []
    # The raised counter hands out fresh ids of partition 2.
    fresh = [PoItem(n=-1) for _ in range(P)]
    rom.session.commit()
    assert all(e.id > top for e in fresh if e.id % P == 2)


def test_async_check_per_partition(rom_redis: redis.Redis) -> None:
    from rom.consistency import acheck

    items = _items(8)
    keys = _part(PoItem, items[5].id)
    rom_redis.srem(keys.token("tag", items[5].tag), str(items[5].id))
    report = _arun(acheck(PoItem))
    assert [(p.kind, p.partition, p.id) for p in report] == [
        ("missing-entry", items[5].id % P, str(items[5].id))
    ]
