"""Send plans that need the row as stored: read it first, re-read if it moved.

A delete or forced save must remove the unique entries of the row as it is
in Redis, not as the (possibly stale) entity remembers it. Entries a keygen
computes cannot be recomputed by the writer, so the rows of such plans are
read here (one pipelined round trip), the plans completed in Python
(``_writer.from_stored_row``), and sent with the fields they were computed
from. A row that changed in between makes the writer stop at that plan with
``{"error": "moved"}``; it and the plans after it are then read and sent
again. Plans that need no row cost nothing extra.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from ._io import Pipeline
from ._io import Steps
from ._replies import decode_row
from ._writer import WritePlan
from ._writer import from_stored_row

if TYPE_CHECKING:
    from .model import Model

__all__ = ["MAX_READS", "run_reading_rows"]

# Reads of one plan's row before giving up with a race error: only a row
# rewritten this many times during one write gets there.
MAX_READS = 50

Runner = Callable[[Any, list[tuple["Model", WritePlan]]], Steps[list[dict[str, Any]]]]


def run_reading_rows(
    conn: Any, batch: Sequence[tuple[Model, WritePlan]], run: Runner
) -> Steps[list[dict[str, Any]]]:
    """``run(conn, batch)``, completing ``reads_row`` plans from their rows.

    Returns one result per plan run, stopping at the first error, as
    ``run`` does; a row still moving after MAX_READS reads is reported as a
    race on the fields it was checked by. An exception of a re-send, after
    plans were applied, is the result ``{"error": "raised", "exception": e}``
    after theirs, so the caller still learns which plans were written.
    """
    results: list[dict[str, Any]] = []
    start = 0
    for _ in range(MAX_READS):
        pending = batch[start:]
        try:
            yield from _read_rows(conn, pending)
            got = yield from run(conn, list(pending))
        except Exception as exc:
            if not results:
                raise
            # Plans before the moved one were written by an earlier send:
            # report them applied, then the error that stopped the rest.
            return [*results, {"error": "raised", "exception": exc}]
        if not got or got[-1].get("error") != "moved":
            return results + got
        results += got[:-1]
        start += len(got) - 1
    plan = batch[start][1]
    return [*results, {"error": "race", "fields": [f for f, _ in plan.row_check]}]


def _read_rows(conn: Any, batch: Sequence[tuple[Model, WritePlan]]) -> Steps[None]:
    wanted = [(e, p) for e, p in batch if p.reads_row and p.id is not None]
    if not wanted:
        return
    rows: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...] = tuple(
        ("hgetall", (entity._meta.entity_key(plan.id),), {}) for entity, plan in wanted
    )
    replies = yield Pipeline(conn, rows)
    for (entity, plan), raw in zip(wanted, replies, strict=True):
        from_stored_row(plan, entity._meta, decode_row(raw))
