"""create, get_or_create and update_or_create: finding an entity by a lookup.

A lookup is ``column=value`` pairs compared as stored (the values are
validated and converted as a save would). It is answered by the primary
key or a unique column when it names one (one round trip), else by the
indexes of its columns, the candidates then compared in Python.

Race safety comes from the unique indexes: two programs creating the same
entity at once both try to save it, one save fails with
UniqueKeyViolation, and the loser reads and returns the winner's entity.
A lookup without a unique column (or ``unique_together`` group) has no
such guard: two racing creators may both create.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from ._io import Steps
from ._io import Wait
from ._io import run_sync
from ._lookup import get_by_steps
from ._persist import save_entities_steps
from ._state import state_of
from .columns import Column
from .columns import IndexOnly
from .exceptions import DataRaceError
from .exceptions import EntityDeletedError
from .exceptions import QueryError
from .exceptions import UniqueKeyViolation
from .session import session

if TYPE_CHECKING:
    from .model import Model

__all__ = ["create", "get_or_create", "update_or_create"]

M = TypeVar("M", bound="Model")

# How often update_or_create re-reads and re-applies after DataRaceError.
UPDATE_ATTEMPTS = 5
# Seconds (about) a get_or_create of a partitioned model that lost the
# claim of a unique value waits for the winner's entity to be written.
CLAIM_WAIT = 1.0
# The most candidates a lookup without a unique column reads.
CANDIDATES = 1000


def create(model: type[M], values: Mapping[str, Any]) -> M:
    """A new entity saved now; one that fails to save is left out of the
    session (nothing pending is left behind)."""
    return run_sync(create_steps(model, values))


def create_steps(model: type[M], values: Mapping[str, Any]) -> Steps[M]:
    """``create`` as steps, for either transport."""
    entity = model(**values)
    try:
        yield from save_entities_steps([entity], full=False, force=False)
    except BaseException:
        session.forget(entity)
        raise
    return entity


def _wire(col: Column[Any], value: Any) -> str | None:
    return None if value is None else col.to_redis(value)


def _checked(model: type[M], lookup: Mapping[str, Any]) -> dict[str, str | None]:
    # Each lookup value as it would be stored; refused before any read.
    info = model._meta
    where = f"{info.name}.get_or_create()"
    if not lookup:
        raise QueryError(f"{where} needs at least one column=value to look up")
    wires: dict[str, str | None] = {}
    for name, value in lookup.items():
        col = info.columns.get(name)
        if not isinstance(col, Column) or isinstance(col, IndexOnly):
            raise QueryError(
                f"{where}: {name!r} is not a stored column of {info.name}; "
                f"look up by one of {[c.attr for c in info.stored]}"
            )
        wires[name] = _wire(col, col.validate(value))
    return wires


def _matches(entity: Model, wires: Mapping[str, str | None]) -> bool:
    info = entity._meta
    for name, wire in wires.items():
        col = info.columns[name]
        assert isinstance(col, Column)
        if _wire(col, state_of(entity).get(name)) != wire:
            return False
    return True


def _unique_column(model: type[Model], names: Mapping[str, Any]) -> str | None:
    info = model._meta
    if info.pk in names:
        return info.pk
    for col in info.unique:
        if col.attr in names and names[col.attr] is not None:
            return col.attr
    return None


def find(model: type[M], lookup: Mapping[str, Any]) -> M | None:
    """The one entity matching ``lookup``, or None; QueryError if several do."""
    return run_sync(find_steps(model, lookup))


def find_steps(model: type[M], lookup: Mapping[str, Any]) -> Steps[M | None]:
    """``find`` as steps, for either transport."""
    wires = _checked(model, lookup)
    unique = _unique_column(model, lookup)
    if unique is not None:
        found = yield from get_by_steps(model, {unique: lookup[unique]})
        if found is None or isinstance(found, list):  # one value: one entity
            return None
        return found if _matches(found, wires) else None
    query = model.query.filter(**{k: v for k, v in lookup.items() if v is not None})
    candidates = yield from query.limit(0, CANDIDATES).all_steps()
    matching = [e for e in candidates if _matches(e, wires)]
    if len(matching) > 1:
        info = model._meta
        raise QueryError(
            f"{info.name}.get_or_create({dict(lookup)!r}) matches "
            f"{len(matching)} entities (ids {[e._primary_key() for e in matching]}"
            "); look up by a unique column, or add columns to the lookup"
        )
    return matching[0] if matching else None


def get_or_create(
    model: type[M], defaults: Mapping[str, Any] | None, lookup: Mapping[str, Any]
) -> tuple[M, bool]:
    """``(entity, created)``: the entity matching ``lookup``, else a new one
    made of ``lookup`` and ``defaults`` (defaults win) and saved."""
    return run_sync(get_or_create_steps(model, defaults, lookup))


def get_or_create_steps(
    model: type[M], defaults: Mapping[str, Any] | None, lookup: Mapping[str, Any]
) -> Steps[tuple[M, bool]]:
    """``get_or_create`` as steps, for either transport."""
    found = yield from find_steps(model, lookup)
    if found is not None:
        return found, False
    try:
        made = yield from create_steps(model, {**lookup, **(defaults or {})})
        return made, True
    except UniqueKeyViolation:
        # Another creator won the race (or the values clash with another
        # entity): return the winner if it matches the lookup.
        found = yield from find_steps(model, lookup)
        pause = 0.005
        while found is None and model._meta.partitions and pause < CLAIM_WAIT:
            # A partitioned model's winner may be between its claim and its
            # write (refused as "being claimed"): it is there in a moment.
            yield Wait(pause)
            pause *= 2
            found = yield from find_steps(model, lookup)
        if found is None:
            raise
        return found, False


def update_or_create(
    model: type[M], defaults: Mapping[str, Any] | None, lookup: Mapping[str, Any]
) -> tuple[M, bool]:
    """``(entity, created)``: the entity matching ``lookup`` with ``defaults``
    assigned and saved, else a new one made of both and saved.

    A save refused because another writer changed the entity in between
    (DataRaceError) or deleted it is retried on the row as it is now, up
    to ``UPDATE_ATTEMPTS`` times.
    """
    return run_sync(update_or_create_steps(model, defaults, lookup))


def update_or_create_steps(
    model: type[M], defaults: Mapping[str, Any] | None, lookup: Mapping[str, Any]
) -> Steps[tuple[M, bool]]:
    """``update_or_create`` as steps, for either transport."""
    values = dict(defaults or {})
    for attempt in range(UPDATE_ATTEMPTS):
        entity, created = yield from get_or_create_steps(model, values, lookup)
        if created:
            return entity, True
        try:
            entity.update(**values)
            entity._check_saveable(force=False)
            yield from save_entities_steps([entity], full=False, force=False)
            return entity, False
        except DataRaceError:
            if attempt == UPDATE_ATTEMPTS - 1:
                raise
            yield from entity.refresh_steps(force=True)
        except EntityDeletedError:
            if attempt == UPDATE_ATTEMPTS - 1:
                raise
            session.forget(entity)
    raise AssertionError("unreachable")  # pragma: no cover
