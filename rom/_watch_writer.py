"""Apply WritePlans with WATCH/MULTI/EXEC: the same end state as ``write_entity.lua``.

Used after ``rom._disable_lua_writes()``, for Redis-compatible servers
without scripting. Checks run under WATCH; a WatchError retries the plan.
Each plan is one request with its own write record, watched and written in
the same MULTI: a retry (after a WatchError, which is also what redis-py
raises when the connection drops during EXEC) first reads the record, so a
plan that was applied is never applied twice.

Written as steps (``rom._io``): one ``Pinned`` request holds a transaction
pipeline for the whole plan, so the same code runs on ``redis.Redis`` and
on ``redis.asyncio.Redis``. ``pipe`` below is that pipeline as the driver
passes it: the steps only name it in the requests they yield.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import WatchError

from ._io import Pinned
from ._io import Pipeline
from ._io import Steps
from ._io import call
from ._keys import KeySpace
from ._record import RecordEntry
from ._record import record_entries
from ._replies import text_or_none
from ._writer import WritePlan
from .exceptions import InvalidOperation
from .keygen import encode_unique_constraint

__all__ = ["apply_plan_steps"]


class _Queued(list[tuple[str, tuple[Any, ...], dict[str, Any]]]):
    """Commands to send after MULTI: ``queued.hset(...)`` appends one."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        def add(*args: Any, **kwargs: Any) -> None:
            self.append((name, args, kwargs))

        return add


def apply_plan_steps(
    conn: Any, plan: WritePlan, record_key: str, ttl: int
) -> Steps[Any]:
    """Apply one plan as the request ``record_key`` names.

    Returns ``[result]`` as the script would, or what the record holds if
    the request ran already.
    """
    if plan.expiry_keys is not None:
        raise InvalidOperation(
            f"{plan.namespace}: a model declaring _ttl needs Lua scripting (its "
            "expiry is checked and cleaned up inside scripts); the WATCH writer "
            "(after rom._disable_lua_writes()) cannot write it"
        )

    def steps(pipe: Any) -> Steps[Any]:
        keys = plan.keyspace
        while True:
            try:
                return (yield from _attempt(conn, pipe, keys, plan, record_key, ttl))
            except WatchError:
                continue

    reply = yield Pinned(conn, steps)
    return reply


def _attempt(
    conn: Any,
    pipe: Any,
    keys: KeySpace,
    plan: WritePlan,
    record_key: str,
    ttl: int,
) -> Steps[Any]:
    unique_keys = [keys.unique(col) for col, _ in plan.unique + plan.unique_del]
    unique_keys += [keys.unique(name) for name, _ in plan.unique_fields]
    unique_keys += [keys.unique(col) for col, _ in plan.unique_stored]
    row = keys.entity(plan.id) if plan.id is not None else None
    # A new entity takes the counter's next value inside the transaction, with
    # the counter watched: a failed or retried attempt burns no id.
    watched = [row] if row else [keys.counter]
    yield from call(
        pipe, "watch", record_key, *watched, keys.legacy_index, *unique_keys
    )
    recorded = yield from call(pipe, "get", record_key)
    if recorded is not None:
        yield from call(pipe, "unwatch")
        return json.loads(recorded)
    failed = yield from _check(pipe, keys, row, plan)
    if failed is not None:
        # The checks read in several round trips; an empty transaction raises
        # WatchError (so we retry) unless they all saw one unchanged state.
        yield from call(pipe, "multi")
        yield from call(pipe, "execute")
        return [failed]
    new = plan.id is None
    id = (yield from _next_id(pipe, keys.counter)) if new else str(plan.id)
    row = keys.entity(id)
    record = yield from _stored_record(pipe, keys, id, row)
    candidates = plan.unique_del + plan.unique_stored
    candidates += yield from _current_unique(pipe, row, plan)
    written = set(plan.unique)  # entries this plan writes are never removed
    removable = []
    for col, value in dict.fromkeys(candidates):
        if (col, value) in written:
            continue
        owner = yield from call(pipe, "hget", keys.unique(col), value)
        if text_or_none(owner) == id:
            removable.append((col, value))
    yield from _check_types(conn, row, keys, plan, record)
    result = [{"id": id}]
    queued = _Queued()
    if new:
        queued.incr(keys.counter)
        queued.hset(row, plan.pk, id)
    _queue_writes(queued, keys, plan, id, row, record, removable)
    queued.set(record_key, json.dumps(result), ex=ttl)
    yield from call(pipe, "multi")
    for name, args, kwargs in queued:
        yield from call(pipe, name, *args, **kwargs)
    yield from call(pipe, "execute")
    return result


def _next_id(pipe: Any, counter: str) -> Steps[str]:
    # The id INCR will give; a counter that is no id is refused before any
    # write, with the message write_entity.lua gives.
    value = text_or_none((yield from call(pipe, "get", counter))) or "0"
    if not (value.isascii() and value.isdigit()) or len(value) > 15:
        raise redis.exceptions.ResponseError(
            f"id counter {counter} holds {value}, not an id; set it to the "
            "largest id in use"
        )
    return str(int(value) + 1)


