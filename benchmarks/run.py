"""Benchmark rom against raw redis-py, with and without hiredis.

Usage (from the repository root)::

    python -m benchmarks.run [--n 20000] [--ops 5000] [--batches 250]
                             [--queries 2000] [--parsers hiredis,python]
                             [--seed 1] [--json out.json]

"get by id" is also measured on the floor: one redis-py connection (no
client object, no pool) sending HGETALL and reading the reply; "rom/fl"
and "raw/fl" are rom's and raw redis-py's op/s over the floor's.

Each parser runs in its own child process with its own private redis-server
(``rom.testing.RedisServer``); for ``python`` the child hides hiredis before
redis-py is imported, so both the reply parser and the command packer are
redis-py's pure-Python ones. The table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PARSERS = ("hiredis", "python")
ROOT = Path(__file__).resolve().parent.parent


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", type=int, default=20000, help="entities (20000)")
    parser.add_argument(
        "--ops", type=int, default=5000, help="single-entity ops timed (5000)"
    )
    parser.add_argument(
        "--batches", type=int, default=250, help="gets of 100 ids timed (250)"
    )
    parser.add_argument(
        "--queries", type=int, default=2000, help="queries of each kind (2000)"
    )
    parser.add_argument("--parsers", default=",".join(PARSERS), help="hiredis,python")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", choices=PARSERS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("n", "ops", "batches", "queries"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    args.parsers = [p.strip() for p in args.parsers.split(",") if p.strip()]
    unknown = set(args.parsers) - set(PARSERS)
    if unknown:
        parser.error(f"unknown parsers {sorted(unknown)}; choose from {PARSERS}")
    return args


def _child(args: argparse.Namespace) -> None:
    if args.child == "python":
        # A None entry makes `import hiredis` fail, so redis-py falls back to
        # its pure-Python parser and packer. Must happen before redis is imported.
        sys.modules["hiredis"] = None  # type: ignore[assignment]
    from . import bench  # redis is imported from here on

    if bench.parser_name() != args.child:
        raise SystemExit(f"asked for the {args.child} parser, redis-py uses another")
    counts = bench.Counts(args.ops, args.batches, args.queries)
    result = bench.run(args.n, args.seed, counts)
    args.out.write_text(json.dumps(result, indent=1))


def _spawn(args: argparse.Namespace, parser: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rom-bench-") as tmp:
        out = Path(tmp, "result.json")
        command = [sys.executable, "-m", "benchmarks.run", "--child", parser]
        for name in ("n", "ops", "batches", "queries"):
            command += [f"--{name}", str(getattr(args, name))]
        command += ["--seed", str(args.seed), "--out", str(out)]
        # An outer PYTHONPATH wins, so another rom tree can be measured; the
        # child runs in the temp dir, as `-m` puts its cwd first on sys.path.
        path = [os.environ.get("PYTHONPATH", ""), str(ROOT)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
        subprocess.run(command, cwd=tmp, env=env, check=True)
        return json.loads(out.read_text())  # type: ignore[no-any-return]


# -- the table -------------------------------------------------------------------

# (heading, key, width of each of rom/raw, decimals)
_COLUMNS = (
    ("client us/op", "client_cpu_us_per_op", 8, 1),
    ("server us/op", "server_cpu_us_per_op", 8, 1),
    ("trips/op", "roundtrips_per_op", 5, 1),
    ("cmds/op", "commands_per_op", 7, 1),
    ("srv cmds/op", "server_commands_per_op", 7, 1),
)
_LEFT = (
    f"{'operation':<31}{'rom op/s':>9}{'raw op/s':>9}{'ratio':>6}"
    f"{'floor op/s':>11}{'rom/fl':>7}{'raw/fl':>7}"
)


def _head() -> list[str]:
    top = _LEFT + "".join(f" |{h:>{2 * w}}" for h, _, w, _ in _COLUMNS)
    sub = " " * len(_LEFT) + "".join(
        f" |{'rom':>{w}}{'raw':>{w}}" for _, _, w, _ in _COLUMNS
    )
    return [top, sub, "-" * len(top)]


def _line(result: dict[str, Any]) -> str:
    rom, raw = result["rom"], result["raw"]
    left = (
        f"{result['label']:<31}{rom['ops_per_s']:>9.0f}{raw['ops_per_s']:>9.0f}"
        f"{result['ratio']:>6.2f}"
    )
    # The raw-socket floor (benchmarks.bench.Floor), measured for get by id.
    floor = result.get("floor")
    if floor is None:
        left += " " * 25
    else:
        left += (
            f"{floor['ops_per_s']:>11.0f}{result['rom_floor_ratio']:>7.2f}"
            f"{result['raw_floor_ratio']:>7.2f}"
        )
    return left + "".join(
        f" |{rom[k]:>{w}.{d}f}{raw[k]:>{w}.{d}f}" for _, k, w, d in _COLUMNS
    )


def table(run: dict[str, Any]) -> str:
    """One run's results as a fixed-width text table."""
    m = run["machine"]
    title = (
        f"parser={run['parser']}  n={run['n']}  ops={run['ops']}  "
        f"batches={run['batches']}  queries={run['queries']}  "
        f"python {m['python']}  redis-server {m['redis_server']}  "
        f"redis-py {m['redis_py']}  hiredis {m['hiredis'] or '-'}  cpu {m['cpu']}"
        f"  rom {run.get('rom_path', '?')}"
    )
    lines = [title, *_head()]
    lines += [_line(result) for result in run["results"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    if args.child:
        _child(args)
        return
    runs = [_spawn(args, parser) for parser in args.parsers]
    print("\n\n".join(table(run) for run in runs))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
