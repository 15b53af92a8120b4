"""Benchmarks on a local Redis Cluster: rom against raw ``redis.cluster.RedisCluster``.

Usage (from the repository root)::

    python -m benchmarks.cluster_bench [--n 4000] [--ops 1000] [--batches 40]
                                       [--queries 400] [--seed 1]
                                       [--processes 3] [--models 6]
                                       [--spread-ops 600] [--json out.json]

Two parts, each on its own private cluster of 3 masters without replicas
(``rom.testing.RedisCluster``), with this process's redis-py parser:

one model
    every phase of ``benchmarks.run`` (same model, data and raw baselines,
    see benchmarks/README.rst) through a cluster client on each side. The
    raw keys share rom's hash tag (``{BenchItem}raw:1`` next to
    ``{BenchItem}:1``), so both sides live in one slot of one master and
    raw's MULTI/EXEC pipelines are legal; server CPU and server commands
    are that master's.

several models
    ``--models`` models, their hash tags chosen so they spread evenly over
    the masters (``spread``), then as many models sharing one hash tag
    (``packed``: every key on one master), each driven by ``--processes``
    spawned client processes doing the same mix (save, get, get_by, a range
    query, an update of one column) over all the models. Per master: the
    commands it ran (``INFO commandstats`` deltas, the scripts' inner
    commands included) and the keys it holds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import sys
import time
from typing import Any

import redis
import redis.cluster

import rom
from rom.testing import ClusterNode
from rom.testing import RedisCluster

from . import bench
from . import workload as w
from .meter import MeteredConnection
from .run import table

# Commands the measurement itself (or the cluster client's topology
# refreshes) sends, not counted as work.
_IGNORED = frozenset({"info", "cluster", "command", "ping", "client", "hello"})


def metered_cluster(cluster: RedisCluster) -> redis.cluster.RedisCluster:
    """A cluster client whose traffic is counted in ``meter.COUNTS``."""
    # redis-py takes connection_class only from a client made from a URL.
    client = redis.cluster.RedisCluster(
        url=cluster.url, connection_class=MeteredConnection
    )
    client.ping(target_nodes=redis.cluster.RedisCluster.ALL_NODES)
    return client


class ClusterRaw(w.Raw):
    """``workload.Raw`` on a cluster client, at the floor for SORT too."""

    def word(self, word: str) -> list[Any]:
        # redis-py's cluster client cannot tell SORT's keys by itself: it
        # asks a node (COMMAND GETKEYS, one more round trip) on every call.
        # The floor names the node, which the client knows from the key.
        key = f"{self.ns}:body:{word}:idx"
        node = self.r.get_node_from_key(key)  # type: ignore[attr-defined]
        ids = self.r.execute_command(
            "SORT", key, "LIMIT", 0, w.LIMIT, target_nodes=node
        )
        return self._rows(ids)


class ClusterRunner(bench.Runner):
    """``bench.Runner`` on a cluster: both sides in the slot of ``{BenchItem}``."""

    rom_ns = "{BenchItem}"
    raw_ns = "{BenchItem}raw"

    def __init__(
        self, cluster: RedisCluster, n: int, seed: int, counts: bench.Counts
    ) -> None:
        self.node = cluster.node_for_key(self.rom_ns)
        # A plain client on the model's master: INFO deltas and checks.
        self.admin = self.node.client(decode_responses=False)
        self.data = w.make_dataset(n, seed)
        self.ops = min(counts.ops, n)
        self.batches = counts.batches
        self.queries = counts.queries
        w.BenchItem._conn = metered_cluster(cluster)
        self.raw = ClusterRaw(metered_cluster(cluster), ns=self.raw_ns)
        self.results = []


def one_model(
    n: int, seed: int, counts: bench.Counts, cluster: RedisCluster
) -> dict[str, Any]:
    runner = ClusterRunner(cluster, n, seed, counts)
    print(f"[cluster] one model on {runner.node!r}, n={n}", file=sys.stderr, flush=True)
    results = runner.run()
    w.BenchItem._conn = None
    version = str(runner.node.command("INFO", "server")["redis_version"])
    return {
        "parser": bench.parser_name(),
        "n": n,
        "ops": runner.ops,
        "batches": counts.batches,
        "queries": counts.queries,
        "seed": seed,
        "rom_path": os.path.dirname(rom.__file__),
        "machine": {
            "cpu": bench._cpu_model(),
            "cpus": os.cpu_count() or 0,
            "python": platform.python_version(),
            "redis_server": version + " cluster, 3 masters",
            "redis_py": redis.__version__,
            "hiredis": bench._hiredis_version(),
        },
        "results": results,
    }


# -- several models, several processes ---------------------------------------------


def _model_class(name: str, namespace: str) -> type[rom.Model]:
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "_namespace": namespace,
        "email": rom.Text(unique=True),
        "age": rom.Integer(index=True),
        "body": rom.Text(index=True, keygen=rom.FULL_TEXT),
    }
    return type(name, (rom.Model,), attrs)  # type: ignore[return-value]


def pick_names(cluster: RedisCluster, count: int) -> list[str]:
    """``count`` model names whose hash tags spread evenly over the masters."""
    masters = cluster.masters()
    per: dict[str, list[str]] = {m.id: [] for m in masters}
    want = -(-count // len(masters))
    i = 0
    while sum(len(v) for v in per.values()) < count:
        name = f"Spread{i}"
        owner = cluster.node_for_key("{" + name + "}").id
        if len(per[owner]) < want:
            per[owner].append(name)
        i += 1
    names = [name for owned in zip(*per.values(), strict=False) for name in owned]
    leftovers = [n for v in per.values() for n in v if n not in names]
    return (names + leftovers)[:count]


def namespaces(kind: str, names: list[str]) -> list[str]:
    """Each model's namespace: its own hash tag, or one tag shared by all."""
    if kind == "spread":
        return ["{" + name + "}" for name in names]
    return ["{packed}:" + name for name in names]


