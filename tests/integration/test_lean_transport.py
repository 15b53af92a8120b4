"""The lean transport (rom._transport): same replies, errors and counts as
redis-py's own client calls, without going through them; lost connections
retried only where sending twice is harmless; no unread reply left in the
pool."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

import rom
from rom import _transport
from rom._io import Command
from rom._io import Pipeline
from rom._io import Request
from rom._io import Script
from rom._io import Steps
from rom._io import call
from rom._io import run_async
from rom._io import run_sync
from rom.connection import _aclose
from rom.testing import CallCounter
from rom.testing import DroppingProxy
from rom.testing import RedisServer
from rom.testing import use_connection


class LtItem(rom.Model):
    name = rom.Text(index=True, keygen=rom.FULL_TEXT)
    n = rom.Integer(index=True)
    email = rom.Text(unique=True)


def _speaking(protocol: int, **kwargs: Any) -> dict[str, Any]:
    # redis-py 4.x has no ``protocol`` (it speaks RESP2 only).
    if "protocol" in inspect.signature(redis.Redis.__init__).parameters:
        return {**kwargs, "protocol": protocol}
    if protocol == 3:
        pytest.skip("this redis-py speaks RESP2 only")
    return kwargs


class OneShotProxy(DroppingProxy):
    """Drops the next ``armed`` chunks of replies, and nothing else."""

    def __init__(self, port: int) -> None:
        super().__init__(port, drop_replies=1.0)
        self.armed = 0

    def _roll(self, chance: float) -> bool:
        with self._lock:
            if chance > 0 and self.armed > 0:
                self.armed -= 1
                return True
            return False


def one(request: Request) -> Steps[Any]:
    """The steps of one request: its reply."""
    reply = yield request
    return reply


# -- the lean path is taken, and answers as redis-py does ------------------------


def test_rom_operations_do_not_go_through_execute_command(
    rom_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    real = redis.Redis.execute_command

    def spy(self: redis.Redis, *args: Any, **options: Any) -> Any:
        calls.append(args[0])
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    item = LtItem(name="a", n=1, email="a@x")
    item.save()
    rom.session.rollback()
    assert LtItem.get(item.id).name == "a"
    assert LtItem.get([item.id])[0].email == "a@x"
    assert LtItem.get_by(email="a@x").n == 1
    assert [e.id for e in LtItem.query.filter(n=(0, 5)).all()] == [item.id]
    assert LtItem.query.filter(n=(0, 5)).count() == 1
    item.delete()
    assert [c for c in calls if c != "SCRIPT LOAD"] == []


def test_a_subclass_overriding_execute_command_keeps_its_override(
    server: RedisServer,
) -> None:
    seen: list[Any] = []

    class Traced(redis.Redis):
        def execute_command(self, *args: Any, **options: Any) -> Any:
            seen.append(args[0])
            return super().execute_command(*args, **options)

    client = Traced(port=server.port)
    client.flushdb()
    client.hset("h", "a", "1")
    seen.clear()
    assert not _transport.lean_sync(client)
    assert run_sync(call(client, "hgetall", "h")) == {b"a": b"1"}
    assert seen == ["HGETALL"]
    client.close()


def test_a_subclass_overriding_a_command_method_keeps_its_override(
    server: RedisServer,
) -> None:
    class Wrapping(redis.Redis):
        def hgetall(self, name: Any) -> Any:  # type: ignore[override]
            return {"wrapped": super().hgetall(name)}

    client = Wrapping(port=server.port)
    client.flushdb()
    client.hset("h", "a", "1")
    assert _transport.lean_sync(client)
    assert run_sync(call(client, "hgetall", "h")) == {"wrapped": {b"a": b"1"}}
    client.close()


def test_single_connection_clients_use_redis_py(server: RedisServer) -> None:
    client = redis.Redis(port=server.port, single_connection_client=True)
    assert not _transport.lean_sync(client)
    client.set("k", "v")
    assert run_sync(call(client, "get", "k")) == b"v"
    client.close()


_READS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("hgetall", ("h",), {}),
    ("hgetall", ("missing",), {}),
    ("hget", ("h", "a"), {}),
    ("hmget", ("h", ["a", "zz"]), {}),
    ("get", ("s",), {}),
    ("get", ("missing",), {}),
    ("zcard", ("z",), {}),
    ("zcount", ("z", 1, 2), {}),
    ("zrangebyscore", ("z", 0, 10), {}),
    ("zrangebyscore", ("z", 0, 10), {"withscores": True}),
    ("zrange", ("z", 0, -1), {"withscores": True}),
    ("smembers", ("set",), {}),
    ("scard", ("set",), {}),
    ("sismember", ("set", "m1"), {}),
    ("exists", ("h", "s", "missing"), {}),
    ("type", ("z",), {}),
    ("scan", (0,), {"match": "*", "count": 1000}),
    ("ttl", ("s",), {}),
]


def _fill(client: redis.Redis) -> None:
    client.flushdb()
    client.hset("h", mapping={"a": "1", "b": "é"})
    client.set("s", "text")
    client.zadd("z", {"x": 1, "y": 2.5, "w": 3})
    client.sadd("set", "m1", "m2")


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decoded"])
def test_replies_are_parsed_as_redis_py_parses_them(
    server: RedisServer, decode: bool, protocol: int
) -> None:
    client = redis.Redis(
        **_speaking(protocol, port=server.port, decode_responses=decode)
    )
    assert _transport.lean_sync(client)
    _fill(client)
    for name, args, kwargs in _READS:
        expected = getattr(client, name)(*args, **kwargs)
        got = run_sync(call(client, name, *args, **kwargs))
        if name == "scan":
            expected = (expected[0], sorted(expected[1]))
            got = (got[0], sorted(got[1]))
        assert got == expected, name
        assert type(got) is type(expected), name
    # Writes: the same reply for the same change.
    assert run_sync(call(client, "set", "w", "1", nx=True, ex=60)) is True
    assert run_sync(call(client, "set", "w", "2", nx=True, ex=60)) is None
    assert client.set("w", "2", nx=True, ex=60) is None
    assert run_sync(call(client, "incr", "w")) == 2
    assert run_sync(call(client, "delete", "w", "missing")) == 1
    client.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_pipelines_answer_as_redis_py_pipelines(
    server: RedisServer, protocol: int
) -> None:
    client = redis.Redis(**_speaking(protocol, port=server.port))
    _fill(client)
    for transaction in (False, True):
        commands = tuple(_READS)
        with client.pipeline(transaction=transaction) as pipe:
            for name, args, kwargs in commands:
                getattr(pipe, name)(*args, **kwargs)
            expected = pipe.execute()
        got = run_sync(one(Pipeline(client, commands, transaction)))  # type: ignore[arg-type]
        scan = next(i for i, c in enumerate(commands) if c[0] == "scan")
        expected[scan] = (expected[scan][0], sorted(expected[scan][1]))
        got[scan] = (got[scan][0], sorted(got[scan][1]))
        assert got == expected
    assert run_sync(one(Pipeline(client, (), True))) == []  # type: ignore[arg-type]
    client.close()


@pytest.mark.parametrize("transaction", [False, True])
def test_a_pipeline_error_reads_as_redis_py_s(
    server: RedisServer, transaction: bool
) -> None:
    client = redis.Redis(port=server.port)
    _fill(client)
    commands = (("get", ("s",), {}), ("hgetall", ("s",), {}), ("get", ("s",), {}))
    pipe = client.pipeline(transaction=transaction)
    for name, args, kwargs in commands:
        getattr(pipe, name)(*args, **kwargs)
    with pytest.raises(redis.ResponseError) as expected:
        pipe.execute()
    pipe.reset()
    with pytest.raises(redis.ResponseError) as got:
        run_sync(one(Pipeline(client, commands, transaction)))  # type: ignore[arg-type]
    assert str(got.value) == str(expected.value)
    assert "Command # 2 (HGETALL s) of pipeline caused error: WRONGTYPE" in str(
        got.value
    )
    # The connection went back clean: the next request reads its own reply.
    assert run_sync(call(client, "get", "s")) == b"text"
    client.close()


def test_a_transaction_counts_one_roundtrip_and_its_commands(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    commands = tuple(("hgetall", (f"h{i}",), {}) for i in range(3))
    with roundtrips.count() as seen:
        assert run_sync(one(Pipeline(rom_redis, commands, True))) == [{}, {}, {}]  # type: ignore[arg-type]
    assert seen.roundtrips == 1
    assert seen.names == ["MULTI", "HGETALL", "HGETALL", "HGETALL", "EXEC"]


def test_noscript_loads_the_script_and_sends_again(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    source = "return ARGV[1]"
    sha = hashlib.sha1(source.encode()).hexdigest()
    rom_redis.script_flush()
    request = Script(rom_redis, "test_echo", source, sha, (), ("hi",))
    with roundtrips.count() as seen:
        assert run_sync(one(request)) == b"hi"
    assert seen.names == ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]
    with roundtrips.count() as seen:
        assert run_sync(one(request)) == b"hi"
    assert seen.names == ["EVALSHA"]


class _LoadLost(redis.Redis):
    """A client (not lean: its own execute_command) whose SCRIPT LOAD never
    reaches the server, as a node the load missed."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[0] == "SCRIPT LOAD":
            return hashlib.sha1(args[1].encode()).hexdigest()
        return super().execute_command(*args, **options)


