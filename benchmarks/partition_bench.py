"""Partitioned models on a local Redis Cluster: one model in P slots against one slot.

Usage (from the repository root)::

    python -m benchmarks.partition_bench [--masters 1,2,3] [--processes 4]
                                         [--partitions 16] [--inserts 1000]
                                         [--gets 1000] [--queries 300]
                                         [--json out.json] [--quick]

For each number of masters, a private cluster (``rom.testing.RedisCluster``,
no replicas, the slots in equal runs) and ``--processes`` spawned client
processes. Two models with the same columns: ``BpPart`` declares
``_partitions = P`` (its entities spread over P slots, so over every
master), ``BpFlat`` does not (every key in the one slot of ``{BpFlat}``, so
on one master). The models take turns on ``--slices`` (4) slices of each
phase (one, the other, one, ...), every process doing its share of a slice
at once:

insert
    ``--inserts`` new entities per process, one ``save()`` each;
get
    ``--gets`` gets by id per process, of ids it inserted (each read once,
    the session rolled back first, so every get reads Redis);
range
    ``--queries`` per process of ``filter(n=(lo, lo + 9)).limit(0, 10).all()``;
count
    ``--queries`` per process of ``filter(n=(lo, lo + 99)).count()``.

A phase whose first call raises ``InvalidOperation`` on the partitioned
model (queries over partitions not supported by this rom) is skipped and
reported as such, with the message. Per phase: ops/s (all the processes'
ops over the wall time from the start signal to the last reply), the
ratio partitioned / one slot, round trips and server commands per op
(scripts' inner commands included), and the CPU cores busy on average
(CPU seconds over wall seconds) of the whole machine (``/proc/stat``), of
the client processes together and of each master (``INFO cpu``), so the
report says what bounds the throughput; and the busiest master's CPU per
op, with the rate at which that master would use a whole core (``bound``:
what the masters would allow if the clients were not the bound). After
the insert phase: the entity rows each master holds, per model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import random
import re
import sys
import time
from typing import Any

import redis
import redis.cluster

import rom
from rom.exceptions import InvalidOperation
from rom.testing import RedisCluster

from .bench import _cpu_model
from .bench import _hiredis_version
from .bench import parser_name
from .cluster_bench import node_work
from .meter import COUNTS
from .meter import MeteredConnection

PHASES = ("insert", "get", "range", "count")
LABELS = {
    "insert": "insert one by one",
    "get": "get by id",
    "range": "range query, limit 10",
    "count": "count on a range",
}
MODELS = ("flat", "part")
NAMES = {"flat": "BpFlat", "part": "BpPart"}
VALUES = 1000  # n is uniform in 0..VALUES-1
RANGE_WIDTH = 9  # a range query matches about 1 % of the entities
COUNT_WIDTH = 99  # a count about 10 %


def make_models(partitions: int) -> dict[str, type[rom.Model]]:
    """The two benchmarked models: same columns, one partitioned."""
    made: dict[str, type[rom.Model]] = {}
    for kind in MODELS:
        attrs: dict[str, Any] = {
            "__module__": __name__,
            "n": rom.Integer(index=True),
            "score": rom.Float(index=True),
            "label": rom.Text(),
        }
        if kind == "part":
            attrs["_partitions"] = partitions
        made[kind] = type(NAMES[kind], (rom.Model,), attrs)  # type: ignore[assignment]
    return made


def metered_cluster(url: str) -> redis.cluster.RedisCluster:
    """A cluster client whose traffic is counted in ``meter.COUNTS``."""
    client = redis.cluster.RedisCluster(url=url, connection_class=MeteredConnection)
    client.ping(target_nodes=redis.cluster.RedisCluster.ALL_NODES)
    return client


# -- one client process --------------------------------------------------------


def _insert(model: type[rom.Model], rng: random.Random, k: int, i: int) -> int:
    entity = model(n=rng.randrange(VALUES), score=rng.random() * 1000, label=f"{k}-{i}")
    entity.save()
    return int(entity.id)


def _run_phase(
    model: type[rom.Model],
    phase: str,
    count: int,
    rng: random.Random,
    k: int,
    ids: list[int],
) -> int:
    """Do ``count`` ops of ``phase``; return how many were done."""
    rom.session.rollback()
    if phase == "insert":
        for i in range(count):
            ids.append(_insert(model, rng, k, i))
            if i % 100 == 99:
                rom.session.rollback()
        return count
    if phase == "get":
        order = ids[:]
        rng.shuffle(order)
        for i in range(count):
            if i and i % len(order) == 0:
                rom.session.rollback()  # read Redis again, not the session
            if model.get(order[i % len(order)]) is None:
                raise AssertionError(f"{model.__name__} {order[i % len(order)]} gone")
        return count
    width = RANGE_WIDTH if phase == "range" else COUNT_WIDTH
    for _ in range(count):
        lo = rng.randrange(VALUES - width)
        query = model.query.filter(n=(lo, lo + width))
        if phase == "range":
            query.limit(0, 10).all()
        else:
            query.count()
        rom.session.rollback()
    return count


def worker(url: str, partitions: int, k: int, inbox: Any, out: Any) -> None:
    """Run the phases ``inbox`` names, reporting each phase's figures."""
    models = make_models(partitions)
    client = metered_cluster(url)
    for model in models.values():
        model._conn = client
    rng = random.Random(k)
    ids: dict[str, list[int]] = {kind: [] for kind in MODELS}
    out.put({"worker": k, "ready": True})
    while (message := inbox.get()) is not None:
        kind, phase, count = message
        trips, commands = COUNTS.roundtrips, COUNTS.commands
        cpu = time.process_time()
        skipped = None
        try:
            done = _run_phase(models[kind], phase, count, rng, k, ids[kind])
        except InvalidOperation as exc:
            done, skipped = 0, f"{type(exc).__name__}: {exc}"
        out.put(
            {
                "worker": k,
                "ops": done,
                "skipped": skipped,
                "roundtrips": COUNTS.roundtrips - trips,
                "commands": COUNTS.commands - commands,
                "client_cpu": time.process_time() - cpu,
            }
        )


