"""``rom models``, ``stats``, ``reindex``, ``clean``, ``export`` and ``import``.

Each runs as a user would run it, in a subprocess against the private test
server, with ``--app`` importing a models module written into tmp_path.
"""

from __future__ import annotations

import datetime
import decimal
import json
from pathlib import Path
from types import ModuleType

import pytest
import redis

import rom
from rom.consistency import check

from .dump import dump
from .rom_cli import load_app
from .rom_cli import make_places
from .rom_cli import run_rom

P = "ops:place"
E = "ops:every"


@pytest.fixture
def app(tmp_path: Path, rom_redis: redis.Redis, fresh_models: None) -> ModuleType:
    module = load_app(tmp_path)
    owners = [module.OpsOwner(name=f"Owner{i}") for i in range(2)]
    rom.session.commit()
    make_places(module, 4, owners)
    rom.session.rollback()
    return module


def make_every(app: ModuleType) -> None:
    """OpsEvery rows with awkward values of every column type, and a gap."""
    every = app.OpsEvery
    every(
        flag=True,
        count=-(2**62),
        ratio=0.1,
        price=decimal.Decimal("1.10"),
        born=datetime.datetime(2020, 2, 29, 23, 59, 59, 999999),
        day=datetime.date(1, 1, 1),
        at=datetime.time(12, 0, 0, 1),
        blob=b"\x00\xff\x80 bytes\n",
        text='Grüße 🎉 \x00 "quoted" \\',
        doc={"a": [1, 2.5, None, "ü"], "b": {"c": True}},
        owner=1,
    )
    every(flag=False, count=0, ratio=1e300, text="second\u2028line\x85\r\n")
    every(ratio=-0.0, price=decimal.Decimal("-1E-30"), text="third")
    rom.session.commit()
    every.get(2).delete()
    every(text="fourth\u2028line\x85\r\n", blob=b"\r\n\x85")
    rom.session.commit()
    rom.session.rollback()


def test_models(app: ModuleType, tmp_path: Path, rom_redis_url: str) -> None:
    result = run_rom(tmp_path, rom_redis_url, "models", "--json")
    assert result.returncode == 0, result.stderr
    found = {m["model"]: m for m in json.loads(result.stdout)}
    place = found["OpsPlace"]
    assert place["namespace"] == P and place["key_prefix"] == f"{P}:"
    assert place["rows"] == 4 and place["approx_bytes"] > 0
    columns = {c["name"]: c for c in place["columns"]}
    assert columns["email"]["flags"] == ["unique"]
    assert columns["name"]["flags"] == ["index", "prefix", "suffix"]
    assert columns["name"]["keygen"] == "FULL_TEXT"
    assert columns["owner"]["type"] == "ManyToOne"
    assert f"{P}:name:<token>:idx" in place["indexes"]
    assert f"{P}:age:idx" in place["indexes"]
    assert f"{P}:home:geo" in place["indexes"]
    assert f"{P}:number:team:uidx" in place["indexes"]
    assert place["unsafe_columns"] == [f"{P}:<id>:log"]
    assert found["OpsEvery"]["rows"] == 0
    text = run_rom(tmp_path, rom_redis_url, "models", "OpsPlace")
    assert text.returncode == 0
    assert text.stdout.startswith(
        f"OpsPlace: namespace '{P}', keys {P}:*, 4 rows, about "
    )
    assert "OpsOwner" not in text.stdout


def test_unknown_model_and_broken_app(
    app: ModuleType, tmp_path: Path, rom_redis_url: str
) -> None:
    result = run_rom(tmp_path, rom_redis_url, "check", "Nope")
    assert result.returncode == 2
    assert (
        "no model named 'Nope'; the models are ['OpsEvery', 'OpsOwner', 'OpsPlace']"
        in (result.stderr)
    )
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    result = run_rom(tmp_path, rom_redis_url, "check", app="broken")
    assert result.returncode == 2
    assert (
        "--app broken: the module did not import (RuntimeError: boom)" in result.stderr
    )


