"""Scalar columns against a real Redis: conversions, wire strings and errors.

docs/columns.rst gives the exact wire string of every column type; these tests read
the stored bytes back with HGET, so a change in an encoding fails here. The
deliberate differences from rom 1.1.2 are in ``test_migrating_differences.py``.
"""

import datetime
import decimal
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import InvalidColumnValue
from rom.exceptions import InvalidOperation
from rom.exceptions import MissingColumn


class ColValues(rom.Model):
    i = rom.Integer()
    f = rom.Float()
    dec = rom.Decimal()
    b = rom.Boolean()
    dt = rom.DateTime()
    d = rom.Date()
    t = rom.Time()
    s = rom.String()
    txt = rom.Text()
    j = rom.Json()


class ColDefaults(rom.Model):
    plain = rom.Text(default="dflt")
    made = rom.Integer(default=lambda: 7)
    nothing = rom.Integer(default=None)
    needed = rom.Integer(required=True, default=3)


class ColRequired(rom.Model):
    need = rom.Text(required=True)
    maybe = rom.Text()


class ColIndexOnly(rom.Model):
    name = rom.Text()
    words = rom.IndexOnly("name", rom.FULL_TEXT)


def stored(conn: redis.Redis, entity: Any, attr: str) -> bytes | None:
    """The raw bytes of one field of the entity's row."""
    return conn.hget(entity._pk, attr)


def reload(entity: Any) -> Any:
    """The entity read back from Redis as a fresh object."""
    rom.session.rollback()
    return type(entity).get(entity.id)


def saved(**values: Any) -> ColValues:
    """A saved ColValues entity with the given values."""
    entity = ColValues(**values)
    entity.save()
    return entity


class TestInteger:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [(42, b"42"), (-7, b"-7"), (0, b"0"), (1 << 128, str(1 << 128).encode())],
    )
    def test_wire_is_str(self, rom_redis: redis.Redis, value: int, wire: bytes) -> None:
        """An Integer is stored as str(v), big ints in full."""
        entity = saved(i=value)
        assert stored(rom_redis, entity, "i") == wire
        assert reload(entity).i == value

    def test_numeric_string_is_converted(self, rom_redis: redis.Redis) -> None:
        """A numeric string given at construction becomes an int."""
        assert ColValues(i="12").i == 12
        assert ColValues(i=b" 12 ").i == 12

    def test_assignment_converts_strings(self, rom_redis: redis.Redis) -> None:
        """A numeric string assigned later becomes an int."""
        entity = ColValues()
        entity.i = "-3"
        assert entity.i == -3

    @pytest.mark.parametrize("value", ["12.5", "abc", [1], object()])
    def test_non_integers_are_refused(self, rom_redis: redis.Redis, value: Any) -> None:
        """Values that are not whole numbers raise InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.i"):
            ColValues(i=value)


class TestFloat:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [
            (3.25, b"3.25"),
            (2.0, b"2.0"),
            (-1.5, b"-1.5"),
            (1e-06, b"1e-06"),
            (float("inf"), b"inf"),
            (0.1, b"0.1"),
        ],
    )
    def test_wire_is_repr(
        self, rom_redis: redis.Redis, value: float, wire: bytes
    ) -> None:
        """A Float is stored as repr(v) and read back exactly."""
        entity = saved(f=value)
        assert stored(rom_redis, entity, "f") == wire
        assert reload(entity).f == value

    def test_numeric_string_is_converted(self, rom_redis: redis.Redis) -> None:
        """A numeric string becomes a float."""
        assert ColValues(f="2.5").f == 2.5

    def test_non_numbers_are_refused(self, rom_redis: redis.Redis) -> None:
        """A non-numeric value raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.f"):
            ColValues(f="two")

    def test_reads_ints_written_by_rom_1_1_2(self, rom_redis: redis.Redis) -> None:
        """A row holding '3' (rom 1.1.2's encoding of an int) loads as 3.0."""
        entity = saved(f=1.5)
        rom_redis.hset(entity._pk, "f", "3")
        loaded = reload(entity)
        assert loaded.f == 3.0
        assert isinstance(loaded.f, float)


