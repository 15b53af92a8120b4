"""Entities built from replies as read (``RowLoader.from_reply``) against the
decoded row's path (``decode_row`` then ``RowLoader.entity``): the same
state, the same defaults, the same errors, and the same session keys."""

from __future__ import annotations

from typing import Any

import pytest

import rom
from rom._replies import decode_row
from rom.exceptions import InvalidColumnValue
from rom.exceptions import InvalidStoredEncoding
from rom.session import session


class ReplyItem(rom.Model):
    name = rom.Text(index=True, keygen=rom.FULL_TEXT)
    count = rom.Integer(default=4)
    ratio = rom.Float()
    flag = rom.Boolean()
    doc = rom.Json()


KEY = "ReplyItem:7"
FULL = {
    b"id": b"7",
    b"name": b"caf\xc3\xa9 au lait",
    b"count": b"12",
    b"ratio": b"0.25",
    b"flag": b"1",
    b"doc": b'{"a": [1, 2]}',
}


@pytest.fixture(autouse=True)
def _fresh_session() -> Any:
    session.rollback()
    yield
    session.rollback()


def _both(raw: dict[bytes, bytes]) -> tuple[Any, Any]:
    loader = ReplyItem._rom_loader
    return loader.from_reply(raw, KEY), loader.entity(decode_row(raw, KEY))


@pytest.mark.parametrize(
    "raw",
    [
        FULL,
        {**FULL, b"-index-data-": b'[["name:cafe"],{},{},{},{}]'},  # its record
        {k: v for k, v in FULL.items() if k != b"count"},  # a default
        {**FULL, b"gone": b"a removed column"},  # an unknown field
        {**FULL, b"doc": b' {"a": 1}\n'},  # JSON with spaces around it
    ],
)
def test_the_same_state_as_the_decoded_row(raw: dict[bytes, bytes]) -> None:
    fast, slow = _both(raw)
    assert type(fast) is ReplyItem
    assert fast._rom_state.data == slow._rom_state.data
    assert fast._rom_state.last == slow._rom_state.last
    assert (fast.name, fast.count, fast.doc) == (slow.name, slow.count, slow.doc)
    assert not fast._rom_state.new and not fast._rom_state.modified


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({**FULL, b"name": b"\xff"}, InvalidStoredEncoding),  # a value
        ({**FULL, b"-index-data-": b"\xfe"}, InvalidStoredEncoding),  # the record
        ({**FULL, b"count": b"twelve"}, InvalidColumnValue),  # unconvertible
        ({k: v for k, v in FULL.items() if k != b"id"}, InvalidColumnValue),
    ],
)
def test_the_same_error_as_the_decoded_row(
    raw: dict[bytes, bytes], error: type[Exception]
) -> None:
    loader = ReplyItem._rom_loader
    with pytest.raises(error) as fast:
        loader.from_reply(raw, KEY)
    with pytest.raises(error) as slow:
        loader.entity(decode_row(raw, KEY))
    assert str(fast.value) == str(slow.value)
    assert "ReplyItem" in str(fast.value)


def test_a_client_decoding_replies_gives_the_same_entity() -> None:
    text = {k.decode(): v.decode() for k, v in FULL.items()}
    fast = ReplyItem._rom_loader.from_reply(text, KEY)
    assert fast._rom_state.data == ReplyItem._rom_loader.entity(text)._rom_state.data


def test_adopted_replies_are_keyed_by_their_row() -> None:
    """A row is registered under its key; one whose id field is not its
    key's id is adopted as before, under the key of its own id."""
    other = {**FULL, b"id": b"8"}
    built = session.adopt_replies(
        ReplyItem, ["ReplyItem:7", "ReplyItem:9"], [b"7", b"9"], [FULL, other]
    )
    assert [e.id for e in built] == [7, 8]
    assert session.get("ReplyItem:7") is built[0]
    assert session.get("ReplyItem:8") is built[1]
    assert session.get("ReplyItem:9") is None
    # Read again: the session's entity, not a new one.
    again = session.adopt_replies(ReplyItem, ["ReplyItem:7"], [b"7"], [FULL])
    assert again[0] is built[0]


def test_script_rows_take_the_same_path() -> None:
    """``_adopt_rows`` (a query's rows, ``[id, field, value, ...]``)
    builds what ``_adopt_all`` of the decoded rows builds, and falls back
    to it for rows it cannot take as read (an id as "007")."""
    flat = [b"7", *[x for pair in FULL.items() for x in pair]]
    (built,) = ReplyItem._adopt_rows([flat])
    assert built._rom_state.data == _both(FULL)[1]._rom_state.data
    assert session.get(KEY) is built
    session.rollback()
    padded = [b"007", *[x for pair in {**FULL, b"id": b"007"}.items() for x in pair]]
    (loaded,) = ReplyItem._adopt_rows([padded])
    assert loaded.id == 7
    assert session.get(KEY) is loaded
