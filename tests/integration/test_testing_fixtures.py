"""The test fixtures themselves, checked against the real private server."""

from __future__ import annotations

import os
import signal

import pytest
import redis

import rom.util
from rom.pytest_plugin import requires_redis
from rom.testing import CallCounter
from rom.testing import RedisServer
from rom.testing import counter_of
from rom.testing import counting_client


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- the fixtures -------------------------------------------------------------


@pytest.mark.parametrize("run", [1, 2])
def test_db_is_empty_at_start(rom_redis: redis.Redis, run: int) -> None:
    assert rom_redis.dbsize() == 0
    rom_redis.set(f"left-behind-{run}", "x")


def test_private_server_is_not_the_system_one(rom_redis_url: str) -> None:
    if os.environ.get("ROM_TEST_REDIS_URL"):
        assert rom_redis_url.endswith("/15")
    else:
        assert ":6379/" not in rom_redis_url


def test_rom_redis_is_rom_connection(rom_redis: redis.Redis) -> None:
    assert rom.util.CONNECTION is rom_redis


def test_counter_starts_at_zero(roundtrips: CallCounter) -> None:
    assert (roundtrips.roundtrips, roundtrips.commands, roundtrips.names) == (
        0,
        0,
        [],
    )


def test_roundtrips_is_the_counter_of_rom_redis(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    assert counter_of(rom_redis) is roundtrips


def test_single_command_is_one_roundtrip(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    with roundtrips.count() as c:
        rom_redis.hset("h", mapping={"a": "1", "b": "2"})
    assert (c.roundtrips, c.commands, c.names) == (1, 1, ["HSET"])
    with roundtrips.count() as c:
        assert rom_redis.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert (c.roundtrips, c.names) == (1, ["HGETALL"])
    assert roundtrips.roundtrips == 2


def test_transaction_of_five_is_one_roundtrip_seven_commands(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    with roundtrips.count() as c:
        pipe = rom_redis.pipeline(transaction=True)
        for i in range(5):
            pipe.set(f"k{i}", i)
        assert pipe.execute() == [True] * 5
    assert c.roundtrips == 1
    assert c.commands == 7
    assert c.names == ["MULTI", *["SET"] * 5, "EXEC"]


def test_plain_pipeline_is_one_roundtrip(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    with roundtrips.count() as c:
        pipe = rom_redis.pipeline(transaction=False)
        pipe.incr("n").incr("n").get("n")
        assert pipe.execute() == [1, 2, b"2"]
    # redis-py sends INCR as INCRBY.
    assert (c.roundtrips, c.names) == (1, ["INCRBY", "INCRBY", "GET"])


def test_script_calls_are_counted(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    script = rom_redis.register_script("return redis.call('INCR', KEYS[1])")
    rom_redis.script_flush()
    with roundtrips.count() as c:
        assert script(keys=["n"]) == 1
    # First call: EVALSHA fails with NOSCRIPT, redis-py loads and retries.
    assert c.names == ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]
    with roundtrips.count() as c:
        assert script(keys=["n"]) == 2
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])


def test_count_is_live_inside_and_frozen_after(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    with roundtrips.count() as c:
        rom_redis.ping()
        assert c.roundtrips == 1
    rom_redis.ping()
    assert c.roundtrips == 1
    assert roundtrips.roundtrips == 2
    roundtrips.reset()
    assert (roundtrips.roundtrips, roundtrips.names) == (0, [])


def test_handshake_is_not_a_roundtrip(rom_redis_url: str) -> None:
    client, counter = counting_client(rom_redis_url)
    with client:
        client.get("missing")
        assert (counter.roundtrips, counter.names) == (1, ["GET"])
        assert counter.connects == 1


def test_rom_redis_version(
    rom_redis: redis.Redis, rom_redis_version: tuple[int, ...]
) -> None:
    info = rom_redis.info("server")
    assert ".".join(map(str, rom_redis_version)) == info["redis_version"]
    assert rom_redis_version >= (6, 0)


@requires_redis((99, 0))
def test_requires_redis_skips_on_older_servers() -> None:
    pytest.fail("requires_redis((99, 0)) should have skipped this test")


@pytest.mark.requires_redis("6.0")
def test_requires_redis_runs_on_newer_servers(
    rom_redis_version: tuple[int, ...],
) -> None:
    assert rom_redis_version >= (6, 0)


# -- RedisServer ----------------------------------------------------------------


def test_two_servers_at_once() -> None:
    with RedisServer() as one, RedisServer() as two:
        assert one.port != two.port
        assert one.pid != two.pid
        with one.client() as a, two.client() as b:
            a.set("where", "one")
            assert b.get("where") is None
        assert one.version == two.version


def test_stop_kills_the_process_and_removes_its_dir() -> None:
    server = RedisServer().start()
    pid, directory = server.pid, server.directory
    assert server.running
    assert _alive(pid)
    assert os.path.isdir(directory)
    server.stop()
    assert not server.running
    assert not _alive(pid)
    assert not os.path.exists(directory)
    server.stop()  # stopping twice is harmless


def test_stop_kills_a_server_ignoring_sigterm() -> None:
    server = RedisServer(stop_timeout=0.5).start()
    pid = server.pid
    # A stopped process ignores SIGTERM until it is continued: stop() must
    # fall back to SIGKILL.
    os.kill(pid, signal.SIGSTOP)
    server.stop()
    assert not _alive(pid)


def test_start_failure_shows_the_log() -> None:
    server = RedisServer(extra_args=["--no-such-directive", "1"])
    with pytest.raises(RuntimeError, match="no-such-directive"):
        server.start()
    assert not server.running
