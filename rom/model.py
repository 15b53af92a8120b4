"""Model: the active-record base class (construction, attributes, save, get)."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import overload

import redis

from . import _expiry
from . import _expiry_reads
from . import _get_or_create
from . import _lookup
from . import _state
from ._classproperty import ClassProperty
from ._io import Steps
from ._io import call
from ._io import run_async
from ._io import run_sync
from ._loader import RowLoader
from ._meta import ModelInfo
from ._meta import build_model_info
from ._on_delete import delete_with_policies
from ._on_delete import delete_with_policies_steps
from ._persist import allocate_id
from ._persist import save_entities
from ._persist import save_entities_steps
from ._registry import register_model
from ._replies import decode_row
from ._replies import reply_row
from ._state import SLOT
from ._state import EntityState
from ._transfer import transfer_steps
from ._unsafe import UnsafeHandle
from ._writer import AttrDict  # noqa: F401 - rom 1.1.2 exported it here
from ._writer import WritePlan
from .columns import Column
from .columns import IndexOnly
from .columns import PrimaryKey
from .connection import connection_for
from .exceptions import EntityDeletedError
from .exceptions import InvalidColumnValue
from .exceptions import InvalidOperation
from .exceptions import MissingColumn
from .query import QueryProperty
from .query import affix_excluding
from .relations import SKIP_ON_DELETE
from .relations import check_related_models
from .relations import register_references
from .relations import relation_columns
from .session import session

if TYPE_CHECKING:
    from typing_extensions import Self

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
elif TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**kwargs: Any) -> Any:
        return lambda cls: cls


__all__ = ["Model"]

# The kinds of column of Model._rom_init.
_VALUE, _INDEX_ONLY, _PRIMARY_KEY = 0, 1, 2


def _init_kind(col: Column[Any]) -> int:
    if isinstance(col, PrimaryKey):
        return _PRIMARY_KEY
    return _INDEX_ONLY if isinstance(col, IndexOnly) else _VALUE


# The collections of ids get() takes (_lookup.ID_COLLECTIONS), for typing.
_IdCollection = list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any]


def _as_list(values: Any) -> list[Any]:
    return list(values) if isinstance(values, (list, tuple, set)) else [values]


@dataclass_transform(kw_only_default=True, field_specifiers=(Column,))
class Model:
    """Base class of rom models: subclass it and declare columns.

    ``Model(**values)`` makes a new entity (its id is taken from
    ``<ns>:<pk>:`` when first needed, normally inside its first save);
    ``Model.get(id)`` and ``Model.get_by(col=value)`` load saved ones.
    """

    _meta: ClassVar[ModelInfo]
    _namespace: ClassVar[str]
    _pkey: ClassVar[str]
    _columns: ClassVar[dict[str, Any]]
    _required: ClassVar[set[str]]
    _index: ClassVar[set[str]]
    _unique: ClassVar[set[str]]
    _prefix: ClassVar[set[str]]
    _suffix: ClassVar[set[str]]
    _cunique: ClassVar[tuple[tuple[str, ...], ...]]
    _geo: ClassVar[dict[str, Any]]
    _no_fk: ClassVar[bool]
    _rom_loader: ClassVar[RowLoader]
    # How a new entity's columns get their first values, in column order:
    # (name, column, kind), kind one of _VALUE, _INDEX_ONLY, _PRIMARY_KEY.
    _rom_init: ClassVar[tuple[tuple[str, Column[Any], int], ...]]
    # The relation columns, whose target models are checked on construction.
    _rom_relations: ClassVar[dict[str, Any]]

    # The entity's state (rom._state.EntityState) is its one slot; the
    # __dict__ is the program's (and the session's order, and prefetches).
    __slots__ = (SLOT, "_rom_session_rank", "__dict__", "__weakref__")
    _rom_state: EntityState
    _rom_session_rank: tuple[int, int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        info = build_model_info(cls)
        cls._meta = info
        cls._rom_loader = RowLoader(info, cls)
        cls._rom_init = tuple(
            (name, col, _init_kind(col))
            for name, col in info.columns.items()
            if isinstance(col, Column)
        )
        cls._rom_relations = relation_columns(info.columns)
        cls._namespace = info.namespace
        cls._pkey = info.pk
        cls._columns = info.columns
        cls._set_compat_attributes(info)
        register_model(cls)
        register_references(info.namespace, info.columns)

    @classmethod
    def _set_compat_attributes(cls, info: ModelInfo) -> None:
        # rom 1.1.2's class attributes, which user code reads.
        columns = [c for c in info.columns.values() if isinstance(c, Column)]
        cls._required = {c.attr for c in columns if c.required}
        cls._index = {c.attr for c in info.indexed if c.index}
        cls._unique = {c.attr for c in info.unique}
        cls._prefix = {c.attr for c in info.indexed if c.prefix}
        cls._suffix = {c.attr for c in info.indexed if c.suffix}
        cls._cunique = info.unique_together
        cls._geo = info.geo
        cls._no_fk = not info.has_relations

    # -- construction ---------------------------------------------------------

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.pop("_loading", False):
            self._rom_state = self._rom_loader.state(decode_row(kwargs))
            session.add(self)
            return
        extra_ok = kwargs.pop("_extra_ok", False)
        bypass = kwargs.pop("_bypass_session_entirely", False)
        info = self._meta
        self._check_kwargs(kwargs, extra_ok or bypass)
        if self._rom_relations:
            check_related_models(info.name, self._rom_relations)
        data: dict[str, Any] = {}
        for name, col, kind in self._rom_init:
            value = kwargs.get(name)
            if kind == _VALUE:
                if value is None:
                    value = col.default_value()
                value = col.validate(value)
                if value is None and col.required:
                    raise MissingColumn(
                        f"{info.name}.{col.attr} cannot be missing: it is "
                        "required and has no default",
                    )
            elif kind == _INDEX_ONLY and value is not None:
                col.validate(value)  # refuses any value, naming the column
                value = None
            else:
                value = None
            data[name] = value
        self._rom_state = EntityState.created(data)
        if not bypass:
            session.add(self)

    def _check_kwargs(self, kwargs: Mapping[str, Any], extra_ok: bool) -> None:
        info = self._meta
        if kwargs.get(info.pk) is not None:
            raise InvalidColumnValue(
                f"Cannot pass primary key on object creation: {info.name} ids "
                f"are allocated by rom (got {info.pk}={kwargs[info.pk]!r})",
                info.name,
                info.pk,
                kwargs[info.pk],
            )
        unknown = sorted(set(kwargs) - set(info.columns))
        if unknown and not extra_ok:
            raise InvalidColumnValue(
                f"Extra columns passed but not valid: {unknown}; {info.name} has "
                f"{sorted(info.columns)} (pass _extra_ok=True to ignore extras)",
                info.name,
                unknown[0],
                kwargs[unknown[0]],
            )

    def _init_loaded(self, row: Mapping[str, str]) -> None:
        self._rom_state = self._rom_loader.state(row)

    @classmethod
    def _from_row(cls, row: Mapping[str, str]) -> Self:
        """A loaded entity for ``row`` (field -> wire text), not in the session."""
        entity: Self = cls._rom_loader.entity(row)
        return entity

    # rom 1.1.2's state attributes, which user code reads (and tests set).

    @property
    def _data(self) -> dict[str, Any]:
        return self._rom_state.data

    @_data.setter
    def _data(self, value: dict[str, Any]) -> None:
        self._rom_state.data = value

    @property
    def _last(self) -> dict[str, str]:
        return self._rom_state.last

    @_last.setter
    def _last(self, value: dict[str, str]) -> None:
        self._rom_state.last = value

    @property
    def _new(self) -> bool:
        return self._rom_state.new

    @_new.setter
    def _new(self, value: bool) -> None:
        self._rom_state.new = value

    @property
    def _modified(self) -> bool:
        return self._rom_state.modified

    @_modified.setter
    def _modified(self, value: bool) -> None:
        self._rom_state.modified = value

    @property
    def _deleted(self) -> bool:
        return self._rom_state.deleted

    @_deleted.setter
    def _deleted(self, value: bool) -> None:
        self._rom_state.deleted = value

    # -- attributes -------------------------------------------------------------

    def _assign(self, col: Column[Any], value: Any) -> None:
        info = self._meta
        if isinstance(col, PrimaryKey):
            raise InvalidOperation(
                f"Cannot update primary key value of {info.name} "
                f"({info.pk} is allocated by rom)"
            )
        if value is None:
            if col.required:
                raise InvalidOperation(
                    f"{info.name}.{col.attr} cannot be null: it is required"
                )
        elif isinstance(col, IndexOnly):
            col.validate(value)
        else:
            value = col.validate(value)
        self._rom_state.assign(col.attr, value)
        session.add(self)

    def _primary_key(self) -> int:
        """The entity's id, allocated from ``<ns>:<pk>:`` on first need."""
        pk = self._rom_state.data.get(self._pkey)
        if pk is None:
            return run_sync(allocate_id(self))
        return pk  # type: ignore[no-any-return]

    def _take_id(self, pk: int) -> None:
        """Record the id just allocated for this new entity."""
        _state.take_id(self, pk)

    @property
    def _pk(self) -> str:
        """``'<ns>:<id>'``: the row key and the session key."""
        return self._meta.entity_key(self._primary_key())

    def _unsafe_handle(self, attr: str) -> UnsafeHandle:
        if self._rom_state.deleted:
            raise ValueError(
                f"{self._meta.name}.{attr}: the entity was deleted, so its "
                "UnsafeColumn key is gone"
            )
        key = self._meta.keys_for(self._primary_key()).unsafe(self._primary_key(), attr)
        return UnsafeHandle(self._connection, key)

    @ClassProperty
    def _connection(cls) -> redis.Redis:
        """The Redis connection this model uses (``_conn``, ``CONN``, global)."""
        return connection_for(cls)

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy of the values (references as entities, unset as None)."""
        values = dict(self._rom_state.data)
        for col in self._meta.references:
            values[col.attr] = getattr(self, col.attr)
        return values

    def update(self, *args: Any, **kwargs: Any) -> Self:
        """Assign positional values in column order, then keyword values."""
        for name, value in zip(self._meta.columns, args, strict=False):
            setattr(self, name, value)
        for name, value in kwargs.items():
            setattr(self, name, value)
        return self

    def copy(self) -> Self:
        """A new, unsaved entity with the same values (and a new id)."""
        values = {
            name: value
            for name, value in self._rom_state.data.items()
            if name != self._pkey
            and not isinstance(self._meta.columns[name], IndexOnly)
        }
        return type(self)(**values)

    def __repr__(self) -> str:
        pk = self._rom_state.data.get(self._pkey)
        return f"<{type(self).__name__} {self._pkey}={pk if pk is not None else 'new'}>"

    # -- writing ----------------------------------------------------------------

    # The write path's transitions (rom._state), kept as methods for code
    # written against rom 1.1.2's internals.

    def _plan_save(self, full: bool, force: bool) -> WritePlan:
        return _state.plan_save(self, full=full, force=force)

    def _plan_delete(self) -> WritePlan:
        return _state.plan_delete(self)

    def _saved(self, plan: WritePlan) -> None:
        _state.settle(self, plan)

    def _was_deleted(self) -> None:
        _state.mark_deleted(self)

    def _describe_unique(self, column: str, value: str) -> str:
        names = column.split(":")
        if len(names) == 1:
            return repr(value)
        data = self._rom_state.data
        return repr(tuple(data.get(name) for name in names))

    def save(self, full: bool = False, force: bool = False) -> int:
        """Write changes in one round trip; return the number of columns written.

        ``full`` rewrites every column; ``force`` also skips the check that
        nobody changed the row since it was read (and re-creates a deleted
        row). Raises UniqueKeyViolation, DataRaceError or EntityDeletedError,
        and then writes nothing.
        """
        self._check_saveable(force)
        return save_entities([self], full=full, force=force)

    async def asave(self, full: bool = False, force: bool = False) -> int:
        """``save()`` on asyncio: the same write, errors and round trips."""
        self._check_saveable(force)
        return await run_async(save_entities_steps([self], full=full, force=force))

    def _check_saveable(self, force: bool) -> None:
        state = self._rom_state
        if state.deleted and not force:
            if state.new:
                name = self._meta.name
                raise EntityDeletedError(
                    f"This {name} was deleted before it was saved, so nothing "
                    f"of it is in Redis; construct a new {name}(...), or use "
                    ".save(force=True) to save it anyway",
                    self._meta.namespace,
                )
            pk = state.data.get(self._pkey)
            key = self._meta.entity_key(pk)
            raise EntityDeletedError(
                f"Entity {key} was deleted by this program; use "
                ".save(force=True) to re-create it",
                self._meta.namespace,
                str(pk),
            )

    def delete(self, **kwargs: Any) -> None:
        """Delete the entity now, applying the on_delete policies of its referrers.

        The whole delete is planned first: a 'restrict' reference anywhere
        in the cascade raises RestrictError before anything is written.
        Cascaded entities get their delete hooks too. A keyword argument
        whose value is ``rom.SKIP_ON_DELETE`` deletes this entity only.
        """
        skip = any(value is SKIP_ON_DELETE for value in kwargs.values())
        delete_with_policies([self], policies=not skip)

    async def adelete(self, **kwargs: Any) -> None:
        """``delete()`` on asyncio: the same policies, hooks and errors."""
        skip = any(value is SKIP_ON_DELETE for value in kwargs.values())
        await run_async(delete_with_policies_steps([self], policies=not skip))

    def transfer(
        self,
        other: Model,
        attr: str,
        value: Any,
        txn_model: Model,
        txn_attr: str,
        decimal_places: int = 0,
        refresh_entities: bool = True,
        refresh_index: bool = True,
    ) -> None:
        """Atomically move ``value`` from ``self.attr`` to ``other.attr``.

        ``txn_model.txn_attr`` is set to 1 in the same step; a transaction
        already marked is refused, as is an amount above ``self.attr``
        (``ValueError``, nothing written).
        """
        run_sync(
            transfer_steps(
                self,
                other,
                attr,
                value,
                txn_model,
                txn_attr,
                decimal_places,
                refresh_entities,
                refresh_index,
            )
        )

    async def atransfer(self, other: Model, *args: Any, **kwargs: Any) -> None:
        """``transfer()`` on asyncio, with the same arguments."""
        await run_async(transfer_steps(self, other, *args, **kwargs))

    def refresh(self, force: bool = False) -> None:
        """Reload the entity from Redis (``force`` discards unsaved changes).

        Raises EntityDeletedError, leaving the object as it was, when the
        row is gone.
        """
        run_sync(self.refresh_steps(force))

    async def arefresh(self, force: bool = False) -> None:
        """``refresh()`` on asyncio."""
        await run_async(self.refresh_steps(force))

    def refresh_steps(self, force: bool = False) -> Steps[None]:
        """``refresh`` as steps, for either transport."""
        state = self._rom_state
        if state.deleted:
            return
        name = self._meta.name
        if state.new and force:
            raise InvalidOperation(f"Cannot refresh a new entity ({name} not saved)")
        if state.modified and not force:
            raise InvalidOperation(
                f"Cannot refresh a modified entity ({name}); save it first, or "
                "pass force=True to discard the changes"
            )
        key = self._pk
        if self._meta.expiring:
            rows = yield from _expiry_reads.read_ids(
                self._connection, self._meta, [self._primary_key()]
            )
            row = rows[0] or {}
        else:
            row = decode_row((yield from call(self._connection, "hgetall", key)), key)
        if not row:
            raise EntityDeletedError(
                f"Entity {key} deleted by another writer; its row is gone "
                "(use .save(force=True) to re-create it)",
                self._meta.namespace,
                str(self._primary_key()),
            )
        state.reload(self._rom_loader.state(row))
        session.add(self)

    async def aload(self, attr: str) -> Any:
        """The value of relationship ``attr``, read with the async client.

        ``await child.aload("parent")`` is ``child.parent`` (a ManyToOne or
        ForeignModel: the entity, or None if it is gone) and
        ``await parent.aload("children")`` is ``parent.children`` (a
        OneToMany: the list of referrers), without blocking the loop. Any
        other attribute is returned as it is.
        """
        column = inspect.getattr_static(type(self), attr, None)
        load = getattr(column, "load_steps", None)
        if load is None:
            return getattr(self, attr)
        return await run_async(load(self))

    # -- expiry (models declaring _ttl, rom/_expiry.py) ------------------------

    def expire(self, when: Any) -> None:
        """Make the entity expire at its next save: ``when`` is seconds or a
        ``timedelta`` from the save (by the server's clock), or a
        ``datetime`` (naive means UTC). Only for a model declaring ``_ttl``."""
        _expiry.check_expiring(self._meta, "expire()")
        _expiry.set_pending(self, _expiry.pending_expiry(self._meta.name, when))
        self._modified = True
        session.add(self)

    def persist(self) -> None:
        """Drop the entity's expiry at its next save (it then never expires)."""
        _expiry.check_expiring(self._meta, "persist()")
        _expiry.set_pending(self, _expiry.PERSIST)
        self._modified = True
        session.add(self)

    def ttl(self) -> float | None:
        """Seconds left before the saved entity expires (by the server's
        clock), None if it has no expiry (or was never saved), 0.0 if it
        expired or is gone. One script call."""
        return run_sync(self._ttl_steps())

    async def attl(self) -> float | None:
        """``ttl()`` on asyncio."""
        return await run_async(self._ttl_steps())

    def _ttl_steps(self) -> Steps[float | None]:
        _expiry.check_expiring(self._meta, "ttl()")
        id = self._data.get(self._pkey)
        if self._new or id is None:
            return None
        left = yield from _expiry_reads.ttl_ms(self._connection, self._meta, id)
        if left == -1:
            return None
        return max(left, 0) / 1000.0

    # -- hooks ------------------------------------------------------------------

    def _before_insert(self) -> None:
        """Called before a new entity is saved; raise to abort the save."""

    def _after_insert(self) -> None:
        """Called after a new entity was saved."""

    def _before_update(self) -> None:
        """Called before an existing entity is saved; raise to abort."""

    def _after_update(self) -> None:
        """Called after an existing entity was saved."""

    def _before_delete(self) -> None:
        """Called before the entity is deleted; raise to abort."""

    def _after_delete(self) -> None:
        """Called after the entity was deleted."""

    # -- loading ------------------------------------------------------------------

    @overload
    @classmethod
    def get(cls, ids: int | str | bytes) -> Self | None: ...

    @overload
    @classmethod
    def get(cls, ids: _IdCollection) -> list[Self]: ...

    @classmethod
    def get(cls, ids: Any) -> Any:
        """Load one entity by id (or None), or a list of ids (missing dropped).

        Cached entities come from the session; the rest are read in one
        round trip.
        """
        return _lookup.get(cls, ids)

    @overload
    @classmethod
    async def aget(cls, ids: int | str | bytes) -> Self | None: ...

    @overload
    @classmethod
    async def aget(cls, ids: _IdCollection) -> list[Self]: ...

    @classmethod
    async def aget(cls, ids: Any) -> Any:
        """``get()`` on asyncio: the same entities, from the same session."""
        return await run_async(_lookup.get_steps(cls, ids))

    @classmethod
    def _adopt(cls, row: Mapping[str, str]) -> Self:
        """The session's entity for a row just read, or a new loaded one."""
        return cls._adopt_all([row])[0]

    @classmethod
    def _adopt_all(cls, rows: Sequence[Mapping[str, str]]) -> list[Self]:
        """``_adopt`` of each row read (in order), with one session look-up."""
        pkey = cls._pkey
        keys = cls._meta.entity_keys([row.get(pkey) for row in rows])
        return session.adopt(cls, keys, rows, cls._rom_loader.entity)

    @classmethod
    def _adopt_rows(cls, rows: Sequence[Sequence[Any]]) -> list[Self]:
        """``_adopt_all`` of rows as rom's scripts return them,
        ``[id, field, value, ...]`` of bytes, built from the reply as read."""
        ids: list[bytes] = []
        raws: list[dict[Any, Any]] = []
        for reply in rows:
            id = reply[0]
            if (
                type(id) is not bytes
                or not id.isdigit()
                or id.startswith(b"0")  # "007": keyed as 7, by _adopt_all
                or len(reply) % 2 == 0
            ):
                # Not the common row (a client that decodes replies...).
                return cls._adopt_all([reply_row(row) for row in rows])
            pairs = iter(reply)
            next(pairs)
            raws.append(dict(zip(pairs, pairs, strict=False)))
            ids.append(id)
        texts = [id.decode() for id in ids]
        keys = cls._meta.entity_keys(texts)
        wheres = [f"the row of id {text}" for text in texts]
        return session.adopt_replies(cls, keys, ids, raws, wheres)

    query = QueryProperty()

    @classmethod
    def does_not_startwith(
        cls, attr: str, values: Any, blocksize: int = 100
    ) -> Iterator[Self]:
        """Entities having a prefix-indexed token that starts with none of values."""
        return affix_excluding(cls, attr, _as_list(values), blocksize, suffix=False)

    @classmethod
    def does_not_endwith(
        cls, attr: str, values: Any, blocksize: int = 100
    ) -> Iterator[Self]:
        """Entities having a suffix-indexed token that ends with none of values."""
        return affix_excluding(cls, attr, _as_list(values), blocksize, suffix=True)

    @classmethod
    def get_by(cls, **kwargs: Any) -> Self | list[Self] | None:
        """Load entities by the primary key, a unique column or a numeric range.

        One value of the primary key or a unique column gives the entity or
        None; a list of values or a range gives a list.

        ``_limit=(offset, count)`` limits range lookups; ``_numeric=True``
        forces the numeric path for an indexed unique column.
        """
        found: Self | list[Self] | None = _lookup.get_by(cls, kwargs)
        return found

    @classmethod
    async def aget_by(cls, **kwargs: Any) -> Self | list[Self] | None:
        """``get_by()`` on asyncio."""
        found: Self | list[Self] | None = await run_async(
            _lookup.get_by_steps(cls, kwargs)
        )
        return found

    # -- create, get_or_create, update_or_create -----------------------------

    @classmethod
    def create(cls, **values: Any) -> Self:
        """A new entity, saved now (one round trip); returns it.

        If the save fails (UniqueKeyViolation, a hook raising) the error
        propagates and the entity is not left pending in the session.
        """
        return _get_or_create.create(cls, values)

    @classmethod
    async def acreate(cls, **values: Any) -> Self:
        """``create()`` on asyncio."""
        return await run_async(_get_or_create.create_steps(cls, values))

    @classmethod
    def get_or_create(
        cls, defaults: Mapping[str, Any] | None = None, **lookup: Any
    ) -> tuple[Self, bool]:
        """``(entity, created)``: the entity whose columns equal ``lookup``,
        else a new one made of ``lookup`` and ``defaults``, saved now.

        With the primary key or a unique column in ``lookup`` it is race
        safe: a creator that loses to another on the unique index reads
        and returns the winner. Other lookups are answered by the columns'
        indexes and may create twice when two programs race; several
        matches raise QueryError.
        """
        return _get_or_create.get_or_create(cls, defaults, lookup)

    @classmethod
    async def aget_or_create(
        cls, defaults: Mapping[str, Any] | None = None, **lookup: Any
    ) -> tuple[Self, bool]:
        """``get_or_create()`` on asyncio."""
        steps = _get_or_create.get_or_create_steps(cls, defaults, lookup)
        return await run_async(steps)

    @classmethod
    def update_or_create(
        cls, defaults: Mapping[str, Any] | None = None, **lookup: Any
    ) -> tuple[Self, bool]:
        """``(entity, created)``: as get_or_create, and an entity found gets
        ``defaults`` assigned and saved (retried on DataRaceError)."""
        return _get_or_create.update_or_create(cls, defaults, lookup)

    @classmethod
    async def aupdate_or_create(
        cls, defaults: Mapping[str, Any] | None = None, **lookup: Any
    ) -> tuple[Self, bool]:
        """``update_or_create()`` on asyncio."""
        steps = _get_or_create.update_or_create_steps(cls, defaults, lookup)
        return await run_async(steps)
