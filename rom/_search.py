"""Turn query arguments into index filters, and filters into one search plan (pure).

Every check happens here, before Redis is asked anything: a filter on a
column without an index, a value of the wrong kind, a keygen that cannot
answer, an unsortable order or a bad limit raise QueryError naming the
model, the column and the fix (a bad ``near()`` raises ValueError, as in
rom 1.1.2).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re
import string
from dataclasses import dataclass
from typing import Any

from ._keys import KeySpace
from ._meta import SORTABLE_STRING_KEYGENS
from ._meta import TOKEN_KEYGENS
from ._meta import ModelInfo
from .columns import NUMERIC_TYPES
from .columns import Column
from .columns import PrimaryKey
from .columns import String
from .exceptions import QueryError
from .keygen import LOWERCASE_QUERY_KEYGENS
from .keygen import affix_score
from .keygen import dt2ts
from .keygen import numeric_score
from .keygen import t2ts
from .relations import _Reference
from .relations import reference_id

__all__ = [
    "ALLOWED_DIST",
    "NOT_NULL",
    "AffixFilter",
    "AllFilter",
    "AndFilter",
    "AnyFilter",
    "Filter",
    "GeoFilter",
    "NoMatch",
    "NotFilter",
    "OrFilter",
    "Order",
    "RangeFilter",
    "SearchPlan",
    "SetFilter",
    "filters_for",
    "geo_filter",
    "order_for",
    "pattern_filter",
    "prefix_filter",
    "query_keys",
    "range_bound",
]

NOT_NULL = (None, None)
ALLOWED_DIST = ("m", "km", "mi", "ft")
_NUMERIC_KEYGENS = frozenset({"_numeric_keygen", "_many_to_one_keygen"})
# The score syntax accepted for range endpoints: a subset of what Redis's
# strtod-based parser takes, on which Python's float() agrees with it (no
# NaN, whitespace, "_", hex or empty text).
_REDIS_DOUBLE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf(?:inity)?))\Z"
)
# The latitudes a geo index can hold (Web Mercator), as GEOADD/GEOSEARCH check.
_GEO_LAT_LIMIT = 85.05112878
_WILDCARDS = "?*+!"
# The longest like() pattern, in characters: the matcher's work per candidate
# token is at most (token characters + 1) * (pattern items) steps.
MAX_LIKE_CHARS = 250


def query_keys(info: ModelInfo) -> KeySpace:
    """The KeySpace filters and orders are built against: the model's own
    (``info.keys``); for a partitioned model a template, namespace
    ``<ns>~P``, that names no real key: ``rom._partition_plans.rekey``
    renames its keys into each partition's before anything is sent."""
    if info.partitions:
        return _template_keys(info.namespace, info.pk)
    return info.keys


@functools.cache
def _template_keys(namespace: str, pk: str) -> KeySpace:
    return KeySpace(f"{namespace}~P", pk)


# -- filter nodes (what search.lua evaluates) -------------------------------


@dataclass(frozen=True, slots=True)
class SetFilter:
    """Members of one token SET (or ZSET)."""

    key: str

    def to_plan(self) -> dict[str, Any]:
        return {"kind": "set", "key": self.key}


@dataclass(frozen=True, slots=True)
class AnyFilter:
    """Members of any of several token SETs (an OR-list)."""

    keys: tuple[str, ...]

    def to_plan(self) -> dict[str, Any]:
        return {"kind": "any", "keys": list(self.keys)}


@dataclass(frozen=True, slots=True)
class RangeFilter:
    """Members of a numeric ZSET whose score is within ``min``..``max``.

    Bounds are Redis score syntax: ``'5'`` inclusive, ``'(5'`` exclusive,
    ``'-inf'``/``'+inf'`` open.
    """

    key: str
    min: str
    max: str

    def to_plan(self) -> dict[str, Any]:
        return {"kind": "range", "key": self.key, "min": self.min, "max": self.max}


# One item of a like() pattern for search.lua: a run of literal text, or a
# gap of (at least, at most) characters, at most -1 meaning no limit.
LikeItem = str | tuple[int, int]


