"""Advisory locks in Redis: ``rom.util.Lock`` and ``EntityLock``.

Built on redis-py's ``Lock`` (SET NX PX to take it, token-checked scripts to
extend and release it), with rom 1.1.2's interface: key ``lock:<name>``,
timeouts in whole seconds, ``acquire()``/``refresh()``/``release()``
returning booleans, and ``DataRaceError`` from ``with`` when the lock is
held elsewhere. The identifier is stored as plain hex.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Any

import redis
import redis.lock

from ._io import Command
from ._io import Script
from ._io import Steps
from ._io import Wait
from ._io import run_async
from ._io import run_sync
from ._keys import lock_key
from .exceptions import DataRaceError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["EntityLock", "Lock"]

# rom 1.1.2 retried every millisecond.
_RETRY_SECONDS = 0.001


@dataclass(frozen=True)
class _LockScript:
    """One of redis-py's lock scripts, as a request for either transport."""

    name: str
    source: str

    def request(self, conn: Any, key: str, *args: Any) -> Script:
        sha = hashlib.sha1(self.source.encode("utf-8")).hexdigest()
        return Script(conn, self.name, self.source, sha, (key,), args)


_REACQUIRE = _LockScript("lock_reacquire", redis.lock.Lock.LUA_REACQUIRE_SCRIPT)
_RELEASE = _LockScript("lock_release", redis.lock.Lock.LUA_RELEASE_SCRIPT)


class Lock(redis.lock.Lock):
    """A lock named ``lockname`` (key ``lock:<lockname>``) on ``conn``.

    ``acquire_timeout`` bounds how long ``acquire()`` waits and
    ``lock_timeout`` is how long the lock lives unless refreshed; both are
    rounded up to whole seconds. The lock is advisory: saves and deletes do
    not take it.
    """

    def __init__(
        self,
        conn: redis.Redis,
        lockname: str,
        acquire_timeout: float,
        lock_timeout: float,
    ) -> None:
        super().__init__(
            conn,
            lock_key(lockname),
            timeout=math.ceil(lock_timeout),
            sleep=_RETRY_SECONDS,
            blocking_timeout=math.ceil(acquire_timeout),
            # One identifier per Lock object, as in rom: any thread using
            # the object may refresh or release it.
            thread_local=False,
        )
        self.lockname = lockname
        self.acquire_timeout = math.ceil(acquire_timeout)
        self.lock_timeout = math.ceil(lock_timeout)
        self._identifier: str | None = None

    @property
    def identifier(self) -> str | None:
        """The 32 hex digits stored in the key while this object holds it."""
        return self._identifier

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        """Take the lock, waiting up to ``acquire_timeout``; True if taken.

        Acquiring a lock this object already holds succeeds and restarts
        its ``lock_timeout``.
        """
        if self._identifier is None:
            self._identifier = os.urandom(16).hex()
        if self._try():
            return True
        kwargs.setdefault("token", self._identifier)
        return bool(super().acquire(*args, **kwargs))

    def _try(self) -> bool:
        return run_sync(self._try_steps())

    def _try_steps(self) -> Steps[bool]:
        assert self._identifier is not None
        token = self._identifier.encode("ascii")
        conn, ms = self.redis, self.lock_timeout * 1000
        # SET NX PX takes a free lock; the token-checked PEXPIRE restarts the
        # timeout of one we hold.
        took = yield Command(conn, "set", (self.name, token), {"nx": True, "px": ms})
        held = bool(took) or bool(
            (yield _REACQUIRE.request(conn, self.name, token, ms))
        )
        self.local.token = token if held else None
        return held

    async def aacquire(self) -> bool:
        """``acquire()`` on asyncio: waits up to ``acquire_timeout``."""
        if self._identifier is None:
            self._identifier = os.urandom(16).hex()
        return await run_async(self._acquire_steps())

    def _acquire_steps(self) -> Steps[bool]:
        stop = time.monotonic() + self.acquire_timeout
        while not (yield from self._try_steps()):
            if time.monotonic() >= stop:
                return False
            yield Wait(_RETRY_SECONDS)
        return True

    def refresh(self) -> bool:
        """Restart the lock's timeout (or take it if free); one try.

        On failure (another holder) this object forgets its identifier.
        """
        return run_sync(self._refresh_steps())

    async def arefresh(self) -> bool:
        """``refresh()`` on asyncio."""
        return await run_async(self._refresh_steps())

    def _refresh_steps(self) -> Steps[bool]:
        if self._identifier is None:
            return False
        if (yield from self._try_steps()):
            return True
        self._identifier = None
        return False

    def release(self) -> bool:  # type: ignore[override]
        """Delete the key if this object holds the lock; True if it did."""
        return run_sync(self._release_steps())

    async def arelease(self) -> bool:
        """``release()`` on asyncio."""
        return await run_async(self._release_steps())

    def _release_steps(self) -> Steps[bool]:
        token = self.local.token
        self.local.token = None
        if token is None:
            return False
        return bool((yield _RELEASE.request(self.redis, self.name, token)))

    def __enter__(self) -> Self:
        if not self.acquire():
            raise self._held_elsewhere()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    async def __aenter__(self) -> Self:
        if not await self.aacquire():
            raise self._held_elsewhere()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.arelease()

    def _held_elsewhere(self) -> DataRaceError:
        return DataRaceError(
            f"Lock is already held: {self.name} was not released within "
            f"{self.acquire_timeout}s"
        )


class EntityLock(Lock):
    """A Lock on one entity: key ``lock:<ns>:<id>`` on the entity's connection."""

    def __init__(
        self, entity: Any, acquire_timeout: float, lock_timeout: float
    ) -> None:
        super().__init__(entity._connection, entity._pk, acquire_timeout, lock_timeout)
        self.entity = entity
