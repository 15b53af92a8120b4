"""Running your own Lua scripts beside rom's: ``rom.util._script_load``.

``script_load(source)``, also named ``rom._script_load`` and
``rom.util._script_load``, returns a callable that runs ``source`` on any
client with one round trip: ``EVAL`` the first time (which also caches the
script on the server), ``EVALSHA`` after that, and ``EVAL`` again when the
server answers that it does not know the script (restart, failover,
``SCRIPT FLUSH``, or a client pointed at another server)::

    incr_max = script_load(
        "local v = redis.call('INCR', KEYS[1]) "
        "if v > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end "
        "return redis.call('GET', KEYS[1])"
    )
    incr_max(conn, keys=["counter"], args=[10])

The reply is returned as the client gives it (bytes unless the client
decodes responses).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.client import Pipeline
from redis.commands.core import Script
from redis.exceptions import ResponseError

__all__ = ["NO_SCRIPT_MESSAGES", "UserScript", "script_load"]

# Error texts meaning "the server does not have this script cached": the
# server's ``NOSCRIPT`` code, and the message redis-py keeps after mapping
# that code to ``NoScriptError``.
NO_SCRIPT_MESSAGES = ("NOSCRIPT", "No matching script")


def _is_no_script(error: ResponseError) -> bool:
    text = str(error)
    return any(message in text for message in NO_SCRIPT_MESSAGES)


class UserScript:
    """One Lua script, run with ``EVALSHA`` and re-sent with ``EVAL`` if unknown.

    Call it as ``script(conn, keys=[...], args=[...], force_eval=False)``.
    ``force_eval=True`` always sends the source with ``EVAL``.

    On a pipeline (plain or transaction) the call is queued as ``EVALSHA``
    and the script is registered with the pipeline, so redis-py checks
    ``SCRIPT EXISTS`` and loads it before the pipeline runs: a queued call
    never fails with ``NOSCRIPT``. Its reply comes back from ``execute()``.
    """

    def __init__(self, script: str | bytes) -> None:
        self.script = script.encode("utf-8") if isinstance(script, str) else script
        self.sha = hashlib.sha1(self.script).hexdigest()
        # True once this process has sent EVAL to some server: from then on
        # EVALSHA is tried first.
        self._sent = False
        self._lock = threading.Lock()
        self._for_pipelines: Script | None = None

    def __call__(
        self,
        conn: redis.Redis,
        keys: Sequence[Any] = (),
        args: Sequence[Any] = (),
        force_eval: bool = False,
    ) -> Any:
        keys, args = list(keys), list(args)
        if isinstance(conn, Pipeline) and not force_eval:
            return self._pipeline_script(conn)(keys=keys, args=args, client=conn)
        if force_eval or not self._sent:
            return self._eval(conn, keys, args)
        try:
            return conn.evalsha(self.sha, len(keys), *keys, *args)
        except ResponseError as error:
            if not _is_no_script(error):
                raise
            return self._eval(conn, keys, args)

    def _eval(self, conn: redis.Redis, keys: list[Any], args: list[Any]) -> Any:
        reply = conn.eval(self.script, len(keys), *keys, *args)  # type: ignore[arg-type]
        self._sent = True
        return reply

    def _pipeline_script(self, pipe: Pipeline) -> Script:
        with self._lock:
            if self._for_pipelines is None:
                # The source is bytes, so the client is never asked to encode.
                self._for_pipelines = Script(pipe, self.script)
            return self._for_pipelines

    def __repr__(self) -> str:
        return f"<UserScript sha={self.sha}>"


def script_load(script: str | bytes) -> UserScript:
    """Return a callable running the Lua ``script``: see :class:`UserScript`."""
    return UserScript(script)
