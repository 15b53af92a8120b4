"""The ``rom`` command under faults: a full server, a stopped server.

Each test starts its own private redis-server (rom.testing.RedisServer),
runs the command against it while the fault happens, and ends with the
consistency check: whatever the command managed to write is whole.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import rom
from rom.consistency import check
from rom.testing import RedisServer
from rom.testing import use_connection

from .rom_cli import ROOT
from .rom_cli import load_app
from .rom_cli import run_rom

E = "ops:every"


@pytest.fixture
def server(fresh_models: None) -> Iterator[RedisServer]:
    with RedisServer() as started:
        client = started.client()
        try:
            with use_connection(client):
                rom.session.rollback()
                yield started
                rom.session.rollback()
        finally:
            client.close()


def _lines(count: int, size: int = 0) -> list[str]:
    return [
        json.dumps({"id": str(i), "text": f"row {i}", "blob": "x" * size})
        for i in range(1, count + 1)
    ]


def test_import_into_a_full_server_refuses_whole_lines(
    server: RedisServer, tmp_path: Path
) -> None:
    app: ModuleType = load_app(tmp_path)
    conn = server.client()
    conn.config_set("maxmemory-policy", "noeviction")
    used = int(conn.info("memory")["used_memory"])
    conn.config_set("maxmemory", used + 2_000_000)
    rows = _lines(60, size=100_000)  # about 6 MB: it cannot all fit
    result = run_rom(
        tmp_path,
        server.url,
        "import",
        "OpsEvery",
        "--block-size",
        "5",
        stdin="\n".join(rows),
    )
    conn.config_set("maxmemory", 0)
    assert result.returncode == 1, result.stderr
    refused = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert refused and all("Redis refused the write" in line for line in refused), (
        refused[:3]
    )
    assert all("used memory > 'maxmemory'" in line for line in refused)
    assert all("nothing of this line was written" in line for line in refused)
    imported = sorted(int(k.split(b":")[-1]) for k in conn.keys(f"{E}:[0-9]*"))
    assert imported  # the first blocks went in, whole
    assert len(imported) + len(refused) == 60
    assert imported == list(range(1, len(imported) + 1))
    assert check(app.OpsEvery) == []
    assert conn.hlen(f"{E}:text:uidx") == len(imported)
    assert int(conn.get(f"{E}:id:")) >= len(imported)
    conn.close()


def test_import_waits_out_a_stopped_server(server: RedisServer, tmp_path: Path) -> None:
    app: ModuleType = load_app(tmp_path)
    rows = _lines(400)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    args = ["--app", "opsapp", "--url", server.url, "import", "OpsEvery"]
    with subprocess.Popen(
        [sys.executable, "-m", "rom", *args, "--block-size", "10"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write("\n".join(rows[:200]) + "\n")
        proc.stdin.flush()
        time.sleep(1.0)
        os.kill(server.pid, signal.SIGSTOP)
        try:
            proc.stdin.write("\n".join(rows[200:]) + "\n")
            proc.stdin.close()
            time.sleep(1.0)
            assert proc.poll() is None  # blocked on the stopped server
        finally:
            os.kill(server.pid, signal.SIGCONT)
        err = proc.stderr.read()
        proc.wait(timeout=120)
    assert proc.returncode == 0, err
    assert "imported 400 OpsEvery rows, refused 0" in err
    assert check(app.OpsEvery) == []
    assert app.OpsEvery.get_by(text="row 400").id == 400
