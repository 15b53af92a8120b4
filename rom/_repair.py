"""Repair what the consistency checker reports, safely while the application runs.

:func:`plan_repair` is pure: from a :class:`~rom.consistency.Report` it
decides one :class:`Step` per thing to do. :func:`apply_repair` carries the
steps out, each guarded so that a concurrent writer is never overruled:

* an entry of a missing row (index member, unique field, legacy record,
  UnsafeColumn key) is removed only if the row is still missing at that
  moment, and an entry a live row's values do not give only if the row
  still holds exactly the fields the check read (``repair_entries.lua``);
* a damaged row is re-indexed by rewriting it with the model's own write
  planning (as ``refresh_indices`` does), which checks that nobody changed
  the row meanwhile;
* an id counter below existing ids is raised, never lowered
  (``raise_counter.lua``);
* a temporary query key without a TTL is given one (it then expires,
  so a query still using it is not cut short);
* a reference to a missing entity gets the column's ``on_delete`` policy
  ('set null', 'set default', 'cascade'), written with the usual check that
  the referrer did not change; other policies are left to a person.

Problems that need a decision (a row rom cannot load, a key of the wrong
type, a key of no declared column, two rows holding one unique value) are
reported, never guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

from . import _scripts
from ._persist import write_batch
from ._replies import decode_row
from ._state import plan_save
from ._state import state_of
from .consistency import Problem
from .consistency import Report
from .consistency import unique_key
from .exceptions import DataRaceError
from .exceptions import EntityDeletedError
from .exceptions import ORMError
from .exceptions import UniqueKeyViolation
from .maintenance import _refresh_rows
from .relations import _OwnedReference

if TYPE_CHECKING:
    import redis

    from ._keys import KeySpace
    from .model import Model

__all__ = ["RepairResult", "Step", "apply_repair", "plan_repair"]

StepKind = Literal["drop", "reindex", "raise-counter", "expire", "reference", "manual"]

#: Seconds a leftover temporary query key lives on once repair finds it.
TEMP_KEY_TTL = 60

_ORPHANS = ("orphan-entry", "orphan-unique", "orphan-record", "orphan-unsafe")
_REINDEX = (
    "missing-entry",
    "wrong-score",
    "missing-unique",
    "missing-record",
    "stale-record",
    "extra-entry",
    "unique-mismatch",
)
_BLOCK = 200


@dataclass(frozen=True, slots=True)
class Step:
    """One repair: what to do, to which key, for which problems."""

    kind: StepKind
    model: str
    key: str
    detail: str
    id: str = ""
    member: str = ""
    # For 'drop' and 'expire', as repair_entries.lua takes them: the HASH
    # value the field must still hold ('' = any), the operation ('rem',
    # 'del' or 'expire') and the condition on the row.
    expect: str = ""
    op: str = "rem"
    guard: str = ""
    # For 'reference': the column's on_delete policy to apply.
    policy: str = ""
    problems: tuple[Problem, ...] = ()

    def __str__(self) -> str:
        return f"{self.model}: {self.kind} {self.key!r}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        """The step as a JSON-ready dict."""
        return {
            "model": self.model,
            "action": self.kind,
            "key": self.key,
            "id": self.id,
            "member": self.member,
            "detail": self.detail,
            "fixes": [p.kind for p in self.problems],
        }


@dataclass
class RepairResult:
    """What :func:`apply_repair` did: steps done, skipped and left to a person."""

    done: list[Step] = field(default_factory=list)
    # (step, why): a row changed since the check, or a write was refused
    skipped: list[tuple[Step, str]] = field(default_factory=list)
    manual: list[Step] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every step was done and none needs a person."""
        return not self.skipped and not self.manual

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return {
            "complete": self.complete,
            "done": [s.to_dict() for s in self.done],
            "skipped": [s.to_dict() | {"why": why} for s, why in self.skipped],
            "manual": [s.to_dict() for s in self.manual],
        }


# -- planning (pure) --------------------------------------------------------------


