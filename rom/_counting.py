"""Counting the round trips and commands a redis-py client sends.

``counting_client(url)`` makes a client whose connections report to a
:class:`CallCounter`; rom's tests assert with it how many round trips each
operation costs. Re-exported by :mod:`rom.testing`, the public home.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio.connection as aconnection
import redis.cluster
from redis.connection import AbstractConnection
from redis.connection import Connection
from redis.connection import SSLConnection
from redis.connection import UnixDomainSocketConnection

__all__ = [
    "AsyncCountingConnection",
    "CallCount",
    "CallCounter",
    "CountingConnection",
    "CountingSSLConnection",
    "CountingUnixDomainSocketConnection",
    "counter_of",
    "counting_client",
    "counting_cluster_client",
]


class CallCounter:
    """Count round trips and commands sent through counting connections.

    One call to ``send_packed_command`` is one round trip: a single command,
    or a whole pipeline (a MULTI/EXEC transaction of N commands is 1 round
    trip and N + 2 commands). Connection set-up (HELLO, CLIENT SETINFO,
    SELECT, AUTH) and health-check PINGs are not counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roundtrips = 0
        self._names: list[str] = []
        self._connects = 0
        self._base = (0, 0, 0)

    @property
    def roundtrips(self) -> int:
        """Round trips since creation or the last :meth:`reset`."""
        return self._roundtrips - self._base[0]

    @property
    def commands(self) -> int:
        """Commands since creation or the last :meth:`reset`."""
        return len(self._names) - self._base[1]

    @property
    def names(self) -> list[str]:
        """Command names, in order, e.g. ``['HGETALL', 'EVALSHA']``."""
        return self._names[self._base[1] :]

    @property
    def connects(self) -> int:
        """Connections opened (their handshakes are not round trips here)."""
        return self._connects - self._base[2]

    def reset(self) -> None:
        """Start counting from zero again."""
        with self._lock:
            self._base = (self._roundtrips, len(self._names), self._connects)

    @contextmanager
    def count(self) -> Iterator[CallCount]:
        """Measure only what happens inside the ``with`` block.

        ::

            with counter.count() as c:
                entity.save()
            assert c.roundtrips == 1
        """
        window = CallCount(self)
        try:
            yield window
        finally:
            window.close()

    def _totals(self) -> tuple[int, int, int]:
        return self._roundtrips, len(self._names), self._connects

    def _add_roundtrip(self) -> None:
        with self._lock:
            self._roundtrips += 1

    def _add_command(self, name: str) -> None:
        with self._lock:
            self._names.append(name)

    def _add_connect(self) -> None:
        with self._lock:
            self._connects += 1

    def __repr__(self) -> str:
        return f"<CallCounter roundtrips={self.roundtrips} commands={self.commands}>"


class CallCount:
    """What a :class:`CallCounter` saw during one ``count()`` block.

    Values are live inside the block and frozen once it exits.
    """

    def __init__(self, counter: CallCounter) -> None:
        self._counter = counter
        self._start = counter._totals()
        self._end: tuple[int, int, int] | None = None

    def close(self) -> None:
        """Freeze the counts."""
        if self._end is None:
            self._end = self._counter._totals()

    def _now(self) -> tuple[int, int, int]:
        return self._end if self._end is not None else self._counter._totals()

    @property
    def roundtrips(self) -> int:
        """Round trips made in the block."""
        return self._now()[0] - self._start[0]

    @property
    def commands(self) -> int:
        """Commands sent in the block."""
        return self._now()[1] - self._start[1]

    @property
    def names(self) -> list[str]:
        """Names of the commands sent in the block, in order."""
        return self._counter._names[self._start[1] : self._now()[1]]

    @property
    def connects(self) -> int:
        """Connections opened in the block."""
        return self._now()[2] - self._start[2]

    def __repr__(self) -> str:
        return f"<CallCount roundtrips={self.roundtrips} names={self.names}>"


