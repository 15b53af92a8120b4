"""What building an entity costs right after a round trip, against warm.

Usage (from the repository root)::

    python -m benchmarks.cold_build [--n 2000] [--runs 9]

On a private redis-server holding ``--n`` benchmark entities, each loop
below runs once per id (shuffled), ``--runs`` times in turn; it prints the
least and the median µs per id:

``transport``          rom's transport reads the row (HGETALL): one round
                       trip, no entity;
``transport + build``  the same read, then the entity built and registered
                       from a reply read before the loop (the same bytes);
``build alone``        only that build, one after the other;
``get``                ``Model.get(id)``, the harness's get by id.

``transport + build`` minus ``transport`` is what the build costs in the
harness's loop, where each build follows a wait on the socket (the server
ran meanwhile, on the same cores); ``build alone`` is what it costs warm,
as ``benchmarks.entity_build`` measures it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import rom
from rom import _lookup
from rom import _transport
from rom.testing import RedisServer

from . import workload as w


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_build")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    model = w.BenchItem
    with RedisServer() as server:
        client = model._conn = server.client()
        data = w.make_dataset(args.n, 1)
        for row in data.rows:
            w.orm_insert(row)
        rom.session.rollback()
        ids = data.shuffled_ids()
        keys = {id: model._meta.entity_key(id) for id in ids}
        command = _transport.sync_command
        no_kwargs: dict[str, Any] = {}

        def read(id: int) -> Any:
            return command(client, "hgetall", (keys[id],), no_kwargs)

        replies = {id: read(id) for id in ids}

        def build(id: int) -> Any:
            return _lookup._one(model, keys[id], id, replies[id])

        def read_build(id: int) -> Any:
            read(id)
            return build(id)

        loops: dict[str, Callable[[int], Any]] = {
            "transport": read,
            "transport + build": read_build,
            "build alone": build,
            "get": model.get,
        }
        times: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(args.runs):
            for name, fn in loops.items():
                start = time.perf_counter()
                for id in ids:
                    fn(id)
                times[name].append((time.perf_counter() - start) / len(ids) * 1e6)
        print(f"{'loop':20} {'least':>8} {'median':>8}  µs per id")
        for name, got in times.items():
            got.sort()
            print(f"{name:20} {got[0]:8.1f} {got[len(got) // 2]:8.1f}")


if __name__ == "__main__":
    main()
