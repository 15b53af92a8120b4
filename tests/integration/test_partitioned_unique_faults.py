"""Unique values of a partitioned model under racing and dying writers.

Writer processes (forked, each with its own connection) create, change and
delete entities whose unique value they draw from a small shared pool, so
they race for the same values all the time. Some are killed: at an exact
step (``os._exit`` right after their claims were recorded, i.e. between
claim and write, or right after their write, before its confirm or before
a delete drops its old values), early in the run (the other writers meet
what they left) or in a last save of a value of their own (left to the
sweep); two more at a random moment (SIGKILL from the parent). Then, with
every writer gone:

* no value is held by two entities' rows, even before the sweep (the
  protocol's promise), and every row's value is named by its entry or a
  claim;
* after the claims' lifetime and ``sweep_unique``: no claim is left, no
  entry names a row without its value, and ``get_by`` finds every entity
  by its value.

The figures are printed (``-s``) for the closing note.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from typing import Any

import pytest
import redis
import redis.cluster

import rom
from rom import _claims
from rom import util
from rom._partitions import value_partition
from rom.exceptions import ORMError
from rom.exceptions import UniqueKeyViolation

pytestmark = pytest.mark.cluster

P = 8
VALUES = [f"v{i}@x" for i in range(40)]
WRITERS = 9
OPS = 120
LIFETIME_MS = 1_000
MARGIN_MS = 300
KILLED = 77


class PfUser(rom.Model):
    _partitions = P
    email = rom.Text(unique=True)
    who = rom.Integer()


def _connect(url: str, cluster: bool) -> None:
    if cluster:
        rom.util.set_connection_settings(url, cluster=True)
    else:
        rom.connection.CONNECTION = redis.Redis.from_url(url)
    rom.session.rollback()


def _die_after_claims(at: int) -> None:
    claim, seen = _claims.claim, [0]

    def dying(batch: Any) -> Any:
        allowed, failure = yield from claim(batch)
        seen[0] += 1
        if seen[0] >= at and any(plan.tokens for _, plan in allowed):
            os._exit(KILLED)  # claims recorded, nothing written
        return allowed, failure

    _claims.claim = dying  # type: ignore[assignment]


def _die_before_confirm(at: int, *, drop: bool = False) -> None:
    finish, seen = _claims.finish, [0]

    def dying(batch: Any, done: Any, error: Any) -> Any:
        seen[0] += 1
        if seen[0] >= at and any(
            plan.releases if drop else plan.tokens for _, plan in done
        ):
            os._exit(KILLED)  # written, not confirmed (old values not dropped)
        yield from finish(batch, done, error)

    _claims.finish = dying  # type: ignore[assignment]


def _writer(url: str, cluster: bool, seed: int, die: str | None, out: Any) -> None:
    _connect(url, cluster)
    _claims.CLAIM_LIFETIME_MS = LIFETIME_MS
    _claims.FENCE_MARGIN_MS = MARGIN_MS
    rng = random.Random(seed)
    # Early deaths leave claims the other writers meet (and settle); a late
    # one dies in a last save of a value of its own, left to the sweep.
    if die == "claim":
        _die_after_claims(rng.randrange(5, OPS // 2))
    elif die == "confirm":
        _die_before_confirm(rng.randrange(5, OPS // 2))
    counts: Counter[str] = Counter()
    mine: list[PfUser] = []
    # A writer to be SIGKILLed writes until the signal comes: had it
    # finished first (on a fast run), it would not die mid-write.
    for _ in range(OPS if die != "sigkill" else 1_000_000):
        roll = rng.random()
        kind = (
            "create" if not mine or roll < 0.6 else "change" if roll < 0.9 else "delete"
        )
        entity = rng.choice(mine) if mine else None
        try:
            if kind == "create":
                entity = PfUser(email=rng.choice(VALUES), who=seed)
                entity.save()
                mine.append(entity)
            elif kind == "change":
                assert entity is not None
                entity.email = rng.choice(VALUES)
                entity.save()
            else:
                assert entity is not None
                mine.remove(entity)
                entity.delete()
            counts[f"{kind}d"] += 1
        except UniqueKeyViolation as exc:
            counts[
                "refused: being claimed"
                if "being claimed" in str(exc)
                else "refused: taken"
            ] += 1
            if kind == "change" and entity is not None:
                entity.refresh(force=True)
        except ORMError as exc:
            counts[f"other: {type(exc).__name__}"] += 1
            if kind == "change" and entity is not None:
                entity.refresh(force=True)
    if die == "claim late":
        _die_after_claims(1)
    elif die == "confirm late":
        _die_before_confirm(1)
    if die == "drop late":
        gone = PfUser(email=f"last-{seed}@x", who=seed)
        gone.save()
        _die_before_confirm(1, drop=True)
        gone.delete()
    elif die is not None:
        PfUser(email=f"last-{seed}@x", who=seed).save()
    out.put(dict(counts))
    out.close()
    out.join_thread()  # flushed before the hard exit
    os._exit(0)


def _rows(client: Any) -> dict[int, str]:
    """id -> email of every PfUser row (read from every partition)."""
    found: dict[int, str] = {}
    for keys in PfUser._meta.parts:
        for key in client.scan_iter(match=keys.row_prefix + "*"):
            id = keys.row_id(key.decode())
            if id is not None:
                email = client.hget(key, "email")
                if email is not None:
                    found[int(id)] = email.decode()
    return found


def _entries(client: Any, kind: str) -> dict[str, str]:
    """value -> id (``uidx``) or value -> claim (``uclaim``), all partitions."""
    found: dict[str, str] = {}
    for i, keys in enumerate(PfUser._meta.parts):
        key = keys.unique("email") if kind == "uidx" else keys.claims("email")
        for value, held in client.hgetall(key).items():
            assert value_partition(value, P) == i  # in the value's partition
            found[value.decode()] = held.decode()
    return found


def test_racing_and_dying_writers_leave_every_value_held_once(
    rom_redis: redis.Redis, rom_redis_url: str
) -> None:
    cluster = isinstance(rom_redis, redis.cluster.RedisCluster)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    plan: list[str | None] = [
        "claim",
        "claim late",
        "confirm",
        "confirm late",
        "drop late",
        "sigkill",
        "sigkill",
    ]
    plan += [None] * (WRITERS - len(plan))
    started = time.monotonic()
    procs = [
        ctx.Process(target=_writer, args=(rom_redis_url, cluster, seed, die, out))
        for seed, die in enumerate(plan, start=1)
    ]
    for proc in procs:
        proc.start()
    rng = random.Random(0)
    for proc, die in zip(procs, plan, strict=True):
        if die == "sigkill":
            time.sleep(rng.uniform(0.05, 0.4))
            assert proc.pid is not None
            os.kill(proc.pid, signal.SIGKILL)
    for proc in procs:
        proc.join(60)
        assert proc.exitcode is not None, "a writer hung"
    ran = time.monotonic() - started
    outcomes: Counter[str] = Counter()
    for _ in range(sum(1 for p in procs if p.exitcode == 0)):
        outcomes.update(out.get(timeout=10))
    exits = Counter(
        "finished"
        if p.exitcode == 0
        else "killed at a step"
        if p.exitcode == KILLED
        else "SIGKILLed"
        if p.exitcode == -signal.SIGKILL
        else f"exit {p.exitcode}"
        for p in procs
    )
    assert exits["finished"] == WRITERS - 7 and exits["killed at a step"] == 5
    # The late deaths: a claim lapsed, a written entity confirmed by the sweep.
    late = {f"last-{plan.index(d) + 1}@x": d for d in ("claim late", "confirm late")}
    assert exits["SIGKILLed"] + exits["finished"] + exits["killed at a step"] == WRITERS

    # Before any sweep: no value in two rows, and every row's value named.
    rows = _rows(rom_redis)
    by_value = Counter(rows.values())
    assert max(by_value.values(), default=0) <= 1, by_value.most_common(3)
    entries, claims = _entries(rom_redis, "uidx"), _entries(rom_redis, "uclaim")
    for id, email in rows.items():
        named = {entries.get(email), (claims.get(email) or "").rpartition(":")[0]}
        assert str(id) in named, (id, email, entries.get(email), claims.get(email))
    left = {
        "claims": len(claims),
        "stale entries": sum(
            1 for value, id in entries.items() if rows.get(int(id)) != value
        ),
    }

    for value in late:
        assert value in claims  # nobody else wants these values
    dropped = f"last-{plan.index('drop late') + 1}@x"
    assert dropped in entries and dropped not in rows.values()
    time.sleep(LIFETIME_MS / 1000)  # every claim lapses
    swept = util.sweep_unique(PfUser)
    rows = _rows(rom_redis)
    entries, claims = _entries(rom_redis, "uidx"), _entries(rom_redis, "uclaim")
    assert claims == {}
    assert swept["confirmed"] >= 1 and swept["lapsed"] >= 1
    by_email = {email: id for id, email in rows.items()}
    written, lapsed = sorted(late, key=lambda v: late[v] != "confirm late")
    assert written in by_email and entries[written] == str(by_email[written])
    assert lapsed not in by_email and lapsed not in entries
    assert swept["stale"] >= 1 and dropped not in entries
    assert {value: int(id) for value, id in entries.items()} == {
        email: id for id, email in rows.items()
    }
    rom.session.rollback()
    for id, email in rows.items():
        found = PfUser.get_by(email=email)
        assert found is not None and found.id == id
    figures = {
        "cluster": cluster,
        "writers": WRITERS,
        "ops per writer": OPS,
        "values": len(VALUES),
        "partitions": P,
        "claim lifetime ms": LIFETIME_MS,
        "writers' exits": dict(exits),
        "outcomes (writers that finished)": dict(outcomes),
        "rows at the end": len(rows),
        "left before the sweep": left,
        "sweep": swept,
        "seconds": round(ran, 2),
    }
    print("\npartitioned unique fault test:", figures)
