"""The package configuration ships every file of rom without setuptools
warnings: each directory holding files is a listed package, and each file
that is not Python is matched by that package's package-data.

setuptools warns ("Package 'rom.lua' is absent from the `packages`
configuration", about 40 lines per build) when a directory with files is
not listed, and drops files no package-data pattern names.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {"__pycache__"}


def _config() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(REPO / "pyproject.toml", "rb") as file:
        config: dict[str, Any] = tomllib.load(file)
    return config["tool"]["setuptools"]


def _shipped_files() -> dict[str, list[Path]]:
    """Files under rom/, by dotted package name of their directory."""
    found: dict[str, list[Path]] = {}
    for path in sorted((REPO / "rom").rglob("*")):
        parts = path.relative_to(REPO).parts
        if path.is_dir() or SKIPPED_DIRS & set(parts) or path.suffix == ".pyc":
            continue
        found.setdefault(".".join(parts[:-1]), []).append(path)
    return found


def test_every_directory_with_files_is_a_listed_package() -> None:
    packages = set(_config()["packages"])
    assert set(_shipped_files()) <= packages
    for name in packages:
        assert (REPO / name.replace(".", "/")).is_dir(), name


def test_every_data_file_is_named_by_package_data() -> None:
    package_data: dict[str, list[str]] = _config().get("package-data", {})
    unnamed = [
        str(path.relative_to(REPO))
        for package, files in _shipped_files().items()
        for path in files
        if path.suffix != ".py"
        and not any(
            fnmatch.fnmatch(path.name, pattern)
            for pattern in package_data.get(package, [])
        )
    ]
    assert unnamed == []


def test_the_lua_scripts_are_data_of_rom_lua() -> None:
    scripts = _shipped_files()["rom.lua"]
    assert scripts and all(path.suffix == ".lua" for path in scripts)
