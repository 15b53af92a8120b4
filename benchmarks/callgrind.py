"""Counting the instructions of a benchmark's child run under callgrind.

Both instruction benchmarks re-run themselves as ``python -m <module>
--child ...`` under ``valgrind --tool=callgrind`` and read the total from
its "Collected" line; this module owns that one subprocess recipe.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def count_instructions(module: str, args: list[str], label: str) -> int:
    """Run ``python -m module *args`` under callgrind and return the
    instructions it executed; the child must print ``RUN-OK`` when done.

    ``PYTHONHASHSEED`` is fixed and this checkout is on ``PYTHONPATH`` (after
    the caller's own) so the child measures the same rom; a failed run
    raises ``SystemExit`` naming ``label`` with the tail of valgrind's log.
    """
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, "-m", module, *args]
    path = [os.environ.get("PYTHONPATH", ""), str(ROOT)]  # the same rom
    env = dict(os.environ, PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    out = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd="/", check=False
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if "RUN-OK" not in out.stdout or not found:
        raise SystemExit(f"{label}: the run failed:\n{out.stderr[-2000:]}")
    return int(found.group(1))
