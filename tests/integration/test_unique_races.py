"""Racing processes never leave an orphan unique entry, on both write paths.

Several processes (spawned, each with its own connection and no session
cache) save, update, delete and force-save rows of one model, often from
stale copies, over a handful of values that differ only in case. Afterwards
every unique hash must hold exactly the entries the rows call for: none
pointing at a missing row or at a row that no longer holds the value.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
from collections.abc import Iterator

import pytest
import redis

import rom
from rom.consistency import check
from rom.exceptions import DataRaceError
from rom.exceptions import EntityDeletedError
from rom.exceptions import UniqueKeyViolation
from rom.testing import use_connection

PROCESSES = 4
OPERATIONS = 2000  # per process, per write path
IDS = 4
NAMES = ["ann", "bob", "cy", "dee", "eve", "fay"]


class RaceAcct(rom.Model):
    # The unique entry is the keygen's output (no index): computed in Python.
    email = rom.Text(unique=True, keygen=rom.IDENTITY_CI)
    # A plain unique column: the entry is the stored value.
    handle = rom.Text(unique=True)
    nick = rom.Text()
    # An IndexOnly unique entry derived from another column.
    nick_ci = rom.IndexOnly(column="nick", keygen=rom.IDENTITY_CI, unique=True)


def _value(rng: random.Random) -> str | None:
    if rng.random() < 0.1:
        return None
    name = rng.choice(NAMES)
    return "".join(c.upper() if rng.random() < 0.5 else c for c in name)


def _assign(rng: random.Random, acct: RaceAcct) -> None:
    acct.email = _value(rng)
    if rng.random() < 0.5:
        acct.handle = _value(rng)
    acct.nick = _value(rng)


def _recent_id(rng: random.Random) -> int:
    # One of the last IDS ids taken: the rows all processes contend for.
    top = int(RaceAcct._connection.get("RaceAcct:id:") or 1)
    return rng.randint(max(1, top - IDS + 1), top)


def _step(rng: random.Random, held: list[RaceAcct]) -> None:
    # One operation; copies held from earlier steps are often stale.
    roll = rng.random()
    if roll < 0.2 or not held:
        acct = RaceAcct()
        _assign(rng, acct)
        acct.save()
        held.append(acct)
        return
    if roll < 0.45:
        fresh = RaceAcct.get(_recent_id(rng))
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
        fresh = RaceAcct.get(_recent_id(rng))
        if fresh is not None:
            fresh.delete()


def race_worker(url: str, lua: bool, seed: int, operations: int) -> None:
    """Run ``operations`` random writes (spawned: module-level)."""
    rng = random.Random(seed)
    if not lua:
        rom._disable_lua_writes()
    rom.session.null_session = True
    client = redis.Redis.from_url(url)
    held: list[RaceAcct] = []
    with use_connection(client):
        for _ in range(operations):
            with contextlib.suppress(
                UniqueKeyViolation, DataRaceError, EntityDeletedError
            ):
                _step(rng, held)
            del held[:-12]


def unique_mismatches(conn: redis.Redis) -> list[str]:
    """Every difference between the unique hashes and what the rows hold."""
    expected: dict[str, dict[str, str]] = {"email": {}, "handle": {}, "nick_ci": {}}
    for key in conn.scan_iter("RaceAcct:*"):
        name = key.decode()
        if name.count(":") != 1 or not name.split(":")[1].isdigit():
            continue
        row = {k.decode(): v.decode() for k, v in conn.hgetall(key).items()}
        pk = row["id"]
        if row.get("email"):
            expected["email"][row["email"].lower()] = pk
        if row.get("handle"):
            expected["handle"][row["handle"]] = pk
        if row.get("nick"):
            expected["nick_ci"][row["nick"].lower()] = pk
    problems = []
    for column, want in expected.items():
        raw = conn.hgetall(f"RaceAcct:{column}:uidx")
        have = {k.decode(): v.decode() for k, v in raw.items()}
        for value in sorted(set(have) | set(want)):
            if have.get(value) != want.get(value):
                problems.append(
                    f"{column}:uidx[{value!r}] is {have.get(value)!r}, rows say "
                    f"{want.get(value)!r}"
                )
    return problems


@pytest.fixture(params=["lua", "watch"])
def lua(request: pytest.FixtureRequest) -> Iterator[bool]:
    """The write path the workers use."""
    yield request.param == "lua"


def test_racing_writers_leave_no_orphan_unique_entry(
    rom_redis: redis.Redis, rom_redis_url: str, lua: bool
) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=race_worker, args=(rom_redis_url, lua, seed, OPERATIONS))
        for seed in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    assert rom_redis.dbsize() > 1  # the workers wrote something
    assert unique_mismatches(rom_redis) == []
    assert check(RaceAcct, conn=rom_redis) == []
