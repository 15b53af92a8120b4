"""``rom check`` and ``rom repair``: is the data sound, and make it so."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._cli_app import pick_models
from ._registry import registered_models
from ._repair import apply_repair
from ._repair import plan_repair
from .consistency import check

__all__ = ["add_health_commands"]


def add_health_commands(commands: Any) -> None:
    """Add ``check`` and ``repair`` to the subcommand parsers."""
    check_cmd = commands.add_parser(
        "check",
        help="full consistency check of rows against their indexes",
        description="Check every row against every index, unique, prefix, "
        "suffix and geo entry it should have, and every entry against its "
        "row; also index records, id counters, temporary keys, UnsafeColumn "
        "keys and references. Prints a summary per model (each problem with "
        "-v) and exits 1 when something is wrong.",
    )
    check_cmd.add_argument("models", nargs="*", metavar="MODEL")
    check_cmd.add_argument("-v", "--verbose", action="store_true", help="every problem")
    check_cmd.add_argument("--json", action="store_true", help="print JSON")
    check_cmd.set_defaults(run=run_check)
    repair = commands.add_parser(
        "repair",
        help="fix what check finds (dry run unless --apply)",
        description="Check, then fix what was found: re-index damaged rows, "
        "remove entries of missing rows, raise id counters, expire leftover "
        "temporary keys, apply on_delete to references of missing entities. "
        "Each fix makes sure the row is still as checked, so it is safe while "
        "the application runs. Without --apply it only says what it would do.",
    )
    repair.add_argument("models", nargs="*", metavar="MODEL")
    repair.add_argument("--apply", action="store_true", help="write the fixes")
    repair.add_argument(
        "-v", "--verbose", action="store_true", help="every step made (with --apply)"
    )
    repair.add_argument("--json", action="store_true", help="print JSON")
    repair.set_defaults(run=run_repair)


def run_check(args: argparse.Namespace) -> int:
    """``rom check``."""
    report = check(*pick_models(args.models))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
        if args.verbose:
            for problem in report:
                print(f"  {problem}")
        elif report:
            print("(rom check -v lists each problem; rom repair fixes them)")
    return 0 if report.ok else 1


def run_repair(args: argparse.Namespace) -> int:
    """``rom repair``."""
    report = check(*pick_models(args.models))
    models = {m._meta.name: m for m in registered_models()}
    steps = plan_repair(report, models)
    if not args.apply:
        fixes = [s for s in steps if s.kind != "manual"]
        manual = [s for s in steps if s.kind == "manual"]
        if args.json:
            body = {
                "applied": False,
                "problems": len(report),
                "steps": [s.to_dict() for s in steps],
            }
            print(json.dumps(body, indent=2, ensure_ascii=False))
        else:
            print(report.summary())
            print(
                f"dry run: {len(fixes)} fix(es) to make, {len(manual)} problem(s) "
                "need a person; rom repair --apply writes the fixes"
            )
            for step in fixes:
                print(f"  {step}")
            for step in manual:
                print(f"  needs a person: {step}")
        return 0 if not manual else 1
    result = apply_repair(steps, models)
    if args.json:
        body = {"applied": True, "problems": len(report)} | result.to_dict()
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print(report.summary())
        print(
            f"repaired: {len(result.done)} fix(es) made, {len(result.skipped)} "
            f"skipped, {len(result.manual)} problem(s) need a person"
        )
        if args.verbose:
            for step in result.done:
                print(f"  done: {step}")
        for step, why in result.skipped:
            print(f"  skipped: {step} ({why})")
        for step in result.manual:
            print(f"  needs a person: {step}")
    return 0 if result.complete else 1
