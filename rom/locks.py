"""Advisory locks in Redis: ``rom.util.Lock`` and ``EntityLock``.

Built on redis-py's ``Lock`` (SET NX PX to take it, token-checked scripts to
extend and release it), with rom 1.1.2's interface: key ``lock:<name>``,
timeouts in whole seconds, ``acquire()``/``refresh()``/``release()``
returning booleans, and ``DataRaceError`` from ``with`` when the lock is
held elsewhere. The identifier is stored as plain hex.
"""

from __future__ import annotations

import math
import os
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Any

import redis
import redis.lock

from ._keys import lock_key
from .exceptions import DataRaceError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["EntityLock", "Lock"]

# rom 1.1.2 retried every millisecond.
_RETRY_SECONDS = 0.001


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
        assert self._identifier is not None
        token = self.redis.get_encoder().encode(self._identifier)
        # SET NX PX takes a free lock; the token-checked PEXPIRE restarts the
        # timeout of one we hold.
        reacquire: Any = self.lua_reacquire  # registered by redis-py's __init__
        held = self.do_acquire(token) or bool(
            reacquire(
                keys=[self.name],
                args=[token, self.lock_timeout * 1000],
                client=self.redis,
            )
        )
        self.local.token = token if held else None
        return held

    def refresh(self) -> bool:
        """Restart the lock's timeout (or take it if free); one try.

        On failure (another holder) this object forgets its identifier.
        """
        if self._identifier is None:
            return False
        if self._try():
            return True
        self._identifier = None
        return False

    def release(self) -> bool:  # type: ignore[override]
        """Delete the key if this object holds the lock; True if it did."""
        token = self.local.token
        self.local.token = None
        if token is None:
            return False
        release: Any = self.lua_release  # registered by redis-py's __init__
        return bool(release(keys=[self.name], args=[token], client=self.redis))

    def __enter__(self) -> Self:
        if not self.acquire():
            raise DataRaceError(
                f"Lock is already held: {self.name} was not released within "
                f"{self.acquire_timeout}s"
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class EntityLock(Lock):
    """A Lock on one entity: key ``lock:<ns>:<id>`` on the entity's connection."""

    def __init__(
        self, entity: Any, acquire_timeout: float, lock_timeout: float
    ) -> None:
        super().__init__(entity._connection, entity._pk, acquire_timeout, lock_timeout)
        self.entity = entity
