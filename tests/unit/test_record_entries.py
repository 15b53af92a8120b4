"""Regression tests for review fixes that need no Redis server."""

from __future__ import annotations

import pytest

from rom._keys import KeySpace
from rom._record import RecordEntry
from rom._record import record_entries

KEYS = KeySpace("Ns")


class TestRecordEntries:
    def test_every_slot(self) -> None:
        """Tokens, scores, prefix and suffix pairs, and geo names in slots 4 and 5."""
        raw = '[["t:a"],["n"],[["p","ab"]],[["s","ba"],"g1"],["g2"]]'
        assert record_entries(KEYS, "7", raw) == [
            RecordEntry("set", "Ns:t:a:idx", "7"),
            RecordEntry("zset", "Ns:n:idx", "7"),
            RecordEntry("zset", "Ns:p:pre", "ab\x007"),
            RecordEntry("zset", "Ns:s:suf", "ba\x007"),
            RecordEntry("zset", "Ns:g1:geo", "7"),
            RecordEntry("zset", "Ns:g2:geo", "7"),
        ]

    def test_legacy_two_slot_record_and_empty_slots_as_objects(self) -> None:
        """The 2013 format had two slots; cjson writes empty slots as ``{}``."""
        assert record_entries(KEYS, "1", '[{},["n"]]') == [
            RecordEntry("zset", "Ns:n:idx", "1")
        ]

    @pytest.mark.parametrize(
        "raw", [None, "", b"", "5", "null", '"text"', "{}", "[", b"\xff", "[5, 6]"]
    )
    def test_a_record_that_is_not_a_list_of_slots_names_nothing(
        self, raw: str | bytes | None
    ) -> None:
        """Damaged records (here: not JSON, not a list) name no entries; the
        maintenance job used to stop with a TypeError on ``5``."""
        assert record_entries(KEYS, "1", raw) == []

    def test_items_of_the_wrong_shape_are_skipped(self) -> None:
        """Numbers, short pairs and nested lists are skipped, as the Lua writer
        skips them (it used to fail half-way through a write)."""
        raw = '[[5,"t:a",["x"]],"x",["x",["p"],["p","a","b"],["p",1]],[["s"],7],[{}]]'
        assert record_entries(KEYS, "1", raw) == [RecordEntry("set", "Ns:t:a:idx", "1")]