class TestDecimal:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [
            (decimal.Decimal("12.50"), b"12.50"),
            (decimal.Decimal("1E+2"), b"1E+2"),
            (decimal.Decimal("-0.001"), b"-0.001"),
        ],
    )
    def test_wire_is_str(
        self, rom_redis: redis.Redis, value: decimal.Decimal, wire: bytes
    ) -> None:
        """A Decimal is stored as str(v); exponent and trailing zeros survive."""
        entity = saved(dec=value)
        assert stored(rom_redis, entity, "dec") == wire
        loaded = reload(entity).dec
        assert loaded == value
        assert str(loaded) == str(value)

    def test_int_is_converted(self, rom_redis: redis.Redis) -> None:
        """An int becomes Decimal(int)."""
        assert ColValues(dec=3).dec == decimal.Decimal("3")

    def test_string_is_converted(self, rom_redis: redis.Redis) -> None:
        """A decimal string becomes a Decimal."""
        assert ColValues(dec="1.25").dec == decimal.Decimal("1.25")

    def test_garbage_is_refused(self, rom_redis: redis.Redis) -> None:
        """A non-decimal string raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.dec"):
            ColValues(dec="ten")


class TestBoolean:
    def test_true_is_one(self, rom_redis: redis.Redis) -> None:
        """True is stored as '1'."""
        entity = saved(b=True)
        assert stored(rom_redis, entity, "b") == b"1"
        assert reload(entity).b is True

    def test_false_is_stored_empty(self, rom_redis: redis.Redis) -> None:
        """False is stored as an empty (but present) field."""
        entity = saved(b=False)
        assert stored(rom_redis, entity, "b") == b""
        assert reload(entity).b is False

    @pytest.mark.parametrize(
        ("value", "expected"), [(0, False), ("x", True), ([], False), (2, True)]
    )
    def test_any_value_becomes_bool(
        self, rom_redis: redis.Redis, value: Any, expected: bool
    ) -> None:
        """Any value is converted with bool()."""
        assert ColValues(b=value).b is expected


class TestDateTime:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [
            (datetime.datetime(2020, 1, 2, 3, 4, 5, 678900), b"1577934245.6789"),
            (datetime.datetime(1969, 12, 31, 23, 59, 59, 500000), b"-0.5"),
            (datetime.datetime(1970, 1, 1), b"0.0"),
        ],
    )
    def test_wire_is_repr_of_seconds(
        self, rom_redis: redis.Redis, value: datetime.datetime, wire: bytes
    ) -> None:
        """A naive datetime is stored as repr of float seconds since 1970 (UTC)."""
        entity = saved(dt=value)
        assert stored(rom_redis, entity, "dt") == wire
        assert reload(entity).dt == value

    def test_numeric_string_is_a_timestamp(self, rom_redis: redis.Redis) -> None:
        """A numeric string is taken as a Unix timestamp."""
        expected = datetime.datetime(2020, 1, 2, 3, 4, 5, 678900)
        assert ColValues(dt="1577934245.6789").dt == expected

    def test_assigned_number_is_a_timestamp(self, rom_redis: redis.Redis) -> None:
        """A number assigned after construction is taken as a timestamp."""
        entity = ColValues()
        entity.dt = 86400
        assert entity.dt == datetime.datetime(1970, 1, 2)

    def test_date_is_refused(self, rom_redis: redis.Redis) -> None:
        """A date (not a datetime) raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.dt"):
            ColValues(dt=datetime.date(2020, 1, 2))

    def test_aware_datetime_is_stored_as_utc(self, rom_redis: redis.Redis) -> None:
        """An aware datetime is converted to naive UTC before it is stored."""
        tz = datetime.timezone(datetime.timedelta(hours=2))
        entity = saved(dt=datetime.datetime(2020, 1, 2, 5, 4, 5, 678900, tzinfo=tz))
        assert stored(rom_redis, entity, "dt") == b"1577934245.6789"
        assert reload(entity).dt == datetime.datetime(2020, 1, 2, 3, 4, 5, 678900)

    def test_garbage_string_is_refused(self, rom_redis: redis.Redis) -> None:
        """A non-numeric string raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.dt"):
            ColValues(dt="yesterday")


class TestDate:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [
            (datetime.date(2020, 1, 2), b"1577923200.0"),
            (datetime.date(1960, 1, 1), b"-315619200.0"),
            (datetime.date(1970, 1, 1), b"0.0"),
        ],
    )
    def test_wire_is_repr_of_midnight_seconds(
        self, rom_redis: redis.Redis, value: datetime.date, wire: bytes
    ) -> None:
        """A date is stored as repr of its midnight's float seconds, with '.0'."""
        entity = saved(d=value)
        assert stored(rom_redis, entity, "d") == wire
        assert reload(entity).d == value

    def test_numeric_string_is_a_timestamp(self, rom_redis: redis.Redis) -> None:
        """A numeric string is taken as a Unix timestamp of that day."""
        assert ColValues(d="1577923200").d == datetime.date(2020, 1, 2)


