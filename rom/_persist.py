"""Save and delete entities: hooks, planning, one write per connection, errors.

This is where ``Model.save``, ``Model.delete`` and the session meet the
writer: plans are computed in Python (``_writer``), sent in one script call
per connection, slot group and chunk (``_requests``, or through the WATCH
path; ``_slots`` orders the calls), and the results applied back to the
entities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from redis.exceptions import ResponseError

from . import _claims
from ._io import Steps
from ._io import call
from ._io import hook
from ._io import run_sync
from ._requests import Batch
from ._requests import chunks
from ._requests import disable_lua_writes
from ._requests import enable_lua_writes
from ._requests import names
from ._requests import send
from ._requests import settle_pending
from ._slots import script_groups
from ._state import SLOT
from ._state import EntityState
from ._state import plan_save
from ._state import settle
from ._state import state_of
from ._state import take_id
from ._stored_rows import run_reading_rows
from ._writer import WritePlan
from .exceptions import DataRaceError
from .exceptions import EntityDeletedError
from .exceptions import ORMError
from .exceptions import UniqueKeyViolation

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "Batch",
    "by_slot",
    "dependencies",
    "disable_lua_writes",
    "enable_lua_writes",
    "save_entities",
    "save_entities_steps",
    "settle_pending",
    "write_batch",
    "write_batch_steps",
]

# (connection, its writes in order): one script call (per chunk), in turn.
Groups = list[tuple[Any, Batch]]


def _group(
    entities: list[Model], make_plan: Callable[[Model], Steps[WritePlan]]
) -> Steps[tuple[Groups, BaseException | None]]:
    # Plans are made in order; the first entity that cannot be planned (a
    # hook or a value refused) stops planning, and only earlier ones run.
    batch: Batch = []
    for entity in entities:
        try:
            plan = yield from make_plan(entity)
        except Exception as exc:
            return by_slot(batch), exc
        batch.append((entity, plan))
    return by_slot(batch), None


def by_slot(batch: Batch) -> Groups:
    """The script calls of a batch: one per connection and slot group, in
    an order where a stop between two leaves no reference to a missing
    entity (``_slots.script_groups``, ``dependencies``)."""
    keys = [(id(e._connection), p.keyspace.slot_group) for e, p in batch]
    deps = dependencies(batch) if len(set(keys)) > 1 else [()] * len(batch)
    return [
        (batch[items[0]][0]._connection, [batch[i] for i in items])
        for items in script_groups(keys, deps)
    ]


def dependencies(batch: Batch) -> list[list[int]]:
    """Per write, the writes of ``batch`` to apply before it.

    A saved entity comes after the saved entities its reference columns
    will point at (a new target first), and a deleted entity after every
    write of an entity whose stored row references it (a referrer set to
    null or deleted in cascade first).
    """
    saved: dict[tuple[str, str], int] = {}
    deleted: dict[tuple[str, str], int] = {}
    for i, (_, plan) in enumerate(batch):
        if plan.id is not None:
            (deleted if plan.delete else saved)[(plan.namespace, plan.id)] = i
    deps: list[list[int]] = [[] for _ in batch]
    for i, (entity, plan) in enumerate(batch):
        for col in entity._meta.references:
            target = getattr(col, "get_related_model", lambda: None)()
            info = getattr(target, "_meta", None)
            if info is None:  # a ForeignModel: not a rom entity
                continue
            if not plan.delete:
                new = plan.new_last.get(col.attr)
                j = saved.get((info.namespace, new)) if new is not None else None
                if j is not None and j != i:
                    deps[i].append(j)
            old = state_of(entity).last.get(col.attr)
            j = deleted.get((info.namespace, old)) if old is not None else None
            if j is not None and j != i:
                deps[j].append(i)
    return deps


def _execute(groups: Groups) -> Steps[tuple[Batch, BaseException | None]]:
    # A partitioned model's new unique values are claimed first, in their
    # own slots, and confirmed after the write (rom/_claims.py); a batch
    # without them goes straight to the writes.
    batch = [pair for _, pairs in groups for pair in pairs]
    if not any(plan.claims or plan.releases for _, plan in batch):
        return (yield from _write_groups(groups))
    allowed, failure = yield from _claims.claim(batch)
    if len(allowed) < len(batch):
        kept = {id(plan) for _, plan in allowed}
        groups = [
            (conn, [pair for pair in pairs if id(pair[1]) in kept])
            for conn, pairs in groups
        ]
        groups = [(conn, pairs) for conn, pairs in groups if pairs]
    done, error = yield from _write_groups(groups)
    yield from _claims.finish(allowed, done, error)
    return done, error or failure


def _write_groups(groups: Groups) -> Steps[tuple[Batch, BaseException | None]]:
    done: Batch = []
    for conn, batch in groups:
        for chunk in chunks(batch):
            try:
                results = yield from run_reading_rows(conn, chunk, send)
            except GeneratorExit:
                raise
            except BaseException as exc:
                # An interrupt (KeyboardInterrupt, a cancelled task) too: the
                # requests already applied are settled before it propagates.
                return done, exc
            for index, (entity, plan) in enumerate(chunk):
                if index >= len(results):
                    return done, ORMError(
                        f"Writing {names(chunk[index:])}: the request was "
                        "cancelled by a settle of the same request; nothing "
                        "was written, save again"
                    )
                result = results[index]
                if "error" in result:
                    return done, _error(entity, plan, result)
                plan.id = str(result["id"])
                done.append((entity, plan))
    return done, None


def write_batch(batch: Batch) -> tuple[Batch, BaseException | None]:
    """Send planned writes, one script call per connection, slot group and
    chunk (``by_slot``: in the order given on one group).

    Returns the pairs applied and the error that stopped the rest, if any.
    """
    return run_sync(write_batch_steps(batch))


def write_batch_steps(batch: Batch) -> Steps[tuple[Batch, BaseException | None]]:
    """``write_batch`` as steps, for either transport."""
    yield from settle_pending([entity for entity, _ in batch])
    found = yield from _execute(by_slot(batch))
    return found


# -- saving and deleting ------------------------------------------------------------


def allocate_id(entity: Model) -> Steps[int]:
    """The entity's id, taken from its model's counter on first need."""
    pk: int | None = state_of(entity).get(entity._pkey)
    if pk is None:
        keys = entity._meta.new_keys()
        n = int((yield from call(entity._connection, "incr", keys.counter)))
        pk = n * keys.id_stride + keys.id_offset
        take_id(entity, pk)
    return pk


def _with_new_targets(entities: list[Model]) -> Steps[list[Model]]:
    # A referrer stores its targets' ids: new entities it references get an
    # id now and are saved just before it, in the same write.
    ordered: dict[int, Model] = {}

    def visit(entity: Model, path: set[int]) -> Steps[None]:
        if id(entity) in ordered or id(entity) in path:
            return
        path.add(id(entity))
        state = state_of(entity)
        for col in entity._meta.references:
            target: Any = state.get(col.attr)
            theirs = getattr(target, SLOT, None)  # None: an id, not an entity
            if isinstance(theirs, EntityState) and theirs.status == "new":
                yield from allocate_id(target)
                yield from visit(target, path)
        ordered[id(entity)] = entity

    for entity in entities:
        yield from visit(entity, set())
    return list(ordered.values())


def save_entities(entities: list[Model], *, full: bool, force: bool) -> int:
    """Save entities in order; return the number of columns written.

    New entities they reference are saved first, in the same write.
    """
    return run_sync(save_entities_steps(entities, full=full, force=force))


def save_entities_steps(
    entities: list[Model], *, full: bool, force: bool
) -> Steps[int]:
    """``save_entities`` as steps, for either transport."""
    if not entities:
        return 0
    yield from settle_pending(entities)
    entities = yield from _with_new_targets(entities)
    yield from settle_pending(entities)  # the new targets pulled in, if pending

    def plan(entity: Model) -> Steps[WritePlan]:
        if state_of(entity).new:
            yield from hook(entity, "_before_insert")
        else:
            yield from hook(entity, "_before_update")
        return plan_save(entity, full=full, force=force)

    groups, failure = yield from _group(entities, plan)
    done, error = yield from _execute(groups)
    changes = 0
    for entity, write in done:
        was_new = state_of(entity).new
        settle(entity, write)
        changes += write.changes
        after = "_after_insert" if was_new else "_after_update"
        yield from hook(entity, after)
    if error or failure:
        raise error or failure  # type: ignore[misc]
    return changes


def _error(entity: Model, plan: WritePlan, result: dict[str, Any]) -> Exception:
    ns, id = plan.namespace, plan.id or "<new>"
    kind = result["error"]
    if kind == "raised":
        raised: Exception = result["exception"]
        return raised
    if kind == "deleted":
        return EntityDeletedError(
            f"Entity {ns}:{id} deleted by another writer; use .save(force=True) "
            "to re-save",
            ns,
            id,
        )
    if kind == "race":
        fields = sorted(result["fields"])
        return DataRaceError(
            f"{ns}:{id} Column(s) {fields} updated by another writer, write "
            "aborted! Reload it with refresh(force=True) and reapply your "
            "change, or overwrite with save(force=True)",
            ns,
            id,
        )
    if kind == "fenced":
        return ORMError(
            f"{type(entity).__name__} {id} ({ns}:{id}): its unique values were "
            f"claimed more than {_claims.CLAIM_LIFETIME_MS - _claims.FENCE_MARGIN_MS}"
            " ms before its write (rom._claims.CLAIM_LIFETIME_MS less "
            "FENCE_MARGIN_MS), so the claims may have passed to another writer; "
            "nothing of it was written and its claims were released: save again"
        )
    if kind == "redis":
        return ResponseError(
            f"{type(entity).__name__} {id} ({ns}:{id}): {result['message']}. "
            "Nothing of this entity was written (entities before it in the "
            "same save were); fix or delete that key, then save again"
        )
    column, value = result["column"], result["value"]
    shown = entity._describe_unique(column, value)
    return UniqueKeyViolation(
        f"Value {shown} for {ns}:{column}:uidx not distinct (failed for "
        f"pk={id}): another {type(entity).__name__} already has it",
        ns,
        id,
        column,
        value,
    )
