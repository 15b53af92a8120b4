"""Consistency figures of writes on a Redis Cluster while the model's node changes.

Usage (from the repository root)::

    python -m benchmarks.cluster_faults [--writers 3] [--after 1.0]
                                        [--scenarios reshard,failover,kill]
                                        [--json out.json]

Each scenario starts its own private cluster (``rom.testing.RedisCluster``,
3 masters with a replica each), saves a few entities, then runs
``--writers`` threads, each creating, updating and deleting entities of its
own (unique and indexed columns) while the main thread changes the node
serving the model's slot:

reshard
    the slot migrates live to another master (``migrate_slot``, 20 keys a
    batch), writers seeing ASK, TRYAGAIN and then MOVED;
failover
    a coordinated CLUSTER FAILOVER to the master's replica;
kill
    the master's process is killed; the replica is elected after the
    cluster node timeout (1 s).

Writers keep going ``--after`` seconds once the change is done. A write
that raises ``WriteOutcomeUnknown`` is sent again (the entity's next
save/delete settles the lost request) until it ends; any other error ends
the operation ("failed") and the writer goes on with the entity's last
acknowledged state. Afterwards, from the cluster: every acknowledged
state must be what the row holds (else a lost acknowledged write), a failed
write must have left nothing (else "failed but applied"), no row may exist
that no writer created (duplicates), and ``rom.consistency.check`` (rows
against every index and unique entry) must find nothing. Exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import redis

import rom
from rom.consistency import check
from rom.testing import RedisCluster
from rom.testing import slot_of
from rom.testing import use_connection

TAG = "{ClusterFault}"
SCENARIOS = ("reshard", "failover", "kill")


class ClusterFault(rom.Model):
    """Unique, numeric and full-text indexed columns."""

    email = rom.Text(unique=True)
    score = rom.Integer(index=True)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)


@dataclass
class Tracked:
    """What one entity should be: its last acknowledged state."""

    entity: ClusterFault
    acked: dict[str, Any] | None = None  # None: never saved or deleted
    failed: list[dict[str, Any] | None] = field(default_factory=list)

    @property
    def id(self) -> int | None:
        return None if self.entity.id is None else int(self.entity.id)


@dataclass
class Figures:
    attempted: int = 0
    acknowledged: int = 0
    unknown: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    where: dict[str, str] = field(default_factory=dict)  # rom's frames it went through


def _rom_frame(exc: BaseException) -> str:
    """The frames of rom's code an exception went through, outermost first."""
    frames = [
        f"{os.path.basename(f.filename)}:{f.name}"
        for f in traceback.extract_tb(exc.__traceback__)
        if f"{os.sep}rom{os.sep}" in f.filename
    ]
    return " > ".join(frames) or "?"


def _values(writer: int, n: int) -> dict[str, Any]:
    return {"email": f"w{writer}-{n}@x", "score": n % 100, "words": f"w{writer} n{n}"}


class Writer(threading.Thread):
    """Create, update and delete entities of its own until told to stop."""

    def __init__(self, number: int, stop: threading.Event) -> None:
        super().__init__(name=f"writer-{number}", daemon=True)
        self.number = number
        self.stop_event = stop
        self.figures = Figures()
        self.tracked: list[Tracked] = []
        self.serial = 0
        self.error: BaseException | None = None

    def _attempt(self, write: Any) -> bool:
        """Run ``write`` (re-sent after WriteOutcomeUnknown); True if acked."""
        self.figures.attempted += 1
        for _ in range(200):
            try:
                write()
            except rom.WriteOutcomeUnknown:
                self.figures.unknown += 1
                time.sleep(0.02)
                continue
            except (redis.RedisError, rom.exceptions.ORMError) as exc:
                self.figures.failed[type(exc).__name__] += 1
                self.figures.where.setdefault(type(exc).__name__, _rom_frame(exc))
                return False
            self.figures.acknowledged += 1
            return True
        raise RuntimeError("a write stayed unknown 200 times")

    def step(self) -> None:
        self.serial += 1
        live = [t for t in self.tracked if t.acked is not None and t.acked]
        roll = self.serial % 5
        if roll in (0, 1) or not live:
            values = _values(self.number, self.serial)
            item = Tracked(ClusterFault(**values))
            self.tracked.append(item)
            if self._attempt(item.entity.save):
                item.acked = dict(values)
            else:
                item.failed.append(dict(values))
            return
        item = live[self.serial % len(live)]
        if roll in (2, 3):
            values = _values(self.number, self.serial)
            for name, value in values.items():
                setattr(item.entity, name, value)
            if self._attempt(item.entity.save):
                item.acked = dict(values)
            else:
                item.failed.append(dict(values))
            return
        if self._attempt(item.entity.delete):
            item.acked = {}  # deleted
        else:
            item.failed.append(None)

    def run(self) -> None:
        rom.session.null_session = True
        try:
            while not self.stop_event.is_set():
                self.step()
                # The session would keep every entity: drop them.
                rom.session.rollback()
        except BaseException as exc:
            self.error = exc


