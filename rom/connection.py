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
import redis.asyncio.cluster as acluster
import redis.asyncio.connection as aconnection
import redis.cluster
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
    "is_cluster",
    "set_connection_settings",
    "sync_client",
]

REDIS_URI: str = os.environ.get("ROM_REDIS_URI", "redis://localhost:6379/0")

# Creating the client opens no socket: nothing talks to Redis until first use.
CONNECTION: redis.Redis = redis.Redis.from_url(REDIS_URI)


def set_connection_settings(
    *args: Any,
    cluster: bool = False,
    startup_nodes: Any = None,
    **kwargs: Any,
) -> None:
    """Replace the global connection.

    ``set_connection_settings(*args, **kwargs)`` makes ``redis.Redis(*args,
    **kwargs)``, as rom 1.1.2. For a Redis Cluster:

    * ``set_connection_settings("redis://host:port/0", cluster=True)``: a
      ``redis.cluster.RedisCluster`` from the URL of any node;
    * ``set_connection_settings(host=..., port=..., cluster=True)``: the same
      from one node's address;
    * ``set_connection_settings(startup_nodes=[("h1", 7000), "h2:7001"])``:
      from several nodes, each a ``(host, port)`` pair, a ``"host:port"``
      string or a ``redis.cluster.ClusterNode`` (``cluster`` is implied).

    Other keyword arguments go to ``redis.cluster.RedisCluster``. Nothing
    connects until the first command.
    """
    global CONNECTION
    if startup_nodes is None and not cluster:
        CONNECTION = redis.Redis(*args, **kwargs)
        return
    CONNECTION = cluster_client(*args, startup_nodes=startup_nodes, **kwargs)  # type: ignore[assignment]


def cluster_client(
    *args: Any, startup_nodes: Any = None, **kwargs: Any
) -> redis.cluster.RedisCluster:
    """A ``redis.cluster.RedisCluster`` from a URL, an address or startup
    nodes (see :func:`set_connection_settings`)."""
    if startup_nodes is not None:
        if args:
            raise TypeError(
                "set_connection_settings(startup_nodes=...) takes no positional "
                f"arguments, got {args!r}: give the nodes only, e.g. "
                'startup_nodes=[("127.0.0.1", 7000)]'
            )
        nodes = [_startup_node(node) for node in startup_nodes]
        if not nodes:
            raise ValueError(
                "startup_nodes is empty: give at least one node of the cluster, "
                'e.g. startup_nodes=[("127.0.0.1", 7000)]'
            )
        return redis.cluster.RedisCluster(startup_nodes=nodes, **kwargs)
    if len(args) == 1 and isinstance(args[0], str) and "://" in args[0]:
        return redis.cluster.RedisCluster.from_url(args[0], **kwargs)
    if args:
        names = ("host", "port")
        kwargs.update(zip(names, args, strict=False))
        if len(args) > len(names):
            raise TypeError(
                "set_connection_settings(..., cluster=True) takes a URL or host "
                f"and port as positional arguments, got {args!r}"
            )
    return redis.cluster.RedisCluster(**kwargs)


def _startup_node(node: Any) -> redis.cluster.ClusterNode:
    if isinstance(node, redis.cluster.ClusterNode):
        return node
    if isinstance(node, str) and ":" in node:
        host, _, port = node.rpartition(":")
        node = (host, port)
    if isinstance(node, (tuple, list)) and len(node) == 2:
        return redis.cluster.ClusterNode(str(node[0]), int(node[1]))  # type: ignore[no-untyped-call]
    raise TypeError(
        "each startup node must be a (host, port) pair, a 'host:port' string "
        f"or a redis.cluster.ClusterNode, got {type(node).__name__}: {node!r}"
    )


# type(client) -> the answers of is_cluster / _client_kind: isinstance on
# redis-py's client classes goes through typing's slow __instancecheck__,
# and the hot read paths ask several times per call.
_CLUSTER_TYPES: dict[type[Any], bool] = {}
_CLIENT_KINDS: dict[type[Any], int] = {}
_ASYNC, _BLOCKING, _OTHER = 0, 1, 2


def is_cluster(conn: object) -> bool:
    """True if ``conn`` is a Redis Cluster client (blocking or asyncio)."""
    kind = type(conn)
    found = _CLUSTER_TYPES.get(kind)
    if found is None:
        found = isinstance(conn, (redis.cluster.RedisCluster, acluster.RedisCluster))
        _CLUSTER_TYPES[kind] = found
    return found


