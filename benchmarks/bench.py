"""One benchmark run: a private redis-server, rom and raw redis-py, every operation.

Imported by ``benchmarks.run`` in a child process, after hiredis has (or has
not) been hidden, so the redis-py parser and command packer are the ones
the run is labelled with.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import redis
import redis.connection

import rom
from rom.testing import RedisServer

from . import workload as w
from .meter import MeteredConnection
from .meter import Sample
from .meter import measure
from .meter import metered_client

BLOCKS = 8  # turns rom and raw take in each phase
CHECKED = 20  # inputs of each read compared between rom and raw before timing

OPERATIONS = (
    ("insert", "insert one by one"),
    ("insert_batch", f"insert, session commits of {w.BATCH}"),
    ("get", "get by id"),
    ("get_many", f"get {w.BATCH} ids at once"),
    ("get_by", "get_by unique"),
    ("range", f"range query, limit {w.LIMIT}"),
    ("word", f"word query, limit {w.LIMIT}"),
    ("prefix", f"prefix query, limit {w.LIMIT}"),
    ("count", "count on a range"),
    ("update", "update one column"),
    ("delete", "delete"),
)
LABELS = dict(OPERATIONS)


def parser_name() -> str:
    """``hiredis`` or ``python``: what this process's redis-py parses with."""
    return "hiredis" if redis.connection.HIREDIS_AVAILABLE else "python"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@dataclass(frozen=True, slots=True)
class Counts:
    """How many operations of each kind are timed."""

    ops: int  # single-entity operations (and the entities saved one by one)
    batches: int  # get of BATCH ids at once
    queries: int  # each query kind


