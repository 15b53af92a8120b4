"""Reads of an expiring model (one that declares ``_ttl``): one script call
(``read_expiring.lua``) where a model without a TTL sends HGETALL, so an
expired entity is never returned and is removed when met.

A partitioned model's entities keep their expiry in their partition
(``<pns>::expiry``): reads by id are one call per partition met (one slot
each on a cluster), their replies put back in the order asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from . import _scripts
from ._expiry import expiry_table_json
from ._io import Steps
from ._partitions import partition_of
from ._replies import reply_row

if TYPE_CHECKING:
    from ._keys import KeySpace
    from ._meta import ModelInfo

__all__ = ["read_ids", "read_unique", "ttl_block", "ttl_ms"]


def _run(
    conn: Any,
    info: ModelInfo,
    mode: str,
    name: str,
    items: list[str],
    keys: KeySpace | None = None,
) -> Steps[list[Any]]:
    keys = info.keys if keys is None else keys
    script = _scripts.load("read_expiring")
    args = [expiry_table_json(info, keys), mode, name, *items]
    reply = yield from script.steps(conn, [keys.expiry, keys.probe], args)
    return list(reply)


def _by_partition(
    conn: Any, info: ModelInfo, mode: str, ids: list[str]
) -> Steps[list[Any]]:
    # One script call per partition the ids are in (each waits out a
    # reshard of its slot by itself); the replies in the order of ``ids``.
    if not info.partitions:
        return (yield from _run(conn, info, mode, "", ids))
    parts = info.parts
    groups: dict[int, list[int]] = {}
    for at, id in enumerate(ids):
        groups.setdefault(partition_of(id, info.partitions), []).append(at)
    found: list[Any] = [None] * len(ids)
    for part, where in groups.items():
        items = [ids[at] for at in where]
        reply = yield from _run(conn, info, mode, "", items, parts[part])
        for at, value in zip(where, reply, strict=True):
            found[at] = value
    return found


def read_ids(
    conn: Any, info: ModelInfo, ids: list[int]
) -> Steps[list[dict[str, str] | None]]:
    """The rows of ``ids`` (None: absent or expired), in order."""
    replies = yield from _by_partition(conn, info, "ids", [str(i) for i in ids])
    return [
        reply_row(r, key) if r else None
        for key, r in zip(info.entity_keys(ids), replies, strict=True)
    ]


def read_unique(
    conn: Any,
    info: ModelInfo,
    name: str,
    values: list[str],
    keys: KeySpace | None = None,
) -> Steps[list[list[Any]]]:
    """Per unique value ``[]`` or ``[id, field, value, ...]`` (as
    ``fetch_by_unique.lua`` answers), expired entities left out; in the
    partition ``keys`` of a partitioned model."""
    replies = yield from _run(conn, info, "unique", name, values, keys)
    return [list(r) for r in replies]


def ttl_block(conn: Any, info: ModelInfo, ids: list[int]) -> Steps[list[int]]:
    """Per id the milliseconds left: -1 without an expiry, -2 absent or
    expired (and then removed)."""
    replies = yield from _by_partition(conn, info, "ttl", [str(i) for i in ids])
    return [int(r) for r in replies]


def ttl_ms(conn: Any, info: ModelInfo, id: object) -> Steps[int]:
    """Milliseconds left of entity ``id``: -1 without an expiry, -2 gone."""
    keys = info.keys_for(id)
    (left,) = yield from _run(conn, info, "ttl", "", [str(id)], keys)
    return int(left)
