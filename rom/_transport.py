"""The lean transport: rom's requests sent on a pooled connection directly.

``redis.Redis.hgetall(key)`` costs about twice a round trip's client-side
time: the call goes through redis-py's per-command machinery (retry
wrapper, observability hooks, pipeline objects). The drivers of
``rom._io`` send ``Command``, ``Pipeline`` and ``Script`` requests through
here instead when the client allows it (:func:`lean_sync` /
:func:`lean_async`): the command is packed once and sent on a connection
taken from the client's own pool, its reply read and parsed, the connection
given back (or, from a plain ``ConnectionPool``, kept checked out by the
thread for its next request: see ``_check_out``). What users rely on is
kept:

* the pool and its settings (auth, TLS, db, timeouts, client name, the
  parser redis-py picked, hiredis when installed), ``decode_responses``;
* the command's wire form and reply parsing are redis-py's own: the
  client's command method is called on a stand-in (:class:`_Capture`) that
  records the ``execute_command`` call instead of sending it, and the reply
  goes through the client's ``parse_response`` (its response callbacks,
  e.g. HGETALL's dict, with the options the method passed); two shortcuts
  give the same bytes for less: ``hgetall``/``hget``/``zcount`` of
  redis-py's own client are built without the stand-in, and commands are
  packed in one pass on redis-py's own connection classes (``_pack``);
* pipelines read every reply, raise the first error annotated as redis-py
  does (``Command # n (...) of pipeline caused error: ...``); a MULTI/EXEC
  raises ``WatchError``/``ExecAbortError`` as redis-py does;
* a lost connection: a request that is harmless to send twice (read-only
  commands, read-only scripts, ``write_entity.lua``, which answers a
  repeated request from its write record) is retried as the connection's
  ``Retry`` says, and at least once, on a reconnected connection; any
  other write whose reply was lost is never re-sent: its
  ``ConnectionError``/``TimeoutError`` reaches the caller (rom's
  exactly-once layer settles writes through their write record);
* a request interrupted while it waits (asyncio cancellation,
  KeyboardInterrupt) disconnects its connection before giving it back, so
  no pooled connection holds an unread reply;
* a client the lean path cannot serve falls back to the plain client call:
  a client that is not a ``redis.Redis``/``redis.asyncio.Redis`` (cluster),
  a subclass overriding ``execute_command`` or ``parse_response``, a
  single-connection client, a pool with client-side caching, and a
  command whose method does more than one ``execute_command`` call.
  RESP2 and RESP3 connections both take the lean path (redis-py 8 speaks
  RESP3 by default); a connection a maintenance notification marked for
  reconnection is disconnected before it goes back to the pool.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import threading
import weakref
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

import redis
import redis.asyncio
import redis.asyncio.connection
import redis.connection
from redis.exceptions import ConnectionError
from redis.exceptions import DataError
from redis.exceptions import ExecAbortError
from redis.exceptions import NoScriptError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError
from redis.exceptions import WatchError

__all__ = [
    "READ_ONLY_COMMANDS",
    "RESENDABLE_SCRIPTS",
    "async_command",
    "async_pipeline",
    "async_script",
    "lean_async",
    "lean_sync",
    "sync_command",
    "sync_pipeline",
    "sync_script",
]

T = TypeVar("T")

# Redis commands that change nothing: sending one twice is harmless, so a
# request made only of these is retried after a lost connection.
READ_ONLY_COMMANDS = frozenset(
    {
        "EXISTS", "GET", "HEXISTS", "HGET", "HGETALL", "HKEYS", "HLEN",
        "HMGET", "HVALS", "MGET", "PTTL", "SCAN", "SCARD", "SISMEMBER",
        "SMEMBERS", "SMISMEMBER", "SSCAN", "HSCAN", "ZSCAN", "STRLEN",
        "TTL", "TYPE", "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZMSCORE",
        "ZRANGE", "ZRANGEBYLEX", "ZRANGEBYSCORE", "ZRANK", "ZREVRANGE",
        "ZREVRANGEBYSCORE", "ZREVRANK", "ZSCORE", "PING",
    }
)  # fmt: skip

# Scripts of rom/lua that are harmless to run twice: they only read (or
# refresh a cache's TTL), raise a counter to a bound, or, for
# write_entity, answer a repeated request from its write record.
RESENDABLE_SCRIPTS = frozenset(
    {"fetch_by_unique", "page", "prefetch", "raise_counter", "search", "write_entity"}
)

_NEVER_DECODE = "NEVER_DECODE"
_EMPTY_RESPONSE = "EMPTY_RESPONSE"


# -- which clients and commands take the lean path --------------------------------

# Per client class and base (redis.Redis or redis.asyncio.Redis): does it
# run commands as that redis-py class does?
_LEAN_TYPES: dict[tuple[type[Any], type[Any]], bool] = {}


def _lean_type(cls: type[Any], base: type[Any]) -> bool:
    found = _LEAN_TYPES.get((cls, base))
    if found is None:
        found = (
            issubclass(cls, base)
            and getattr(cls, "execute_command", None) is base.execute_command
            and getattr(cls, "parse_response", None) is base.parse_response
        )
        _LEAN_TYPES[(cls, base)] = found
    return found


def _lean_pool(client: Any) -> bool:
    if client.connection is not None:  # single_connection_client: its lock
        return False
    # Client-side caching answers from its cache: redis-py's own path.
    return getattr(client.connection_pool, "cache", None) is None


def lean_sync(client: Any) -> bool:
    """Whether the blocking ``client`` can take the lean path."""
    return _lean_type(type(client), redis.Redis) and _lean_pool(client)


def lean_async(client: Any) -> bool:
    """Whether the asyncio ``client`` can take the lean path."""
    return _lean_type(type(client), redis.asyncio.Redis) and _lean_pool(client)


class _Captured:
    __slots__ = ("args", "options")

    def __init__(self, args: tuple[Any, ...], options: dict[str, Any]) -> None:
        self.args = args
        self.options = options


class _Capture:
    """Stands in for a client: records the one ``execute_command`` call."""

    __slots__ = ("calls", "captured")

    def __init__(self) -> None:
        self.calls = 0
        self.captured: _Captured | None = None

    def execute_command(self, *args: Any, **options: Any) -> _Captured:
        self.calls += 1
        self.captured = _Captured(args, options)
        return self.captured


# (client class, method name) pairs whose method did not capture cleanly.
_NOT_LEAN: set[tuple[type[Any], str]] = set()

# The commands of rom's hot reads, whose redis-py method sends its
# positional arguments as they are, with no option but ``keys`` (which
# only client-side caching reads, and the lean path never serves a caching
# pool): (command, number of arguments). When the client's method is
# redis-py's own, the command is built without calling it on a _Capture.
_PLAIN_METHODS: dict[str, tuple[str, int]] = {
    "hgetall": ("HGETALL", 1),
    "hget": ("HGET", 2),
    "zcount": ("ZCOUNT", 3),
}
_NO_OPTIONS: dict[str, Any] = {}  # shared, never changed
# (client class, method name): is the method redis-py's own?
_OWN_METHODS: dict[tuple[type[Any], str], bool] = {}


def _own_method(cls: type[Any], name: str) -> bool:
    found = _OWN_METHODS.get((cls, name))
    if found is None:
        asyncio = issubclass(cls, redis.asyncio.Redis)
        base = redis.asyncio.Redis if asyncio else redis.Redis
        found = getattr(cls, name, None) is getattr(base, name)
        _OWN_METHODS[(cls, name)] = found
    return found


def _wire(
    client: Any, name: str, args: Sequence[Any], kwargs: dict[str, Any]
) -> _Captured | None:
    """The command ``client.<name>(*args, **kwargs)`` would send, or None.

    None when the method does anything but one ``execute_command`` call
    whose result it returns; the caller then makes the plain call (which
    raises the method's own error for bad arguments, too).
    """
    cls = type(client)
    plain = _PLAIN_METHODS.get(name)
    if (
        plain is not None
        and not kwargs
        and len(args) == plain[1]
        and _own_method(cls, name)
    ):
        return _Captured((plain[0], *args), _NO_OPTIONS)
    if (cls, name) in _NOT_LEAN:
        return None
    method = getattr(cls, name, None)
    if method is None:
        return None
    capture = _Capture()
    try:
        result = method(capture, *args, **kwargs)
    except Exception:
        return None
    if result is not capture.captured or capture.calls != 1 or result is None:
        _NOT_LEAN.add((cls, name))
        return None
    return result


# -- packing ----------------------------------------------------------------------

# redis-py's own connection classes: their packing is RESP of each argument
# encoded by the connection's Encoder (str in its encoding, int and float
# as repr(), bytes as they are), whichever serializer (hiredis or Python)
# does it. A subclass (rom's counting connections, say) packs its own way.
_PLAIN_CONNECTIONS = frozenset(
    {
        redis.connection.Connection,
        redis.connection.SSLConnection,
        redis.connection.UnixDomainSocketConnection,
        redis.asyncio.connection.Connection,
        redis.asyncio.connection.SSLConnection,
        redis.asyncio.connection.UnixDomainSocketConnection,
    }
)


def _pack(conn: Any, commands: Sequence[Sequence[Any]]) -> list[bytes]:
    """``conn.pack_commands(commands)``, but cheaper where that is the same.

    redis-py's serializer costs about 3 us a command (argument checks, an
    Encoder call per argument); RESP of str (UTF-8), bytes, int and float
    (repr) arguments is built here in one pass, for redis-py's own
    connection classes with the default UTF-8 strict encoding. Any other
    connection or argument goes through redis-py, so it packs (or refuses
    a value, with its DataError) exactly as redis-py does.
    """
    encoder = conn.encoder
    if (
        type(conn) not in _PLAIN_CONNECTIONS
        or encoder.encoding != "utf-8"
        or encoder.encoding_errors != "strict"
    ):
        return conn.pack_commands(commands)  # type: ignore[no-any-return]
    packed = _pack_plain(commands)
    if packed is None:
        return conn.pack_commands(commands)  # type: ignore[no-any-return]
    return [packed]


def _pack_plain(commands: Sequence[Sequence[Any]]) -> bytes | None:
    # None: an argument redis-py encodes in its own way (or refuses).
    pieces: list[bytes] = []
    for args in commands:
        name = args[0]
        if type(name) is not str or " " in name:
            return None  # redis-py splits "SCRIPT LOAD": its path
        plain: Sequence[Any] = args
        for i, arg in enumerate(args):
            kind = type(arg)
            if kind is str or kind is bytes:
                continue
            if kind is not int and kind is not float:
                return None  # bool, None, memoryview...: redis-py's Encoder
            if plain is args:
                plain = list(args)
            plain[i] = repr(arg)  # type: ignore[index]  # as redis-py's Encoder
        pieces.append(_pack_one(plain if type(plain) is tuple else tuple(plain)))
    return b"".join(pieces)


def _pack_python(args: tuple[Any, ...]) -> bytes:
    # hiredis.pack_command's output, for str and bytes arguments.
    pieces = [b"*%d\r\n" % len(args)]
    for arg in args:
        data: bytes = arg.encode() if type(arg) is str else arg
        pieces.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(pieces)


_pack_one: Callable[[tuple[Any, ...]], bytes]
try:
    from hiredis import pack_command as _pack_one
except ImportError:  # pragma: no cover - the hiredis extra is not installed
    _pack_one = _pack_python


def _resendable(args: tuple[Any, ...]) -> bool:
    name = args[0]
    return name in READ_ONLY_COMMANDS or str(name).upper() in READ_ONLY_COMMANDS


def _retries(policy: Any) -> int:
    get = getattr(policy, "get_retries", None)
    return int(get() if get is not None else getattr(policy, "_retries", 0))


# -- pipelines: reading and checking replies ------------------------------------


def _annotate(exc: ResponseError, number: int, command: Sequence[Any]) -> None:
    # As redis-py's pipelines do, so messages read the same either way.
    shown = " ".join(_safe_str(a) for a in command)
    if len(shown) > 100:
        shown = shown[:97] + "..."
    exc.args = (
        f"Command # {number} ({shown}) of pipeline caused error: {exc.args[0]}",
        *exc.args[1:],
    )


def _safe_str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _raise_first(commands: Sequence[_Captured], replies: list[Any]) -> None:
    for i, reply in enumerate(replies):
        if isinstance(reply, ResponseError):
            _annotate(reply, i + 1, commands[i].args)
            raise reply


def _exec_result(
    client: Any, commands: Sequence[_Captured], reply: Any, errors: list[Any]
) -> list[Any]:
    if reply is None:
        raise WatchError("Watched variable changed.")
    for i, exc in errors:
        reply.insert(i, exc)
    if len(reply) != len(commands):
        raise ResponseError("Wrong number of response items from pipeline execution")
    _raise_first(commands, reply)
    callbacks = client.response_callbacks
    # Each command name is looked up once (the table is case-insensitive:
    # every look-up upper-cases the name).
    known: dict[Any, Any] = {}
    data = []
    for r, command in zip(reply, commands, strict=True):
        if not isinstance(r, Exception):
            name = command.args[0]
            if name in known:
                callback = known[name]
            else:
                callback = known[name] = callbacks.get(name)
            if callback is not None:
                options = {k: v for k, v in command.options.items() if k != "keys"}
                r = callback(r, **options)
        data.append(r)
    return data


def _pipeline_wire(
    client: Any,
    commands: Iterable[tuple[str, tuple[Any, ...], dict[str, Any]]],
    transaction: bool,
) -> list[_Captured] | None:
    found = []
    for name, args, kwargs in commands:
        wire = _wire(client, name, args, kwargs)
        if wire is None:
            return None
        if transaction and (
            _NEVER_DECODE in wire.options or _EMPTY_RESPONSE in wire.options
        ):
            return None
        found.append(wire)
    return found


# -- the blocking transport -------------------------------------------------------


def _get_connection(pool: Any) -> Any:
    try:
        return pool.get_connection()
    except TypeError:  # redis-py < 5.3 wants a command name
        return pool.get_connection("_")


# A thread keeps the connection of its last request checked out of the
# pool for its next one: the pool's check-out and release cost about 10 us
# per request with redis-py 8 (locks, bookkeeping, events, metrics). Only
# for a plain ConnectionPool, and for at most a quarter of its
# max_connections at once (threads beyond that get a connection per
# request, as redis-py does; so does a BlockingConnectionPool). A thread
# holds at most _HOLD_POOLS connections (one per pool), given back to their
# pools when the thread ends. Before each use the held connection is
# checked as the pool checks a connection it hands out: one the server
# closed, or with unread data, is reconnected before anything is sent.
_HOLD_POOLS = 4
_LOCAL = threading.local()
# Per pool: how many threads hold one of its connections.
_HOLDERS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_HOLDERS_LOCK = threading.Lock()


def _forget_parents() -> None:
    # A forked child holds none of its parent's connections: they are left
    # alone (not closed, not released: the parent's), and counting starts
    # afresh. Only the forking thread lives on in the child.
    _HOLDERS.clear()
    held = getattr(_LOCAL, "held", None)
    if held is not None:
        held.slots.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parents)


class _Slot:
    """A connection a thread holds, and whether a request is using it."""

    __slots__ = ("busy", "conn", "pool")

    def __init__(self, pool: Any, conn: Any) -> None:
        self.pool = weakref.ref(pool)
        self.conn = conn
        self.busy = True


class _Held:
    """The connections one thread holds, by ``id(pool)``."""

    __slots__ = ("__weakref__", "slots")

    def __init__(self) -> None:
        self.slots: dict[int, _Slot] = {}
        weakref.finalize(self, _give_back, self.slots)


def _give_back(slots: dict[int, _Slot]) -> None:
    # The thread ended (its local storage went): back to the pools.
    for slot in list(slots.values()):
        _unhold(slot)
    slots.clear()


def _unhold(slot: _Slot) -> None:
    pool, conn = slot.pool(), slot.conn
    if conn.pid != os.getpid():
        return  # the parent process's connection: not ours to close
    with contextlib.suppress(Exception):
        if pool is None:
            conn.disconnect()
            return
        with _HOLDERS_LOCK:
            _HOLDERS[pool] = _HOLDERS.get(pool, 1) - 1
        pool.release(conn)


def _check_out(pool: Any) -> tuple[Any, _Slot | None]:
    """A connection of ``pool`` for one request, and the slot holding it
    (None: released after the request, as redis-py does)."""
    if type(pool) is not redis.ConnectionPool:
        return _get_connection(pool), None
    held: _Held | None = getattr(_LOCAL, "held", None)
    if held is None:
        held = _LOCAL.held = _Held()
    slot = held.slots.get(id(pool))
    if slot is not None:
        if slot.busy:  # a request made meanwhile (a finalizer, a signal)
            return _get_connection(pool), None
        conn = slot.conn
        if slot.pool() is pool and conn.pid == os.getpid():
            slot.busy = True
            try:
                if conn.can_read():  # data nobody asked for, or closed
                    conn.disconnect()
            except (ConnectionError, TimeoutError, OSError):
                conn.disconnect()  # the next send connects again
            return conn, slot
        del held.slots[id(pool)]  # its pool is gone, or another process's
        _unhold(slot)
    conn = _get_connection(pool)
    if len(held.slots) >= _HOLD_POOLS:  # make room: the oldest goes back
        oldest = next(iter(held.slots))
        if not held.slots[oldest].busy:
            _unhold(held.slots.pop(oldest))
    if len(held.slots) < _HOLD_POOLS:
        with _HOLDERS_LOCK:
            holders = _HOLDERS.get(pool, 0)
            if holders < pool.max_connections // 4:
                _HOLDERS[pool] = holders + 1
                slot = held.slots[id(pool)] = _Slot(pool, conn)
    return conn, slot


def _sync_send(
    client: Any, send: Callable[[Any], Any], read: Callable[[Any], T], again: bool
) -> T:
    """``send(conn)`` on a connection of the client's pool, then ``read(conn)``.

    ``again``: the request is harmless to send twice, so a lost connection
    is retried (as the connection's Retry says, at least once).
    """
    pool = client.connection_pool
    conn, slot = _check_out(pool)
    kept = False
    try:
        try:
            reply = _sync_attempt(conn, send, read)
        except (ConnectionError, TimeoutError) as exc:
            if not again:
                raise
            reply = _sync_retry(conn, send, read, exc)
        kept = True
        return reply
    finally:
        if _should_reconnect(conn):  # a maintenance notification said so
            conn.disconnect()
        if slot is None:
            pool.release(conn)
        elif kept:
            slot.busy = False
        else:
            # A failed request gives its connection back to the pool, as
            # redis-py does: the next request takes whichever the pool lends.
            _LOCAL.held.slots.pop(id(pool), None)
            _unhold(slot)


def _should_reconnect(conn: Any) -> bool:
    should = getattr(conn, "should_reconnect", None)  # redis-py >= 6.3
    return bool(should()) if should is not None else False


def _sync_attempt(conn: Any, send: Callable[[Any], Any], read: Callable[[Any], T]) -> T:
    try:
        send(conn)
        return read(conn)
    except (ResponseError, DataError):
        raise  # the whole reply was read, or nothing was sent: clean
    except BaseException:
        conn.disconnect()  # an unread reply must not go back to the pool
        raise


def _sync_retry(
    conn: Any, send: Callable[[Any], Any], read: Callable[[Any], T], first: Exception
) -> T:
    # The connection's Retry goes on from the failure already seen: it
    # counts it as its first attempt, backs off, reconnects and sends again.
    policy = conn.retry
    failed = [first]

    def attempt() -> T:
        if failed:
            raise failed.pop()
        return _sync_attempt(conn, send, read)

    try:
        return policy.call_with_retry(attempt, lambda error: conn.disconnect())  # type: ignore[no-any-return]
    except (ConnectionError, TimeoutError):
        if _retries(policy) > 0:
            raise
        return _sync_attempt(conn, send, read)  # retried at least once


def sync_command(
    client: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``client.<name>(*args, **kwargs)``, sent on the lean path."""
    wire = _wire(client, name, args, kwargs)
    if wire is None:
        return getattr(client, name)(*args, **kwargs)
    command = wire.args

    def send(conn: Any) -> None:
        conn.send_packed_command(_pack(conn, (command,)))

    def read(conn: Any) -> Any:
        return client.parse_response(conn, command[0], **wire.options)

    return _sync_send(client, send, read, _resendable(command))


def sync_script(
    client: Any,
    name: str,
    source: str,
    sha: str,
    keys: tuple[str, ...],
    args: tuple[Any, ...],
) -> Any:
    """EVALSHA on the lean path; SCRIPT LOAD and again on NOSCRIPT."""
    command = ("EVALSHA", sha, len(keys), *keys, *args)

    def send(conn: Any) -> None:
        conn.send_packed_command(_pack(conn, (command,)))

    def read(conn: Any) -> Any:
        return client.parse_response(conn, "EVALSHA")

    again = name in RESENDABLE_SCRIPTS
    try:
        return _sync_send(client, send, read, again)
    except NoScriptError:
        client.script_load(source)
        return _sync_send(client, send, read, again)


def sync_pipeline(
    client: Any,
    commands: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...],
    transaction: bool,
) -> Any:
    """Commands in one round trip (in MULTI/EXEC with ``transaction``)."""
    wires = _pipeline_wire(client, commands, transaction)
    if wires is None:
        with client.pipeline(transaction=transaction) as pipe:
            for name, args, kwargs in commands:
                getattr(pipe, name)(*args, **kwargs)
            return pipe.execute()
    if not wires:
        return []
    again = all(_resendable(w.args) for w in wires)
    if transaction:
        packed = [("MULTI",), *(w.args for w in wires), ("EXEC",)]
        return _sync_send(
            client,
            lambda conn: conn.send_packed_command(_pack(conn, packed)),
            lambda conn: _sync_read_exec(client, conn, wires),
            again,
        )
    plain = [w.args for w in wires]
    return _sync_send(
        client,
        lambda conn: conn.send_packed_command(_pack(conn, plain)),
        lambda conn: _sync_read_each(client, conn, wires),
        again,
    )


