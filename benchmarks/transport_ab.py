"""The lean transport against redis-py's client calls, in one process.

Usage (from the repository root)::

    python -m benchmarks.transport_ab

Client CPU time (``time.process_time``) per operation, the least of 7
rounds; each round runs every case with the lean transport on, then off
(``rom._transport.lean_sync``/``lean_async`` forced to False, so the
drivers make the plain client calls), so a change of the machine's load
weighs on both alike. The floor (one connection's send and read) and
redis-py's own ``hgetall`` do not depend on the switch: their two columns
show the noise of the run.
"""

# mypy: ignore-errors
import asyncio
import time

import redis
import redis.asyncio

import rom
import rom.connection
import rom.util
from rom import _transport
from rom._io import call
from rom._io import run_async
from rom._io import run_sync
from rom.testing import RedisServer

real_sync, real_async = _transport.lean_sync, _transport.lean_async


def mode(lean):
    _transport.lean_sync = real_sync if lean else (lambda c: False)
    _transport.lean_async = real_async if lean else (lambda c: False)


def block(fn, n=2000):
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n * 1e6


def main() -> None:
    with RedisServer() as server:
        r = redis.Redis(port=server.port)
        rom.util.CONNECTION = r

        class AbItem(rom.Model):
            name = rom.Text(unique=True)
            n = rom.Integer(index=True)

        it = AbItem(name="x", n=1)
        it.save()
        ids = [AbItem(name=f"n{i}", n=i).id for i in range(100)]
        rom.session.commit()
        c = r.connection_pool.get_connection()

        def floor():
            c.send_packed_command(c.pack_command("HGETALL", "AbItem:1"))
            c.read_response()

        cases = {
            "floor: conn send+read HGETALL": floor,
            "redis-py r.hgetall": lambda: r.hgetall("AbItem:1"),
            "run_sync(call hgetall)": lambda: run_sync(call(r, "hgetall", "AbItem:1")),
            "Model.get(id)": lambda: (rom.session.rollback(), AbItem.get(it.id)),
            "Model.get_by(unique)": lambda: (
                rom.session.rollback(),
                AbItem.get_by(name="x"),
            ),
            "query count": lambda: AbItem.query.filter(n=(0, 50)).count(),
            "Model.get(100 ids)": lambda: (rom.session.rollback(), AbItem.get(ids)),
        }
        best = {}
        for _rep in range(7):
            for lean in (True, False):
                mode(lean)
                for name, fn in cases.items():
                    n = 100 if "100" in name else 1000
                    v = block(fn, n)
                    key = (name, lean)
                    best[key] = min(best.get(key, 1e9), v)
        print(
            f"{'client CPU us/op (min of 7)':<34}"
            f"{'lean':>8}{'plain':>8}{'lean/plain':>11}"
        )
        for name in cases:
            a, b = best[(name, True)], best[(name, False)]
            print(f"{name:<34}{a:>8.1f}{b:>8.1f}{a / b:>11.2f}")
        r.connection_pool.release(c)

        async def amain():
            ac = redis.asyncio.Redis(port=server.port)

            async def ablock(fn, n=1000):
                t = time.process_time()
                for _ in range(n):
                    await fn()
                return (time.process_time() - t) / n * 1e6

            acases = {
                "async redis-py hgetall": lambda: ac.hgetall("AbItem:1"),
                "async run_async(call hgetall)": lambda: run_async(
                    call(ac, "hgetall", "AbItem:1")
                ),
                "async Model.aget(id)": lambda: AbItem.aget(it.id),
            }
            abest = {}
            for _rep in range(7):
                for lean in (True, False):
                    mode(lean)
                    for name, fn in acases.items():
                        rom.session.rollback()
                        v = await ablock(fn)
                        abest[(name, lean)] = min(abest.get((name, lean), 1e9), v)
            for name in acases:
                a, b = abest[(name, True)], abest[(name, False)]
                print(f"{name:<34}{a:>8.1f}{b:>8.1f}{a / b:>11.2f}")
            await rom.connection.close_async_connections()

        asyncio.run(amain())


if __name__ == "__main__":
    main()
