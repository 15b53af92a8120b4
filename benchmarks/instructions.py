"""Count the CPU instructions of rom's own Python work per operation (callgrind).

Usage (from the repository root; needs ``valgrind``)::

    python -m benchmarks.instructions [OP ...] [--k 200]

Timings on a shared machine move by tens of percent; instruction counts do
not. Each OP runs against a fake connection that answers at once with
canned replies, so only rom's code (and the Python it calls) is counted,
not redis-py or the network. The count per op is the difference between a
run of 2k and a run of k ops, divided by k, which cancels start-up.
``PYTHONPATH=/old/tree`` counts another rom tree (see README.rst).

Ops: insert, update, get, get_many (100 ids), range (10 rows), count,
load (one entity from a decoded row).
"""

from __future__ import annotations

import argparse
from typing import Any

from .callgrind import count_instructions

SETUP = 500
OPS = ("insert", "update", "get", "get_many", "range", "count", "load")


def _row() -> dict[bytes, bytes]:
    from . import workload as w

    wire = w.make_dataset(5, 1).rows[4].wire
    row = {k.encode(): v.encode() for k, v in wire.items()}
    row[b"-index-data-"] = b'[["body:a"],["age","score"],[["body","a"]],{},{}]'
    return row


class _Pipe:
    def __init__(self, row: dict[bytes, bytes]) -> None:
        self.row = row
        self.ids: list[bytes] = []

    def hgetall(self, key: str) -> None:
        self.ids.append(key.rsplit(":", 1)[1].encode())

    def __enter__(self) -> _Pipe:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self) -> list[dict[bytes, bytes]]:
        return [{**self.row, b"id": i} for i in self.ids]


class FakeRedis:
    """Answers rom's calls at once: ids for writes, a canned row for reads."""

    def __init__(self, row: dict[bytes, bytes]) -> None:
        self.row = row
        self.flat = [x for pair in row.items() for x in pair]
        self.next_id = 0

    def evalsha(self, sha: str, numkeys: int, *args: Any) -> Any:
        plan = next((a for a in args if str(a).startswith('{"temp"')), None)
        if plan is not None:  # a search plan (after the script's keys)
            if '"mode":"count"' in plan:
                return 5
            # A stored row holds its own id field, as HGETALL gives it.
            ids = [str(i).encode() for i in range(1, 11)]
            return [[i, *self.flat, b"id", i] for i in ids]
        results = []
        for _ in [a for a in args if str(a).startswith('{"ns"')]:  # one per plan
            self.next_id += 1
            results.append(f'{{"id":"{self.next_id}"}}')
        return "[" + ",".join(results) + "]"

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        return {**self.row, b"id": key.rsplit(":", 1)[1].encode()}

    def pipeline(self, transaction: bool = True) -> _Pipe:
        return _Pipe(self.row)

    def zcount(self, *args: Any) -> int:
        return 5


def _work(op: str, k: int) -> None:
    import rom
    import rom.model

    from . import workload as w

    decode_row = rom.model.decode_row  # where every rom tree has it
    row = _row()
    w.BenchItem._conn = FakeRedis(row)
    # The same set-up whatever k, so that it cancels out between two runs.
    rows = w.make_dataset(SETUP, 1).rows
    if op == "update":  # loaded entities to change (no other op has them)
        rows_read = [{**row, b"id": b"%d" % (i + 1)} for i in range(SETUP)]
        entities = [w.BenchItem._adopt(decode_row(r)) for r in rows_read]
        for i in range(k):
            w.orm_update((entities[i % SETUP], float(i)))
    elif op == "insert":
        for i in range(k):
            w.orm_insert(rows[i % SETUP])
    elif op == "get":
        for i in range(k):
            w.orm_get(i + 1)
    elif op == "get_many":
        for i in range(k):
            w.orm_get_many(list(range(i * 100 + 1, i * 100 + 101)))
    elif op == "range":
        for _ in range(k):
            w.orm_range((3, 7))
    elif op == "count":
        for _ in range(k):
            w.orm_count((3, 7))
    elif op == "load":
        text = decode_row(row)
        for i in range(k):
            w.BenchItem._adopt({**text, "id": str(i + 1)})
    rom.session.rollback()
    print("RUN-OK")


def _instructions(op: str, k: int) -> int:
    return count_instructions(
        "benchmarks.instructions", ["--child", op, "--k", str(k)], op
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("ops", nargs="*", help=f"some of {', '.join(OPS)}")
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _work(args.child, args.k)
        return
    unknown = set(args.ops) - set(OPS)
    if unknown:
        parser.error(f"unknown ops {sorted(unknown)}; choose from {OPS}")
    for op in args.ops or OPS:
        k = max(args.k // (20 if op in ("get_many", "range") else 1), 5)
        per_op = (_instructions(op, 2 * k) - _instructions(op, k)) // k
        print(f"{op:<10}{per_op:>12,} instructions/op", flush=True)


if __name__ == "__main__":
    main()