class _ALoadLost(redis.asyncio.Redis):
    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[0] == "SCRIPT LOAD":
            return hashlib.sha1(args[1].encode()).hexdigest()
        return await super().execute_command(*args, **options)


def test_noscript_after_the_load_sends_the_source(server: RedisServer) -> None:
    """EVALSHA refused again after SCRIPT LOAD: the call goes as EVAL of
    the source, on both APIs, and runs once."""
    source = "return redis.call('INCR', KEYS[1])"
    sha = hashlib.sha1(source.encode()).hexdigest()
    direct = server.client()
    direct.flushdb()
    direct.script_flush()
    client = _LoadLost(host=server.host, port=server.port)
    assert not _transport.lean_sync(client)
    request = Script(client, "test_incr", source, sha, ("n",), ())
    assert run_sync(one(request)) == 1
    aclient = _ALoadLost(host=server.host, port=server.port)
    direct.script_flush()
    arequest = Script(aclient, "test_incr", source, sha, ("n",), ())
    assert asyncio.run(_arun(arequest, aclient)) == 2
    assert direct.get("n") == b"2"
    client.close()


async def _arun(request: Request, client: Any) -> Any:
    try:
        return await run_async(one(request))
    finally:
        await _aclose(client)


# -- lost connections ---------------------------------------------------------