def _command_name(args: Sequence[Any]) -> str:
    first = args[0] if args else b""
    if isinstance(first, (bytes, bytearray, memoryview)):
        first = bytes(first).decode("utf-8", "replace")
    return str(first).upper()


class _CountingPacker:
    """Wrap a connection's command packer: every command is packed once."""

    def __init__(self, inner: Any, owner: _CountingMixin) -> None:
        self._inner = inner
        self._owner = owner

    def pack(self, *args: Any) -> Any:
        self._owner._note_command(args)
        return self._inner.pack(*args)


class _CountingMixin(AbstractConnection):
    """Counting behaviour shared by the TCP, SSL and unix-socket connections.

    Commands are counted where they are packed (``pack_command``,
    ``pack_commands`` and ``send_command`` all go through the packer), round
    trips where they are sent. Work done while connecting or inside a send
    (the health-check PING) is not counted.
    """

    counter: CallCounter
    _quiet: int

    def _init_counting(self, counter: CallCounter | None) -> None:
        self.counter = counter if counter is not None else CallCounter()
        self._quiet = 0
        self._command_packer = _CountingPacker(self._command_packer, self)

    def _note_command(self, args: Sequence[Any]) -> None:
        if not self._quiet:
            self.counter._add_command(_command_name(args))

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._quiet:
            self.counter._add_roundtrip()
        self._quiet += 1
        try:
            super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]
        finally:
            self._quiet -= 1

    # Connection hooks: these three exist (with these signatures) in every
    # redis-py from 4.6 on; connect() and connect_check_health() do not.
    def _connect(self) -> Any:
        sock = super()._connect()  # type: ignore[safe-super,no-untyped-call]
        if not self._quiet:
            self.counter._add_connect()
        return sock

    def on_connect(self) -> None:
        self._quiet += 1
        try:
            super().on_connect()  # type: ignore[no-untyped-call]
        finally:
            self._quiet -= 1

    def on_connect_check_health(self, check_health: bool = True) -> None:
        # redis-py >= 6 runs the handshake here instead of in on_connect.
        self._quiet += 1
        try:
            super().on_connect_check_health(check_health)
        finally:
            self._quiet -= 1


class CountingConnection(_CountingMixin, Connection):
    """A TCP ``redis.connection.Connection`` that feeds a :class:`CallCounter`."""

    def __init__(self, *args: Any, counter: CallCounter | None = None, **kw: Any):
        super().__init__(*args, **kw)  # type: ignore[no-untyped-call]
        self._init_counting(counter)


