"""One core, two transports: operations written once as generators of requests.

The code that plans, validates, runs hooks and decodes replies is written
as a generator (a ``Steps``) that yields prepared requests and receives
their replies; it never touches a socket. Two drivers run it:
``run_sync(steps)`` with ``redis.Redis`` clients and ``await
run_async(steps)`` with ``redis.asyncio.Redis`` clients. An error a request
raises is thrown into the generator where it yielded, so the generator's
``try``/``except`` reads exactly like blocking code.

The requests:

``Command(conn, name, args, kwargs)``
    one client method call, e.g. ``Command(conn, "hgetall", (key,))``;
``Pipeline(conn, commands, transaction)``
    several commands in one round trip, the reply is their list;
``Script(conn, name, source, sha, keys, args)``
    EVALSHA, loading the script on NOSCRIPT;
``Each(requests)``
    several requests (on different connections), the reply is their list;
``Wait(seconds)``
    a pause (``time.sleep`` or ``asyncio.sleep``);
``Awaited(value, what)``
    what an ``async def`` hook returned: awaited on the async path, refused
    on the sync one;
``Pinned(conn, steps, transaction)``
    one pipeline of ``conn`` held for the duration of ``steps(pipe)`` (a
    transaction on one pinned connection: WATCH, reads, MULTI, queued
    writes, EXEC); the ``Command(pipe, ...)`` requests the steps yield are
    calls on that pipeline, the others are run as usual.

``conn`` is what ``rom.connection.connection_for`` gives (a model's
``_conn``/``CONN`` or the global one); each driver turns it into the client
it needs (see ``rom.connection.sync_client``/``async_client``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from collections.abc import Generator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TypeVar

from redis.exceptions import NoScriptError

from . import _transport
from ._cluster import NodeOf
from ._cluster import resolve_nodes
from .connection import async_client
from .connection import is_cluster
from .connection import sync_client
from .exceptions import InvalidOperation

__all__ = [
    "Awaited",
    "Command",
    "Each",
    "Pinned",
    "Pipeline",
    "Request",
    "Script",
    "Steps",
    "Wait",
    "call",
    "hook",
    "run_async",
    "run_sync",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Command:
    """One client method call: ``conn.<name>(*args, **kwargs)``."""

    conn: Any
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """Commands sent together (in MULTI/EXEC with ``transaction``)."""

    conn: Any
    commands: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...]
    transaction: bool = False


@dataclass(frozen=True)
class Script:
    """A Lua script run with EVALSHA, loaded on the server on NOSCRIPT."""

    conn: Any
    name: str
    source: str
    sha: str
    keys: tuple[str, ...]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Each:
    """Several requests, run in order; the reply is the list of their replies."""

    requests: tuple[Request, ...]


@dataclass(frozen=True)
class Wait:
    """A pause between attempts."""

    seconds: float


@dataclass(frozen=True)
class Awaited:
    """What an ``async def`` hook returned, to be awaited."""

    value: Any
    what: str


@dataclass(frozen=True)
class Pinned:
    """Steps run against one pipeline of ``conn``, pinned for them.

    ``steps(pipe)`` yields ``Command(pipe, name, args, kwargs)`` for calls on
    the pipeline (``watch``, reads while watching, ``multi``, queued
    commands, ``execute``) and any other request as usual; the reply of the
    steps is the reply of the request. The pipeline is reset (its keys
    unwatched, its connection given back) when they end, however they end.
    Without ``transaction`` its queued commands are sent without MULTI/EXEC
    (e.g. to have ``execute(raise_on_error=False)`` give errors in place).
    """

    conn: Any
    steps: Callable[[Any], Steps[Any]]
    transaction: bool = True


Request = Command | Pipeline | Script | Each | Wait | Awaited | Pinned
Steps = Generator[Request, Any, T]


def call(conn: Any, name: str, *args: Any, **kwargs: Any) -> Steps[Any]:
    """Send one command and return its reply (``yield from call(...)``)."""
    reply = yield Command(conn, name, args, kwargs)
    return reply


def hook(entity: Any, name: str) -> Steps[None]:
    """Call the hook ``entity.<name>()``; an ``async def`` hook is awaited."""
    result = getattr(entity, name)()
    if inspect.isawaitable(result):
        yield Awaited(result, f"{type(entity).__name__}.{name}")


def _pipeline(client: Any, transaction: bool) -> Any:
    """``client.pipeline(transaction=...)``. On a cluster, redis-py versions
    whose ClusterPipeline refuses transactions get a plain pipeline: rom
    asks for MULTI only around reads of one model's rows (one slot), which
    then are read together but not as one snapshot."""
    if transaction and is_cluster(client):
        try:
            return client.pipeline(transaction=True)
        except Exception:  # RedisClusterException before redis-py 6
            return client.pipeline(transaction=False)
    return client.pipeline(transaction=transaction)


# -- the blocking driver ---------------------------------------------------------


class _Resumer:
    """Resumes a Steps generator with the reply (or error) of its last request."""

    def __init__(self, steps: Steps[Any]) -> None:
        self.steps = steps
        self.reply: Any = None
        self.error: BaseException | None = None
        self.result: Any = None

    def next(self) -> Request | None:
        """The next request, or None once the generator returned (``result``)."""
        error, self.error = self.error, None
        try:
            if error is not None:
                return self.steps.throw(error)
            return self.steps.send(self.reply)
        except StopIteration as stop:
            self.result = stop.value
            return None


def run_sync(steps: Steps[T]) -> T:
    """Run ``steps`` with blocking clients; return what it returns."""
    # _Resumer's loop, inlined: this runs once per rom call, on every path.
    send, throw = steps.send, steps.throw
    reply: Any = None
    error: BaseException | None = None
    try:
        request: Request | None = send(None)
        while request is not None:  # (as _Resumer: a bare yield ends the run)
            try:
                reply = _sync(request)
            except BaseException as exc:  # thrown into the generator, as raised
                error = exc
            if error is None:
                request = send(reply)
            else:
                request, error = throw(error), None
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    return None  # type: ignore[return-value]


def _sync(request: Request) -> Any:
    if isinstance(request, Command):
        client = sync_client(request.conn)
        if _transport.lean_sync(client):
            return _transport.sync_command(
                client, request.name, request.args, request.kwargs
            )
        kwargs = resolve_nodes(client, request.kwargs)
        return getattr(client, request.name)(*request.args, **kwargs)
    if isinstance(request, Pipeline):
        client = sync_client(request.conn)
        if _transport.lean_sync(client):
            return _transport.sync_pipeline(
                client, request.commands, request.transaction
            )
        with _pipeline(client, request.transaction) as pipe:
            for name, args, kwargs in request.commands:
                getattr(pipe, name)(*args, **resolve_nodes(client, kwargs))
            return pipe.execute()
    if isinstance(request, Script):
        client = sync_client(request.conn)
        if _transport.lean_sync(client):
            return _transport.sync_script(
                client, request.name, request.source, request.sha,
                request.keys, request.args,
            )  # fmt: skip
        try:
            return client.evalsha(
                request.sha, len(request.keys), *request.keys, *request.args
            )
        except NoScriptError:
            client.script_load(request.source)
        try:
            return client.evalsha(
                request.sha, len(request.keys), *request.keys, *request.args
            )
        except NoScriptError:
            # Refused again after the load (seen once on a cluster client of
            # redis-py 4.6 just after a reshard): the source itself, which
            # NOSCRIPT cannot refuse.
            return client.eval(
                request.source, len(request.keys), *request.keys, *request.args
            )
    if isinstance(request, Each):
        return [_sync(r) for r in request.requests]
    if isinstance(request, Wait):
        time.sleep(request.seconds)
        return None
    if isinstance(request, Awaited):
        if inspect.iscoroutine(request.value):
            request.value.close()  # never awaited: no "never awaited" warning
        raise InvalidOperation(
            f"{request.what} is an async def hook: it runs only on the async "
            "path (asave(), adelete(), session.acommit(), ...); call the "
            "async method, or make the hook a plain def"
        )
    if isinstance(request, Pinned):
        client = sync_client(request.conn)
        with client.pipeline(transaction=request.transaction) as pipe:
            resumer = _Resumer(request.steps(pipe))
            while (inner := resumer.next()) is not None:
                try:
                    if isinstance(inner, Command) and inner.conn is pipe:
                        method = getattr(pipe, inner.name)
                        resumer.reply = method(*inner.args, **inner.kwargs)
                    else:
                        resumer.reply = _sync(inner)
                except BaseException as exc:
                    resumer.error = exc
            return resumer.result
    raise TypeError(f"not a rom request: {request!r}")


# -- the asyncio driver ----------------------------------------------------------


async def run_async(steps: Steps[T]) -> T:
    """Run ``steps`` with ``redis.asyncio`` clients; return what it returns."""
    # _Resumer's loop, inlined: this runs once per rom call, on every path.
    send, throw = steps.send, steps.throw
    reply: Any = None
    error: BaseException | None = None
    try:
        request: Request | None = send(None)
        while request is not None:  # (as _Resumer: a bare yield ends the run)
            try:
                reply = await _async(request)
            except BaseException as exc:  # cancellation too: the steps settle it
                error = exc
            if error is None:
                request = send(reply)
            else:
                request, error = throw(error), None
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    return None  # type: ignore[return-value]


async def _initialized(client: Any) -> None:
    """Have an asyncio cluster client read the slot map if it has not yet."""
    if getattr(client, "_initialize", False) is True:  # not yet: read it now
        await client.initialize()


async def _async(request: Request) -> Any:
    if isinstance(request, Command):
        client = async_client(request.conn)
        if _transport.lean_async(client):
            return await _transport.async_command(
                client, request.name, request.args, request.kwargs
            )
        if isinstance(request.kwargs.get("target_nodes"), NodeOf):
            # A node is named by a key's slot: an asyncio cluster client
            # knows the slots once it asked for them (its first command).
            await _initialized(client)
        kwargs = resolve_nodes(client, request.kwargs)
        return await getattr(client, request.name)(*request.args, **kwargs)
    if isinstance(request, Pipeline):
        client = async_client(request.conn)
        if _transport.lean_async(client):
            return await _transport.async_pipeline(
                client, request.commands, request.transaction
            )
        async with _pipeline(client, request.transaction) as pipe:
            for name, args, kwargs in request.commands:
                getattr(pipe, name)(*args, **resolve_nodes(client, kwargs))
            return await pipe.execute()
    if isinstance(request, Script):
        client = async_client(request.conn)
        if _transport.lean_async(client):
            return await _transport.async_script(
                client, request.name, request.source, request.sha,
                request.keys, request.args,
            )  # fmt: skip
        try:
            return await client.evalsha(
                request.sha, len(request.keys), *request.keys, *request.args
            )
        except NoScriptError:
            await client.script_load(request.source)
        try:
            return await client.evalsha(
                request.sha, len(request.keys), *request.keys, *request.args
            )
        except NoScriptError:
            # As _sync: the source itself.
            return await client.eval(
                request.source, len(request.keys), *request.keys, *request.args
            )
    if isinstance(request, Each):
        return [await _async(r) for r in request.requests]
    if isinstance(request, Wait):
        await asyncio.sleep(request.seconds)
        return None
    if isinstance(request, Awaited):
        return await request.value
    if isinstance(request, Pinned):
        client = async_client(request.conn)
        if is_cluster(client):
            # redis.asyncio's cluster pipeline only queues: it has no
            # immediate mode after WATCH, so reads under WATCH get no reply.
            raise InvalidOperation(
                "The WATCH/MULTI/EXEC writer (after rom._disable_lua_writes()) "
                "cannot run on an asyncio Redis Cluster client: redis.asyncio's "
                "cluster pipeline cannot read keys while watching them. Use the "
                "Lua writer (rom._enable_lua_writes(), the default), or the "
                "blocking API"
            )
        async with client.pipeline(transaction=request.transaction) as pipe:
            resumer = _Resumer(request.steps(pipe))
            while (inner := resumer.next()) is not None:
                try:
                    if isinstance(inner, Command) and inner.conn is pipe:
                        method = getattr(pipe, inner.name)
                        reply = method(*inner.args, **inner.kwargs)
                        # Queued commands and multi() answer at once.
                        if inspect.isawaitable(reply):
                            reply = await reply
                        resumer.reply = reply
                    else:
                        resumer.reply = await _async(inner)
                except BaseException as exc:  # cancellation too
                    resumer.error = exc
            return resumer.result
    raise TypeError(f"not a rom request: {request!r}")