# -- the driver ---------------------------------------------------------------


def _machine_busy() -> float:
    """CPU seconds every process of the machine has used (``/proc/stat``),
    or 0.0 where there is none: with the clients' and masters' own CPU, it
    tells how much of the machine other jobs took during a phase."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return 0.0
    # user nice system idle iowait irq softirq steal ...: busy is user,
    # nice, system, irq and softirq (steal is the hypervisor's, not ours).
    ticks = [int(f) for f in fields]
    busy = sum(ticks[:3]) + ticks[5] + ticks[6]
    return busy / os.sysconf("SC_CLK_TCK")


def _row_pattern(namespace: str) -> re.Pattern[bytes]:
    return re.compile(rb"\{" + re.escape(namespace.encode()) + rb"(?:~\d+~\d+)?\}:\d+")


def rows_per_master(cluster: RedisCluster) -> dict[str, list[int]]:
    """The entity rows of each model on each master (in ``masters()`` order)."""
    found: dict[str, list[int]] = {}
    for kind in MODELS:
        name = NAMES[kind]
        pattern = _row_pattern(name)
        counts = []
        for node in cluster.masters():
            with node.client(decode_responses=False) as client:
                keys = client.scan_iter(match="{" + name + "*", count=1000)
                counts.append(sum(1 for key in keys if pattern.fullmatch(key)))
        found[kind] = counts
    return found


def _warm_up(cluster: RedisCluster, partitions: int) -> None:
    """Load every script on every master, untimed, then empty the cluster."""
    models = make_models(partitions)
    client = cluster.client()
    for model in models.values():
        model._conn = client
        for i in range(max(partitions, 1)):
            model(n=i, score=0.0, label="warm").save()
        model.get(1)
        for call in (
            lambda m: m.query.filter(n=(0, 9)).limit(0, 10).all(),
            lambda m: m.query.filter(n=(0, 99)).count(),
        ):
            with contextlib.suppress(InvalidOperation):
                call(model)  # not on partitions with this rom: skipped later
    rom.session.rollback()
    for model in models.values():
        model._conn = None
    client.close()
    cluster.flush()


def _slice(
    cluster: RedisCluster,
    inboxes: list[Any],
    out: Any,
    kind: str,
    phase: str,
    count: int,
) -> dict[str, Any]:
    """One slice of a phase on one model, every process at once: raw sums."""
    masters = cluster.masters()
    before = [node_work(m) for m in masters]
    busy = _machine_busy()
    started = time.perf_counter()
    for inbox in inboxes:
        inbox.put((kind, phase, count))
    replies = [out.get(timeout=1800) for _ in inboxes]
    seconds = time.perf_counter() - started
    busy = _machine_busy() - busy
    after = [node_work(m) for m in masters]
    skipped = sorted({r["skipped"] for r in replies if r["skipped"]})
    if skipped and kind == "flat":
        raise AssertionError(f"the one-slot model refused {phase}: {skipped}")
    return {
        "ops": sum(r["ops"] for r in replies),
        "seconds": seconds,
        "skipped": skipped[0] if skipped else None,
        "roundtrips": sum(r["roundtrips"] for r in replies),
        "client_cpu": sum(r["client_cpu"] for r in replies),
        "machine_cpu": busy,
        "server_cpu": [a[1] - b[1] for a, b in zip(after, before, strict=True)],
        "server_commands": sum(a[0] - b[0] for a, b in zip(after, before, strict=True)),
    }


def _add(total: dict[str, Any] | None, one: dict[str, Any]) -> dict[str, Any]:
    if total is None:
        return one
    summed = {
        k: total[k] + one[k]
        for k in (
            "ops",
            "seconds",
            "roundtrips",
            "client_cpu",
            "machine_cpu",
            "server_commands",
        )
    }
    summed["server_cpu"] = [
        a + b for a, b in zip(total["server_cpu"], one["server_cpu"], strict=True)
    ]
    summed["skipped"] = total["skipped"] or one["skipped"]
    return summed


def _result(kind: str, phase: str, sums: dict[str, Any]) -> dict[str, Any]:
    ops, seconds = sums["ops"], sums["seconds"]
    server_cpu = [round(c, 3) for c in sums["server_cpu"]]

    def per_op(value: float) -> float | None:
        return round(value / ops, 2) if ops else None

    result: dict[str, Any] = {
        "model": kind,
        "phase": phase,
        "ops": ops,
        "seconds": round(seconds, 3),
        "skipped": sums["skipped"],
        "ops_per_s": round(ops / seconds, 1) if ops else None,
        "roundtrips_per_op": per_op(sums["roundtrips"]),
        "server_commands_per_op": per_op(sums["server_commands"]),
        "client_cpu_s": round(sums["client_cpu"], 3),
        "server_cpu_s": server_cpu,
        # CPU cores busy on average during the phase: the client processes
        # together, and each master.
        "client_cores": round(sums["client_cpu"] / seconds, 2),
        "master_cores": [round(c / seconds, 2) for c in sums["server_cpu"]],
        # ... and the whole machine (every process, other jobs' included).
        "machine_cores": round(sums["machine_cpu"] / seconds, 2),
        # CPU per op of the busiest master, and the rate at which it would
        # use one whole core: the bound the masters set, were the clients
        # (on this machine, the bound) not in the way.
        "busiest_master_us_per_op": round(max(sums["server_cpu"]) / ops * 1e6, 1)
        if ops
        else None,
        "master_bound_ops_per_s": round(ops / max(sums["server_cpu"]))
        if ops and max(sums["server_cpu"]) > 0
        else None,
    }
    state = "skipped" if sums["skipped"] else f"{result['ops_per_s']} ops/s"
    print(f"  {kind:<5}{phase:<7}{state}", file=sys.stderr, flush=True)
    return result


def run_masters(args: argparse.Namespace, masters: int) -> dict[str, Any]:
    """Every phase on both models, on a fresh cluster of ``masters`` masters."""
    print(
        f"[partition_bench] {masters} master(s), {args.processes} processes",
        file=sys.stderr,
        flush=True,
    )
    with RedisCluster(masters=masters) as cluster:
        _warm_up(cluster, args.partitions)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        inboxes = [context.Queue() for _ in range(args.processes)]
        workers = [
            context.Process(
                target=worker, args=(cluster.url, args.partitions, k, inboxes[k], out)
            )
            for k in range(args.processes)
        ]
        for process in workers:
            process.start()
        try:
            for _ in workers:
                out.get(timeout=300)
            counts = {
                "insert": args.inserts,
                "get": args.gets,
                "range": args.queries,
                "count": args.queries,
            }
            phases = []
            spread: dict[str, list[int]] = {}
            load = os.getloadavg()[0]
            for phase in PHASES:
                # The models take turns on slices of the phase, so a change
                # in the machine's load weighs on both alike.
                sums: dict[str, dict[str, Any] | None] = dict.fromkeys(MODELS)
                share = max(counts[phase] // args.slices, 1)
                for _ in range(args.slices):
                    for kind in MODELS:
                        one = _slice(cluster, inboxes, out, kind, phase, share)
                        sums[kind] = _add(sums[kind], one)
                for kind in MODELS:
                    total = sums[kind]
                    assert total is not None
                    phases.append(_result(kind, phase, total))
                if phase == "insert":
                    spread = rows_per_master(cluster)
        finally:
            for inbox in inboxes:
                inbox.put(None)
            for process in workers:
                process.join(60)
        ports = [m.port for m in cluster.masters()]
        version = str(cluster.masters()[0].command("INFO", "server")["redis_version"])
    return {
        "masters": masters,
        "redis_server": version,
        "ports": ports,
        "load_average_1m": round(load, 2),
        "phases": phases,
        "rows_per_master": spread,
        "exit_codes": [p.exitcode for p in workers],
    }


def ratios(run: dict[str, Any]) -> dict[str, float | None]:
    """Per phase: partitioned ops/s over one-slot ops/s (None if skipped)."""
    rate = {(p["model"], p["phase"]): p["ops_per_s"] for p in run["phases"]}
    out: dict[str, float | None] = {}
    for phase in PHASES:
        part, flat = rate[("part", phase)], rate[("flat", phase)]
        out[phase] = round(part / flat, 2) if part and flat else None
    return out


def table(result: dict[str, Any]) -> str:
    """The runs as a fixed-width text table, then the spread."""
    head = (
        f"{'masters':<8}{'operation':<23}{'model':<6}{'ops/s':>8}{'ratio':>7}"
        f"{'trips/op':>9}{'srv cmds/op':>12}{'top us/op':>10}{'bound':>8}"
        f"{'machine':>8}{'clients':>8}  masters (CPU cores busy)"
    )
    lines = [head]
    for run in result["runs"]:
        ratio = ratios(run)
        for p in run["phases"]:
            if p["skipped"]:
                lines.append(
                    f"{run['masters']:<8}{LABELS[p['phase']]:<23}{p['model']:<6}"
                    f"  skipped: {p['skipped']}"
                )
                continue
            shown = ratio[p["phase"]] if p["model"] == "part" else None
            cores = " ".join(f"{c:.2f}" for c in p["master_cores"])
            lines.append(
                f"{run['masters']:<8}{LABELS[p['phase']]:<23}{p['model']:<6}"
                f"{p['ops_per_s']:>8.0f}{'' if shown is None else f'{shown:.2f}':>7}"
                f"{p['roundtrips_per_op']:>9.2f}{p['server_commands_per_op']:>12.1f}"
                f"{p['busiest_master_us_per_op']:>10.1f}"
                f"{p['master_bound_ops_per_s'] or 0:>8}"
                f"{p['machine_cores']:>8.2f}{p['client_cores']:>8.2f}  {cores}"
            )
    lines.append("")
    lines.append("entity rows per master after the insert phase:")
    for run in result["runs"]:
        rows = run["rows_per_master"]
        lines.append(
            f"  {run['masters']} master(s): partitioned {rows['part']}, "
            f"one slot {rows['flat']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.partition_bench",
        description=(__doc__ or "").split("\n")[0],
    )
    parser.add_argument("--masters", default="1,2,3", help="e.g. 1,2,3")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--inserts", type=int, default=1000, help="per process")
    parser.add_argument("--gets", type=int, default=1000, help="per process")
    parser.add_argument("--queries", type=int, default=300, help="per process")
    parser.add_argument(
        "--slices",
        type=int,
        default=4,
        help="turns the two models take in each phase",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: 3 masters, 2 processes, 40 ops of each kind",
    )
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.masters, args.processes = "3", 2
        args.inserts = args.gets = args.queries = 40
        args.slices = 2
    masters = [int(m) for m in args.masters.split(",")]
    result: dict[str, Any] = {
        "partitions": args.partitions,
        "processes": args.processes,
        "inserts": args.inserts,
        "gets": args.gets,
        "queries": args.queries,
        "slices": args.slices,
        "machine": {
            "cpu": _cpu_model(),
            "cpus": os.cpu_count() or 0,
            "python": platform.python_version(),
            "redis_py": redis.__version__,
            "hiredis": _hiredis_version(),
            "parser": parser_name(),
        },
        "rom_path": os.path.dirname(rom.__file__),
        "runs": [run_masters(args, m) for m in masters],
    }
    print(table(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)
            out.write("\n")
    return result


if __name__ == "__main__":
    main()
