"""Planning a repair from a report: pure, no Redis.

The order matters (entries dropped before rows are re-indexed, or a wrong
unique entry would refuse the rewrite), and so does what is left alone (a
row rom cannot read, keys that need a decision).
"""

from __future__ import annotations

import pytest

import rom
from rom._repair import plan_repair
from rom.consistency import Problem
from rom.consistency import Report


@pytest.fixture
def models(fresh_models: None) -> dict[str, type[rom.Model]]:
    class RpOwner(rom.Model):
        _namespace = "rp:owner"
        name = rom.Text()

    class RpItem(rom.Model):
        _namespace = "rp:item"
        email = rom.Text(unique=True)
        owner = rom.ManyToOne("RpOwner", on_delete="set null")
        keeper = rom.ManyToOne("RpOwner", on_delete="cascade")
        judge = rom.ManyToOne("RpOwner", on_delete="restrict")

    return {"RpOwner": RpOwner, "RpItem": RpItem}


def _report(
    *problems: Problem, rows: dict[str, dict[str, str]] | None = None
) -> Report:
    report = Report(problems)
    report.models = ["RpItem"]
    report.rows = {"RpItem": rows or {}}
    return report


def _problem(kind: str, key: str, id: str = "", member: str = "") -> Problem:
    return Problem("RpItem", kind, key, "detail", id, member)


def test_drops_then_reindex_then_counter_then_the_rest(models: dict) -> None:
    rows = {"1": {"id": "1", "email": "a"}, "2": {"id": "2", "email": "b"}}
    report = _report(
        _problem("temp-key", "rp:item:0b4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c"),
        _problem("id-above-counter", "rp:item:2", "2"),
        _problem("id-above-counter", "rp:item:1", "1"),
        _problem("missing-entry", "rp:item:x:idx", "2", "2"),
        _problem("wrong-score", "rp:item:y:idx", "2", "2"),
        _problem("extra-entry", "rp:item:z:idx", "1", "1"),
        _problem("orphan-entry", "rp:item:x:idx", "9", "9"),
        _problem("orphan-unique", "rp:item:email:uidx", "9", "c"),
        rows=rows,
    )
    steps = plan_repair(report, models)
    assert [(s.kind, s.key) for s in steps] == [
        ("expire", "rp:item:0b4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c"),
        ("drop", "rp:item:z:idx"),
        ("drop", "rp:item:x:idx"),
        ("drop", "rp:item:email:uidx"),
        ("reindex", "rp:item:1"),
        ("reindex", "rp:item:2"),
        ("raise-counter", "rp:item:id:"),
    ]
    assert steps[0].guard == "*"  # whatever the rows
    extra, orphan, unique = steps[1:4]
    assert extra.guard.startswith("{") and '"email":"a"' in extra.guard
    assert orphan.guard == "" and unique.expect == "9"  # row must still be missing
    assert steps[5].problems == (report[3], report[4])  # one rewrite of row 2
    assert steps[6].id == "2"  # the counter goes to the highest id


def test_unique_mismatch_drops_only_the_entry_of_a_row_without_the_value(
    models: dict,
) -> None:
    rows = {"1": {"id": "1", "email": "a"}, "2": {"id": "2", "email": "b"}}
    report = _report(
        # "a" -> 2: row 2 does not hold "a" (drop); row 1 holds "a" (rewrite)
        _problem("unique-mismatch", "rp:item:email:uidx", "2", "a"),
        _problem("unique-mismatch", "rp:item:email:uidx", "1", "a"),
        rows=rows,
    )
    steps = plan_repair(report, models)
    assert [(s.kind, s.id) for s in steps] == [
        ("drop", "2"),
        ("reindex", "1"),
        ("reindex", "2"),
    ]
    assert steps[0].expect == "2"  # only while "a" still names row 2


def test_a_bad_row_is_left_whole(models: dict) -> None:
    report = _report(
        _problem("bad-row", "rp:item:3", "3"),
        _problem("extra-entry", "rp:item:x:idx", "3", "3"),
        _problem("wrong-type", "rp:item:email:uidx"),
        _problem("unknown-key", "rp:item:old:idx"),
        rows={"3": {"id": "3"}},
    )
    steps = plan_repair(report, models)
    assert [(s.kind, s.key) for s in steps] == [
        ("manual", "rp:item:3"),
        ("manual", "rp:item:email:uidx"),
        ("manual", "rp:item:old:idx"),
    ]
    assert "rom cannot load it" in steps[0].detail


def test_references_follow_on_delete(models: dict) -> None:
    report = _report(
        _problem("missing-reference", "rp:item:1", "1", "owner"),
        _problem("missing-reference", "rp:item:1", "1", "keeper"),
        _problem("missing-reference", "rp:item:2", "2", "owner"),
        _problem("missing-reference", "rp:item:3", "3", "judge"),
    )
    steps = plan_repair(report, models)
    assert [(s.kind, s.id, s.policy) for s in steps] == [
        ("reference", "1", "cascade"),  # deleting row 1 settles its owner too
        ("reference", "2", "set null"),
        ("manual", "3", ""),
    ]
    assert "on_delete='restrict' gives no repair" in steps[2].detail
