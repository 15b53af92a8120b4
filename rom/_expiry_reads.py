"""Reads of an expiring model (one that declares ``_ttl``): one script call
(``read_expiring.lua``) where a model without a TTL sends HGETALL, so an
expired entity is never returned and is removed when met.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from . import _scripts
from ._expiry import expiry_table_json
from ._io import Steps
from ._replies import reply_row

if TYPE_CHECKING:
    from ._meta import ModelInfo

__all__ = ["read_ids", "read_unique", "ttl_block", "ttl_ms"]


def _run(
    conn: Any, info: ModelInfo, mode: str, name: str, items: list[str]
) -> Steps[list[Any]]:
    script = _scripts.load("read_expiring")
    args = [expiry_table_json(info), mode, name, *items]
    keys = info.keys
    reply = yield from script.steps(conn, [keys.expiry, keys.probe], args)
    return list(reply)


def read_ids(
    conn: Any, info: ModelInfo, ids: list[int]
) -> Steps[list[dict[str, str] | None]]:
    """The rows of ``ids`` (None: absent or expired), in order."""
    replies = yield from _run(conn, info, "ids", "", [str(i) for i in ids])
    return [
        reply_row(r, info.keys.entity(i)) if r else None
        for i, r in zip(ids, replies, strict=True)
    ]


def read_unique(
    conn: Any, info: ModelInfo, name: str, values: list[str]
) -> Steps[list[list[Any]]]:
    """Per unique value ``[]`` or ``[id, field, value, ...]`` (as
    ``fetch_by_unique.lua`` answers), expired entities left out."""
    replies = yield from _run(conn, info, "unique", name, values)
    return [list(r) for r in replies]


def ttl_block(conn: Any, info: ModelInfo, ids: list[int]) -> Steps[list[int]]:
    """Per id the milliseconds left: -1 without an expiry, -2 absent or
    expired (and then removed)."""
    replies = yield from _run(conn, info, "ttl", "", [str(i) for i in ids])
    return [int(r) for r in replies]


def ttl_ms(conn: Any, info: ModelInfo, id: object) -> Steps[int]:
    """Milliseconds left of entity ``id``: -1 without an expiry, -2 gone."""
    (left,) = yield from _run(conn, info, "ttl", "", [str(id)])
    return int(left)
