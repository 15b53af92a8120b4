"""A partitioned model's query: one search plan per partition, and the
merge of the partitions' replies into the one result (pure).

Filters and orders of a partitioned model are built against a template
KeySpace (``rom._search.query_keys``, namespace ``<ns>~P``) that names no
real key; :func:`partition_plans` renames every key of a plan into each
partition's KeySpace (``rekey``). Each partition's plan asks for at most
``offset + count`` results from offset 0, with their order scores
(``SearchPlan.scores``); :func:`merge` sorts the partitions' results the
way search.lua orders one model's results and cuts ``offset``..``count``
out of them:

* by an order key (or a geo distance): by score (descending for ``-col``),
  ties by id as text, ascending (the order of a ZSET's equal scores);
* by several order keys: by each score in turn, then by id as a number;
* by id (no order, or the primary key): by id as a number.

An entity lives in one partition, so the partitions' results never share
an id and a count is their sum.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from ._expiry import expiry_table
from ._keys import KeySpace
from ._meta import ModelInfo
from ._partitions import partition_of
from ._replies import text
from ._search import AffixFilter
from ._search import AllFilter
from ._search import AndFilter
from ._search import AnyFilter
from ._search import Filter
from ._search import GeoFilter
from ._search import NoMatch
from ._search import NotFilter
from ._search import Order
from ._search import OrFilter
from ._search import RangeFilter
from ._search import SearchPlan
from ._search import SetFilter
from ._search import clamp_limit
from ._search import query_keys
from .exceptions import QueryError

__all__ = [
    "cache_keys",
    "cache_writes",
    "merge",
    "merge_page",
    "new_cache",
    "partition_plans",
    "rekey",
]

Rename = Callable[[str], str]


def renamer(info: ModelInfo, part: KeySpace) -> Rename:
    """Renames a key of the template KeySpace into partition ``part``'s;
    refuses any other key (another model's, e.g. a ManyToMany side's
    members SET, which lists ids of every partition)."""
    before = query_keys(info).row_prefix
    after = part.row_prefix

    def rename(key: str) -> str:
        if not key.startswith(before):
            raise QueryError(
                f"{info.name} is partitioned (_partitions = {info.partitions}): "
                f"its queries run in each partition, and cannot read {key!r}, "
                f"a key of another model (filtering by a ManyToMany side is "
                f"not supported on a partitioned model); filter on "
                f"{info.name}'s own indexed columns instead"
            )
        return after + key[len(before) :]

    return rename


def rekey(f: Filter, rename: Rename, part: KeySpace) -> Filter:
    """Filter ``f`` with every key renamed (``rename``) into ``part``."""
    if isinstance(f, (SetFilter, RangeFilter, AffixFilter, GeoFilter)):
        return dataclasses.replace(f, key=rename(f.key))
    if isinstance(f, AnyFilter):
        return AnyFilter(tuple(rename(k) for k in f.keys))
    if isinstance(f, AndFilter):
        return AndFilter(tuple(rekey(p, rename, part) for p in f.parts))
    if isinstance(f, OrFilter):
        return OrFilter(tuple(rekey(p, rename, part) for p in f.parts))
    if isinstance(f, NotFilter):
        universe = rekey(f.universe, rename, part)
        assert isinstance(universe, AllFilter)
        return NotFilter(rekey(f.part, rename, part), universe)
    if isinstance(f, AllFilter):
        return AllFilter(
            None if f.key is None else rename(f.key),
            rename(f.counter),
            rename(f.row_prefix),
            part.id_stride,
            part.id_offset,
        )
    assert isinstance(f, NoMatch)
    return f


def _rekey_order(order: Order, rename: Rename, part: KeySpace) -> Order:
    geo = order.geo
    if geo is not None:
        moved = rekey(geo, rename, part)
        assert isinstance(moved, GeoFilter)
        geo = moved
    key = None if order.key is None else rename(order.key)
    return Order(key, order.desc, geo)


def _scored(plan: SearchPlan) -> bool:
    # Results ordered by something other than their id need its scores.
    if plan.orders:
        return True
    return plan.order is not None and not plan.order.by_id


def nearest(plan: SearchPlan, info: ModelInfo) -> int | None:
    """The N of a ``near(..., count=N)`` filter of ``plan``, which a
    partitioned model answers only alone and ordered by distance (the N
    nearest of all are the N nearest of the partitions' N nearest);
    None without one. Raises QueryError for any other use."""
    counted = [f for f in plan.filters if isinstance(f, GeoFilter) and f.count]
    if not counted:
        return None
    geo = counted[0]
    order = plan.order
    if len(plan.filters) > 1 or plan.orders or order is None or order.geo != geo:
        raise QueryError(
            f"{info.name} is partitioned: near(..., count={geo.count}) keeps the "
            f"{geo.count} nearest entities of each partition, which gives the "
            "nearest of all only as the one filter, ordered by distance; drop "
            "the other filters and order_by(), or use near() without count"
        )
    return geo.count


def partition_plans(plan: SearchPlan, info: ModelInfo) -> list[SearchPlan]:
    """``plan`` (built against ``query_keys(info)``) for each partition:
    keys renamed, offset 0 and count ``offset + count`` (the most one
    partition can add to the result; a count plan as it is), scores
    asked for when the merge needs them."""
    cap = nearest(plan, info)
    offset, count, last = plan.offset, plan.count, plan.last
    scores = False
    if plan.mode != "count":
        offset, count = clamp_limit(0, None if count is None else offset + count)
        scores = plan.mode != "cache" and _scored(plan)
    if cap is not None and last:
        # The last of the N nearest of all: each partition's N nearest.
        count, last = cap, False
    plans = []
    for part in info.parts:
        rename = renamer(info, part)
        plans.append(
            dataclasses.replace(
                plan,
                keys=part,
                filters=tuple(rekey(f, rename, part) for f in plan.filters),
                order=(
                    None
                    if plan.order is None
                    else _rekey_order(plan.order, rename, part)
                ),
                orders=tuple(_rekey_order(o, rename, part) for o in plan.orders),
                offset=offset,
                count=count,
                last=last,
                scores=scores,
                expiry=expiry_table(info, part) if plan.expiry is not None else None,
            )
        )
    return plans


def _sort_key(plan: SearchPlan) -> Callable[[tuple[str, Any]], Any]:
    # The order of search.lua's results as a key of (id, score(s)).
    if plan.orders:
        signs = [-1.0 if o.desc else 1.0 for o in plan.orders]

        def several(item: tuple[str, Any]) -> Any:
            id, scores = item
            values = [s * float(text(v)) for s, v in zip(signs, scores, strict=True)]
            return (*values, int(id))

        return several
    order = plan.order
    if order is not None and not order.by_id:
        sign = -1.0 if order.desc else 1.0
        return lambda item: (sign * float(text(item[1])), item[0])
    sign_id = -1 if order is not None and order.desc else 1
    return lambda item: sign_id * int(item[0])


def _results(plan: SearchPlan, reply: Any) -> list[tuple[str, Any, Any]]:
    # One partition's reply as (id, score(s), result) triples.
    scored = plan.mode != "count" and _scored(plan)
    items, scores = (reply[0], reply[1]) if scored else (reply, [])
    out = []
    for i, item in enumerate(items):
        id = text(item if plan.mode == "ids" else item[0])
        out.append((id, scores[i] if scored else None, item))
    return out


def merge(plan: SearchPlan, replies: Sequence[Any], info: ModelInfo) -> Any:
    """The results of ``plan`` (the unsplit plan) from the replies of its
    ``partition_plans``: merged in the plan's order, then its offset and
    count taken (with ``last``, the last result alone); a count summed."""
    cap = nearest(plan, info)
    if plan.mode == "count":
        total = sum(int(reply) for reply in replies)
        return total if cap is None else min(total, cap)
    found = [r for reply in replies for r in _results(plan, reply)]
    key = _sort_key(plan)
    found.sort(key=lambda r: key((r[0], r[1])))
    if cap is not None:
        found = found[:cap]
    if plan.last:
        return [found[-1][2]] if found else []
    stop = None if plan.count is None else plan.offset + plan.count
    return [r[2] for r in found[plan.offset : stop]]


# -- cached results ----------------------------------------------------------


def new_cache(info: ModelInfo) -> tuple[str, list[str]]:
    """A new cached result of partitioned model ``info``: its handle (the
    key of partition 0's share) and the key of each partition's share,
    ``<partition namespace>:<one uuid4>``."""
    token = str(uuid.uuid4())
    keys = [part.row_prefix + token for part in info.parts]
    return keys[0], keys


def cache_keys(info: ModelInfo, handle: str) -> list[str]:
    """The keys of every partition's share of the cached result ``handle``
    (what ``Query.cached_result`` returned for partitioned model ``info``)."""
    first = info.parts[0].row_prefix
    if not handle.startswith(first):
        raise QueryError(
            f"{handle!r} is not a cached result of {info.name}: a partitioned "
            f"model's cached result is the key {first}<uuid> that "
            f"{info.name}.query...cached_result() returned"
        )
    token = handle[len(first) :]
    return [part.row_prefix + token for part in info.parts]


# ZADD arguments per command: a cached result of many ids is written in
# pieces of this many ids.
_ZADD_CHUNK = 1000


def cache_writes(
    info: ModelInfo, keys: list[str], ids: list[str], ttl: int
) -> tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...]:
    """The commands storing merged ``ids`` (in the query's order) as a
    cached result: each id goes to its partition's share ``keys[i]`` with
    its rank in the whole result as score; each share that got ids
    expires after ``ttl`` seconds."""
    shares: list[dict[str, int]] = [{} for _ in keys]
    count = info.partitions
    for rank, id in enumerate(ids):
        shares[partition_of(id, count)][id] = rank
    commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for key, share in zip(keys, shares, strict=True):
        items = list(share.items())
        for start in range(0, len(items), _ZADD_CHUNK):
            commands.append(
                ("zadd", (key, dict(items[start : start + _ZADD_CHUNK])), {})
            )
        if items:
            commands.append(("expire", (key, ttl), {}))
    return tuple(commands)


def merge_page(replies: Sequence[Any]) -> tuple[int, list[Any]]:
    """One page of a partitioned cached result from page.lua's replies (by
    'score') of every partition's share: how many ids the page had, and
    the rows kept, in the order of their ranks."""
    found: list[tuple[float, Any]] = []
    total = 0
    for reply in replies:
        total += int(reply[0])
        ranks = reply[-1]
        found += [
            (float(text(rank)), row)
            for rank, row in zip(ranks, reply[1:-1], strict=True)
        ]
    found.sort(key=lambda r: r[0])
    return total, [row for _, row in found]