@dataclass(frozen=True, slots=True)
class AffixFilter:
    """Ids whose :pre/:suf token starts with ``prefix`` and matches ``pattern``.

    ``pattern`` holds what follows ``prefix``: runs of literal text and gaps
    of (at least, at most) characters (see ``like_items``). ``extra`` holds
    more score windows to
    scan besides ``start``..``end`` (tokens whose score was computed another
    way, see ``affix_windows``).
    """

    key: str
    start: str
    end: str
    prefix: str = ""
    pattern: tuple[LikeItem, ...] | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def to_plan(self) -> dict[str, Any]:
        plan: dict[str, Any] = {
            "kind": "affix",
            "key": self.key,
            "start": self.start,
            "end": self.end,
            "prefix": self.prefix,
        }
        if self.extra:
            plan["windows"] = [[self.start, self.end], *map(list, self.extra)]
        if self.pattern is not None:
            plan["pattern"] = list(self.pattern)
        return plan


@dataclass(frozen=True, slots=True)
class GeoFilter:
    """Members of a geo index within ``radius`` of a point (scores: distances)."""

    key: str
    lon: float
    lat: float
    radius: float
    unit: str
    count: int | None

    def to_plan(self) -> dict[str, Any]:
        return {
            "kind": "geo",
            "key": self.key,
            "lon": repr(self.lon),
            "lat": repr(self.lat),
            "radius": repr(self.radius),
            "unit": self.unit,
            "count": self.count or False,
        }


@dataclass(frozen=True, slots=True)
class NoMatch:
    """A filter that matches nothing (e.g. a word search with no words)."""

    def to_plan(self) -> dict[str, Any]:
        raise AssertionError("NoMatch is answered without Redis")


@dataclass(frozen=True, slots=True)
class AllFilter:
    """Every id of the model (the set a negation subtracts from).

    With an indexed primary key it is that ZSET (``key``); otherwise the
    script probes ids 1..``<ns>:<pk>:`` (the counter) for an existing row,
    which costs one EXISTS per id ever allocated.
    """

    key: str | None
    counter: str
    row_prefix: str
    # A partition's ids: ``n * stride + offset`` for n = 1..counter.
    stride: int = 1
    offset: int = 0

    def to_plan(self) -> dict[str, Any]:
        if self.key is not None:
            return {"kind": "all", "key": self.key}
        plan: dict[str, Any] = {
            "kind": "all",
            "counter": self.counter,
            "prefix": self.row_prefix,
        }
        if self.stride != 1:
            plan["stride"] = self.stride
            plan["offset"] = self.offset
        return plan


@dataclass(frozen=True, slots=True)
class AndFilter:
    """Ids matched by every part (parts may be negations)."""

    parts: tuple[Filter, ...]

    def to_plan(self) -> dict[str, Any]:
        return {"kind": "and", "of": [p.to_plan() for p in self.parts]}


@dataclass(frozen=True, slots=True)
class OrFilter:
    """Ids matched by any part."""

    parts: tuple[Filter, ...]

    def to_plan(self) -> dict[str, Any]:
        return {"kind": "or", "of": [p.to_plan() for p in self.parts]}


@dataclass(frozen=True, slots=True)
class NotFilter:
    """Ids of ``universe`` that ``part`` does not match.

    Inside an AND with other parts the script subtracts ``part`` from what
    the others matched (ZDIFFSTORE); ``universe`` is only read when nothing
    else narrows the result first.
    """

    part: Filter
    universe: AllFilter

    def to_plan(self) -> dict[str, Any]:
        return {
            "kind": "not",
            "of": self.part.to_plan(),
            "all": self.universe.to_plan(),
        }


Filter = (
    SetFilter
    | AnyFilter
    | RangeFilter
    | AffixFilter
    | GeoFilter
    | NoMatch
    | AndFilter
    | OrFilter
    | NotFilter
    | AllFilter
)


@dataclass(frozen=True, slots=True)
class Order:
    """How results are ordered: by a ZSET's scores, by distance, or by id."""

    key: str | None
    desc: bool = False
    geo: GeoFilter | None = None

    @property
    def by_id(self) -> bool:
        return self.key is None and self.geo is None


