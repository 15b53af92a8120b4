"""Which keys under ``<ns>:`` belong to a model, told by their shape.

A SCAN for ``<ns>:*`` also returns keys that are not the model's: those of
a model whose namespace extends ours (``<ns>:item``, possibly written by rom
1.1.2, which did not refuse such namespaces), and keys of columns the model
no longer declares. Maintenance jobs and the consistency checker only touch
keys whose whole shape is one of the model's:

* ``<ns>:<digits>``: a row
* ``<ns>:<pk>:``: the id counter; ``<ns>::``: the legacy index records
* ``<ns>:<attr>:idx`` for an indexed column ``attr`` with a scored keygen
  (numbers, references, SIMPLE*), ``<ns>:<attr>:<token>:idx`` for one with
  a token keygen (FULL_TEXT, IDENTITY*, booleans), either for a custom one
* ``<ns>:<attr>:pre`` / ``:suf`` for a prefix / suffix indexed column
* ``<ns>:<name>:geo`` for a declared geo index
* ``<ns>:<cols>:uidx`` for a unique column or ``unique_together`` group
* ``<ns>:<digits>:<attr>``: an UnsafeColumn key (any identifier ``attr``,
  so the keys of a removed UnsafeColumn are still found)
* ``<ns>:<uuid4>[:<n>]``: a query's temporary key
* ``<ns>::write:<32 hex>``: a write request's record (expires by itself)
* ``<ns>::expiry`` and ``<ns>::expiry:data``: the expiry bookkeeping of a
  model declaring ``_ttl`` (rom/_expiry.py); not a key of other models

A partitioned model (rom/_partitions.py) has these keys in each partition's
namespace: every function here takes the partition's ``KeySpace``
(``keys``; the model's one KeySpace ``info.keys`` by default), so a job
scans and sorts out one partition at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from typing import Literal
from typing import NamedTuple

import redis

from ._cluster import scan_cursor
from ._cluster import scan_target
from ._io import Steps
from ._io import call
from ._io import run_sync
from ._keys import KeySpace
from ._keys import partition_index
from ._keys import partitions_scan_pattern
from ._meta import SORTABLE_STRING_KEYGENS
from ._meta import TOKEN_KEYGENS
from ._meta import ModelInfo
from ._replies import text
from .columns import Column
from .columns import PrimaryKey
from .connection import is_cluster

__all__ = [
    "KeyCensus",
    "KeyShape",
    "OwnKeys",
    "ShapeKind",
    "key_census",
    "key_census_steps",
    "partition_censuses_steps",
    "scan_keys",
    "scan_own_keys",
    "scan_page",
]

ShapeKind = Literal[
    "row", "counter", "legacy", "index", "unsafe", "temp", "write", "expiry", "claims"
]

_UUID4 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}(:[0-9]+)?"
)


class KeyShape(NamedTuple):
    """What a key of the model is.

    ``id`` is the entity id of a row or UnsafeColumn key; ``name`` is the
    index name (``attr`` or ``attr:token``, a geo name, ``c1:c2``) or the
    UnsafeColumn attribute; ``suffix`` the index kind (idx, pre, suf, geo,
    uidx).
    """

    kind: ShapeKind
    id: str = ""
    name: str = ""
    suffix: str = ""


_SCORED_KEYGENS = frozenset(
    {"_numeric_keygen", "_many_to_one_keygen", *SORTABLE_STRING_KEYGENS}
)


def _keygen_kind(col: Column[Any]) -> str:
    if isinstance(col, PrimaryKey) or col._keygen_name in _SCORED_KEYGENS:
        return "scored"
    if col._keygen_name in TOKEN_KEYGENS:
        return "tokens"
    return "custom"


class OwnKeys:
    """Tells the shape of the keys of one model (see the module docstring),
    or of one partition of a partitioned model (``keys``)."""

    __slots__ = ("_claims", "_expiry", "_keys", "_names")

    def __init__(self, info: ModelInfo, keys: KeySpace | None = None) -> None:
        self._keys = keys = info.keys if keys is None else keys
        self._expiry = (
            frozenset((keys.expiry, keys.expiry_data)) if info.expiring else frozenset()
        )
        # A partitioned model's pending unique claims (rom/_claims.py), kept
        # beside the unique entries of the values hashing to this partition.
        self._claims = (
            frozenset(
                keys.claims(name)
                for name in [c.attr for c in info.unique]
                + [":".join(g) for g in info.unique_together]
            )
            if info.partitions
            else frozenset()
        )
        indexed = info.indexed
        self._names = {
            # "<attr>:idx": a scored ZSET; "<attr>:<token>:idx": a token SET
            # or a custom keygen's sub-index. rom's own keygens give only one
            # of the two shapes.
            "idx": frozenset(
                c.attr for c in indexed if _keygen_kind(c) in ("scored", "custom")
            ),
            "idx:": frozenset(
                c.attr for c in indexed if _keygen_kind(c) in ("tokens", "custom")
            ),
            "pre": frozenset(c.attr for c in info.indexed if c.prefix),
            "suf": frozenset(c.attr for c in info.indexed if c.suffix),
            "geo": frozenset(info.geo),
            "uidx": frozenset(
                [c.attr for c in info.unique]
                + [":".join(g) for g in info.unique_together]
            ),
        }

    def shape(self, key: str) -> KeyShape | None:
        """The shape of ``key`` if it is one of the model's keys, else None."""
        keys = self._keys
        if not key.startswith(keys.row_prefix):
            return None
        if key == keys.counter:
            return KeyShape("counter")
        if key == keys.legacy_index:
            return KeyShape("legacy")
        if keys.is_write_record(key):
            return KeyShape("write")
        if key in self._expiry:
            return KeyShape("expiry")
        if key in self._claims:
            return KeyShape("claims")
        row_id = keys.row_id(key)
        if row_id is not None:
            return KeyShape("row", row_id)
        unsafe = keys.unsafe_parts(key)
        if unsafe is not None:
            return KeyShape("unsafe", unsafe[0], unsafe[1])
        parts = keys.index_parts(key)
        if parts is not None:
            name, suffix = parts
            base, colon, _ = name.partition(":")
            if suffix == "idx" and colon:
                suffix_names = self._names["idx:"]
            else:
                base, suffix_names = name, self._names[suffix]
            if base in suffix_names:
                return KeyShape("index", "", name, suffix)
            return None
        if _UUID4.fullmatch(key[len(keys.row_prefix) :]):
            return KeyShape("temp")
        return None

    def keep(self, page: list[str]) -> list[tuple[str, KeyShape]]:
        """The model's keys of ``page``, with their shape."""
        shaped = [(key, self.shape(key)) for key in page]
        return [(key, shape) for key, shape in shaped if shape is not None]

    def nested_namespace(self, key: str) -> str | None:
        """The namespace ``<ns>:<x>`` of another model that ``key`` shows,
        if it is such a model's row ``<ns>:<x>:<id>``, counter
        ``<ns>:<x>:<pk>:`` or legacy records ``<ns>:<x>::`` (shapes no key
        of this model has)."""
        prefix = self._keys.row_prefix
        if not key.startswith(prefix) or self.shape(key) is not None:
            return None
        rest = key[len(prefix) :]
        head, _, last = rest.rpartition(":")
        if last == "":  # a counter or legacy key: drop "<pk>:" or ":"
            head = head.rpartition(":")[0]
        elif not (last.isdigit() and last.isascii()) or _UUID4.fullmatch(rest):
            return None
        return prefix + head if head else None


