"""Exact unique values of partitioned models: claim, write, confirm.

A partitioned model's unique value lives in the partition the value hashes
to (``_partitions.value_partition``), apart from the entity's own, so a
write that takes a new value crosses two slots. No script spans both; the
protocol (docs/partitioning_unique.rst) keeps one invariant instead:

    if an entity's row holds a unique value, the value's unique HASH entry
    or its claim names that entity;

and the row is the truth wherever an entry and a row disagree. Per write:

1. claim (``unique_claims.lua`` in the value's slot): the claim
   ``<id>:<deadline>`` is recorded unless a claim is there; the entry's
   holder or the claimant is then judged by reading its row;
2. write (``write_entity.lua``, the entity's slot) carrying a fence, the
   claims' earliest deadline less a margin: refused after it;
3. confirm (value's slot): the entry gets the id, the claim goes; the old
   values of the entity are held, its row read again, and dropped if the
   row still lacks them. A write that failed releases its claims.

A writer that dies leaves claims (and maybe stale entries) behind: readers
(``find``) and the sweep (``rom/_unique_sweep.py``) resolve them from the rows.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from . import _expiry_reads
from . import _requests
from . import _scripts
from ._io import Pipeline
from ._io import Steps
from ._keys import KeySpace
from ._meta import ModelInfo
from ._partitions import value_partition
from ._replies import decode_row
from ._replies import text
from ._state import take_id
from ._writer import WritePlan
from ._writer import decode_last
from ._writer import unique_values
from .exceptions import InvalidOperation
from .exceptions import UniqueKeyViolation
from .exceptions import WriteOutcomeUnknown

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "CLAIM_LIFETIME_MS",
    "FENCE_MARGIN_MS",
    "Op",
    "claim",
    "claim_id",
    "deadline",
    "find",
    "finish",
    "holds",
    "read_rows",
    "run_ops",
    "unique_names",
]

Batch = list[tuple["Model", WritePlan]]

# How long a claim holds a value for its writer (milliseconds): a writer
# must write its entity within this time less FENCE_MARGIN_MS, or its write
# is refused (nothing written). After it, a claim whose row lacks the value
# is taken over by the next writer or dropped by the sweep. Settable.
CLAIM_LIFETIME_MS = 30_000
# The part of a claim's lifetime its writer may not use: it covers a clock
# difference between the node of the value's slot (which sets the
# deadline) and the node of the entity's slot (which checks the fence).
FENCE_MARGIN_MS = 5_000
# Claim rounds before a writer gives up on a value whose claims keep
# changing hands (each round follows an expired claim found stale).
CLAIM_ROUNDS = 5


def unique_names(info: ModelInfo) -> list[str]:
    """The unique HASH names of a model: its unique columns, then its
    ``unique_together`` groups as ``c1:c2``."""
    return [col.attr for col in info.unique] + [
        ":".join(group) for group in info.unique_together
    ]


def claim_id(claim: str) -> str:
    return claim.rpartition(":")[0]


def deadline(claim: str) -> int:
    return int(claim.rpartition(":")[2])


@dataclass(slots=True)
class Op:
    """One item of a ``unique_claims.lua`` call."""

    op: str
    cols: str
    value: str
    id: str
    token: str = ""


def run_ops(conn: Any, info: ModelInfo, ops: Sequence[Op]) -> Steps[list[Any]]:
    """Run ``ops`` of one model: one script call per value partition.

    Returns the answers in the order of ``ops``."""
    by_part: dict[int, list[int]] = {}
    for i, op in enumerate(ops):
        by_part.setdefault(value_partition(op.value, info.partitions), []).append(i)
    answers: list[Any] = [None] * len(ops)
    script = _scripts.load("unique_claims")
    for part, indexes in by_part.items():
        keys: KeySpace = info.parts[part]
        names = list(dict.fromkeys(ops[i].cols for i in indexes))
        pair = {name: n + 1 for n, name in enumerate(names)}
        script_keys = [keys.probe]
        for name in names:
            script_keys += [keys.unique(name), keys.claims(name)]
        args: list[Any] = [CLAIM_LIFETIME_MS]
        for i in indexes:
            op = ops[i]
            args += [op.op, pair[op.cols], op.value, op.id, op.token]
        raw = yield from script.steps(conn, script_keys, args)
        for i, answer in zip(indexes, json.loads(raw), strict=True):
            answers[i] = answer
    return answers


def read_rows(
    conn: Any, info: ModelInfo, ids: Sequence[str]
) -> Steps[dict[str, dict[str, str]]]:
    """The rows of entity ids (missing ones, and non-ids, left out)."""
    wanted = [i for i in dict.fromkeys(ids) if i.lstrip("-").isdigit()]
    if not wanted:
        return {}
    if info.expiring:
        # An expired entity holds nothing (and is removed on the way), as
        # every other read of an expiring model has it.
        alive = yield from _expiry_reads.read_ids(conn, info, [int(i) for i in wanted])
        return {i: row for i, row in zip(wanted, alive, strict=True) if row}
    keys = info.entity_keys(wanted)
    commands: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...] = tuple(
        ("hgetall", (key,), {}) for key in keys
    )
    replies = yield Pipeline(conn, commands, transaction=False)
    return {
        i: decode_row(raw, key)
        for i, key, raw in zip(wanted, keys, replies, strict=True)
        if raw
    }


def holds(info: ModelInfo, row: dict[str, str] | None, cols: str, value: str) -> bool:
    """True if ``row`` (as stored) has the unique value ``value`` of ``cols``."""
    if not row:
        return False
    keygen = any(col.keygen is not None and not col.index for col in info.unique)
    values = decode_last(info, row) if keygen else {}
    return (cols, value) in unique_values(info, values, lambda col: row.get(col.attr))


def _violation(
    entity: Model, plan: WritePlan, cols: str, value: str, why: str
) -> UniqueKeyViolation:
    info = entity._meta
    shown = entity._describe_unique(cols, value)
    return UniqueKeyViolation(
        f"Value {shown} of {info.name}.{cols} not distinct (failed for "
        f"pk={plan.id}): {why}",
        info.namespace,
        plan.id or "",
        cols,
        value,
    )


# -- writing ------------------------------------------------------------------


def claim(batch: Batch) -> Steps[tuple[Batch, BaseException | None]]:
    """Claim the new unique values of a batch's partitioned plans.

    Returns the writes that may go ahead (those before the first entity
    whose value is taken, in batch order) and that entity's error. Plans
    get their ``tokens`` and ``fence``; a new entity gets its id first.
    """
    if not any(plan.claims for _, plan in batch):
        return batch, None
    if not _requests._USE_LUA:
        entity = next(e for e, p in batch if p.claims)
        raise InvalidOperation(
            f"{entity._meta.name} is partitioned with unique columns: its "
            "unique values need the Lua writer's fence, which the WATCH/MULTI "
            "writer (rom._disable_lua_writes()) does not have; call "
            "rom._enable_lua_writes() (the default)"
        )
    failures: dict[int, BaseException] = {}
    try:
        yield from _claim(batch, failures)
    except Exception as exc:
        yield from _release(batch)
        return [], exc
    if not failures:
        return batch, None
    first = min(failures)
    yield from _release(batch[first:])
    return batch[:first], failures[first]


def _claim(batch: Batch, failures: dict[int, BaseException]) -> Steps[None]:
    # (batch index, cols, value) per claim; a value wanted twice in one
    # batch goes to the first entity wanting it.
    wanted: dict[tuple[str, str, str], int] = {}
    items: list[tuple[int, str, str]] = []
    yield from _give_ids([(e, p) for e, p in batch if p.claims and p.id is None])
    for index, (entity, plan) in enumerate(batch):
        if not plan.claims:
            continue
        for cols, value in plan.claims:
            other = wanted.setdefault((entity._meta.name, cols, value), index)
            if other != index:
                failures.setdefault(
                    index,
                    _violation(
                        entity,
                        plan,
                        cols,
                        value,
                        f"another {entity._meta.name} of the same save (id "
                        f"{batch[other][1].id}) takes it",
                    ),
                )
                continue
            items.append((index, cols, value))
    stale: dict[tuple[int, str, str], str] = {}
    for _ in range(CLAIM_ROUNDS):
        if not items:
            break
        items = yield from _claim_round(batch, items, stale, failures)
    for index, cols, value in items:
        entity, plan = batch[index]
        failures.setdefault(
            index,
            _violation(
                entity,
                plan,
                cols,
                value,
                "its claims kept changing hands; try again",
            ),
        )
    for _, plan in batch:
        if plan.tokens:
            first = min(deadline(t) for t in plan.tokens.values())
            plan.fence = first - FENCE_MARGIN_MS


def _give_ids(new: Batch) -> Steps[None]:
    # A claim names its entity: new entities take their ids (from their
    # partition's counter, as the writer would) first, one pipeline per
    # connection.
    by_conn: dict[int, Batch] = {}
    for entity, plan in new:
        by_conn.setdefault(id(entity._connection), []).append((entity, plan))
    for pairs in by_conn.values():
        commands: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...] = tuple(
            ("incr", (plan.keyspace.counter,), {}) for _, plan in pairs
        )
        replies = yield Pipeline(pairs[0][0]._connection, commands, transaction=False)
        for (entity, plan), n in zip(pairs, replies, strict=True):
            keys = plan.keyspace
            pk = int(n) * keys.id_stride + keys.id_offset
            plan.give_id(pk)
            take_id(entity, pk)


def _claim_round(
    batch: Batch,
    items: list[tuple[int, str, str]],
    stale: dict[tuple[int, str, str], str],
    failures: dict[int, BaseException],
) -> Steps[list[tuple[int, str, str]]]:
    """One claim call per model and value partition; returns the items to
    claim again (an expired claim found stale)."""
    again: list[tuple[int, str, str]] = []
    by_model: dict[tuple[int, str], list[tuple[int, str, str]]] = {}
    for item in items:
        entity = batch[item[0]][0]
        by_model.setdefault((id(entity._connection), entity._meta.name), []).append(
            item
        )
    for group in by_model.values():
        entity = batch[group[0][0]][0]
        info, conn = entity._meta, entity._connection
        ops = [
            Op(
                "claim",
                cols,
                value,
                str(batch[i][1].id),
                stale.get((i, cols, value), ""),
            )
            for i, cols, value in group
        ]
        answers = yield from run_ops(conn, info, ops)
        # Read the rows the answers name: a holder's or claimant's row says
        # if the value is really taken.
        named = [a[2] if a[0] == "ok" else claim_id(a[1]) for a in answers]
        rows = yield from read_rows(conn, info, [n for n in named if n])
        confirm: list[Op] = []

        def refuse(i: int, cols: str, value: str, why: str) -> None:
            # The first refusal of an entity is the one reported.
            owner, plan = batch[i]
            failures.setdefault(i, _violation(owner, plan, cols, value, why))

        for (i, cols, value), answer, other in zip(group, answers, named, strict=True):
            plan = batch[i][1]

            if answer[0] == "ok":
                plan.tokens[(cols, value)] = answer[1]
                if other and holds(info, rows.get(other), cols, value):
                    refuse(
                        i,
                        cols,
                        value,
                        f"another {info.name} (id {other}) already has it",
                    )
                continue
            claim_, expired = answer[1], bool(answer[2])
            if other == plan.id:
                # A claim of this entity itself (another save of it, or an
                # earlier one that died): its row says if it was written.
                if holds(info, rows.get(other), cols, value):
                    confirm.append(Op("confirm", cols, value, other, claim_))
                    again.append((i, cols, value))
                elif expired:
                    stale[(i, cols, value)] = claim_
                    again.append((i, cols, value))
                else:
                    refuse(
                        i,
                        cols,
                        value,
                        "another save of this same entity is claiming it; "
                        f"try again (a claim lapses after {CLAIM_LIFETIME_MS} ms)",
                    )
                continue
            if holds(info, rows.get(other), cols, value):
                # The claimant wrote it: confirm that for it (its own
                # confirm is due, or it died before).
                confirm.append(Op("confirm", cols, value, other, claim_))
                refuse(
                    i, cols, value, f"another {info.name} (id {other}) already has it"
                )
            elif expired:
                # Expired when claimed, and its row read after lacks the
                # value: its writer can no longer write (fenced). Take it.
                stale[(i, cols, value)] = claim_
                again.append((i, cols, value))
            else:
                refuse(
                    i,
                    cols,
                    value,
                    f"it is being claimed by another writer (for id {other}); "
                    f"try again (a claim lapses after {CLAIM_LIFETIME_MS} ms)",
                )
        if confirm:
            yield from run_ops(conn, info, confirm)
    return again


def _release(batch: Batch) -> Steps[None]:
    """Release the claims of writes that will not run (best effort: a claim
    left behind only delays the value until it lapses)."""
    # (An error here is dropped: the one that stopped the writes matters.)
    with contextlib.suppress(Exception):
        yield from _send_ops(
            batch,
            lambda plan: [
                Op("release", cols, value, str(plan.id), token)
                for (cols, value), token in plan.tokens.items()
            ],
        )
    for _, plan in batch:
        plan.tokens.clear()


def _send_ops(batch: Batch, make: Any) -> Steps[None]:
    groups: dict[tuple[int, str], tuple[Any, ModelInfo, list[Op]]] = {}
    for entity, plan in batch:
        ops = make(plan)
        if ops:
            conn, info = entity._connection, entity._meta
            key = (id(conn), info.name)
            groups.setdefault(key, (conn, info, []))[2].extend(ops)
    for conn, info, ops in groups.values():
        yield from run_ops(conn, info, ops)


# The claimant id of a save's hold on an old value it drops (never an id).
DROPPER = "-drop"


def finish(batch: Batch, done: Batch, error: BaseException | None) -> Steps[None]:
    """After the writes: confirm the claims of the writes done and drop
    their entities' old values; release the claims of the others, unless
    their outcome is unknown (then a reader or the sweep settles them from
    the row).

    An old value is dropped as the sweep drops a stale entry: held (so no
    writer claims it meanwhile) in the confirm's call, the entity's row
    read again, and the entry removed only if it still names the entity
    and the row still lacks the value. Another save of the same entity may
    have given the value back since this one's write (and claimed and
    confirmed it): a blind drop would leave that row's value with no entry.
    """
    if not any(plan.tokens or plan.releases for _, plan in batch):
        return
    written = {id(plan) for _, plan in done}
    # Per model and connection: the ops of one call per value partition, and
    # the old values dropped: (index of their hold in the ops, entity id).
    groups: dict[tuple[int, str], tuple[Any, ModelInfo, list[Op], list[Drop]]] = {}
    for entity, plan in batch:
        pk = str(plan.id)
        if id(plan) in written:
            ops = [
                Op("confirm", cols, value, pk, token)
                for (cols, value), token in plan.tokens.items()
            ]
            old = plan.releases
        elif isinstance(error, WriteOutcomeUnknown):
            continue
        else:
            ops = [
                Op("release", cols, value, pk, token)
                for (cols, value), token in plan.tokens.items()
            ]
            old = []
        if not ops and not old:
            continue
        conn, info = entity._connection, entity._meta
        group = groups.setdefault((id(conn), info.name), (conn, info, [], []))
        group[2].extend(ops)
        for cols, value in old:
            group[3].append((len(group[2]), pk))
            group[2].append(Op("hold", cols, value, DROPPER))
    for conn, info, ops, drops in groups.values():
        # The writes are done and must be reported as done: a confirm or
        # drop that failed leaves a claim or a stale entry, which readers
        # and the sweep settle from the rows (the invariant holds).
        with contextlib.suppress(Exception):
            answers = yield from run_ops(conn, info, ops)
            yield from _drop_held(conn, info, ops, answers, drops)


# An old value a save drops: the index of its hold among the call's ops, and
# the id of the entity that had it.
Drop = tuple[int, str]


def _drop_held(
    conn: Any, info: ModelInfo, ops: list[Op], answers: list[Any], drops: list[Drop]
) -> Steps[None]:
    # The holds that took (with a claim already there, its writer, a reader
    # or the sweep settles the value from the rows), then the rows again.
    taken = [
        (ops[at].cols, ops[at].value, pk, answers[at][1])
        for at, pk in drops
        if answers[at][0] == "ok"
    ]
    yield from drop_if_lacking(conn, info, taken, DROPPER)


# A value held by a dropper: its columns, the value, the id of the entity
# its entry names, and the hold's token.
Held = tuple[str, str, str, str]


def drop_if_lacking(
    conn: Any, info: ModelInfo, held: list[Held], holder: str
) -> Steps[int]:
    """Settle values ``holder`` holds: read each named entity's row again;
    an entry whose row still has the value is kept (the hold released), one
    whose row lacks it is dropped with the hold. Returns how many were
    dropped. The hold keeps writers of the value out meanwhile, so a row
    read under it is the truth."""
    if not held:
        return 0
    rows = yield from read_rows(conn, info, [pk for _, _, pk, _ in held])
    ops: list[Op] = []
    for cols, value, pk, token in held:
        if holds(info, rows.get(pk), cols, value):
            ops.append(Op("release", cols, value, holder, token))
        else:
            ops.append(Op("unhold", cols, value, pk, token))
    yield from run_ops(conn, info, ops)
    return sum(op.op == "unhold" for op in ops)


# -- reading --------------------------------------------------------------------


def find(
    model: type[Model], cols: str, values: list[str]
) -> Steps[list[dict[str, str] | None]]:
    """Per unique value, the row of the entity holding it, or None.

    The value's partition names candidates (its entry's holder, a claimant);
    the one whose row has the value holds it. A claimant found so is
    confirmed on the way (cheap, and what its writer would do).
    """
    info, conn = model._meta, model._connection
    commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for value in values:
        keys = info.parts[value_partition(value, info.partitions)]
        commands.append(("hget", (keys.unique(cols), value), {}))
        commands.append(("hget", (keys.claims(cols), value), {}))
    replies = yield Pipeline(conn, tuple(commands), transaction=False)
    named: list[tuple[str | None, str | None]] = []
    for n in range(len(values)):
        holder, claim_ = replies[2 * n], replies[2 * n + 1]
        named.append(
            (
                None if holder is None else text(holder),
                None if claim_ is None else text(claim_),
            )
        )
    ids = [h for h, _ in named if h] + [claim_id(c) for _, c in named if c]
    rows = yield from read_rows(conn, info, ids)
    found: list[dict[str, str] | None] = []
    confirm: list[Op] = []
    for value, (holder, claim_) in zip(values, named, strict=True):
        row = rows.get(holder) if holder else None
        if holds(info, row, cols, value):
            found.append(row)
            continue
        claimant = claim_id(claim_) if claim_ else None
        row = rows.get(claimant) if claimant else None
        if claimant and claim_ and holds(info, row, cols, value):
            confirm.append(Op("confirm", cols, value, claimant, claim_))
            found.append(row)
        else:
            found.append(None)
    if confirm:
        yield from run_ops(conn, info, confirm)
    return found
