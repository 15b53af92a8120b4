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
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

import redis

from . import _scripts
from ._cluster import scan_cursor
from ._cluster import scan_target
from ._io import Pipeline
from ._io import Steps
from ._io import call
from ._io import run_async
from ._io import run_sync
from ._key_shapes import OwnKeys
from ._key_shapes import key_census
from ._key_shapes import scan_own_keys
from ._keys import KeySpace
from ._persist import Batch
from ._persist import write_batch_steps
from ._progress import Progress
from ._progress import show_progress
from ._record import record_entries
from ._registry import registered_models
from ._replies import decode_row
from ._replies import text
from .exceptions import DataRaceError
from .exceptions import EntityDeletedError

__all__ = [
    "Progress",
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
    """refresh_indices, one block per ``step()``, for either transport."""

    def __init__(self, model: Any, block_size: int, scan: bool, start: int) -> None:
        self.model = model
        self.block_size = max(int(block_size), 10)
        self.scan = scan
        self.cursor = start  # the SCAN cursor, or the next id to probe
        self.own = OwnKeys(model._meta)
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
            counter = yield from call(conn, "get", self.model._meta.keys.counter)
            self.total = int(counter or 0)
        if not self.over:
            block = yield from (
                self._scan_block() if self.scan else self._range_block()
            )
            if block is not None:
                ids, resume = block
                self.done += yield from _refresh_rows_steps(self.model, ids)
                return Progress(self.done, max(self.total, self.done), resume)
        self.finished = True
        return Progress(self.done, self.done, None)

    def _scan_block(self) -> Steps[tuple[list[str], int | None] | None]:
        conn, info = self.model._connection, self.model._meta
        block: list[str] = []
        while True:
            cursor, page = yield from call(
                conn,
                "scan",
                self.cursor,
                match=info.keys.scan_pattern,
                count=self.block_size,
                **scan_target(conn, info.keys),
            )
            self.cursor = scan_cursor(cursor)
            shapes = (self.own.shape(text(key)) for key in page)
            block += [shape.id for shape in shapes if shape and shape.kind == "row"]
            if len(block) >= self.block_size or self.cursor == 0:
                # SCAN cursor 0 means done: there is nothing left to resume.
                self.over = self.cursor == 0
                return list(dict.fromkeys(block)), self.cursor or None

    def _range_block(self) -> Steps[tuple[list[str], int | None] | None]:
        assert self.total is not None
        first = max(self.cursor, 1)
        if first > self.total:
            return None
        end = min(first + self.block_size, self.total + 1)
        self.cursor = end
        yield from ()
        return [str(i) for i in range(first, end)], end


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
        ("hgetall", (model._meta.keys.entity(i),), {}) for i in ids
    )
    replies = yield Pipeline(model._connection, reads)
    return [model._from_row(decode_row(raw)) for raw in replies if raw]


def _refresh_rows(model: Any, ids: list[str]) -> int:
    return run_sync(_refresh_rows_steps(model, ids))


def _refresh_rows_steps(model: Any, ids: list[str]) -> Steps[int]:
    entities = (yield from _read_rows_steps(model, ids)) if ids else []
    pending: Batch = [(e, e._plan_save(full=True, force=False)) for e in entities]
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
        pending = [(e, e._plan_save(full=True, force=False)) for e in again] + pending
    return len(entities)


def refresh_all_indexes(**kwargs: Any) -> None:
    """Run :func:`refresh_indices` on every model, showing its progress.

    Each model is done once, even though it is registered under its name
    and its namespace; keyword arguments go to :func:`show_progress`.
    """
    for model in registered_models():
        print(f"updating {model._namespace}", file=kwargs.get("file") or sys.stdout)
        show_progress(refresh_indices(model), **kwargs)


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
    block_size = max(int(block_size), 10)
    conn = model._connection
    keys: KeySpace = model._meta.keys
    # Keys that may also be another model's (under its namespace "<ns>:<x>",
    # which rom 1.1.2 allowed) are left alone: their members may name that
    # model's rows.
    census = key_census(conn, model._meta, max(block_size, 1000))
    index_keys = {key: s.suffix for key, s in census.own if s.kind == "index"}
    shared = tuple(f"{namespace}:" for namespace in census.nested)
    sizes = _sizes(conn, [keys.legacy_index, *index_keys])
    if force_hscan is None:
        sizes[keys.legacy_index] = int(conn.get(keys.counter) or 0)
    total = sum(sizes.values())
    done = removed = 0
    legacy = (
        _legacy_probe(conn, keys, block_size)
        if force_hscan is None
        else _hscan(conn, keys.legacy_index, block_size)
    )
    for count, entries in _legacy_pages(keys, legacy):
        if shared:
            entries = [e for e in entries if not e[0].startswith(shared)]
        removed += _clean(conn, entries)
        done += count
        yield Progress(done, max(total, done), None, removed)
    for key, kind in index_keys.items():
        for count, entries in _index_pages(conn, keys, key, kind, block_size):
            removed += _clean(conn, entries)
            done += count
            yield Progress(done, max(total, done), None, removed)
    yield Progress(done, done, None, removed)


