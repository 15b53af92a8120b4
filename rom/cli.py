"""The ``rom`` command: inspect, check, repair, export and import a rom database.

Run it as ``rom ...`` (the console script) or ``python -m rom ...``. It
imports the application's models with ``--app package.module``
(repeatable) and connects with ``--url`` or ``ROM_REDIS_URI``. Models
that set their own connection (``_conn``/``CONN``) keep it.

Exit status: 0 when all is well, 1 when ``check`` finds problems,
``repair`` leaves some, or ``import`` refuses lines, 2 for a usage error
(an unknown model, an app that does not import, a Redis that cannot be
reached).

It uses only the standard library (argparse, and rom's own progress bar),
so ``pip install rom`` is all it needs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import redis

from ._cli_app import UsageError
from ._cli_app import load_app
from ._cli_health import add_health_commands
from ._cli_inspect import add_inspect_commands
from ._cli_jobs import add_job_commands
from ._cli_rows import add_row_commands

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rom`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="rom",
        description="Inspect, check, repair, export and import the data of rom models.",
    )
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module to define the models (repeatable); the "
        "current directory is on the import path",
    )
    parser.add_argument(
        "--url",
        help="Redis URL, e.g. redis://host:6379/0 (default: $ROM_REDIS_URI, "
        "else rom's default connection)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="--url names a node of a Redis Cluster: connect with a cluster "
        "client (model keys are then hash-tagged, {<ns>}:...)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_inspect_commands(commands)
    add_health_commands(commands)
    add_job_commands(commands)
    add_row_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rom`` command with ``argv`` (default: the process arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        load_app(args.app, args.url, cluster=args.cluster)
        status: int = args.run(args)
    except UsageError as exc:
        print(f"rom {args.command}: {exc}", file=sys.stderr)
        return 2
    except redis.ConnectionError as exc:
        print(
            f"rom {args.command}: cannot reach Redis ({exc}); pass --url or set "
            "ROM_REDIS_URI",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:  # e.g. ``rom export M | head``
        return 0
    return status
