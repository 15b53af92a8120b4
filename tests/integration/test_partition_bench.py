"""``benchmarks/partition_bench.py --quick`` runs end to end (a smoke test).

Run as a child process from the repository root, as its users run it: it
starts its own 3-master cluster and spawns 2 client processes, about 5 s.
The figures are only checked for what they must be whatever the load:
every op counted, one round trip per insert and get, every entity row
found on the masters, the partitioned model's rows on every master and
the one-slot model's on one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OPS = 2 * 40  # --quick: 2 processes, 40 ops of each kind


def _run_quick(tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "quick.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    command = [sys.executable, "-m", "benchmarks.partition_bench", "--quick"]
    done = subprocess.run(
        [*command, "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "entity rows per master" in done.stdout
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_quick_mode_measures_both_models_on_three_masters(tmp_path: Path) -> None:
    result = _run_quick(tmp_path)
    assert result["partitions"] == 16 and result["processes"] == 2
    [run] = result["runs"]
    assert run["masters"] == 3 and run["exit_codes"] == [0, 0]
    phases = {(p["model"], p["phase"]): p for p in run["phases"]}
    assert len(phases) == 8
    for phase in ("insert", "get", "range", "count"):
        flat = phases[("flat", phase)]
        assert flat["skipped"] is None and flat["ops"] == OPS
        assert flat["ops_per_s"] > 0 and len(flat["master_cores"]) == 3
    for phase in ("insert", "get"):
        for model in ("flat", "part"):
            p = phases[(model, phase)]
            assert p["ops"] == OPS and p["roundtrips_per_op"] == 1.0
    # Queries over partitions: measured once rom has them, skipped (and
    # said so) while a partitioned query raises InvalidOperation.
    for phase in ("range", "count"):
        part = phases[("part", phase)]
        if part["skipped"] is None:
            assert part["ops"] == OPS
        else:
            assert part["ops"] == 0
            assert part["skipped"].startswith("InvalidOperation: BpPart")
    rows = run["rows_per_master"]
    assert sum(rows["part"]) == OPS and min(rows["part"]) > 0
    assert sum(rows["flat"]) == OPS and sorted(rows["flat"]) == [0, 0, OPS]