class KeyCensus(NamedTuple):
    """Every key under ``<ns>:``, sorted out.

    ``own``: keys of the model. ``shared``: keys of the model's shape that
    lie under a namespace ``<ns>:<x>`` which other keys show is another
    model's (its rows ``<ns>:<x>:<id>``, counter or legacy records are
    there): they may be either model's, so a job must not remove what they
    hold. ``foreign``: the other keys. ``nested``: those other namespaces.
    """

    own: list[tuple[str, KeyShape]]
    shared: list[tuple[str, KeyShape]]
    foreign: list[str]
    nested: frozenset[str]


def key_census(
    conn: redis.Redis, info: ModelInfo, count: int, keys: KeySpace | None = None
) -> KeyCensus:
    """Scan and sort out every key under ``<ns>:`` (see :class:`KeyCensus`),
    of the model or of its partition ``keys``."""
    return run_sync(key_census_steps(conn, info, count, keys))


def key_census_steps(
    conn: Any, info: ModelInfo, count: int, keys: KeySpace | None = None
) -> Steps[KeyCensus]:
    """``key_census`` as steps, for either transport."""
    found: list[str] = []
    cursor: int | None = 0
    while cursor is not None:
        page, cursor = yield from scan_page(conn, info, count, cursor, keys)
        found += page
    return _census(OwnKeys(info, keys), found)


