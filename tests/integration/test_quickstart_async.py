"""examples/quickstart_async.py runs against a private Redis and says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

EXAMPLE = Path(__file__).parents[2] / "examples" / "quickstart_async.py"


def test_the_async_quickstart_runs(rom_redis: redis.Redis, rom_redis_url: str) -> None:
    env = dict(os.environ, REDIS_URL=rom_redis_url)
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE.parents[1]), *sys.path])
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "24 columns, 1 round trip" in done.stdout
    assert "winners: 1 of 50" in done.stdout
    assert "books left: 1" in done.stdout
    assert rom_redis.keys("quickstart_async:*") == []  # it cleans up
