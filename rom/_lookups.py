"""Django-style lookups and Q trees, turned into search filters (pure).

``filter(col__gt=5)``, ``Q(a=1) | ~Q(b__in=[2, 3])`` and ``exclude()``
become the filter nodes of ``rom._search``; nothing here talks to Redis.
A plain ``col=value`` (no lookup) keeps rom 1.1.2's meaning exactly: it
goes to ``filters_for`` unchanged.
"""

from __future__ import annotations

from typing import Any

from ._meta import ModelInfo
from ._q import AND
from ._q import Q
from ._search import AllFilter
from ._search import AndFilter
from ._search import AnyFilter
from ._search import Filter
from ._search import NoMatch
from ._search import NotFilter
from ._search import OrFilter
from ._search import RangeFilter
from ._search import _column
from ._search import _kind
from ._search import filters_for
from ._search import geo_filter
from ._search import pattern_filter
from ._search import prefix_filter
from ._search import query_keys
from ._search import range_bound
from .columns import Column
from .exceptions import QueryError

__all__ = [
    "LOOKUPS",
    "and_of",
    "lookup_filters",
    "negate",
    "or_of",
    "resolve",
    "universe",
]

LOOKUPS = (
    "exact",
    "gt",
    "gte",
    "lt",
    "lte",
    "range",
    "in",
    "isnull",
    "startswith",
    "endswith",
    "like",
    "near",
)
_RANGE_INDEX = (
    "an index that keeps scores: a numeric, date/time or reference column "
    "with index=True, or a String/Text column with keygen=SIMPLE/SIMPLE_CI"
)
_NULL_INDEX = (
    "an index listing every entity that has a value: a numeric, date/time or "
    "reference column with index=True, a Boolean with index=True, or a "
    "String/Text column with keygen=SIMPLE/SIMPLE_CI"
)

# A resolved condition: a filter, or None for "no condition" (everything).
Condition = Filter | None


def universe(info: ModelInfo) -> AllFilter:
    """Every id of the model: its primary-key index, else ids 1..counter."""
    pk = info.columns.get(info.pk)
    keys = query_keys(info)
    key = keys.index(info.pk) if isinstance(pk, Column) and pk.index else None
    return AllFilter(key, keys.counter, keys.row_prefix)


def and_of(parts: list[Condition]) -> Condition:
    """The AND of conditions, simplified (nested ANDs flattened)."""
    found: list[Filter] = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, NoMatch):
            return part
        found += part.parts if isinstance(part, AndFilter) else (part,)
    if not found:
        return None
    return found[0] if len(found) == 1 else AndFilter(tuple(found))


def or_of(parts: list[Condition]) -> Condition:
    """The OR of conditions, simplified (nested ORs flattened)."""
    found: list[Filter] = []
    for part in parts:
        if part is None:
            return None
        if isinstance(part, NoMatch):
            continue
        found += part.parts if isinstance(part, OrFilter) else (part,)
    if not found:
        return NoMatch()
    found = list(dict.fromkeys(found))
    return found[0] if len(found) == 1 else OrFilter(tuple(found))


def negate(info: ModelInfo, part: Condition) -> Condition:
    """NOT ``part``: the model's ids that ``part`` does not match."""
    if part is None:
        return NoMatch()
    if isinstance(part, NoMatch):
        return None
    if isinstance(part, NotFilter):
        return part.part
    return NotFilter(part, universe(info))


def resolve(info: ModelInfo, q: Q) -> Condition:
    """The filter of a Q tree on model ``info`` (None: no condition)."""
    if not q.children:
        return None
    parts: list[Condition] = []
    for child in q.children:
        if isinstance(child, Q):
            parts.append(resolve(info, child))
        else:
            parts.append(and_of(list(lookup_filters(info, *child))))
    found = and_of(parts) if q.connector == AND else or_of(parts)
    return negate(info, found) if q.negated else found


