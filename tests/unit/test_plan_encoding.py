"""The write plan's JSON for write_entity.lua: flat pairs, affix scores (pure)."""

from __future__ import annotations

import json
import uuid

from rom._requests import _token
from rom._writer import IndexEntries
from rom._writer import WritePlan
from rom.columns import _json_wire


def _plan(id: str | None, *, reindex: bool = False) -> WritePlan:
    plan = WritePlan("Doc", "id", id, reindex=reindex)
    plan.race = [("id", "3"), ("title", None), ("body", "a b")]
    plan.entries = IndexEntries(
        tokens=["body:a", "body:b"],
        scored=[("id", None), ("n", "2.0")],
        prefix=[("body", "a", "1.5e-306"), ("body", "b", "2.5e-306")],
        suffix=[("body", "a", "1.5e-306")],
    )
    return plan


def test_pairs_are_flat_with_false_for_none() -> None:
    body = json.loads(_plan("3").to_json())
    assert body["race"] == ["id", "3", "title", False, "body", "a b"]
    assert body["scored"] == ["id", False, "n", "2.0"]


def test_a_plain_save_sends_its_affix_scores_as_strings() -> None:
    body = json.loads(_plan("3").to_json())
    assert body["prefix"] == "1.5e-306 2.5e-306"
    assert body["suffix"] == "1.5e-306"
    assert "tokens" not in body


def test_a_plan_that_writes_every_entry_sends_lists() -> None:
    for plan in (_plan(None, reindex=True), _plan("3", reindex=True)):
        body = json.loads(plan.to_json())
        assert body["prefix"] == ["1.5e-306", "2.5e-306"]
        assert body["suffix"] == ["1.5e-306"]


def test_the_record_is_unchanged_by_the_encoding() -> None:
    record = json.loads(_plan("3").to_args()[1])
    assert record == [
        ["body:a", "body:b"],
        ["id", "n"],
        [["body", "a"], ["body", "b"]],
        [["body", "a"]],
        {},
    ]


def test_json_columns_encode_as_json_dumps_sorted() -> None:
    for value in ({"b": 1, "a": [1, 2.5, "é", None]}, [{"z": True}], (1, 2)):
        assert _json_wire(value) == json.dumps(value, sort_keys=True)


def test_the_write_record_token_is_a_uuid4_hex() -> None:
    tokens = {_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        parsed = uuid.UUID(hex=token)
        assert parsed.hex == token
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
