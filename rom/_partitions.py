"""Partitioned models: one model spread over many hash slots.

A model declaring ``_partitions = P`` keeps each entity, with its row,
index entries and index record, in one of ``P`` partitions: a namespace of
its own (``rom._keys.partition_keyspaces``: ``<ns>~<i>`` on one server, a
hash tag of its own slot on a Redis Cluster). An entity's partition is its
id modulo ``P``; partition ``i`` hands out the ids ``n * P + i`` from its
own counter, so ids stay unique across partitions and a write of one entity
is one script in one slot. A new entity without an id goes to the next
partition of a per-process round robin.

Pure: nothing here talks to Redis.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Iterator

from .exceptions import ColumnError

__all__ = [
    "MAX_PARTITIONS",
    "RoundRobin",
    "model_partitions",
    "partition_of",
    "value_partition",
]

# A partition's cluster namespace is found by trying tags until one hashes
# into the partition's range of slots (about P tries each): 1024 partitions
# take well under a second, once per process.
MAX_PARTITIONS = 1024


def model_partitions(cls: type, namespace: str) -> int:
    """The ``_partitions`` a model class declares (in it or a base model),
    checked; 0 if it declares none."""
    value: object = 0
    for base in cls.__mro__:
        if "_partitions" in base.__dict__:
            value = base.__dict__["_partitions"]
            break
    if value is None or (value == 0 and not isinstance(value, bool)):
        return 0
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 2 <= value <= MAX_PARTITIONS
    ):
        raise ColumnError(
            f"{cls.__name__}._partitions must be an int from 2 to "
            f"{MAX_PARTITIONS} (the number of partitions the model's entities "
            f"are spread over, fixed once data is written), got {value!r}"
        )
    if "{" in namespace or "}" in namespace:
        raise ColumnError(
            f"{cls.__name__} cannot be partitioned with namespace {namespace!r}: "
            "a partitioned model's keys get hash tags of their own, one slot per "
            "partition, so its namespace may not contain '{' or '}'; drop the "
            "braces (a partitioned model shares no slot with other models)"
        )
    return value


def partition_of(id: object, count: int) -> int:
    """The partition of entity ``id`` (an int or its digits) among ``count``."""
    return int(id) % count  # type: ignore[call-overload,no-any-return]


def value_partition(value: str | bytes, count: int) -> int:
    """The partition among ``count`` holding the unique value ``value`` (the
    unique HASH field as stored: the wire string, or the encoded group of a
    ``unique_together``): CRC-32 of its UTF-8, modulo ``count``. Stable
    across processes and versions (unlike ``hash()``), so every writer and
    reader of a value meets in the same partition."""
    # Bytes as read from Redis; text as sent (a str decoded from bytes with
    # surrogateescape gives those bytes back).
    data = (
        value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    )
    return zlib.crc32(data) % count


class RoundRobin:
    """The partition of each new entity without an id, in turn, starting at
    a random one (so processes started together do not all begin at 0)."""

    __slots__ = ("_next",)

    def __init__(self, count: int) -> None:
        self._next: Iterator[int] = itertools.cycle(
            list(range(count))[(start := random.randrange(count)) :]
            + list(range(start))
        )

    def __next__(self) -> int:
        return next(self._next)
