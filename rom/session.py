"""The session: a per-thread (and per-asyncio-task) identity map of entities.

Dirty entities (new, or changed since their last save) are held strongly
until saved; every entity with an id is also held weakly, so ``get`` returns
the same object for the same row while the program still uses it. A commit
saves entities in the order they entered the session.
"""

from __future__ import annotations

import itertools
import sys
import threading
import weakref
from _weakref import _remove_dead_weakref  # type: ignore[attr-defined]
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import MutableMapping
from collections.abc import Sequence
from contextvars import ContextVar
from contextvars import Token
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from ._io import Steps
from ._io import run_async
from ._io import run_sync
from ._meta import ModelInfo
from ._on_delete import delete_with_policies_steps
from ._persist import save_entities_steps
from ._replies import decode_row
from ._state import state_of
from .exceptions import ORMError

if TYPE_CHECKING:
    from .model import Model

    M = TypeVar("M", bound=Model)
    R = TypeVar("R")

__all__ = [
    "NULL_SESSION",
    "Session",
    "session",
    "session_scope",
    "use_null_session",
    "use_rom_session",
]

NULL_SESSION = False


def use_null_session() -> None:
    """Stop caching entities by default (every thread without an override)."""
    global NULL_SESSION
    NULL_SESSION = True


def use_rom_session() -> None:
    """Cache entities again by default (the initial setting)."""
    global NULL_SESSION
    NULL_SESSION = False


def _owner() -> tuple[int, int]:
    # A ContextVar is copied into new asyncio tasks, and with it the state
    # object; the owner check gives each task (and thread) a state of its own.
    asyncio = sys.modules.get("asyncio")
    task = None
    if asyncio is not None and asyncio.events._get_running_loop() is not None:
        task = asyncio.current_task()
    return threading.get_ident(), id(task)


# The attribute an entity carries its place in the session's order in:
# (epoch, rank). Kept on the entity, so the order costs no memory for
# entities the program dropped.
_RANK = "_rom_session_rank"
# Epochs are unique across threads and tasks, so a rank taken in another
# state never passes for one of this state.
_EPOCHS = itertools.count()


# A stand-in for a missing reference: calling it gives None (NoneType() is
# None), so ``weak.get(key, _NO_REF)()`` is the live entity or None with no
# Python call.
_NO_REF: Callable[[], None] = type(None)


