"""mypy accepts typed use of the conveniences and ManyToMany."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

pytest.importorskip("mypy", reason="the typing check needs mypy (pip install mypy)")


@pytest.mark.timeout(240)
def test_conveniences_type_check() -> None:
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            str(HERE / "conveniences_ok.py"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
