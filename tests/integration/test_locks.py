"""rom.util.Lock and EntityLock against a real Redis.

Key and stored identifier, acquire/lock timeouts (rounded up to whole
seconds), refresh, release, the context manager, and mutual exclusion
between two threads and between two processes.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import threading
import time

import pytest
import redis

import rom
from rom.exceptions import DataRaceError
from rom.util import EntityLock
from rom.util import Lock


class LkAccount(rom.Model):
    _namespace = "lk:accounts"
    number = rom.PrimaryKey()
    owner = rom.Text()


def held_by(conn: redis.Redis, name: str) -> bytes | None:
    """The identifier stored in ``lock:<name>``."""
    value = conn.get(f"lock:{name}")
    return value.encode() if isinstance(value, str) else value


class TestLock:
    def test_key_identifier_and_ttl(self, rom_redis: redis.Redis) -> None:
        """acquire() stores 32 plain hex digits in lock:<name> with the lock TTL."""
        lock = Lock(rom_redis, "job", 1, 5)
        assert lock.acquire() is True
        stored = held_by(rom_redis, "job")
        assert stored is not None
        assert re.fullmatch(rb"[0-9a-f]{32}", stored)
        assert stored.decode() == lock.identifier
        assert 4000 < rom_redis.pttl("lock:job") <= 5000

    def test_timeouts_round_up_to_seconds(self, rom_redis: redis.Redis) -> None:
        """Fractional timeouts become whole seconds, as in rom 1.1.2."""
        lock = Lock(rom_redis, "round", 0.2, 0.3)
        assert (lock.acquire_timeout, lock.lock_timeout) == (1, 1)
        assert lock.acquire()
        assert 300 < rom_redis.pttl("lock:round") <= 1000

    def test_second_holder_waits_then_gives_up(self, rom_redis: redis.Redis) -> None:
        """Another Lock object on the same name fails after acquire_timeout."""
        first, second = Lock(rom_redis, "busy", 1, 10), Lock(rom_redis, "busy", 0, 10)
        assert first.acquire()
        started = time.monotonic()
        assert second.acquire() is False
        assert time.monotonic() - started < 0.5
        third = Lock(rom_redis, "busy", 1, 10)
        started = time.monotonic()
        assert third.acquire() is False
        assert 0.9 < time.monotonic() - started < 2.0

    def test_reacquire_by_the_holder_restarts_the_timeout(
        self, rom_redis: redis.Redis
    ) -> None:
        """The holder acquiring again succeeds and restarts lock_timeout."""
        lock = Lock(rom_redis, "again", 1, 5)
        assert lock.acquire()
        rom_redis.pexpire("lock:again", 100)
        assert lock.acquire()
        assert rom_redis.pttl("lock:again") > 4000

    def test_lock_expires_without_release(self, rom_redis: redis.Redis) -> None:
        """A holder that never releases loses the lock after lock_timeout."""
        assert Lock(rom_redis, "expire", 0, 1).acquire()
        waiter = Lock(rom_redis, "expire", 3, 1)
        started = time.monotonic()
        assert waiter.acquire()
        assert 0.5 < time.monotonic() - started < 2.5

    def test_release_only_by_the_holder(self, rom_redis: redis.Redis) -> None:
        """release() deletes the key only if this object holds it."""
        holder, other = Lock(rom_redis, "rel", 1, 10), Lock(rom_redis, "rel", 0, 10)
        assert other.release() is False
        assert holder.acquire()
        assert other.acquire() is False
        assert other.release() is False
        assert rom_redis.exists("lock:rel")
        assert holder.release() is True
        assert not rom_redis.exists("lock:rel")
        assert holder.release() is False

    def test_refresh(self, rom_redis: redis.Redis) -> None:
        """refresh() restarts the timeout; it fails once another holder took over."""
        lock = Lock(rom_redis, "ref", 0, 5)
        assert lock.refresh() is False  # never acquired
        assert lock.acquire()
        rom_redis.pexpire("lock:ref", 100)
        assert lock.refresh() is True
        assert rom_redis.pttl("lock:ref") > 4000
        rom_redis.delete("lock:ref")
        assert Lock(rom_redis, "ref", 0, 5).acquire()
        assert lock.refresh() is False
        assert lock.identifier is None
        assert lock.release() is False
        assert rom_redis.exists("lock:ref")

    def test_context_manager(self, rom_redis: redis.Redis) -> None:
        """with Lock(...): holds it inside, releases after; held -> DataRaceError."""
        with Lock(rom_redis, "ctx", 1, 10) as lock:
            assert held_by(rom_redis, "ctx") == lock.identifier.encode()
            other = Lock(rom_redis, "ctx", 0, 10)
            with pytest.raises(DataRaceError, match="Lock is already held"):
                other.__enter__()
        assert not rom_redis.exists("lock:ctx")

    def test_context_manager_releases_on_error(self, rom_redis: redis.Redis) -> None:
        """An exception inside the block still releases the lock."""
        with pytest.raises(KeyError), Lock(rom_redis, "err", 1, 10):
            raise KeyError("boom")
        assert not rom_redis.exists("lock:err")

    def test_decode_responses_client(self, rom_redis_url: str) -> None:
        """A decode_responses=True client locks and releases the same way."""
        conn = redis.Redis.from_url(rom_redis_url, decode_responses=True)
        try:
            lock = Lock(conn, "decoded", 1, 5)
            assert lock.acquire() and lock.acquire()
            assert conn.get("lock:decoded") == lock.identifier
            assert lock.refresh()
            assert Lock(conn, "decoded", 0, 5).acquire() is False
            assert lock.release() is True
            assert conn.exists("lock:decoded") == 0
        finally:
            conn.delete("lock:decoded")
            conn.close()


class TestEntityLock:
    def test_key_is_the_entity_row_key(self, rom_redis: redis.Redis) -> None:
        """EntityLock locks lock:<ns>:<id> on the entity's connection."""
        account = LkAccount(owner="ann")
        account.save()
        with EntityLock(account, 1, 10) as lock:
            assert lock.name == f"lock:lk:accounts:{account.number}"
            assert rom_redis.exists(lock.name)
            assert EntityLock(account, 0, 10).acquire() is False
        assert not rom_redis.exists(f"lock:lk:accounts:{account.number}")

    def test_the_lock_is_advisory(self, rom_redis: redis.Redis) -> None:
        """Saves and deletes do not take the lock."""
        account = LkAccount(owner="ann")
        account.save()
        with EntityLock(account, 1, 10):
            account.owner = "bob"
            account.save()
            account.delete()
        assert not rom_redis.exists(account._pk)


