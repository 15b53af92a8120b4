"""The ``rom`` command on a Redis Cluster (``--cluster --url <any node>``):
check, reindex and export find the model's keys on the node of its slot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.cluster

import rom
from rom.testing import RedisCluster

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]

APP = """
import rom
from rom import columns


class ClCli(rom.Model):
    email = columns.Text(unique=True)
    score = columns.Integer(index=True)
"""


def _rom(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rom --app clcliapp --cluster *args`` in ``tmp_path``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    env.pop("ROM_REDIS_URI", None)
    command = [sys.executable, "-m", "rom", "--app", "clcliapp", "--cluster"]
    return subprocess.run(
        [*command, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_reindex_export_on_a_cluster(
    tmp_path: Path,
    rom_cluster: redis.cluster.RedisCluster,
    rom_redis_cluster: RedisCluster,
    fresh_models: None,
) -> None:
    (tmp_path / "clcliapp.py").write_text(APP)
    sys.path.insert(0, str(tmp_path))
    try:
        import clcliapp  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("clcliapp", None)
    for i in range(12):
        clcliapp.ClCli(email=f"c{i}@x", score=i).save()
    rom.session.rollback()
    # Every key on the node of the model's slot, none on the one --url names.
    url = next(
        f"redis://{n.host}:{n.port}/0"
        for n in rom_redis_cluster.masters()
        if n.id != rom_redis_cluster.node_for_key("{ClCli}").id
    )
    ok = _rom(tmp_path, "--url", url, "check")
    assert ok.returncode == 0, ok.stderr + ok.stdout
    rom_cluster.zrem("{ClCli}:score:idx", "4")
    broken = _rom(tmp_path, "--url", url, "check")
    assert broken.returncode != 0 and "missing" in broken.stdout + broken.stderr
    fixed = _rom(tmp_path, "--url", url, "reindex", "ClCli")
    assert fixed.returncode == 0, fixed.stderr
    assert rom_cluster.zscore("{ClCli}:score:idx", "4") == 3.0  # id 4: score 3
    assert _rom(tmp_path, "--url", url, "check").returncode == 0
    exported = _rom(tmp_path, "--url", url, "export", "ClCli")
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines() if line]
    assert len(rows) >= 12


def test_cluster_needs_a_url(tmp_path: Path) -> None:
    (tmp_path / "clcliapp.py").write_text(APP)
    done = _rom(tmp_path, "models")
    assert done.returncode != 0 and "--cluster needs --url" in done.stderr
