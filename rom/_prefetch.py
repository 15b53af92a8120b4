"""prefetch(): load the related entities of a whole query result at once.

Planning (which ids to read, for which attribute) is pure; the reads of
every attribute go out in one ``prefetch.lua`` call per connection and
slot group (one per connection on a standalone server), and
the rows join the session's identity map. A reference column
(ManyToOne/OneToOne) then holds its loaded entity; a OneToMany or
ManyToMany side keeps the list it read on the entity (``post.comments``,
``post.tags.all()`` answer from it without a round trip): a snapshot of
when the query ran, dropped when that entity's side is changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from . import _scripts
from ._io import Each
from ._io import Steps
from ._keys import KeySpace
from ._partitions import partition_of
from ._replies import text
from ._state import state_of
from .exceptions import QueryError
from .relations import PREFETCHED
from .relations import OneToMany
from .relations import Unloaded
from .relations import _OwnedReference
from .relations import many_to_many_side
from .relations import many_to_many_sides
from .session import session

if TYPE_CHECKING:
    from .model import Model

__all__ = ["check_prefetch", "prefetch_steps"]


def check_prefetch(model: Any, names: Sequence[str]) -> tuple[str, ...]:
    """``names`` if each is a relation of ``model`` prefetch() can load."""
    info = model._meta
    for name in names:
        col = info.columns.get(name)
        if isinstance(col, (_OwnedReference, OneToMany)):
            continue
        if many_to_many_side(model, name) is not None:
            continue
        relations = [
            n
            for n, c in info.columns.items()
            if isinstance(c, (_OwnedReference, OneToMany))
        ]
        raise QueryError(
            f"{info.name}.query.prefetch({name!r}): not a ManyToOne, OneToOne, "
            f"OneToMany or ManyToMany of {info.name}; choose from "
            f"{relations + [s.attr for s in many_to_many_sides(model)]}"
        )
    return tuple(names)


@dataclass
class _Task:
    """One attribute to load: the script's task and how to apply its reply."""

    attr: str
    kind: str  # "rows" (a reference), "index" (OneToMany), "set" (ManyToMany)
    target: Any  # the related model
    plan: dict[str, Any]
    # The keys of the model whose slot the script reads (the target's,
    # the owner's for "set": its member SETs).
    keys: KeySpace
    # For "rows": the entities to point at what is read, with the ids.
    owners: list[tuple[Model, str]] = field(default_factory=list)
    # A "set" task whose rows are in another slot than its member SETs:
    # they are read by a second call, in the target's slot.
    split: bool = False


def _plan(model: Any, entities: list[Model], name: str) -> list[_Task]:
    # One task, or one per partition of a partitioned related model (each
    # reads its partition's slot: rows of the ids there, or its index).
    info = model._meta
    col = info.columns.get(name)
    pks = [str(e._primary_key()) for e in entities]
    if isinstance(col, _OwnedReference):
        target = col.get_related_model()
        # Per partition of the target (one for an unpartitioned one).
        owners: dict[int, list[tuple[Model, str]]] = {}
        wanted: dict[int, dict[str, None]] = {}
        for entity in entities:
            value = state_of(entity).get(name)
            if not isinstance(value, Unloaded):
                continue
            cached = session.get(target._meta.entity_key(value.id))
            if isinstance(cached, target) and not state_of(cached).new:
                state_of(entity).put({name: cached})
                continue
            part = _partition(target, value.id)
            owners.setdefault(part, []).append((entity, str(value.id)))
            wanted.setdefault(part, {})[str(value.id)] = None
        tasks = []
        for part, ids in wanted.items():
            keys = target._meta.parts[part]
            plan = {"kind": "rows", "prefix": keys.row_prefix, "ids": list(ids)}
            if target._meta.expiring:
                plan["expiry"] = keys.expiry
            tasks.append(_Task(name, "rows", target, plan, keys, owners[part]))
        return tasks
    if isinstance(col, OneToMany):
        target = col.get_related_model()
        column = col.referring_column((info.name, info.namespace))
        tasks = []
        # A partitioned referrer indexes its references in each partition.
        for keys in target._meta.parts:
            plan = {
                "kind": "index",
                "key": keys.index(column),
                "owners": pks,
                "prefix": keys.row_prefix,
            }
            if target._meta.expiring:
                plan["expiry"] = keys.expiry
            tasks.append(_Task(name, "index", target, plan, keys))
        return tasks
    side = many_to_many_side(model, name)
    assert side is not None
    other = side.linked()
    target = other.owner
    before, after = info.keys.members_parts(side.attr)
    split = info.keys.slot_group != target._meta.keys.slot_group
    plan = {
        "kind": "set",
        "before": before,
        "after": after,
        "owners": pks,
        "prefix": False if split else target._meta.keys.row_prefix,
    }
    return [_Task(name, "set", target, plan, info.keys, split=split)]