# -- the plan ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """One call of search.lua: filters, order, limits and what to return."""

    keys: KeySpace
    filters: tuple[Filter, ...]
    order: Order | None
    offset: int
    count: int | None
    mode: str
    fields: tuple[str, ...] = ()
    ttl: int = 30
    # Two or more order keys: sorted by each in turn, then by id as a number.
    orders: tuple[Order, ...] = ()
    # Return only the last result of the order (``Query.last()``).
    last: bool = False
    # An expiring model's key table (rom/_expiry.py expiry_table): the
    # script removes expired entities and never returns one.
    expiry: dict[str, object] | None = None
    # Return each result's order score(s) too (a partition's share of a
    # partitioned model's query, merged by rom/_partition_plans.py).
    scores: bool = False

    def to_json(self, temp: str | None = None) -> str:
        """The plan as ``search.lua`` takes it (ARGV[1]); ``temp`` is its
        temporary key (``KeySpace.temp``, a fresh one if not given), which
        the caller also declares as KEYS[1]."""
        temp = self.keys.temp() if temp is None else temp
        if (
            self.orders
            or self.last
            or self.expiry is not None
            or self.scores
            or (self.order is not None and self.order.geo is not None)
        ):
            return _PLAN_JSON.encode(self.to_body(temp))
        return self._common_json(temp)

    def _common_json(self, temp: str) -> str:
        # ``_PLAN_JSON.encode(self.to_body(temp))`` written out for the plans
        # of nearly every query (none of the rare options above): the
        # encoder costs a third of such a query's own work.
        # tests/unit/test_plan_json.py checks the two agree.
        order = self.order
        if order is None or order.by_id:
            order_text = "false"
        else:
            key = _json_text(order.key or "")
            order_text = f'{{"key":{key},"desc":{_scalar_json(order.desc)}}}'
        filters = ",".join([_filter_json(f) for f in self.filters])
        fields = ",".join([_json_text(f) for f in self.fields])
        id_desc = "true" if order and order.by_id and order.desc else "false"
        count = -1 if self.count is None else self.count
        return (
            f'{{"temp":{_json_text(temp)},'
            f'"scratch":{_json_text(self.keys.scratch_prefix(temp))},'
            f'"ttl":{_scalar_json(self.ttl)},"filters":[{filters}],'
            f'"order":{order_text},"offset":{_scalar_json(self.offset)},'
            f'"count":{_scalar_json(count)},"mode":{_json_text(self.mode)},'
            f'"id_desc":{id_desc},"fields":[{fields}],'
            f'"row_prefix":{_json_text(self.keys.row_prefix)}}}'
        )

    def to_body(self, temp: str) -> dict[str, Any]:
        """The plan as the JSON object ``to_json`` encodes."""
        order: Any = False
        filters = [f.to_plan() for f in self.filters]
        if self.order is not None and not self.order.by_id:
            order = {"key": self.order.key or "", "desc": self.order.desc}
            if self.order.geo is not None:
                filters.append(self.order.geo.to_plan())
                order["geo"] = len(filters)
        body = {
            "temp": temp,
            "scratch": self.keys.scratch_prefix(temp),
            "ttl": self.ttl,
            "filters": filters,
            "order": order,
            "offset": self.offset,
            "count": -1 if self.count is None else self.count,
            "mode": self.mode,
            "id_desc": bool(self.order and self.order.by_id and self.order.desc),
            "fields": list(self.fields),
            "row_prefix": self.keys.row_prefix,
        }
        if self.orders:
            body["orders"] = [
                {"key": o.key or False, "desc": o.desc} for o in self.orders
            ]
        if self.last:
            body["last"] = True
        if self.expiry is not None:
            body["expiry"] = self.expiry
        if self.scores:
            body["scores"] = True
        return body


# json.dumps(body, ensure_ascii=False, separators=(",", ":")), whose options
# would make a new encoder per call.
_PLAN_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# A str as JSON text, as _PLAN_JSON writes it (ensure_ascii=False).
_json_text = json.encoder.encode_basestring


