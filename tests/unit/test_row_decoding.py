"""Decoding rows read from Redis: known field names and every other field."""

from __future__ import annotations

import sys

import pytest

import rom
from rom._replies import decode_row
from rom._replies import reply_row
from rom.exceptions import InvalidStoredEncoding


class DecodedItem(rom.Model):
    title = rom.Text()
    count = rom.Integer()


def test_known_names_are_the_columns_own_strings() -> None:
    """A model's field names decode to the interned column names; other
    fields are decoded as read."""
    row = decode_row({b"title": b"t\xc3\xa9", b"count": b"3", b"other": b"x"})
    assert row == {"title": "t\u00e9", "count": "3", "other": "x"}
    assert next(iter(row)) is sys.intern("title")
    assert list(row) == ["title", "count", "other"]


@pytest.mark.parametrize(
    "raw",
    [
        {b"title": b"ok", b"\xffbad": b"x"},  # an unknown field name
        {b"title": b"\xff"},  # a known field's value
        {b"-index-data-": b"\xfe"},  # rom's own field
    ],
)
def test_every_field_and_value_is_checked(raw: dict[bytes, bytes]) -> None:
    """Known names are skipped by decoding, never by the UTF-8 check."""
    with pytest.raises(InvalidStoredEncoding):
        decode_row(raw, "DecodedItem:1")
    flat: list[bytes] = [b"1"]
    for field, value in raw.items():
        flat += [field, value]
    with pytest.raises(InvalidStoredEncoding):
        reply_row(flat)


def test_text_replies_and_odd_items() -> None:
    """A client decoding replies gives str, used as they are; a script
    reply with an odd item drops it, as before."""
    assert decode_row({"title": "a", "count": "1"}) == {"title": "a", "count": "1"}
    assert reply_row([b"1", b"title", b"a", b"count", b"2", b"odd"]) == {
        "title": "a",
        "count": "2",
    }
    assert reply_row(["1", "title", "a"]) == {"title": "a"}
    assert reply_row([b"1"]) == {}
