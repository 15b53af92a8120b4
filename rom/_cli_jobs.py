"""``rom reindex`` and ``rom clean``: the maintenance jobs, with progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any

from ._cli_app import pick_models
from ._progress import show_progress
from .maintenance import clean_old_index
from .maintenance import clean_unsafe_cols
from .maintenance import refresh_indices

__all__ = ["add_job_commands"]


def add_job_commands(commands: Any) -> None:
    """Add ``reindex`` and ``clean`` to the subcommand parsers."""
    reindex = commands.add_parser(
        "reindex",
        help="rewrite every row of a model, rebuilding its index entries",
        description="Rewrite every row of MODEL in full (refresh_indices), "
        "rebuilding its index entries: after changing index definitions, or "
        "to rebuild lost indexes. Safe while the application runs.",
    )
    reindex.add_argument("models", nargs="+", metavar="MODEL")
    reindex.add_argument("--block-size", type=int, default=100)
    reindex.set_defaults(run=run_reindex)
    clean = commands.add_parser(
        "clean",
        help="remove index entries and UnsafeColumn keys of deleted rows",
        description="Remove MODEL's index, unique and legacy entries naming "
        "rows that no longer exist (clean_old_index), and its UnsafeColumn "
        "keys of such rows (clean_unsafe_cols). Each is removed only if its "
        "row is still missing at that moment.",
    )
    clean.add_argument("models", nargs="+", metavar="MODEL")
    clean.add_argument("--block-size", type=int, default=100)
    clean.set_defaults(run=run_clean)


def _run(job: Iterable[tuple[int, int]]) -> tuple[int, int] | None:
    # A progress bar on a terminal; elsewhere no progress lines at all.
    if sys.stderr.isatty():
        return show_progress(job, file=sys.stderr)
    return show_progress(job, callback=lambda done, total: None)


def _over_partitions(model: Any) -> str:
    count = model._meta.partitions
    return f" (all {count} partitions)" if count else ""


def run_reindex(args: argparse.Namespace) -> int:
    """``rom reindex``."""
    for model in pick_models(args.models):
        last = _run(refresh_indices(model, args.block_size))
        print(
            f"{model._meta.name}: {last[0] if last else 0} rows re-indexed"
            + _over_partitions(model)
        )
    return 0


def run_clean(args: argparse.Namespace) -> int:
    """``rom clean``."""
    for model in pick_models(args.models):
        last = _run(clean_old_index(model, args.block_size))
        removed = getattr(last, "removed", 0)
        examined, deleted = clean_unsafe_cols(model)
        print(
            f"{model._meta.name}: {removed} orphan index entries removed, "
            f"{deleted} of {examined} UnsafeColumn keys deleted"
            + _over_partitions(model)
        )
    return 0
