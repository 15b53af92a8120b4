"""Running the ``rom`` command as a user would, for the CLI tests.

``APP`` is the source of a small application models module. A test writes
it into its tmp_path, loads it in the test process (to make data through
rom) and runs ``python -m rom --app <module> --url <private server> ...``
in a subprocess whose import path finds this checkout first.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import rom

__all__ = ["APP", "load_app", "run_rom"]

ROOT = Path(rom.__file__).resolve().parent.parent

APP = '''
import datetime
import decimal

import rom


def _where(data):
    return (data.lon, data.lat) if data.lon is not None else None


class OpsOwner(rom.Model):
    _namespace = "ops:owner"
    name = rom.Text(index=True, keygen=rom.SIMPLE)


class OpsPlace(rom.Model):
    _namespace = "ops:place"
    email = rom.Text(unique=True)
    name = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    age = rom.Integer(index=True)
    team = rom.Text()
    number = rom.Integer()
    lon = rom.Float()
    lat = rom.Float()
    log = rom.UnsafeColumn()
    owner = rom.ManyToOne("OpsOwner", on_delete="set null")
    keeper = rom.ManyToOne("OpsOwner", on_delete="cascade")
    unique_together = ("team", "number")
    geo_index = [rom.GeoIndex("home", _where)]


class OpsEvery(rom.Model):
    """One column of each type, for exact export/import round trips."""

    _namespace = "ops:every"
    flag = rom.Boolean(index=True)
    count = rom.Integer(index=True)
    ratio = rom.Float(index=True)
    price = rom.Decimal(index=True)
    born = rom.DateTime(index=True)
    day = rom.Date(index=True)
    at = rom.Time(index=True)
    blob = rom.String()
    text = rom.Text(index=True, keygen=rom.FULL_TEXT, unique=True)
    doc = rom.Json()
    owner = rom.ManyToOne("OpsOwner", on_delete="no action")
'''

_loaded = itertools.count()


def load_app(tmp_path: Path, name: str = "opsapp") -> ModuleType:
    """Write ``APP`` as ``tmp_path/<name>.py`` and import it here too.

    The test process imports it under a fresh module name each time, so
    each test registers its own copy of the models (use ``fresh_models``).
    """
    path = tmp_path / f"{name}.py"
    path.write_text(APP)
    spec = importlib.util.spec_from_file_location(f"{name}_{next(_loaded)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_places(
    module: ModuleType, count: int, owners: list[Any] | None = None
) -> list[Any]:
    """``count`` saved OpsPlace rows (owner i of ``owners`` round robin)."""
    places = [
        module.OpsPlace(
            email=f"p{i}@example.org",
            name=f"Ada Lovelace{i}",
            age=30 + i,
            team="red",
            number=i,
            lon=1.5 + i,
            lat=50.25,
            owner=owners[i % len(owners)] if owners else None,
        )
        for i in range(count)
    ]
    rom.session.commit()
    return places


def run_rom(
    tmp_path: Path,
    url: str,
    *args: str,
    stdin: str | None = None,
    app: str = "opsapp",
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rom --app <app> --url <url> <args>`` in ``tmp_path``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    env.pop("ROM_REDIS_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "rom", "--app", app, "--url", url, *args],
        cwd=tmp_path,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