def spread_worker(
    url: str,
    kind: str,
    names: list[str],
    worker: int,
    ops: int,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """Save, read, query and update ``ops`` entities spread over the models."""
    models = [
        _model_class(name, ns)
        for name, ns in zip(names, namespaces(kind, names), strict=True)
    ]
    rom.util.CONNECTION = redis.cluster.RedisCluster.from_url(url)
    rng = random.Random(worker)
    done = 0
    ready.set()
    go.wait()
    started = time.perf_counter()
    saved = []
    for i in range(ops):
        model = models[i % len(models)]
        entity = model(email=f"w{worker}-{i}@x", age=rng.randrange(100), body="a b")
        entity.save()
        saved.append(entity)
        done += 1
    rom.session.rollback()
    for i, entity in enumerate(saved):
        model = type(entity)
        assert model.get(entity.id) is not None
        assert model.get_by(email=f"w{worker}-{i}@x") is not None
        lo = rng.randrange(95)
        model.query.filter(age=(lo, lo + 4)).limit(0, 10).all()
        done += 3
    rom.session.rollback()
    for entity in saved:
        entity.age = rng.randrange(100)
        entity.save()
        done += 1
    out.put({"worker": worker, "ops": done, "seconds": time.perf_counter() - started})


def node_work(node: ClusterNode) -> tuple[int, float]:
    """(commands run, CPU seconds) of one node so far."""
    stats = node.command("INFO", "commandstats")
    calls = sum(
        int(v["calls"])
        for k, v in stats.items()
        if k.removeprefix("cmdstat_").split("|")[0] not in _IGNORED
    )
    cpu = node.command("INFO", "cpu")
    return calls, float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


def _node_figures(node: ClusterNode) -> tuple[int, float, int]:
    """(commands run, CPU seconds, keys) of one node."""
    return (*node_work(node), int(node.command("DBSIZE")))


def several_models(
    cluster: RedisCluster, kind: str, names: list[str], processes: int, ops: int
) -> dict[str, Any]:
    cluster.flush()
    masters = cluster.masters()
    context = multiprocessing.get_context("spawn")
    ready = [context.Event() for _ in range(processes)]
    go, out = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=spread_worker,
            args=(cluster.url, kind, names, k, ops, ready[k], go, out),
        )
        for k in range(processes)
    ]
    for worker in workers:
        worker.start()
    for event in ready:
        event.wait(120)
    before = [_node_figures(m) for m in masters]
    started = time.perf_counter()
    go.set()
    done = [out.get(timeout=900) for _ in workers]
    seconds = time.perf_counter() - started
    after = [_node_figures(m) for m in masters]
    for worker in workers:
        worker.join(60)
    tags = namespaces(kind, names)
    placement = {
        name: f"{cluster.node_for_key(ns).port}"
        for name, ns in zip(names, tags, strict=True)
    }
    total = sum(d["ops"] for d in done)
    nodes = [
        {
            "port": m.port,
            "models": sorted(n for n, p in placement.items() if p == str(m.port)),
            "commands": a[0] - b[0],
            "cpu_s": round(a[1] - b[1], 2),
            "keys": a[2],
        }
        for m, b, a in zip(masters, before, after, strict=True)
    ]
    return {
        "kind": kind,
        "processes": processes,
        "models": len(names),
        "ops": total,
        "seconds": round(seconds, 2),
        "ops_per_s": round(total / seconds),
        "nodes": nodes,
        "exit_codes": [wk.exitcode for wk in workers],
    }


def spread_table(run: dict[str, Any]) -> str:
    lines = [
        f"{run['kind']}: {run['models']} models, {run['processes']} processes, "
        f"{run['ops']} ops in {run['seconds']} s = {run['ops_per_s']} ops/s",
        f"  {'master':<8}{'commands':>10}{'share':>7}{'cpu s':>7}{'keys':>8}  models",
    ]
    total = sum(n["commands"] for n in run["nodes"]) or 1
    for node in run["nodes"]:
        lines.append(
            f"  {node['port']:<8}{node['commands']:>10}"
            f"{node['commands'] / total:>7.0%}{node['cpu_s']:>7.2f}{node['keys']:>8}"
            f"  {', '.join(node['models']) or '-'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cluster_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--spread-ops", type=int, default=600)
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--skip-spread", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    if not args.skip_single:
        with RedisCluster(masters=3) as cluster:
            counts = bench.Counts(args.ops, args.batches, args.queries)
            result["one_model"] = one_model(args.n, args.seed, counts, cluster)
        print(table(result["one_model"]))
    if not args.skip_spread:
        with RedisCluster(masters=3) as cluster:
            names = pick_names(cluster, args.models)
            result["several_models"] = [
                several_models(cluster, kind, names, args.processes, args.spread_ops)
                for kind in ("spread", "packed")
            ]
        for run in result["several_models"]:
            print(spread_table(run))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)


if __name__ == "__main__":
    main()