class Runner:
    """Measure each operation on rom, then on raw redis-py, on one server."""

    # The key prefixes of each side (a cluster run hash-tags them).
    rom_ns = "BenchItem"
    raw_ns = w.RAW_NS

    def __init__(self, server: RedisServer, n: int, seed: int, counts: Counts) -> None:
        self.admin = server.client()
        self.data = w.make_dataset(n, seed)
        self.ops = min(counts.ops, n)
        self.batches = counts.batches
        self.queries = counts.queries
        w.BenchItem._conn = metered_client(server.host, server.port)
        self.raw = w.Raw(metered_client(server.host, server.port))
        self.floor = Floor(server.host, server.port)
        self.results: list[dict[str, Any]] = []

    # -- plumbing

    def _pair(
        self,
        op: str,
        orm: Callable[[Any], Any],
        orm_inputs: Sequence[Any],
        raw: Callable[[Any], Any],
        raw_inputs: Sequence[Any],
        floor: Callable[[Any], Any] | None = None,
    ) -> None:
        if not orm_inputs or not raw_inputs:
            return  # e.g. no batches when every entity is saved one by one
        # rom and raw (and the floor) take turns on slices of the inputs, so
        # a change in the machine's load during the phase weighs on all alike.
        got = base = least = None
        for block in range(BLOCKS):
            mine = _slice(orm_inputs, block)
            theirs = _slice(raw_inputs, block)
            rom.session.rollback()
            one = measure(self.admin, len(mine), partial(w.run_all, orm, mine))
            rom.session.rollback()
            two = measure(self.admin, len(theirs), partial(w.run_all, raw, theirs))
            got = one if got is None else got + one
            base = two if base is None else base + two
            if floor is not None:
                three = measure(
                    self.admin, len(theirs), partial(w.run_all, floor, theirs)
                )
                least = three if least is None else least + three
        assert got is not None and base is not None
        self.results.append(_result(op, got, base, least))
        print(f"  {op:<13} {_brief(got, base)}", file=sys.stderr, flush=True)

    def _check(
        self, op: str, orm: Callable[[Any], Any], raw: Callable[[Any], Any], inputs: Any
    ) -> None:
        for item in inputs[:CHECKED]:
            mine, theirs = orm(item), raw(item)
            if isinstance(mine, int):
                same = mine == theirs
            else:
                same = w.ids_of(mine) == w.ids_of(theirs)
            if not same:
                raise AssertionError(f"{op}({item!r}): rom and raw disagree")
        rom.session.rollback()

    def _warm_up(self) -> None:
        # Loads rom's scripts into the server (NOSCRIPT, SCRIPT LOAD) untimed.
        row = self.data.rows[0]
        w.orm_insert(row)
        w.orm_get(1)
        w.orm_get_by(row.values["email"])
        w.orm_range((0, 99))
        w.orm_count((0, 99))
        rom.session.rollback()
        self.admin.flushdb()

    # -- the phases

    def inserts(self) -> None:
        # The first `ops` rows are saved one by one, the rest in commits of
        # BATCH: together they make the data set of N entities on each side.
        single, rest = self.data.rows[: self.ops], self.data.rows[self.ops :]
        self._pair("insert", w.orm_insert, single, self.raw.insert, single)
        batches = w.chunks(rest, w.BATCH)
        self._pair(
            "insert_batch", w.orm_insert_batch, batches, self.raw.insert_batch, batches
        )
        self._check_same_data()

    def _check_same_data(self) -> None:
        n = len(self.data.rows)
        if int(self.admin.get(f"{self.rom_ns}:id:") or 0) != n:
            raise AssertionError("rom did not allocate ids 1..N")
        for id in sorted({1, self.ops, self.ops + 1, n} - {n + 1}):
            mine = self.admin.hgetall(f"{self.rom_ns}:{id}")
            mine.pop(b"-index-data-", None)
            if mine != self.admin.hgetall(f"{self.raw_ns}:{id}"):
                raise AssertionError(f"rom and raw wrote different rows for id {id}")
        self._check_same_keys()

    def _check_same_keys(self) -> None:
        # Same index keys on both sides; rom also keeps its id counter. A
        # temporary key left behind by a query would show here.
        # rom's write records (kept RECORD_TTL seconds) have no raw twin.
        count = self.admin.dbsize()
        pattern = f"{self.rom_ns}:*"
        rom_keys = sum(1 for _ in self.admin.scan_iter(pattern, count=1000))
        records = f"{self.rom_ns}::write:*"
        rom_records = sum(1 for _ in self.admin.scan_iter(records, count=1000))
        raw_keys = count - rom_keys
        rom_keys -= rom_records
        if rom_keys - 1 != raw_keys:
            raise AssertionError(f"rom has {rom_keys} keys, raw {raw_keys}")

    def reads(self) -> None:
        data, raw, q = self.data, self.raw, self.queries
        ids = data.shuffled_ids()[: self.ops]
        emails = [data.rows[i - 1].values["email"] for i in data.shuffled_ids()]
        many = w.chunks(data.shuffled_ids() * w.BATCH, w.BATCH)[: self.batches]
        phases: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any], Any]] = [
            ("get", w.orm_get, raw.get, ids),
            ("get_many", w.orm_get_many, raw.get_many, many),
            ("get_by", w.orm_get_by, raw.get_by, emails[: self.ops]),
            ("range", w.orm_range, raw.range, data.ranges(q, 5)),
            ("word", w.orm_word, raw.word, data.words(q)),
            ("prefix", w.orm_prefix, raw.prefix, data.prefixes(q)),
            ("count", w.orm_count, raw.count, data.ranges(q, 10)),
        ]
        for op, orm, base, inputs in phases:
            self._check(op, orm, base, inputs)
            floor = self.floor.get if op == "get" else None
            if floor is not None and floor(inputs[0]) != base(inputs[0]):
                raise AssertionError("the floor's HGETALL differs from raw's")
            self._pair(op, orm, inputs, base, inputs, floor)
        self._check_same_keys()

    def writes(self) -> None:
        ids = sorted(self.data.shuffled_ids()[: self.ops])
        rows = [self.data.rows[i - 1] for i in ids]
        entities: list[w.BenchItem] = []
        for chunk in w.chunks(ids, 1000):
            entities += w.orm_get_many(chunk)
        scores = self.data.new_scores()[: len(rows)]
        changes = list(w.pairs(entities, rows, scores))
        self._pair(
            "update",
            w.orm_update,
            [mine for mine, _ in changes],
            self.raw.update,
            [theirs for _, theirs in changes],
        )
        self._pair("delete", w.orm_delete, entities, self.raw.delete, rows)
        self._check_same_keys()
        for id in ids[:CHECKED]:
            if self.admin.exists(f"{self.rom_ns}:{id}", f"{self.raw_ns}:{id}"):
                raise AssertionError(f"row {id} survived its delete")

    def run(self) -> list[dict[str, Any]]:
        self._warm_up()
        self.inserts()
        self.reads()
        self.writes()
        return self.results


