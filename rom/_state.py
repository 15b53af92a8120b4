"""An entity's state: its values, what Redis last held, and where it stands.

Every entity holds one :class:`EntityState` (in its ``_rom_state`` slot);
the write path, on_delete, the session, transfer, maintenance and repair
read and change an entity only through it (``state_of(entity)``). The
state is pure: it plans writes but never talks to Redis, and it knows
nothing of the session, which the model keeps in step.

Statuses and their transitions::

    new --settle--> loaded --assign--> modified --settle--> loaded
     |                 |                  |
     +--mark_deleted---+------------------+--> deleted --settle (force)--> loaded

A failed or cancelled write puts the state back with ``restore(snapshot)``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

from . import _expiry

if TYPE_CHECKING:  # at run time, imported when planning (_writer imports columns,
    # and columns reads entities' values through this module)
    from ._meta import ModelInfo
    from ._writer import WritePlan

__all__ = [
    "SLOT",
    "EntityState",
    "Snapshot",
    "Status",
    "mark_deleted",
    "plan_delete",
    "plan_save",
    "settle",
    "state_of",
    "take_id",
]

Status = Literal["new", "loaded", "modified", "deleted"]

# The entity attribute (a slot of Model) that holds its state.
SLOT = "_rom_state"

#: The :class:`EntityState` of an entity (an attribute getter: it is called
#: on every column read, so it costs no Python frame).
state_of: Callable[[Any], EntityState] = attrgetter(SLOT)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A state as it was, to put back after a failed or cancelled write."""

    data: dict[str, Any]
    last: dict[str, str]
    new: bool
    modified: bool
    deleted: bool


class EntityState:
    """The values and the write status of one entity.

    ``data`` maps every column name to its Python value (None when unset;
    a reference not yet read is an ``Unloaded``); ``last`` maps the stored
    columns to the wire strings Redis held when the entity was last read or
    written (empty for a new entity). The three flags are rom 1.1.2's
    ``_new``, ``_modified`` and ``_deleted``; :attr:`status` names the
    combination.
    """

    __slots__ = ("data", "deleted", "last", "modified", "new")

    def __init__(
        self,
        data: dict[str, Any],
        last: dict[str, str],
        *,
        new: bool,
        modified: bool,
        deleted: bool = False,
    ) -> None:
        self.data = data
        self.last = last
        self.new = new
        self.modified = modified
        self.deleted = deleted

    @classmethod
    def created(cls, data: dict[str, Any]) -> EntityState:
        """The state of an entity made in this program, not yet saved."""
        return cls(data, {}, new=True, modified=True)

    @classmethod
    def loaded(cls, data: dict[str, Any], last: dict[str, str]) -> EntityState:
        """The state of an entity just read from Redis (``last`` as read)."""
        return cls(data, last, new=False, modified=False)

    @property
    def status(self) -> Status:
        """``'deleted'``, ``'new'``, ``'modified'`` or ``'loaded'`` (in that order)."""
        if self.deleted:
            return "deleted"
        if self.new:
            return "new"
        return "modified" if self.modified else "loaded"

    def __repr__(self) -> str:
        return f"<EntityState {self.status} {self.data!r}>"

    # -- values -----------------------------------------------------------------

    def get(self, attr: str) -> Any:
        """The value of column ``attr`` (None when unset)."""
        return self.data.get(attr)

    def values(self, attrs: Iterable[str]) -> dict[str, Any]:
        """The values of ``attrs`` (to put back with :meth:`put`)."""
        data = self.data
        return {attr: data.get(attr) for attr in attrs}

    def assign(self, attr: str, value: Any) -> None:
        """Set a column to an already validated value: the entity is modified."""
        self.data[attr] = value
        self.modified = True

    def put(self, values: Mapping[str, Any]) -> None:
        """Set values without marking the entity modified.

        For values that are the same row's (a reference replaced by the
        entity it names) and for values that a write about to be planned
        sets, or that undo such values.
        """
        self.data.update(values)

    def take_id(self, pkey: str, pk: int) -> None:
        """Record the id just allocated for a new entity."""
        self.data[pkey] = pk

    def mark_modified(self, modified: bool = True) -> None:
        """Set (or clear) the modified flag."""
        self.modified = modified

    # -- transitions ------------------------------------------------------------

    def reload(self, other: EntityState) -> None:
        """Take on the state of the same row read again (refresh)."""
        self.data = other.data
        self.last = other.last
        self.new = self.modified = self.deleted = False

    def snapshot(self) -> Snapshot:
        """The state as it is now; ``data`` is copied (one level deep)."""
        return Snapshot(
            dict(self.data), self.last, self.new, self.modified, self.deleted
        )

    def restore(self, snapshot: Snapshot) -> None:
        """Put back a snapshot (the same ``data`` dict, refilled)."""
        data = self.data
        data.clear()
        data.update(snapshot.data)
        self.last = snapshot.last
        self.new = snapshot.new
        self.modified = snapshot.modified
        self.deleted = snapshot.deleted

    def settle(self, pkey: str, plan: WritePlan) -> None:
        """Take on the row a save just wrote: loaded, with the plan's wire values."""
        assert plan.id is not None
        self.data[pkey] = int(plan.id)
        plan.new_last[pkey] = plan.id
        self.last = plan.new_last
        self.new = self.modified = self.deleted = False

    def mark_deleted(self) -> None:
        """The row is deleted (or the new entity discarded)."""
        self.modified = True
        self.deleted = True

    def wrote_since(self, last: Mapping[str, str]) -> bool:
        """True if a write settled (or a read reloaded) since ``last`` was current."""
        return self.last is not last

    # -- planning ---------------------------------------------------------------

    def plan_save(self, info: ModelInfo, *, full: bool, force: bool) -> WritePlan:
        """The write that saves this state (see ``_writer.plan_save``)."""
        from ._writer import plan_save

        data = self.data
        return plan_save(
            info,
            data,
            self.last,
            data.get(info.pk),
            new=self.new,
            full=full,
            force=force,
        )

    def plan_delete(self, info: ModelInfo, pk: int) -> WritePlan:
        """The write that deletes the row ``pk`` of this state."""
        from ._writer import plan_delete

        return plan_delete(info, self.data, self.last, pk)