def _scalar_json(value: Any) -> str:
    """A bool or number as _PLAN_JSON writes it (plain ints and bools inline)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    return _PLAN_JSON.encode(value)


def _filter_json(f: Filter) -> str:
    """``f.to_plan()`` as _PLAN_JSON writes it: the filters of filter(col=value),
    filter(col=(low, high)) and startswith() spelt out."""
    if type(f) is RangeFilter:
        key, low, high = _json_text(f.key), _json_text(f.min), _json_text(f.max)
        return f'{{"kind":"range","key":{key},"min":{low},"max":{high}}}'
    if type(f) is SetFilter:
        return f'{{"kind":"set","key":{_json_text(f.key)}}}'
    if type(f) is AffixFilter and f.pattern is None and not f.extra:
        key, start, end = _json_text(f.key), _json_text(f.start), _json_text(f.end)
        prefix = _json_text(f.prefix)
        return (
            f'{{"kind":"affix","key":{key},"start":{start},"end":{end},'
            f'"prefix":{prefix}}}'
        )
    return _PLAN_JSON.encode(f.to_plan())


# -- from query arguments to filters ------------------------------------------


def _column(info: ModelInfo, name: str, clause: str) -> Column[Any]:
    base = name.lstrip("-").split(":")[0]
    col = info.columns.get(base)
    if not isinstance(col, Column):
        raise QueryError(
            f"Cannot use {clause!r} clause on a non-existent column "
            f"{info.name}.{base}; columns are {sorted(info.columns)}"
        )
    return col


def _kind(col: Column[Any], name: str) -> str:
    """'numeric', 'token', 'sortable' or 'custom': what the index can answer."""
    if isinstance(col, (_Reference, PrimaryKey)) or ":" in name:
        return "numeric" if ":" not in name else "custom"
    keygen = col._keygen_name
    if keygen in _NUMERIC_KEYGENS:
        return "numeric"
    if keygen in TOKEN_KEYGENS:
        return "token"
    if keygen in SORTABLE_STRING_KEYGENS:
        return "sortable"
    return "custom"


def filters_for(info: ModelInfo, name: str, value: Any) -> list[Filter]:
    """The filters answering ``filter(name=value)`` on the model ``info``."""
    col = info.columns.get(name)
    if col is None:  # a ManyToMany side: its members SETs
        from ._many_to_many import membership_filter

        found = membership_filter(info, name, value)
        if found is not None:
            return [found]
    if not isinstance(col, Column):  # (a column's own name is its base name)
        col = _column(info, name, "filter")
    if not col.index or col.keygen is None:
        raise QueryError(
            f"Cannot filter on {info.name}.{col.attr}: it has no index; declare "
            "it with index=True (and a keygen for strings)"
        )
    kind = _kind(col, name)
    # The two common cases first, past the checks that cannot apply to them.
    if isinstance(value, tuple) and value is not NOT_NULL:
        return [_range(info, col, name, kind, value)]
    if type(value) is str and kind == "token":
        return _words(info, col, name, value)
    where = f"{info.name}.{name}"
    if value is None:
        raise QueryError(
            f"Sorry, we don't know how to filter {where} by None: entities "
            "without a value have no index entry, so None cannot be searched"
            + (
                "; use NOT_NULL for every entity that has one"
                if isinstance(col, _Reference)
                else ""
            )
        )
    if value is NOT_NULL and not isinstance(col, _Reference):
        raise QueryError(
            f"Can only query for non-null column values on ManyToOne/OneToOne "
            f"columns; {where} is not one (use a (None, None) range instead)"
        )
    if isinstance(value, tuple):  # NOT_NULL on a reference
        return [_range(info, col, name, kind, value)]
    if isinstance(value, list):
        return [_any_of(info, col, name, kind, value)]
    if kind in ("numeric", "sortable") and not isinstance(value, (str, bytes, bool)):
        return [_range(info, col, name, kind, (value, value))]
    if (
        kind == "custom"
        and isinstance(value, NUMERIC_TYPES)
        and not isinstance(value, bool)
    ):
        # A number on a sub-key or custom keygen is equality on its ZSET.
        return [_range(info, col, name, kind, (value, value))]
    if kind in ("numeric", "sortable"):
        raise QueryError(
            f"{where} is a numeric/sorted index: filter it with a number or a "
            f"(low, high) tuple, got {type(value).__name__}: {value!r}"
            + ("; for text use startswith()" if kind == "sortable" else "")
        )
    return _words(info, col, name, value)


def _range(
    info: ModelInfo, col: Column[Any], name: str, kind: str, value: tuple[Any, ...]
) -> Filter:
    if len(value) == 2 and kind != "token":
        low, high = value
        # The common (int, int) range: what range_bound gives, without its checks.
        if (
            type(low) is int
            and type(high) is int
            and -_INT_SCORE_BOUND < low < _INT_SCORE_BOUND
            and -_INT_SCORE_BOUND < high < _INT_SCORE_BOUND
        ):
            return RangeFilter(query_keys(info).index(name), str(low), str(high))
    where = f"{info.name}.{name}"
    if len(value) != 2:
        raise QueryError(
            f"Numeric ranges require 2 endpoints, you provided {len(value)} for "
            f"{where}: {value!r}"
        )
    if kind == "token":
        raise QueryError(
            f"{where} is a token index (keygen {col._keygen_name}); it cannot "
            "answer a range: pass a value or a list of values"
        )
    low, high = (range_bound(where, col, v) for v in value)
    return RangeFilter(
        query_keys(info).index(name),
        "-inf" if low is None else low,
        "+inf" if high is None else high,
    )


# Ints within this bound are their own score text: a finite double, which
# numeric_score gives as str(value).
_INT_SCORE_BOUND = 2**1000


def range_bound(where: str, col: Column[Any], value: Any) -> str | None:
    """A range endpoint of ``col`` as Redis score syntax; None for an open end.

    Raises QueryError for anything Redis would refuse or misread.
    """
    if type(value) is int:  # the common case, which every check below passes
        return numeric_score(value)
    if value is None:
        return None
    if isinstance(value, str) and value.startswith("("):
        inner = value[1:]
        if not _REDIS_DOUBLE.match(inner):
            raise _bad_bound(where, value)
        return value
    if isinstance(col, _Reference) and not isinstance(value, (int, float, str)):
        value = int(reference_id(value))
    if isinstance(value, bool) or not isinstance(value, (*NUMERIC_TYPES, str)):
        raise QueryError(
            f"{where}: a range endpoint must be a number, date or time, got "
            f"{type(value).__name__}: {value!r}"
        )
    if isinstance(value, str):
        text = value
    elif isinstance(value, (datetime.date, datetime.time)):
        text = repr(dt2ts(value) if isinstance(value, datetime.date) else t2ts(value))
    else:
        text = numeric_score(value)
    if not _REDIS_DOUBLE.match(text):
        raise _bad_bound(where, value)
    return text


def _bad_bound(where: str, value: Any) -> QueryError:
    return QueryError(
        f"{where}: range endpoint {value!r} is not a number Redis accepts (NaN, "
        "spaces, '_', hex and empty text are refused); pass an int, float, "
        "Decimal, date or time, None for an open end, or text such as '5', "
        "'-2.5e3', '(5' (exclusive) or '-inf'"
    )


def _token_text(col: Column[Any], value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, bytes):
        utf8 = col._keygen_name in ("IDENTITY_STRING", "IDENTITY_STRING_CI")
        text = value.decode("utf-8" if utf8 else "latin-1", "replace")
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    if col._keygen_name in LOWERCASE_QUERY_KEYGENS:
        text = text.lower()
    return text


def _words(info: ModelInfo, col: Column[Any], name: str, value: Any) -> list[Filter]:
    if type(value) is not str and not isinstance(
        value, (str, bytes, bool, *NUMERIC_TYPES)
    ):
        raise QueryError(
            f"Sorry, we don't know how to filter {info.name}.{name} by "
            f"{type(value).__name__}: {value!r}"
        )
    text = _token_text(col, value)
    if col._keygen_name != "FULL_TEXT":
        return [SetFilter(query_keys(info).token(name, text))]
    split = text.split()
    if len(split) == 1:  # one word, the usual search: no set to sort
        word = split[0].strip(string.punctuation)
        words = [word] if word else []
    else:
        words = sorted({w.strip(string.punctuation) for w in split} - {""})
    if not words:
        return [NoMatch()]
    keys = query_keys(info)
    return [SetFilter(keys.token(name, w)) for w in words]


def _any_of(
    info: ModelInfo, col: Column[Any], name: str, kind: str, values: list[Any]
) -> Filter:
    where = f"{info.name}.{name}"
    if not values:
        raise QueryError(f"Sorry, we don't know how to filter {where} by []")
    if kind in ("numeric", "sortable"):
        raise QueryError(
            f"{where} is a numeric index: OR-lists are for token indexes; use "
            "a (low, high) range"
        )
    keys = []
    for item in values:
        if isinstance(item, (list, tuple, dict)) or item is None:
            raise QueryError(f"{where}: OR-list items must be values, got {item!r}")
        text = _token_text(col, item)
        if col._keygen_name == "FULL_TEXT":
            text = text.strip(string.punctuation)
            if len(text.split()) != 1:
                raise QueryError(
                    f"{where}: each OR-list item of a word index must be one "
                    f"word, got {item!r}"
                )
        keys.append(query_keys(info).token(name, text))
    return AnyFilter(tuple(dict.fromkeys(keys)))


# -- prefix, suffix, pattern, geo -------------------------------------------------


def _affix_text(
    info: ModelInfo, name: str, value: Any, clause: str
) -> tuple[Column[Any], str]:
    col = _column(info, name, clause)
    wanted = col.suffix if clause == "endswith" else col.prefix
    if not wanted:
        index = "suffix" if clause == "endswith" else "prefix"
        raise QueryError(
            f"Cannot use {clause}() on {info.name}.{name}: declare it with {index}=True"
        )
    if not isinstance(value, (str, bytes)):
        raise QueryError(
            f"{info.name}.{name}.{clause}() takes a str, got "
            f"{type(value).__name__}: {value!r}"
        )
    # Lowercased for the keygens whose index is (LOWERCASE_QUERY_KEYGENS).
    return col, _token_text(col, value)


def _raw_scored(col: Column[Any]) -> bool:
    # A SIMPLE* index of a String column: :pre/:suf scores come from the bytes.
    return isinstance(col, String) and col._keygen_name in SORTABLE_STRING_KEYGENS


def _windows(
    col: Column[Any], prefix: str
) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Score windows holding every token that starts with ``prefix``.

    Tokens of a String column's SIMPLE* index are scored by their latin-1
    bytes (as rom 1.1.2 writes them); earlier releases of this library
    scored them by their UTF-8, so that window is scanned too when it differs.
    """
    if not prefix:
        return "-inf", "+inf", ()
    return _prefix_windows(prefix, _raw_scored(col))


