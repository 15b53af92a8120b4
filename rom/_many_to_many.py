"""ManyToMany memberships: reading and changing them, and forgetting them.

An entity's side of a relation is a SET of the other side's ids,
``<ns>:<id>:<attr>``; each membership is in both sides' SETs. Every change
(add, remove, set, clear) is one call of ``many_to_many.lua``, which checks
that the entities exist and updates both sides at once; when the two
models are in different slot groups (``rom._keys.slot_group``) it is three
calls: the other rows checked, this side changed, then the other side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Any

from . import _scripts
from ._io import Steps
from ._io import call
from ._io import run_async
from ._io import run_sync
from ._replies import text
from ._search import AnyFilter
from ._search import Filter
from ._search import NoMatch
from ._search import SetFilter
from ._state import state_of
from .exceptions import EntityDeletedError
from .exceptions import InvalidColumnValue
from .exceptions import InvalidOperation
from .relations import PREFETCHED
from .relations import ManyToMany
from .relations import many_to_many_side
from .relations import many_to_many_sides

if TYPE_CHECKING:
    from ._meta import ModelInfo
    from .model import Model
    from .query import Query

__all__ = ["RelatedSet", "drop_memberships", "membership_filter"]


def _other_id(side: ManyToMany, value: Any) -> str:
    # An entity of the other model (saved), or its integer id.
    other = side.linked()
    model = other.owner
    where = f"{side.model_name}.{side.attr}"
    if isinstance(value, model):
        id = state_of(value).get(model._pkey)
        if id is None:
            raise InvalidOperation(
                f"{where}: the {model.__name__} entity is not saved yet; save "
                "it before relating it"
            )
        return str(id)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return str(int(value))
    raise InvalidColumnValue(
        f"{where} relates {model.__name__} entities: expected a saved "
        f"{model.__name__} or its positive integer id, got "
        f"{type(value).__name__}: {value!r}",
        side.model_name,
        side.attr,
        value,
    )


class RelatedSet:
    """One entity's side of a ManyToMany: ``post.tags``.

    Reading costs one round trip (``all``, ``ids``, ``count``, ``in``); each
    change is one atomic script call updating both sides. A change needs
    the entity saved; ``add`` and ``set`` refuse ids whose rows are gone and
    then change nothing.
    """

    __slots__ = ("_entity", "_side")

    def __init__(self, entity: Any, side: ManyToMany) -> None:
        self._entity = entity
        self._side = side

    def __repr__(self) -> str:
        return f"<RelatedSet {self._entity!r}.{self._side.attr}>"

    @property
    def model(self) -> Any:
        """The model of the related entities."""
        return self._side.linked().owner

    def _id(self) -> Any:
        return self._entity._data.get(self._entity._pkey)

    def _key(self) -> str:
        self._side.linked()  # the other model must be defined
        return str(self._entity._meta.keys.members(self._id(), self._side.attr))

    @property
    def query(self) -> Query[Any]:
        """A Query over the related entities (filter, order_by, ... it)."""
        found: Filter = NoMatch() if self._id() is None else SetFilter(self._key())
        query: Query[Any] = self.model.query
        return query.replace(filters=(found,))

    def all(self) -> list[Any]:
        """The related entities, by id (one round trip, or none if prefetched)."""
        return run_sync(self._all_steps())

    async def aall(self) -> list[Any]:
        """``all()`` on asyncio."""
        return await run_async(self._all_steps())

    def _all_steps(self) -> Steps[list[Any]]:
        cached = vars(self._entity).get(PREFETCHED, {}).get(self._side.attr)
        if cached is not None:
            return list(cached)
        return (yield from self.query.all_steps())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.all())

    def ids(self) -> list[int]:
        """The ids of the related entities, ascending."""
        return run_sync(self._ids_steps())

    async def aids(self) -> list[int]:
        """``ids()`` on asyncio."""
        return await run_async(self._ids_steps())

    def _ids_steps(self) -> Steps[list[int]]:
        if self._id() is None:
            return []
        found = yield from call(self._entity._connection, "smembers", self._key())
        return sorted(int(text(i)) for i in found)

    def count(self) -> int:
        """The number of related entities (SCARD)."""
        return run_sync(self._count_steps())

    async def acount(self) -> int:
        """``count()`` on asyncio."""
        return await run_async(self._count_steps())

    def _count_steps(self) -> Steps[int]:
        if self._id() is None:
            return 0
        return int((yield from call(self._entity._connection, "scard", self._key())))

    def __contains__(self, value: object) -> bool:
        return run_sync(self._contains_steps(value))

    async def acontains(self, value: object) -> bool:
        """``value in related`` on asyncio."""
        return await run_async(self._contains_steps(value))

    def _contains_steps(self, value: object) -> Steps[bool]:
        if self._id() is None:
            return False
        member = _other_id(self._side, value)
        conn = self._entity._connection
        return bool((yield from call(conn, "sismember", self._key(), member)))

    def add(self, *values: Any) -> int:
        """Relate entities (or ids); returns the number of new memberships."""
        return run_sync(self._change("add", values))

    async def aadd(self, *values: Any) -> int:
        """``add()`` on asyncio."""
        return await run_async(self._change("add", values))

    def remove(self, *values: Any) -> int:
        """Unrelate entities (or ids); returns the number removed."""
        return run_sync(self._change("remove", values))

    async def aremove(self, *values: Any) -> int:
        """``remove()`` on asyncio."""
        return await run_async(self._change("remove", values))

    def set(self, values: Iterable[Any]) -> int:
        """Make exactly ``values`` related; returns the memberships changed."""
        return run_sync(self._change("set", tuple(values)))

    async def aset(self, values: Iterable[Any]) -> int:
        """``set()`` on asyncio."""
        return await run_async(self._change("set", tuple(values)))

    def clear(self) -> int:
        """Unrelate every entity; returns the number removed."""
        return run_sync(self._change("set", ()))

    async def aclear(self) -> int:
        """``clear()`` on asyncio."""
        return await run_async(self._change("set", ()))

    def _change(self, op: str, values: tuple[Any, ...]) -> Steps[int]:
        side, entity = self._side, self._entity
        other = side.linked()
        ids = list(dict.fromkeys(_other_id(side, v) for v in values))
        pk = self._id()
        info = entity._meta
        if pk is None or state_of(entity).new:
            raise InvalidOperation(
                f"{info.name}.{side.attr}: the {info.name} entity is not saved "
                "yet; save it before changing its relations"
            )
        if op == "remove" and not ids:
            return 0
        other_keys = other.owner._meta.keys
        before, after = other_keys.members_parts(other.attr)
        split = info.keys.slot_group != other_keys.slot_group
        plan: dict[str, Any] = {
            "op": op,
            "row": info.keys.entity(pk),
            "own": self._key(),
            "id": str(pk),
            "other_row": other_keys.row_prefix,
            "other_before": before,
            "other_after": after,
            "ids": ids,
        }
        conn = entity._connection
        reply: Any = ["ok"]
        if split and op != "remove" and ids:
            # The other rows are in another slot: checked by their own call.
            check = {"op": "exist", "other_row": other_keys.row_prefix, "ids": ids}
            reply = yield from _scripts.many_to_many_steps(
                conn, [other_keys.anchor, other_keys.probe], json.dumps(check)
            )
        if text(reply[0]) == "ok":
            plan["mirror"] = not split
            # KEYS[1]: the entity's row, in its model's slot.
            route = [plan["row"], entity._meta.keys.probe]
            reply = yield from _scripts.many_to_many_steps(
                conn, route, json.dumps(plan)
            )
        if split and text(reply[0]) == "ok":
            added, removed = ([text(i) for i in r] for r in reply[2:4])
            item = {"id": str(pk), "other_before": before, "other_after": after}
            mirror = {
                "op": "mirror",
                "items": [{**item, "add": added, "remove": removed}],
            }
            yield from _scripts.many_to_many_steps(
                conn, [other_keys.anchor, other_keys.probe], json.dumps(mirror)
            )
        vars(entity).get(PREFETCHED, {}).pop(side.attr, None)
        status = text(reply[0])
        if status == "deleted":
            raise EntityDeletedError(
                f"{info.keys.entity(pk)} was deleted by another writer, so "
                f"{info.name}.{side.attr} cannot change; nothing was written",
                info.namespace,
                str(pk),
            )
        if status == "missing":
            gone = [text(i) for i in reply[1:]]
            raise InvalidOperation(
                f"{info.name}.{side.attr}.{op}(): no {other.model_name} with "
                f"id {', '.join(gone)} exists (deleted, or never saved); "
                "nothing was written"
            )
        return int(reply[1])


def drop_memberships(entities: Iterable[Model]) -> Steps[None]:
    """Forget every membership of deleted entities, on both sides.

    One script call per connection and slot group; entities of models
    without a ManyToMany cost nothing.
    """
    # Per connection, slot group and whether the other sides are in
    # another group (then their SETs are changed by a call of their own).
    calls: dict[tuple[int, str, bool], tuple[Any, list[str], list[dict[str, str]]]] = {}
    # an item's other_before -> that side's anchor and probe
    others: dict[str, list[str]] = {}
    for entity in entities:
        pk = state_of(entity).get(entity._pkey)
        if pk is None:
            continue
        for side in many_to_many_sides(type(entity)):
            other = side.other
            if other is None:
                continue
            other_keys = other.owner._meta.keys
            before, after = other_keys.members_parts(other.attr)
            item = {
                "own": entity._meta.keys.members(pk, side.attr),
                "id": str(pk),
                "other_before": before,
                "other_after": after,
            }
            conn = entity._connection
            keys = entity._meta.keys
            split = keys.slot_group != other_keys.slot_group
            others[before] = [other_keys.anchor, other_keys.probe]
            group = (id(conn), keys.slot_group, split)
            route = [keys.anchor, keys.probe]
            calls.setdefault(group, (conn, route, []))[2].append(item)
    for (_, _, split), (conn, route, items) in calls.items():
        plan = json.dumps({"op": "drop", "items": items, "mirror": not split})
        reply = yield from _scripts.many_to_many_steps(conn, route, plan)
        if split:
            yield from _unlink(conn, items, list(reply)[1:], others)


def _unlink(
    conn: Any,
    items: list[dict[str, str]],
    members: list[Any],
    others: dict[str, list[str]],
) -> Steps[None]:
    # The other sides' half of a drop across slot groups: one call per group.
    by_route: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item, ids in zip(items, members, strict=True):
        if ids:
            mirror = {**item, "add": [], "remove": [text(i) for i in ids]}
            route = tuple(others[item["other_before"]])
            by_route.setdefault(route, []).append(mirror)
    for route, mirrors in by_route.items():
        plan = json.dumps({"op": "mirror", "items": mirrors})
        yield from _scripts.many_to_many_steps(conn, list(route), plan)


def membership_filter(info: ModelInfo, name: str, value: Any) -> Filter | None:
    """The filter answering ``filter(name=value)`` for a ManyToMany ``name``.

    ``value`` is an entity of the other model or its id (a list: any of
    them). Returns None if ``name`` is not a ManyToMany side of the model.
    """
    from ._registry import MODELS

    model = MODELS.get(info.namespace)
    side = many_to_many_side(model, name) if model is not None else None
    if side is None:
        return None
    other = side.linked()
    keys = other.owner._meta.keys
    values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    found = [keys.members(_other_id(side, v), other.attr) for v in values]
    if not found:
        return NoMatch()
    if len(found) == 1:
        return SetFilter(found[0])
    return AnyFilter(tuple(dict.fromkeys(found)))
