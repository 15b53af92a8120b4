"""The partition of a partitioned model's unique value: stable, by the value."""

from __future__ import annotations

import zlib

from rom._keys import KeySpace
from rom._partitions import value_partition


def test_the_value_partition_is_crc32_of_the_utf8_modulo_p() -> None:
    # Fixed by the layout: every process and version must agree.
    assert value_partition("a@x", 16) == zlib.crc32(b"a@x") % 16
    assert value_partition("a@x", 16) == value_partition(b"a@x", 16)
    assert value_partition("é", 7) == zlib.crc32("é".encode()) % 7
    # Bytes read back with surrogateescape hash as the bytes they were.
    raw = b"\xff\xfe"
    assert value_partition(raw.decode("utf-8", "surrogateescape"), 9) == (
        zlib.crc32(raw) % 9
    )


def test_values_spread_over_the_partitions() -> None:
    counts = [0] * 16
    for i in range(16_000):
        counts[value_partition(f"user{i}@example.org", 16)] += 1
    assert min(counts) > 800 and max(counts) < 1200


def test_the_claims_hash_sits_beside_the_unique_hash() -> None:
    keys = KeySpace("User~3", "id", 16, 3)
    assert keys.unique("email") == "User~3:email:uidx"
    assert keys.claims("email") == "User~3:email:uclaim"
    assert keys.claims("a:b") == "User~3:a:b:uclaim"
    assert keys.index_parts(keys.claims("email")) is None  # not an index key