def _sync_read_each(client: Any, conn: Any, wires: list[_Captured]) -> list[Any]:
    replies: list[Any] = []
    for wire in wires:
        try:
            replies.append(client.parse_response(conn, wire.args[0], **wire.options))
        except ResponseError as exc:
            replies.append(exc)
    _raise_first(wires, replies)
    return replies


def _sync_read_exec(client: Any, conn: Any, wires: list[_Captured]) -> list[Any]:
    errors: list[Any] = []
    try:
        conn.read_response()  # MULTI's OK
    except ResponseError as exc:
        errors.append((0, exc))
    for i, wire in enumerate(wires):
        try:
            conn.read_response()  # QUEUED
        except ResponseError as exc:
            _annotate(exc, i + 1, wire.args)
            errors.append((i, exc))
    try:
        reply = conn.read_response()
    except ExecAbortError:
        if errors:
            raise errors[0][1] from None
        raise
    return _exec_result(client, wires, reply, errors)


# -- the asyncio transport ------------------------------------------------------


async def _async_send(
    client: Any,
    send: Callable[[Any], Any],
    read: Callable[[Any], Awaitable[T]],
    again: bool,
) -> T:
    """``_sync_send`` for ``redis.asyncio`` clients.

    A task cancelled while it waits for the reply disconnects its
    connection before giving it back to the pool.
    """
    pool = client.connection_pool
    try:
        conn = await pool.get_connection()
    except TypeError:  # redis-py < 5.3 wants a command name
        conn = await pool.get_connection("_")
    try:
        try:
            return await _async_attempt(conn, send, read)
        except (ConnectionError, TimeoutError) as exc:
            if not again:
                raise
            return await _async_retry(conn, send, read, exc)
    finally:
        if _should_reconnect(conn):  # a maintenance notification said so
            await conn.disconnect()
        await pool.release(conn)


