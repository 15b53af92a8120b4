"""``rom export`` and ``rom import``: rows as JSON lines, exactly as stored."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._cli_app import UsageError
from ._cli_app import pick_models
from ._jsonl import export_rows
from ._jsonl import import_rows

__all__ = ["add_row_commands"]


def add_row_commands(commands: Any) -> None:
    """Add ``export`` and ``import`` to the subcommand parsers."""
    export = commands.add_parser(
        "export",
        help="write a model's rows to stdout as JSON lines",
        description="Write every row of MODEL to stdout, one JSON object a "
        "line, by id: its fields as stored in Redis (values are text), so "
        "every column type round-trips exactly through rom import.",
    )
    export.add_argument("model", metavar="MODEL")
    export.set_defaults(run=run_export)
    imp = commands.add_parser(
        "import",
        help="read JSON lines from stdin into a model",
        description="Read JSON lines (as rom export writes them) from stdin "
        "and write each as a new row of MODEL, keeping its id, building its "
        "index entries and raising the id counter past it. A line that is "
        "not valid, whose id exists, or whose unique value another entity "
        "holds is reported with its line number and writes nothing; the "
        "other lines are imported. Exits 1 if any line was refused.",
    )
    imp.add_argument("model", metavar="MODEL")
    imp.add_argument(
        "--dry-run", action="store_true", help="check every line, write nothing"
    )
    imp.add_argument(
        "--block-size",
        type=int,
        default=200,
        help="lines written per script call (default 200)",
    )
    imp.set_defaults(run=run_import)


def _one(name: str) -> Any:
    [model] = pick_models([name])
    return model


def run_export(args: argparse.Namespace) -> int:
    """``rom export``."""
    model = _one(args.model)
    count = export_rows(model, sys.stdout)
    sys.stdout.flush()
    print(f"rom export: {count} {model._meta.name} rows", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    """``rom import``."""
    model = _one(args.model)
    if sys.stdin.isatty():
        raise UsageError("reads JSON lines from stdin: rom import MODEL < rows.jsonl")
    imported = refused = 0
    lines = import_rows(
        model, sys.stdin, dry_run=args.dry_run, block_size=max(args.block_size, 1)
    )
    for number, reason in lines:
        if reason is None:
            imported += 1
        else:
            refused += 1
            print(f"line {number}: {reason}", file=sys.stderr)
    verb = "would import" if args.dry_run else "imported"
    print(
        f"rom import: {verb} {imported} {model._meta.name} rows, refused {refused}",
        file=sys.stderr,
    )
    return 1 if refused else 0
