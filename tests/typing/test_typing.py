"""mypy sees rom as typed: models, queries, conveniences and ManyToMany.

Each ``*_ok.py`` file must pass ``mypy --strict``; in each ``*_bad.py`` file
every line marked ``# BAD`` must be a mypy error, and no other line. mypy
runs once over all the good files and once over all the bad ones.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OK = sorted(HERE.glob("*_ok.py"))
BAD = sorted(HERE.glob("*_bad.py"))

pytest.importorskip("mypy", reason="the typing check needs mypy (pip install mypy)")


def _mypy(paths: list[Path]) -> tuple[int, str]:
    # Editable installs hide the package from mypy; point it at the sources.
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    return run.returncode, run.stdout + run.stderr


def _marked(path: Path) -> set[tuple[str, int]]:
    lines = path.read_text().splitlines()
    return {(path.name, i) for i, line in enumerate(lines, 1) if "# BAD" in line}


@pytest.mark.timeout(300)
def test_typed_use_type_checks() -> None:
    """Typed models, queries (Query[M], all(), first(), slicing, get_by) and
    the conveniences (create, get_or_create, ManyToMany) pass mypy --strict."""
    assert [p.name for p in OK] == [
        "conveniences_ok.py",
        "models_ok.py",
        "queries_ok.py",
    ]
    code, output = _mypy(OK)
    assert code == 0, output


@pytest.mark.timeout(300)
def test_wrongly_typed_use_is_caught() -> None:
    """Wrong assignments and wrongly typed query results are mypy errors."""
    assert [p.name for p in BAD] == ["models_bad.py", "queries_bad.py"]
    expected = set().union(*(_marked(p) for p in BAD))
    code, output = _mypy(BAD)
    found = {
        (name, int(line))
        for name, line in re.findall(r"(\w+_bad\.py):(\d+): error", output)
    }
    assert code == 1, output
    assert found == expected, output
