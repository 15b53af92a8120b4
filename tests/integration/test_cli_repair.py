"""``rom check`` and ``rom repair``, run as a user would, on damaged data.

The data is made through rom, then damaged by hand in every way the
checker knows (as a crash, a bug or another client could): ``rom check``
must name each damage and exit 1, ``rom repair`` must change nothing
without ``--apply``, ``rom repair --apply`` must fix everything, and a
second ``rom check`` must be clean (exit 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

import rom
from rom.consistency import check

from .dump import dump
from .rom_cli import load_app
from .rom_cli import make_places
from .rom_cli import run_rom

P = "ops:place"
O = "ops:owner"  # noqa: E741


@pytest.fixture
def app(tmp_path: Path, rom_redis: redis.Redis, fresh_models: None) -> ModuleType:
    module = load_app(tmp_path)
    owners = [module.OpsOwner(name=f"Owner{i}") for i in range(3)]
    rom.session.commit()
    for i, place in enumerate(make_places(module, 5, owners)):
        place.keeper = owners[0] if i == 4 else owners[1]
    rom.session.commit()
    module.OpsPlace.get(1).log.rpush("created")
    rom.session.rollback()
    return module


def damage(conn: redis.Redis) -> dict[str, str]:
    """Damage the data in every way the checker reports; return kind -> key."""
    record = conn.hget(f"{P}:1", "-index-data-")
    assert record is not None
    conn.srem(f"{P}:name:ada:idx", "2")  # missing token entry
    conn.zrem(f"{P}:name:pre", "ada\x003")  # missing prefix entry
    conn.zadd(f"{P}:age:idx", {"2": 99})  # wrong score
    conn.sadd(f"{P}:name:babbage:idx", "1")  # entry the row's values do not give
    conn.sadd(f"{P}:name:ada:idx", "77")  # entry naming a missing row
    conn.hset(f"{P}:email:uidx", "ghost@example.org", "77")  # orphan unique
    conn.hdel(f"{P}:email:uidx", "p2@example.org")  # missing unique entry
    conn.hset(f"{P}:email:uidx", "p3@example.org", "5")  # entry of another row
    conn.hset(f"{P}:1", "-index-data-", record.replace(b"ada", b"bob"))  # stale
    conn.hdel(f"{P}:4", "-index-data-")  # missing record
    conn.hset(f"{P}::", "88", record)  # legacy record of a missing row
    conn.set(f"{P}:id:", 3)  # ids 4 and 5 above the counter
    conn.zadd(f"{P}:0b4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c", {"1": 1})  # temp key
    conn.rpush(f"{P}:99:log", "orphan")  # UnsafeColumn key of a missing row
    conn.geoadd(f"{P}:home:geo", (10.0, 10.0, "3"))  # wrong geo position
    conn.delete(f"{O}:2")  # the owner of places 2 and 5, keeper of 1..4
    return {
        "missing-entry": f"{P}:name:ada:idx",
        "wrong-score": f"{P}:age:idx",
        "extra-entry": f"{P}:name:babbage:idx",
        "orphan-entry": f"{P}:name:ada:idx",
        "orphan-unique": f"{P}:email:uidx",
        "missing-unique": f"{P}:email:uidx",
        "unique-mismatch": f"{P}:email:uidx",
        "stale-record": f"{P}:1",
        "missing-record": f"{P}:4",
        "orphan-record": f"{P}::",
        "id-above-counter": f"{P}:4",
        "temp-key": f"{P}:0b4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c",
        "orphan-unsafe": f"{P}:99:log",
        "missing-reference": f"{P}:2",
    }


def test_check_repair_check(
    app: ModuleType, tmp_path: Path, rom_redis: redis.Redis, rom_redis_url: str
) -> None:
    first = run_rom(tmp_path, rom_redis_url, "check")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "OpsPlace: ok (5 rows)" in first.stdout
    wanted = damage(rom_redis)

    checked = run_rom(tmp_path, rom_redis_url, "check", "--json")
    assert checked.returncode == 1, checked.stderr
    report: dict[str, Any] = json.loads(checked.stdout)
    assert report["ok"] is False
    found = {(p["kind"], p["key"]) for p in report["problems"]}
    for kind, key in wanted.items():
        assert (kind, key) in found, kind
    # Deleting the owner row by hand leaves its index entry orphaned too.
    assert ("orphan-entry", f"{O}:name:idx") in found
    assert report["counts"]["OpsPlace"]["missing-reference"] == 6
    assert report["counts"]["OpsEvery"] == {}

    summary = run_rom(tmp_path, rom_redis_url, "check")
    assert summary.returncode == 1
    assert "OpsPlace: " in summary.stdout and "problem(s)" in summary.stdout
    assert "rom check -v" in summary.stdout
    verbose = run_rom(tmp_path, rom_redis_url, "check", "-v", "OpsPlace")
    assert verbose.returncode == 1
    assert not any(line.startswith("OpsOwner") for line in verbose.stdout.split("\n"))
    assert f"missing-entry at '{P}:name:ada:idx': member '2'" in verbose.stdout
    assert "OpsPlace.owner of row 2 names OpsOwner 2" in verbose.stdout

    before = dump(rom_redis)
    dry = run_rom(tmp_path, rom_redis_url, "repair")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run:" in dry.stdout and "reindex" in dry.stdout
    assert "delete row 1 (on_delete='cascade')" in dry.stdout
    assert dump(rom_redis) == before  # a dry run writes nothing

    applied = run_rom(tmp_path, rom_redis_url, "repair", "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "0 skipped, 0 problem(s) need a person" in applied.stdout

    second = run_rom(tmp_path, rom_redis_url, "check")
    assert second.returncode == 0, second.stdout
    assert check() == []
    # The fixes are the right ones, not just silence.
    place = app.OpsPlace
    assert rom_redis.get(f"{P}:id:") == b"5"
    assert rom_redis.ttl(f"{P}:0b4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c") > 0
    assert not rom_redis.exists(f"{P}:99:log")
    assert [p.id for p in place.query.filter(name="ada").all()] == [5]
    assert place.get(5).owner is None  # 'set null'
    assert place.get(1) is None  # 'cascade': keepers 1..4 were OpsOwner 2
    assert place.get_by(email="p3@example.org") is None
    assert rom_redis.hget(f"{P}:email:uidx", "p4@example.org") == b"5"


def test_repair_leaves_what_needs_a_person(
    app: ModuleType, tmp_path: Path, rom_redis: redis.Redis, rom_redis_url: str
) -> None:
    rom_redis.hset(f"{P}:2", "age", "not a number")
    rom_redis.zadd(f"{P}:removed:idx", {"1": 1})
    before = dump(rom_redis)
    result = run_rom(tmp_path, rom_redis_url, "repair", "--apply", "--json")
    assert result.returncode == 1 and result.stdout, result.stderr
    body = json.loads(result.stdout)
    assert body["applied"] is True and body["complete"] is False
    manual = {(s["fixes"][0], s["key"]) for s in body["manual"]}
    assert manual == {("bad-row", f"{P}:2"), ("unknown-key", f"{P}:removed:idx")}
    assert dump(rom_redis) == before


def test_repair_skips_a_row_changed_since_the_check(
    app: ModuleType, rom_redis: redis.Redis
) -> None:
    # The guard: an entry of a live row is removed only if the row is still
    # exactly as the check read it.
    from rom._repair import apply_repair
    from rom._repair import plan_repair

    rom_redis.sadd(f"{P}:name:babbage:idx", "1")
    report = check(app.OpsPlace)
    steps = plan_repair(report, {"OpsPlace": app.OpsPlace})
    rom_redis.hset(f"{P}:1", "team", "blue")  # another writer, after the check
    result = apply_repair(steps, {"OpsPlace": app.OpsPlace})
    assert [s.kind for s, _ in result.skipped] == ["drop"]
    assert "changed since the check" in result.skipped[0][1]
    assert rom_redis.sismember(f"{P}:name:babbage:idx", "1")


def test_orphans_re_created_since_the_check_are_kept(
    app: ModuleType, rom_redis: redis.Redis
) -> None:
    from rom._repair import apply_repair
    from rom._repair import plan_repair

    rom_redis.sadd(f"{P}:name:ada:idx", "6")
    report = check(app.OpsPlace)
    assert [p.kind for p in report] == ["orphan-entry"]
    steps = plan_repair(report, {"OpsPlace": app.OpsPlace})
    rom_redis.hset(f"{P}:6", mapping={"id": "6", "name": "ada"})  # row 6 appears
    result = apply_repair(steps, {"OpsPlace": app.OpsPlace})
    assert len(result.skipped) == 1
    assert rom_redis.sismember(f"{P}:name:ada:idx", "6")


def test_two_rows_holding_one_unique_value_need_a_person(
    app: ModuleType, rom_redis: redis.Redis
) -> None:
    from rom._repair import apply_repair
    from rom._repair import plan_repair

    rom_redis.hset(f"{P}:2", "email", "p0@example.org")
    rom_redis.hdel(f"{P}:email:uidx", "p1@example.org")
    report = check(app.OpsPlace)
    steps = plan_repair(report, {"OpsPlace": app.OpsPlace})
    result = apply_repair(steps, {"OpsPlace": app.OpsPlace})
    assert not result.complete
    [(step, why)] = result.skipped
    assert step.kind == "reindex" and step.id == "2"
    assert "another row holds its unique value" in why


def test_report_object(app: ModuleType, rom_redis: redis.Redis) -> None:
    report = rom.util.check(app.OpsPlace, app.OpsOwner)
    assert report == [] and report.ok
    assert report.counts() == {"OpsPlace": {}, "OpsOwner": {}}
    assert report.summary() == "OpsPlace: ok (5 rows)\nOpsOwner: ok (3 rows)"
    rom_redis.srem(f"{P}:name:ada:idx", "2")
    report = rom.util.check(app.OpsPlace)
    assert not report.ok
    assert report.counts() == {"OpsPlace": {"missing-entry": 1}}
    [problem] = report.to_dict()["problems"]
    assert problem["id"] == "2" and problem["member"] == "2"
    assert report.rows["OpsPlace"]["2"]["email"] == "p1@example.org"


def test_guard_compares_rows_with_any_text(
    app: ModuleType, rom_redis: redis.Redis
) -> None:
    # The row condition travels as JSON into the script: NUL, quotes,
    # non-ASCII and long values must compare equal to what Redis holds.
    from rom._repair import apply_repair
    from rom._repair import plan_repair

    every = app.OpsEvery(
        text='nul \x00 "q" \\ é 🎉', blob=b"\x00\xff" * 5000, doc={"k": "\u2028"}
    )
    every.save()
    rom_redis.sadd("ops:every:text:zzz:idx", "1")
    report = check(app.OpsEvery)
    assert [p.kind for p in report] == ["extra-entry"]
    result = apply_repair(
        plan_repair(report, {"OpsEvery": app.OpsEvery}), {"OpsEvery": app.OpsEvery}
    )
    assert result.complete and [s.kind for s in result.done] == ["drop", "reindex"]
    assert check(app.OpsEvery) == []