def partition_censuses_steps(
    conn: Any, info: ModelInfo, count: int
) -> Steps[list[KeyCensus]]:
    """The census of every partition of ``info`` (in ``info.parts`` order;
    the model's one census if it is unpartitioned).

    On one server a SCAN walks the whole database whatever its MATCH, so
    the partitions' keys are found by one SCAN of ``<ns>~*`` and sorted out
    by partition, rather than by a SCAN per partition. On a Redis Cluster
    each partition's SCAN goes to its own slot's master.
    """
    parts = info.parts
    if not info.partitions or is_cluster(conn):
        censuses = []
        for keys in parts:
            censuses.append((yield from key_census_steps(conn, info, count, keys)))
        return censuses
    found: list[list[str]] = [[] for _ in parts]
    cursor: int | None = 0
    while cursor is not None:
        reply, page = yield from call(
            conn,
            "scan",
            cursor,
            match=partitions_scan_pattern(info.namespace),
            count=count,
        )
        cursor = scan_cursor(reply) or None
        for raw in page:
            key = text(raw)
            at = partition_index(info.namespace, key)
            if at is not None and at < len(parts):
                found[at].append(key)
    return [
        _census(OwnKeys(info, keys), page)
        for keys, page in zip(parts, found, strict=True)
    ]


def _census(own: OwnKeys, found: list[str]) -> KeyCensus:
    shaped: list[tuple[str, KeyShape]] = []
    foreign: list[str] = []
    nested: set[str] = set()
    for key in found:
        shape = own.shape(key)
        if shape is not None:
            shaped.append((key, shape))
            continue
        foreign.append(key)
        namespace = own.nested_namespace(key)
        if namespace is not None:
            nested.add(namespace)
    under = tuple(f"{namespace}:" for namespace in nested)
    mine = [(k, s) for k, s in shaped if not (under and k.startswith(under))]
    shared = [(k, s) for k, s in shaped if under and k.startswith(under)]
    return KeyCensus(mine, shared, foreign, frozenset(nested))


def scan_page(
    conn: Any,
    info: ModelInfo,
    count: int,
    cursor: int,
    keys: KeySpace | None = None,
) -> Steps[tuple[list[str], int | None]]:
    """One SCAN page of keys under ``<ns>:`` (of the model, or of its
    partition ``keys``) and the cursor after it (None once the scan is over)."""
    keys = info.keys if keys is None else keys
    reply, page = yield from call(
        conn,
        "scan",
        cursor,
        match=keys.scan_pattern,
        count=count,
        **scan_target(conn, keys),  # on a cluster: the model's (partition's) master
    )
    return [text(k) for k in page], scan_cursor(reply) or None


def scan_keys(
    conn: redis.Redis,
    info: ModelInfo,
    count: int,
    cursor: int = 0,
    keys: KeySpace | None = None,
) -> Iterator[tuple[list[str], int]]:
    """Yield each SCAN page of keys under ``<ns>:`` and the cursor after it."""
    while True:
        page, after = run_sync(scan_page(conn, info, count, cursor, keys))
        cursor = after or 0
        yield page, cursor
        if after is None:
            return


def scan_own_keys(
    conn: redis.Redis,
    info: ModelInfo,
    count: int,
    cursor: int = 0,
    keys: KeySpace | None = None,
) -> Iterator[tuple[list[tuple[str, KeyShape]], int]]:
    """Like :func:`scan_keys`, keeping only the model's keys, with their shape."""
    own = OwnKeys(info, keys)
    for page, after in scan_keys(conn, info, count, cursor, keys):
        yield own.keep(page), after
