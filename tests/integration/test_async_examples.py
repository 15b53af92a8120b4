"""The async examples run against a private Redis and say what they did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

EXAMPLES = Path(__file__).parents[2] / "examples"


def run_example(name: str, url: str) -> str:
    env = dict(os.environ, REDIS_URL=url)
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES.parent), *sys.path])
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_async_quickstart_runs(rom_redis: redis.Redis, rom_redis_url: str) -> None:
    out = run_example("quickstart_async.py", rom_redis_url)
    assert "24 columns, 1 round trip" in out
    assert "winners: 1 of 50" in out
    assert "books left: 1" in out
    assert rom_redis.keys("quickstart_async:*") == []  # it cleans up


def test_the_request_scope_example_drops_failed_requests(
    rom_redis: redis.Redis, rom_redis_url: str
) -> None:
    out = run_example("request_scope.py", rom_redis_url)
    assert "orders in Redis: ['banana']" in out
    assert "orders in Redis: ['banana', 'plum']" in out
    assert rom_redis.keys("request_scope:*") == []
