"""The lean transport's packing gives redis-py's bytes, or leaves it to redis-py."""

from __future__ import annotations

from typing import Any

import pytest
import redis
import redis.asyncio
from redis.exceptions import DataError

from rom import _transport
from rom.testing import CountingConnection

COMMANDS: list[tuple[Any, ...]] = [
    ("HGETALL", "Item:1"),
    ("ZCOUNT", "Item:age:idx", 1, 2.5),
    ("ZCOUNT", "Item:age:idx", "-inf", "(5"),
    ("EVALSHA", "ab" * 20, 2, "k1", "k2", "caf\u00e9", b"\xff\x00bytes"),
    ("SET", "big", 10**30, -0.0, 1e300, float("inf"), ""),
    ("CONFIG GET", "maxmemory"),  # a name redis-py splits in two
]


def _connection(**kwargs: Any) -> Any:
    # Never connected: packing needs no server.
    return redis.Redis(**kwargs).connection_pool.make_connection()


def _bytes(packed: list[bytes]) -> bytes:
    return b"".join(bytes(chunk) for chunk in packed)


@pytest.mark.parametrize("command", COMMANDS)
def test_one_command_as_redis_py_packs_it(command: tuple[Any, ...]) -> None:
    conn = _connection()
    assert _bytes(_transport._pack(conn, [command])) == _bytes(
        conn.pack_commands([command])
    )


def test_a_pipeline_as_redis_py_packs_it() -> None:
    conn = _connection()
    commands = [("MULTI",), *COMMANDS, ("EXEC",)]
    assert _bytes(_transport._pack(conn, commands)) == _bytes(
        conn.pack_commands(commands)
    )


def test_the_pure_python_packer_matches_hiredis() -> None:
    hiredis = pytest.importorskip("hiredis")
    args = ("HSET", "Item:1", "caf\u00e9", b"\x00\xff", "")
    assert _transport._pack_python(args) == hiredis.pack_command(args)


@pytest.mark.parametrize("bad", [True, None, object()])
def test_a_value_redis_py_refuses_is_refused_as_it_does(bad: object) -> None:
    with pytest.raises(DataError):
        _transport._pack(_connection(), [("SET", "k", bad)])


def test_another_encoding_is_packed_by_redis_py() -> None:
    conn = _connection(encoding="latin-1")
    command = ("SET", "k", "caf\u00e9")
    assert _bytes(_transport._pack(conn, [command])) == _bytes(
        conn.pack_commands([command])
    )


def test_a_connection_subclass_packs_its_own_way() -> None:
    """A counting connection's packer sees every command the transport sends."""
    conn = CountingConnection()
    _transport._pack(conn, [("HGETALL", "Item:1"), ("HGETALL", "Item:2")])
    assert conn.counter.commands == 2


def test_a_plain_method_is_built_without_calling_it() -> None:
    """hgetall of redis-py's own client is built directly; a subclass's
    own hgetall is called (on the stand-in) as before."""
    calls: list[str] = []

    class Logged(redis.Redis):
        def hgetall(self, name: Any) -> Any:
            calls.append(name)
            return self.execute_command("HGETALL", name, keys=[name])

    plain = _transport._wire(redis.Redis(), "hgetall", ("Item:1",), {})
    assert plain is not None and plain.args == ("HGETALL", "Item:1")
    logged = _transport._wire(Logged(), "hgetall", ("Item:1",), {})
    assert logged is not None and logged.args == ("HGETALL", "Item:1")
    assert calls == ["Item:1"]


def test_a_client_class_is_lean_for_its_own_api_only() -> None:
    """Asking whether an asyncio client is lean for asyncio first does not
    make it lean for the blocking API (the answer is kept per API)."""
    aclient = redis.asyncio.Redis()
    assert _transport.lean_async(aclient)
    assert not _transport.lean_sync(aclient)
    client = redis.Redis()
    assert _transport.lean_sync(client)
    assert not _transport.lean_async(client)
