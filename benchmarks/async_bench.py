"""rom's async API against raw ``redis.asyncio`` doing the same commands.

Run from the repository root::

    python -m benchmarks.async_bench            # about 1 min on 2 cores

Phases (the workload of ``benchmarks.workload``): insert one entity, commit
100, get by id, get 100 ids, get_by a unique value, a range query of 10,
a count. Each phase runs on one event loop twice: one operation at a time
(``seq``) and as 50 concurrent tasks (``x50``). The raw side sends the
commands of ``workload.Raw`` through ``redis.asyncio`` (same pipelines;
only the awaited ``execute`` differs). Prints ops/s and the ratio rom/raw.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio

import rom
import rom.util
from rom.testing import RedisServer

from . import workload as w

TASKS = 50


class AsyncRaw(w.Raw):
    """``workload.Raw`` on a ``redis.asyncio`` client (pipelines built alike)."""

    r: Any

    async def ainsert(self, row: w.Row) -> None:
        pipe = self.r.pipeline(transaction=True)
        self._write(pipe, row)
        await pipe.execute()

    async def ainsert_batch(self, rows: list[w.Row]) -> None:
        pipe = self.r.pipeline(transaction=True)
        for row in rows:
            self._write(pipe, row)
        await pipe.execute()

    async def aget(self, id: int) -> Any:
        return await self.r.hgetall(f"{self.ns}:{id}")

    async def _arows(self, ids: Sequence[Any]) -> list[Any]:
        pipe = self.r.pipeline(transaction=False)
        for id in ids:
            pipe.hgetall(f"{self.ns}:{id.decode() if isinstance(id, bytes) else id}")
        return await pipe.execute()  # type: ignore[no-any-return]

    async def aget_many(self, ids: list[int]) -> list[Any]:
        return await self._arows(ids)

    async def aget_by(self, email: str) -> Any:
        id = await self.r.hget(f"{self.ns}:email:uidx", email)
        return None if id is None else await self.r.hgetall(f"{self.ns}:{id.decode()}")

    async def arange(self, bounds: tuple[int, int]) -> list[Any]:
        key = f"{self.ns}:age:idx"
        ids = await self.r.zrangebyscore(key, bounds[0], bounds[1], 0, w.LIMIT)
        return await self._arows(ids)

    async def acount(self, bounds: tuple[int, int]) -> int:
        return await self.r.zcount(f"{self.ns}:age:idx", bounds[0], bounds[1])  # type: ignore[no-any-return]


async def rom_insert(row: w.Row) -> None:
    await w.BenchItem(**row.values).asave()


async def rom_commit(rows: list[w.Row]) -> None:
    for row in rows:
        w.BenchItem(**row.values)
    await rom.session.acommit()


async def rom_get(id: int) -> Any:
    return await w.BenchItem.aget(id)


async def rom_get_many(ids: list[int]) -> Any:
    return await w.BenchItem.aget(ids)


async def rom_get_by(email: str) -> Any:
    return await w.BenchItem.aget_by(email=email)


async def rom_range(bounds: tuple[int, int]) -> Any:
    return await w.BenchItem.query.filter(age=bounds).limit(0, w.LIMIT).aall()


async def rom_count(bounds: tuple[int, int]) -> int:
    return await w.BenchItem.query.filter(age=bounds).acount()


Op = Callable[[Any], Awaitable[Any]]


async def timed(fn: Op, inputs: Sequence[Any], tasks: int) -> float:
    """Ops/s of ``fn`` over ``inputs``: one at a time, or ``tasks`` at once."""
    started = time.perf_counter()
    if tasks == 1:
        for item in inputs:
            await fn(item)
    else:
        queue = list(inputs)

        async def worker() -> None:
            while queue:
                item = queue.pop()
                # A fresh session per operation, as one request would have.
                async with rom.session_scope():
                    await fn(item)

        await asyncio.gather(*(worker() for _ in range(tasks)))
    return len(inputs) / (time.perf_counter() - started)


async def phases(n: int, seed: int, url: str) -> list[tuple[str, str, float, float]]:
    data = w.make_dataset(n, seed)
    raw = AsyncRaw(redis.asyncio.Redis.from_url(url))
    rows = data.rows
    half = len(rows) // 2
    singles, batches = rows[:half], w.chunks(rows[half:], w.BATCH)
    found: list[tuple[str, str, float, float]] = []
    gets = data.shuffled_ids()[:half]
    plan: list[tuple[str, Op, Op, Sequence[Any]]] = [
        ("insert", rom_insert, raw.ainsert, singles),
        ("commit 100", rom_commit, raw.ainsert_batch, batches),
        ("get", rom_get, raw.aget, gets),
        ("get 100", rom_get_many, raw.aget_many, w.chunks(gets, 100)),
        ("get_by", rom_get_by, raw.aget_by, [r.values["email"] for r in singles]),
        ("range", rom_range, raw.arange, data.ranges(half // 2, 5)),
        ("count", rom_count, raw.acount, data.ranges(half, 5)),
    ]
    for mode, tasks in (("seq", 1), (f"x{TASKS}", TASKS)):
        client = redis.Redis.from_url(url)
        client.flushdb()
        for name, orm_fn, raw_fn, inputs in plan:
            rom.session.rollback()
            ours = await timed(orm_fn, inputs, tasks)
            rom.session.rollback()
            theirs = await timed(raw_fn, inputs, tasks)
            found.append((name, mode, ours, theirs))
            print(
                f"  {name:<11} {mode:<4} rom {ours:9.0f}/s  raw {theirs:9.0f}/s  "
                f"ratio {ours / theirs:.2f}",
                flush=True,
            )
        client.close()
    await raw.r.aclose()
    await rom.util.close_async_connections()
    return found


def table(rows: list[tuple[str, str, float, float]]) -> str:
    lines = [
        "=========== ==== ========== ========== =====",
        "phase       mode rom ops/s  raw ops/s  ratio",
        "=========== ==== ========== ========== =====",
    ]
    for name, mode, ours, theirs in rows:
        lines.append(
            f"{name:<11} {mode:<4} {ours:>10.0f} {theirs:>10.0f} {ours / theirs:>5.2f}"
        )
    lines.append(lines[0])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000, help="entities written")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with RedisServer() as server:
        rom.util.CONNECTION = redis.Redis.from_url(server.url)
        found = asyncio.run(phases(args.n, args.seed, server.url))
    print(table(found))


if __name__ == "__main__":
    main()
