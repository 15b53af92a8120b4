"""Write requests: bounded chunks, each sent exactly once, lost replies settled.

A request is one call of ``write_entity.lua`` (or one WATCH transaction)
with a fresh token; Redis records its reply under
``KeySpace.write_record(token)`` atomically with the write, so sending it
again is harmless. ``send`` re-sends on a lost reply; when it cannot learn
the outcome it raises ``WriteOutcomeUnknown`` and remembers the request on
its entities, which ``settle_pending`` looks up (and fences) before they
write again.
"""

from __future__ import annotations

import json
import os
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import redis
from redis.exceptions import ResponseError

from . import _scripts
from . import _watch_writer
from ._io import Pipeline
from ._io import Steps
from ._io import Wait
from ._redis_rules import write_error
from ._replies import text_or_none
from ._state import mark_deleted
from ._state import settle
from ._state import state_of
from ._writer import WritePlan
from ._writer import write_args
from .exceptions import WriteOutcomeUnknown

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "CHUNK_ENTITIES",
    "CHUNK_WORK",
    "RECORD_TTL",
    "SEND_ATTEMPTS",
    "Batch",
    "chunks",
    "disable_lua_writes",
    "enable_lua_writes",
    "names",
    "send",
    "settle_applied",
    "settle_pending",
]

Batch = list[tuple["Model", WritePlan]]

_USE_LUA = True

# Seconds Redis keeps the outcome of a write request (its write record). A
# lost reply is settled within this time: by rom re-sending the request at
# once, or by the entity's next save/delete after WriteOutcomeUnknown.
RECORD_TTL = 300
# How many times a request is sent before its outcome is called unknown
# (each send is itself retried by redis-py's own Retry, if configured).
SEND_ATTEMPTS = 5
# One script call writes at most this many entities and this much work
# (row fields plus index and unique entries, see _work): a bounded call
# keeps Redis answering other clients (benchmarks/script_time.py).
CHUNK_ENTITIES = 500
CHUNK_WORK = 5_000
# What a settled (fenced) request's record holds when it never ran.
_FENCED = '"fenced"'


def enable_lua_writes() -> None:
    """Write with the atomic Lua script (the default)."""
    global _USE_LUA
    _USE_LUA = True


def disable_lua_writes() -> None:
    """Write with WATCH/MULTI/EXEC (for servers without scripting)."""
    global _USE_LUA
    _USE_LUA = False


@dataclass(eq=False)
class _Pending:
    """A request whose outcome an entity has not learnt (its reply was lost)."""

    record_key: str
    index: int
    plan: WritePlan
    last: dict[str, str]


# Entities with a request of unknown outcome, settled before they write again.
_PENDING: weakref.WeakKeyDictionary[Model, _Pending] = weakref.WeakKeyDictionary()


# -- sending -----------------------------------------------------------------


def _work(plan: WritePlan) -> int:
    # What a plan costs the script, roughly: fields, unique entries, and
    # index entries (a reindex removes the old ones too).
    e = plan.entries
    entries = len(e.tokens) + len(e.scored) + len(e.prefix) + len(e.suffix)
    entries += len(e.geo)
    fields = len(plan.hset) // 2 + len(plan.hdel)
    return 1 + fields + len(plan.unique) + len(plan.unique_del) + 2 * entries


def chunks(batch: Batch) -> list[Batch]:
    """Split a connection's writes into requests of bounded size, in order.

    The WATCH path writes one plan per transaction: one plan per request.
    """
    if not _USE_LUA:
        return [[pair] for pair in batch]
    found: list[Batch] = []
    chunk: Batch = []
    work = 0
    for entity, plan in batch:
        cost = _work(plan)
        if chunk and (len(chunk) >= CHUNK_ENTITIES or work + cost > CHUNK_WORK):
            found.append(chunk)
            chunk, work = [], 0
        chunk.append((entity, plan))
        work += cost
    if chunk:
        found.append(chunk)
    return found