def _client_kind(conn: object) -> int:
    kind = type(conn)
    found = _CLIENT_KINDS.get(kind)
    if found is None:
        if isinstance(conn, (redis.asyncio.Redis, acluster.RedisCluster)):
            found = _ASYNC
        elif isinstance(conn, (redis.Redis, redis.cluster.RedisCluster)):
            found = _BLOCKING
        else:
            found = _OTHER
        _CLIENT_KINDS[kind] = found
    return found


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
    """``conn`` for the blocking API; an asyncio client is refused clearly.

    A ``redis.cluster.RedisCluster`` is returned as it is (typed as a
    ``redis.Redis``: rom calls only the commands both have).
    """
    if _client_kind(conn) == _ASYNC:
        kind = (
            "redis.asyncio.cluster.RedisCluster"
            if isinstance(conn, acluster.RedisCluster)
            else "redis.asyncio.Redis"
        )
        raise WrongClientError(
            f"This model's connection is a {kind} ({conn!r}), "
            "which the blocking API cannot use: call the async method "
            "(aget, asave, acommit, ...), or give the model a redis.Redis "
            "(or redis.cluster.RedisCluster) as _conn (rom makes the asyncio "
            "client from it when needed)"
        )
    return conn  # type: ignore[no-any-return]


def async_client(conn: Any) -> redis.asyncio.Redis:
    """The ``redis.asyncio.Redis`` to use for ``conn`` on the running loop.

    An asyncio client is used as it is; a blocking ``redis.Redis`` (or
    ``redis.cluster.RedisCluster``) gets an asyncio twin made from the same
    connection settings on first use, one per event loop.
    """
    kind = _client_kind(conn)
    if kind == _ASYNC:
        return conn  # type: ignore[no-any-return]
    if kind == _OTHER:
        raise WrongClientError(
            "Expected a redis.Redis, redis.asyncio.Redis, "
            "redis.cluster.RedisCluster or redis.asyncio.cluster.RedisCluster "
            f"connection, got {type(conn).__name__}: {conn!r}"
        )
    loop = asyncio.get_running_loop()
    twins = _TWINS.get(loop)
    if twins is None:
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


def _asyncio_twin(conn: Any) -> redis.asyncio.Redis:
    if isinstance(conn, redis.cluster.RedisCluster):
        return _asyncio_cluster_twin(conn)  # type: ignore[return-value]
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


def _asyncio_cluster_twin(conn: redis.cluster.RedisCluster) -> acluster.RedisCluster:
    # The nodes the blocking client knows now (it may have learnt more than
    # its startup nodes), with the settings every node connection gets.
    manager = conn.nodes_manager
    kwargs = dict(manager.connection_kwargs)
    cls = _async_class(kwargs.pop("connection_class", redis.connection.Connection))
    accepted = set(inspect.signature(acluster.RedisCluster.__init__).parameters)
    kwargs = {
        k: v for k, v in kwargs.items() if k in accepted and k not in _BLOCKING_ONLY
    }
    kwargs["ssl"] = issubclass(cls, aconnection.SSLConnection)
    nodes = list(manager.nodes_cache.values()) or list(manager.startup_nodes.values())
    # Where replicas are read: redis-py 5.3+ names it load_balancing_strategy
    # (and warns on read_from_replicas); older ones know only the flag.
    strategy = getattr(conn, "load_balancing_strategy", None)
    if strategy is not None and "load_balancing_strategy" in accepted:
        kwargs["load_balancing_strategy"] = strategy
    elif getattr(conn, "read_from_replicas", False):
        kwargs["read_from_replicas"] = True
    twin = acluster.RedisCluster(
        startup_nodes=[acluster.ClusterNode(n.host, n.port) for n in nodes],
        require_full_coverage=getattr(manager, "_require_full_coverage", True),
        **kwargs,
    )
    # redis.asyncio's cluster picks its connection class itself; a subclass
    # (rom.testing's counting one) is kept for the nodes it will discover.
    default = twin.nodes_manager.connection_kwargs.get("connection_class")
    if default is not None and cls is not default and issubclass(cls, default):
        twin.nodes_manager.connection_kwargs["connection_class"] = cls
        for node in twin.nodes_manager.startup_nodes.values():
            node.connection_class = cls
    return twin


def _async_class(cls: type[Any]) -> type[Any]:
    for base in cls.__mro__:
        if base in ASYNC_CONNECTION_CLASSES:
            return ASYNC_CONNECTION_CLASSES[base]
    raise WrongClientError(
        f"rom cannot make an asyncio client like this redis.Redis: its "
        f"connection class {cls.__name__} has no asyncio counterpart; give "
        "the model a redis.asyncio.Redis as _conn"
    )
