"""Maintenance jobs: rebuild indexes, clean orphaned index data, show progress.

The jobs are generators of :class:`Progress` ``(done, total)`` pairs, so a
program drives them at its own pace (or hands them to :func:`show_progress`).
They walk every SCAN page to the end, work with namespaces containing ``:``
and with ``decode_responses=True`` clients, never go through the session,
and are safe to re-run or to resume (``resume_from=progress.resume``).
Each touches only its own model's keys, told by their whole shape
(``rom._key_shapes``), not by the SCAN prefix alone.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from collections.abc import Generator
from collections.abc import Iterator
from typing import Any
from typing import NamedTuple

from . import _scripts
from ._cluster import scan_cursor
from ._cluster import scan_target
from ._io import Pipeline
from ._io import Request
from ._io import Steps
from ._io import call
from ._io import run_async
from ._io import run_sync
from ._key_shapes import KeyCensus
from ._key_shapes import OwnKeys
from ._key_shapes import partition_censuses_steps
from ._key_shapes import scan_page
from ._keys import KeySpace
from ._persist import Batch
from ._persist import write_batch_steps
from ._progress import Progress
from ._progress import show_progress
from ._record import record_entries
from ._registry import registered_models
from ._replies import decode_row
from ._replies import text
from ._state import plan_save
from .exceptions import DataRaceError
from .exceptions import EntityDeletedError

__all__ = [
    "Progress",
    "aclean_old_index",
    "aclean_unsafe_cols",
    "arefresh_indices",
    "clean_old_index",
    "clean_unsafe_cols",
    "refresh_all_indexes",
    "refresh_indices",
    "show_progress",
]

_RACE_RETRIES = 10


# -- refresh_indices ----------------------------------------------------------


def refresh_indices(
    model: Any, block_size: int = 100, scan: bool = True, *, resume_from: int = 0
) -> Iterator[Progress]:
    """Rewrite every entity of ``model`` in full, rebuilding its index entries.

    Use it after changing index definitions (or to repair wiped indexes).
    Rows are found with SCAN (``scan=True``) or by probing ids 1..counter.
    Each block is read in one round trip and written in one script call,
    with the usual check that nobody changed a row meanwhile (a changed row
    is read again and retried). No hooks run and the session is untouched.
    ``total`` is the id counter, an upper bound; the last Progress has
    ``done == total`` and ``resume`` None.
    """
    job = _RefreshJob(model, block_size, scan, resume_from)
    while (progress := run_sync(job.step())) is not None:
        yield progress


async def arefresh_indices(
    model: Any, block_size: int = 100, scan: bool = True, *, resume_from: int = 0
) -> AsyncIterator[Progress]:
    """``refresh_indices()`` on asyncio: ``async for progress in ...``."""
    job = _RefreshJob(model, block_size, scan, resume_from)
    while (progress := await run_async(job.step())) is not None:
        yield progress


class _RefreshJob:
    """refresh_indices, one block per ``step()``, for either transport.

    A partitioned model is refreshed one partition after the other (on a
    cluster, each SCAN goes to its partition's master). Its resume point
    packs both: ``cursor * P + partition`` (the SCAN cursor, or the next
    ``n`` of the ids ``n * P + partition``), which for an unpartitioned
    model (P = 1) is the plain cursor or next id.
    """

    def __init__(self, model: Any, block_size: int, scan: bool, start: int) -> None:
        self.model = model
        self.block_size = max(int(block_size), 10)
        self.scan = scan
        self.parts: tuple[KeySpace, ...] = model._meta.parts
        count = len(self.parts)
        # The partition being refreshed, and its SCAN cursor or next n.
        self.part, self.cursor = start % count, start // count
        self.own = OwnKeys(model._meta, self.parts[self.part])
        self.counters: list[int] = []
        self.total: int | None = None
        self.done = 0
        self.over = False  # no block left: the final Progress is next
        self.finished = False

    def step(self) -> Steps[Progress | None]:
        """Refresh the next block; its Progress, then the final one, then None."""
        if self.finished:
            return None
        conn = self.model._connection
        if self.total is None:
            reads: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...] = tuple(
                ("get", (keys.counter,), {}) for keys in self.parts
            )
            counters = yield Pipeline(conn, reads)
            self.counters = [int(c or 0) for c in counters]
            self.total = sum(self.counters)
        while not self.over:
            block = yield from (
                self._scan_block() if self.scan else self._range_block()
            )
            if block is None:
                self._next_part()
                continue
            ids, resume = block
            if resume is None:
                self._next_part()
                if not self.over:
                    resume = self.part  # the next partition, from its start
            else:
                resume = resume * len(self.parts) + self.part
            if not ids and len(self.parts) > 1:
                continue  # an empty partition: no Progress of its own
            self.done += yield from _refresh_rows_steps(self.model, ids)
            return Progress(self.done, max(self.total, self.done), resume)
        self.finished = True
        return Progress(self.done, self.done, None)

    def _next_part(self) -> None:
        self.part += 1
        self.cursor = 0
        if self.part >= len(self.parts):
            self.over = True
        else:
            self.own = OwnKeys(self.model._meta, self.parts[self.part])

    def _scan_block(self) -> Steps[tuple[list[str], int | None] | None]:
        conn, keys = self.model._connection, self.parts[self.part]
        block: list[str] = []
        while True:
            cursor, page = yield from call(
                conn,
                "scan",
                self.cursor,
                match=keys.scan_pattern,
                count=self.block_size,
                **scan_target(conn, keys),
            )
            self.cursor = scan_cursor(cursor)
            shapes = (self.own.shape(text(key)) for key in page)
            block += [shape.id for shape in shapes if shape and shape.kind == "row"]
            if len(block) >= self.block_size or self.cursor == 0:
                # SCAN cursor 0 means done: nothing is left of this partition.
                return list(dict.fromkeys(block)), self.cursor or None

    def _range_block(self) -> Steps[tuple[list[str], int | None] | None]:
        keys = self.parts[self.part]
        last = self.counters[self.part]
        first = max(self.cursor, 1)
        if first > last:
            return None
        end = min(first + self.block_size, last + 1)
        self.cursor = end
        yield from ()
        stride, offset = keys.id_stride, keys.id_offset
        ids = [str(n * stride + offset) for n in range(first, end)]
        return ids, end if end <= last else None


def _id_range_blocks(
    last: int, block_size: int, start: int
) -> Iterator[tuple[list[str], int]]:
    for first in range(max(start, 1), last + 1, block_size):
        end = min(first + block_size, last + 1)
        yield [str(i) for i in range(first, end)], end


def _read_rows_steps(model: Any, ids: list[str]) -> Steps[list[Any]]:
    # Throwaway entities, outside the session: the user's cached (perhaps
    # modified) entities are neither returned nor saved.
    reads: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...] = tuple(
        ("hgetall", (key,), {}) for key in model._meta.entity_keys(ids)
    )
    replies = yield Pipeline(model._connection, reads)
    return [model._from_row(decode_row(raw)) for raw in replies if raw]


def _refresh_rows(model: Any, ids: list[str]) -> int:
    return run_sync(_refresh_rows_steps(model, ids))


def _refresh_rows_steps(model: Any, ids: list[str]) -> Steps[int]:
    entities = (yield from _read_rows_steps(model, ids)) if ids else []
    pending: Batch = [(e, plan_save(e, full=True, force=False)) for e in entities]
    retries = 0
    while pending:
        done, error = yield from write_batch_steps(pending)
        if error is None:
            break
        failed, pending = pending[len(done)][0], pending[len(done) + 1 :]
        if isinstance(error, EntityDeletedError):
            continue  # deleted since read: nothing left to index
        if not isinstance(error, DataRaceError) or retries >= _RACE_RETRIES:
            raise error
        retries += 1
        again = yield from _read_rows_steps(model, [str(failed._primary_key())])
        pending = [(e, plan_save(e, full=True, force=False)) for e in again] + pending
    return len(entities)


def refresh_all_indexes(**kwargs: Any) -> None:
    """Run :func:`refresh_indices` on every model, showing its progress.

    Each model is done once, even though it is registered under its name
    and its namespace; keyword arguments go to :func:`show_progress`.
    """
    for model in registered_models():
        print(f"updating {model._namespace}", file=kwargs.get("file") or sys.stdout)
        show_progress(refresh_indices(model), **kwargs)


# -- jobs written as steps that also yield progress ------------------------------

# A job: a generator yielding the requests it needs (their replies sent
# back) and a Progress after each block of work.
Job = Generator[Request | Progress, Any, None]


class _Stepper:
    """Runs a Job one Progress at a time, as steps for either transport."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def step(self) -> Steps[Progress | None]:
        """The job's requests up to its next Progress (None once it ended)."""
        reply: Any = None
        error: Exception | None = None
        while True:
            try:
                item = self.job.throw(error) if error else self.job.send(reply)
            except StopIteration:
                return None
            if isinstance(item, Progress):
                return item
            reply, error = None, None
            try:
                reply = yield item
            except Exception as exc:  # the request's error, raised in the job
                error = exc


def _run(job: Job) -> Iterator[Progress]:
    stepper = _Stepper(job)
    while (progress := run_sync(stepper.step())) is not None:
        yield progress


async def _arun(job: Job) -> AsyncIterator[Progress]:
    stepper = _Stepper(job)
    while (progress := await run_async(stepper.step())) is not None:
        yield progress


# -- clean_old_index ------------------------------------------------------------


def clean_old_index(
    model: Any, block_size: int = 100, force_hscan: bool | None = False
) -> Iterator[Progress]:
    """Remove index data of ``model`` that names entities whose row is gone.

    Covers the legacy ``<ns>::`` records (with the entries they name), and
    every index, prefix, suffix, geo and unique key of the model's declared
    columns: members (or unique fields) whose ``<ns>:<id>`` row no longer
    exists are removed, each only if its row is still missing at that
    moment. ``force_hscan=None`` probes the legacy records by id instead of
    HSCAN. ``Progress.removed`` counts what was removed.

    Only the model's own keys are touched: a key under ``<ns>:`` is the
    model's if its whole shape is (an index key names a declared column),
    and keys under a namespace ``<ns>:<x>`` that holds another model's rows,
    counter or legacy records are left alone even when they have that shape.
    """
    return _run(_clean_old_index(model, block_size, force_hscan))


def aclean_old_index(
    model: Any, block_size: int = 100, force_hscan: bool | None = False
) -> AsyncIterator[Progress]:
    """``clean_old_index()`` on asyncio: ``async for progress in ...``."""
    return _arun(_clean_old_index(model, block_size, force_hscan))


def _clean_old_index(model: Any, block_size: int, force_hscan: bool | None) -> Job:
    block_size = max(int(block_size), 10)
    conn = model._connection
    # Each partition of a partitioned model (the model's one KeySpace
    # otherwise) is surveyed first, so the total is known from the start.
    parts: list[_OldIndexPart] = []
    censuses = yield from partition_censuses_steps(
        conn, model._meta, max(block_size, 1000)
    )
    for keys, census in zip(model._meta.parts, censuses, strict=True):
        part = yield from _survey_part(conn, keys, census, force_hscan)
        parts.append(part)
    tally = _Tally(sum(part.size for part in parts))
    for part in parts:
        yield from _clean_part(conn, part, block_size, force_hscan, tally)
    yield Progress(tally.done, tally.done, None, tally.removed)


class _OldIndexPart(NamedTuple):
    """What clean_old_index found in one partition (or the model)."""

    keys: KeySpace
    index_keys: dict[str, str]  # index key -> its kind (idx, pre, ...)
    shared: tuple[str, ...]  # prefixes of other models' namespaces
    last: int  # the id counter, read if force_hscan is None
    size: int  # entries to go through


def _survey_part(
    conn: Any, keys: KeySpace, census: KeyCensus, force_hscan: bool | None
) -> Steps[_OldIndexPart]:
    # Keys that may also be another model's (under its namespace "<ns>:<x>",
    # which rom 1.1.2 allowed) are left alone: their members may name that
    # model's rows.
    index_keys = {key: s.suffix for key, s in census.own if s.kind == "index"}
    shared = tuple(f"{namespace}:" for namespace in census.nested)
    sizes = yield from _sizes(conn, [keys.legacy_index, *index_keys])
    last = 0
    if force_hscan is None:
        last = int((yield from call(conn, "get", keys.counter)) or 0)
        sizes[keys.legacy_index] = last
    return _OldIndexPart(keys, index_keys, shared, last, sum(sizes.values()))


def _clean_part(
    conn: Any,
    part: _OldIndexPart,
    block_size: int,
    force_hscan: bool | None,
    tally: _Tally,
) -> Job:
    keys, shared = part.keys, part.shared

    def clean(count: int, entries: list[_Entry]) -> Job:
        tally.removed += yield from _clean(conn, entries)
        tally.done += count
        yield tally.progress()

    def legacy(page: list[Any]) -> Job:
        entries = _legacy_entries(keys, page)
        if shared:
            entries = [e for e in entries if not e[0].startswith(shared)]
        yield from clean(len(page), entries)

    if force_hscan is None:
        stride, offset = keys.id_stride, keys.id_offset
        for ns, _ in _id_range_blocks(part.last, block_size, 1):
            ids = [str(int(n) * stride + offset) for n in ns]
            records = yield from call(conn, "hmget", keys.legacy_index, ids)
            found = zip(ids, records, strict=True)
            yield from legacy([(i, r) for i, r in found if r is not None])
    else:
        cursor: int | None = 0
        while cursor is not None:
            cursor, page = yield from _scan(
                conn, "hscan", keys.legacy_index, cursor, block_size
            )
            yield from legacy(page)
    for key in part.index_keys:
        kind = text((yield from call(conn, "type", key)))
        cursor = 0 if kind in _SCANS else None
        while cursor is not None:
            cursor, page = yield from _scan(conn, _SCANS[kind], key, cursor, block_size)
            entries = [_index_entry(keys, key, kind, m) for m in page]
            yield from clean(len(page), [e for e in entries if e is not None])


class _Tally:
    """What a clean_old_index run did so far."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = self.removed = 0

    def progress(self) -> Progress:
        return Progress(self.done, max(self.total, self.done), None, self.removed)


# (key, row, op, member, expected value) for clean_orphans.lua
_Entry = tuple[str, str, str, Any, Any]

# How each kind of index key is scanned.
_SCANS = {"set": "sscan", "zset": "zscan", "hash": "hscan"}


def _clean(conn: Any, entries: list[_Entry]) -> Steps[int]:
    if not entries:
        return 0
    keys = [name for key, row, *_ in entries for name in (key, row)]
    args = [arg for *_, op, member, expect in entries for arg in (op, member, expect)]
    return int((yield from _scripts.load("clean_orphans").steps(conn, keys, args)))


def _sizes(conn: Any, keys: list[str]) -> Steps[dict[str, int]]:
    kinds = yield Pipeline(conn, tuple(("type", (key,), {}) for key in keys))
    size_of = {"set": "scard", "zset": "zcard", "hash": "hlen"}
    counts = yield Pipeline(
        conn,
        tuple(
            (size_of.get(text(kind), "exists"), (key,), {})
            for key, kind in zip(keys, kinds, strict=True)
        ),
    )
    return {key: int(n) for key, n in zip(keys, counts, strict=True)}


def _scan(
    conn: Any, scan: str, key: str, cursor: int, count: int
) -> Steps[tuple[int | None, list[Any]]]:
    # One page of an HSCAN (its (field, value) items), SSCAN or ZSCAN (its
    # (member, score) items), and the cursor after it (None at the end).
    after, found = yield from call(conn, scan, key, cursor, count=count)
    items = list(found.items()) if isinstance(found, dict) else list(found)
    return int(after) or None, items


def _legacy_entries(keys: KeySpace, page: list[Any]) -> list[_Entry]:
    entries: list[_Entry] = []
    for field, raw in page:
        id = text(field)
        row = keys.entity(id)
        entries += [
            (e.key, row, "rem", e.member, "") for e in record_entries(keys, id, raw)
        ]
        entries.append((keys.legacy_index, row, "rem", field, ""))
    return entries


def _index_entry(keys: KeySpace, key: str, kind_of: str, item: Any) -> _Entry | None:
    if kind_of == "hash":  # a unique index: field -> id
        field, id = item
        if not _in_part(keys, text(id)):
            # A partitioned model's unique entry lives in its value's
            # partition and may name a row of another one (another slot on
            # a cluster): the unique-across-partitions protocol owns it.
            return None
        return (key, keys.entity(text(id)), "rem", field, id)
    member = item[0] if kind_of == "zset" else item
    raw = member if isinstance(member, bytes) else str(member).encode("utf-8")
    id = raw.rpartition(b"\0")[2].decode("utf-8", "replace")
    return (key, keys.entity(id), "rem", member, "")


def _in_part(keys: KeySpace, id: str) -> bool:
    """True if entity ``id`` belongs in partition ``keys`` (always true of
    an unpartitioned model's KeySpace, stride 1)."""
    if keys.id_stride == 1:
        return True
    return id.isdigit() and int(id) % keys.id_stride == keys.id_offset


# -- clean_unsafe_cols ------------------------------------------------------------


def clean_unsafe_cols(*models: Any, block_size: int = 1000) -> tuple[int, int]:
    """Delete UnsafeColumn keys ``<ns>:<id>:<attr>`` whose entity row is gone.

    Returns ``(examined, deleted)``; each key is deleted only if its row is
    still missing at that moment.
    """
    return run_sync(_clean_unsafe_cols(models, block_size))


async def aclean_unsafe_cols(*models: Any, block_size: int = 1000) -> tuple[int, int]:
    """``clean_unsafe_cols()`` on asyncio."""
    return await run_async(_clean_unsafe_cols(models, block_size))


def _clean_unsafe_cols(
    models: tuple[Any, ...], block_size: int
) -> Steps[tuple[int, int]]:
    if not models:
        raise ValueError("missing models: pass the model classes to clean")
    examined = deleted = 0
    for model in models:
        for keys in model._meta.parts:  # each partition of a partitioned model
            found, removed = yield from _clean_unsafe_part(model, keys, block_size)
            examined += found
            deleted += removed
    return examined, deleted


def _clean_unsafe_part(
    model: Any, keys: KeySpace, block_size: int
) -> Steps[tuple[int, int]]:
    conn = model._connection
    own = OwnKeys(model._meta, keys)
    examined = deleted = 0
    cursor: int | None = 0
    while cursor is not None:
        page, cursor = yield from scan_page(
            conn, model._meta, max(int(block_size), 10), cursor, keys
        )
        entries: list[_Entry] = [
            (key, keys.entity(shape.id), "del", "", "")
            for key, shape in own.keep(page)
            if shape.kind == "unsafe"
        ]
        examined += len(entries)
        deleted += yield from _clean(conn, entries)
    return examined, deleted
