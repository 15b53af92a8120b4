"""Every index key of a model with its members, for tests that compare
the indexes two writes leave."""

from __future__ import annotations

import redis


def index_members(conn: redis.Redis, namespace: str) -> dict[bytes, object]:
    """Each set of ``<namespace>:*`` with its sorted members, each sorted
    set with its members and scores (rows and other keys left out)."""
    out: dict[bytes, object] = {}
    for key in conn.scan_iter(f"{namespace}:*", count=1000):
        kind = conn.type(key)
        if kind == b"set":
            out[key] = sorted(conn.smembers(key))
        elif kind == b"zset":
            out[key] = conn.zrange(key, 0, -1, withscores=True)
    return out