def lookup_filters(info: ModelInfo, key: str, value: Any) -> list[Filter]:
    """The filters of one ``filter()`` keyword: ``col``, or ``col__lookup``."""
    name, sep, op = key.rpartition("__")
    if not sep or not name or op not in LOOKUPS or key in info.columns:
        return filters_for(info, key, value)
    if op == "near":
        return [_near(info, name, value)]
    where = f"{info.name}.{key}"
    if op == "exact":
        return filters_for(info, name, value)
    if op in ("startswith", "endswith"):
        return [prefix_filter(info, name, value, suffix=op == "endswith")]
    if op == "like":
        return [pattern_filter(info, name, value)]
    if op == "isnull":
        return _isnull(info, name, value, where)
    if op == "in":
        return _in(info, name, value, where)
    if op == "range":
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise QueryError(
                f"{where} takes a (low, high) pair (None for an open end), got "
                f"{type(value).__name__}: {value!r}"
            )
        _scored(info, name, where)
        return filters_for(info, name, (value[0], value[1]))
    return [_compare(info, name, op, value, where)]


def _scored(
    info: ModelInfo, name: str, where: str, needed: str = _RANGE_INDEX
) -> Column[Any]:
    """The column of ``name`` if its index keeps scores (a ZSET of ids)."""
    col = _column(info, name, "filter")
    kind = _kind(col, name)
    if not col.index or col.keygen is None or kind == "token":
        has = (
            "no index"
            if not col.index or col.keygen is None
            else f"a token index (keygen {col._keygen_name})"
        )
        raise QueryError(f"{where} needs {needed}; {info.name}.{col.attr} has {has}")
    return col


def _compare(info: ModelInfo, name: str, op: str, value: Any, where: str) -> Filter:
    col = _scored(info, name, where)
    if value is None:
        raise QueryError(
            f"{where} cannot compare with None; use {name}__isnull=True to find "
            "entities without a value"
        )
    if isinstance(value, str) and value.startswith("("):
        raise QueryError(
            f"{where}: the lookup already says whether the end is included; "
            f"pass the number itself, got {value!r}"
        )
    bound = range_bound(where, col, value)
    assert bound is not None
    key = query_keys(info).index(name)
    if op in ("gt", "lt"):
        bound = "(" + bound
    if op in ("gt", "gte"):
        return RangeFilter(key, bound, "+inf")
    return RangeFilter(key, "-inf", bound)


def _in(info: ModelInfo, name: str, value: Any, where: str) -> list[Filter]:
    if isinstance(value, (str, bytes)) or not isinstance(
        value, (list, tuple, set, frozenset)
    ):
        raise QueryError(
            f"{where} takes a list, tuple or set of values, got "
            f"{type(value).__name__}: {value!r}"
        )
    items = list(value)
    if not items:
        return [NoMatch()]
    col = _column(info, name, "filter")
    if _kind(col, name) == "token":
        return filters_for(info, name, items)
    parts: list[Condition] = []
    for item in items:
        if item is None or isinstance(item, (list, tuple, set, dict)):
            raise QueryError(
                f"{where}: each value must be a single value, got {item!r}"
            )
        parts.append(and_of(list(filters_for(info, name, item))))
    found = or_of(parts)
    assert found is not None
    return [found]


def _isnull(info: ModelInfo, name: str, value: Any, where: str) -> list[Filter]:
    if not isinstance(value, bool):
        raise QueryError(f"{where} takes True or False, got {value!r}")
    col = _column(info, name, "filter")
    has: Filter
    if col.index and col._keygen_name == "_boolean_keygen":
        keys = (
            query_keys(info).token(name, "True"),
            query_keys(info).token(name, "False"),
        )
        has = AnyFilter(keys)
    else:
        col = _scored(info, name, where, _NULL_INDEX)
        has = RangeFilter(query_keys(info).index(name), "-inf", "+inf")
    if not value:
        return [has]
    return [NotFilter(has, universe(info))]


def _near(info: ModelInfo, name: str, value: Any) -> Filter:
    if not isinstance(value, (tuple, list)) or len(value) not in (4, 5):
        raise QueryError(
            f"{info.name}.{name}__near takes (lon, lat, distance, unit) or "
            f"(lon, lat, distance, unit, count), got {value!r}"
        )
    lon, lat, distance, unit, *count = value
    return geo_filter(info, name, lon, lat, distance, unit, count[0] if count else None)