def _rows(cluster: RedisCluster, client: Any) -> tuple[dict[int, dict[str, str]], int]:
    """Every row of the model as a reader sees it (through ``client``,
    which follows ASK and MOVED), found by scanning every master; and how
    many keys of the model exist on two masters at once (a slot left half
    migrated)."""
    seen: Counter[str] = Counter()
    for node in cluster.masters():
        with node.client() as conn:
            for key in conn.scan_iter(f"{TAG}:*", count=1000):
                seen[key] += 1
    rows: dict[int, dict[str, str]] = {}
    for key in seen:
        rest = key[len(TAG) + 1 :]
        if rest.isdigit():
            raw = client.hgetall(key)
            rows[int(rest)] = {k.decode(): v.decode() for k, v in raw.items()}
    return rows, sum(1 for n in seen.values() if n > 1)


_FIELDS = ("email", "score", "words")


def _wire(values: dict[str, Any] | None) -> dict[str, str] | None:
    """A state as the row holds it; None for a deleted (or no) entity."""
    if not values:
        return None
    return {k: str(values[k]) for k in _FIELDS}


def _verify(
    cluster: RedisCluster, client: Any, writers: list[Writer], seeded: list[int]
) -> dict[str, Any]:
    rows, split = _rows(cluster, client)
    known = set(seeded)  # saved before the writers started, never changed
    lost = failed_applied = unsaved = 0
    for writer in writers:
        for item in writer.tracked:
            pk = item.id
            if pk is None:
                unsaved += 1  # never acknowledged: must have left no row
                continue
            known.add(pk)
            row = rows.get(pk)
            if item.acked is None:
                continue
            want = _wire(item.acked)
            have = None if row is None else {k: row.get(k) for k in _FIELDS}
            if have == want:
                continue
            # A failed write after the last acknowledged one that applied
            # anyway is counted as such, not as a lost acknowledged write.
            if any(have == _wire(f) for f in item.failed):
                failed_applied += 1
            else:
                lost += 1
    duplicates = sorted(set(rows) - known)
    try:
        problems = dict(Counter(p.kind for p in check(ClusterFault)))
    except redis.RedisError as exc:
        problems = {f"check failed: {type(exc).__name__}: {exc}": 1}
    return {
        "entities_found": len(rows),
        "keys_on_two_masters": split,
        "lost_acknowledged": lost,
        "failed_but_applied": failed_applied,
        "duplicates": len(duplicates),
        "never_acknowledged_new": unsaved,
        "check_problems": problems,
    }


def scenario(kind: str, writers: int, after: float) -> dict[str, Any]:
    with RedisCluster(masters=3, replicas_per_master=1) as cluster:
        client = cluster.client()
        result: dict[str, Any] = {"scenario": kind}
        with use_connection(client):  # type: ignore[arg-type]
            seeded = []
            for i in range(20):
                entity = ClusterFault(**_values(99, i))
                entity.save()
                seeded.append(int(entity.id))
            rom.session.rollback()
            cluster.wait_replicated()
            stop = threading.Event()
            threads = [Writer(k, stop) for k in range(writers)]
            for thread in threads:
                thread.start()
            time.sleep(0.5)
            slot = slot_of(TAG)
            master = cluster.node_for_slot(slot)
            started = time.perf_counter()
            try:
                if kind == "reshard":
                    target = next(m for m in cluster.masters() if m.id != master.id)
                    moved = cluster.migrate_slot(slot, target, batch=20)
                    result["change"] = f"{moved} keys moved to another master"
                elif kind == "failover":
                    cluster.failover(master)
                    result["change"] = "coordinated failover"
                else:
                    cluster.failover(master, kill=True)
                    result["change"] = "master killed, replica promoted"
            except Exception as exc:
                result["change"] = f"failed: {type(exc).__name__}: {exc}"
            result["change_seconds"] = round(time.perf_counter() - started, 2)
            time.sleep(after)
            stop.set()
            for thread in threads:
                thread.join(60)
            rom.session.rollback()
            errors = [repr(t.error) for t in threads if t.error is not None]
            try:
                cluster.wait_stable()
                result.update(_verify(cluster, client, threads, seeded))
            except Exception as exc:
                result["verify_error"] = f"{type(exc).__name__}: {exc}"
        client.close()
    failed: Counter[str] = Counter()
    where: dict[str, str] = {}
    for thread in threads:
        failed += thread.figures.failed
        for name, frame in thread.figures.where.items():
            where.setdefault(name, frame)
    result.update(
        attempted=sum(t.figures.attempted for t in threads),
        acknowledged=sum(t.figures.acknowledged for t in threads),
        write_outcome_unknown=sum(t.figures.unknown for t in threads),
        failed=dict(failed),
        failed_in=where,
        writer_errors=errors,
    )
    return result


def _bad(result: dict[str, Any]) -> bool:
    return bool(
        result.get("verify_error")
        or result.get("writer_errors")
        or result.get("lost_acknowledged")
        or result.get("failed_but_applied")
        or result.get("duplicates")
        or result.get("check_problems")
        or result.get("keys_on_two_masters")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cluster_faults", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--after", type=float, default=1.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    results = []
    for kind in chosen:
        print(f"{kind}...", file=sys.stderr, flush=True)
        results.append(scenario(kind, args.writers, args.after))
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    return 1 if any(_bad(r) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
