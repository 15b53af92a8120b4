"""Which keys under ``<ns>:`` belong to a model, told by their shape.

A SCAN for ``<ns>:*`` also returns keys that are not the model's: those of
a model whose namespace extends ours (``<ns>:item``, possibly written by rom
1.1.2, which did not refuse such namespaces), and keys of columns the model
no longer declares. Maintenance jobs and the consistency checker only touch
keys whose whole shape is one of the model's:

* ``<ns>:<digits>``: a row
* ``<ns>:<pk>:``: the id counter; ``<ns>::``: the legacy index records
* ``<ns>:<attr>[:<token>]:idx`` for an indexed column ``attr``
* ``<ns>:<attr>:pre`` / ``:suf`` for a prefix / suffix indexed column
* ``<ns>:<name>:geo`` for a declared geo index
* ``<ns>:<cols>:uidx`` for a unique column or ``unique_together`` group
* ``<ns>:<digits>:<attr>``: an UnsafeColumn key (any identifier ``attr``,
  so the keys of a removed UnsafeColumn are still found)
* ``<ns>:<uuid4>[:<n>]``: a query's temporary key
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Literal
from typing import NamedTuple

import redis

from ._replies import text

if TYPE_CHECKING:
    from ._meta import ModelInfo

__all__ = ["KeyShape", "OwnKeys", "ShapeKind", "scan_keys", "scan_own_keys"]

ShapeKind = Literal["row", "counter", "legacy", "index", "unsafe", "temp"]

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


class OwnKeys:
    """Tells the shape of the keys of one model (see the module docstring)."""

    __slots__ = ("_keys", "_names")

    def __init__(self, info: ModelInfo) -> None:
        self._keys = info.keys
        self._names = {
            "idx": frozenset(c.attr for c in info.indexed),
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
        row_id = keys.row_id(key)
        if row_id is not None:
            return KeyShape("row", row_id)
        unsafe = keys.unsafe_parts(key)
        if unsafe is not None:
            return KeyShape("unsafe", unsafe[0], unsafe[1])
        parts = keys.index_parts(key)
        if parts is not None:
            name, suffix = parts
            base = name.partition(":")[0] if suffix == "idx" else name
            if base in self._names[suffix]:
                return KeyShape("index", "", name, suffix)
            return None
        if _UUID4.fullmatch(key[len(keys.row_prefix) :]):
            return KeyShape("temp")
        return None


def scan_keys(
    conn: redis.Redis, info: ModelInfo, count: int, cursor: int = 0
) -> Iterator[tuple[list[str], int]]:
    """Yield each SCAN page of keys under ``<ns>:`` and the cursor after it."""
    while True:
        cursor, page = conn.scan(cursor, match=info.keys.scan_pattern, count=count)
        cursor = int(cursor)
        yield [text(k) for k in page], cursor
        if cursor == 0:
            return


def scan_own_keys(
    conn: redis.Redis, info: ModelInfo, count: int, cursor: int = 0
) -> Iterator[tuple[list[tuple[str, KeyShape]], int]]:
    """Like :func:`scan_keys`, keeping only the model's keys, with their shape."""
    own = OwnKeys(info)
    for page, after in scan_keys(conn, info, count, cursor):
        shaped = [(key, own.shape(key)) for key in page]
        yield [(key, shape) for key, shape in shaped if shape is not None], after
