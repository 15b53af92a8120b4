"""Apply WritePlans with WATCH/MULTI/EXEC: the same end state as ``write_entity.lua``.

Used after ``rom._disable_lua_writes()``, for Redis-compatible servers
without scripting. Checks run under WATCH; a WatchError retries the plan.
Each plan is one request with its own write record, watched and written in
the same MULTI: a retry (after a WatchError, which is also what redis-py
raises when the connection drops during EXEC) first reads the record, so a
plan that was applied is never applied twice.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from ._keys import KeySpace
from ._record import RecordEntry
from ._record import record_entries
from ._replies import text_or_none
from ._writer import WritePlan
from .exceptions import InvalidOperation
from .keygen import encode_unique_constraint

__all__ = ["apply_plan"]


def apply_plan(conn: redis.Redis, plan: WritePlan, record_key: str, ttl: int) -> Any:
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
    keys = KeySpace(plan.namespace, plan.pk)
    with conn.pipeline(transaction=True) as pipe:
        while True:
            try:
                return _attempt(conn, pipe, keys, plan, record_key, ttl)
            except WatchError:
                continue


def _attempt(
    conn: redis.Redis,
    pipe: Pipeline,
    keys: KeySpace,
    plan: WritePlan,
    record_key: str,
    ttl: int,
) -> Any:
    unique_keys = [keys.unique(col) for col, _ in plan.unique + plan.unique_del]
    unique_keys += [keys.unique(name) for name, _ in plan.unique_fields]
    unique_keys += [keys.unique(col) for col, _ in plan.unique_stored]
    row = keys.entity(plan.id) if plan.id is not None else None
    # A new entity takes the counter's next value inside the transaction, with
    # the counter watched: a failed or retried attempt burns no id.
    watched = [row] if row else [keys.counter]
    pipe.watch(record_key, *watched, keys.legacy_index, *unique_keys)  # type: ignore[no-untyped-call]
    recorded = pipe.get(record_key)
    if recorded is not None:
        pipe.unwatch()
        return json.loads(recorded)
    failed = _check(pipe, keys, row, plan)
    if failed is not None:
        # The checks read in several round trips; an empty transaction raises
        # WatchError (so we retry) unless they all saw one unchanged state.
        pipe.multi()
        pipe.execute()
        return [failed]
    new = plan.id is None
    id = _next_id(pipe, keys.counter) if new else str(plan.id)
    row = keys.entity(id)
    record = _stored_record(pipe, keys, id, row)
    candidates = plan.unique_del + plan.unique_stored
    candidates += _current_unique(pipe, row, plan)
    written = set(plan.unique)  # entries this plan writes are never removed
    removable = [
        (col, value)
        for col, value in dict.fromkeys(candidates)
        if (col, value) not in written
        and text_or_none(pipe.hget(keys.unique(col), value)) == id
    ]
    _check_types(conn, row, keys, plan, record)
    result = [{"id": id}]
    pipe.multi()
    if new:
        pipe.incr(keys.counter)
        pipe.hset(row, plan.pk, id)
    _queue_writes(pipe, keys, plan, id, row, record, removable)
    pipe.set(record_key, json.dumps(result), ex=ttl)
    pipe.execute()
    return result


def _next_id(pipe: Pipeline, counter: str) -> str:
    # The id INCR will give; a counter that is no id is refused before any
    # write, with the message write_entity.lua gives.
    value = text_or_none(pipe.get(counter)) or "0"
    if not (value.isascii() and value.isdigit()) or len(value) > 15:
        raise redis.exceptions.ResponseError(
            f"id counter {counter} holds {value}, not an id; set it to the "
            "largest id in use"
        )
    return str(int(value) + 1)


def _check_types(
    conn: redis.Redis,
    row: str,
    keys: KeySpace,
    plan: WritePlan,
    record: list[RecordEntry],
) -> None:
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
    with conn.pipeline(transaction=False) as types:
        for key in wanted:
            types.type(key)
        found = [text_or_none(t) for t in types.execute()]
    for (key, kind), got in zip(wanted.items(), found, strict=True):
        if got not in ("none", kind):
            raise redis.exceptions.ResponseError(
                f"WRONGTYPE key {key} holds a {got}, the write needs a {kind} "
                "(or no key)"
            )


def _current_unique(pipe: Pipeline, row: str, plan: WritePlan) -> list[tuple[str, str]]:
    # The unique entries of the row as it is in Redis (see write_entity.lua),
    # for a delete or a forced save.
    found: list[tuple[str, str]] = []
    for name, fields in plan.unique_fields:
        values = [text_or_none(v) for v in pipe.hmget(row, list(fields))]
        if all(v is not None for v in values):
            wires = [str(v) for v in values]
            value = wires[0] if len(wires) == 1 else encode_unique_constraint(wires)
            found.append((name, value))
    return found


def _check(
    pipe: Pipeline, keys: KeySpace, row: str | None, plan: WritePlan
) -> dict[str, Any] | None:
    if row is not None and _row_moved(pipe, row, plan):
        return {"error": "moved"}
    changed = []
    for field, expected in plan.race:
        current = text_or_none(pipe.hget(row, field)) if row else None
        if field == plan.pk and current is None:
            return {"error": "deleted"}
        if current != expected:
            changed.append(field)
    if changed:
        return {"error": "race", "fields": changed}
    for col, value in plan.unique:
        owner = text_or_none(pipe.hget(keys.unique(col), value))
        if owner is not None and owner != plan.id:
            return {"error": "unique", "column": col, "value": value}
    return None


def _row_moved(pipe: Pipeline, row: str, plan: WritePlan) -> bool:
    # The row's fields are no longer as read for the plan's row_check.
    if not plan.row_check:
        return False
    fields = [f for f, _ in plan.row_check]
    values = [text_or_none(v) for v in pipe.hmget(row, fields)]
    return values != [v for _, v in plan.row_check]


def _stored_record(
    pipe: Pipeline, keys: KeySpace, id: str, row: str
) -> list[RecordEntry]:
    # The legacy <ns>:: record, if any, wins over -index-data-, as in rom 1.1.2.
    raw = text_or_none(pipe.hget(keys.legacy_index, id))
    if raw is None:
        raw = text_or_none(pipe.hget(row, "-index-data-"))
    return record_entries(keys, id, raw)


def _queue_writes(
    pipe: Pipeline,
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


def _queue_removals(pipe: Pipeline, record: list[RecordEntry]) -> None:
    for kind, key, member in record:
        if kind == "set":
            pipe.srem(key, member)
        else:
            pipe.zrem(key, member)


def _queue_additions(pipe: Pipeline, keys: KeySpace, plan: WritePlan, id: str) -> None:
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
