"""The one-server SCAN of every partition of a partitioned model: its
pattern, and which partition a key it returns belongs to."""

from __future__ import annotations

import fnmatch

import pytest

from rom._keys import partition_index
from rom._keys import partition_keyspaces
from rom._keys import partitions_scan_pattern


@pytest.mark.parametrize(
    ("key", "index"),
    [
        ("User~0:1", 0),
        ("User~3:id:", 3),
        ("User~12:email:uidx", 12),
        ("User~3::expiry", 3),
        ("User~03:1", None),  # not a partition's namespace
        ("User~x:1", None),
        ("User~3", None),
        ("User:3", None),
        ("Users~3:1", None),
        ("User~3~1:1", None),
    ],
)
def test_partition_index(key: str, index: int | None) -> None:
    assert partition_index("User", key) == index


def test_the_pattern_matches_every_partition_key() -> None:
    pattern = partitions_scan_pattern("a*b")
    assert pattern == "a\\*b~*"
    for keys in partition_keyspaces("a*b", "id", 16, cluster=False):
        for key in (keys.entity(5), keys.counter, keys.index("n"), keys.expiry):
            # fnmatch has no backslash escapes: compare unescaped.
            assert fnmatch.fnmatchcase(key, pattern.replace("\\*", "[*]"))
            assert partition_index("a*b", key) == keys.id_offset