# -- an entity's transitions, with the session kept in step -------------------
#
# The state knows nothing of the session; these move an entity's state and
# tell the session (which holds dirty entities strongly and evicts deleted
# rows). The session is imported when first needed: it imports the write
# path, which uses these.


def _session() -> Any:
    from .session import session

    return session


def plan_save(entity: Any, *, full: bool, force: bool) -> WritePlan:
    """The write that saves ``entity`` as it is now (with its expiry, for
    a model declaring ``_ttl``)."""
    state = state_of(entity)
    info = entity._meta
    plan = state.plan_save(info, full=full, force=force)
    if info.expiring:
        _expiry.attach(plan, info, entity, state.new)
    return plan


def plan_delete(entity: Any) -> WritePlan:
    """The write that deletes ``entity``'s row (taking an id if it has none)."""
    info = entity._meta
    plan = state_of(entity).plan_delete(info, entity._primary_key())
    if info.expiring:
        plan.expiry_keys = plan.keyspace.expiry_keys(list(info.unsafe))
    return plan


def take_id(entity: Any, pk: int) -> None:
    """Record the id just allocated for the new ``entity``."""
    state_of(entity).take_id(entity._pkey, pk)
    _session().add(entity)


def settle(entity: Any, plan: WritePlan) -> None:
    """``entity`` was written by ``plan``: it is loaded, as the plan left its row."""
    state_of(entity).settle(entity._pkey, plan)
    if plan.expiry is not None:
        _expiry.saved(entity)
    _session().add(entity)


def mark_deleted(entity: Any) -> None:
    """``entity``'s row was deleted (or the new entity discarded)."""
    state_of(entity).mark_deleted()
    _session()._evict(entity)
