"""``async with Lock(...)`` / ``EntityLock(...)``: the same locks on asyncio."""

from __future__ import annotations

import asyncio

import pytest
import redis

import rom
from rom.exceptions import DataRaceError
from rom.util import EntityLock
from rom.util import Lock

from .async_api import Api


class AlAccount(rom.Model):
    coins = rom.Integer()


def test_async_with_takes_and_releases_the_same_key(rom_redis: redis.Redis) -> None:
    async def body(api: Api) -> None:
        async with Lock(rom_redis, "job", 1, 5) as lock:
            stored = rom_redis.get("lock:job")
            assert stored == lock.identifier.encode()
            assert 0 < rom_redis.pttl("lock:job") <= 5000
            assert await lock.arefresh() is True
        assert rom_redis.exists("lock:job") == 0
        assert await lock.arelease() is False  # not held any more

    Api("async").run(body)


def test_a_lock_held_elsewhere_raises_data_race_error(rom_redis: redis.Redis) -> None:
    holder = Lock(rom_redis, "busy", 0, 10)
    assert holder.acquire()  # the blocking API, another worker

    async def body(api: Api) -> None:
        with pytest.raises(DataRaceError, match="lock:busy"):
            async with Lock(rom_redis, "busy", 0, 10):
                pass  # pragma: no cover - never entered
        account = AlAccount(coins=1)
        await account.asave()
        async with EntityLock(account, 0, 10) as lock:
            assert rom_redis.get(f"lock:{account._pk}") == lock.identifier.encode()
            with pytest.raises(DataRaceError):
                async with EntityLock(account, 0, 10):
                    pass  # pragma: no cover - never entered

    Api("async").run(body)
    assert holder.release() is True


def test_tasks_waiting_for_a_lock_do_not_block_the_loop(rom_redis: redis.Redis) -> None:
    """20 tasks increment a counter under one lock: no update is lost."""

    async def bump() -> None:
        client = rom.util.get_async_connection()
        async with Lock(rom_redis, "counter", 5, 5):
            value = int(await client.get("counter") or 0)
            await asyncio.sleep(0.005)  # the holder yields; waiters must too
            await client.set("counter", value + 1)

    async def body(api: Api) -> None:
        await asyncio.gather(*(bump() for _ in range(20)))

    Api("async").run(body)
    assert rom_redis.get("counter") == b"20"
