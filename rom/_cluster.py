"""What rom does differently on a Redis Cluster client, in one place.

Placement (the hash-tagged key names) lives in ``rom/_keys.py``; this module
holds the transport details the drivers and the maintenance scans need:

* a model's keys all live in one slot, so a SCAN of them goes to the one
  master serving that slot (:func:`scan_target`), named by a key
  (:class:`NodeOf`) that the driver turns into that client's node object
  (a blocking and an asyncio cluster client have different node objects);
* a SCAN sent to one cluster node answers ``({node: cursor}, keys)``:
  :func:`scan_cursor` gives back the plain cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._keys import KeySpace
from .connection import is_cluster

__all__ = ["NodeOf", "resolve_nodes", "scan_cursor", "scan_target"]


@dataclass(frozen=True)
class NodeOf:
    """``target_nodes=NodeOf(key)``: the master serving ``key``'s slot."""

    key: str


def scan_target(conn: Any, keys: KeySpace) -> dict[str, Any]:
    """Extra SCAN keywords for scanning ``keys``' model through ``conn``:
    none on one server; on a cluster, the node holding the model's slot."""
    if not is_cluster(conn):
        return {}
    return {"target_nodes": NodeOf(keys.namespace)}


def resolve_nodes(client: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with a :class:`NodeOf` value replaced by ``client``'s node."""
    target = kwargs.get("target_nodes")
    if not isinstance(target, NodeOf):
        return kwargs
    return {**kwargs, "target_nodes": client.get_node_from_key(target.key)}


def scan_cursor(cursor: Any) -> int:
    """The cursor of a SCAN reply, from one server or one cluster node."""
    if isinstance(cursor, dict):
        if len(cursor) != 1:
            raise ValueError(
                f"expected the SCAN cursor of one cluster node, got {cursor!r}"
            )
        (cursor,) = cursor.values()
    return int(cursor)
