"""Package metadata: the version, and the redis-py minimum declared everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import rom

REPO = Path(__file__).resolve().parents[2]


def test_version_is_2_x_under_both_names() -> None:
    assert rom.__version__ == rom.VERSION
    assert re.fullmatch(r"2\.\d+\.\d+", rom.VERSION)
    assert "__version__" in rom.__all__


def test_version_comes_from_rom_init() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "rom.VERSION" }' in pyproject


def test_redis_py_minimum_is_the_same_in_pyproject_and_tox() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    tox = (REPO / "tox.ini").read_text(encoding="utf-8")
    declared = re.findall(r'^dependencies = \["redis>=([\d.]+)"\]$', pyproject, re.M)
    assert len(declared) == 1, 'one dependencies = ["redis>=X"] line'
    # .ci/run reads that line; the tox env pins the same version.
    assert re.findall(r"^deps = redis==([\d.]+)$", tox, re.M) == declared