@functools.lru_cache(maxsize=1 << 12)
def _prefix_windows(
    prefix: str, raw: bool
) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    # Cached: a search's prefix costs four score look-ups and text work,
    # and the same prefixes are searched again and again.
    start = affix_score(prefix, raw)
    end = "(" + affix_score(prefix, raw, next=True)
    if raw:
        start2 = affix_score(prefix)
        end2 = "(" + affix_score(prefix, next=True)
        if (start2, end2) != (start, end):
            return start, end, ((start2, end2),)
    return start, end, ()


def prefix_filter(info: ModelInfo, name: str, value: Any, *, suffix: bool) -> Filter:
    """``startswith`` (or, with ``suffix``, ``endswith``) on ``name``."""
    clause = "endswith" if suffix else "startswith"
    col, text = _affix_text(info, name, value, clause)
    if suffix:
        text = text[::-1]
    key = (
        query_keys(info).suffix(col.attr)
        if suffix
        else query_keys(info).prefix(col.attr)
    )
    start, end, extra = _windows(col, text)
    return AffixFilter(key, start, end, prefix=text, extra=extra)


def pattern_filter(info: ModelInfo, name: str, pattern: Any) -> Filter:
    """``like``: ``?`` 0-1, ``*`` 0+, ``+`` 1+, ``!`` exactly 1 character."""
    col, text = _affix_text(info, name, pattern, "like")
    if len(text) > MAX_LIKE_CHARS:
        raise QueryError(
            f"{info.name}.{name}.like(): the pattern has {len(text)} characters, "
            f"at most {MAX_LIKE_CHARS} are allowed; shorten it (e.g. "
            f"{text[:20]!r}...)"
        )
    literal = []
    for ch in text:
        if ch in _WILDCARDS:
            break
        literal.append(ch)
    prefix = "".join(literal)
    start, end, extra = _windows(col, prefix)
    return AffixFilter(
        query_keys(info).prefix(col.attr),
        start,
        end,
        prefix=prefix,
        pattern=like_items(text[len(prefix) :]),
        extra=extra,
    )


