"""Export and import a model's rows as JSON lines, exactly as stored.

Each line is one entity: a JSON object of its row's fields as rom stores
them in Redis (the primary key included, the ``-index-data-`` record left
out, since it is derived), every value the field's text. The text is what
the column's wire format gives, so every column type (numbers, dates,
Decimals, bytes of a String column, Json, references) round-trips byte
for byte, with no second encoding to get wrong.

Import checks each line on its own: a JSON object, known columns only, an
id that is a positive integer not yet used (in Redis or earlier in the
input), every value readable by its column. A line that passes is written
through rom's write script, as a save writes it: its index and unique
entries are built, and a unique value another entity holds refuses the
line. A refused line writes nothing; the lines before and after it are
imported. The id counter is raised past every imported id first, so the
application never hands those ids out again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from collections.abc import Iterator
from typing import IO
from typing import TYPE_CHECKING

import redis

from . import _scripts
from ._io import run_sync
from ._key_shapes import partition_censuses_steps
from ._persist import Batch
from ._persist import write_batch
from ._redis_rules import write_error
from ._replies import decode_row
from ._replies import text
from ._state import state_of
from ._writer import plan_save
from .consistency import unique_key
from .exceptions import DataRaceError
from .exceptions import ORMError

if TYPE_CHECKING:
    from ._writer import WritePlan
    from .model import Model

__all__ = ["export_rows", "import_rows"]

_BLOCK = 200


def export_rows(model: type[Model], out: IO[str], block_size: int = _BLOCK) -> int:
    """Write every row of ``model`` to ``out``, one JSON object a line, by id.

    Only the model's declared columns are written. Returns the row count.
    """
    conn = model._connection
    info = model._meta
    ids: list[int] = []
    # Each partition of a partitioned model (one census otherwise).
    for census in run_sync(partition_censuses_steps(conn, info, 1000)):
        ids += [int(shape.id) for _, shape in census.own if shape.kind == "row"]
    ids = sorted(set(ids))
    names = [info.pk] + [col.attr for col in info.stored if col.attr != info.pk]
    written = 0
    for start in range(0, len(ids), block_size):
        block = ids[start : start + block_size]
        pipe = conn.pipeline(transaction=False)
        row_keys = info.entity_keys(block)
        for key in row_keys:
            pipe.hgetall(key)
        for key, raw in zip(row_keys, pipe.execute(), strict=True):
            if not raw:
                continue  # deleted since the scan
            row = decode_row(raw, key)
            line = {name: row[name] for name in names if name in row}
            out.write(_line(line))
            written += 1
    return written


# Characters JSON leaves raw that terminals and line splitters mishandle.
_INVISIBLE = re.compile("[\x7f-\x9f\u2028\u2029]")


def _line(row: dict[str, str]) -> str:
    text = json.dumps(row, ensure_ascii=False)
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def import_rows(
    model: type[Model],
    lines: Iterable[str],
    *,
    dry_run: bool = False,
    block_size: int = _BLOCK,
) -> Iterator[tuple[int, str | None]]:
    """Import JSON lines made by :func:`export_rows` into ``model``.

    Yields ``(line number, None)`` for each line imported and ``(line
    number, reason)`` for each line refused (which wrote nothing). Empty
    lines are skipped. ``dry_run`` checks every line against the data in
    Redis and writes nothing (a unique clash between two lines of the
    input is then not seen).
    """
    seen: set[int] = set()
    block: list[tuple[int, Model, WritePlan]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entity, plan = _plan_line(model, line, seen)
        except _Refused as refused:
            yield number, str(refused)
            continue
        block.append((number, entity, plan))
        if len(block) >= block_size:
            yield from _write_block(model, block, dry_run)
            block = []
    if block:
        yield from _write_block(model, block, dry_run)


class _Refused(Exception):
    pass


def _plan_line(
    model: type[Model], line: str, seen: set[int]
) -> tuple[Model, WritePlan]:
    info = model._meta
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise _Refused(f"not JSON ({exc})") from None
    if not isinstance(row, dict):
        raise _Refused(
            f"expected a JSON object of {info.name}'s fields, got {row!r:.60}"
        )
    stored = {col.attr for col in info.stored}
    unknown = sorted(set(row) - stored)
    if unknown:
        raise _Refused(
            f"{unknown} are not columns of {info.name} (it stores {sorted(stored)}); "
            "remove them from the line"
        )
    wrong = sorted(name for name, value in row.items() if not isinstance(value, str))
    if wrong:
        raise _Refused(
            f"the values of {wrong} must be JSON strings, the text rom stores "
            "(as rom export writes them)"
        )
    raw_id = row.get(info.pk)
    if raw_id is None or not (raw_id.isascii() and raw_id.isdigit()) or int(raw_id) < 1:
        raise _Refused(
            f"the {info.pk!r} field must be a positive integer, got {raw_id!r}"
        )
    id = int(raw_id)
    if str(id) != raw_id:
        raise _Refused(f"the {info.pk!r} field {raw_id!r} has leading zeros")
    if id in seen:
        raise _Refused(f"id {id} appears on an earlier line")
    try:
        entity = model._from_row(row)
        plan = plan_save(info, state_of(entity).data, {}, id, new=True, full=True)
    except (ORMError, ValueError, TypeError) as exc:
        raise _Refused(str(exc)) from None
    seen.add(id)
    # The row is written exactly as read, and only if there is none yet.
    plan.hset = [
        item
        for col in info.stored
        if col.attr in row
        for item in (col.attr, row[col.attr])
    ]
    plan.row_check = [(info.pk, None)]
    return entity, plan


def _write_block(
    model: type[Model], block: list[tuple[int, Model, WritePlan]], dry_run: bool
) -> Iterator[tuple[int, str | None]]:
    conn = model._connection
    info = model._meta
    pipe = conn.pipeline(transaction=False)
    for _, _, plan in block:
        pipe.exists(info.entity_key(plan.id))
    existing = pipe.execute()
    pending: list[tuple[int, Model, WritePlan]] = []
    for (number, entity, plan), exists in zip(block, existing, strict=True):
        if exists:
            yield (
                number,
                (
                    f"row {info.entity_key(plan.id)!r} already exists; delete it, or "
                    "import into a model with no rows of these ids"
                ),
            )
        elif dry_run:
            yield from _unique_clash(model, number, plan)
        else:
            pending.append((number, entity, plan))
    if not pending:
        return
    # Each partition's counter n gives the ids n * stride + offset (the
    # model's one counter: n = id).
    tops: dict[str, int] = {}
    for _, _, plan in pending:
        keys = info.keys_for(plan.id)
        n = (int(plan.id or 0) - keys.id_offset) // keys.id_stride
        tops[keys.counter] = max(tops.get(keys.counter, 0), n)
    try:
        for counter, top in tops.items():
            _scripts.raise_counter(conn, counter, top)
    except redis.ResponseError as exc:
        yield from _refuse_all(pending, _out_of_memory(exc))
        return
    while pending:
        batch: Batch = [(entity, plan) for _, entity, plan in pending]
        try:
            done, error = write_batch(batch)
        except redis.ResponseError as exc:
            done, error = [], _out_of_memory(exc)
        for number, _, _ in pending[: len(done)]:
            yield number, None
        if error is None:
            return
        if isinstance(error, redis.exceptions.OutOfMemoryError):
            # Redis refuses a script before its first write when it is out
            # of memory: this line and those after it were not written.
            yield from _refuse_all(pending[len(done) :], error)
            return
        number = pending[len(done)][0]
        yield number, _reason(error)
        pending = pending[len(done) + 1 :]


def _out_of_memory(exc: redis.ResponseError) -> redis.ResponseError:
    refused = write_error(exc)
    if not isinstance(refused, redis.exceptions.OutOfMemoryError):
        raise exc
    return refused


def _refuse_all(
    pending: list[tuple[int, Model, WritePlan]], error: BaseException
) -> Iterator[tuple[int, str | None]]:
    for number, _, _ in pending:
        yield (
            number,
            f"Redis refused the write, nothing of this line was written: {error}",
        )


def _unique_clash(
    model: type[Model], number: int, plan: WritePlan
) -> Iterator[tuple[int, str | None]]:
    conn = model._connection
    keys = model._meta.keys_for(plan.id)
    # A partitioned model's plan lists its unique values as claims.
    values = plan.claims if model._meta.partitions else plan.unique
    for column, value in values:
        owner = conn.hget(unique_key(model._meta, keys, column, value), value)
        if owner is not None:
            yield (
                number,
                (
                    f"the unique value {value!r} of {column} is held by "
                    f"{model._meta.name} {text(owner)}"
                ),
            )
            return
    yield number, None


def _reason(error: BaseException) -> str:
    if isinstance(error, DataRaceError):
        return f"a row of this id was written meanwhile: {error}"
    return str(error)