class Floor:
    """The least a client can do for one read: no client object, no pool.

    One ``redis.connection.Connection`` (its parser is the run's: hiredis's
    reader when installed) packs, sends and reads HGETALL; a RESP2 flat
    reply is turned into a dict as redis-py's callback does. rom's and raw's ratios
    to it show what the client layers cost on top of the round trip itself.
    """

    def __init__(self, host: str, port: int) -> None:
        self.conn = MeteredConnection(host=host, port=port)
        self.conn.connect()

    def get(self, id: int) -> Any:
        conn = self.conn
        conn.send_packed_command(conn.pack_command("HGETALL", f"{w.RAW_NS}:{id}"))
        reply = conn.read_response()
        if isinstance(reply, dict):  # RESP3 (redis-py's default from 8.0)
            return reply
        return dict(zip(reply[::2], reply[1::2], strict=True))


def _slice(inputs: Sequence[Any], block: int) -> Sequence[Any]:
    size = -(-len(inputs) // BLOCKS)
    return inputs[block * size : (block + 1) * size]


def _result(
    op: str, got: Sample, base: Sample, floor: Sample | None = None
) -> dict[str, Any]:
    ratio = got.ops_per_s / base.ops_per_s if base.ops_per_s else 0.0
    result = {
        "op": op,
        "label": LABELS[op],
        "ratio": ratio,
        "rom": got.to_json(),
        "raw": base.to_json(),
    }
    if floor is not None and floor.ops_per_s:
        result["floor"] = floor.to_json()
        result["rom_floor_ratio"] = got.ops_per_s / floor.ops_per_s
        result["raw_floor_ratio"] = base.ops_per_s / floor.ops_per_s
    return result


def _brief(got: Sample, base: Sample) -> str:
    return (
        f"rom {got.ops_per_s:9.0f}/s  raw {base.ops_per_s:9.0f}/s  "
        f"ratio {got.ops_per_s / base.ops_per_s:.2f}"
    )


def run(n: int, seed: int, counts: Counts) -> dict[str, Any]:
    """Run every operation once; return the results and the environment."""
    with RedisServer() as server:
        print(
            f"[{parser_name()}] redis {server.version} on port {server.port}, n={n}",
            file=sys.stderr,
            flush=True,
        )
        results = Runner(server, n, seed, counts).run()
        version = server.version
    return {
        "parser": parser_name(),
        "n": n,
        "ops": min(counts.ops, n),
        "batches": counts.batches,
        "queries": counts.queries,
        "seed": seed,
        "rom_path": os.path.dirname(rom.__file__),
        "machine": {
            "cpu": _cpu_model(),
            "cpus": _cpu_count(),
            "python": platform.python_version(),
            "redis_server": version,
            "redis_py": redis.__version__,
            "hiredis": _hiredis_version(),
        },
        "results": results,
    }


def _cpu_count() -> int:
    return os.cpu_count() or 0


def _hiredis_version() -> str | None:
    module = sys.modules.get("hiredis")
    return getattr(module, "__version__", None) if module else None