def like_items(text: str) -> tuple[LikeItem, ...]:
    """The matcher form of a like() pattern: literal runs and gaps.

    Each run of wildcards becomes one gap ``(least, most)`` in characters:
    ``!`` and ``+`` add one to both, ``?`` one to ``most``, and ``*`` or
    ``+`` make ``most`` unlimited (-1). A trailing gap only needs its
    ``least`` characters (a token may go on after a match), and is dropped
    when that is 0.
    """
    items: list[LikeItem] = []
    literal = ""
    run = ""

    def gap(trailing: bool) -> None:
        least = run.count("!") + run.count("+")
        most = -1 if ("*" in run or "+" in run) else least + run.count("?")
        if trailing:
            if least:
                items.append((least, least))
        elif most:
            items.append((least, most))

    for ch in text:
        if ch in _WILDCARDS:
            if literal:
                items.append(literal)
                literal = ""
            run += ch
            continue
        if run:
            gap(trailing=False)
            run = ""
        literal += ch
    if literal:
        items.append(literal)
    gap(trailing=True)
    return tuple(items)


def geo_filter(
    info: ModelInfo,
    name: str,
    lon: float,
    lat: float,
    distance: float,
    measure: str,
    count: int | None,
) -> GeoFilter:
    """``near``: entities of geo index ``name`` within ``distance``."""
    if name not in info.geo:
        raise ValueError(
            f"{info.name} has no geo index {name!r}; it has {sorted(info.geo)}"
        )
    unit = str(measure).lower()
    if unit not in ALLOWED_DIST:
        raise ValueError(
            f"near(): measure must be one of {ALLOWED_DIST}, got {measure!r}"
        )
    if count is not None and (not isinstance(count, int) or count < 0):
        raise ValueError(f"near(): count must be a positive int, got {count!r}")
    try:
        x, y, radius = float(lon), float(lat), float(distance)
    except (TypeError, ValueError):
        raise ValueError(
            f"near() on {info.name}.{name}: lon, lat and distance must be "
            f"numbers, got {lon!r}, {lat!r}, {distance!r}"
        ) from None
    # What GEOSEARCH accepts (NaN fails every comparison, so it is refused).
    if not (-180 <= x <= 180 and -_GEO_LAT_LIMIT <= y <= _GEO_LAT_LIMIT):
        raise ValueError(
            f"near() on {info.name}.{name}: ({lon!r}, {lat!r}) is outside what "
            f"Redis can search (lon -180..180, lat ±{_GEO_LAT_LIMIT})"
        )
    if not 0 <= radius < math.inf:
        raise ValueError(
            f"near() on {info.name}.{name}: distance must be a finite number "
            f">= 0, got {distance!r}"
        )
    if count is not None and count >= LIMIT_CAP:
        count = None  # more than any index holds: no limit
    return GeoFilter(query_keys(info).geo(name), x, y, radius, unit, count or None)