def _partition(model: Any, id: object) -> int:
    count = model._meta.partitions
    return partition_of(id, count) if count else 0


def prefetch_steps(
    model: Any, entities: list[Model], names: Sequence[str]
) -> Steps[None]:
    """Load the relations ``names`` of ``entities`` (a query's result).

    One script call per connection and slot group (none if there is
    nothing to read); a ManyToMany whose two models are in different slot
    groups takes a second call, for the related rows.
    """
    entities = [e for e in entities if not state_of(e).new]
    if not entities or not names:
        return
    tasks = [t for name in names for t in _plan(model, entities, name)]
    replies = yield from _run(tasks)
    split = [t for t in tasks if t.split]
    if split:
        follow = [_rows_task(t, replies[id(t)][0]) for t in split]
        more = yield from _run(follow)
        for task, extra in zip(split, follow, strict=True):
            replies[id(task)] = [replies[id(task)][0], more[id(extra)][1]]
    # The "index" tasks of one attribute (one per partition of a partitioned
    # referrer) are applied as one: per owner, the referrers of every
    # partition, in id order as one index would give them (same score: by
    # member).
    merged: dict[str, tuple[_Task, list[Any]]] = {}
    for task in tasks:
        reply = replies[id(task)]
        if task.kind != "index":
            _apply(task, entities, reply)
        elif task.attr not in merged:
            merged[task.attr] = (task, [list(reply[0]), list(reply[1])])
        else:
            groups, rows = merged[task.attr][1]
            for at, ids in enumerate(reply[0]):
                groups[at] = sorted([*groups[at], *ids], key=text)
            rows += reply[1]
    for task, reply in merged.values():
        _apply(task, entities, reply)


def _run(tasks: list[_Task]) -> Steps[dict[int, list[Any]]]:
    # One call per connection and slot group, KEYS[1] a key of that slot;
    # the calls are sent together.
    calls: dict[tuple[int, str], tuple[Any, KeySpace, list[_Task]]] = {}
    for task in tasks:
        conn = task.target._connection
        group = (id(conn), task.keys.slot_group)
        calls.setdefault(group, (conn, task.keys, []))[2].append(task)
    if not calls:
        return {}
    script = _scripts.load("prefetch")
    sent = tuple(
        script.request(
            conn,
            [keyspace.anchor, keyspace.probe],
            [json.dumps({"tasks": [t.plan for t in group_tasks]})],
        )
        for conn, keyspace, group_tasks in calls.values()
    )
    # Read-only calls: all sent again while one's slot migrates.
    routes = [keyspace.anchor for _, keyspace, _ in calls.values()]
    got = yield from _scripts.resend_while_resharding(
        Each(sent), "prefetch.lua", routes
    )
    replies: dict[int, list[Any]] = {}
    for (_, _, group_tasks), reply in zip(calls.values(), got, strict=True):
        for task, one in zip(group_tasks, reply, strict=True):
            replies[id(task)] = one
    return replies


def _rows_task(task: _Task, groups: list[Any]) -> _Task:
    # The rows of the ids a split "set" task found, in the target's slot.
    ids = dict.fromkeys(text(i) for ids in groups for i in ids)
    keys = task.target._meta.keys
    plan = {"kind": "rows", "prefix": keys.row_prefix, "ids": list(ids)}
    return _Task(task.attr, "rows", task.target, plan, keys)


def _apply(task: _Task, entities: list[Model], reply: list[Any]) -> None:
    groups, rows = reply
    adopted = task.target._adopt_rows(rows)
    found = {text(row[0]): e for row, e in zip(rows, adopted, strict=True)}
    if task.kind == "rows":
        for entity, id in task.owners:
            # A reference to a row that is gone reads as None, as on access.
            state_of(entity).put({task.attr: found.get(id)})
        return
    for entity, ids in zip(entities, groups, strict=True):
        order = [text(i) for i in ids]
        if task.kind == "set":
            order.sort(key=int)
        cache = vars(entity).setdefault(PREFETCHED, {})
        cache[task.attr] = [found[i] for i in order if i in found]
