"""Reading an entity's index record: the index entries its last write made.

The record is rom 1.1.2's JSON list of five slots, kept in the row's
``-index-data-`` field (or, before 1.0, in the ``<ns>::`` hash):

1. names of token SETs ``<ns>:<name>:idx``
2. names of scored ZSETs ``<ns>:<name>:idx``
3. ``[attr, token]`` pairs of ``<ns>:<attr>:pre`` (member ``token\\0id``)
4. ``[attr, reversed token]`` pairs of ``<ns>:<attr>:suf``, or bare geo
   index names (rom 1.1.2 wrote geo names here)
5. geo index names ``<ns>:<name>:geo``

``IndexEntries.record()`` in ``_writer`` writes it. Here it is read back for
the WATCH writer and for ``clean_old_index``; ``write_entity.lua``
(``remove_entries``) reads it by the same rules. An item of any other shape
(a damaged record) is skipped, never an error: a writer failing half-way
through would leave the row and its indexes disagreeing.
"""

from __future__ import annotations

import json
from typing import Any
from typing import Literal
from typing import NamedTuple

from ._keys import KeySpace

__all__ = ["RecordEntry", "record_entries"]

_SLOTS = 5


class RecordEntry(NamedTuple):
    """One index entry named by a record: remove ``member`` from ``key``."""

    kind: Literal["set", "zset"]
    key: str
    member: str


def _slots(raw: str | bytes | None) -> list[list[Any]]:
    try:
        record = json.loads(raw) if raw else []
    except ValueError:
        return [[]] * _SLOTS
    if not isinstance(record, list):
        return [[]] * _SLOTS
    slots = [s if isinstance(s, list) else [] for s in record[:_SLOTS]]
    return slots + [[]] * (_SLOTS - len(slots))


def _names(slot: list[Any]) -> list[str]:
    return [name for name in slot if isinstance(name, str)]


def _is_pair(item: Any) -> bool:
    return (
        isinstance(item, list)
        and len(item) == 2
        and all(isinstance(part, str) for part in item)
    )


def record_entries(
    keys: KeySpace, id: str, raw: str | bytes | None
) -> list[RecordEntry]:
    """The index entries of entity ``id`` that the record ``raw`` names."""
    tokens, scored, prefixes, suffixes, geos = _slots(raw)
    found = [RecordEntry("set", keys.index(name), id) for name in _names(tokens)]
    found += [RecordEntry("zset", keys.index(name), id) for name in _names(scored)]
    for attr, token in filter(_is_pair, prefixes):
        found.append(RecordEntry("zset", keys.prefix(attr), f"{token}\0{id}"))
    for item in suffixes:
        if _is_pair(item):
            found.append(RecordEntry("zset", keys.suffix(item[0]), f"{item[1]}\0{id}"))
        elif isinstance(item, str):
            found.append(RecordEntry("zset", keys.geo(item), id))
    found += [RecordEntry("zset", keys.geo(name), id) for name in _names(geos)]
    return found