class TestTime:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [
            (datetime.time(13, 14, 15, 500000), b"47655.5"),
            (datetime.time(0, 0, 0, 1), b"1e-06"),
            (datetime.time(0, 0), b"0.0"),
        ],
    )
    def test_wire_is_repr_of_seconds(
        self, rom_redis: redis.Redis, value: datetime.time, wire: bytes
    ) -> None:
        """A time is stored as repr of its float seconds since midnight."""
        entity = saved(t=value)
        assert stored(rom_redis, entity, "t") == wire
        assert reload(entity).t == value

    def test_numeric_string_is_seconds(self, rom_redis: redis.Redis) -> None:
        """A numeric string is taken as seconds since midnight."""
        assert ColValues(t="47655.5").t == datetime.time(13, 14, 15, 500000)

    def test_garbage_is_refused(self, rom_redis: redis.Redis) -> None:
        """A non-numeric string raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.t"):
            ColValues(t="noon")


class TestString:
    def test_bytes_are_stored_latin1_decoded(self, rom_redis: redis.Redis) -> None:
        """Bytes are latin-1-decoded, so each byte >= 0x80 is two UTF-8 bytes."""
        entity = saved(s=b"\x00\x01bin\xff")
        assert stored(rom_redis, entity, "s") == bytes.fromhex("000162696ec3bf")
        assert reload(entity).s == b"\x00\x01bin\xff"

    def test_latin1_text_is_encoded(self, rom_redis: redis.Redis) -> None:
        """A str of latin-1 characters is latin-1-encoded to bytes."""
        assert ColValues(s="caf\xe9").s == b"caf\xe9"

    def test_text_outside_latin1_is_refused(self, rom_redis: redis.Redis) -> None:
        """A str that is not latin-1 raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.s"):
            ColValues(s="\u20ac")

    def test_non_bytes_are_refused(self, rom_redis: redis.Redis) -> None:
        """A value that is neither bytes nor str raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.s"):
            ColValues(s=5)


class TestText:
    def test_text_is_stored_utf8(self, rom_redis: redis.Redis) -> None:
        """A str is stored as its UTF-8 bytes."""
        entity = saved(txt="\u20ac")
        assert stored(rom_redis, entity, "txt") == b"\xe2\x82\xac"
        assert reload(entity).txt == "\u20ac"

    def test_bytes_are_utf8_decoded(self, rom_redis: redis.Redis) -> None:
        """Bytes given to a Text column are UTF-8-decoded."""
        assert ColValues(txt="\u20ac".encode()).txt == "\u20ac"

    def test_empty_text_is_stored(self, rom_redis: redis.Redis) -> None:
        """An empty string is a value: stored as an empty field, read back ''."""
        entity = saved(txt="")
        assert stored(rom_redis, entity, "txt") == b""
        assert reload(entity).txt == ""

    def test_non_text_is_refused(self, rom_redis: redis.Redis) -> None:
        """A value that is neither str nor bytes raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.txt"):
            ColValues(txt=12)