def order_for(info: ModelInfo, name: str) -> Order:
    """The order of ``order_by(name)`` (a leading ``-`` is descending)."""
    desc = name.startswith("-")
    attr = name.lstrip("-")
    col = _column(info, attr, "order_by")
    if isinstance(col, PrimaryKey) and not col.index:
        return Order(None, desc)
    kind = _kind(col, attr)
    if not col.index or col.keygen is None or kind == "token":
        why = "it has no index" if kind != "token" else "its index holds words"
        raise QueryError(
            f"Cannot order {info.name} by {attr}: {why}; order by a numeric "
            "column with index=True or a string column with keygen=SIMPLE/SIMPLE_CI"
        )
    return Order(query_keys(info).index(attr), desc)


# No ZSET holds this many members: a larger offset gives nothing and a larger
# count is no limit. Capping keeps every number exact in Lua and within the
# signed 64-bit integers Redis takes.
LIMIT_CAP = 2**40


def clamp_limit(offset: int, count: int | None) -> tuple[int, int | None]:
    """``(offset, count)`` with numbers past LIMIT_CAP replaced by equivalents."""
    if count is not None and count >= LIMIT_CAP:
        count = None
    return min(offset, LIMIT_CAP), count


def check_limit(model: str, offset: Any, count: Any) -> tuple[int, int | None]:
    """Validate ``limit(offset, count)``."""
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise QueryError(
            f"{model}.query.limit(): offset must be an int >= 0, got {offset!r}"
        )
    if count is not None and (
        not isinstance(count, int) or isinstance(count, bool) or count < 0
    ):
        raise QueryError(
            f"{model}.query.limit(): count must be an int >= 0 or None, got {count!r}"
        )
    return offset, count
