"""Progress of maintenance jobs: the ``Progress`` pair and ``show_progress``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import IO
from typing import Any

__all__ = ["Progress", "show_progress"]


class Progress(tuple[int, int]):
    """``(done, total)`` of a job; unpacks as the 2-tuple rom 1.1.2 yielded.

    ``resume`` is the point to pass back as ``resume_from=`` to continue a
    job after this step (None once it is finished); ``removed`` counts the
    entries a clean-up job removed so far.
    """

    resume: int | None
    removed: int

    def __new__(
        cls, done: int, total: int, resume: int | None = None, removed: int = 0
    ) -> Progress:
        progress = super().__new__(cls, (done, total))
        progress.resume = resume
        progress.removed = removed
        return progress

    @property
    def done(self) -> int:
        """Work done so far (rows, or index entries examined)."""
        return self[0]

    @property
    def total(self) -> int:
        """The work expected in all (an estimate for ``refresh_indices``)."""
        return self[1]


def show_progress(
    job: Iterable[tuple[int, int]],
    *,
    callback: Callable[[int, int], Any] | None = None,
    file: IO[str] | None = None,
    interval: float = 0.1,
) -> tuple[int, int] | None:
    """Run a job to its end, reporting its ``(done, total)`` progress.

    On a terminal this draws a progress bar, redrawn about every
    ``interval`` seconds; elsewhere it writes a line at most once a second.
    ``callback(done, total)``, if given, is called for every step instead
    of printing (unless ``file`` is also given). Returns the last step.
    """
    # Print to ``file``; by default to stdout, unless a callback takes over.
    out = file if file is not None else (sys.stdout if callback is None else None)
    tty = out is not None and _isatty(out)
    every = interval if tty else max(interval, 1.0)
    start = shown = time.monotonic()
    last: tuple[int, int] | None = None
    for last in job:
        if callback is not None:
            callback(last[0], last[1])
        now = time.monotonic()
        if out is not None and now - shown >= every:
            _report(out, tty, last, now - start)
            shown = now
    if out is not None and last is not None:
        _report(out, tty, last, time.monotonic() - start)
        out.write("\n" if tty else "")
        out.flush()
    return last


def _isatty(out: IO[str]) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _report(out: IO[str], tty: bool, step: tuple[int, int], elapsed: float) -> None:
    done, total = step
    fraction = min(done / total, 1.0) if total else 1.0
    remaining = elapsed * (1 - fraction) / fraction if fraction else 0.0
    text = (
        f"{fraction * 100:.1f}% complete, {elapsed:.1f} seconds elapsed, "
        f"{remaining:.1f} seconds remaining"
    )
    if tty:
        filled = int(fraction * 30)
        out.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {text}")
    else:
        out.write(text + "\n")
    out.flush()
