"""EntityState's transitions and RowLoader's rows, with no Redis.

The state is pure (it plans writes but sends nothing), and building an
entity from a row never talks to the server. Models are named ``Est*``.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

import rom
from rom._state import EntityState
from rom._state import state_of
from rom._writer import WritePlan
from rom.exceptions import InvalidColumnValue


class EstItem(rom.Model):
    name = rom.Text()
    n = rom.Integer(index=True)
    x = rom.Float()
    ok = rom.Boolean()
    doc = rom.Json()
    at = rom.DateTime()
    dflt = rom.Integer(default=7)


class _Upper(rom.Text):
    def from_redis(self, raw: str) -> str:
        return raw.upper()


class EstCustom(rom.Model):
    shout = _Upper()


ROW = {
    "id": "3",
    "name": "ada",
    "n": "42",
    "x": "1.5",
    "ok": "1",
    "doc": '{"a": [1, 2]}',
    "at": "86400.0",
    "dflt": "9",
}


def _loaded() -> EntityState:
    return EntityState.loaded({"id": 3, "n": 1}, {"id": "3", "n": "1"})


def _plan(id: str | None, last: dict[str, str]) -> WritePlan:
    plan = WritePlan(namespace="EstItem", pk="id", id=id)
    plan.new_last = dict(last)
    return plan


# -- statuses -------------------------------------------------------------------


def test_a_created_state_is_new_and_modified() -> None:
    state = EntityState.created({"n": 1})
    assert (state.new, state.modified, state.deleted) == (True, True, False)
    assert state.status == "new"
    assert state.last == {}


def test_a_loaded_state_is_loaded() -> None:
    state = _loaded()
    assert (state.new, state.modified, state.deleted) == (False, False, False)
    assert state.status == "loaded"


def test_assign_marks_modified_and_put_does_not() -> None:
    state = _loaded()
    state.put({"n": 5})
    assert state.get("n") == 5 and state.status == "loaded"
    state.assign("n", 6)
    assert state.get("n") == 6 and state.status == "modified"


def test_deleted_wins_over_new_and_modified() -> None:
    state = EntityState.created({})
    state.mark_deleted()
    assert state.status == "deleted"
    assert state.modified and state.new


def test_mark_modified_sets_and_clears() -> None:
    state = _loaded()
    state.mark_modified()
    assert state.status == "modified"
    state.mark_modified(False)
    assert state.status == "loaded"


def test_values_and_put_undo_each_other() -> None:
    state = _loaded()
    old = state.values(["n", "missing"])
    assert old == {"n": 1, "missing": None}
    state.put({"n": 9, "missing": "x"})
    state.put(old)
    assert state.values(["n", "missing"]) == old


def test_take_id_records_the_id() -> None:
    state = EntityState.created({"id": None})
    state.take_id("id", 12)
    assert state.get("id") == 12 and state.status == "new"


# -- writes -----------------------------------------------------------------------


def test_settle_takes_the_written_row() -> None:
    state = EntityState.created({"id": None, "n": 1})
    plan = _plan("8", {"n": "1"})
    state.settle("id", plan)
    assert state.status == "loaded"
    assert state.get("id") == 8
    assert state.last == {"n": "1", "id": "8"}
    assert state.last is plan.new_last


def test_settle_after_a_forced_save_of_a_deleted_state_loads_it() -> None:
    state = _loaded()
    state.mark_deleted()
    state.settle("id", _plan("3", {"n": "1"}))
    assert state.status == "loaded"


def test_wrote_since_tells_a_settle_or_reload() -> None:
    state = _loaded()
    before = state.last
    assert not state.wrote_since(before)
    state.settle("id", _plan("3", {"n": "2"}))
    assert state.wrote_since(before)
    now = state.last
    state.reload(_loaded())
    assert state.wrote_since(now)


def test_restore_puts_back_values_and_flags_in_the_same_dict() -> None:
    state = _loaded()
    data = state.data
    snap = state.snapshot()
    state.assign("n", 99)
    state.data["new"] = "x"
    state.mark_deleted()
    state.restore(snap)
    assert state.data is data
    assert state.data == {"id": 3, "n": 1}
    assert state.status == "loaded"


def test_a_snapshot_is_not_changed_by_later_assignments() -> None:
    state = _loaded()
    snap = state.snapshot()
    state.assign("n", 2)
    assert snap.data == {"id": 3, "n": 1} and not snap.modified


def test_reload_takes_the_row_read_again() -> None:
    state = _loaded()
    state.assign("n", 5)
    state.reload(EntityState.loaded({"id": 3, "n": 7}, {"id": "3", "n": "7"}))
    assert state.status == "loaded" and state.get("n") == 7


def test_plan_save_of_a_new_state_writes_every_value() -> None:
    state = EntityState.created({"id": None, "name": "a", "n": 2})
    plan = state.plan_save(EstItem._meta, full=False, force=False)
    assert plan.id is None
    assert plan.new_last["name"] == "a" and plan.new_last["n"] == "2"


def test_plan_save_of_an_unchanged_loaded_state_writes_nothing() -> None:
    state = EstItem._rom_loader.state(ROW)
    plan = state.plan_save(EstItem._meta, full=False, force=False)
    assert plan.id == "3" and plan.hset == []


# -- the entity's one state ---------------------------------------------------------


def test_an_entity_reads_and_writes_its_state() -> None:
    entity = EstItem(name="a", n=1)
    state = state_of(entity)
    assert entity._data is state.data and entity._new and entity._modified
    entity.n = 4
    assert state.get("n") == 4
    entity._modified = False  # rom 1.1.2's attributes still write through
    assert not state.modified
    assert "_rom_state" not in vars(entity)


# -- rows ---------------------------------------------------------------------------


def _both(model: Any, row: dict[str, str]) -> tuple[EntityState, EntityState]:
    loader = model._rom_loader
    return loader.state(row), loader.checked(row)


def test_the_compiled_loader_and_the_checked_path_agree() -> None:
    fast, checked = _both(EstItem, ROW)
    assert fast.data == checked.data and list(fast.data) == list(checked.data)
    assert fast.last == checked.last == ROW
    assert fast.data["doc"] == {"a": [1, 2]}
    assert fast.data["at"] == datetime.datetime(1970, 1, 2)
    assert fast.data["ok"] is True and fast.data["id"] == 3
    assert fast.status == "loaded"


def test_a_missing_field_gets_its_default() -> None:
    row = {k: v for k, v in ROW.items() if k not in ("dflt", "name")}
    fast, checked = _both(EstItem, row)
    assert fast.data == checked.data
    assert fast.data["dflt"] == 7 and fast.data["name"] is None
    assert "dflt" not in fast.last


def test_json_with_surrounding_whitespace_loads_as_json_loads_does() -> None:
    state = EstItem._rom_loader.state({**ROW, "doc": " [1] "})
    assert state.data["doc"] == [1]


@pytest.mark.parametrize(
    ("field", "raw"),
    [("n", "4x"), ("x", "nope"), ("doc", '{"a": 1} extra'), ("doc", "{"), ("at", "x")],
)
def test_a_bad_value_raises_naming_the_column(field: str, raw: str) -> None:
    with pytest.raises(InvalidColumnValue) as info:
        EstItem._rom_loader.state({**ROW, field: raw})
    assert f"EstItem.{field}" in str(info.value)


def test_a_row_without_id_is_refused() -> None:
    row = {k: v for k, v in ROW.items() if k != "id"}
    with pytest.raises(InvalidColumnValue, match="none primary key"):
        EstItem._rom_loader.state({**row, "n": "bad"})


def test_a_column_overriding_from_redis_is_called() -> None:
    state = EstCustom._rom_loader.state({"id": "1", "shout": "hi"})
    assert state.data["shout"] == "HI" and state.last["shout"] == "hi"


def test_from_row_makes_a_loaded_entity_outside_the_session() -> None:
    entity = EstItem._from_row(ROW)
    assert state_of(entity).status == "loaded"
    assert entity.n == 42 and entity.id == 3
    assert rom.session.get("EstItem:3") is None
