"""Column values at the edges: each gives a clear rom error or round-trips.

Before, these raised bare ValueError, OverflowError, RecursionError or
UnicodeDecodeError from deep inside rom (or saved a value that could not
be loaded back). Now a value that cannot be stored raises InvalidColumnValue
naming model, column and value, and nothing is written.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest
import redis

import rom
from rom._redis_rules import shown
from rom.exceptions import InvalidColumnEncoding
from rom.exceptions import InvalidColumnValue
from rom.exceptions import InvalidStoredEncoding

from .dump import dump


class EdgeValues(rom.Model):
    i = rom.Integer()
    ii = rom.Integer(index=True)
    f = rom.Float()
    dec = rom.Decimal()
    dt = rom.DateTime()
    dti = rom.DateTime(index=True)
    d = rom.Date()
    t = rom.Time()
    s = rom.String()
    txt = rom.Text()
    j = rom.Json()


def _deep(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth):
        nested: list[Any] = []
        inner.append(nested)
        inner = nested
    return outer


HUGE = 10**5000

REFUSED = [
    ("i", HUGE),
    ("i", -HUGE),
    ("i", "9" * 5000),
    ("i", decimal.Decimal("sNaN")),
    ("i", decimal.Decimal("Infinity")),
    ("ii", HUGE),
    ("f", HUGE),
    ("f", decimal.Decimal("sNaN")),
    ("dec", decimal.Decimal("sNaN")),
    ("dec", "sNaN"),
    ("dt", HUGE),
    ("dt", decimal.Decimal("sNaN")),
    ("dt", 1e300),
    ("d", decimal.Decimal("sNaN")),
    ("t", decimal.Decimal("sNaN")),
    ("t", HUGE),
    ("j", [HUGE]),
    ("j", {"k": HUGE}),
    ("j", _deep(100_000)),
    ("j", {1: "a"}),
    ("j", {"ok": [{None: 2}]}),
    ("j", {True: 1}),
    ("j", {1: "a", None: 2}),
]


@pytest.mark.parametrize(("attr", "value"), REFUSED, ids=lambda v: shown(v, 30))
def test_refused_at_construction(rom_redis: redis.Redis, attr: str, value: Any) -> None:
    """Construction raises InvalidColumnValue naming model, column and value."""
    before = dump(rom_redis)
    with pytest.raises(InvalidColumnValue) as raised:
        EdgeValues(**{attr: value})
    assert raised.value.model == "EdgeValues"
    assert raised.value.column == attr
    assert raised.value.value is value
    assert f"EdgeValues.{attr}" in str(raised.value)
    assert dump(rom_redis) == before


@pytest.mark.parametrize(("attr", "value"), REFUSED, ids=lambda v: shown(v, 30))
def test_refused_on_assignment(rom_redis: redis.Redis, attr: str, value: Any) -> None:
    """Assignment raises the same error and leaves the saved entity as it was."""
    entity = EdgeValues(txt="x")
    entity.save()
    before = dump(rom_redis)
    with pytest.raises(InvalidColumnValue):
        setattr(entity, attr, value)
    assert entity.save() == 0
    assert dump(rom_redis) == before


def test_json_string_keys_and_big_ints_still_work(rom_redis: redis.Redis) -> None:
    """Plain JSON, including an int of 4000 digits, round-trips exactly."""
    value = {"a": [1, {"b": None}], "big": 10**3999, "deep": _deep(200)}
    entity = EdgeValues(j=value, i=10**3999)
    entity.save()
    rom.session.rollback()
    loaded = EdgeValues.get(entity.id)
    assert loaded.j == value
    assert loaded.i == 10**3999


def test_quiet_decimal_nan_is_stored(rom_redis: redis.Redis) -> None:
    """Decimal('NaN') in an unindexed column is kept (only sNaN is refused)."""
    entity = EdgeValues(dec=decimal.Decimal("NaN"))
    entity.save()
    rom.session.rollback()
    assert EdgeValues.get(entity.id).dec.is_qnan()


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime.max,
        datetime.datetime.max - datetime.timedelta(microseconds=7),
        datetime.datetime(9999, 12, 31, 23, 59, 59, 999_990),
    ],
)
def test_last_microseconds_of_9999_load_back(
    rom_redis: redis.Redis, value: Any
) -> None:
    """A datetime whose float rounds past year 9999 loads as datetime.max."""
    entity = EdgeValues(dt=value, dti=value)
    entity.save()
    assert rom_redis.hget(entity._pk, "dt") == b"253402300800.0"
    rom.session.rollback()
    loaded = EdgeValues.get(entity.id)
    assert loaded.dt == datetime.datetime.max
    assert loaded.dti == datetime.datetime.max
    assert EdgeValues.get_by(dti=(value, datetime.datetime.max)) == [loaded]


def test_past_the_end_timestamp_still_refused(rom_redis: redis.Redis) -> None:
    """A stored timestamp a full second past year 9999 is a clear load error."""
    entity = EdgeValues(txt="x")
    entity.save()
    rom_redis.hset(entity._pk, "dt", "253402300801.0")
    rom.session.rollback()
    with pytest.raises(InvalidColumnValue, match=r"EdgeValues\.dt: stored value"):
        EdgeValues.get(entity.id)


def test_non_latin1_text_in_string_column(rom_redis: redis.Redis) -> None:
    """Both 'except UnicodeEncodeError' and 'except InvalidColumnValue' catch it."""
    caught = []
    for handler in (UnicodeEncodeError, InvalidColumnValue):
        try:
            EdgeValues(s="price: \u20ac5")
        except handler as exc:
            caught.append(exc)
    assert len(caught) == 2
    for exc in caught:
        assert isinstance(exc, InvalidColumnEncoding)
        assert exc.column == "s" and exc.model == "EdgeValues"
        assert exc.value == "price: \u20ac5"
        assert "EdgeValues.s" in str(exc) and "latin-1" in str(exc)
        assert isinstance(exc, UnicodeEncodeError)
        assert (exc.encoding, exc.start, exc.end) == ("latin-1", 7, 8)
    entity = EdgeValues()
    with pytest.raises(UnicodeEncodeError):
        entity.s = "\u20ac"
    entity.s = "caf\xe9"  # latin-1 is fine
    assert entity.s == b"caf\xe9"


@pytest.mark.parametrize("field", ["txt", "s", "unknown"])
def test_non_utf8_field_is_a_clear_error(rom_redis: redis.Redis, field: str) -> None:
    """A row field another client wrote as non-UTF-8 names field and key."""
    entity = EdgeValues(txt="fine")
    entity.save()
    key = entity._pk
    rom_redis.hset(key, field, b"\xff\xfebad")
    rom.session.rollback()
    loads = [
        lambda: EdgeValues.get(entity.id),
        lambda: EdgeValues.get([entity.id, entity.id + 1]),
    ]
    for load in loads:
        with pytest.raises(InvalidStoredEncoding) as raised:
            load()
        exc = raised.value
        assert isinstance(exc, InvalidColumnValue)
        assert isinstance(exc, UnicodeDecodeError)  # what rom 1.1.2 raised
        assert exc.column == field
        assert exc.value == b"\xff\xfebad"
        assert f"field {field!r} of {key}" in str(exc)
        assert "not UTF-8" in str(exc)
    rom_redis.hset(key, field, "ok")
    assert EdgeValues.get(entity.id) is not None


def test_non_utf8_field_on_refresh(rom_redis: redis.Redis) -> None:
    """refresh() raises the same error."""
    entity = EdgeValues(txt="fine")
    entity.save()
    rom_redis.hset(entity._pk, "txt", b"\xc3")
    with pytest.raises(InvalidStoredEncoding, match="field 'txt' of EdgeValues:1"):
        entity.refresh()


def test_deep_json_written_by_another_client(rom_redis: redis.Redis) -> None:
    """A stored Json value nested beyond the decoder's depth is a clear error."""
    entity = EdgeValues(txt="x")
    entity.save()
    rom_redis.hset(entity._pk, "j", "[" * 100_000 + "]" * 100_000)
    rom.session.rollback()
    with pytest.raises(InvalidColumnValue, match=r"EdgeValues\.j: stored value"):
        EdgeValues.get(entity.id)
