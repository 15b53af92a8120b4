"""What a model takes in Redis: its keys by kind, index entries and memory.

Memory comes from ``MEMORY USAGE``: rows are sampled (at most ``sample``
of them, evenly spread over the ids) and the average scaled to the row
count; index keys are measured one by one up to ``sample`` of them and
scaled the same way. A server that refuses ``MEMORY USAGE`` (some hosted
ones do) gives ``None`` figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import redis

from ._io import run_sync
from ._key_shapes import partition_censuses_steps
from ._replies import text

if TYPE_CHECKING:
    from .model import Model

__all__ = ["Footprint", "footprint"]

_SIZE_OF = {"set": "scard", "zset": "zcard", "hash": "hlen"}


@dataclass
class Footprint:
    """Key and memory figures of one model (see the module docstring)."""

    model: str
    namespace: str
    rows: int = 0
    # Keys by shape kind: row, counter, legacy, index, unsafe, temp; and
    # 'other' for keys under the namespace that are not the model's.
    keys: dict[str, int] = field(default_factory=dict)
    index_entries: int = 0
    unique_entries: int = 0
    row_bytes: int | None = None
    index_bytes: int | None = None
    sampled_rows: int = 0
    # A partitioned model's rows in each partition (empty for another one).
    partition_rows: list[int] = field(default_factory=list)

    @property
    def total_bytes(self) -> int | None:
        """Rows and indexes together (None if the server gave no figures)."""
        if self.row_bytes is None or self.index_bytes is None:
            return None
        return self.row_bytes + self.index_bytes

    def to_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict."""
        return {
            "model": self.model,
            "namespace": self.namespace,
            "rows": self.rows,
            "keys": self.keys,
            "index_entries": self.index_entries,
            "unique_entries": self.unique_entries,
            "row_bytes": self.row_bytes,
            "index_bytes": self.index_bytes,
            "total_bytes": self.total_bytes,
            "sampled_rows": self.sampled_rows,
        } | ({"partition_rows": self.partition_rows} if self.partition_rows else {})


def footprint(model: type[Model], sample: int = 50) -> Footprint:
    """Count ``model``'s keys and entries, and estimate its memory."""
    conn = model._connection
    info = model._meta
    found = Footprint(info.name, info.namespace)
    rows: list[str] = []
    index: list[tuple[str, str]] = []
    other = 0
    # Each partition of a partitioned model (one census otherwise).
    for census in run_sync(partition_censuses_steps(conn, info, 1000)):
        before = len(rows)
        for key, shape in census.own:
            found.keys[shape.kind] = found.keys.get(shape.kind, 0) + 1
            if shape.kind == "row":
                rows.append(key)
            elif shape.kind == "index":
                index.append((key, shape.suffix))
        other += len(census.foreign) + len(census.shared)
        if info.partitions:
            found.partition_rows.append(len(rows) - before)
    if other:
        found.keys["other"] = other
    found.rows = len(rows)
    _count_entries(conn, index, found)
    rows.sort(key=lambda k: int(k.rpartition(":")[2]))
    picked = _spread(rows, sample)
    found.sampled_rows = len(picked)
    found.row_bytes = _scaled(conn, picked, len(rows))
    found.index_bytes = _scaled(
        conn, _spread([k for k, _ in index], sample), len(index)
    )
    return found


def _count_entries(
    conn: redis.Redis, index: list[tuple[str, str]], found: Footprint
) -> None:
    for start in range(0, len(index), 500):
        block = index[start : start + 500]
        pipe = conn.pipeline(transaction=False)
        for key, _ in block:
            pipe.type(key)
        kinds = [text(k) for k in pipe.execute()]
        for (key, _), kind in zip(block, kinds, strict=True):
            getattr(pipe, _SIZE_OF.get(kind, "exists"))(key)
        for (_, suffix), n in zip(block, pipe.execute(), strict=True):
            if suffix == "uidx":
                found.unique_entries += int(n)
            else:
                found.index_entries += int(n)


def _spread(keys: list[str], sample: int) -> list[str]:
    if len(keys) <= sample:
        return keys
    step = len(keys) / sample
    return [keys[int(i * step)] for i in range(sample)]


def _scaled(conn: redis.Redis, keys: list[str], total: int) -> int | None:
    if not keys:
        return 0
    pipe = conn.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key)
    try:
        sizes = [int(n or 0) for n in pipe.execute()]
    except redis.ResponseError:
        return None
    return round(sum(sizes) * total / len(keys))