def test_a_read_whose_reply_was_lost_is_sent_again_once(server: RedisServer) -> None:
    direct = server.client()
    direct.flushdb()
    direct.set("k", "v")
    with OneShotProxy(server.port) as proxy:
        client = proxy.client(retry=Retry(NoBackoff(), 0))
        assert client.ping()  # a connection in the pool, handshake done
        proxy.armed = 1
        assert run_sync(call(client, "get", "k")) == b"v"
        assert proxy.dropped == 1
        assert client.ping()
        proxy.armed = 2  # lost again on the retry: the error reaches the caller
        with pytest.raises(redis.ConnectionError):
            run_sync(call(client, "get", "k"))
        client.close()
    direct.close()


def test_a_write_whose_reply_was_lost_is_never_sent_again(
    server: RedisServer,
) -> None:
    direct = server.client()
    direct.flushdb()
    with OneShotProxy(server.port) as proxy:
        # Even a client told to retry: INCR twice would count twice.
        client = proxy.client(retry=Retry(NoBackoff(), 3))
        assert client.ping()
        proxy.armed = 1
        with pytest.raises(redis.ConnectionError):
            run_sync(call(client, "incr", "n"))
        assert direct.get("n") == b"1"
        commands = (("incr", ("n",), {}), ("get", ("n",), {}))
        assert client.ping()  # connected again (its handshake is not dropped)
        proxy.armed = 1
        with pytest.raises(redis.ConnectionError):
            run_sync(one(Pipeline(client, commands)))  # type: ignore[arg-type]
        assert direct.get("n") == b"2"
        # The connection was dropped, not given back with a reply unread.
        assert run_sync(call(client, "incr", "n")) == 3
        client.close()
    direct.close()


