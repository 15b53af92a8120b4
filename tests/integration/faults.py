"""Helpers for the write fault tests: a private server and consistency checks."""

from __future__ import annotations

import redis

from rom._registry import MODELS
from rom.consistency import check
from rom.testing import is_write_record

__all__ = ["assert_consistent", "row_ids"]


def _text(value: bytes) -> str:
    return value.decode("utf-8")


def row_ids(conn: redis.Redis, ns: str) -> set[str]:
    """The ids of every row hash of namespace ``ns``."""
    ids = set()
    for key in conn.scan_iter(match=f"{ns}:*", count=1000):
        rest = _text(key)[len(ns) + 1 :]
        if rest.isdigit():
            ids.add(rest)
    return ids


def assert_consistent(
    conn: redis.Redis, ns: str, pk: str = "id", *, planted: str = ""
) -> set[str]:
    """Rows and indexes of ``ns`` agree; return the row ids.

    Every row has its ``<pk>`` field (and ``<ns>:<pk>:idx`` entry); every
    index and unique entry names an existing row; the id counter is at
    least the largest id; and rom.consistency.check finds no problem.
    """
    ids = row_ids(conn, ns)
    for id in ids:
        assert conn.hget(f"{ns}:{id}", pk) == id.encode(), f"{ns}:{id} lacks {pk}"
    if conn.exists(f"{ns}:{pk}:idx"):
        pk_index = {_text(m) for m in conn.zrange(f"{ns}:{pk}:idx", 0, -1)}
        assert pk_index == ids, f"{ns}:{pk}:idx {sorted(pk_index ^ ids)[:5]}"
    for key in conn.scan_iter(match=f"{ns}:*", count=1000):
        name = _text(key)
        if is_write_record(key) or name[len(ns) + 1 :].isdigit() or name == planted:
            continue
        kind = _text(conn.type(key))
        if kind == "set":
            named = {_text(m) for m in conn.smembers(key)}
        elif kind == "zset":
            members = [_text(m) for m in conn.zrange(key, 0, -1)]
            named = {m.rpartition("\0")[2] for m in members}
        elif kind == "hash" and name.endswith(":uidx"):
            named = {_text(v) for v in conn.hvals(key)}
        else:
            continue
        assert named <= ids, f"{name} names missing rows {sorted(named - ids)[:5]}"
    counter = conn.get(f"{ns}:{pk}:")
    if ids:
        assert counter is not None and int(counter) >= max(map(int, ids))
    # ``planted``: a key the test gave the wrong type on purpose.
    problems = [p for p in check(MODELS[ns], conn=conn) if p.key != planted]
    assert problems == [], "\n".join(map(str, problems))
    return ids
