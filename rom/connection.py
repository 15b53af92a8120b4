"""The default Redis connection and how a model finds the one it uses.

``rom.util.CONNECTION`` and ``rom.util.get_connection`` are the public faces
of the globals here: assigning either through ``rom.util`` replaces them, and
every call reads them afresh (see ``rom.util``).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import weakref
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.connection as aconnection
import redis.connection

from .exceptions import WrongClientError

__all__ = [
    "ASYNC_CONNECTION_CLASSES",
    "CONNECTION",
    "REDIS_URI",
    "async_client",
    "close_async_connections",
    "connection_for",
    "get_async_connection",
    "get_connection",
    "set_connection_settings",
    "sync_client",
]

REDIS_URI: str = os.environ.get("ROM_REDIS_URI", "redis://localhost:6379/0")

# Creating the client opens no socket: nothing talks to Redis until first use.
CONNECTION: redis.Redis = redis.Redis.from_url(REDIS_URI)


def set_connection_settings(*args: Any, **kwargs: Any) -> None:
    """Replace the global connection with ``redis.Redis(*args, **kwargs)``."""
    global CONNECTION
    CONNECTION = redis.Redis(*args, **kwargs)


def get_connection() -> redis.Redis:
    """Return the global connection (``rom.util.CONNECTION``)."""
    return CONNECTION


def connection_for(obj: object) -> redis.Redis:
    """Return the connection of a model class or entity.

    In order: the class attribute ``_conn``, the class attribute ``CONN``,
    then the global connection.
    """
    cls = obj if isinstance(obj, type) else type(obj)
    conn = getattr(cls, "_conn", None) or getattr(cls, "CONN", None)
    if conn is not None:
        return conn  # type: ignore[no-any-return]
    # Looked up at call time: ``rom.util.get_connection = f`` replaces it.
    return get_connection()


# -- the asyncio side ----------------------------------------------------------------

# The asyncio connection class that replaces a blocking one when an asyncio
# client is made from a blocking client's settings. Subclasses not listed
# fall back to their nearest listed base (rom.testing adds its counting ones).
ASYNC_CONNECTION_CLASSES: dict[type[Any], type[Any]] = {
    redis.connection.Connection: aconnection.Connection,
    redis.connection.SSLConnection: aconnection.SSLConnection,
    redis.connection.UnixDomainSocketConnection: aconnection.UnixDomainSocketConnection,
}

# Per event loop: id(blocking client) -> (that client, its asyncio twin). A
# redis.asyncio pool belongs to the loop it first ran on, so each loop gets
# its own; the blocking client is kept so its id cannot be reused.
_TWINS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[int, tuple[Any, redis.asyncio.Redis]]
] = weakref.WeakKeyDictionary()


def sync_client(conn: Any) -> redis.Redis:
    """``conn`` for the blocking API; an asyncio client is refused clearly."""
    if isinstance(conn, redis.asyncio.Redis):
        raise WrongClientError(
            f"This model's connection is a redis.asyncio.Redis ({conn!r}), "
            "which the blocking API cannot use: call the async method "
            "(aget, asave, acommit, ...), or give the model a redis.Redis as "
            "_conn (rom makes the asyncio client from it when needed)"
        )
    return conn  # type: ignore[no-any-return]


def async_client(conn: Any) -> redis.asyncio.Redis:
    """The ``redis.asyncio.Redis`` to use for ``conn`` on the running loop.

    An asyncio client is used as it is; a blocking ``redis.Redis`` gets an
    asyncio twin made from the same connection settings on first use, one
    per event loop.
    """
    if isinstance(conn, redis.asyncio.Redis):
        return conn
    if not isinstance(conn, redis.Redis):
        raise WrongClientError(
            f"Expected a redis.Redis or redis.asyncio.Redis connection, got "
            f"{type(conn).__name__}: {conn!r}"
        )
    loop = asyncio.get_running_loop()
    twins = _TWINS.setdefault(loop, {})
    found = twins.get(id(conn))
    if found is None or found[0] is not conn:
        found = (conn, _asyncio_twin(conn))
        twins[id(conn)] = found
    return found[1]


async def close_async_connections() -> None:
    """Close the asyncio clients rom made on the running loop.

    Call it before the loop ends (the clients are made again on next use);
    clients given as a model's ``_conn`` are the caller's to close.
    """
    twins = _TWINS.pop(asyncio.get_running_loop(), {})
    for _, client in twins.values():
        await _aclose(client)


async def _aclose(client: redis.asyncio.Redis) -> None:
    # aclose() is new in redis-py 5.0.1; before it, close() was the coroutine.
    closer = getattr(client, "aclose", None)
    await (closer() if closer is not None else client.close())


def get_async_connection() -> redis.asyncio.Redis:
    """The asyncio twin of the global connection, for the running loop."""
    return async_client(get_connection())


# Blocking-only settings that have no asyncio meaning (the asyncio client
# makes its own retry policy and event dispatcher).
_BLOCKING_ONLY = {"retry", "event_dispatcher", "cache", "cache_config"}


def _asyncio_twin(conn: redis.Redis) -> redis.asyncio.Redis:
    pool = conn.connection_pool
    kwargs = dict(pool.connection_kwargs)
    cls = _async_class(pool.connection_class)
    accepted: set[str] = set()
    for base in cls.__mro__:
        init = base.__dict__.get("__init__")
        if init is not None:
            accepted.update(inspect.signature(init).parameters)
    kwargs = {
        k: v for k, v in kwargs.items() if k in accepted and k not in _BLOCKING_ONLY
    }
    apool = aconnection.ConnectionPool(
        connection_class=cls, max_connections=pool.max_connections, **kwargs
    )
    return redis.asyncio.Redis(connection_pool=apool)


def _async_class(cls: type[Any]) -> type[Any]:
    for base in cls.__mro__:
        if base in ASYNC_CONNECTION_CLASSES:
            return ASYNC_CONNECTION_CLASSES[base]
    raise WrongClientError(
        f"rom cannot make an asyncio client like this redis.Redis: its "
        f"connection class {cls.__name__} has no asyncio counterpart; give "
        "the model a redis.asyncio.Redis as _conn"
    )