class _Ref(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to an entity that knows its key in the weak map.

    ``weakref.KeyedRef`` without its Python ``__new__`` and ``__init__``:
    made by the C constructor, the key set after (one slot store).
    """

    __slots__ = ("key",)
    key: str


class _WeakMap(dict[str, _Ref]):
    """The session's weak map: ``<ns>:<id>`` -> a weak reference to the entity.

    A plain dict of references (a subclass only so that the removal
    callback can hold it weakly), filled with :meth:`put`; a reference
    removes its entry when its entity dies, unless the entry has been
    replaced since. ``WeakValueDictionary`` does the same with three Python
    calls per entry put; here putting one runs no Python code.
    """

    __slots__ = ("__weakref__", "remove")

    def __init__(self) -> None:
        super().__init__()
        self_ref = weakref.ref(self)

        def remove(ref: _Ref) -> None:
            # Called by the garbage collector when ref's entity dies: deletes
            # the entry only if it is still this dead reference.
            live = self_ref()
            if live is not None:
                _remove_dead_weakref(live, ref.key)

        self.remove = remove

    def put(self, key: str, obj: Model) -> None:
        """Hold ``obj`` weakly under ``key``."""
        ref = _Ref(obj, self.remove)
        ref.key = key
        self[key] = ref

    def entity(self, key: str) -> Model | None:
        """The live entity under ``key``, or None."""
        ref = self.get(key)
        return None if ref is None else ref()

    def entities(self) -> list[Model]:
        """Every live entity in the map (a snapshot)."""
        live = [ref() for ref in list(self.values())]
        return [obj for obj in live if obj is not None]


class WeakEntities(MutableMapping[str, "Model"]):
    """``session.wknown``: the session's weak map, read as entities.

    A view of the map (key -> live entity), as ``WeakValueDictionary``
    gave: entities that died are not in it.
    """

    __slots__ = ("_map",)

    def __init__(self, weak: _WeakMap) -> None:
        self._map = weak

    def __getitem__(self, key: str) -> Model:
        obj = self._map.entity(key)
        if obj is None:
            raise KeyError(key)
        return obj

    def __setitem__(self, key: str, obj: Model) -> None:
        self._map.put(key, obj)

    def __delitem__(self, key: str) -> None:
        if self._map.entity(key) is None:
            raise KeyError(key)
        del self._map[key]

    def __iter__(self) -> Iterator[str]:
        weak = self._map
        return iter([k for k, ref in list(weak.items()) if ref() is not None])

    def __len__(self) -> int:
        return sum(1 for ref in list(self._map.values()) if ref() is not None)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._map.entity(key) is not None

    def __repr__(self) -> str:
        return f"<WeakEntities of {len(self)} entities>"


class _State:
    __slots__ = ("dirty", "epoch", "new", "next_rank", "null", "owner", "weak")

    def __init__(self, owner: tuple[int, int]) -> None:
        self.owner = owner
        # commit() and rollback() start a new epoch: entities entering after
        # them go after every entity already pending.
        self.epoch = next(_EPOCHS)
        self.next_rank = 0
        self.dirty: dict[str, Model] = {}
        self.new: dict[int, Model] = {}
        self.weak = _WeakMap()
        self.null: bool | None = None


_STATE: ContextVar[_State] = ContextVar("rom_session")


def _state() -> _State:
    owner = _owner()
    state = _STATE.get(None)
    if state is None or state.owner != owner:
        state = _State(owner)
        _STATE.set(state)
    return state


def is_entity(obj: object) -> bool:
    """True if ``obj`` is an instance of a rom model."""
    return isinstance(getattr(type(obj), "_meta", None), ModelInfo)


def flatten(objects: Iterable[Any]) -> Iterator[Model]:
    """Yield the entities of arbitrarily nested lists/tuples; refuse others."""
    for obj in objects:
        if isinstance(obj, (list, tuple)):
            yield from flatten(obj)
        elif is_entity(obj):
            yield obj
        else:
            raise ORMError(
                f"Cannot save an object that is not an instance of a Model: "
                f"got {type(obj).__name__}: {obj!r}"
            )


class Session:
    """The identity map and unit of work of the current thread or task.

    ``rom.session`` is the one instance; its state is per thread (and per
    asyncio task), so threads never see each other's entities.
    """

    # -- the map ------------------------------------------------------------

    @property
    def null_session(self) -> bool:
        """True if this thread does not cache entities (see use_null_session)."""
        null = _state().null
        return NULL_SESSION if null is None else null

    @null_session.setter
    def null_session(self, value: bool) -> None:
        _state().null = bool(value)

    @null_session.deleter
    def null_session(self) -> None:
        _state().null = None

    @property
    def known(self) -> dict[str, Model]:
        """The entities held strongly (dirty ones), by ``<ns>:<id>``."""
        return _state().dirty

    @property
    def wknown(self) -> WeakEntities:
        """Every cached entity with an id, held weakly, by ``<ns>:<id>``."""
        return WeakEntities(_state().weak)

    def add(self, obj: Model) -> None:
        """Register an entity (done on construction, load and assignment)."""
        state = _state()  # once: it is called for every entity loaded or saved
        null = state.null
        if NULL_SESSION if null is None else null:
            return
        rank = getattr(obj, _RANK, None)
        if rank is None or rank[0] != state.epoch:
            setattr(obj, _RANK, (state.epoch, state.next_rank))
            state.next_rank += 1
        entity = state_of(obj)
        pk = entity.data.get(obj._pkey)
        if pk is None:
            state.new[id(obj)] = obj
            return
        state.new.pop(id(obj), None)
        key = obj._meta.entity_key(pk)
        state.weak.put(key, obj)
        if entity.new or entity.modified:
            state.dirty[key] = obj
        else:
            state.dirty.pop(key, None)

    def adopt(
        self,
        model: type[M],
        keys: Sequence[str],
        rows: Sequence[R],
        make: Callable[[R, str], M],
        wheres: Sequence[str] | None = None,
    ) -> list[M]:
        """For each row and its ``<ns>:<id>`` key: the session's saved ``model``
        entity of that row, else ``make(row, where)``, registered (``wheres``
        name the rows in an error; by default their keys).

        The read path's ``get`` then ``add`` for every row read, one row
        after the other, with the session looked up once.
        """
        state = _state()
        null = state.null
        register = not (NULL_SESSION if null is None else null)
        dirty, weak = state.dirty, state.weak
        epoch, pkey, remove = state.epoch, model._pkey, weak.remove
        found: list[M] = []
        append = found.append
        for key, row, where in zip(keys, rows, wheres or keys, strict=True):
            ref = weak.get(key)
            if ref is not None or key in dirty:  # a cached entity, maybe
                cached = dirty.get(key) or (ref and ref())
                if isinstance(cached, model) and not cached._rom_state.new:
                    append(cached)
                    continue
            obj = make(row, where)
            append(obj)
            if not register:
                continue
            # A new object: no rank yet, not among the new ones (they are
            # held strongly, so no live object has its id), not modified.
            obj._rom_session_rank = (epoch, state.next_rank)
            state.next_rank += 1
            loaded = obj._rom_state
            pk = loaded.data[pkey]
            if str(pk) != loaded.last[pkey]:  # read as "007": the row of 7
                key = obj._meta.entity_key(pk)
            ref = _Ref(obj, remove)  # weak.put(key, obj), inline
            ref.key = key
            weak[key] = ref
            if key in dirty:
                del dirty[key]
        return found

    def adopt_replies(
        self,
        model: type[M],
        keys: Sequence[str],
        ids: Sequence[bytes],
        replies: Sequence[Any],
        wheres: Sequence[str] | None = None,
    ) -> list[M]:
        """``adopt`` of rows read as dicts of bytes (HGETALL replies): the
        rows of ``keys``, whose ids are ``ids`` (as sent), each built from the
        reply as read (``RowLoader.from_reply``). ``wheres`` names each row
        in an error (default: its key).

        A row whose id field is not its key's id (in another form, or
        another id) is adopted as ``model._adopt`` does: keyed by its own.
        """
        make = model._rom_loader.from_reply
        pkey = model._pkey.encode()
        for id, raw in zip(ids, replies, strict=True):  # (no generator: hot)
            if raw.get(pkey) != id:
                break
        else:
            return self.adopt(model, keys, replies, make, wheres)
        return [  # one at a time, in order
            self.adopt(model, (key,), (raw,), make, (where,))[0]
            if raw.get(pkey) == id
            else model._adopt(decode_row(raw, where))
            for key, id, raw, where in zip(
                keys, ids, replies, wheres or keys, strict=True
            )
        ]

    def forget(self, obj: Model) -> None:
        """Drop an entity from the map (done by delete)."""
        self._drop(obj, every_copy=False)

    def _evict(self, obj: Model) -> None:
        """Drop every cached copy of ``obj``'s row (done when it is deleted).

        Another object loaded for the same row (after a rollback, say) would
        otherwise still be returned by ``get`` for a row that is gone.
        """
        self._drop(obj, every_copy=True)

    def _drop(self, obj: Model, *, every_copy: bool) -> None:
        state = _state()
        state.new.pop(id(obj), None)
        pk = state_of(obj).data.get(obj._pkey)
        if pk is not None:
            key = obj._meta.entity_key(pk)
            state.dirty.pop(key, None)
            if every_copy or state.weak.entity(key) is obj:
                state.weak.pop(key, None)

    def get(self, pk: str) -> Model | None:
        """Return the cached entity for ``'<ns>:<id>'``, or None."""
        state = _state()
        return state.dirty.get(pk) or state.weak.entity(pk)

    def get_many(self, pks: Iterable[str]) -> list[Model | None]:
        """``get`` of each key, in order, with the session looked up once."""
        state = _state()
        dirty, weak = state.dirty, state.weak
        return [dirty.get(pk) or weak.get(pk, _NO_REF)() for pk in pks]

    def rollback(self) -> None:
        """Forget every cached entity; unsaved changes are not written."""
        state = _state()
        state.dirty.clear()
        state.new.clear()
        state.weak.clear()
        state.epoch = next(_EPOCHS)

    # -- unit of work ---------------------------------------------------------

    def _pending(self, all: bool) -> list[Model]:
        # In the order the entities entered the session (as rom 1.1.2's
        # single map kept them), new and loaded ones alike.
        state = _state()
        entities = list(state.new.values()) + list(state.dirty.values())
        if all:
            seen = {id(e) for e in entities}
            entities += [e for e in state.weak.entities() if id(e) not in seen]
        unranked = (sys.maxsize, 0)
        return sorted(entities, key=lambda e: getattr(e, _RANK, None) or unranked)

    def flush(self, full: bool = False, all: bool = False, force: bool = False) -> int:
        """Save every dirty entity (every cached one with ``all``) in one trip.

        Returns the number of columns written, as ``save`` does.
        """
        return self.save(self._pending(all), full=full, all=all, force=force)

    async def aflush(
        self, full: bool = False, all: bool = False, force: bool = False
    ) -> int:
        """``flush()`` on asyncio (this task's session)."""
        return await self.asave(self._pending(all), full=full, all=all, force=force)

    def commit(self, full: bool = False, all: bool = False, force: bool = False) -> int:
        """``flush``, then stop holding entities strongly."""
        changes = self.flush(full=full, all=all, force=force)
        self._committed()
        return changes

    async def acommit(
        self, full: bool = False, all: bool = False, force: bool = False
    ) -> int:
        """``commit()`` on asyncio (this task's session)."""
        changes = await self.aflush(full=full, all=all, force=force)
        self._committed()
        return changes

    def _committed(self) -> None:
        state = _state()
        state.dirty.clear()
        state.new.clear()
        state.epoch = next(_EPOCHS)

    def save(
        self,
        *objects: Any,
        full: bool | None = None,
        all: bool | None = None,
        force: bool | None = None,
    ) -> int:
        """Save entities (nested lists allowed) that are modified, or ``all``.

        Entities on one connection are written by one script call; the first
        failure stops the rest, as saving them one by one would.
        """
        return run_sync(self.save_steps(*objects, full=full, all=all, force=force))

    async def asave(
        self,
        *objects: Any,
        full: bool | None = None,
        all: bool | None = None,
        force: bool | None = None,
    ) -> int:
        """``save()`` on asyncio."""
        return await run_async(
            self.save_steps(*objects, full=full, all=all, force=force)
        )

    def save_steps(
        self,
        *objects: Any,
        full: bool | None = None,
        all: bool | None = None,
        force: bool | None = None,
    ) -> Steps[int]:
        """``save`` as steps, for either transport."""
        entities = [
            e
            for e in flatten(objects)
            if not state_of(e).deleted and (all or state_of(e).modified)
        ]
        changes = yield from save_entities_steps(
            entities, full=bool(full), force=bool(force)
        )
        return changes

    def delete(self, *objects: Any, force: bool | None = None) -> None:
        """Delete entities (nested lists allowed) in one trip per connection.

        The on_delete policies of their referrers apply, planned for all of
        them together, as ``entity.delete()`` does; with no such references
        to follow, that is the only round trip.
        """
        run_sync(self.delete_steps(*objects, force=force))

    async def adelete(self, *objects: Any, force: bool | None = None) -> None:
        """``delete()`` on asyncio."""
        await run_async(self.delete_steps(*objects, force=force))

    def delete_steps(self, *objects: Any, force: bool | None = None) -> Steps[None]:
        """``delete`` as steps, for either transport."""
        entities = [e for e in flatten(objects) if force or not state_of(e).deleted]
        yield from delete_with_policies_steps(entities)
        for entity in entities:
            self.forget(entity)

    def refresh(self, *objects: Any, force: bool | None = None) -> None:
        """Reload entities from Redis (new ones are only re-registered)."""
        run_sync(self._refresh_steps(objects, force))

    async def arefresh(self, *objects: Any, force: bool | None = None) -> None:
        """``refresh()`` on asyncio."""
        await run_async(self._refresh_steps(objects, force))

    def _refresh_steps(
        self, objects: tuple[Any, ...], force: bool | None
    ) -> Steps[None]:
        for entity in flatten(objects):
            if state_of(entity).new:
                self.add(entity)
            else:
                yield from entity.refresh_steps(force=bool(force))

    def refresh_all(self, force: bool | None = None) -> None:
        """Reload every cached entity."""
        self.refresh(self._pending(True), force=force)

    async def arefresh_all(self, force: bool | None = None) -> None:
        """``refresh_all()`` on asyncio."""
        await self.arefresh(self._pending(True), force=force)


session = Session()


class session_scope:
    """A session for one request or job, discarded when the scope exits.

    ``with rom.session_scope():`` (or ``async with``) gives the code inside
    an empty session of its own: what it commits is written, and whatever
    it leaves uncommitted is dropped on exit (on error too), so it cannot
    be written by the next request's commit in the same worker thread or
    task. The session in force before the scope is back afterwards,
    untouched. Scopes nest.
    """

    def __init__(self) -> None:
        self._tokens: list[Token[_State]] = []

    def __enter__(self) -> Session:
        self._tokens.append(_STATE.set(_State(_owner())))
        return session

    def __exit__(self, *exc: object) -> None:
        _STATE.reset(self._tokens.pop())

    async def __aenter__(self) -> Session:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)