def _call(conn: Any, chunk: Batch, record_key: str, args: list[str]) -> Steps[Any]:
    if _USE_LUA:
        probe = chunk[0][1].keyspace.probe
        reply = yield from _scripts.write_entity_steps(
            conn, record_key, RECORD_TTL, args, probe
        )
        return reply
    reply = yield from _watch_writer.apply_plan_steps(
        conn, chunk[0][1], record_key, RECORD_TTL
    )
    return reply


def _busy(exc: ResponseError) -> bool:
    # The server was running a (possibly this very) script when the request
    # was re-sent: it may yet answer from the record.
    # (In a pipeline, redis-py puts "Command # N (...) of pipeline caused
    # error: " before the server's message.)
    message = str(exc)
    return message.startswith("BUSY") or "caused error: BUSY " in message


def _token() -> str:
    # uuid.uuid4().hex, without building a UUID object (its checks cost
    # more than the random bytes): 16 random bytes, version 4, RFC 4122 variant.
    n = int.from_bytes(os.urandom(16), "big")
    n = (n & _UUID4_CLEAR) | _UUID4_SET
    return f"{n:032x}"


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def send(conn: Any, chunk: Batch) -> Steps[list[dict[str, Any]]]:
    """Send one request exactly once; return its results, one per plan run.

    A lost reply is settled by sending the same request (same token) again:
    Redis answers a request it ran from its record and writes nothing. A
    send interrupted from outside (an asyncio task cancelled while it
    awaits the reply, a KeyboardInterrupt) leaves the request's outcome
    unknown: it is remembered on its entities and settled before they
    write again, exactly as a reply lost after every re-send.
    """
    first = chunk[0][1]
    # The chunk's plans share a slot group (_persist groups them so): its
    # record lives in their slot.
    record_key = first.keyspace.write_record(_token())
    args = write_args(plan for _, plan in chunk) if _USE_LUA else []
    lost: Exception | None = None
    for attempt in range(SEND_ATTEMPTS):
        if attempt:
            yield Wait(min(0.05 * 2 ** (attempt - 1), 1.0))
        try:
            reply = yield from _call(conn, chunk, record_key, args)
        except ResponseError as exc:
            if not _busy(exc):
                raise _refused(chunk, exc) from exc
            lost = exc
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            lost = exc
        except BaseException:
            _remember(chunk, record_key)
            raise
        else:
            return reply if isinstance(reply, list) else []
    _remember(chunk, record_key)
    raise _unknown(chunk, lost) from lost


def _remember(chunk: Batch, record_key: str) -> None:
    for index, (entity, plan) in enumerate(chunk):
        _PENDING[entity] = _Pending(record_key, index, plan, state_of(entity).last)


def names(chunk: Batch) -> str:
    shown = [f"{type(e).__name__} {p.id or 'new'}" for e, p in chunk[:5]]
    more = f" and {len(chunk) - 5} more" if len(chunk) > 5 else ""
    return ", ".join(shown) + more


def _unknown(chunk: Batch, cause: Exception | None) -> WriteOutcomeUnknown:
    return WriteOutcomeUnknown(
        f"Writing {names(chunk)}: no reply from Redis after {SEND_ATTEMPTS} "
        f"sends ({cause!r}), so it is unknown whether the write was applied. "
        "It was applied at most once. Save or delete these entities again "
        "once Redis answers: rom first looks up the outcome and adopts it",
        tuple(type(e).__name__ for e, _ in chunk),
        tuple(p.id for _, p in chunk),
    )


def _refused(chunk: Batch, exc: ResponseError) -> ResponseError:
    # A Redis error for the whole request (the script is refused before its
    # first write, as with OOM): nothing of this request was written.
    exc = write_error(exc)  # Redis 6.2 wraps OOM in a script error
    what = "saving" if not chunk[0][1].delete else "deleting"
    these = "this entity" if len(chunk) == 1 else "these entities"
    message = (
        f"{exc} (while {what} {names(chunk)}; nothing of {these} was "
        "written, entities written before in the same save are saved"
    )
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        message += "; free memory in Redis or raise maxmemory, then save again"
    return type(exc)(message + ")")


# -- settling lost replies ------------------------------------------------------


