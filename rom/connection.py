"""The default Redis connection and how a model finds the one it uses.

``rom.util.CONNECTION`` and ``rom.util.get_connection`` are the public faces
of the globals here: assigning either through ``rom.util`` replaces them, and
every call reads them afresh (see ``rom.util``).
"""

from __future__ import annotations

import os
from typing import Any

import redis

__all__ = [
    "CONNECTION",
    "REDIS_URI",
    "connection_for",
    "get_connection",
    "set_connection_settings",
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
