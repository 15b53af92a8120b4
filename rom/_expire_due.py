"""``expire_due``: the maintenance job removing expired entities now.

Expired entities are removed anyway by the scripts that meet them and by
every write of their model (a few per call); this job removes all of them
at once, in blocks, one script call per block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

from . import _scripts
from ._expiry import check_expiring
from ._expiry import expiry_table_json
from ._io import Steps
from ._io import run_async
from ._io import run_sync
from ._progress import Progress

__all__ = ["aexpire_due", "expire_due"]


def expire_due(model: Any, block_size: int = 100) -> Iterator[Progress]:
    """Remove every entity of ``model`` whose expiry time has come (by the
    server's clock), with its row, index, unique and geo entries, index
    record and UnsafeColumn keys; ``block_size`` entities per script call.

    Yields ``Progress(done, total)`` after each block (``removed`` = done);
    ``total`` grows if more entities expire meanwhile. Safe to re-run.
    """
    job = _ExpireJob(model, block_size)
    while (progress := run_sync(job.step())) is not None:
        yield progress


async def aexpire_due(model: Any, block_size: int = 100) -> AsyncIterator[Progress]:
    """``expire_due()`` on asyncio: ``async for progress in ...``."""
    job = _ExpireJob(model, block_size)
    while (progress := await run_async(job.step())) is not None:
        yield progress


class _ExpireJob:
    """expire_due, one block per ``step()``, for either transport.

    A partitioned model's partitions are swept one after the other, each
    with its own ``<pns>::expiry`` (one slot on a cluster); ``total`` adds
    what is still due in the partitions met so far.
    """

    def __init__(self, model: Any, block_size: int) -> None:
        check_expiring(model._meta, "expire_due()")
        self.model = model
        self.block_size = max(int(block_size), 1)
        self.parts = model._meta.parts
        self.part = 0
        self.left: dict[int, int] = {}  # still due, per partition swept
        self.done = 0
        self.finished = False

    def step(self) -> Steps[Progress | None]:
        if self.finished:
            return None
        info = self.model._meta
        script = _scripts.load("expire_due")
        while True:
            keys = self.parts[self.part]
            args = [expiry_table_json(info, keys), self.block_size]
            removed, left = yield from script.steps(
                self.model._connection, [keys.expiry, keys.probe], args
            )
            removed, left = int(removed), int(left)
            self.done += removed
            self.left[self.part] = left
            if left == 0 or removed == 0:
                self.left[self.part] = 0
                self.part += 1
                if self.part == len(self.parts):
                    self.finished = True
                    return Progress(self.done, self.done, None, self.done)
                if removed == 0:
                    continue  # nothing due here: on to the next partition
            total = self.done + sum(self.left.values())
            return Progress(self.done, max(total, self.done), None, self.done)
