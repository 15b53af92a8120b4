"""The sweep of a partitioned model's unique values (``rom.util.sweep_unique``).

Writers that die between the claim, write and confirm steps of
``rom/_claims.py`` leave claims and stale entries behind; this goes over
every partition's unique and claims HASHes and settles them from the rows
(docs/partitioning_unique.rst, "The sweep").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from typing import Any

from . import _claims
from . import _scripts
from ._io import Steps
from ._io import call
from ._io import run_async
from ._io import run_sync
from ._keys import KeySpace
from ._meta import ModelInfo
from ._replies import text
from .exceptions import InvalidOperation

if TYPE_CHECKING:
    from .model import Model

__all__ = ["SWEEPER", "SWEEP_PAGE", "asweep_unique", "sweep", "sweep_unique"]

# The claimant id of the sweep's hold on a value (never an entity id).
SWEEPER = "-sweep"
# Fields of a unique or claims HASH the sweep reads per HSCAN call.
SWEEP_PAGE = 500


def sweep(model: type[Model]) -> Steps[dict[str, int]]:
    """Resolve what writers left in a partitioned model's unique HASHes.

    Per partition and unique name: a claim whose row has the value is
    confirmed; an expired claim whose row lacks it is dropped; an entry
    whose row lacks the value is dropped (under a hold of the sweep, so no
    writer claims the value meanwhile). Returns counts: ``confirmed``,
    ``lapsed``, ``stale`` (entries dropped), ``kept`` (left: claims in
    progress, entries held by their rows, values being claimed).
    """
    info, conn = model._meta, model._connection
    counts = {"confirmed": 0, "lapsed": 0, "stale": 0, "kept": 0}
    if not info.partitions:
        raise InvalidOperation(
            f"{info.name} is not partitioned: its unique entries are in its "
            "own slot, kept by its writes (rom.util.check/repair mend them)"
        )
    for cols in _claims.unique_names(info):
        for keys in info.parts:
            for kind, step in (("claims", _sweep_claims), ("unique", _sweep_entries)):
                key = getattr(keys, kind)(cols)
                cursor: Any = 0
                while True:
                    cursor, raw = yield from call(
                        conn, "hscan", key, cursor, count=SWEEP_PAGE
                    )
                    page = {text(k): text(v) for k, v in raw.items()}
                    if page:
                        yield from step(conn, info, keys, cols, page, counts)
                    if int(cursor) == 0:
                        break
    return counts


def _sweep_claims(
    conn: Any,
    info: ModelInfo,
    keys: KeySpace,
    cols: str,
    claims: dict[str, str],
    counts: dict[str, int],
) -> Steps[None]:
    # The server's time, read before the rows: a claim expired by then can
    # no longer be written by its writer, so a row read after is final.
    now = yield from _server_ms(conn, keys, cols)
    rows = yield from _claims.read_rows(
        conn, info, [_claims.claim_id(c) for c in claims.values()]
    )
    ops: list[_claims.Op] = []
    for value, claim_ in claims.items():
        claimant = _claims.claim_id(claim_)
        if _claims.holds(info, rows.get(claimant), cols, value):
            ops.append(_claims.Op("confirm", cols, value, claimant, claim_))
            counts["confirmed"] += 1
        elif _claims.deadline(claim_) <= now:
            ops.append(_claims.Op("release", cols, value, claimant, claim_))
            counts["lapsed"] += 1
        else:
            counts["kept"] += 1
    if ops:
        yield from _claims.run_ops(conn, info, ops)


def _server_ms(conn: Any, keys: KeySpace, cols: str) -> Steps[int]:
    # The clock of the node of the slot (the one that set the deadlines).
    script = _scripts.load("unique_claims")
    script_keys = [keys.probe, keys.unique(cols), keys.claims(cols)]
    args = [_claims.CLAIM_LIFETIME_MS, "now", 1, "", "", ""]
    raw = yield from script.steps(conn, script_keys, args)
    return int(json.loads(raw)[0])


def _sweep_entries(
    conn: Any,
    info: ModelInfo,
    keys: KeySpace,
    cols: str,
    entries: dict[str, str],
    counts: dict[str, int],
) -> Steps[None]:
    rows = yield from _claims.read_rows(conn, info, list(entries.values()))
    suspects = [
        (value, holder)
        for value, holder in entries.items()
        if not _claims.holds(info, rows.get(holder), cols, value)
    ]
    counts["kept"] += len(entries) - len(suspects)
    if not suspects:
        return
    # Hold each value (no writer claims it meanwhile), then read the row
    # again: one that still lacks the value lets its entry go.
    held = yield from _claims.run_ops(
        conn, info, [_claims.Op("hold", cols, v, SWEEPER) for v, _ in suspects]
    )
    taken = [
        (cols, value, holder, answer[1])
        for (value, holder), answer in zip(suspects, held, strict=True)
        if answer[0] == "ok"
    ]
    stale = yield from _claims.drop_if_lacking(conn, info, taken, SWEEPER)
    counts["kept"] += len(suspects) - stale
    counts["stale"] += stale


def sweep_unique(model: type[Model]) -> dict[str, int]:
    """Resolve the claims and stale unique entries that writers of the
    partitioned ``model`` left behind (crashed between claim, write and
    confirm), using each entity's row as the truth. Safe to run at any time,
    beside live writers; returns counts ``confirmed``, ``lapsed`` (expired
    claims dropped), ``stale`` (entries dropped) and ``kept``."""
    return run_sync(sweep(model))


async def asweep_unique(model: type[Model]) -> dict[str, int]:
    """``sweep_unique()`` on asyncio."""
    return await run_async(sweep(model))
