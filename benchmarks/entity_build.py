"""Time building entities from rows read from Redis (no Redis needed).

Usage (from the repository root)::

    python -m benchmarks.entity_build                  # wall time, N = 2000
    python -m benchmarks.entity_build --instructions   # also callgrind counts
    python -m benchmarks.entity_build --n 5000 --repeats 15

Each entity is built the way the read path builds it (in batches of
``BATCH`` rows): from the reply
``Model.get`` gets (an HGETALL reply: a dict of bytes) or the reply a
query's search script gives (``[id, field, value, ...]`` as bytes), through
decoding, converting each of the 7 columns of ``benchmarks.workload``'s
``BenchItem`` and registering the entity in the session (the identity map).
Every id is distinct and the session is rolled back between repeats, so
each build makes a new entity, as a first read does. The cyclic garbage
collector is off while building (its passes over every entity kept alive
grow with N and would blur the cost of one entity).

Wall time is the least of ``--repeats`` runs of N builds (the machine is
shared, so the least is the least disturbed); instructions per entity come
from two runs under callgrind (N and 2N builds; the difference cancels
start-up) and do not move between runs.

Another rom tree (``/old/tree/rom``) is measured from outside the
repository, so that the current directory does not put this tree first::

    cd /tmp && PYTHONPATH=/old/tree:/path/to/repo python -m benchmarks.entity_build
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .callgrind import count_instructions

SHAPES = ("hgetall", "script")
# Rows come in batches, as the read path gets them (a page of a query, the
# pipelined reads of get() with a list of ids).
BATCH = 50
CHILD_ROWS = 1000  # rows made by each callgrind run (it builds k or 2k <= this)
# A row's index record (rom's own field): read with the row, never decoded
# into a column.
RECORD = b'[["body:a"],["age","score"],[["body","a"]],{},{}]'


def _rows(n: int) -> list[dict[bytes, bytes]]:
    from . import workload as w

    rows = w.make_dataset(500, 1).rows
    raws = []
    for i in range(n):
        wire = rows[i % len(rows)].wire
        raw = {k.encode(): v.encode() for k, v in wire.items()}
        raw[b"id"] = b"%d" % (i + 1)
        raw[b"-index-data-"] = RECORD
        raws.append(raw)
    return raws


Build = Callable[[list[Any]], list[Any]]


def _builder(shape: str) -> tuple[Build, list[Any]]:
    """The function the read path builds a batch of entities with, and inputs.

    Where the session has ``adopt_replies``, rows are built from the reply
    as read, as ``Model.get`` and queries do (the id list and keys of a
    ``get`` of many ids are made here too); a tree without it decodes each
    row, then adopts them (``Model._adopt_all``), and a tree without that
    adopts each row.
    """
    import rom._replies
    import rom.model
    import rom.query

    from . import workload as w

    model = w.BenchItem
    rows = _rows(_builder.n)  # type: ignore[attr-defined]
    decode: Callable[[Any], dict[str, str]] = rom.model.decode_row
    inputs: list[Any] = rows
    if shape == "script":
        decode = getattr(rom.query, "reply_row", None) or rom._replies.reply_row
        inputs = [[raw[b"id"], *[x for kv in raw.items() for x in kv]] for raw in rows]
    batches = [inputs[i : i + BATCH] for i in range(0, len(inputs), BATCH)]
    from rom.session import session

    adopt_replies = getattr(session, "adopt_replies", None)
    if adopt_replies is not None:  # rows built from the reply as read
        if shape == "script":
            return model._adopt_rows, batches
        keys = model._meta.entity_keys

        def build(batch: list[Any]) -> list[Any]:
            ids = [raw[b"id"] for raw in batch]
            return adopt_replies(model, keys([int(i) for i in ids]), ids, batch)  # type: ignore[no-any-return]

        return build, batches
    adopt_all = getattr(model, "_adopt_all", None)
    if adopt_all is not None:
        return (lambda batch: adopt_all([decode(x) for x in batch])), batches
    adopt = model._adopt
    return (lambda batch: [adopt(decode(x)) for x in batch]), batches


def _run(build: Build, inputs: list[Any]) -> float:
    import rom

    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        built = [build(x) for x in inputs]
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    assert sum(map(len, built)) == _builder.n  # type: ignore[attr-defined]
    del built
    rom.session.rollback()
    return elapsed


def _child(shape: str, n: int) -> None:
    import rom

    # The same set-up whatever n, so that it cancels out between two runs.
    _builder.n = CHILD_ROWS  # type: ignore[attr-defined]
    build, inputs = _builder(shape)
    gc.disable()
    built = [build(x) for x in inputs[: n // BATCH]]
    assert built[-1][-1].id == n
    rom.session.rollback()
    print("RUN-OK")


def _instructions(shape: str, n: int) -> int:
    return count_instructions(
        "benchmarks.entity_build", ["--child", shape, "--n", str(n)], shape
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.entity_build")
    parser.add_argument("--n", type=int, default=2000, help="entities per run")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--shape", choices=SHAPES, action="append")
    parser.add_argument(
        "--instructions", action="store_true", help="also count with callgrind"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.n)
        return
    import rom

    print(f"rom from {os.path.dirname(rom.__file__)}", file=sys.stderr)
    for shape in args.shape or SHAPES:
        _builder.n = args.n  # type: ignore[attr-defined]
        build, inputs = _builder(shape)
        _run(build, inputs)  # warm up
        best = min(_run(build, inputs) for _ in range(args.repeats))
        per = best / args.n * 1e6
        line = f"{shape:<8} {per:8.2f} us/entity (wall, min of {args.repeats})"
        if args.instructions:
            k = CHILD_ROWS // 4
            count = (_instructions(shape, 2 * k) - _instructions(shape, k)) // k
            line += f"  {count:>9,} instructions/entity"
        print(line, flush=True)


if __name__ == "__main__":
    main()
