"""Hash-tag placement of a model's keys (pure: no server)."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from rom._keys import KeySpace
from rom._keys import has_hash_tag


@pytest.mark.parametrize(
    ("key", "tagged"),
    [
        ("user", False),
        ("{user}", True),
        ("{shop}:order", True),
        ("a{b}c", True),
        ("{}user", False),  # empty tag: the whole key is hashed
        ("{user", False),
        ("user}", False),
        ("}{x}", True),  # the first { and the first } after it
        ("{}{x}", False),  # the first {...} is empty: no tag, as Redis rules
    ],
)
def test_has_hash_tag_follows_the_cluster_rule(key: str, tagged: bool) -> None:
    assert has_hash_tag(key) is tagged


def test_for_cluster_wraps_the_namespace_once() -> None:
    keys = KeySpace("User", "id").for_cluster()
    assert keys.namespace == "{User}"
    assert keys.entity(1) == "{User}:1"
    assert keys.unique("email") == "{User}:email:uidx"
    assert keys.counter == "{User}:id:"
    assert keys.write_record("a" * 32) == "{User}::write:" + "a" * 32
    assert keys.temp().startswith("{User}:")
    assert keys.for_cluster() is keys


def test_a_namespace_with_a_tag_is_kept() -> None:
    keys = KeySpace("{shop}:order")
    assert keys.for_cluster() is keys
    assert keys.hash_tagged


def test_every_key_of_a_tagged_space_has_one_slot() -> None:
    keys = KeySpace("User").for_cluster()
    names = [
        keys.entity(7),
        keys.index("age"),
        keys.token("name", "bob"),
        keys.prefix("name"),
        keys.suffix("name"),
        keys.geo("where"),
        keys.unique("a:b"),
        keys.unsafe(7, "blob"),
        keys.counter,
        keys.legacy_index,
        keys.write_record("0" * 32),
        keys.temp(),
    ]
    assert {key_slot(name.encode()) for name in names} == {key_slot(b"User")}


def test_plain_keys_are_unchanged() -> None:
    keys = KeySpace("User")
    assert keys.entity(1) == "User:1" and not keys.hash_tagged
