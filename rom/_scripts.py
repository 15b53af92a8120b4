"""The Lua scripts in ``rom/lua``, loaded once, each behind a typed wrapper."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.exceptions import NoScriptError

__all__ = [
    "LuaScript",
    "clean_orphans",
    "fetch_by_unique",
    "many_to_many",
    "page",
    "prefetch",
    "raise_counter",
    "repair_entries",
    "search",
    "transfer",
    "write_entity",
]


class LuaScript:
    """A script run with EVALSHA, loaded on the server on first NOSCRIPT.

    Unlike redis-py's ``Script`` inside pipelines, it never issues a
    ``SCRIPT EXISTS`` round trip first: the common case costs one trip.
    """

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    def __call__(self, conn: redis.Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return conn.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            conn.script_load(self.source)
            return conn.evalsha(self.sha, len(keys), *keys, *args)


@cache
def load(name: str) -> LuaScript:
    """Return the script ``rom/lua/<name>.lua``."""
    source = (
        resources.files("rom")
        .joinpath("lua")
        .joinpath(f"{name}.lua")
        .read_text("utf-8")
    )
    return LuaScript(name, source)


def write_entity(conn: redis.Redis, record_key: str, ttl: int, args: list[str]) -> Any:
    """Run ``write_entity.lua`` over plans (``WritePlan.to_args``, concatenated).

    ``record_key`` names the request (``KeySpace.write_record``): re-sending
    the same request returns the recorded reply and writes nothing. Returns
    the decoded reply: one result dict per plan run, or what the record
    holds (see ``_persist``).
    """
    raw = load("write_entity")(conn, [record_key], [ttl, *args])
    return json.loads(raw)


def search(conn: redis.Redis, plan: str) -> Any:
    """Run ``search.lua`` on a JSON SearchPlan; the reply depends on its mode."""
    return load("search")(conn, [], [plan])


def page(
    conn: redis.Redis,
    key: str,
    row_prefix: str,
    first: int,
    last: int,
    ttl: int,
    fields: list[str],
) -> list[Any]:
    """Run ``page.lua``: ranks ``first..last`` of a cached result, with data."""
    reply = load("page")(conn, [key], [row_prefix, first, last, ttl, *fields])
    return reply  # type: ignore[no-any-return]


def fetch_by_unique(
    conn: redis.Redis, unique_key: str, row_prefix: str, values: list[str]
) -> list[list[Any]]:
    """Run ``fetch_by_unique.lua``: per value, ``[]`` or ``[id, field, value...]``."""
    reply = load("fetch_by_unique")(conn, [unique_key], [row_prefix, *values])
    return reply  # type: ignore[no-any-return]


def transfer(
    conn: redis.Redis,
    rows: list[str],
    attr: str,
    txn_attr: str,
    amount: str,
    places: int,
) -> Any:
    """Run ``transfer.lua`` on source, destination and transaction rows.

    Returns ``ok`` or the reason nothing was written (bytes unless the
    client decodes replies).
    """
    return load("transfer")(conn, rows, [attr, txn_attr, amount, places])


def clean_orphans(conn: redis.Redis, keys: list[str], args: list[Any]) -> int:
    """Run ``clean_orphans.lua``; return the number of entries removed."""
    return int(load("clean_orphans")(conn, keys, args))


def many_to_many(conn: redis.Redis, plan: str) -> Any:
    """Run ``many_to_many.lua`` on a JSON plan (see the script's header)."""
    return load("many_to_many")(conn, [], [plan])


def prefetch(conn: redis.Redis, plan: str) -> list[list[Any]]:
    """Run ``prefetch.lua`` on a JSON plan: per task ``[groups, rows]``."""
    return load("prefetch")(conn, [], [plan])  # type: ignore[no-any-return]


def repair_entries(conn: redis.Redis, keys: list[str], args: list[Any]) -> list[int]:
    """Run ``repair_entries.lua``; per entry 1 removed, 0 gone, -1 row changed."""
    return [int(n) for n in load("repair_entries")(conn, keys, args)]


def raise_counter(conn: redis.Redis, key: str, at_least: int) -> int:
    """Run ``raise_counter.lua``: raise the id counter ``key`` to ``at_least``."""
    return int(load("raise_counter")(conn, [key], [at_least]))
