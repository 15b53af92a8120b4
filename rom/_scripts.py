"""The Lua scripts in ``rom/lua``, loaded once, each behind a typed wrapper.

A script may include shared Lua code with a line ``--#include <name>``
(``rom/lua/<name>.lua``, by convention ``lib_*.lua``, whose header says
what it defines and what it needs included before it); the line is
replaced by that file's text when the script is loaded, so the SHA and
the source sent on NOSCRIPT are those of the expanded script.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.exceptions import ClusterError
from redis.exceptions import NoScriptError
from redis.exceptions import TryAgainError

from ._cluster import NodeOf
from ._io import Pipeline
from ._io import Request
from ._io import Script
from ._io import Steps
from ._io import Wait
from ._io import call
from ._io import run_sync
from .connection import is_cluster

__all__ = [
    "RESHARD_WAIT",
    "LuaScript",
    "clean_orphans",
    "fetch_by_unique",
    "fetch_by_unique_steps",
    "many_to_many",
    "many_to_many_steps",
    "page",
    "raise_counter",
    "repair_entries",
    "resend_while_resharding",
    "search",
    "transfer",
    "write_entity",
    "write_entity_steps",
]


# Seconds a script call waits, at most, for the reshard of its hash slot
# to finish (Redis Cluster answers TRYAGAIN meanwhile: see KeySpace.probe).
# MIGRATE moves a few thousand small keys in well under a second.
RESHARD_WAIT = 10.0


def _resharding(exc: Exception) -> bool:
    # TRYAGAIN, or redis-py's cluster client giving up on its few retries
    # of it ("TTL exhausted"): the slot is being migrated.
    if isinstance(exc, TryAgainError):
        return True
    return isinstance(exc, ClusterError) and "TTL exhausted" in str(exc)


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
        return run_sync(self.steps(conn, keys, args))

    def request(self, conn: Any, keys: list[str], args: list[Any]) -> Script:
        """The request that runs the script (for ``Each``: several at once)."""
        return Script(conn, self.name, self.source, self.sha, tuple(keys), tuple(args))

    def steps(self, conn: Any, keys: list[str], args: list[Any]) -> Steps[Any]:
        """Run the script (``yield from``); returns its reply.

        While a Redis Cluster reshards the keys' slot the call is refused
        whole (TRYAGAIN: nothing ran); it is sent again, unchanged, until
        the slot has its new owner, for ``RESHARD_WAIT`` seconds at most.
        """
        request = self.request(conn, keys, args)
        reply = yield from resend_while_resharding(request, f"{self.name}.lua", keys)
        return reply

    def pipelined_steps(
        self, conn: Any, calls: Sequence[tuple[list[str], list[Any]]]
    ) -> Steps[list[Any]]:
        """Run the script once per ``(keys, args)`` of ``calls``, all in one
        pipeline (not a transaction): one round trip on one server, one per
        node on a Redis Cluster (whose client groups the calls by node);
        returns their replies in order. Only for scripts that are harmless
        to run twice (``RESENDABLE_SCRIPTS`` of rom/_transport.py): on
        NOSCRIPT the script is loaded and every call sent again, and so it
        is while a slot of theirs reshards (see ``steps``)."""
        # On a cluster each call names its node (redis-py's cluster pipeline
        # would ask the server, COMMAND GETKEYS, for the keys of each EVALSHA:
        # a round trip per call), through execute_command as the pipeline
        # blocks evalsha().
        commands: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...]
        if is_cluster(conn):
            commands = tuple(
                (
                    "execute_command",
                    ("EVALSHA", self.sha, len(keys), *keys, *args),
                    {"target_nodes": NodeOf(keys[0])},
                )
                for keys, args in calls
            )
        else:
            commands = tuple(
                ("evalsha", (self.sha, len(keys), *keys, *args), {})
                for keys, args in calls
            )
        request = Pipeline(conn, commands, transaction=False)
        every = [key for keys, _ in calls for key in keys]
        try:
            reply = yield from resend_while_resharding(
                request, f"{self.name}.lua", every
            )
        except NoScriptError:
            # SCRIPT LOAD goes to every master of a cluster.
            yield from call(conn, "script_load", self.source)
            reply = yield from resend_while_resharding(
                request, f"{self.name}.lua", every
            )
        return list(reply)


def resend_while_resharding(
    request: Request, what: str, keys: Sequence[str]
) -> Steps[Any]:
    """Send ``request`` (script calls only: refused whole or run whole), again
    while Redis Cluster refuses it because the slot of ``keys`` migrates
    (TRYAGAIN), for ``RESHARD_WAIT`` seconds at most; then raise
    ``TryAgainError`` naming ``what`` and ``keys``."""
    started = time.monotonic()
    pause = 0.01
    while True:
        try:
            reply = yield request
        except (TryAgainError, ClusterError) as exc:
            if not _resharding(exc):
                raise
            # redis-py's cluster client retried the call a few times
            # already: count the time, not the refusals.
            waited = time.monotonic() - started
            if waited >= RESHARD_WAIT:
                raise TryAgainError(
                    f"{what} on keys {', '.join(keys)}: Redis Cluster still "
                    f"answered TRYAGAIN after {waited:.1f} s, so a reshard of "
                    "their hash slot is under way (or was left half done: "
                    "finish it with redis-cli --cluster fix). Nothing was "
                    "run; try again once the slot's migration is finished"
                ) from exc
            yield Wait(pause)
            pause = min(pause * 2, 0.2)
        else:
            return reply


# A line of exactly this prefix and a name includes rom/lua/<name>.lua
# (whose own includes are expanded too, each file at most once per script).
INCLUDE = "--#include "


def _source(name: str) -> str:
    return (
        resources.files("rom")
        .joinpath("lua")
        .joinpath(f"{name}.lua")
        .read_text("utf-8")
    )


def expand(source: str, seen: set[str] | None = None) -> str:
    """``source`` with every ``--#include <name>`` line replaced by the
    (expanded) text of ``rom/lua/<name>.lua``; a file already included is
    not included again. Shared Lua code (``lib_*.lua``, each with a header
    saying what it defines) is so written once."""
    seen = set() if seen is None else seen
    out: list[str] = []
    for line in source.splitlines(keepends=True):
        if not line.startswith(INCLUDE):
            out.append(line)
            continue
        name = line[len(INCLUDE) :].strip()
        if name not in seen:
            seen.add(name)
            out.append(expand(_source(name), seen))
            if not out[-1].endswith("\n"):
                out.append("\n")
    return "".join(out)


@cache
def load(name: str) -> LuaScript:
    """Return the script ``rom/lua/<name>.lua``, its includes expanded."""
    return LuaScript(name, expand(_source(name)))


def write_entity(
    conn: redis.Redis, record_key: str, ttl: int, args: list[str], probe: str
) -> Any:
    """Run ``write_entity.lua`` now (see ``write_entity_steps``)."""
    return run_sync(write_entity_steps(conn, record_key, ttl, args, probe))


def write_entity_steps(
    conn: Any, record_key: str, ttl: int, args: list[str], probe: str
) -> Steps[Any]:
    """Run ``write_entity.lua`` over plans: ``args`` is ``_writer.write_args``
    (the key table, then ``WritePlan.to_args`` of each plan).

    ``record_key`` names the request (``KeySpace.write_record``): re-sending
    the same request returns the recorded reply and writes nothing. Returns
    the decoded reply: one result dict per plan run, or what the record
    holds (see ``_persist``). ``probe`` is the slot's ``KeySpace.probe``
    (routing only: the call never runs while the slot migrates).
    """
    keys = [record_key, probe]
    raw = yield from load("write_entity").steps(conn, keys, [ttl, *args])
    return json.loads(raw)


def search(conn: redis.Redis, temp: str, probe: str, plan: str) -> Any:
    """Run ``search.lua`` on a JSON SearchPlan whose temporary key is
    ``temp`` (its KEYS[1]; KEYS[2] the slot's ``KeySpace.probe``); the
    reply depends on its mode."""
    return load("search")(conn, [temp, probe], [plan])


def page(
    conn: redis.Redis,
    key: str,
    probe: str,
    row_prefix: str,
    first: int,
    last: int,
    ttl: int,
    fields: list[str],
) -> list[Any]:
    """Run ``page.lua``: ranks ``first..last`` of a cached result, with data."""
    reply = load("page")(
        conn, [key, probe], [row_prefix, first, last, ttl, "", "rank", *fields]
    )
    return reply  # type: ignore[no-any-return]


def fetch_by_unique(
    conn: redis.Redis, keys: list[str], row_prefix: str, values: list[str]
) -> list[list[Any]]:
    """Run ``fetch_by_unique.lua`` now (see ``fetch_by_unique_steps``)."""
    return run_sync(fetch_by_unique_steps(conn, keys, row_prefix, values))


def fetch_by_unique_steps(
    conn: Any, keys: list[str], row_prefix: str, values: list[str]
) -> Steps[list[list[Any]]]:
    """Run ``fetch_by_unique.lua``: per value, ``[]`` or ``[id, field, value...]``.

    ``keys`` is the unique HASH, then the slot's ``KeySpace.probe``.
    """
    script = load("fetch_by_unique")
    reply = yield from script.steps(conn, keys, [row_prefix, *values])
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


def many_to_many(conn: redis.Redis, keys: list[str], plan: str) -> Any:
    """Run ``many_to_many.lua`` on a JSON plan (see the script's header);
    ``keys`` is a key of the slot it works in, then that slot's
    ``KeySpace.probe``."""
    return run_sync(many_to_many_steps(conn, keys, plan))


def many_to_many_steps(conn: Any, keys: list[str], plan: str) -> Steps[Any]:
    """``many_to_many`` as steps, for either transport."""
    reply = yield from load("many_to_many").steps(conn, keys, [plan])
    return reply


def repair_entries(conn: redis.Redis, keys: list[str], args: list[Any]) -> list[int]:
    """Run ``repair_entries.lua``; per entry 1 removed, 0 gone, -1 row changed."""
    return [int(n) for n in load("repair_entries")(conn, keys, args)]


def raise_counter(conn: redis.Redis, key: str, at_least: int) -> int:
    """Run ``raise_counter.lua``: raise the id counter ``key`` to ``at_least``."""
    return int(load("raise_counter")(conn, [key], [at_least]))
