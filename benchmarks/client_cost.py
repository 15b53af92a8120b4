"""Client CPU per operation, rom against raw redis-py, in instructions.

Usage (from the repository root; needs ``valgrind``)::

    python -m benchmarks.client_cost [OP ...] [--k 100]

Wall-time ratios on a shared machine move by tens of percent; CPU
instructions do not. For each OP, rom and raw redis-py (the same work as
``benchmarks.run``: ``workload.BenchItem`` against ``workload.Raw``) each
run it ``k`` and ``2k`` times in a child process under callgrind, talking
to a real redis-server that runs outside valgrind (so only the client is
counted: rom or raw, redis-py, the reply parser, the socket calls). The
count per op is the difference of the two runs over ``k``, which cancels
start-up and set-up. Unlike ``benchmarks.instructions`` (rom's own Python
against a fake connection), this includes redis-py's connection, pool and
parser: it is the client side of the harness's round trip. Every run
starts from the same data (``SETUP`` entities on each side, loaded before
the child starts).

Ops: insert, get, get_many (100 ids; k/10 calls), get_by, range, word,
prefix, count, update, delete.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import redis

import rom
from rom.testing import RedisServer

from . import workload as w
from .callgrind import count_instructions

OPS = (
    "insert", "get", "get_many", "get_by", "range", "word", "prefix", "count",
    "update", "delete",
)  # fmt: skip
SETUP = 500  # entities on each side before a run
SEED = 1


def _calls(op: str, k: int) -> int:
    return max(k // 10, 3) if op == "get_many" else k


def _inputs(op: str, side: str, count: int) -> list[Any]:
    """``count`` inputs of ``op`` for ``side``; the same whatever k is run."""
    data = w.make_dataset(SETUP + count, SEED)
    ids = list(range(1, SETUP + 1))
    if op == "insert":
        return data.rows[SETUP : SETUP + count]
    if op == "get":
        return [ids[i % SETUP] for i in range(count)]
    if op == "get_many":
        return [[ids[(i * 100 + j) % SETUP] for j in range(100)] for i in range(count)]
    if op == "get_by":
        return [data.rows[i % SETUP].values["email"] for i in range(count)]
    if op in ("range", "count"):
        return data.ranges(count, 5 if op == "range" else 10)
    if op == "word":
        return data.words(count)
    if op == "prefix":
        return data.prefixes(count)
    rows = data.rows[:count]
    if side == "raw":
        if op == "update":
            return [(row, float(i) + 0.5) for i, row in enumerate(rows)]
        return rows
    entities = list(w.orm_get_many([row.id for row in rows]))
    if op == "update":
        return [(entity, float(i) + 0.5) for i, entity in enumerate(entities)]
    return entities


def _function(op: str, side: str, client: redis.Redis) -> Any:
    if side == "raw":
        return getattr(w.Raw(client), op)
    return getattr(w, f"orm_{op}")


def _child(op: str, side: str, k: int, port: int, most: int) -> None:
    client = redis.Redis(port=port)
    w.BenchItem._conn = client
    inputs = _inputs(op, side, most)  # as many whatever k is
    fn = _function(op, side, client)
    for item in inputs[:k]:
        fn(item)
    rom.session.rollback()
    print("RUN-OK")


def _load(server: RedisServer) -> None:
    admin = server.client()
    admin.flushdb()
    w.BenchItem._conn = server.client()
    rows = w.make_dataset(SETUP, SEED).rows
    raw = w.Raw(server.client())
    for chunk in w.chunks(rows, w.BATCH):
        w.orm_insert_batch(chunk)
        raw.insert_batch(chunk)
    rom.session.rollback()
    # rom's scripts are loaded (SCRIPT LOAD) before the child runs.
    w.orm_get_by(rows[0].values["email"])
    w.orm_range((0, 99))
    w.orm_count((0, 99))
    w.orm_word(w.make_dataset(SETUP, SEED).words(1)[0])
    rom.session.rollback()


def _per_op(server: RedisServer, op: str, side: str, k: int) -> int:
    counts = []
    for n in (k, 2 * k):
        _load(server)
        args = ["--child", op, "--side", side, "--k", str(_calls(op, n))]
        args += ["--port", str(server.port), "--most", str(_calls(op, 2 * k))]
        counts.append(count_instructions("benchmarks.client_cost", args, op))
    return (counts[1] - counts[0]) // _calls(op, k)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.client_cost")
    parser.add_argument("ops", nargs="*", help=f"some of {', '.join(OPS)}")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--most", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.side, args.k, args.port, args.most)
        return
    unknown = set(args.ops) - set(OPS)
    if unknown:
        parser.error(f"unknown ops {sorted(unknown)}; choose from {OPS}")
    if 2 * args.k > SETUP:
        parser.error(f"--k is at most {SETUP // 2} (updates and deletes need 2k rows)")
    print(f"{'op':<10}{'rom':>12}{'raw':>12}{'raw/rom':>9}   (instructions per op)")
    with RedisServer() as server:
        for op in args.ops or OPS:
            mine = _per_op(server, op, "rom", args.k)
            theirs = _per_op(server, op, "raw", args.k)
            print(f"{op:<10}{mine:>12,}{theirs:>12,}{theirs / mine:>9.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
