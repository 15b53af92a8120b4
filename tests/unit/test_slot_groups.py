"""Slot groups (hash tags), KeySpace key templates, and script grouping (pure)."""

from __future__ import annotations

import json

import pytest

from rom._keys import INDEX_SUFFIXES
from rom._keys import TEMPLATE_KINDS
from rom._keys import UNTAGGED
from rom._keys import KeySpace
from rom._keys import hash_tag
from rom._keys import slot_group
from rom._slots import dependency_order
from rom._slots import script_groups
from rom._writer import WritePlan
from rom._writer import key_table
from rom._writer import write_args


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("{a}user:1", "a"),
        ("user:{a}:1", "a"),
        ("a{b}c{d}", "b"),  # the first tag wins
        ("user:1", None),
        ("a{}b{c}", None),  # an empty first tag: the whole key is hashed
        ("a{b", None),
        ("a}b{", None),
        ("{{a}}", "{a"),  # up to the first } after the first {
    ],
)
def test_hash_tag_follows_the_redis_cluster_rule(key: str, tag: str | None) -> None:
    assert hash_tag(key) == tag


def test_slot_group_is_the_namespace_tag_or_one_constant() -> None:
    assert slot_group(KeySpace("{a}user")) == "a"
    assert slot_group("{a}post") == slot_group(KeySpace("{a}user"))
    assert slot_group("{b}post") == "b"
    assert slot_group("user") == slot_group("post") == UNTAGGED
    assert KeySpace("{a}user").slot_group == "a"


@pytest.mark.parametrize("namespace", ["Item", "{t}Item", "a:b"])
def test_key_methods_are_built_from_the_templates(namespace: str) -> None:
    keys = KeySpace(namespace, "pk")
    built = {
        "row": keys.entity(17),
        "idx": keys.index("age"),
        "pre": keys.prefix("age"),
        "suf": keys.suffix("age"),
        "geo": keys.geo("age"),
        "uidx": keys.unique("age"),
    }
    assert set(built) == set(TEMPLATE_KINDS)
    for kind, key in built.items():
        before, after = keys.template(kind)
        assert key == before + ("17" if kind == "row" else "age") + after
    # rom 1.1.2's layout, unchanged.
    assert built["row"] == f"{namespace}:17"
    assert built["idx"] == f"{namespace}:age:idx"
    assert keys.token("tag", "x") == f"{namespace}:tag:x:idx"
    assert {k for k in INDEX_SUFFIXES} == set(TEMPLATE_KINDS) - {"row"}
    with pytest.raises(ValueError, match="no key template of kind 'nope'"):
        keys.template("nope")


def test_script_keys_hold_templates_and_full_names() -> None:
    keys = KeySpace("{t}Item", "pk")
    table = keys.script_keys()
    assert table["row"] == ["{t}Item:", ""]
    assert table["uidx"] == ["{t}Item:", ":uidx"]
    assert table["counter"] == "{t}Item:pk:"
    assert table["legacy"] == "{t}Item::"


def test_every_key_of_a_tagged_namespace_is_in_its_slot() -> None:
    """The tag of a namespace is the tag of every key rom makes for it."""
    keys = KeySpace("{t}Item", "pk")
    temp = keys.temp()
    made = [
        keys.entity(1),
        keys.counter,
        keys.legacy_index,
        keys.anchor,
        keys.index("n"),
        keys.token("tag", "{x}"),  # a value with braces: the first tag wins
        keys.prefix("n"),
        keys.suffix("n"),
        keys.geo("g"),
        keys.unique("a:b"),
        keys.unsafe(1, "blob"),
        keys.members(1, "tags"),
        keys.write_record("ab" * 16),
        temp,
        keys.scratch_prefix(temp) + "1",
    ]
    assert {hash_tag(key) for key in made} == {"t"}


def test_key_table_is_sent_once_per_namespace() -> None:
    plans = [
        WritePlan("{a}user", "id", "1"),
        WritePlan("{a}user", "id", "2"),
        WritePlan("{b}post", "id", None),
    ]
    table = json.loads(key_table(plans))
    assert list(table) == ["{a}user", "{b}post"]
    assert table["{b}post"]["counter"] == "{b}post:id:"
    args = write_args(plans)
    assert len(args) == 1 + 2 * len(plans)
    assert json.loads(args[0]) == table
    # Plans carry no key names but a delete's UnsafeColumn keys.
    assert "{a}user:" not in args[1]


def test_a_delete_plan_names_its_unsafe_keys() -> None:
    plan = WritePlan("{a}user", "id", "3", delete=True, unsafe=["blob"])
    assert json.loads(plan.to_json())["unsafe"] == ["{a}user:3:blob"]


# -- grouping writes into script calls ------------------------------------------


def test_one_group_is_one_call_in_the_given_order() -> None:
    """Dependencies do not reorder a single call: it is atomic."""
    assert script_groups(["x"] * 4, [[], [3], [], []]) == [[0, 1, 2, 3]]
    assert script_groups([], []) == []


def test_groups_without_dependencies_keep_first_appearance_order() -> None:
    keys = ["a", "b", "a", "c", "b"]
    assert script_groups(keys, [[]] * 5) == [[0, 2], [1, 4], [3]]


def test_a_referenced_entity_goes_first() -> None:
    # A post (b) referencing a new user (a) given after it.
    assert script_groups(["b", "a"], [[1], []]) == [[1], [0]]


def test_interleaved_referrers_take_one_call_per_group() -> None:
    # user1, post1 -> user1, user2, post2 -> user2: two calls, users first.
    keys = ["a", "b", "a", "b"]
    deps: list[list[int]] = [[], [0], [], [2]]
    assert script_groups(keys, deps) == [[0, 2], [1, 3]]


def test_a_chain_across_groups_takes_a_call_per_step() -> None:
    # c references b references a, and a second a references c: the last
    # one cannot share the first call.
    keys = ["a", "b", "c", "a"]
    deps: list[list[int]] = [[], [0], [1], [2]]
    assert script_groups(keys, deps) == [[0], [1], [2], [3]]


def test_a_deleted_entity_goes_after_its_referrers() -> None:
    # Deletes as on_delete plans them: the root first, then its cascade;
    # the root depends on its referrers (the cascaded rows).
    keys = ["a", "b", "b"]
    deps: list[list[int]] = [[1, 2], [], []]
    assert script_groups(keys, deps) == [[1, 2], [0]]


def test_a_dependency_in_the_same_group_shares_its_call() -> None:
    keys = ["a", "b", "a"]
    deps: list[list[int]] = [[], [], [0]]
    assert script_groups(keys, deps) == [[0, 2], [1]]


def test_a_cycle_is_broken_at_its_lowest_index() -> None:
    # Items free to go go first; then the cycle, from its lowest index.
    assert dependency_order([[1], [0], []]) == [2, 0, 1]
    groups = script_groups(["a", "b", "c"], [[1], [0], [1]])
    assert sorted(i for g in groups for i in g) == [0, 1, 2]
    assert groups[0] == [0]


def test_dependency_order_is_stable() -> None:
    assert dependency_order([[], [], [], []]) == [0, 1, 2, 3]
    assert dependency_order([[2], [], [], [0]]) == [1, 2, 0, 3]