class CountingSSLConnection(_CountingMixin, SSLConnection):
    """The ``rediss://`` flavour of :class:`CountingConnection`."""

    def __init__(self, *args: Any, counter: CallCounter | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self._init_counting(counter)


class CountingUnixDomainSocketConnection(_CountingMixin, UnixDomainSocketConnection):
    """The ``unix://`` flavour of :class:`CountingConnection`."""

    def __init__(self, *args: Any, counter: CallCounter | None = None, **kw: Any):
        super().__init__(*args, **kw)  # type: ignore[no-untyped-call]
        self._init_counting(counter)


class AsyncCountingConnection(aconnection.Connection):
    """The ``redis.asyncio`` flavour of :class:`CountingConnection`.

    rom's async API makes it (sharing the counter) when it derives an
    asyncio client from a counting client, so one counter sees both paths.
    """

    def __init__(self, *args: Any, counter: CallCounter | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.counter = counter if counter is not None else CallCounter()
        self._quiet = 0

    def pack_command(self, *args: Any) -> list[bytes]:
        # pack_commands (pipelines) packs each command through here too.
        if not self._quiet:
            self.counter._add_command(_command_name(args))
        return super().pack_command(*args)

    async def send_packed_command(
        self, command: Any, check_health: bool = True
    ) -> None:
        if not self._quiet:
            self.counter._add_roundtrip()
        self._quiet += 1
        try:
            await super().send_packed_command(command, check_health)
        finally:
            self._quiet -= 1

    async def _connect(self) -> None:
        await super()._connect()  # type: ignore[no-untyped-call]
        if not self._quiet:
            self.counter._add_connect()

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        self._quiet += 1
        try:
            await super().on_connect_check_health(check_health)
        finally:
            self._quiet -= 1


def _register_async() -> None:
    # Deriving an asyncio client from a counting TCP client keeps counting.
    from .connection import ASYNC_CONNECTION_CLASSES

    ASYNC_CONNECTION_CLASSES[CountingConnection] = AsyncCountingConnection


_register_async()


def _counting_class(url: str) -> type[AbstractConnection]:
    scheme = urlsplit(url).scheme
    if scheme == "unix":
        return CountingUnixDomainSocketConnection
    if scheme == "rediss":
        return CountingSSLConnection
    return CountingConnection


def counting_client(url: str, **kwargs: Any) -> tuple[redis.Redis, CallCounter]:
    """Return a ``redis.Redis`` for ``url`` whose calls are counted, and its counter.

    Extra keyword arguments go to ``redis.Redis.from_url``.
    """
    counter = CallCounter()
    kwargs["connection_class"] = _counting_class(url)
    client = redis.Redis.from_url(url, counter=counter, **kwargs)
    return client, counter


def _bound_classes(counter: CallCounter) -> type[CountingConnection]:
    """A CountingConnection class (and its asyncio twin) feeding ``counter``.

    A cluster client drops connection keywords it does not know (such as
    ``counter``), so the counter rides on the class instead.
    """

    def init(self: Any, *args: Any, **kw: Any) -> None:
        kw["counter"] = counter
        CountingConnection.__init__(self, *args, **kw)

    def ainit(self: Any, *args: Any, **kw: Any) -> None:
        kw["counter"] = counter
        AsyncCountingConnection.__init__(self, *args, **kw)

    cls = type(
        "ClusterCountingConnection",
        (CountingConnection,),
        {"__init__": init, "bound_counter": counter},
    )
    acls = type(
        "AsyncClusterCountingConnection",
        (AsyncCountingConnection,),
        {"__init__": ainit, "bound_counter": counter},
    )
    from .connection import ASYNC_CONNECTION_CLASSES

    ASYNC_CONNECTION_CLASSES[cls] = acls
    return cls


def counting_cluster_client(
    url: str | None = None, **kwargs: Any
) -> tuple[redis.cluster.RedisCluster, CallCounter]:
    """A ``redis.cluster.RedisCluster`` whose calls (on every node) are
    counted, and its counter. ``url`` is that of any node; without it give
    ``startup_nodes=[...]``. Extra keyword arguments go to ``RedisCluster``.
    """
    counter = CallCounter()
    kwargs["connection_class"] = _bound_classes(counter)
    if url is None:
        # redis-py honours connection_class only for a client made from a
        # URL (its nodes then share one pool class): the first node's.
        nodes = kwargs.get("startup_nodes") or []
        if not nodes:
            raise TypeError("counting_cluster_client needs a url or startup_nodes")
        url = f"redis://{nodes[0].host}:{nodes[0].port}/0"
    return redis.cluster.RedisCluster(url=url, **kwargs), counter


def counter_of(client: Any) -> CallCounter:
    """Return the :class:`CallCounter` of a client made by :func:`counting_client`
    or :func:`counting_cluster_client`."""
    if isinstance(client, redis.cluster.RedisCluster):
        cls = client.nodes_manager.connection_kwargs.get("connection_class")
        counter = getattr(cls, "bound_counter", None)
    else:
        counter = client.connection_pool.connection_kwargs.get("counter")
    if not isinstance(counter, CallCounter):
        raise TypeError(f"{client!r} was not made by rom.testing.counting_client")
    return counter