# (key, row, op, member, expected value) for clean_orphans.lua
_Entry = tuple[str, str, str, Any, Any]


def _clean(conn: redis.Redis, entries: list[_Entry]) -> int:
    if not entries:
        return 0
    keys = [name for key, row, *_ in entries for name in (key, row)]
    args = [arg for *_, op, member, expect in entries for arg in (op, member, expect)]
    return _scripts.clean_orphans(conn, keys, args)


def _sizes(conn: redis.Redis, keys: list[str]) -> dict[str, int]:
    pipe = conn.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    kinds = [text(k) for k in pipe.execute()]
    size_of = {"set": pipe.scard, "zset": pipe.zcard, "hash": pipe.hlen}
    for key, kind in zip(keys, kinds, strict=True):
        size_of.get(kind, pipe.exists)(key)
    return {key: int(n) for key, n in zip(keys, pipe.execute(), strict=True)}


def _hscan(conn: redis.Redis, key: str, count: int) -> Iterator[list[tuple[Any, Any]]]:
    cursor = 0
    while True:
        cursor, page = conn.hscan(key, cursor, count=count)
        yield list(page.items()) if isinstance(page, dict) else []
        if int(cursor) == 0:
            return


def _legacy_probe(
    conn: redis.Redis, keys: KeySpace, block_size: int
) -> Iterator[list[tuple[Any, Any]]]:
    last = int(conn.get(keys.counter) or 0)
    for ids, _ in _id_range_blocks(last, block_size, 1):
        records = conn.hmget(keys.legacy_index, ids)
        yield [(i, r) for i, r in zip(ids, records, strict=True) if r is not None]


def _legacy_pages(
    keys: KeySpace, pages: Iterable[list[tuple[Any, Any]]]
) -> Iterator[tuple[int, list[_Entry]]]:
    for page in pages:
        entries: list[_Entry] = []
        for field, raw in page:
            id = text(field)
            row = keys.entity(id)
            entries += [
                (e.key, row, "rem", e.member, "") for e in record_entries(keys, id, raw)
            ]
            entries.append((keys.legacy_index, row, "rem", field, ""))
        yield len(page), entries


def _index_pages(
    conn: redis.Redis, keys: KeySpace, key: str, kind: str, count: int
) -> Iterator[tuple[int, list[_Entry]]]:
    kind_of = text(conn.type(key))
    scans: dict[str, Callable[..., Any]] = {
        "set": conn.sscan,
        "zset": conn.zscan,
        "hash": conn.hscan,
    }
    scan = scans.get(kind_of)
    if scan is None:
        return
    cursor = 0
    while True:
        cursor, page = scan(key, cursor, count=count)
        members = list(page.items()) if isinstance(page, dict) else list(page)
        yield len(members), [_index_entry(keys, key, kind_of, m) for m in members]
        if int(cursor) == 0:
            return


def _index_entry(keys: KeySpace, key: str, kind_of: str, item: Any) -> _Entry:
    if kind_of == "hash":  # a unique index: field -> id
        field, id = item
        return (key, keys.entity(text(id)), "rem", field, id)
    member = item[0] if kind_of == "zset" else item
    raw = member if isinstance(member, bytes) else str(member).encode("utf-8")
    id = raw.rpartition(b"\0")[2].decode("utf-8", "replace")
    return (key, keys.entity(id), "rem", member, "")


# -- clean_unsafe_cols ------------------------------------------------------------


def clean_unsafe_cols(*models: Any, block_size: int = 1000) -> tuple[int, int]:
    """Delete UnsafeColumn keys ``<ns>:<id>:<attr>`` whose entity row is gone.

    Returns ``(examined, deleted)``; each key is deleted only if its row is
    still missing at that moment.
    """
    if not models:
        raise ValueError("missing models: pass the model classes to clean")
    examined = deleted = 0
    for model in models:
        conn = model._connection
        keys: KeySpace = model._meta.keys
        for page, _ in scan_own_keys(conn, model._meta, max(int(block_size), 10)):
            entries: list[_Entry] = [
                (key, keys.entity(shape.id), "del", "", "")
                for key, shape in page
                if shape.kind == "unsafe"
            ]
            examined += len(entries)
            deleted += _clean(conn, entries)
    return examined, deleted