class TestJson:
    def test_wire_is_sorted_json_with_default_separators(
        self, rom_redis: redis.Redis
    ) -> None:
        """Json is json.dumps(sort_keys=True) with ', ' and ': ' separators."""
        entity = saved(j={"b": [1, 2], "a": None})
        assert stored(rom_redis, entity, "j") == b'{"a": null, "b": [1, 2]}'
        assert reload(entity).j == {"a": None, "b": [1, 2]}

    def test_non_ascii_is_escaped(self, rom_redis: redis.Redis) -> None:
        """Non-ASCII text is written as \\uXXXX escapes."""
        entity = saved(j=["\u20ac"])
        assert stored(rom_redis, entity, "j") == b'["\\u20ac"]'

    def test_tuple_becomes_array(self, rom_redis: redis.Redis) -> None:
        """A tuple is stored as a JSON array and read back as a list."""
        entity = saved(j=(1, "x"))
        assert stored(rom_redis, entity, "j") == b'[1, "x"]'
        assert reload(entity).j == [1, "x"]

    def test_string_is_parsed(self, rom_redis: redis.Redis) -> None:
        """A JSON string given at construction is parsed."""
        assert ColValues(j='{"k": [1]}').j == {"k": [1]}

    @pytest.mark.parametrize("value", [5, "not json", "5", {"k": object()}])
    def test_non_json_is_refused(self, rom_redis: redis.Redis, value: Any) -> None:
        """Scalars, bad JSON text and unserialisable values are refused."""
        with pytest.raises(InvalidColumnValue, match=r"ColValues\.j"):
            ColValues(j=value)


class TestPrimaryKeyField:
    def test_primary_key_is_stored_in_the_row(self, rom_redis: redis.Redis) -> None:
        """The pk is always a field of the row, as its decimal string."""
        entity = saved(i=1)
        assert stored(rom_redis, entity, "id") == str(entity.id).encode()


class TestNoneAndMissing:
    def test_none_values_are_not_stored(self, rom_redis: redis.Redis) -> None:
        """Columns without a value have no field in the row."""
        entity = saved(i=1)
        fields = set(rom_redis.hkeys(entity._pk))
        assert fields == {b"i", b"id", b"-index-data-"}

    def test_assigning_none_removes_the_field(self, rom_redis: redis.Redis) -> None:
        """Setting a column to None deletes its field on the next save."""
        entity = saved(i=1, txt="x")
        entity.txt = None
        entity.save()
        assert stored(rom_redis, entity, "txt") is None
        assert reload(entity).txt is None

    def test_deleting_the_attribute_removes_the_field(
        self, rom_redis: redis.Redis
    ) -> None:
        """``del entity.col`` is the same as assigning None."""
        entity = saved(i=1, txt="x")
        del entity.txt
        del entity.txt
        assert entity.txt is None
        entity.save()
        assert stored(rom_redis, entity, "txt") is None

    def test_unset_columns_read_none(self, rom_redis: redis.Redis) -> None:
        """Every column without a value reads None."""
        entity = ColValues()
        assert all(getattr(entity, name) is None for name in ("i", "f", "j", "s"))

    def test_unknown_attribute_is_an_attribute_error(
        self, rom_redis: redis.Redis
    ) -> None:
        """A name that is not a column raises the usual AttributeError."""
        with pytest.raises(AttributeError):
            ColValues().nope  # noqa: B018