def _check_types(
    conn: Any,
    row: str,
    keys: KeySpace,
    plan: WritePlan,
    record: list[RecordEntry],
) -> Steps[None]:
    # A command of the wrong type fails inside EXEC while the others apply:
    # find such keys first (one round trip), so the plan writes all or nothing.
    wanted = {row: "hash"}
    wanted.update({entry.key: entry.kind for entry in record})
    if not plan.delete:
        e = plan.entries
        wanted.update({keys.index(name): "set" for name in e.tokens})
        wanted.update({keys.index(name): "zset" for name, _ in e.scored})
        wanted.update({keys.prefix(attr): "zset" for attr, _, _ in e.prefix})
        wanted.update({keys.suffix(attr): "zset" for attr, _, _ in e.suffix})
        wanted.update({keys.geo(name): "zset" for name, _, _ in e.geo})
    types = yield Pipeline(conn, tuple(("type", (key,), {}) for key in wanted))
    found = [text_or_none(t) for t in types]
    for (key, kind), got in zip(wanted.items(), found, strict=True):
        if got not in ("none", kind):
            raise redis.exceptions.ResponseError(
                f"WRONGTYPE key {key} holds a {got}, the write needs a {kind} "
                "(or no key)"
            )


def _current_unique(
    pipe: Any, row: str, plan: WritePlan
) -> Steps[list[tuple[str, str]]]:
    # The unique entries of the row as it is in Redis (see write_entity.lua),
    # for a delete or a forced save.
    found: list[tuple[str, str]] = []
    for name, fields in plan.unique_fields:
        read = yield from call(pipe, "hmget", row, list(fields))
        values = [text_or_none(v) for v in read]
        if all(v is not None for v in values):
            wires = [str(v) for v in values]
            value = wires[0] if len(wires) == 1 else encode_unique_constraint(wires)
            found.append((name, value))
    return found


def _check(
    pipe: Any, keys: KeySpace, row: str | None, plan: WritePlan
) -> Steps[dict[str, Any] | None]:
    if row is not None and (yield from _row_moved(pipe, row, plan)):
        return {"error": "moved"}
    changed = []
    for field, expected in plan.race:
        current = (
            text_or_none((yield from call(pipe, "hget", row, field))) if row else None
        )
        if field == plan.pk and current is None:
            return {"error": "deleted"}
        if current != expected:
            changed.append(field)
    if changed:
        return {"error": "race", "fields": changed}
    for col, value in plan.unique:
        owner = text_or_none((yield from call(pipe, "hget", keys.unique(col), value)))
        if owner is not None and owner != plan.id:
            return {"error": "unique", "column": col, "value": value}
    return None


def _row_moved(pipe: Any, row: str, plan: WritePlan) -> Steps[bool]:
    # The row's fields are no longer as read for the plan's row_check.
    if not plan.row_check:
        return False
    fields = [f for f, _ in plan.row_check]
    read = yield from call(pipe, "hmget", row, fields)
    values = [text_or_none(v) for v in read]
    return values != [v for _, v in plan.row_check]


def _stored_record(
    pipe: Any, keys: KeySpace, id: str, row: str
) -> Steps[list[RecordEntry]]:
    # The legacy <ns>:: record, if any, wins over -index-data-, as in rom 1.1.2.
    raw = text_or_none((yield from call(pipe, "hget", keys.legacy_index, id)))
    if raw is None:
        raw = text_or_none((yield from call(pipe, "hget", row, "-index-data-")))
    return record_entries(keys, id, raw)


def _queue_writes(
    pipe: _Queued,
    keys: KeySpace,
    plan: WritePlan,
    id: str,
    row: str,
    record: list[RecordEntry],
    removable: list[tuple[str, str]],
) -> None:
    for col, value in plan.unique:
        pipe.hset(keys.unique(col), value, id)
    for col, value in removable:
        pipe.hdel(keys.unique(col), value)
    if plan.hdel:
        pipe.hdel(row, *plan.hdel)
    if plan.hset:
        pipe.hset(row, items=plan.hset)
    _queue_removals(pipe, record)
    pipe.hdel(keys.legacy_index, id)
    if plan.delete:
        pipe.delete(row, *(keys.unsafe(id, attr) for attr in plan.unsafe))
        return
    _queue_additions(pipe, keys, plan, id)
    pipe.hset(row, "-index-data-", plan.entries.record())


def _queue_removals(pipe: _Queued, record: list[RecordEntry]) -> None:
    for kind, key, member in record:
        if kind == "set":
            pipe.srem(key, member)
        else:
            pipe.zrem(key, member)


def _queue_additions(pipe: _Queued, keys: KeySpace, plan: WritePlan, id: str) -> None:
    e = plan.entries
    for name in e.tokens:
        pipe.sadd(keys.index(name), id)
    for name, score in e.scored:
        pipe.zadd(keys.index(name), {id: score if score is not None else id})
    for attr, token, score in e.prefix:
        pipe.zadd(keys.prefix(attr), {f"{token}\0{id}": score})
    for attr, rev, score in e.suffix:
        pipe.zadd(keys.suffix(attr), {f"{rev}\0{id}": score})
    for name, lon, lat in e.geo:
        pipe.geoadd(keys.geo(name), (lon, lat, id))
