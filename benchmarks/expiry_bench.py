"""Expiring entities: cost per operation with and without a model ``_ttl``.

Usage (from the repository root)::

    python -m benchmarks.expiry_bench [--n 5000] [--ops 2000] [--seed 1]

Two models with the same columns, one declaring ``_ttl``, on a private
redis-server (``rom.testing.RedisServer``). Per operation it prints the
round trips and commands of one call (counted on the wire, the same for
every call) and the mean time per call over ``--ops`` calls; then the
time of ``rom.util.expire_due`` over ``--n`` due entities.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

import rom
from rom.testing import RedisServer
from rom.testing import counting_client


class BxPlain(rom.Model):
    email = rom.Text(unique=True)
    name = rom.Text(index=True, keygen=rom.FULL_TEXT)
    age = rom.Integer(index=True)


class BxTtl(rom.Model):
    _ttl = 3600
    email = rom.Text(unique=True)
    name = rom.Text(index=True, keygen=rom.FULL_TEXT)
    age = rom.Integer(index=True)


def _ops(model: Any, n: int, rng: random.Random) -> dict[str, Callable[[], Any]]:
    counter = iter(range(10**9))

    def create() -> None:
        i = next(counter)
        model(email=f"new{i}@x", name=f"w{i % 50} all", age=i % 100).save()

    def update() -> None:
        entity = model.get(rng.randint(1, n))
        entity.age = rng.randint(0, 99)
        entity.save()
        rom.session.rollback()

    def get() -> None:
        model.get(rng.randint(1, n))
        rom.session.rollback()

    def get_many() -> None:
        model.get([rng.randint(1, n) for _ in range(20)])
        rom.session.rollback()

    def get_by_unique() -> None:
        model.get_by(email=f"u{rng.randint(0, n - 1)}@x")
        rom.session.rollback()

    def query() -> None:
        model.query.filter(name=f"w{rng.randint(0, 49)}").limit(0, 10).all()
        rom.session.rollback()

    def count() -> None:
        model.query.filter(age=(10, 20)).count()

    return {
        "create": create,
        "update": update,
        "get": get,
        "get 20 ids": get_many,
        "get_by unique": get_by_unique,
        "query 10 rows": query,
        "count range": count,
    }


def _measure(counter: Any, op: Callable[[], Any], ops: int) -> tuple[int, int, float]:
    op()  # loads scripts
    counter.reset()
    op()
    trips, commands = counter.roundtrips, counter.commands
    start = time.perf_counter()
    for _ in range(ops):
        op()
    return trips, commands, (time.perf_counter() - start) / ops * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="entities per model")
    parser.add_argument("--ops", type=int, default=2000, help="calls timed per op")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with RedisServer() as server:
        client, counter = counting_client(server.url)
        rom.util.CONNECTION = client
        rows = []
        for model in (BxPlain, BxTtl):
            for i in range(args.n):
                model(email=f"u{i}@x", name=f"w{i % 50} all", age=i % 100)
            rom.session.commit()
            rom.session.rollback()
            for name, op in _ops(model, args.n, random.Random(args.seed)).items():
                trips, commands, us = _measure(counter, op, args.ops)
                rows.append((name, model.__name__, trips, commands, us))
        print(f"{'operation':<16}{'model':<9}{'trips':>6}{'cmds':>6}{'us/call':>10}")
        for name, model_name, trips, commands, us in sorted(rows):
            print(f"{name:<16}{model_name:<9}{trips:>6}{commands:>6}{us:>10.1f}")
        # Cleanup: make every BxTtl entity due, then time expire_due.
        due = {m: 1 for m in client.zrange("BxTtl::expiry", 0, -1)}
        client.zadd("BxTtl::expiry", due)
        start = time.perf_counter()
        removed = list(rom.util.expire_due(BxTtl, block_size=200))[-1].removed
        took = time.perf_counter() - start
        print(
            f"expire_due: {removed} entities in {took:.3f} s "
            f"({took / max(removed, 1) * 1e6:.1f} us per entity)"
        )
        left = [k for k in client.scan_iter("BxTtl:*") if b"::write:" not in k]
        print(f"keys left under BxTtl: {sorted(k.decode() for k in left)}")


if __name__ == "__main__":
    main()
