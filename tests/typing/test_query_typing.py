"""mypy sees queries as typed by their model: Query[M], list[M], M | None."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

pytest.importorskip("mypy", reason="the typing check needs mypy (pip install mypy)")


def _mypy(path: Path) -> tuple[int, str]:
    # Editable installs hide the package from mypy; point it at the sources.
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    return run.returncode, run.stdout + run.stderr


@pytest.mark.timeout(240)
def test_typed_queries_type_check() -> None:
    """Query[M], all(), first(), last(), slicing, get and get_by pass mypy."""
    code, output = _mypy(HERE / "queries_ok.py")
    assert code == 0, output


@pytest.mark.timeout(240)
def test_wrongly_typed_query_results_are_caught() -> None:
    """Every line marked BAD in queries_bad.py is a mypy error, and no other."""
    source = (HERE / "queries_bad.py").read_text().splitlines()
    expected = {i for i, line in enumerate(source, 1) if "# BAD" in line}
    code, output = _mypy(HERE / "queries_bad.py")
    found = {int(m) for m in re.findall(r"queries_bad\.py:(\d+): error", output)}
    assert code == 1, output
    assert found == expected, output
