"""How long rom's calls wait while a model's slot migrates; is anything lost.

Usage (from the repository root)::

    python -m benchmarks.reshard_wait [--keys 3000] [--writers 2] [--readers 1]

On a throwaway two-master cluster (``rom.testing.RedisCluster``) it saves
entities until the model's slot holds about ``--keys`` keys, then moves
the slot to the other master (``migrate_slot``, 100 keys per MIGRATE) while
``--writers`` threads save new entities and ``--readers`` threads run a
two-filter query (``search.lua``). It prints the migration's duration, the
longest time one call took (it waited for the migration: TRYAGAIN), the
calls made, the refusals seen, errors, acknowledged writes missing
afterwards and ``rom.consistency.check`` problems. A correct run has no
error, nothing missing, no problem, and a longest call below
``rom._scripts.RESHARD_WAIT``.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import rom
from rom import Model
from rom import _scripts
from rom import columns
from rom.consistency import check
from rom.testing import RedisCluster
from rom.testing import slot_of
from rom.testing import use_connection


class RwItem(Model):
    email = columns.Text(unique=True)
    score = columns.Integer(index=True)
    words = columns.Text(index=True, keygen=rom.FULL_TEXT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=3000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=1)
    options = parser.parse_args()
    refused: list[int] = []
    real = _scripts._resharding

    def spy(exc: Exception) -> bool:
        found = real(exc)
        if found:
            refused.append(1)
        return found

    _scripts._resharding = spy
    with RedisCluster(masters=2) as cluster:
        client = cluster.client()
        with use_connection(client):  # type: ignore[arg-type]
            slot = slot_of("{RwItem}")
            source = cluster.node_for_slot(slot)
            n = 0
            while source.command("CLUSTER", "COUNTKEYSINSLOT", slot) < options.keys:
                batch = [
                    RwItem(email=f"s{n + i}@x", score=n + i, words="seed")
                    for i in range(200)
                ]
                rom.session.commit()
                n += len(batch)
                rom.session.rollback()
            keys = source.command("CLUSTER", "COUNTKEYSINSLOT", slot)
            target = next(m for m in cluster.masters() if m.id != source.id)
            stop = threading.Event()
            lock = threading.Lock()
            longest = [0.0]
            calls = [0]
            errors: list[BaseException] = []
            saved: dict[str, str] = {}

            def timed(call: Callable[[], object]) -> None:
                started = time.perf_counter()
                call()
                took = time.perf_counter() - started
                with lock:
                    longest[0] = max(longest[0], took)
                    calls[0] += 1

            def write(k: int) -> None:
                i = 0
                while not stop.is_set():
                    entity = RwItem(email=f"w{k}-{i}@x", score=10**6 + i)
                    timed(entity.save)
                    with lock:
                        saved[f"w{k}-{i}@x"] = str(entity.id)  # type: ignore[attr-defined]
                    i += 1
                    rom.session.rollback()

            def read() -> None:
                query = RwItem.query.filter(score=(0, 10**9), words="seed")
                while not stop.is_set():
                    timed(query.count)
                    rom.session.rollback()

            def guard(work: Callable[[], None]) -> Callable[[], None]:
                def run() -> None:
                    try:
                        work()
                    except BaseException as exc:
                        errors.append(exc)

                return run

            def writer(k: int) -> Callable[[], None]:
                return lambda: write(k)

            threads = [
                threading.Thread(target=guard(writer(k)))
                for k in range(options.writers)
            ] + [threading.Thread(target=guard(read)) for _ in range(options.readers)]
            for thread in threads:
                thread.start()
            time.sleep(0.2)
            started = time.perf_counter()
            cluster.migrate_slot(slot, target, batch=100)
            migration = time.perf_counter() - started
            time.sleep(0.2)
            stop.set()
            for thread in threads:
                thread.join()
            rom.session.rollback()
            missing = [
                e for e, id in saved.items() if (RwItem.get_by(email=e) or None) is None
            ]
            problems = check(RwItem)
        client.close()
    print(f"keys in the slot          {keys}")
    print(f"migration                 {migration:.3f} s")
    print(f"longest call              {longest[0]:.3f} s (RESHARD_WAIT "
          f"{_scripts.RESHARD_WAIT} s)")  # fmt: skip
    print(f"calls / TRYAGAIN refusals {calls[0]} / {len(refused)}")
    print(f"acknowledged writes       {len(saved)}, missing {len(missing)}")
    print(f"errors                    {len(errors)} {errors[:3]!r}")
    print(f"consistency problems      {len(problems)}")


if __name__ == "__main__":
    main()