async def _async_attempt(
    conn: Any, send: Callable[[Any], Any], read: Callable[[Any], Awaitable[T]]
) -> T:
    try:
        await send(conn)
        return await read(conn)
    except (ResponseError, DataError):
        raise  # the whole reply was read, or nothing was sent: clean
    except BaseException:
        # Cancelled (or failed) while the reply may still be on its way:
        # the connection must not go back to the pool with it unread.
        await conn.disconnect(nowait=True)
        raise


async def _async_retry(
    conn: Any,
    send: Callable[[Any], Any],
    read: Callable[[Any], Awaitable[T]],
    first: Exception,
) -> T:
    policy = conn.retry
    failed = [first]

    async def attempt() -> T:
        if failed:
            raise failed.pop()
        return await _async_attempt(conn, send, read)

    async def fail(error: Exception) -> None:
        await conn.disconnect()

    try:
        return await policy.call_with_retry(attempt, fail)  # type: ignore[no-any-return]
    except (ConnectionError, TimeoutError):
        if _retries(policy) > 0:
            raise
        return await _async_attempt(conn, send, read)  # retried at least once


async def async_command(
    client: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``await client.<name>(*args, **kwargs)``, sent on the lean path."""
    wire = _wire(client, name, args, kwargs)
    if wire is None:
        return await getattr(client, name)(*args, **kwargs)
    command = wire.args

    def send(conn: Any) -> Awaitable[None]:
        return conn.send_packed_command(_pack(conn, (command,)))  # type: ignore[no-any-return]

    async def read(conn: Any) -> Any:
        return await client.parse_response(conn, command[0], **wire.options)

    return await _async_send(client, send, read, _resendable(command))


async def async_script(
    client: Any,
    name: str,
    source: str,
    sha: str,
    keys: tuple[str, ...],
    args: tuple[Any, ...],
) -> Any:
    """``sync_script`` for ``redis.asyncio`` clients."""
    command = ("EVALSHA", sha, len(keys), *keys, *args)

    def send(conn: Any) -> Awaitable[None]:
        return conn.send_packed_command(_pack(conn, (command,)))  # type: ignore[no-any-return]

    async def read(conn: Any) -> Any:
        return await client.parse_response(conn, "EVALSHA")

    again = name in RESENDABLE_SCRIPTS
    try:
        return await _async_send(client, send, read, again)
    except NoScriptError:
        await client.script_load(source)
        return await _async_send(client, send, read, again)


async def async_pipeline(
    client: Any,
    commands: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...],
    transaction: bool,
) -> Any:
    """``sync_pipeline`` for ``redis.asyncio`` clients."""
    wires = _pipeline_wire(client, commands, transaction)
    if wires is None:
        async with client.pipeline(transaction=transaction) as pipe:
            for name, args, kwargs in commands:
                getattr(pipe, name)(*args, **kwargs)
            return await pipe.execute()
    if not wires:
        return []
    again = all(_resendable(w.args) for w in wires)
    if transaction:
        packed = [("MULTI",), *(w.args for w in wires), ("EXEC",)]
        return await _async_send(
            client,
            lambda conn: conn.send_packed_command(_pack(conn, packed)),
            lambda conn: _async_read_exec(client, conn, wires),
            again,
        )
    plain = [w.args for w in wires]
    return await _async_send(
        client,
        lambda conn: conn.send_packed_command(_pack(conn, plain)),
        lambda conn: _async_read_each(client, conn, wires),
        again,
    )


async def _async_read_each(client: Any, conn: Any, wires: list[_Captured]) -> list[Any]:
    replies: list[Any] = []
    for wire in wires:
        try:
            replies.append(
                await client.parse_response(conn, wire.args[0], **wire.options)
            )
        except ResponseError as exc:
            replies.append(exc)
    _raise_first(wires, replies)
    return replies


async def _async_read_exec(client: Any, conn: Any, wires: list[_Captured]) -> list[Any]:
    errors: list[Any] = []
    try:
        await conn.read_response()  # MULTI's OK
    except ResponseError as exc:
        errors.append((0, exc))
    for i, wire in enumerate(wires):
        try:
            await conn.read_response()  # QUEUED
        except ResponseError as exc:
            _annotate(exc, i + 1, wire.args)
            errors.append((i, exc))
    try:
        reply = await conn.read_response()
    except ExecAbortError:
        if errors:
            raise errors[0][1] from None
        raise
    result = _exec_result(client, wires, reply, errors)
    for i, r in enumerate(result):
        if inspect.isawaitable(r):
            result[i] = await r
    return result