def settle_pending(entities: list[Model]) -> Steps[None]:
    """Learn the outcome of requests whose reply was lost, and adopt it.

    One round trip per connection, only when some entity has such a
    request. Each request is also fenced: its record is set (if absent)
    to say it never ran, so a copy of it still on its way cannot apply.

    The record is looked up through the entity's connection as it is now,
    the one the coming write will use, not the one the request went out
    on: after a failover (the application pointed at the promoted replica)
    the old client may never answer again, and the replica holds the
    record of every write it received.
    """
    pending = [(e, _PENDING[e]) for e in entities if e in _PENDING]
    if not pending:
        return
    by_conn: dict[int, tuple[Any, list[str]]] = {}
    for entity, p in pending:
        conn = entity._connection
        keys = by_conn.setdefault(id(conn), (conn, []))[1]
        if p.record_key not in keys:
            keys.append(p.record_key)
    outcomes: dict[str, Any] = {}
    for conn, keys in by_conn.values():
        commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        for key in keys:
            commands.append(("set", (key, _FENCED), {"nx": True, "ex": RECORD_TTL}))
            commands.append(("get", (key,), {}))
        replies = yield from _look_up(conn, tuple(commands), pending)
        for key, raw in zip(keys, replies[1::2], strict=True):
            outcomes[key] = _decode(text_or_none(raw))
    for entity, p in pending:
        del _PENDING[entity]
        outcome = outcomes[p.record_key]
        if not isinstance(outcome, list) or p.index >= len(outcome):
            continue
        result = outcome[p.index]
        if isinstance(result, dict) and "id" in result:
            _adopt(entity, p, str(result["id"]))


def settle_applied(batch: Batch) -> Steps[Batch]:
    """Settle now the writes of ``batch`` whose outcome is unknown.

    For a caller that must know at once (a delete putting its referrers'
    values back): each pending request is looked up and fenced as in
    ``settle_pending``. Returns the pairs found applied, adopted by their
    entities.
    """
    pending = [(e, p) for e, p in batch if e in _PENDING and _PENDING[e].plan is p]
    if not pending:
        return []
    yield from settle_pending([entity for entity, _ in pending])
    return [
        (entity, plan)
        for entity, plan in pending
        if (
            state_of(entity).deleted
            if plan.delete
            else not state_of(entity).wrote_since(plan.new_last)
        )
    ]


def _look_up(
    conn: Any,
    commands: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...],
    pending: list[tuple[Model, _Pending]],
) -> Steps[list[Any]]:
    # Fencing and reading the records is safe to repeat. A server still
    # running the lost request's script answers BUSY: wait for it as send()
    # does; if it never answers, the outcomes stay unknown (and pending).
    lost: Exception | None = None
    for attempt in range(SEND_ATTEMPTS):
        if attempt:
            yield Wait(min(0.05 * 2 ** (attempt - 1), 1.0))
        try:
            replies = yield Pipeline(conn, commands)
        except ResponseError as exc:
            if not _busy(exc):
                raise
            lost = exc
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            lost = exc
        else:
            return list(replies)
    shown = [(e, p.plan) for e, p in pending]
    raise WriteOutcomeUnknown(
        f"Writing {names(shown)}: an earlier write of these entities got no "
        f"reply, and Redis did not answer the look-up of its outcome after "
        f"{SEND_ATTEMPTS} tries ({lost!r}). Nothing more was written. Save or "
        "delete them again once Redis answers",
        tuple(type(e).__name__ for e, _ in shown),
        tuple(p.id for _, p in shown),
    ) from lost


def _decode(raw: str | None) -> Any:
    try:
        return json.loads(raw) if raw is not None else None
    except ValueError:
        return None


def _adopt(entity: Model, pending: _Pending, id: str) -> None:
    # The lost request was applied: take on its id and written state, unless
    # the entity was reloaded since (then its state is newer already).
    state = state_of(entity)
    if state.wrote_since(pending.last):
        return
    pending.plan.id = id
    if pending.plan.delete:
        mark_deleted(entity)
        return
    settle(entity, pending.plan)
    # Changes made since the lost save are still to be written.
    state.mark_modified()
