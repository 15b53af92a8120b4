"""The Lua scripts in ``rom/lua``, loaded once, each behind a typed wrapper."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.exceptions import NoScriptError

__all__ = ["LuaScript", "write_entity"]


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


def write_entity(conn: redis.Redis, plans: list[str]) -> list[dict[str, Any]]:
    """Run ``write_entity.lua`` over JSON plans; one result dict per plan run."""
    raw = load("write_entity")(conn, [], plans)
    return json.loads(raw)  # type: ignore[no-any-return]