def test_bad_url_and_unreachable_server(app: ModuleType, tmp_path: Path) -> None:
    result = run_rom(tmp_path, "http://example", "check")
    assert result.returncode == 2
    assert "--url 'http://example' is not a Redis URL" in result.stderr
    result = run_rom(tmp_path, "redis://127.0.0.1:1/0", "check")
    assert result.returncode == 2
    assert "rom check: cannot reach Redis" in result.stderr
    assert "Traceback" not in result.stderr


def test_stats(app: ModuleType, tmp_path: Path, rom_redis_url: str) -> None:
    result = run_rom(tmp_path, rom_redis_url, "stats", "--json", "OpsPlace")
    assert result.returncode == 0, result.stderr
    [figures] = json.loads(result.stdout)
    assert figures["rows"] == 4
    assert figures["keys"]["row"] == 4 and figures["keys"]["counter"] == 1
    # name: 2 tokens x 4 rows, age, owner, geo: 4 each, pre/suf: 2 x 4 each
    assert figures["index_entries"] == 8 + 4 + 4 + 4 + 8 + 8
    assert figures["unique_entries"] == 8  # email and (team, number)
    assert figures["row_bytes"] > 0 and figures["index_bytes"] > 0
    table = run_rom(tmp_path, rom_redis_url, "stats")
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "rows", "keys"]
    assert [line.split()[0] for line in lines[1:]] == [
        "OpsEvery",
        "OpsOwner",
        "OpsPlace",
        "total",
    ]
    assert lines[-1].split()[1] == "6"


def test_reindex_rebuilds_wiped_indexes(
    app: ModuleType, tmp_path: Path, rom_redis: redis.Redis, rom_redis_url: str
) -> None:
    rom_redis.delete(f"{P}:name:pre", f"{P}:age:idx", f"{P}:email:uidx")
    assert check(app.OpsPlace)
    result = run_rom(tmp_path, rom_redis_url, "reindex", "OpsPlace")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "OpsPlace: 4 rows re-indexed\n"
    assert result.stderr == ""  # no progress lines off a terminal
    assert check(app.OpsPlace) == []


def test_clean_removes_orphans_only(
    app: ModuleType, tmp_path: Path, rom_redis: redis.Redis, rom_redis_url: str
) -> None:
    rom_redis.sadd(f"{P}:name:ada:idx", "9")
    rom_redis.hset(f"{P}:email:uidx", "ghost@example.org", "9")
    rom_redis.rpush(f"{P}:9:log", "x")
    rom_redis.rpush(f"{P}:1:log", "kept")
    result = run_rom(tmp_path, rom_redis_url, "clean", "OpsPlace")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "OpsPlace: 2 orphan index entries removed, 1 of 2 UnsafeColumn keys deleted\n"
    )
    assert check(app.OpsPlace) == []
    assert rom_redis.lrange(f"{P}:1:log", 0, -1) == [b"kept"]


def test_export_import_round_trip_is_exact(
    app: ModuleType, tmp_path: Path, rom_redis: redis.Redis, rom_redis_url: str
) -> None:
    make_every(app)
    before = dump(rom_redis, normalise=True)
    exported = {}
    for name in ("OpsOwner", "OpsPlace", "OpsEvery"):
        result = run_rom(tmp_path, rom_redis_url, "export", name)
        assert result.returncode == 0, result.stderr
        exported[name] = result.stdout
    lines = exported["OpsEvery"].splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["1", "3", "4"]
    assert all(isinstance(v, str) for v in json.loads(lines[0]).values())
    # Line separators and C1 controls are escaped: one entity, one line.
    assert "\u2028" not in exported["OpsEvery"] and "\x80" not in exported["OpsEvery"]
    rom_redis.flushdb()  # the private test server's db
    for name, rows in exported.items():
        result = run_rom(tmp_path, rom_redis_url, "import", name, stdin=rows)
        assert result.returncode == 0, result.stderr
    assert "rom import: imported 3 OpsEvery rows, refused 0" in result.stderr
    after = dump(rom_redis, normalise=True)
    # Every row, index, unique and geo entry is back, byte for byte, and
    # each id counter stands at the highest id imported (OpsEvery's id 2,
    # deleted, is not handed out again).
    assert after == before
    assert rom_redis.get(f"{E}:id:") == b"4"
    assert check() == []
    every = app.OpsEvery.get(1)
    assert every.blob == b"\x00\xff\x80 bytes\n"
    assert every.price == decimal.Decimal("1.10")
    assert app.OpsEvery.get_by(text="second") is None
    assert [p.id for p in app.OpsPlace.query.filter(name="ada").order_by("age")] == [
        1,
        2,
        3,
        4,
    ]
    new = app.OpsEvery(text="fresh")
    new.save()
    assert new.id == 5  # the counter was raised past the imported ids


