"""Server cost of rom's writes against MULTI/EXEC, in instructions.

Usage (from the repository root; needs ``valgrind``)::

    python -m benchmarks.multi_cost [--ops commit100,insert,update,delete]
        [--n 100] [--binary PATH]

For ``--n`` operations of the benchmark model (300 entities saved first, as
``benchmarks.script_cost`` does: ``commit100`` commits ``--n`` new entities
at once, ``insert`` saves them one by one, ``update`` changes one float
column, ``delete`` deletes), it counts the server's instructions per entity
spent reading, parsing and running the requests (callgrind, collecting in
``processInputBuffer``; replies are written after it and are not counted):

``rom script``         rom's ``EVALSHA`` calls of ``write_entity.lua``, as
                       rom sends them;
``rom's commands``     the commands those calls run (recorded by a copy of
                       the script that logs each ``redis.call``/``pcall``),
                       each call's sent as one MULTI/EXEC by redis-py: the
                       same Redis work without the script around it;
``raw MULTI``          the harness's raw redis-py doing the same operations
                       (``workload.Raw``): the minimal Redis work, without
                       rom's guarantees, on a server that also holds raw's
                       copy of the first entities.

Each runs on a fresh server holding the same first entities, so every
command meets the same data. The figures do not move between runs by more
than about 1 % (hash seeds, the Lua collector).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import redis

from rom.testing import RedisServer
from rom.testing import find_redis_server
from rom.testing import use_connection

from . import script_cost as sc
from . import workload as w

# Shadows `redis` in a copy of the write script: every command it runs is
# logged (numbers as the text Redis would receive), and the script returns
# the log instead of its reply.
LOGGER = """
local __log = {}
local function __logged(real)
    return function(...)
        local args = {...}
        for i, a in ipairs(args) do args[i] = tostring(a) end
        __log[#__log + 1] = args
        return real(...)
    end
end
local redis = setmetatable(
    {call = __logged(redis.call), pcall = __logged(redis.pcall)},
    {__index = redis})
"""
LAST = "return reply"
OPS = ("commit100", "insert", "update", "delete")


def logging_script(source: str) -> str:
    """``source`` (the expanded write script) logging its commands."""
    head, sep, tail = source.rpartition(LAST)
    if not sep or tail.strip():
        raise RuntimeError("write_entity.lua no longer ends with 'return reply'")
    return LOGGER + head + "return cjson.encode(__log)\n"


def commands_of(source: str, calls: list[sc.Call], n: int) -> list[list[list[str]]]:
    """The commands the write script runs for each of ``calls``, one after
    the other, on a fresh server holding the benchmark's first entities."""
    logged = logging_script(source)
    with RedisServer() as server, server.client() as client:
        with use_connection(server.client()):
            sc._setup(sc._rows(n))
        return [
            json.loads(client.eval(logged, 2, key, probe, ttl, *args))
            for key, ttl, args, probe in calls
        ]


def _measured(binary: str, work: Path, run: Any, n: int) -> float:
    """Instructions per entity that ``run(client)`` costs a fresh server
    (under callgrind) holding the benchmark's first entities."""
    server = sc.callgrind_server(binary, work, "processInputBuffer")
    with server, server.client() as client:
        with use_connection(server.client()):
            sc._setup(sc._rows(n))
        prepare = getattr(run, "prepare", None)
        if prepare is not None:
            prepare(client)
        sc._callgrind(client, server.pid, "-z")
        run(client)
        sc._callgrind(client, server.pid, "-d")
    profile = next(work.glob("callgrind.out.*"))
    instructions = sc._summary(profile)
    for path in work.glob("callgrind.out*"):
        path.unlink()
    return instructions / n


class _Script:
    def __init__(self, source: str, calls: list[sc.Call]) -> None:
        self.source, self.calls = source, calls

    def prepare(self, client: redis.Redis) -> None:
        self.sha = client.script_load(self.source)
        self.collect = client.script_load("collectgarbage('collect') return 0")
        client.evalsha(self.collect, 0)

    def __call__(self, client: redis.Redis) -> None:
        for key, ttl, args, probe in self.calls:
            reply = json.loads(client.evalsha(self.sha, 2, key, probe, ttl, *args))
            assert all("error" not in r for r in reply), reply
        client.evalsha(self.collect, 0)  # the calls' garbage, collected


class _Multi:
    def __init__(self, calls: list[list[list[str]]]) -> None:
        self.calls = calls

    def __call__(self, client: redis.Redis) -> None:
        for commands in self.calls:
            pipe = client.pipeline(transaction=True)
            for command in commands:
                pipe.execute_command(*command)
            pipe.execute(raise_on_error=False)


class _Raw:
    def __init__(self, op: str, n: int) -> None:
        rows = [w._row(i, v) for i, v in enumerate(sc._rows(n), 1)]
        self.op, self.n = op, n
        self.setup, self.new = rows[: sc.SETUP], rows[sc.SETUP :]

    def prepare(self, client: redis.Redis) -> None:
        # The same first entities on raw's side: its writes meet index
        # keys that exist, as rom's do.
        w.Raw(client).insert_batch(self.setup)

    def __call__(self, client: redis.Redis) -> None:
        raw, op = w.Raw(client), self.op
        if op == "commit100":
            raw.insert_batch(self.new)
        elif op == "insert":
            for row in self.new:
                raw.insert(row)
        elif op == "update":  # as script_cost's: score + 1.5, ids 1..n
            for row in self.setup[: self.n]:
                raw.update((row, row.values["score"] + 1.5))
        else:
            for row in self.setup[: self.n]:
                raw.delete(row)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.multi_cost")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--binary")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("benchmarks.multi_cost needs valgrind (callgrind) on PATH")
    if args.n > sc.SETUP:
        sys.exit(f"--n is at most {sc.SETUP}: updates and deletes use saved entities")
    binary = args.binary or find_redis_server()
    source = sc.expanded(Path(__file__).resolve().parent.parent / "rom" / "lua")
    print(
        f"{'op':10} {'rom script':>12} {'rom cmds':>12} {'raw MULTI':>12}"
        f" {'cmds/op':>8}   (instructions per entity)"
    )
    for op in args.ops.split(","):
        if op not in OPS:
            sys.exit(f"unknown op {op!r}; one of {', '.join(OPS)}")
        calls = sc.capture(op, args.n)
        commands = commands_of(source, calls, args.n)
        runs = [_Script(source, calls), _Multi(commands), _Raw(op, args.n)]
        figures = []
        for run in runs:
            with sc._workdir() as work:
                figures.append(_measured(binary, work, run, args.n))
        per = sum(map(len, commands)) / args.n
        print(
            f"{op:10} {figures[0]:12,.0f} {figures[1]:12,.0f} {figures[2]:12,.0f}"
            f" {per:8.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