def test_a_lost_write_entity_reply_is_answered_from_its_record(
    server: RedisServer,
) -> None:
    direct = server.client()
    direct.flushdb()
    with OneShotProxy(server.port) as proxy:
        client = proxy.client(retry=Retry(NoBackoff(), 0))
        assert client.ping()
        with use_connection(client):
            proxy.armed = 1
            item = LtItem(name="b", n=2, email="b@x")
            item.save()
            rom.session.rollback()
            assert proxy.dropped == 1
            assert LtItem.get(item.id).email == "b@x"
        client.close()
    assert direct.keys("LtItem:[0-9]*") == [f"LtItem:{item.id}".encode()]
    direct.close()


# -- the asyncio transport --------------------------------------------------------


def test_async_replies_and_pipelines_match_redis_py(server: RedisServer) -> None:
    sync = redis.Redis(port=server.port)
    _fill(sync)

    async def body() -> None:
        client = redis.asyncio.Redis(port=server.port)
        assert _transport.lean_async(client)
        for name, args, kwargs in _READS:
            if name == "scan":
                continue
            expected = await getattr(client, name)(*args, **kwargs)
            assert await run_async(call(client, name, *args, **kwargs)) == expected
        commands = tuple(c for c in _READS if c[0] != "scan")
        for transaction in (False, True):
            async with client.pipeline(transaction=transaction) as pipe:
                for name, args, kwargs in commands:
                    getattr(pipe, name)(*args, **kwargs)
                expected = await pipe.execute()
            got = await run_async(one(Pipeline(client, commands, transaction)))  # type: ignore[arg-type]
            assert got == expected
        bad = (("get", ("s",), {}), ("hgetall", ("s",), {}))
        with pytest.raises(redis.ResponseError, match=r"Command # 2 \(HGETALL s\)"):
            await run_async(one(Pipeline(client, bad, True)))  # type: ignore[arg-type]
        assert await run_async(call(client, "get", "s")) == b"text"
        await _aclose(client)

    asyncio.run(body())
    sync.close()


def test_a_cancelled_request_leaves_no_unread_reply_in_the_pool(
    server: RedisServer,
) -> None:
    direct = server.client()
    direct.flushdb()
    direct.set("k", "v")

    async def body() -> None:
        client = redis.asyncio.Redis(port=server.port, max_connections=1)
        assert await client.ping()
        # BLPOP waits for a push: the task is cancelled while it waits.
        task = asyncio.ensure_future(
            run_async(one(Command(client, "blpop", (["list"],), {"timeout": 0})))
        )
        for _ in range(1000):  # until the server sees the BLPOP waiting
            if [c for c in direct.client_list() if c["cmd"] == "blpop"]:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"BLPOP never waited: {task!r}")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The only pooled connection was dropped, not left with BLPOP's reply
        # due: pushing now and reading gets each command's own reply.
        direct.rpush("list", "pushed")
        assert await run_async(call(client, "get", "k")) == b"v"
        assert await run_async(call(client, "get", "k")) == b"v"
        await _aclose(client)

    asyncio.run(body())
    direct.close()


def test_async_lost_reply_of_a_read_is_retried_and_of_a_write_is_not(
    server: RedisServer,
) -> None:
    direct = server.client()
    direct.flushdb()
    direct.set("k", "v")

    async def body(proxy: OneShotProxy) -> None:
        client = redis.asyncio.Redis(port=proxy.port, retry=AsyncRetry(NoBackoff(), 3))
        assert await client.ping()
        proxy.armed = 1
        assert await run_async(call(client, "get", "k")) == b"v"
        assert await client.ping()
        proxy.armed = 1
        with pytest.raises(redis.ConnectionError):
            await run_async(call(client, "incr", "n"))
        assert direct.get("n") == b"1"
        assert await run_async(call(client, "incr", "n")) == 2
        await _aclose(client)

    with OneShotProxy(server.port) as proxy:
        asyncio.run(body(proxy))
        assert proxy.dropped == 2
    direct.close()
