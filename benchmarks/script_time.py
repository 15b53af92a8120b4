"""How long one write script blocks Redis, by chunk size, for a big commit.

Usage (from the repository root)::

    python -m benchmarks.script_time [--n 30000] [--chunks 100,250,500,1000,30000]

For each chunk bound (``rom._requests.CHUNK_ENTITIES``; ``CHUNK_WORK`` is
lifted so only the count bounds a chunk, then the default work bound is run
too) it commits ``--n`` new ``BenchItem`` entities (benchmarks/workload.py:
a unique, four indexes and full-text with prefixes, about 12 index entries
each) on a fresh private redis-server and reads the server's own timing of
every ``EVALSHA`` from SLOWLOG (threshold 1 ms, so the commands the script
runs, each far below it, do not crowd the log; calls and total time come
from INFO commandstats): the largest is how long Redis answered nobody
else. It also reports the whole commit's wall time, so the
price of more, smaller calls shows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import rom
from rom import _requests
from rom.testing import RedisServer
from rom.testing import use_connection

from .workload import BenchItem
from .workload import make_dataset


def measure(n: int, entities: int, work: int) -> dict[str, Any]:
    """Commit ``n`` entities with the given bounds; return the timings."""
    with RedisServer() as server, server.client() as client:
        client.config_set("slowlog-log-slower-than", "1000")
        client.config_set("slowlog-max-len", "100000")
        rows = make_dataset(n, seed=1).rows
        with use_connection(client):
            BenchItem(email="warm@x").save()  # the script is loaded
            client.slowlog_reset()
            client.config_resetstat()
            _requests.CHUNK_ENTITIES, _requests.CHUNK_WORK = entities, work
            items = [BenchItem(**row.values) for row in rows]
            started = time.perf_counter()
            rom.session.commit()
            wall = time.perf_counter() - started
            assert all(item.id is not None for item in items)
        slow = [
            entry["duration"] / 1000.0
            for entry in client.slowlog_get(100000)
            if entry["command"].upper().startswith(b"EVALSHA")
        ]
        stats = client.info("commandstats")["cmdstat_evalsha"]
    return {
        "chunk_entities": entities,
        "chunk_work": work,
        "calls": int(stats["calls"]),
        "max_script_ms": round(max(slow, default=0.0), 2),
        "total_script_ms": round(stats["usec"] / 1000.0, 1),
        "commit_s": round(wall, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30000)
    parser.add_argument("--chunks", default="100,250,500,1000,30000")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    default = (_requests.CHUNK_ENTITIES, _requests.CHUNK_WORK)
    runs = [(int(c), 10**9) for c in args.chunks.split(",")] + [default]
    results = []
    print(
        f"{'entities':>9} {'work':>10} {'calls':>6} {'max ms':>8} "
        f"{'total ms':>9} {'commit s':>9}"
    )
    for entities, work in runs:
        r = measure(args.n, entities, work)
        results.append(r)
        print(
            f"{entities:>9} {work:>10} {r['calls']:>6} {r['max_script_ms']:>8} "
            f"{r['total_script_ms']:>9} {r['commit_s']:>9}",
            flush=True,
        )
    _requests.CHUNK_ENTITIES, _requests.CHUNK_WORK = default
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"n": args.n, "runs": results}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