class TestDefaults:
    def test_defaults_apply_on_construction(self, rom_redis: redis.Redis) -> None:
        """A value default and a callable default fill missing values."""
        entity = ColDefaults()
        assert (entity.plain, entity.made, entity.nothing) == ("dflt", 7, None)

    def test_explicit_none_gets_the_default(self, rom_redis: redis.Redis) -> None:
        """Passing None is the same as leaving the value out."""
        assert ColDefaults(plain=None).plain == "dflt"

    def test_defaults_are_saved(self, rom_redis: redis.Redis) -> None:
        """Default values are written like any other value."""
        entity = ColDefaults()
        entity.save()
        assert stored(rom_redis, entity, "plain") == b"dflt"
        assert stored(rom_redis, entity, "made") == b"7"

    def test_defaults_apply_when_loading(self, rom_redis: redis.Redis) -> None:
        """A row without the field loads with the default; a save writes it."""
        entity = ColDefaults(plain="own")
        entity.save()
        rom_redis.hdel(entity._pk, "plain", "made")
        loaded = reload(entity)
        assert (loaded.plain, loaded.made) == ("dflt", 7)
        loaded.save()
        assert stored(rom_redis, entity, "plain") == b"dflt"

    def test_required_with_default_is_satisfied(self, rom_redis: redis.Redis) -> None:
        """A required column with a default is filled by the default."""
        assert ColDefaults().needed == 3


class TestRequired:
    def test_missing_on_construction(self, rom_redis: redis.Redis) -> None:
        """A new entity without a required value raises MissingColumn."""
        with pytest.raises(MissingColumn, match=r"ColRequired\.need cannot be missing"):
            ColRequired(maybe="x")

    def test_none_on_construction(self, rom_redis: redis.Redis) -> None:
        """Passing None for a required value raises MissingColumn."""
        with pytest.raises(MissingColumn):
            ColRequired(need=None)

    def test_cannot_be_nulled(self, rom_redis: redis.Redis) -> None:
        """Setting or deleting a required value raises InvalidOperation."""
        entity = ColRequired(need="x")
        with pytest.raises(InvalidOperation, match="cannot be null"):
            entity.need = None
        with pytest.raises(InvalidOperation, match="cannot be null"):
            del entity.need
        assert entity.need == "x"

    def test_not_enforced_when_loading(self, rom_redis: redis.Redis) -> None:
        """A stored row without a required field still loads."""
        entity = ColRequired(need="x")
        entity.save()
        rom_redis.hdel(entity._pk, "need")
        assert reload(entity).need is None


class TestIndexOnly:
    def test_reads_none_and_is_not_stored(self, rom_redis: redis.Redis) -> None:
        """An IndexOnly column reads None and never appears in the row."""
        entity = ColIndexOnly(name="hello world")
        entity.save()
        assert entity.words is None
        assert stored(rom_redis, entity, "words") is None

    def test_cannot_be_assigned(self, rom_redis: redis.Redis) -> None:
        """Assigning a value, at construction or later, raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue):
            ColIndexOnly(words="x")
        entity = ColIndexOnly()
        with pytest.raises(InvalidColumnValue):
            entity.words = "x"

    def test_none_is_accepted(self, rom_redis: redis.Redis) -> None:
        """Assigning None to an IndexOnly column is harmless."""
        entity = ColIndexOnly(words=None)
        entity.words = None
        assert entity.words is None

    def test_in_to_dict_as_none(self, rom_redis: redis.Redis) -> None:
        """to_dict() has the IndexOnly key with the value None."""
        assert ColIndexOnly(name="x").to_dict()["words"] is None


class TestRoundTripAllTypes:
    def test_every_type_survives_save_and_load(self, rom_redis: redis.Redis) -> None:
        """Values of every scalar type read back equal after a save."""
        values = {
            "i": -12,
            "f": 2.5,
            "dec": decimal.Decimal("3.140"),
            "b": True,
            "dt": datetime.datetime(2001, 2, 3, 4, 5, 6, 7),
            "d": datetime.date(1999, 12, 31),
            "t": datetime.time(23, 59, 59, 999999),
            "s": b"\x80raw",
            "txt": "na\xefve \u20ac",
            "j": {"list": [1, 2.5, None], "s": "x"},
        }
        entity = saved(**values)
        loaded = reload(entity)
        assert loaded is not entity
        assert {k: getattr(loaded, k) for k in values} == values
