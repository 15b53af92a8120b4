"""on_delete processing: plan a whole delete first, then write it at once.

Planning only reads. It walks the references to the entities being deleted
level by level (per level: one index read per connection, one row read per
referring model), collecting cascades, 'set null'/'set default' updates and
'restrict' violations. A restrict anywhere refuses the whole delete before
anything is written; otherwise every update and delete goes out in one
script call per connection, updates first (a delete cannot fail its checks,
an update can: a failed update then leaves every entity undeleted).

A callable policy ``fn(referrer, deleted)`` is collected while planning and
called once the plan is complete (so referrers the delete also cascades to
are known and skipped), after the delete hooks and before anything is
written. Referrers it changed join the 'set null'/'set default' updates;
if it raises, or anything later fails, its changes to referrers are undone.
An ``async def`` callable is awaited on the async path and refused on the
blocking one. A delete interrupted while its write is on its way (a
cancelled task) first learns which of its requests were applied, so the
referrers' values it puts back are those Redis holds.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from ._io import Awaited
from ._io import Each
from ._io import Pipeline
from ._io import Steps
from ._io import hook
from ._io import run_sync
from ._many_to_many import drop_memberships
from ._persist import Batch
from ._persist import write_batch_steps
from ._replies import text
from ._requests import settle_applied
from ._state import Snapshot
from ._state import mark_deleted
from ._state import plan_delete
from ._state import plan_save
from ._state import settle
from ._state import state_of
from .exceptions import RestrictError
from .relations import OnDelete
from .relations import many_to_many_sides
from .relations import referrers_of

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "DeletePlan",
    "delete_with_policies",
    "delete_with_policies_steps",
    "plan_deletes",
]

# (the referenced entity, referring model, attribute, on_delete, referrer ids)
_Found = tuple["Model", Any, str, OnDelete, list[str]]


@dataclass
class DeletePlan:
    """What deleting some entities does to the entities that reference them."""

    # Row key -> entity, the entities asked for first, then cascades in
    # breadth-first order.
    deleted: dict[str, Model] = field(default_factory=dict)
    # Row key -> (referrer, {attribute: new value}).
    updates: dict[str, tuple[Model, dict[str, Any]]] = field(default_factory=dict)
    # (referenced entity, referring model, attribute, referrer ids).
    restricted: list[tuple[Model, Any, str, list[str]]] = field(default_factory=list)
    # (referrer, referenced entity, callable policy), in the order found.
    called: list[tuple[Model, Model, Callable[[Any, Any], object]]] = field(
        default_factory=list
    )

    def check_restrict(self) -> None:
        """Raise RestrictError if a restrict reference outlives the delete."""
        for entity, referrer, attr, ids in self.restricted:
            info = referrer._meta
            left = [i for i in ids if info.entity_key(i) not in self.deleted]
            if left:
                info = entity._meta
                raise RestrictError(
                    f"Cannot delete entity {info.namespace} with pk "
                    f"{entity._primary_key()}, {len(left)} foreign references "
                    f"from {referrer._namespace}.{attr} exist (on_delete="
                    f"'restrict'; ids {left[:10]}): delete or re-point them first"
                )

    def pending_updates(self) -> list[tuple[Model, dict[str, Any]]]:
        """The updates of referrers that are not deleted themselves."""
        return [u for key, u in self.updates.items() if key not in self.deleted]


def plan_deletes(roots: Iterable[Model]) -> Steps[DeletePlan]:
    """Follow every on_delete policy from ``roots``; reads only, writes nothing."""
    plan = DeletePlan()
    level = []
    for entity in roots:
        if entity._pk not in plan.deleted:
            plan.deleted[entity._pk] = entity
            level.append(entity)
    while level:
        found = yield from _referrer_ids(level)
        level = yield from _apply_level(plan, found)
    return plan


# (connection, its reads) per connection, in the order first used.
_Reads = dict[int, tuple[Any, list[tuple[str, tuple[Any, ...], dict[str, Any]]]]]


def _referrer_ids(level: list[Model]) -> Steps[list[_Found]]:
    # ZRANGEBYSCORE <ref ns>:<attr>:idx id id lists the referrers of one
    # entity (in each partition of a partitioned referrer: one read each);
    # all of a level's reads on one connection share a pipeline.
    asked: list[tuple[Model, Any, str, OnDelete, int, int]] = []
    pipes: _Reads = {}
    edges: dict[type, list[tuple[Any, str, OnDelete]]] = {}
    for entity in level:
        model = type(entity)
        if model not in edges:
            edges[model] = referrers_of(model)
        for referrer, attr, action in edges[model]:
            if action == "no action":
                continue
            conn = referrer._connection
            pk = entity._primary_key()
            reads = pipes.setdefault(id(conn), (conn, []))[1]
            parts = referrer._meta.parts
            for keys in parts:
                reads.append(("zrangebyscore", (keys.index(attr), pk, pk), {}))
            asked.append((entity, referrer, attr, action, id(conn), len(parts)))
        # A ManyToMany side: the entity's own member SET lists the related
        # entities, read only if their policy is 'restrict' or 'cascade'.
        for side in many_to_many_sides(model):
            other = side.other
            if other is None or other.on_delete == "remove":
                continue
            conn = entity._connection
            key = entity._meta.keys.members(entity._primary_key(), side.attr)
            pipes.setdefault(id(conn), (conn, []))[1].append(("smembers", (key,), {}))
            asked.append(
                (entity, other.owner, other.attr, other.on_delete, id(conn), 1)
            )
    if not pipes:
        return []
    sent = yield Each(tuple(Pipeline(c, tuple(r)) for c, r in pipes.values()))
    replies = {conn: iter(got) for conn, got in zip(pipes, sent, strict=True)}
    return [
        (entity, referrer, attr, action, _ids_of(replies[conn], reads))
        for entity, referrer, attr, action, conn, reads in asked
    ]


def _ids_of(replies: Any, count: int) -> list[str]:
    # The next ``count`` replies (a partitioned referrer's partitions) as one.
    if count == 1:
        return _ids(next(replies))
    ids = [i for _ in range(count) for i in _ids(next(replies))]
    return sorted(ids)  # one index's order: same score, by member


def _ids(reply: Any) -> list[str]:
    # ZRANGEBYSCORE replies in index order; SMEMBERS (a set) is put in id order.
    ids = [text(i) for i in reply]
    return sorted(ids, key=int) if isinstance(reply, set) else ids


def _load(found: list[_Found]) -> Steps[dict[tuple[Any, str], Model]]:
    # One read per referring model: its rows, pipelined (Model.get).
    from ._lookup import get_steps  # _lookup imports the session, which needs us

    wanted: dict[Any, list[str]] = {}
    for _, referrer, _, action, ids in found:
        if action != "restrict":
            wanted.setdefault(referrer, []).extend(ids)
    loaded: dict[tuple[Any, str], Model] = {}
    for referrer, ids in wanted.items():
        got = yield from get_steps(referrer, list(dict.fromkeys(ids)))
        assert isinstance(got, list)
        for entity in got:
            loaded[(referrer, str(entity._primary_key()))] = entity
    return loaded


def _apply_level(plan: DeletePlan, found: list[_Found]) -> Steps[list[Model]]:
    loaded = yield from _load(found)
    cascaded: list[Model] = []
    for entity, referrer, attr, action, ids in found:
        if action == "restrict":
            if ids:
                plan.restricted.append((entity, referrer, attr, ids))
            continue
        for i in ids:
            other = loaded.get((referrer, i))
            if other is None:  # the row went away since the index read
                continue
            if action == "cascade":
                if other._pk not in plan.deleted:
                    plan.deleted[other._pk] = other
                    cascaded.append(other)
                continue
            if not isinstance(action, str):  # a callable, run once planned
                plan.called.append((other, entity, action))
                continue
            col = referrer._meta.columns[attr]
            value = None if action == "set null" else col.validate(col.default_value())
            plan.updates.setdefault(other._pk, (other, {}))[1][attr] = value
    return cascaded


# -- writing ------------------------------------------------------------------


def delete_with_policies(entities: list[Model], *, policies: bool = True) -> None:
    """Delete entities and apply the on_delete policies of their referrers."""
    run_sync(delete_with_policies_steps(entities, policies=policies))


def delete_with_policies_steps(
    entities: list[Model], *, policies: bool = True
) -> Steps[None]:
    """Delete entities and apply the on_delete policies of their referrers.

    Hooks: ``_before_delete``/``_after_delete`` run for every entity deleted,
    cascaded ones included; updated referrers get ``_before_update``/
    ``_after_update`` as in a save (so do referrers a callable policy
    changed). With ``policies=False`` only the given entities are deleted
    and referrers are left as they are.
    """
    entities = yield from _drop_unsaved(entities)
    if not entities:
        return
    for entity in entities:
        if not state_of(entity).deleted:
            yield from hook(entity, "_before_delete")
    if policies:
        plan = yield from plan_deletes(entities)
        plan.check_restrict()
    else:
        plan = DeletePlan(deleted={e._pk: e for e in entities})
    given = {id(e) for e in entities}
    for entity in plan.deleted.values():
        if id(entity) not in given and not state_of(entity).deleted:
            yield from hook(entity, "_before_delete")
    fresh = {id(e) for e in plan.deleted.values() if not state_of(e).deleted}
    called = yield from _call_policies(plan)
    try:
        batch, undo = yield from _plan_updates(plan.pending_updates())
    except BaseException:
        _restore(called)
        raise
    batch += [(e, plan_delete(e)) for e in plan.deleted.values()]
    done: Batch = []
    error: BaseException | None = None
    try:
        done, error = yield from write_batch_steps(batch)
        if error is not None and not isinstance(error, Exception):
            # Interrupted (a cancelled task, a KeyboardInterrupt): learn now
            # which requests of unknown outcome were applied, so the
            # referrers' values put back below are those Redis holds. (After
            # WriteOutcomeUnknown they are settled by the next write.)
            done += yield from _applied(batch, done)
        try:
            # Not in the delete's script call: a crash between the two leaves
            # memberships naming deleted ids, which readers skip.
            yield from drop_memberships(e for e, p in done if p.delete)
        except Exception as exc:
            error = error or exc
    finally:
        # However the write ended (a second cancellation included), the
        # entities are left as Redis holds them: values of referrers not
        # written are put back, written entities take their new state.
        written = {id(entity) for entity, _ in done}
        for entity, values in undo:
            if id(entity) not in written:
                state_of(entity).put(values)
        _restore([s for s in called if id(s.entity) not in written])
        _settle(done)
    yield from _finish(done, fresh, error)


def _applied(batch: Batch, done: Batch) -> Steps[Batch]:
    # The writes of ``batch`` not in ``done`` whose request was sent but not
    # answered, found applied; none if Redis cannot be asked.
    written = {id(entity) for entity, _ in done}
    unsent = [pair for pair in batch if id(pair[0]) not in written]
    try:
        return (yield from settle_applied(unsent))
    except Exception:  # still unknown: settled before those entities write again
        return []


def _drop_unsaved(entities: list[Model]) -> Steps[list[Model]]:
    # A never-saved entity has nothing in Redis and nothing can reference
    # it there: it is deleted in memory (hooks included) without taking an
    # id or sending anything. Returns the entities that were saved.
    saved = []
    for entity in entities:
        state = state_of(entity)
        if not state.new:
            saved.append(entity)
        elif not state.deleted:
            yield from hook(entity, "_before_delete")
            mark_deleted(entity)
            yield from hook(entity, "_after_delete")
    return saved


@dataclass(eq=False)
class _Snapshot:
    """A referrer as it was before its callable policy ran."""

    entity: Model
    state: Snapshot
    wire: dict[str, str | None]


def _wire(entity: Model) -> dict[str, str | None]:
    # The stored form of every column: what a save would compare and write.
    data = state_of(entity).data
    return {
        col.attr: None if data.get(col.attr) is None else col.to_redis(data[col.attr])
        for col in entity._meta.stored
    }


def _call_policies(plan: DeletePlan) -> Steps[list[_Snapshot]]:
    # Each callable gets a referrer that is not deleted itself; one whose
    # stored values the callables changed is added to the updates (with no
    # forced values), the others are left as they were. An ``async def``
    # callable is awaited (refused on the blocking path). Returns the
    # snapshots that undo the callables' changes.
    taken: dict[int, _Snapshot] = {}
    try:
        for referrer, deleted, policy in plan.called:
            if referrer._pk in plan.deleted:
                continue
            if id(referrer) not in taken:
                taken[id(referrer)] = _Snapshot(
                    referrer, state_of(referrer).snapshot(), _wire(referrer)
                )
            result = policy(referrer, deleted)
            if inspect.isawaitable(result):
                name = getattr(policy, "__qualname__", repr(policy))
                what = (
                    f"The on_delete callable {name} (of {type(referrer).__name__}, "
                    f"deleting {type(deleted).__name__})"
                )
                yield Awaited(result, what)
        changed = [s for s in taken.values() if _wire(s.entity) != s.wire]
    except BaseException:
        _restore(list(taken.values()))
        raise
    ids = {id(s) for s in changed}
    for snap in taken.values():
        if id(snap) in ids:
            plan.updates.setdefault(snap.entity._pk, (snap.entity, {}))
        else:  # assigning a value it already had is no change
            state_of(snap.entity).mark_modified(snap.state.modified)
    return changed


def _restore(snapshots: list[_Snapshot]) -> None:
    # Put back the referrers' values; a value changed in place (a Json
    # list appended to) is rebuilt from its stored form.
    for snap in snapshots:
        entity, state = snap.entity, state_of(snap.entity)
        state.restore(snap.state)
        data = state.data
        for col in entity._meta.stored:
            wire = snap.wire[col.attr]
            value = data.get(col.attr)
            try:
                same = (None if value is None else col.to_redis(value)) == wire
            except Exception:
                same = False
            if not same:
                state.put({col.attr: None if wire is None else col.from_redis(wire)})


def _plan_updates(
    updates: list[tuple[Model, dict[str, Any]]],
) -> Steps[tuple[Batch, list[tuple[Model, dict[str, Any]]]]]:
    # The referrers' old values are kept to restore them if they are not
    # written, so a failed delete leaves nothing half-changed in memory.
    batch: Batch = []
    undo: list[tuple[Model, dict[str, Any]]] = []
    try:
        for entity, values in updates:
            state = state_of(entity)
            undo.append((entity, state.values(values)))
            state.put(values)
            yield from hook(entity, "_before_update")
            batch.append((entity, plan_save(entity, full=False, force=False)))
    except BaseException:
        for entity, old in undo:
            state_of(entity).put(old)
        raise
    return batch, undo


def _settle(done: Batch) -> None:
    # The written entities' new state (no I/O).
    for entity, plan in done:
        if plan.delete:
            mark_deleted(entity)
        else:
            settle(entity, plan)


def _finish(done: Batch, fresh: set[int], error: BaseException | None) -> Steps[None]:
    failure = error
    for entity, plan in done:
        try:
            if not plan.delete:
                yield from hook(entity, "_after_update")
            elif id(entity) in fresh:
                yield from hook(entity, "_after_delete")
        except Exception as exc:  # every after hook runs; the first error wins
            failure = failure or exc
    if failure is not None:
        raise failure
