"""rom.util._script_load: a user's own Lua script, EVALSHA with EVAL fallback."""

from __future__ import annotations

import pytest
import redis

import rom
import rom.util
from rom.testing import CallCounter
from rom.testing import RedisServer

# Adds ARGV[1] to KEYS[1], capped at ARGV[2]; returns the new value.
CAPPED_INCR = """
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v > tonumber(ARGV[2]) then
    redis.call('SET', KEYS[1], ARGV[2])
    v = tonumber(ARGV[2])
end
return v
"""


def test_names_match_rom_1_1_2() -> None:
    assert rom._script_load is rom.util._script_load
    assert "NOSCRIPT" in rom.util.NO_SCRIPT_MESSAGES
    assert "No matching script" in rom.util.NO_SCRIPT_MESSAGES


def test_first_call_evals_then_evalsha(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    capped = rom.util._script_load(CAPPED_INCR)
    assert capped(rom_redis, keys=["n"], args=[4, 10]) == 4
    assert capped(rom_redis, ["n"], [4, 10]) == 8
    assert capped(rom_redis, keys=["n"], args=[4, 10]) == 10
    assert roundtrips.names == ["EVAL", "EVALSHA", "EVALSHA"]
    assert rom_redis.get("n") == b"10"


def test_works_again_after_script_flush(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    capped = rom.util._script_load(CAPPED_INCR)
    capped(rom_redis, keys=["n"], args=[1, 10])
    rom_redis.script_flush()
    assert rom_redis.script_exists(capped.sha) == [False]
    roundtrips.reset()

    assert capped(rom_redis, keys=["n"], args=[1, 10]) == 2
    # NOSCRIPT, then the source once more; the server has it cached again.
    assert roundtrips.names == ["EVALSHA", "EVAL"]
    assert rom_redis.script_exists(capped.sha) == [True]
    roundtrips.reset()
    assert capped(rom_redis, keys=["n"], args=[1, 10]) == 3
    assert roundtrips.names == ["EVALSHA"]


def test_force_eval_always_sends_the_source(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    capped = rom.util._script_load(CAPPED_INCR)
    for _ in range(3):
        capped(rom_redis, keys=["n"], args=[1, 10], force_eval=True)
    assert roundtrips.names == ["EVAL"] * 3
    assert rom_redis.get("n") == b"3"


def test_no_keys_no_args_and_bytes_source(rom_redis: redis.Redis) -> None:
    hello = rom.util._script_load(b"return 'hello'")
    assert hello(rom_redis) == b"hello"
    assert hello(rom_redis) == b"hello"


def test_errors_in_the_script_are_raised_not_retried(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    capped = rom.util._script_load(CAPPED_INCR)
    capped(rom_redis, keys=["n"], args=[1, 10])
    rom_redis.set("n", "not a number")
    roundtrips.reset()
    with pytest.raises(redis.ResponseError, match="not an integer"):
        capped(rom_redis, keys=["n"], args=[1, 10])
    assert roundtrips.names == ["EVALSHA"]
    assert rom_redis.get("n") == b"not a number"


def test_decoded_replies_pass_through(rom_redis_url: str) -> None:
    echo = rom.util._script_load("return ARGV[1]")
    with redis.Redis.from_url(rom_redis_url, decode_responses=True) as client:
        assert echo(client, args=["é"]) == "é"
        assert echo(client, args=["x"]) == "x"


def test_a_second_server_gets_the_source_on_noscript(rom_redis: redis.Redis) -> None:
    capped = rom.util._script_load(CAPPED_INCR)
    capped(rom_redis, keys=["n"], args=[5, 10])
    with RedisServer() as other, other.client() as client:
        assert client.script_exists(capped.sha) == [False]
        assert capped(client, keys=["n"], args=[7, 10]) == 7
        assert client.script_exists(capped.sha) == [True]
    assert rom_redis.get("n") == b"5"


@pytest.mark.parametrize("transaction", [True, False])
def test_pipelines_load_an_unknown_script_before_running(
    rom_redis: redis.Redis, transaction: bool
) -> None:
    capped = rom.util._script_load(CAPPED_INCR)
    capped(rom_redis, keys=["n"], args=[1, 10])  # EVALSHA from now on
    rom_redis.script_flush()
    with rom_redis.pipeline(transaction=transaction) as pipe:
        assert capped(pipe, keys=["n"], args=[4, 10]) is pipe
        capped(pipe, keys=["n"], args=[4, 10])
        pipe.get("n")
        assert pipe.execute() == [5, 9, b"9"]
    with rom_redis.pipeline(transaction=transaction) as pipe:
        capped(pipe, keys=["n"], args=[4, 10], force_eval=True)
        assert pipe.execute() == [10]


def test_user_script_beside_rom_models(
    rom_redis: redis.Redis, fresh_models: None
) -> None:
    class Counter(rom.Model):
        hits = rom.Integer(default=0)

    row = Counter()
    row.save()
    # An atomic "add, but never past 3" on rom's own row hash.
    capped_hincr = rom.util._script_load(
        "local v = redis.call('HINCRBY', KEYS[1], 'hits', ARGV[1]) "
        "if v > 3 then redis.call('HSET', KEYS[1], 'hits', 3) v = 3 end "
        "return v"
    )
    for _ in range(5):
        capped_hincr(rom_redis, keys=[row._pk], args=[1])
    row.refresh(force=True)
    assert row.hits == 3
