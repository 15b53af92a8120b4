"""Profile one of rom's benchmarked operations with cProfile.

Usage (from the repository root)::

    python -m benchmarks.profile OP [--n 5000] [--ops 2000] [--sort tottime]
                                    [--limit 30] [--dump out.prof]

OP is one of the operation names of ``benchmarks.bench.OPERATIONS`` (insert,
insert_batch, get, get_many, get_by, range, word, prefix, count, update,
delete). A private redis-server holds ``--n`` entities; only the ``--ops``
operations themselves run under the profiler.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from collections.abc import Callable
from typing import Any

import rom
from rom.testing import RedisServer

from . import workload as w
from .bench import OPERATIONS


def _inputs(op: str, data: w.Dataset, count: int) -> tuple[Callable[[Any], Any], Any]:
    ids = data.shuffled_ids()[:count]
    emails = [data.rows[i - 1].values["email"] for i in ids]
    table: dict[str, tuple[Callable[[Any], Any], Any]] = {
        "get": (w.orm_get, ids),
        "get_many": (w.orm_get_many, w.chunks(ids * w.BATCH, w.BATCH)[:count]),
        "get_by": (w.orm_get_by, emails),
        "range": (w.orm_range, data.ranges(count, 5)),
        "word": (w.orm_word, data.words(count)),
        "prefix": (w.orm_prefix, data.prefixes(count)),
        "count": (w.orm_count, data.ranges(count, 10)),
    }
    return table[op]


def _fill(data: w.Dataset, skip: int) -> None:
    for batch in w.chunks(data.rows[skip:], w.BATCH):
        w.orm_insert_batch(batch)
    rom.session.rollback()


def _prepare(op: str, data: w.Dataset, count: int) -> tuple[Callable[[Any], Any], Any]:
    rows = data.rows
    if op == "insert":
        _fill(data, count)  # the profiled saves land on a full data set
        return w.orm_insert, rows[:count]
    if op == "insert_batch":
        return w.orm_insert_batch, w.chunks(rows, w.BATCH)[:count]
    _fill(data, 0)
    if op in ("update", "delete"):
        entities = []
        for chunk in w.chunks([r.id for r in rows[:count]], 1000):
            entities += w.orm_get_many(chunk)
        if op == "delete":
            return w.orm_delete, entities
        return w.orm_update, list(zip(entities, data.new_scores(), strict=False))
    return _inputs(op, data, count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("op", choices=[name for name, _ in OPERATIONS])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--dump", help="write the raw profile here")
    args = parser.parse_args(argv)
    with RedisServer() as server:
        w.BenchItem._conn = server.client()
        data = w.make_dataset(args.n, seed=1)
        fn, inputs = _prepare(args.op, data, args.ops)
        rom.session.rollback()
        profiler = cProfile.Profile()
        profiler.enable()
        w.run_all(fn, inputs)
        profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats(args.sort)
    stats.print_stats(args.limit)
    if args.dump:
        stats.dump_stats(args.dump)


if __name__ == "__main__":
    main()
