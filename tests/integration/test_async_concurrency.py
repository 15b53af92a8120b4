"""Many tasks on one event loop: unique races and cancelled commits."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import redis

import rom
from rom import _requests
from rom.exceptions import UniqueKeyViolation
from rom.testing import use_connection

from .async_api import Api


class AcUnique(rom.Model):
    code = rom.Text(unique=True)
    num = rom.Integer(index=True)


class AcBatch(rom.Model):
    group = rom.Integer(index=True)
    n = rom.Integer()
    tag = rom.Text(unique=True)


def test_200_tasks_race_for_20_unique_values(
    rom_redis: redis.Redis, write_path: str
) -> None:
    """Exactly one winner per value; the losers wrote nothing."""
    outcomes: list[tuple[str, bool]] = []

    async def create(i: int) -> None:
        code = f"v{i % 20}"
        entity = AcUnique(code=code, num=i)
        try:
            await entity.asave()
        except UniqueKeyViolation:
            outcomes.append((code, False))
            assert entity._new  # a loser stays unsaved
        else:
            outcomes.append((code, True))

    async def body(api: Api) -> None:
        await asyncio.gather(*(create(i) for i in range(200)))

    # The WATCH writer holds a connection per task for its transaction: the
    # pool must have one for each task writing at once.
    port = rom_redis.connection_pool.connection_kwargs["port"]
    with use_connection(redis.Redis(port=port, max_connections=250)) as client:
        Api("async").run(body)
    client.close()
    winners = Counter(code for code, won in outcomes if won)
    assert len(outcomes) == 200
    assert winners == Counter({f"v{i}": 1 for i in range(20)})
    rom.session.rollback()
    assert AcUnique.query.count() == 20
    assert sorted(e.code for e in AcUnique.query.all()) == sorted(winners)
    assert rom.util.check(AcUnique) == []


def test_100_tasks_get_or_create_one_entity(
    rom_redis: redis.Redis, write_path: str
) -> None:
    """The losers of the unique race read and return the winner."""
    results: list[tuple[int, bool]] = []

    async def claim(i: int) -> None:
        entity, created = await AcUnique.aget_or_create({"num": i}, code="same")
        results.append((int(entity.id), created))

    async def body(api: Api) -> None:
        await asyncio.gather(*(claim(i) for i in range(100)))

    # As above: with the WATCH writer a task holds a connection for its
    # transaction while the others read, so 100 tasks need more than the
    # test client's 100 connections.
    port = rom_redis.connection_pool.connection_kwargs["port"]
    with use_connection(redis.Redis(port=port, max_connections=250)) as client:
        Api("async").run(body)
    client.close()
    rom.session.rollback()
    assert len(results) == 100
    assert len({id for id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert AcUnique.query.count() == 1 and rom.util.check(AcUnique) == []


ROUNDS = 15  # of cancelled commits, at most


def test_cancelled_commits_leave_nothing_partial(
    rom_redis: redis.Redis, write_path: str
) -> None:
    """Tasks committing 100 entities each are cancelled at random points.

    Each group is then either wholly in Redis or not at all, and saving the
    cancelled entities again (in another task) writes each exactly once.
    Cancel times are spread over how long the same commits take uncancelled
    on this machine, and rounds repeat (at most 15; CI once saw 5 pass
    without) until some task was cancelled while its write was on its way,
    the case that matters most.
    """
    # The WATCH writer retries every transaction another one's new id
    # invalidated (they all watch the id counter): smaller groups.
    size = 100 if write_path == "lua" else 10
    # The Lua writer writes a group in one script call; the WATCH writer
    # each entity in its own transaction, so a cancelled commit may have
    # written some of them (each whole: check() finds nothing below).
    allowed = {0, size} if write_path == "lua" else set(range(size + 1))
    rng = random.Random(11)
    made: dict[int, list[AcBatch]] = {}
    interrupted: list[int] = []

    async def commit(group: int) -> None:
        made[group] = [
            AcBatch(group=group, n=n, tag=f"{group}-{n}") for n in range(size)
        ]
        await asyncio.sleep(0)
        await rom.session.acommit()

    async def round_of(groups: range, within: float | None) -> list[int]:
        loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(commit(g)) for g in groups]
        if within is not None:
            for task in tasks:
                loop.call_later(rng.uniform(0, within), task.cancel)
        await asyncio.gather(*tasks, return_exceptions=True)
        return [g for g, t in zip(groups, tasks, strict=True) if t.cancelled()]

    async def body(api: Api) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await round_of(range(0, 20), None) == []
        took = loop.time() - started
        first = 20
        for _ in range(ROUNDS):
            groups = range(first, first + 20)
            first += 20
            cancelled = await round_of(groups, took)
            for group in groups:
                written = await AcBatch.query.filter(group=group).acount()
                assert written in allowed
            # The session of a new task is usable, and saving the cancelled
            # entities again settles their unknown outcome first.
            interrupted.extend(
                g for g in cancelled if any(e in _requests._PENDING for e in made[g])
            )
            for group in cancelled:
                await rom.session.asave(made[group])
            for group in groups:
                assert await AcBatch.query.filter(group=group).acount() == size
            if interrupted:
                break

    Api("async").run(body)
    assert interrupted, f"no task was cancelled during its write in {ROUNDS} rounds"
    assert len(rom_redis.keys("AcBatch:[0-9]*")) == size * len(made)
    assert rom.util.check(AcBatch) == []
