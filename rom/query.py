"""Query: immutable, chainable searches over a model's indexes.

Each method returns a new Query; nothing talks to Redis until a terminal
method (``count``, ``all``, ``first``, iteration, ``cached_result``,
``delete``) runs. ``count``, ``all`` and ``first`` then take one round
trip (a bare query on an unindexed primary key walks the ids instead);
iteration takes one per page.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import replace as _replace_plan
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar
from typing import overload

from . import _expiry_reads
from . import _scripts
from ._cluster import scan_cursor
from ._cluster import scan_target
from ._expiry import expiry_table
from ._io import Command
from ._io import Pipeline
from ._io import Steps
from ._io import call
from ._io import run_async
from ._io import run_sync
from ._keys import KeySpace
from ._lookups import and_of
from ._lookups import lookup_filters
from ._lookups import negate
from ._lookups import resolve
from ._partition_plans import cache_keys
from ._partition_plans import cache_writes
from ._partition_plans import merge
from ._partition_plans import merge_page
from ._partition_plans import new_cache
from ._partition_plans import partition_plans
from ._partition_plans import renamer
from ._prefetch import check_prefetch
from ._prefetch import prefetch_steps
from ._q import Q
from ._replies import text
from ._replies import text_or_none
from ._search import ALLOWED_DIST
from ._search import LIMIT_CAP
from ._search import NOT_NULL
from ._search import AndFilter
from ._search import Filter
from ._search import GeoFilter
from ._search import NoMatch
from ._search import Order
from ._search import RangeFilter
from ._search import SearchPlan
from ._search import check_limit
from ._search import clamp_limit
from ._search import geo_filter
from ._search import order_for
from ._search import pattern_filter
from ._search import prefix_filter
from ._search import query_keys
from .columns import NUMERIC_TYPES
from .columns import Column
from .columns import IndexOnly
from .exceptions import QueryError
from .session import session

if TYPE_CHECKING:
    from .model import Model

__all__ = ["ALLOWED_DIST", "NOT_NULL", "NUMERIC_TYPES", "Query"]

M = TypeVar("M", bound="Model")
# The longest TTL given to a cached result, in seconds (about 68 years).
MAX_TTL = 2**31 - 1
Make = Callable[[list[Any]], Any]
Factory = Callable[[Sequence[str]], Make]
# The commands of a ``Pipeline`` request.
Commands = tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...]


def _dict_data_factory(columns: Sequence[str]) -> Make:
    """``select`` rows as dicts."""
    names = tuple(columns)
    return lambda data: dict(zip(names, data, strict=True))


def _namedtuple_data_factory(columns: Sequence[str]) -> Make:
    """``select`` rows as namedtuples with the column names as fields."""
    row = namedtuple("Row", columns)  # type: ignore[misc]
    return lambda data: row(*data)


def _tuple_data_factory(columns: Sequence[str]) -> Make:
    """``select`` rows as tuples."""
    return tuple


def _list_data_factory(columns: Sequence[str]) -> Make:
    """``select`` rows as lists."""
    return list


def _flat_data_factory(columns: Sequence[str]) -> Make:
    """``select`` rows of one column as the bare value."""
    return lambda data: data[0]


class _Select:
    __slots__ = ("columns", "decode", "factory", "fields", "make")

    def __init__(
        self,
        columns: tuple[str, ...],
        fields: tuple[str, ...],
        decode: bool,
        factory: Factory,
    ) -> None:
        self.columns = columns
        self.fields = fields
        self.decode = decode
        self.factory = factory
        # Made once per query: a namedtuple factory builds one row class.
        self.make = factory(columns)


class Query(Generic[M]):
    """A search over ``model``'s indexes; build it with chained calls.

    ``User.query.filter(age=(18, None)).order_by('-age').limit(0, 10).all()``
    """

    __slots__ = ("_filters", "_limit", "_model", "_order_by", "_prefetch", "_select")

    def __init__(
        self,
        model: type[M],
        filters: tuple[Filter, ...] = (),
        order_by: str | tuple[str, ...] | None = None,
        limit: tuple[int, int | None] | None = None,
        select: _Select | None = None,
        prefetch: tuple[str, ...] = (),
    ) -> None:
        self._model = model
        # The builders pass tuples already: no copy for them.
        self._filters = filters if type(filters) is tuple else tuple(filters)
        self._order_by = order_by
        self._limit = None if limit is None else clamp_limit(*limit)
        self._select = select
        self._prefetch = prefetch

    @property
    def model(self) -> type[M]:
        """The model searched."""
        return self._model

    def replace(self, **kwargs: Any) -> Query[M]:
        """A copy with some of model, filters, order_by, limit, select replaced."""
        known = {"model", "filters", "order_by", "limit", "select", "prefetch"}
        unknown = set(kwargs) - known
        if unknown:
            raise QueryError(f"Query.replace() got unknown fields {sorted(unknown)}")
        return Query(
            kwargs.get("model", self._model),
            kwargs.get("filters", self._filters),
            kwargs.get("order_by", self._order_by),
            kwargs.get("limit", self._limit),
            kwargs.get("select", self._select),
            kwargs.get("prefetch", self._prefetch),
        )

    def __repr__(self) -> str:
        return (
            f"<Query {self._model.__name__} filters={len(self._filters)} "
            f"order_by={self._order_by!r} limit={self._limit!r}>"
        )

    # -- building ----------------------------------------------------------------

    def _with(self, *filters: Filter) -> Query[M]:
        # replace() without its keyword checks: every filter call comes here.
        return Query(
            self._model,
            self._filters + filters,
            self._order_by,
            self._limit,
            self._select,
            self._prefetch,
        )

    def filter(self, *conditions: Q, **kwargs: Any) -> Query[M]:
        """AND these conditions: values, (low, high) ranges, OR-lists, NOT_NULL.

        Keywords also take lookups (``col__gt=5``, ``col__in=[...]``,
        ``col__isnull=True``, ...) and positional ``Q`` trees.
        """
        info = self._model._meta
        if not conditions and len(kwargs) == 1:
            # The common filter(col=value): one keyword, no Q objects.
            for name, value in kwargs.items():
                return self._with(*lookup_filters(info, name, value))
        found: list[Filter] = []
        for condition in self._conditions(conditions):
            # An AND tree is its conditions: filter(Q(a, b)) is filter(a, b).
            if isinstance(condition, AndFilter):
                found += condition.parts
            elif condition is not None:
                found.append(condition)
        for name, value in kwargs.items():
            found += lookup_filters(info, name, value)
        return self._with(*found)

    def startswith(self, **kwargs: Any) -> Query[M]:
        """Entities with an indexed token of ``col`` starting with the value."""
        return self._affixes(kwargs, suffix=False)

    def endswith(self, **kwargs: Any) -> Query[M]:
        """Entities with an indexed token of ``col`` ending with the value."""
        return self._affixes(kwargs, suffix=True)

    def _affixes(self, kwargs: dict[str, Any], suffix: bool) -> Query[M]:
        info = self._model._meta
        return self._with(
            *[prefix_filter(info, n, v, suffix=suffix) for n, v in kwargs.items()]
        )

    def like(self, **kwargs: Any) -> Query[M]:
        """Tokens matching a pattern: ``?`` 0-1, ``*`` 0+, ``+`` 1+, ``!`` 1 char.

        The pattern is anchored at the start of a token; every other
        character matches itself.
        """
        info = self._model._meta
        return self._with(*(pattern_filter(info, n, v) for n, v in kwargs.items()))

    def near(
        self,
        name: str,
        lon: float,
        lat: float,
        distance: float,
        measure: str,
        count: int | None = None,
    ) -> Query[M]:
        """Entities of geo index ``name`` within ``distance`` (m, km, mi, ft)."""
        info = self._model._meta
        return self._with(geo_filter(info, name, lon, lat, distance, measure, count))

    def order_by(self, *columns: str) -> Query[M]:
        """Order by indexed numeric or SIMPLE columns; ``-col`` descends.

        With several columns, ties on one are broken by the next, then by
        id as a number; columns after the primary key are dropped (ids never
        tie); no column clears the order.
        """
        for column in columns:
            order_for(self._model._meta, column)
        names = [column.lstrip("-") for column in columns]
        if self._model._pkey in names:
            columns = columns[: names.index(self._model._pkey) + 1]
        if len(columns) == 1:
            return self.replace(order_by=columns[0])
        return self.replace(order_by=tuple(columns) or None)

    def limit(self, offset: int, count: int | None) -> Query[M]:
        """Skip ``offset`` results and return at most ``count`` (None: all)."""
        return Query(
            self._model,
            self._filters,
            self._order_by,
            check_limit(self._model.__name__, offset, count),
            self._select,
            self._prefetch,
        )

    def select(
        self,
        *column_names: Any,
        include_pk: bool = False,
        decode: bool = True,
        ff: Factory = _dict_data_factory,
    ) -> Query[Any]:
        """Return column data made by ``ff(columns)(values)`` instead of entities."""
        if len(column_names) == 1 and isinstance(column_names[0], (list, tuple)):
            column_names = tuple(column_names[0])
        columns = self._check_select(tuple(column_names))
        pk = self._model._pkey
        fields = columns if pk in columns else (*columns, pk)
        if include_pk and pk not in columns:
            columns = (*columns, pk)
        return self.replace(select=_Select(columns, fields, decode, ff))

    def _check_select(self, names: tuple[Any, ...]) -> tuple[str, ...]:
        info = self._model._meta
        where = f"{info.name}.query.select()"
        if not names:
            raise QueryError(f"{where} needs at least one column name")
        if len(set(names)) != len(names):
            raise QueryError(f"{where} got duplicate columns: {list(names)}")
        for name in names:
            col = info.columns.get(name)
            if not isinstance(col, Column) or isinstance(col, IndexOnly):
                raise QueryError(
                    f"{where}: {name!r} is not a stored column of {info.name}; "
                    f"choose from {[c.attr for c in info.stored]}"
                )
        return names

    # -- planning ----------------------------------------------------------------

    @property
    def _bare(self) -> bool:
        return not self._filters and self._order_by is None

    @property
    def _probe(self) -> bool:
        # No filter and no index listing the ids (order_by the unindexed
        # primary key included): ids come from probing 1..counter.
        if self._filters or self._pk_indexed:
            return False
        return self._order_by is None or self._order().by_id

    def _order(self) -> Order:
        if isinstance(self._order_by, tuple):
            return order_for(self._model._meta, self._order_by[0])
        if self._order_by is not None:
            return order_for(self._model._meta, self._order_by)
        for f in self._filters:
            if isinstance(f, RangeFilter):
                return Order(f.key)
            if isinstance(f, GeoFilter):
                return Order(None, geo=f)
        return Order(None)

    def _plan(self, mode: str, ttl: int = 30, limited: bool = True) -> SearchPlan:
        order = self._order()
        filters = self._filters
        info = self._model._meta
        keys = query_keys(info)
        if not filters:
            assert order is not None
            key = order.key if order.key else keys.index(self._model._pkey)
            filters = (RangeFilter(key, "-inf", "+inf"),)
            # Walking the primary-key index by score is the order by id.
            order = Order(key, order.desc)
        offset, count = self._limit or (0, None)
        if not limited:
            offset, count = 0, None
        fields = self._select.fields if self._select else ()
        return SearchPlan(
            keys,
            filters,
            order,
            offset,
            count,
            mode,
            fields,
            ttl,
            self._orders(),
            expiry=expiry_table(info, keys) if info.expiring else None,
        )

    def _run(self, plan: SearchPlan) -> Steps[Any]:
        script = _scripts.load("search")
        # KEYS[1] is the temporary key: a key of the model's slot; KEYS[2]
        # the slot's probe (never written: no run during a reshard).
        temp = plan.keys.temp()
        conn = self._model._connection
        keys = [temp, plan.keys.probe]
        reply = yield from script.steps(conn, keys, [plan.to_json(temp)])
        return reply

    def _results(self, plan: SearchPlan) -> Steps[Any]:
        # What search.lua answers ``plan``; on a partitioned model, every
        # partition's answer in one pipeline, merged (a count summed).
        if not self._model._meta.partitions:
            return (yield from self._run(plan))
        plans = partition_plans(plan, self._model._meta)
        calls = []
        for part_plan in plans:
            temp = part_plan.keys.temp()
            calls.append(([temp, part_plan.keys.probe], [part_plan.to_json(temp)]))
        script = _scripts.load("search")
        conn = self._model._connection
        replies = yield from script.pipelined_steps(conn, calls)
        return merge(plan, replies, self._model._meta)

    @property
    def _matches_nothing(self) -> bool:
        return any(isinstance(f, NoMatch) for f in self._filters)

    # -- terminal operations -------------------------------------------------

    @property
    def _one_range(self) -> RangeFilter | None:
        # An order_by another index also filters (its entities only): no ZCOUNT.
        f = self._filters[0] if len(self._filters) == 1 else None
        if not isinstance(f, RangeFilter) or isinstance(self._order_by, tuple):
            return None  # every order key filters too: the script counts
        if self._order_by is None:  # ordered by its own filter's key
            return f
        return f if self._order().key in (None, f.key) else None

    def count(self) -> int:
        """The number of matching entities (within ``limit``), in one round trip."""
        return run_sync(self.count_steps())

    async def acount(self) -> int:
        """``count()`` on asyncio."""
        return await run_async(self.count_steps())

    def count_steps(self) -> Steps[int]:
        """``count`` as steps, for either transport."""
        info = self._model._meta
        conn = self._model._connection
        f = None if info.partitions or info.expiring else self._one_range
        if f is not None:
            # One range (the common count): ZCOUNT from here, as search.lua
            # would, minus the plan.
            zcount = (f.key, f.min, f.max)
            return self._within_limit(int((yield Command(conn, "zcount", zcount, {}))))
        if self._matches_nothing:
            return 0
        if info.partitions and not self._probe:
            f = None if info.expiring else self._one_range
            if f is not None:
                # One range: a ZCOUNT per partition, in one pipeline (no script).
                counts: Commands = tuple(
                    ("zcount", (renamer(info, part)(f.key), f.min, f.max), {})
                    for part in info.parts
                )
                replies = yield Pipeline(conn, counts, transaction=False)
                total = sum(int(reply) for reply in replies)
            else:
                plan = self._plan("count", limited=False)
                total = int((yield from self._results(plan)))
        elif self._model._meta.expiring and not self._probe:
            # The script leaves out (and removes) expired entities.
            total = int((yield from self._results(self._plan("count", limited=False))))
        elif self._probe and self._model._meta.expiring:
            total = len(list((yield from self._probe_alive())))
        elif self._probe or self._bare:
            total = yield from self._bare_count()
        else:
            total = int((yield from self._results(self._plan("count", limited=False))))
        return self._within_limit(total)

    def _within_limit(self, total: int) -> int:
        # How many of ``total`` matches the query's limit keeps.
        if self._limit is None:
            return total
        offset, count = self._limit
        total = max(total - offset, 0)
        return total if count is None else min(total, count)

    def all(self) -> list[M]:
        """Every matching entity (or selected row), in order."""
        return run_sync(self.all_steps())

    async def aall(self) -> list[M]:
        """``all()`` on asyncio."""
        return await run_async(self.all_steps())

    def all_steps(self) -> Steps[list[M]]:
        """``all`` as steps, for either transport."""
        if self._matches_nothing:
            return []
        if self._probe:
            probed: list[Any] = []
            window = _Window(self._limit)
            for ids in (yield from self._probe_blocks(100)):
                probed += window.take((yield from self._probe_block(ids)))
                if window.full:
                    break
            return (yield from self._with_related(probed))
        plan = self._plan("select" if self._select else "rows")
        rows = yield from self._results(plan)
        return (yield from self._build(rows))

    execute = all

    def first(self) -> M | None:
        """The first matching entity (or selected row), or None."""
        return run_sync(self.first_steps())

    async def afirst(self) -> M | None:
        """``first()`` on asyncio."""
        return await run_async(self.first_steps())

    def first_steps(self) -> Steps[M | None]:
        """``first`` as steps, for either transport."""
        offset, count = self._limit or (0, None)
        if count == 0:
            return None
        found = yield from self.replace(limit=(offset, 1)).all_steps()
        return found[0] if found else None

    def __iter__(self) -> Iterator[M]:
        return self.iter_result()

    def __aiter__(self) -> AsyncIterator[M]:
        return self.aiter_result()

    async def aiter_result(
        self, timeout: int = 30, pagesize: int = 100
    ) -> AsyncIterator[M]:
        """``iter_result()`` on asyncio: page by page over a cached result."""
        if self._matches_nothing:
            return
        if self._probe:
            window = _Window(self._limit)
            for ids in await run_async(self._probe_blocks(pagesize)):
                found = await run_async(self._probe_block(ids))
                for item in window.take(found):
                    yield item
                if window.full:
                    return
            return
        timeout = min(max(int(timeout), 1), MAX_TTL)
        pagesize = min(max(int(pagesize), 1), LIMIT_CAP)
        key = await run_async(self.cached_result_steps(timeout, _checked=False))
        try:
            offset, remaining = self._limit or (0, None)
            while remaining is None or remaining > 0:
                size = pagesize if remaining is None else min(pagesize, remaining)
                full, page = await run_async(self._page(key, offset, size, timeout))
                for entity in page:
                    yield entity
                if not full:
                    return
                offset += size
                if remaining is not None:
                    remaining -= size
        finally:
            await run_async(self._drop_cached(key))

    def iter_result(
        self, timeout: int = 30, pagesize: int = 100, no_hscan: bool = False
    ) -> Iterator[M]:
        """Iterate page by page over a cached result, deleted at the end."""
        if self._matches_nothing:
            return
        if self._probe:
            yield from self._iter_probe(pagesize)
            return
        timeout = min(max(int(timeout), 1), MAX_TTL)
        key = self.cached_result(timeout, _checked=False)
        try:
            yield from self._pages(key, timeout, min(max(int(pagesize), 1), LIMIT_CAP))
        finally:
            run_sync(self._drop_cached(key))

    def _pages(self, key: str, timeout: int, pagesize: int) -> Iterator[Any]:
        offset, remaining = self._limit or (0, None)
        while remaining is None or remaining > 0:
            size = pagesize if remaining is None else min(pagesize, remaining)
            full, page = run_sync(self._page(key, offset, size, timeout))
            yield from page
            if not full:
                return
            offset += size
            if remaining is not None:
                remaining -= size

    def _page(
        self, key: str, offset: int, size: int, timeout: int
    ) -> Steps[tuple[bool, list[Any]]]:
        # Ranks offset..offset+size-1 of a cached result, built; and whether
        # the page was full (a short page is the last one).
        fields = list(self._select.fields) if self._select else []
        info = self._model._meta
        script = _scripts.load("page")
        if info.partitions:
            # Each partition's share, by rank in the whole result (scores).
            calls = [
                (
                    [share, part.probe],
                    [
                        part.row_prefix,
                        offset,
                        offset + size - 1,
                        timeout,
                        part.expiry if info.expiring else "",
                        "score",
                        *fields,
                    ],
                )
                for share, part in zip(cache_keys(info, key), info.parts, strict=True)
            ]
            replies = yield from script.pipelined_steps(self._model._connection, calls)
            total, rows = merge_page(replies)
            return total >= size, (yield from self._build(rows))
        keyspace = info.keys
        expiry = keyspace.expiry if info.expiring else ""
        args = [
            keyspace.row_prefix,
            offset,
            offset + size - 1,
            timeout,
            expiry,
            "rank",
            *fields,
        ]
        keys = [key, keyspace.probe]
        reply = yield from script.steps(self._model._connection, keys, args)
        built = yield from self._build(reply[1:])
        return int(reply[0]) >= size, built

    def _drop_cached(self, key: str) -> Steps[None]:
        # Delete a cached result: every partition's share of a partitioned one.
        conn = self._model._connection
        info = self._model._meta
        if not info.partitions:
            yield from call(conn, "delete", key)
            return
        drops: Commands = tuple(
            ("delete", (share,), {}) for share in cache_keys(info, key)
        )
        yield Pipeline(conn, drops, transaction=False)

    def cached_result(self, timeout: int, _checked: bool = True) -> str:
        """Store the matching ids in a temporary ZSET and return its key.

        The key expires after ``timeout`` seconds; its ranks follow the
        query's order. ``limit`` is ignored. On a partitioned model each
        partition holds its share (scores: ranks in the whole result) and
        the key returned is partition 0's share (docs/partitioning_queries.rst).
        """
        return run_sync(self.cached_result_steps(timeout, _checked))

    async def acached_result(self, timeout: int) -> str:
        """``cached_result()`` on asyncio."""
        return await run_async(self.cached_result_steps(timeout))

    def cached_result_steps(self, timeout: int, _checked: bool = True) -> Steps[str]:
        """``cached_result`` as steps, for either transport."""
        if _checked and self._bare:
            raise QueryError(
                "You are missing filter or order criteria: cached_result() of a "
                f"bare {self._model.__name__}.query would copy every id"
            )
        try:
            timeout = int(timeout)
        except (TypeError, ValueError):
            raise QueryError(
                f"cached_result() timeout must be an int, got {timeout!r}"
            ) from None
        if timeout < 1:
            raise QueryError(f"cached_result() timeout must be >= 1, got {timeout}")
        # Redis refuses TTLs past its 64-bit millisecond clock; ~68 years
        # is "never" for a cached result.
        timeout = min(timeout, MAX_TTL)
        if self._probe:
            raise QueryError(
                f"cached_result() of {self._model.__name__}.query ordered by "
                f"{self._model._pkey} needs a filter, or index=True on the primary key"
            )
        info = self._model._meta
        if self._matches_nothing:
            return new_cache(info)[0] if info.partitions else info.keys.temp()
        if info.partitions:
            # The merged ids, then each partition's share of them written.
            plan = self._plan("ids", ttl=timeout, limited=False)
            ids = [text(id) for id in (yield from self._results(plan))]
            handle, shares = new_cache(info)
            writes = cache_writes(info, shares, ids, timeout)
            if writes:
                yield Pipeline(self._model._connection, writes, transaction=False)
            return handle
        key = yield from self._run(self._plan("cache", ttl=timeout, limited=False))
        return text(key)

    def delete(self, blocksize: int = 100) -> int:
        """Delete every matching entity, ``blocksize`` at a time; return how
        many matched and were deleted (entities cascaded to not counted).

        Hooks run and the on_delete policies of referrers apply, per chunk,
        as in ``session.delete()``.
        """
        return run_sync(self._delete_steps(blocksize))

    async def adelete(self, blocksize: int = 100) -> int:
        """``delete()`` on asyncio."""
        return await run_async(self._delete_steps(blocksize))

    def _delete_steps(self, blocksize: int) -> Steps[int]:
        def delete(chunk: list[Any]) -> Steps[None]:
            yield from session.delete_steps(chunk)

        return (yield from self._each_chunk_steps(blocksize, delete))

    # -- update, values, values_list ------------------------------------------

    def _each_chunk_steps(
        self, blocksize: int, run: Callable[[list[Any]], Steps[None]]
    ) -> Steps[int]:
        # The matching entities, ``blocksize`` at a time, from a cached result
        # taken first: writes to them do not move them in or out of it.
        blocksize = max(int(blocksize), 1)
        query = self.replace(select=None)
        if query._matches_nothing:
            return 0
        if query._probe:  # no cached result without an index to take it from
            found = yield from query.all_steps()
            for start in range(0, len(found), blocksize):
                yield from run(found[start : start + blocksize])
            return len(found)
        key = yield from query.cached_result_steps(30, _checked=False)
        done = 0
        try:
            while True:
                full, chunk = yield from query._page(key, done, blocksize, 30)
                if chunk:
                    yield from run(chunk)
                done += len(chunk)
                if not full:
                    return done
        finally:
            yield from self._drop_cached(key)

    def update(self, **values: Any) -> int:
        """Assign ``values`` to every matching entity and save it; return how
        many were saved.

        The same as loading each entity, assigning and saving it, 100 at a
        time: each entity is written atomically (one script call per 100),
        its ``_before_update``/``_after_update`` hooks run, only changed
        columns are written, and a column another writer changed since the
        read raises DataRaceError (the entities before it stay written).
        Unsaved changes the session holds for a matching entity are saved
        too. Values are checked before anything is read or written.
        """
        return run_sync(self.update_steps(values))

    async def aupdate(self, **values: Any) -> int:
        """``update()`` on asyncio."""
        return await run_async(self.update_steps(values))

    def update_steps(self, values: dict[str, Any]) -> Steps[int]:
        """``update`` as steps, for either transport."""
        info = self._model._meta
        for name, value in values.items():
            col = info.columns.get(name)
            if not isinstance(col, Column) or name == info.pk:
                raise QueryError(
                    f"{info.name}.query.update(): {name!r} is not a column that "
                    f"can be assigned; choose from "
                    f"{[c.attr for c in info.stored if c.attr != info.pk]}"
                )
            if value is None and col.required:
                raise QueryError(
                    f"{info.name}.query.update({name}=None): {name} is required"
                )
            if value is not None:
                col.validate(value)

        def save(chunk: list[Any]) -> Steps[None]:
            for entity in chunk:
                entity.update(**values)
            yield from session.save_steps(chunk)

        return (yield from self._each_chunk_steps(100, save))

    def prefetch(self, *names: str) -> Query[M]:
        """Also load these relations of the result, at most one more round trip.

        ``names`` are ManyToOne/OneToOne columns (the entity is loaded into
        the column), OneToMany and ManyToMany sides (their lists are kept on
        each entity: ``post.comments`` and ``post.tags.all()`` answer from
        them, as of when the query ran). Rows join the session.
        """
        if self._select is not None:
            raise QueryError(
                f"{self._model.__name__}.query.prefetch() loads entities; it "
                "cannot be combined with select()/values()"
            )
        checked = check_prefetch(self._model, names)
        return self.replace(prefetch=tuple(dict.fromkeys(self._prefetch + checked)))

    def _with_related(self, entities: list[Any]) -> Steps[list[Any]]:
        if self._prefetch and self._select is None:
            yield from prefetch_steps(self._model, entities, self._prefetch)
        return entities

    def values(self, *column_names: str) -> Query[M]:
        """The query returning dicts of these columns (``select``)."""
        return self.select(*column_names)

    def values_list(self, *column_names: str, flat: bool = False) -> Query[M]:
        """The query returning tuples of these columns, or with ``flat=True``
        and one column, the bare values (``select``)."""
        if flat and len(column_names) != 1:
            raise QueryError(
                f"{self._model.__name__}.query.values_list(flat=True) takes one "
                f"column, got {list(column_names)}"
            )
        factory = _flat_data_factory if flat else _tuple_data_factory
        return self.select(*column_names, ff=factory)

    # -- exclude, Q trees, several order keys, slicing, exists, last ---------

    def exclude(self, *conditions: Q, **kwargs: Any) -> Query[M]:
        """Drop the entities matching ALL these conditions (``filter``'s forms).

        ``exclude(a=1, b=2)`` drops entities where a is 1 and b is 2; chain
        ``exclude()`` calls (or use ``~Q(...)``) to drop either.
        """
        info = self._model._meta
        parts = list(self._conditions(conditions))
        for name, value in kwargs.items():
            parts.append(and_of(list(lookup_filters(info, name, value))))
        if not parts:
            return self
        found = negate(info, and_of(parts))
        return self if found is None else self._with(found)

    def _conditions(self, conditions: Sequence[Any]) -> Iterator[Filter | None]:
        info = self._model._meta
        for condition in conditions:
            if not isinstance(condition, Q):
                raise QueryError(
                    f"{info.name}.query.filter()/exclude() take Q objects as "
                    f"positional arguments, got {type(condition).__name__}: "
                    f"{condition!r}; pass conditions as keywords or wrap them in Q()"
                )
            yield resolve(info, condition)

    def _orders(self) -> tuple[Order, ...]:
        if not isinstance(self._order_by, tuple):
            return ()
        info = self._model._meta
        return tuple(order_for(info, name) for name in self._order_by)

    def exists(self) -> bool:
        """True if the query matches at least one entity (one round trip)."""
        return run_sync(self.exists_steps())

    async def aexists(self) -> bool:
        """``exists()`` on asyncio."""
        return await run_async(self.exists_steps())

    def exists_steps(self) -> Steps[bool]:
        """``exists`` as steps, for either transport."""
        offset, count = self._limit or (0, None)
        if count == 0 or self._matches_nothing:
            return False
        if self._probe:
            return (yield from self.first_steps()) is not None
        pk = self._model._pkey
        probe = self.replace(limit=(offset, 1), select=None)._plan("select")
        return bool((yield from self._results(_replace_plan(probe, fields=(pk,)))))

    def last(self) -> M | None:
        """The last entity (or selected row) in the query's order, or None.

        One round trip; the order is the one ``all()`` returns, read from its
        end. A limited or sliced query cannot be reversed: call ``last()``
        before ``limit()`` or slicing.
        """
        return run_sync(self.last_steps())

    async def alast(self) -> M | None:
        """``last()`` on asyncio."""
        return await run_async(self.last_steps())

    def last_steps(self) -> Steps[M | None]:
        """``last`` as steps, for either transport."""
        if self._limit is not None:
            raise QueryError(
                f"{self._model.__name__}.query.last() of a limited or sliced "
                f"query (limit={self._limit!r}) is ambiguous; call last() on "
                "the query before limit() or slicing"
            )
        if self._matches_nothing:
            return None
        if self._probe:
            # Ordered by id without an id index: the first of the reverse.
            flipped = ("" if self._order().desc else "-") + self._model._pkey
            return (yield from self.replace(order_by=flipped).first_steps())
        plan = self._plan("select" if self._select else "rows")
        rows = yield from self._results(_replace_plan(plan, last=True))
        found = yield from self._build(rows)
        return found[0] if found else None

    @overload
    def __getitem__(self, index: int) -> M: ...

    @overload
    def __getitem__(self, index: slice) -> Query[M]: ...

    def __getitem__(self, index: int | slice) -> M | Query[M]:
        """``q[5]``: one entity (IndexError past the end); ``q[10:20]``: a Query.

        Indexes count within any earlier ``limit`` or slice; negative
        indexes and steps are refused (QueryError).
        """
        offset, count = self._limit or (0, None)
        name = self._model.__name__
        if isinstance(index, slice):
            start, stop, step = index.start, index.stop, index.step
            for part in (start, stop):
                if part is not None and (
                    not isinstance(part, int) or isinstance(part, bool) or part < 0
                ):
                    raise QueryError(
                        f"{name}.query[{start}:{stop}]: slice bounds must be ints "
                        f">= 0 (negative indexes would need the count first); got "
                        f"{part!r}"
                    )
            if step not in (None, 1):
                raise QueryError(f"{name}.query[::{step}]: steps are not supported")
            start = start or 0
            size = None if stop is None else max(stop - start, 0)
            if count is not None:
                left = max(count - start, 0)
                size = left if size is None else min(size, left)
            return self.limit(offset + start, size)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise QueryError(
                f"{name}.query[{index!r}]: an index must be an int >= 0 "
                "(negative indexes are not supported; use last())"
            )
        if count is not None and index >= count:
            raise IndexError(f"{name}.query[{index}] is past the query's limit")
        found = self.limit(offset + index, 1).all()
        if not found:
            raise IndexError(f"{name}.query[{index}]: the query has fewer results")
        return found[0]

    def __bool__(self) -> bool:
        """True if the query matches an entity: ``exists()``, one round trip."""
        return self.exists()

    def __len__(self) -> int:
        raise TypeError(
            f"len() of a {self._model.__name__}.query would hide a round trip; "
            "call .count() (one round trip) or len(query.all())"
        )

    # -- results ---------------------------------------------------------------

    def _build(self, rows: list[Any]) -> Steps[list[Any]]:
        if self._select is not None:
            return [self._selected(row) for row in rows]
        built = self._model._adopt_rows(rows)
        return (yield from self._with_related(built))

    def _selected(self, row: list[Any]) -> Any:
        select = self._select
        assert select is not None
        values = {
            f: text_or_none(v) for f, v in zip(select.fields, row[1:], strict=True)
        }
        make = select.make
        if not select.decode:
            return make([values.get(c) for c in select.columns])
        entity = self._model._from_row(
            {k: v for k, v in values.items() if v is not None}
        )
        return make([getattr(entity, c) for c in select.columns])

    @property
    def _pk_indexed(self) -> bool:
        pk = self._model._meta.columns[self._model._pkey]
        return isinstance(pk, Column) and pk.index

    def _bare_count(self) -> Steps[int]:
        conn = self._model._connection
        info = self._model._meta
        if info.partitions:
            if self._pk_indexed:
                cards: Commands = tuple(
                    ("zcard", (part.index(info.pk),), {}) for part in info.parts
                )
                replies = yield Pipeline(conn, cards, transaction=False)
                return sum(int(reply) for reply in replies)
            counted = 0
            for part in info.parts:
                counted += yield from self._scan_count(part)
            return counted
        if self._pk_indexed:
            return int((yield from call(conn, "zcard", info.keys.index(info.pk))))
        return (yield from self._scan_count(info.keys))

    def _scan_count(self, keys: KeySpace) -> Steps[int]:
        # The rows of ``keys``: SCAN until the cursor comes back to 0, as
        # redis-py's scan_iter.
        conn = self._model._connection
        counted, cursor = 0, 0
        while True:
            reply, found = yield from call(
                conn,
                "scan",
                cursor,
                match=keys.scan_pattern,
                count=1000,
                **scan_target(conn, keys),
            )
            cursor = scan_cursor(reply)
            counted += sum(1 for key in found if keys.row_id(text(key)) is not None)
            if cursor == 0:
                return counted

    def _refuse_partitioned_probe(self) -> None:
        info = self._model._meta
        if info.partitions and info.expiring:
            raise QueryError(
                f"{info.name}.query without a filter walks the ids of each "
                f"partition, which an expiring partitioned model does not "
                f"support; declare {info.name}.{info.pk} with index=True, or "
                "add a filter"
            )

    def _probe_alive(self) -> Steps[list[int]]:
        # The ids 1..counter of an expiring model whose entity is alive.
        self._refuse_partitioned_probe()
        conn = self._model._connection
        info = self._model._meta
        last = int((yield from call(conn, "get", info.keys.counter)) or 0)
        alive: list[int] = []
        for start in range(1, last + 1, 1000):
            ids = list(range(start, min(start + 1000, last + 1)))
            ttls = yield from _expiry_reads.ttl_block(conn, info, ids)
            alive += [i for i, left in zip(ids, ttls, strict=True) if left != -2]
        return alive

    def _iter_probe(self, blocksize: int) -> Iterator[Any]:
        window = _Window(self._limit)
        for ids in run_sync(self._probe_blocks(blocksize)):
            yield from window.take(run_sync(self._probe_block(ids)))
            if window.full:
                return

    def _probe_blocks(self, blocksize: int) -> Steps[list[list[int]]]:
        # Without an index on the primary key the only list of ids is the
        # counter: probe 1..counter in blocks, skipping ids with no row.
        self._refuse_partitioned_probe()
        info = self._model._meta
        conn = self._model._connection
        blocksize = max(blocksize, 1)
        desc = self._order_by is not None and self._order().desc
        every: Sequence[int]
        if info.partitions:
            # Partition i's counter n stands for the ids n * P + i, 1..n.
            gets: Commands = tuple(("get", (part.counter,), {}) for part in info.parts)
            counters = yield Pipeline(conn, gets, transaction=False)
            every = sorted(
                (
                    n * part.id_stride + part.id_offset
                    for part, counter in zip(info.parts, counters, strict=True)
                    for n in range(1, int(counter or 0) + 1)
                ),
                reverse=desc,
            )
        else:
            last = int((yield from call(conn, "get", info.keys.counter)) or 0)
            every = range(last, 0, -1) if desc else range(1, last + 1)
        return [
            list(every[start : start + blocksize])
            for start in range(0, len(every), blocksize)
        ]

    def _probe_block(self, ids: list[int]) -> Steps[list[Any]]:
        # The entities (or selected rows) of these ids that have a row.
        if self._select:
            return (yield from self._selected_rows(ids))
        from ._lookup import get_steps  # _lookup imports this module

        found = yield from get_steps(self._model, ids)
        assert isinstance(found, list)
        return found

    def _selected_rows(self, ids: list[int]) -> Steps[list[Any]]:
        # select() reads what is stored, not the session's (maybe unsaved)
        # entities: one HMGET per id, in one transaction, missing rows dropped.
        select = self._select
        assert select is not None
        info = self._model._meta
        if info.expiring:
            # Whole rows by the expiring read (expired ones left out).
            rows = yield from _expiry_reads.read_ids(
                self._model._connection, self._model._meta, ids
            )
            return [
                self._selected([i, *(row.get(f) for f in select.fields)])
                for i, row in zip(ids, rows, strict=True)
                if row and any(row.get(f) is not None for f in select.fields)
            ]
        reads: Commands = tuple(
            ("hmget", (key, list(select.fields)), {}) for key in info.entity_keys(ids)
        )
        # One transaction in one slot; a partitioned model's rows span many.
        one_slot = not info.partitions
        replies = yield Pipeline(self._model._connection, reads, transaction=one_slot)
        return [
            self._selected([i, *values])
            for i, values in zip(ids, replies, strict=True)
            if any(v is not None for v in values)
        ]


class _Window:
    """The part of a stream of results within a query's ``limit``."""

    def __init__(self, limit: tuple[int, int | None] | None) -> None:
        self.offset, self.remaining = limit or (0, None)

    @property
    def full(self) -> bool:
        """True once the limit's count was taken."""
        return self.remaining == 0

    def take(self, items: list[Any]) -> list[Any]:
        """The items of this block within the limit, in order."""
        skipped = min(self.offset, len(items))
        self.offset -= skipped
        taken = items[skipped:]
        if self.remaining is not None:
            taken = taken[: self.remaining]
            self.remaining -= len(taken)
        return taken


class QueryProperty:
    """``Model.query``: a new ``Query[ThatModel]`` on class or instance access.

    Typed by the class it is read from, so ``User.query.all()`` is
    ``list[User]`` for type checkers.
    """

    def __get__(self, instance: object | None, owner: type[M]) -> Query[M]:
        return Query(owner)


def affix_excluding(
    model: Any, attr: str, values: Sequence[Any], blocksize: int, *, suffix: bool
) -> Iterator[Any]:
    """Entities with a :pre (or :suf) token that starts with none of ``values``.

    Values must be normalised as the index is (e.g. lowercased); for
    ``suffix`` they are given unreversed.
    """
    info = model._meta
    col = info.columns.get(attr)
    if not isinstance(col, Column) or not (col.suffix if suffix else col.prefix):
        kind = "suffix" if suffix else "prefix"
        raise QueryError(f"{info.name}.{attr} has no {kind} index ({kind}=True)")
    excluded = [_affix_text_value(v, suffix) for v in values]
    key = info.keys.suffix(attr) if suffix else info.keys.prefix(attr)
    conn = model._connection
    seen: set[str] = set()
    batch: list[str] = []
    for member, _ in conn.zscan_iter(key, count=max(blocksize, 10)):
        token, _, id = text(member).rpartition("\0")
        if id in seen or any(token.startswith(p) for p in excluded):
            continue
        seen.add(id)
        batch.append(id)
        if len(batch) >= blocksize:
            yield from model.get(batch)
            batch = []
    if batch:
        yield from model.get(batch)


def _affix_text_value(value: Any, suffix: bool) -> str:
    text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return text[::-1] if suffix else text