def test_import_refuses_bad_lines_one_by_one(
    app: ModuleType, tmp_path: Path, rom_redis: redis.Redis, rom_redis_url: str
) -> None:
    good = {"id": "10", "text": "ten", "count": "10"}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"id": "11", "nope": "x"}),
        json.dumps({"id": "12", "count": 12}),
        json.dumps({"id": "0", "text": "zero"}),
        json.dumps({"id": "13", "count": "many"}),
        json.dumps({"id": "10", "text": "again"}),
        json.dumps({"id": "14", "text": "ten"}),
        "",
        json.dumps({"id": "15", "text": "fifteen", "ratio": "1.5"}),
    ]
    dry = run_rom(
        tmp_path,
        rom_redis_url,
        "import",
        "OpsEvery",
        "--dry-run",
        stdin="\n".join(lines),
    )
    assert dry.returncode == 1
    assert "would import 3 OpsEvery rows, refused 7" in dry.stderr
    assert not rom_redis.keys(f"{E}:*")  # a dry run writes nothing
    result = run_rom(
        tmp_path, rom_redis_url, "import", "OpsEvery", stdin="\n".join(lines)
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert [e.split(":")[0] for e in errors] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
        "line 8",
        "line 9",
    ]
    assert "not JSON" in errors[0]
    assert "expected a JSON object" in errors[1]
    assert "['nope'] are not columns of OpsEvery" in errors[2]
    assert "must be JSON strings" in errors[3]
    assert "'id' field must be a positive integer, got '0'" in errors[4]
    assert "OpsEvery.count" in errors[5] and "'many'" in errors[5]
    assert "id 10 appears on an earlier line" in errors[6]
    assert "not distinct" in errors[7] and "'ten'" in errors[7]
    assert "imported 2 OpsEvery rows, refused 8" in result.stderr
    # Refused lines left nothing behind: only rows 10 and 15 and their entries.
    rows = sorted(k for k in rom_redis.keys(f"{E}:*") if k.split(b":")[-1].isdigit())
    assert rows == [f"{E}:10".encode(), f"{E}:15".encode()]
    assert rom_redis.hgetall(f"{E}:text:uidx") == {b"ten": b"10", b"fifteen": b"15"}
    assert rom_redis.get(f"{E}:id:") == b"15"
    assert check(app.OpsEvery) == []
    again = run_rom(tmp_path, rom_redis_url, "import", "OpsEvery", stdin=lines[0])
    assert again.returncode == 1
    assert f"line 1: row '{E}:10' already exists" in again.stderr


def test_reindex_draws_a_progress_bar_on_a_terminal(
    app: ModuleType, tmp_path: Path, rom_redis_url: str
) -> None:
    import os
    import pty
    import subprocess
    import sys

    from .rom_cli import ROOT

    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    args = ["--app", "opsapp", "--url", rom_redis_url, "reindex", "OpsPlace"]
    with subprocess.Popen(
        [sys.executable, "-m", "rom", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    ) as proc:
        os.close(slave)
        out, _ = proc.communicate(timeout=120)
    shown = b""
    try:
        while chunk := os.read(master, 4096):
            shown += chunk
    except OSError:  # the terminal closed with the process
        pass
    os.close(master)
    assert proc.returncode == 0
    assert out == b"OpsPlace: 4 rows re-indexed\n"
    assert b"\r[" + b"#" * 30 + b"] 100.0% complete" in shown
