"""Whole-database dumps and rom data helpers for the data-layout tests.

Everything is kept as the bytes Redis holds, so a test can compare a dump with
the exact layout of docs/data_layout.rst. The only normalisation offered is the one
the spec allows: the order of entries inside each ``-index-data-`` slot (and
``{}`` versus ``[]`` for an empty slot) is arbitrary.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

import rom
from rom.testing import is_write_record

__all__ = [
    "INDEX_DATA",
    "WRITE_PATHS",
    "Dump",
    "dump",
    "prefix_score",
    "record",
    "slots",
    "writes_with",
]

WRITE_PATHS = ["lua", "watch"]


@contextmanager
def writes_with(path: str) -> Iterator[None]:
    """Run the block with the Lua writer or the WATCH writer, then restore Lua."""
    if path == "watch":
        rom._disable_lua_writes()
    else:
        rom._enable_lua_writes()
    try:
        yield
    finally:
        rom._enable_lua_writes()


INDEX_DATA = b"-index-data-"

Dump = dict[bytes, tuple[str, Any]]


def _sort_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def slots(*lists: list[Any]) -> list[list[Any]]:
    """Normalise an expected record: 5 slots, each sorted (a multiset)."""
    padded = [list(slot) for slot in lists] + [[] for _ in range(5 - len(lists))]
    return [sorted(slot, key=_sort_key) for slot in padded]


def record(raw: bytes | str) -> list[list[Any]]:
    """Parse a stored ``-index-data-`` record into normalised slots.

    An empty slot may be ``{}`` (cjson's empty table) or ``[]``; missing
    trailing slots (old records) count as empty.
    """
    parsed = json.loads(raw)
    assert isinstance(parsed, list), f"record is not a JSON array: {raw!r}"
    out = []
    for slot in parsed:
        assert slot in ({}, []) or isinstance(slot, list), f"bad slot {slot!r}"
        out.append(slot if isinstance(slot, list) else [])
    return slots(*out)


def dump(conn: redis.Redis, *, normalise: bool = False) -> Dump:
    """Every key of the db: ``{key: (type, value)}``, values as stored bytes.

    strings are bytes, hashes ``{field: value}``, sets sorted lists, zsets
    ``[(member, score)]`` in ZRANGE order, lists in order. With ``normalise``
    each ``-index-data-`` value becomes ``('record', slots)``, the only
    part of the layout whose byte order is not fixed. Write records
    (``<ns>::write:<token>``, a request's outcome kept a few minutes, named
    by a random token) are left out: tests/integration/test_exactly_once.py
    checks them.
    """
    out: Dump = {}
    for key in sorted(conn.scan_iter(count=1000)):
        if is_write_record(key):
            continue
        kind = conn.type(key).decode()
        value: Any
        if kind == "string":
            value = conn.get(key)
        elif kind == "hash":
            value = dict(sorted(conn.hgetall(key).items()))
            if normalise and INDEX_DATA in value:
                value[INDEX_DATA] = ("record", record(value[INDEX_DATA]))
        elif kind == "set":
            value = sorted(conn.smembers(key))
        elif kind == "zset":
            value = conn.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = conn.lrange(key, 0, -1)
        else:  # pragma: no cover - rom writes no other types
            raise AssertionError(f"unexpected {kind} at {key!r}")
        out[key] = (kind, value)
    return out


def prefix_score(value: str | bytes) -> float:
    """The prefix score, written from its definition (not from rom's code).

    ``n`` accumulates the first 7 bytes in base 258 (byte + 1, 0 = end),
    is scaled up for strings shorter than 7 bytes, and the score is the
    double whose bit pattern is ``n + 2**52``.
    """
    raw = value.encode("utf-8") if isinstance(value, str) else value
    n = 0
    for byte in raw[:7]:
        n = n * 258 + byte + 1
    n *= 258 ** max(0, 7 - len(raw))
    score: float = struct.unpack("<d", struct.pack("<Q", n + 2**52))[0]
    return score
