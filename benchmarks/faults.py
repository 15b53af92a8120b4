"""Consistency figures of writes under faults: racing writers, dropped connections.

Usage (from the repository root)::

    python -m benchmarks.faults [--processes 4] [--operations 2000]
                                [--dropped 600] [--drop 0.04] [--json out.json]

Two runs, each on both write paths (the Lua script and the WATCH/MULTI/EXEC
writer), each on its own private redis-server (``rom.testing.RedisServer``):

racing writers
    ``--processes`` spawned processes, each with its own connection and no
    session cache, run ``--operations`` random writes on a handful of rows of
    one model (new entities, updates of fresh and of stale copies, deletes
    and forced saves of stale copies) over a few unique values that differ
    only in case. Refusals (UniqueKeyViolation, DataRaceError,
    EntityDeletedError) are the expected outcome of a lost race and are
    counted.

dropped connection
    one client writes through ``rom.testing.DroppingProxy``, which drops the
    connection on ``--drop`` of the requests and of the replies; redis-py's
    own retries are on (its default), and rom re-sends too. Each of
    ``--dropped`` operations creates three entities, creates one with a
    unique value, or updates the last ones; a save that raises
    WriteOutcomeUnknown is saved again (that settles it).

After each run it counts, straight from Redis: the rows; duplicates (rows
beyond the entities the client created, and unique values held by more than
one row); unique entries that disagree with the rows; and every problem
``rom.consistency.check`` reports (orphan or missing index, unique and geo
entries, stale records, ids above the counter, leftover temporary keys).
A correct run has zero duplicates, zero mismatches and zero problems.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import time
from typing import Any

import redis

import rom
from rom.consistency import check
from rom.exceptions import DataRaceError
from rom.exceptions import EntityDeletedError
from rom.exceptions import UniqueKeyViolation
from rom.testing import DroppingProxy
from rom.testing import RedisServer
from rom.testing import use_connection

NAMES = ["ann", "bob", "cy", "dee", "eve", "fay"]
RECENT = 4  # racing writers contend for the last RECENT ids


class FaultRace(rom.Model):
    """The racing-writers model: unique entries Redis computes and rom computes."""

    email = rom.Text(unique=True, keygen=rom.IDENTITY_CI)
    handle = rom.Text(unique=True)
    nick = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)
    nick_ci = rom.IndexOnly(column="nick", keygen=rom.IDENTITY_CI, unique=True)
    n = rom.Integer(index=True)


class FaultPlain(rom.Model):
    """Dropped connections: new entities with an index and full text."""

    n = rom.Integer(index=True)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT)


class FaultUnique(rom.Model):
    """Dropped connections: new entities holding a unique value."""

    email = rom.Text(unique=True)
    n = rom.Integer(index=True)


def _use_path(path: str) -> None:
    """Write with the Lua script (``lua``) or the WATCH writer (``watch``)."""
    if path == "watch":
        rom._disable_lua_writes()
    else:
        rom._enable_lua_writes()


# -- racing writers -------------------------------------------------------------


def _value(rng: random.Random) -> str | None:
    if rng.random() < 0.1:
        return None
    name = rng.choice(NAMES)
    return "".join(c.upper() if rng.random() < 0.5 else c for c in name)


def _assign(rng: random.Random, acct: FaultRace) -> None:
    acct.email = _value(rng)
    if rng.random() < 0.5:
        acct.handle = _value(rng)
    acct.nick = _value(rng)
    acct.n = rng.randint(0, 9)


def _recent_id(rng: random.Random) -> int:
    top = int(FaultRace._connection.get("FaultRace:id:") or 1)
    return rng.randint(max(1, top - RECENT + 1), top)


def _step(rng: random.Random, held: list[FaultRace]) -> None:
    roll = rng.random()
    if roll < 0.2 or not held:
        acct = FaultRace()
        _assign(rng, acct)
        acct.save()
        held.append(acct)
        return
    if roll < 0.45:
        fresh = FaultRace.get(_recent_id(rng))
        if fresh is None:
            return
        held.append(fresh)
        _assign(rng, fresh)
        fresh.save()
        return
    copy = rng.choice(held)
    if roll < 0.7:
        copy.delete()
    elif roll < 0.85:
        _assign(rng, copy)
        copy.save(force=True)
    else:
        fresh = FaultRace.get(_recent_id(rng))
        if fresh is not None:
            fresh.delete()


def race_worker(url: str, path: str, seed: int, operations: int, out: Any) -> None:
    """Run ``operations`` random writes; put the outcome counts on ``out``."""
    rng = random.Random(seed)
    _use_path(path)
    rom.session.null_session = True
    counts = {"ok": 0, "unique": 0, "race": 0, "deleted": 0}
    held: list[FaultRace] = []
    with use_connection(redis.Redis.from_url(url)):
        for _ in range(operations):
            try:
                _step(rng, held)
                counts["ok"] += 1
            except UniqueKeyViolation:
                counts["unique"] += 1
            except DataRaceError:
                counts["race"] += 1
            except EntityDeletedError:
                counts["deleted"] += 1
            del held[:-12]
    out.put(counts)


def _rows(conn: redis.Redis, ns: str) -> dict[str, dict[str, str]]:
    rows = {}
    for key in conn.scan_iter(f"{ns}:*", count=1000):
        name = key.decode()
        rest = name[len(ns) + 1 :]
        if rest.isdigit():
            rows[rest] = {k.decode(): v.decode() for k, v in conn.hgetall(key).items()}
    return rows


def _unique_figures(
    conn: redis.Redis, ns: str, columns: dict[str, tuple[str, bool]]
) -> tuple[int, int]:
    """(values held by more than one row, unique entries disagreeing with rows).

    ``columns`` maps a unique hash's attribute to (row field, lowercased).
    """
    rows = _rows(conn, ns)
    duplicates = mismatches = 0
    for attr, (field, lower) in columns.items():
        holders: dict[str, set[str]] = {}
        for pk, row in rows.items():
            if row.get(field):
                value = row[field].lower() if lower else row[field]
                holders.setdefault(value, set()).add(pk)
        duplicates += sum(1 for ids in holders.values() if len(ids) > 1)
        raw = conn.hgetall(f"{ns}:{attr}:uidx")
        have = {k.decode(): v.decode() for k, v in raw.items()}
        for value in set(have) | set(holders):
            ids = holders.get(value, set())
            if have.get(value) is None or have.get(value) not in ids:
                mismatches += 1
    return duplicates, mismatches


def _problems(conn: redis.Redis, *models: type[rom.Model]) -> dict[str, int]:
    found: dict[str, int] = {}
    for problem in check(*models, conn=conn):
        found[problem.kind] = found.get(problem.kind, 0) + 1
    return found


def racing_writers(path: str, processes: int, operations: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with RedisServer() as server, server.client() as conn:
        out = context.Queue()
        workers = [
            context.Process(
                target=race_worker, args=(server.url, path, seed, operations, out)
            )
            for seed in range(processes)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        counts = [out.get(timeout=900) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        seconds = time.perf_counter() - started
        duplicates, mismatches = _unique_figures(
            conn,
            "FaultRace",
            {
                "email": ("email", True),
                "handle": ("handle", False),
                "nick_ci": ("nick", True),
            },
        )
        problems = _problems(conn, FaultRace)
        rows = len(_rows(conn, "FaultRace"))
    total = {k: sum(c[k] for c in counts) for k in counts[0]}
    return {
        "run": "racing writers",
        "path": path,
        "processes": processes,
        "operations": processes * operations,
        "applied": total["ok"],
        "refused_unique": total["unique"],
        "refused_race": total["race"],
        "refused_deleted": total["deleted"],
        "rows_left": rows,
        "duplicate_unique_values": duplicates,
        "unique_mismatches": mismatches,
        "check_problems": problems,
        "seconds": round(seconds, 1),
        "exit_codes": [w.exitcode for w in workers],
    }


# -- dropped connections --------------------------------------------------------


def _dropped_operations(
    count: int, seed: int
) -> tuple[list[FaultPlain], list[FaultUnique], int, int]:
    plain: list[FaultPlain] = []
    unique: list[FaultUnique] = []
    unknown = false_refusals = 0
    for i in range(count):
        if i % 3 == 0:
            todo: list[Any] = [FaultPlain(n=i, words=f"op {i}") for _ in range(3)]
            plain += todo
        elif i % 3 == 1:
            todo = [FaultUnique(email=f"{seed}-{i}@x", n=i)]
            unique += todo
        else:
            todo = plain[-3:] + unique[-1:]
            for entity in todo:
                entity.n = i
        for _ in range(50):
            try:
                rom.session.save(todo, all=True)
                break
            except rom.WriteOutcomeUnknown:
                unknown += 1
            except (UniqueKeyViolation, DataRaceError):
                # No other writer: a refusal here would be the write
                # refusing itself after a re-send.
                false_refusals += 1
                break
        else:
            raise RuntimeError("no save got through in 50 tries")
    return plain, unique, unknown, false_refusals


def dropped_connection(path: str, operations: int, drop: float) -> dict[str, Any]:
    with RedisServer() as server, server.client() as conn:
        started = time.perf_counter()
        with DroppingProxy(
            server.port, drop_requests=drop, drop_replies=drop, seed=11
        ) as proxy:
            client = proxy.client(socket_timeout=2, socket_connect_timeout=2)
            _use_path(path)
            with use_connection(client):
                plain, unique, unknown, false_refusals = _dropped_operations(
                    operations, seed=1
                )
            rom.session.rollback()
            client.close()
            dropped = proxy.dropped
        seconds = time.perf_counter() - started
        plain_rows = _rows(conn, "FaultPlain")
        unique_rows = _rows(conn, "FaultUnique")
        duplicates, mismatches = _unique_figures(
            conn, "FaultUnique", {"email": ("email", False)}
        )
        stale_values = sum(
            1
            for entity in plain + unique
            if conn.hget(f"{entity._namespace}:{entity.id}", "n")
            != str(entity.n).encode()
        )
        problems = _problems(conn, FaultPlain, FaultUnique)
    created = len(plain) + len(unique)
    return {
        "run": "dropped connection",
        "path": path,
        "operations": operations,
        "entities_created": created,
        "connections_dropped": dropped,
        "write_outcome_unknown": unknown,
        "false_refusals": false_refusals,
        "rows_left": len(plain_rows) + len(unique_rows),
        "duplicate_rows": len(plain_rows) + len(unique_rows) - created,
        "duplicate_unique_values": duplicates,
        "unique_mismatches": mismatches,
        "rows_not_as_saved": stale_values,
        "check_problems": problems,
        "seconds": round(seconds, 1),
    }


def _line(result: dict[str, Any]) -> str:
    skip = {"run", "path", "exit_codes"}
    parts = [f"{k}={v}" for k, v in result.items() if k not in skip]
    return f"{result['run']:<18} {result['path']:<5} " + " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--operations", type=int, default=2000)
    parser.add_argument("--dropped", type=int, default=600)
    parser.add_argument("--drop", type=float, default=0.04)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    results = []
    for path in ("lua", "watch"):
        print(f"racing writers, {path}...", file=sys.stderr)
        results.append(racing_writers(path, args.processes, args.operations))
        print(_line(results[-1]))
        print(f"dropped connection, {path}...", file=sys.stderr)
        results.append(dropped_connection(path, args.dropped, args.drop))
        print(_line(results[-1]))
    rom._enable_lua_writes()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    bad = [
        r
        for r in results
        if r["check_problems"]
        or r["unique_mismatches"]
        or r["duplicate_unique_values"]
        or r.get("duplicate_rows")
        or r.get("false_refusals")
        or r.get("rows_not_as_saved")
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