def _count_under_lock(url: str, name: str, rounds: int) -> None:
    """Increment a Redis counter non-atomically, ``rounds`` times, under a lock.

    A second key counts the holders inside the lock: it must never exceed 1.
    """
    conn = redis.Redis.from_url(url)
    try:
        for _ in range(rounds):
            with Lock(conn, name, 10, 10):
                if conn.incr("holders") > 1:
                    conn.set("overlap", 1)
                value = int(conn.get("counter") or 0)
                time.sleep(0.0005)
                conn.set("counter", value + 1)
                conn.decr("holders")
    finally:
        conn.close()


class TestContention:
    ROUNDS = 100

    def test_two_threads(self, rom_redis: redis.Redis, rom_redis_url: str) -> None:
        """Two threads incrementing under the lock never interleave."""
        threads = [
            threading.Thread(
                target=_count_under_lock, args=(rom_redis_url, "threads", self.ROUNDS)
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert int(rom_redis.get("counter")) == 2 * self.ROUNDS
        assert not rom_redis.exists("overlap")
        assert not rom_redis.exists("lock:threads")

    def test_two_threads_sharing_one_lock_object(self, rom_redis: redis.Redis) -> None:
        """One Lock object used by two threads is one holder (rom's semantics)."""
        lock = Lock(rom_redis, "shared", 0, 10)
        assert lock.acquire()
        results: list[bool] = []
        thread = threading.Thread(target=lambda: results.append(lock.release()))
        thread.start()
        thread.join()
        assert results == [True]

    def test_two_processes(self, rom_redis: redis.Redis, rom_redis_url: str) -> None:
        """Two processes incrementing under the lock never interleave."""
        # Fresh interpreters run the worker from source: the test module is
        # not importable by name from a child (pytest's importlib mode).
        code = (
            inspect.getsource(_count_under_lock)
            + f"\n_count_under_lock({rom_redis_url!r}, 'procs', {self.ROUNDS})\n"
        )
        prelude = "import time\nimport redis\nfrom rom.util import Lock\n"
        workers = [
            subprocess.Popen([sys.executable, "-c", prelude + code]) for _ in range(2)
        ]
        assert [w.wait(timeout=120) for w in workers] == [0, 0]
        assert int(rom_redis.get("counter")) == 2 * self.ROUNDS
        assert not rom_redis.exists("overlap")
        assert not rom_redis.exists("lock:procs")
