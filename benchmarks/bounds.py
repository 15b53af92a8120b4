"""What bounds rom's ratios: its Python work and its script calls, measured apart.

Usage (from the repository root)::

    python -m benchmarks.bounds [--n 3000] [--json out.json]

For a save, an update, a get of 100 ids and a range query it times, per op:

``rom total``      the operation through rom, as in ``benchmarks.run``;
``rom python``     rom's own Python work alone, no I/O: building the entity
                   and its plan and JSON (writes), or entities from replies
                   already read (reads);
``script call``    the Redis call(s) rom makes, with arguments built before
                   timing (``EVALSHA`` of the plan, the pipeline, ...);
``noop script``    ``EVALSHA`` of ``return 1`` with the same arguments: the
                   price of a script call and of sending its arguments;
``raw``            the raw redis-py baseline of ``benchmarks.run``.

Each is the least of five slices of its inputs (wall, client and server
separately), so other work on a shared machine weighs as little as it can.

``rom total`` is about ``rom python + script call``; ``raw / script call``
is the ratio rom would reach if its Python cost nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

import rom
from rom import _scripts
from rom._replies import decode_row
from rom._writer import write_args
from rom.testing import RedisServer

from . import workload as w

NOOP = "return 1"
SLICES = 5


def _cpu(admin: redis.Redis) -> float:
    info = admin.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _time(
    admin: redis.Redis, fn: Callable[[Any], object], inputs: Sequence[Any]
) -> dict[str, float]:
    # The least of 5 slices, for each measure: the machine may be shared,
    # and a slice that other work slowed down says nothing about rom.
    best = {"wall_us": math.inf, "client_us": math.inf, "server_us": math.inf}
    size = -(-len(inputs) // SLICES)
    for start in range(0, len(inputs), size):
        part = inputs[start : start + size]
        gc.collect()
        server0, client0, wall0 = _cpu(admin), time.process_time(), time.perf_counter()
        for item in part:
            fn(item)
        wall1, client1, server1 = time.perf_counter(), time.process_time(), _cpu(admin)
        n = len(part)
        for key, spent in (
            ("wall_us", wall1 - wall0),
            ("client_us", client1 - client0),
            ("server_us", server1 - server0),
        ):
            best[key] = min(best[key], spent / n * 1e6)
    return best


class Bounds:
    """Each operation split into rom's Python work and its Redis calls."""

    def __init__(self, server: RedisServer, n: int) -> None:
        self.admin = server.client()
        self.conn = server.client()
        w.BenchItem._conn = self.conn
        self.raw = w.Raw(server.client())
        self.data = w.make_dataset(n, seed=1)
        self.noop = self.conn.script_load(NOOP)
        self.writer = _scripts.load("write_entity")
        self.search = _scripts.load("search")
        self.out: dict[str, dict[str, dict[str, float]]] = {}

    def _row(
        self, op: str, name: str, fn: Callable[[Any], object], inputs: Any
    ) -> None:
        rom.session.rollback()
        self.out.setdefault(op, {})[name] = _time(self.admin, fn, inputs)
        rom.session.rollback()

    def _evalsha(self, sha: str) -> Callable[[list[str]], object]:
        return lambda args: self.conn.evalsha(sha, 0, *args)

    def save(self) -> None:
        rows = self.data.rows
        half = len(rows) // 2
        first, second = rows[:half], rows[half:]

        def plan_only(row: w.Row) -> list[str]:
            entity = w.BenchItem(**row.values)
            return write_args([entity._plan_save(full=False, force=False)])

        self._row("save", "rom python", plan_only, first)
        rom.session.rollback()
        plans = [plan_only(row) for row in second]
        rom.session.rollback()
        self._row("save", "script call", self._evalsha(self.writer.sha), plans)
        self._row("save", "noop script", self._evalsha(self.noop), plans)
        self.admin.flushdb()
        self._row("save", "rom total", w.orm_insert, first)
        self._row("save", "raw", self.raw.insert, first)
        for batch in w.chunks(second, w.BATCH):
            w.orm_insert_batch(batch)
            self.raw.insert_batch(batch)

    def _loaded(self) -> list[w.BenchItem]:
        entities: list[w.BenchItem] = []
        for chunk in w.chunks([row.id for row in self.data.rows], 1000):
            entities += w.orm_get_many(chunk)
        return entities

    def update(self) -> None:
        entities = self._loaded()
        half = len(entities) // 2
        scores = self.data.new_scores()

        def plan_only(change: tuple[w.BenchItem, float]) -> list[str]:
            entity, score = change
            entity.score = score
            return write_args([entity._plan_save(full=False, force=False)])

        changes = list(zip(entities, scores, strict=True))
        self._row("update", "rom python", plan_only, changes[:half])
        plans = [plan_only(change) for change in changes[half:]]
        self._row("update", "script call", self._evalsha(self.writer.sha), plans)
        self._row("update", "noop script", self._evalsha(self.noop), plans)
        entities = self._loaded()  # rows changed under the first ones
        changes = list(zip(entities, self.data.new_scores(), strict=True))
        self._row("update", "rom total", w.orm_update, changes[:half])
        raw_changes = [(row, 1.5) for row in self.data.rows[:half]]
        self._row("update", "raw", self.raw.update, raw_changes)

    def get_many(self) -> None:
        ids = w.chunks([row.id for row in self.data.rows], w.BATCH)

        def fetch(chunk: list[int]) -> list[Any]:
            pipe = self.conn.pipeline(transaction=True)
            for i in chunk:
                pipe.hgetall(f"BenchItem:{i}")
            return pipe.execute()  # type: ignore[no-any-return]

        replies = [fetch(chunk) for chunk in ids]
        decode = decode_row

        def build(reply: list[Any]) -> None:
            for raw in reply:
                w.BenchItem._adopt(decode(raw))

        self._row("get_many", "rom python", build, replies)
        self._row("get_many", "script call", fetch, ids)
        self._row("get_many", "rom total", w.orm_get_many, ids)
        self._row("get_many", "raw", self.raw.get_many, ids)

    def range(self) -> None:
        bounds = self.data.ranges(len(self.data.rows) // 3, 5)
        plans = [
            [w.BenchItem.query.filter(age=b).limit(0, w.LIMIT)._plan("rows").to_json()]
            for b in bounds
        ]
        replies = [self.conn.evalsha(self.search.sha, 0, *plan) for plan in plans]
        query = w.BenchItem.query.filter(age=(0, 1)).limit(0, w.LIMIT)

        def build_query(b: tuple[int, int]) -> str:
            q = w.BenchItem.query.filter(age=b).limit(0, w.LIMIT)
            return q._plan("rows").to_json()

        self._row("range", "rom python (plan)", build_query, bounds)
        self._row("range", "rom python (rows)", query._build, replies)
        self._row("range", "script call", self._evalsha(self.search.sha), plans)
        self._row("range", "noop script", self._evalsha(self.noop), plans)
        self._row("range", "rom total", w.orm_range, bounds)
        self._row("range", "raw", self.raw.range, bounds)

    def run(self) -> dict[str, dict[str, dict[str, float]]]:
        self.conn.script_load(self.writer.source)
        self.conn.script_load(self.search.source)
        self.save()
        self.update()
        self.get_many()
        self.range()
        return self.out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bounds")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with RedisServer() as server:
        out = Bounds(server, args.n).run()
    print(
        f"{'operation':<10}{'part':<20}{'wall us':>9}{'client us':>11}{'server us':>11}"
    )
    for op, parts in out.items():
        for name, t in parts.items():
            print(
                f"{op:<10}{name:<20}{t['wall_us']:>9.1f}{t['client_us']:>11.1f}"
                f"{t['server_us']:>11.1f}"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