def plan_repair(report: Report, models: Mapping[str, type[Model]]) -> list[Step]:
    """The steps that fix ``report``'s problems, in the order they must run.

    ``models`` maps the report's model names to their classes. Entries are
    dropped (and temporary keys given a TTL) before rows are re-indexed (a
    wrong unique entry would refuse the rewrite), counters raised and
    references fixed last.
    """
    drops: list[Step] = []
    reindex: dict[tuple[str, str], list[Problem]] = {}
    # By model and partition (None: an unpartitioned model): its counter.
    counters: dict[tuple[str, int | None], list[Problem]] = {}
    later: list[Step] = []
    manual: list[Step] = []
    # A row rom cannot load is left whole for a person, entries and all.
    bad = {(p.model, p.id) for p in report if p.kind == "bad-row"}
    for p in report:
        rows = report.rows.get(p.model, {})
        if p.kind != "bad-row" and (p.model, p.id) in bad:
            continue
        if p.kind in _ORPHANS:
            drops.append(_orphan_drop(p))
        elif p.kind in _REINDEX:
            if p.id in rows and _entry_not_given(p, models[p.model], rows[p.id]):
                drops.append(_guarded_drop(p, rows[p.id]))
            reindex.setdefault((p.model, p.id), []).append(p)
        elif p.kind == "id-above-counter":
            counters.setdefault((p.model, p.partition), []).append(p)
        elif p.kind == "temp-key":
            drops.append(
                Step(
                    "expire",
                    p.model,
                    p.key,
                    f"give it a TTL of {TEMP_KEY_TTL} s",
                    op="expire",
                    guard="*",
                    problems=(p,),
                )
            )
        elif p.kind == "missing-reference":
            later.append(_reference_step(p, models[p.model]))
        else:
            manual.append(_manual(p))
    steps = drops
    for (model, id), found in sorted(reindex.items(), key=_by_row):
        steps.append(
            Step(
                "reindex",
                model,
                models[model]._meta.entity_key(id),
                f"rewrite row {id} and its index entries from its values",
                id=id,
                problems=tuple(found),
            )
        )
    for (model, _), found in counters.items():
        # A partition's counter n gives the ids n * stride + offset.
        keys = models[model]._meta.keys_for(found[0].id)
        top = max((int(p.id) - keys.id_offset) // keys.id_stride for p in found)
        counter = keys.counter
        steps.append(
            Step(
                "raise-counter",
                model,
                counter,
                f"raise it to {top}",
                id=str(top),
                problems=tuple(found),
            )
        )
    # A row a 'cascade' deletes needs no other reference fixed.
    doomed = {(s.model, s.id) for s in later if s.policy == "cascade"}
    later = [
        s
        for s in later
        if s.kind != "reference"
        or s.policy == "cascade"
        or (s.model, s.id) not in doomed
    ]
    return steps + later + manual


def _by_row(item: tuple[tuple[str, str], list[Problem]]) -> tuple[str, int]:
    (model, id), _ = item
    return model, int(id) if id.isdigit() else 0


def _orphan_drop(p: Problem) -> Step:
    # The row is missing: the entry goes only if it still is.
    if p.kind == "orphan-unsafe":
        return Step(
            "drop",
            p.model,
            p.key,
            f"delete it (row {p.id} is gone)",
            p.id,
            p.member,
            op="del",
            problems=(p,),
        )
    expect = p.id if p.kind == "orphan-unique" else ""
    return Step(
        "drop",
        p.model,
        p.key,
        f"remove {p.member!r} (row {p.id} is gone)",
        p.id,
        p.member,
        expect=expect,
        problems=(p,),
    )


def _entry_not_given(p: Problem, model: type[Model], row: Mapping[str, str]) -> bool:
    # An extra entry, or a unique entry naming a row that does not hold its
    # value (not the row holding a value whose entry names another id).
    if p.kind == "extra-entry":
        return True
    if p.kind != "unique-mismatch":
        return False
    keys = model._meta.keys_for(p.id)
    plan = plan_save(model._from_row(row), full=True, force=False)
    # A partitioned model's (full) plan lists every unique value as a claim.
    values = plan.claims if model._meta.partitions else plan.unique
    return (p.key, p.member) not in {
        (unique_key(model._meta, keys, c, v), v) for c, v in values
    }


def _guarded_drop(p: Problem, row: Mapping[str, str]) -> Step:
    # The row exists: the entry goes only if the row is still as read.
    guard = json.dumps(dict(row), ensure_ascii=False, separators=(",", ":"))
    expect = p.id if p.kind == "unique-mismatch" else ""
    return Step(
        "drop",
        p.model,
        p.key,
        f"remove {p.member!r} (row {p.id}'s values do not give it)",
        p.id,
        p.member,
        expect=expect,
        guard=guard,
        problems=(p,),
    )


def _reference_step(p: Problem, model: type[Model]) -> Step:
    col = model._meta.columns.get(p.member)
    policy = col.on_delete if isinstance(col, _OwnedReference) else None
    if policy in ("set null", "set default", "cascade"):
        what = {
            "set null": f"set {p.member} to None",
            "set default": f"set {p.member} to its default",
            "cascade": f"delete row {p.id} (on_delete='cascade')",
        }[str(policy)]
        return Step(
            "reference",
            p.model,
            p.key,
            what,
            p.id,
            p.member,
            policy=str(policy),
            problems=(p,),
        )
    return _manual(
        p,
        f"on_delete={policy!r} gives no repair: point "
        f"{p.member} at an existing entity or delete row {p.id}",
    )


_MANUAL_HINTS = {
    "bad-row": "fix or delete the row by hand: rom cannot load it",
    "wrong-type": "delete or rename the key: rom writes another type there",
    "unknown-key": "delete the key if no model uses it (or give the models "
    "their own namespaces)",
}


def _manual(p: Problem, hint: str = "") -> Step:
    return Step(
        "manual",
        p.model,
        p.key,
        hint or _MANUAL_HINTS.get(p.kind, p.detail),
        p.id,
        p.member,
        problems=(p,),
    )


# -- applying -------------------------------------------------------------------------


def apply_repair(
    steps: Iterable[Step], models: Mapping[str, type[Model]]
) -> RepairResult:
    """Carry out ``steps`` (from :func:`plan_repair`) on each model's connection."""
    result = RepairResult()
    steps = list(steps)
    _apply_drops([s for s in steps if s.kind in ("drop", "expire")], models, result)
    for step in steps:
        if step.kind == "reindex":
            _reindex(step, models[step.model], result)
        elif step.kind == "raise-counter":
            conn = models[step.model]._connection
            _scripts.raise_counter(conn, step.key, int(step.id))
            result.done.append(step)
        elif step.kind == "reference":
            _fix_reference(step, models[step.model], result)
        elif step.kind == "manual":
            result.manual.append(step)
    return result


def _apply_drops(
    steps: list[Step], models: Mapping[str, type[Model]], result: RepairResult
) -> None:
    for start in range(0, len(steps), _BLOCK):
        block = steps[start : start + _BLOCK]
        # One call per connection and slot group: a call's keys share a slot.
        by_conn: dict[tuple[int, str], tuple[redis.Redis, list[Step]]] = {}
        for step in block:
            model = models[step.model]
            conn = model._connection
            slots = _slot_group(model, step)
            if slots is None:
                result.skipped.append(
                    (
                        step,
                        f"{step.key!r} and row {step.id} are in two partitions "
                        "(two slots): left to the unique-across-partitions "
                        "protocol",
                    )
                )
                continue
            by_conn.setdefault((id(conn), slots), (conn, []))[1].append(step)
        for conn, group in by_conn.values():
            keys: list[str] = []
            args: list[Any] = []
            for s in group:
                keys += [s.key, _row_key(models[s.model], s)]
                member: Any = s.member.encode("utf-8", "surrogateescape")
                if s.op == "expire":
                    member = TEMP_KEY_TTL
                args += [s.op, member, s.expect, s.guard]
            for s, outcome in zip(
                group, _scripts.repair_entries(conn, keys, args), strict=True
            ):
                if outcome < 0:
                    result.skipped.append(
                        (s, f"row {s.id} changed since the check; run check again")
                    )
                else:
                    result.done.append(s)


def _row_key(model: type[Model], step: Step) -> str:
    # The row a drop checks. A partition's index entries name rows of that
    # partition only (an id of another one there is an orphan: its row is
    # looked for where the entry is); a unique entry may name a row in
    # another partition (the unique-across-partitions protocol), so its row
    # is the id's own.
    info = model._meta
    if not step.id:
        return step.key
    if not info.partitions:
        return info.keys.entity(step.id)
    part = _part_of(model, step.key)
    if part is None or step.key.endswith(":uidx"):
        return info.entity_key(step.id)
    return part.entity(step.id)


def _part_of(model: type[Model], key: str) -> KeySpace | None:
    return next((k for k in model._meta.parts if key.startswith(k.row_prefix)), None)


def _slot_group(model: type[Model], step: Step) -> str | None:
    # The slot group of a drop's key and of the row it checks (one script
    # call touches both); None if they differ (a unique entry of a
    # partitioned model in another partition than its row, on a cluster).
    info = model._meta
    if not info.partitions:
        return info.keys.slot_group
    part = _part_of(model, step.key)
    row = _part_of(model, _row_key(model, step))
    if part is None or row is None:
        return None
    if row.slot_group != part.slot_group:
        return None
    return part.slot_group


def _reindex(step: Step, model: type[Model], result: RepairResult) -> None:
    try:
        _refresh_rows(model, [step.id])
    except UniqueKeyViolation as exc:
        result.skipped.append((step, f"another row holds its unique value: {exc}"))
    except DataRaceError as exc:
        result.skipped.append((step, f"the row keeps changing: {exc}"))
    except ORMError as exc:  # e.g. a value rom cannot read, written meanwhile
        result.skipped.append((step, f"the row cannot be rewritten: {exc}"))
    else:
        result.done.append(step)


def _fix_reference(step: Step, model: type[Model], result: RepairResult) -> None:
    conn = model._connection
    row = decode_row(conn.hgetall(model._meta.entity_key(step.id)))
    col = model._meta.columns[step.member]
    assert isinstance(col, _OwnedReference)
    target = col.get_related_model()
    ref = row.get(step.member)
    if not row or ref is None or target is None:
        result.done.append(step)  # gone or cleared meanwhile: nothing to fix
        return
    if target._connection.exists(target._meta.entity_key(ref)):
        result.skipped.append((step, f"{target._meta.name} {ref} exists again"))
        return
    entity = model._from_row(row)
    try:
        if step.policy == "cascade":
            entity.delete()
        else:
            value = None if step.policy == "set null" else col.default_value()
            value = None if value is None else col.validate(value)
            state_of(entity).put({step.member: value})
            _, error = write_batch(
                [(entity, plan_save(entity, full=False, force=False))]
            )
            if error is not None:
                raise error
    except (DataRaceError, EntityDeletedError, UniqueKeyViolation) as exc:
        result.skipped.append((step, f"the row changed meanwhile: {exc}"))
    else:
        result.done.append(step)
