"""rom's hot reads (get by id, get 100 ids, count), async and sync, against
redis-py doing the same commands: the best of several interleaved rounds.

Run from the repository root::

    python -m benchmarks.hot_reads              # about 1 min on 2 cores

On a shared machine one run of ``benchmarks.async_bench`` moves by tens of
percent; here each phase alternates rom and raw rounds of ``--n``
operations ``--rounds`` times and keeps each side's fastest round, so a
busy neighbour slows both alike. Prints ops/s, the ratio rom/raw and the
microseconds per operation of each side (their difference is rom's cost).
``PYTHONPATH=/other/tree`` measures another rom tree.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio

import rom
import rom.util
from rom.testing import RedisServer

from . import workload as w

Round = Callable[[], Any]


async def _best(fn: Round) -> float:
    rom.session.rollback()
    started = time.perf_counter()
    out = fn()
    if isinstance(out, Awaitable):
        await out
    return time.perf_counter() - started


async def phases(url: str, n: int, rounds: int) -> None:
    data = w.make_dataset(max(2000, n), 1)
    for row in data.rows:
        w.BenchItem(**row.values)
    await rom.session.acommit()
    rom.session.rollback()
    ns = w.BenchItem._meta.keys.entity(1).rsplit(":", 1)[0]
    ar = redis.asyncio.Redis.from_url(url)
    sr = redis.Redis.from_url(url)
    ids = data.shuffled_ids()[:n]
    spans = data.ranges(n, 5)
    batches = [ids[k : k + 100] for k in range(0, n, 100)]

    async def rom_get() -> None:
        for i in ids:
            await w.BenchItem.aget(i)

    async def raw_get() -> None:
        for i in ids:
            await ar.hgetall(f"{ns}:{i}")

    async def rom_many() -> None:
        for batch in batches:
            await w.BenchItem.aget(batch)

    async def raw_many() -> None:
        for batch in batches:
            pipe = ar.pipeline(transaction=True)
            for i in batch:
                pipe.hgetall(f"{ns}:{i}")
            await pipe.execute()

    async def rom_count() -> None:
        for span in spans:
            await w.BenchItem.query.filter(age=span).acount()

    async def raw_count() -> None:
        for span in spans:
            await ar.zcount(f"{ns}:age:idx", span[0], span[1])

    def sync_rom_get() -> None:
        for i in ids:
            w.BenchItem.get(i)

    def sync_raw_get() -> None:
        for i in ids:
            sr.hgetall(f"{ns}:{i}")

    def sync_rom_many() -> None:
        for batch in batches:
            w.BenchItem.get(batch)

    def sync_raw_many() -> None:
        for batch in batches:
            pipe = sr.pipeline(transaction=True)
            for i in batch:
                pipe.hgetall(f"{ns}:{i}")
            pipe.execute()

    def sync_rom_count() -> None:
        for span in spans:
            w.BenchItem.query.filter(age=span).count()

    def sync_raw_count() -> None:
        for span in spans:
            sr.zcount(f"{ns}:age:idx", span[0], span[1])

    plan: list[tuple[str, Round, Round, int]] = [
        ("aget", rom_get, raw_get, len(ids)),
        ("aget 100", rom_many, raw_many, len(batches)),
        ("acount", rom_count, raw_count, len(spans)),
        ("get", sync_rom_get, sync_raw_get, len(ids)),
        ("get 100", sync_rom_many, sync_raw_many, len(batches)),
        ("count", sync_rom_count, sync_raw_count, len(spans)),
    ]
    for name, ours_fn, theirs_fn, ops in plan:
        ours = theirs = float("inf")
        for _ in range(rounds):
            ours = min(ours, await _best(ours_fn))
            theirs = min(theirs, await _best(theirs_fn))
        print(
            f"{name:<9} rom {ops / ours:8.0f}/s  raw {ops / theirs:8.0f}/s  "
            f"ratio {theirs / ours:.2f}  us/op rom {ours / ops * 1e6:6.1f} "
            f"raw {theirs / ops * 1e6:6.1f}",
            flush=True,
        )
    await ar.aclose()
    sr.close()
    await rom.util.close_async_connections()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="operations a round")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    with RedisServer() as server:
        rom.util.CONNECTION = redis.Redis.from_url(server.url)
        asyncio.run(phases(server.url, args.n, args.rounds))


if __name__ == "__main__":
    main()
