"""Server cost of ``write_entity.lua`` per call: CPU instructions, deterministic.

Usage (from the repository root; needs ``valgrind``)::

    python -m benchmarks.script_cost [--ops insert,update,delete,commit100]
        [--n 100] [--scripts DIR ...] [--binary PATH] [--keep DIR]

For each operation it captures ``--n`` calls of the write script made by
rom on a scratch redis-server (the benchmark model, 300 entities saved
first: ``insert`` saves new entities one by one, ``commit100`` commits
``--n`` of them at once, ``update`` changes one float column, ``updbody``
one word of the full-text column, ``delete`` deletes), then, for each
script directory (``--scripts``: directories holding ``write_entity.lua``
and the ``lib_*.lua`` it includes; default this tree's ``rom/lua``), starts
a fresh redis-server under callgrind, saves the same 300 entities and
replays the captured calls with that script. It prints the instructions
the server spent inside ``EVALSHA`` (the script, the commands it runs, the
Lua garbage collector) per call, and the server commands per call (INFO
commandstats). Two directories compare two versions of the script on the
same calls; unlike timings on a shared machine, the counts move by about
1 % between runs (hash seeds, collector timing).

``--binary`` is the redis-server to run (default: the one the tests use).
``--keep DIR`` keeps each call's callgrind profile in ``DIR``
(``callgrind.<op>.<scripts directory name>``) for ``callgrind_annotate``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import rom
from rom import _scripts
from rom.testing import RedisServer
from rom.testing import find_redis_server
from rom.testing import use_connection

from . import workload as w
from .workload import BenchItem

OPS = ("insert", "commit100", "update", "updbody", "delete")
SETUP = 300
Call = tuple[str, int, list[str], str]


def expanded(directory: Path) -> str:
    """``write_entity.lua`` of ``directory`` with its includes expanded."""

    def expand(name: str, seen: set[str]) -> str:
        out = []
        text = (directory / f"{name}.lua").read_text()
        for line in text.splitlines(keepends=True):
            if line.startswith(_scripts.INCLUDE):
                inc = line[len(_scripts.INCLUDE) :].strip()
                if inc not in seen:
                    seen.add(inc)
                    out.append(expand(inc, seen))
            else:
                out.append(line)
        return "".join(out)

    return expand("write_entity", set())


def _rows(n: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    vocabulary = w._vocabulary(rng)
    return [w._values(i, rng, vocabulary) for i in range(1, SETUP + n + 1)]


def _setup(rows: list[dict[str, Any]]) -> None:
    for values in rows[:SETUP]:
        BenchItem(**values)
    rom.session.commit()
    rom.session.rollback()


def capture(op: str, n: int) -> list[Call]:
    """The write script calls rom makes for ``n`` operations ``op``."""
    rows = _rows(n)
    calls: list[Call] = []
    real = _scripts.write_entity_steps

    def spy(conn: Any, key: str, ttl: int, args: list[str], probe: str) -> Any:
        calls.append((key, ttl, list(args), probe))
        return (yield from real(conn, key, ttl, args, probe))

    _scripts.write_entity_steps = spy  # rom/_requests.py calls it so
    try:
        with RedisServer() as server, use_connection(server.client()):
            _setup(rows)
            calls.clear()
            _run(op, rows, n)
    finally:
        _scripts.write_entity_steps = real
    return calls


def _run(op: str, rows: list[dict[str, Any]], n: int) -> None:
    new = rows[SETUP : SETUP + n]
    if op == "insert":
        for values in new:
            BenchItem(**values).save()
    elif op == "commit100":
        for values in new:
            BenchItem(**values)
        rom.session.commit()
    else:
        for entity in BenchItem.get(list(range(1, n + 1))):
            if op == "update":
                entity.score = entity.score + 1.5
                entity.save()
            elif op == "updbody":
                entity.body = entity.body + " extra"
                entity.save()
            else:
                entity.delete()
    rom.session.rollback()


def replay(
    binary: str,
    source: str,
    calls: list[Call],
    n: int,
    work: Path,
    keep: Path | None = None,
) -> tuple[float, float]:
    """(instructions, server commands) per operation of ``calls`` replayed
    with ``source``, on a fresh server under callgrind; ``keep`` is where
    the callgrind profile is copied (for ``callgrind_annotate``)."""
    server = callgrind_server(binary, work, "evalShaCommand")
    with server, server.client() as client:
        with use_connection(server.client()):
            _setup(_rows(n))
        sha = client.script_load(source)
        # A full collection before and at the end of the calls: the Lua
        # garbage the calls make is all collected inside the measured
        # calls (an incremental collector otherwise runs its steps at
        # points that shift with every allocation, a few % per op either way).
        collect = client.script_load("collectgarbage('collect') return 0")
        client.evalsha(collect, 0)
        _callgrind(client, server.pid, "-z")
        before = _commands(client)
        for key, ttl, args, probe in calls:
            reply = json.loads(client.evalsha(sha, 2, key, probe, ttl, *args))
            assert all("error" not in r for r in reply), reply
        client.evalsha(collect, 0)
        commands = _commands(client) - before - 2  # not the INFO, the collection
        _callgrind(client, server.pid, "-d")
    profile = next(work.glob("callgrind.out.*"))
    instructions = _summary(profile)
    if keep is not None:
        shutil.copy(profile, keep)
    for path in work.glob("callgrind.out*"):
        path.unlink()
    return instructions / n, commands / n


def callgrind_server(binary: str, work: Path, collect: str) -> RedisServer:
    """A private redis-server (``binary``) that runs under callgrind,
    counting inside the server function ``collect``; its profile is written
    in ``work`` (``callgrind.out.*``) on ``_callgrind(..., "-d")``."""
    out = work / "callgrind.out"
    wrapper = work / "redis-server"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then exec {binary} --version; fi\n'
        f"exec valgrind --tool=callgrind --callgrind-out-file={out} "
        f'--toggle-collect={collect} {binary} "$@"\n'
    )
    wrapper.chmod(0o755)
    return RedisServer(binary=str(wrapper), startup_timeout=120.0)


def _commands(client: Any) -> int:
    # Every command the server ran: a script call and each command inside it.
    return sum(v["calls"] for v in client.info("commandstats").values())


def _callgrind(client: Any, pid: int, arg: str) -> None:
    # callgrind_control waits for the server to run: keep it busy with PINGs.
    proc = subprocess.Popen(
        ["callgrind_control", arg, str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while proc.poll() is None:
        client.ping()
        time.sleep(0.05)


def _summary(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"{path}: no summary line")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.script_cost")
    parser.add_argument("--ops", default="insert,commit100,update,delete")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--scripts", nargs="*", type=Path)
    parser.add_argument("--binary")
    parser.add_argument(
        "--keep", type=Path, help="directory to keep each callgrind profile in"
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("benchmarks.script_cost needs valgrind (callgrind) on PATH")
    binary = args.binary or find_redis_server()
    dirs = args.scripts or [Path(__file__).resolve().parent.parent / "rom" / "lua"]
    sources = [(d, expanded(d)) for d in dirs]
    print(f"{'op':10} {'instructions/op':>16} {'srv cmds/op':>12}  script")
    for op in args.ops.split(","):
        if op not in OPS:
            sys.exit(f"unknown op {op!r}; one of {', '.join(OPS)}")
        calls = capture(op, args.n)
        for directory, source in sources:
            with _workdir() as work:
                keep = None
                if args.keep is not None:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    keep = args.keep / f"callgrind.{op}.{directory.name}"
                instr, cmds = replay(binary, source, calls, args.n, work, keep)
            print(f"{op:10} {instr:16,.0f} {cmds:12.2f}  {directory}", flush=True)


class _workdir:
    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="rom-script-cost-"))
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


if __name__ == "__main__":
    main()
