"""Every valid value of every scalar column survives Redis; invalid ones are refused.

Property tests (hypothesis): a value is saved, the session is rolled back so
the entity really comes back from Redis, and the loaded value must equal the
one saved, for plain, indexed and unique columns. Invalid values raise
InvalidColumnValue on construction and on assignment and write nothing.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import rom
from rom import InvalidColumnValue
from rom.keygen import FULL_TEXT
from rom.keygen import IDENTITY_CI
from rom.keygen import SIMPLE
from rom.keygen import SIMPLE_CI
from rom.keygen import prefix_score
from rom.keygen import reverse_token
from rom.testing import data_keys

SETTINGS = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
    max_examples=40,
)

# -- strategies ---------------------------------------------------------------

HUGE = 10**400

integers = st.integers() | st.integers(min_value=-HUGE, max_value=HUGE)
# Floats and ints a float can hold (a Float column takes both).
reals = st.floats(allow_nan=False) | st.integers(-(2**1000), 2**1000)
decimals = st.decimals(allow_nan=False)
datetimes = st.datetimes(
    min_value=datetime.datetime(1902, 1, 1),
    max_value=datetime.datetime(2037, 12, 31, 23, 59, 59, 999999),
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=12,
)
json_documents = st.lists(json_values, max_size=4) | st.dictionaries(
    st.text(), json_values, max_size=4
)

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "integer": integers,
    "real": reals,
    "number": decimals,
    "flag": st.booleans(),
    "moment": datetimes,
    "day": st.dates(),
    "clock": st.times(),
    "blob": st.binary(),
    "words": st.text(),
    "doc": json_documents,
}

# -- models -------------------------------------------------------------------


class ValuePlain(rom.Model):
    integer = rom.Integer()
    real = rom.Float()
    number = rom.Decimal()
    flag = rom.Boolean()
    moment = rom.DateTime()
    day = rom.Date()
    clock = rom.Time()
    blob = rom.String()
    words = rom.Text()
    doc = rom.Json()


class ValueIndexed(rom.Model):
    integer = rom.Integer(index=True)
    real = rom.Float(index=True)
    number = rom.Decimal(index=True)
    flag = rom.Boolean(index=True)
    moment = rom.DateTime(index=True)
    day = rom.Date(index=True)
    clock = rom.Time(index=True)
    blob = rom.String(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)


class ValueUnique(rom.Model):
    integer = rom.Integer(unique=True)
    flag = rom.Boolean(unique=True)
    blob = rom.String(unique=True)
    words = rom.Text(unique=True)


class ValueUniqueIndexed(rom.Model):
    integer = rom.Integer(unique=True, index=True)
    words = rom.Text(unique=True, index=True, keygen=rom.IDENTITY)


class ValueText(rom.Model):
    full = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    simple = rom.Text(index=True, keygen=rom.SIMPLE, prefix=True, suffix=True)
    simple_ci = rom.Text(index=True, keygen=rom.SIMPLE_CI, prefix=True, suffix=True)
    identity = rom.Text(index=True, keygen=rom.IDENTITY, prefix=True, suffix=True)
    identity_ci = rom.Text(index=True, keygen=rom.IDENTITY_CI, prefix=True, suffix=True)


class ValueKeyed(rom.Model):
    key = rom.PrimaryKey(index=True)
    label = rom.Text()


MODELS = {
    "plain": ValuePlain,
    "indexed": ValueIndexed,
    "unique": ValueUnique,
    "unique-indexed": ValueUniqueIndexed,
}
CASES = [
    pytest.param(model, attr, id=f"{flavour}-{attr}")
    for flavour, model in MODELS.items()
    for attr in VALUES
    if attr in model._columns
]

# -- helpers ------------------------------------------------------------------


def fresh(conn: redis.Redis) -> None:
    """Empty the database and the session between examples."""
    conn.flushdb()
    rom.session.rollback()


def expected(attr: str, value: Any) -> Any:
    """What loading ``value`` back should give."""
    return float(value) if attr == "real" else value


def same(attr: str, loaded: Any, value: Any) -> bool:
    """True if ``loaded`` is ``value`` as it should come back from Redis."""
    want = expected(attr, value)
    if type(loaded) is not type(want):
        return False
    if attr == "number":
        return str(loaded) == str(want)
    if attr == "real" and want == 0:
        return math.copysign(1, loaded) == math.copysign(1, want)
    return bool(loaded == want)


def save_and_reload(model: type[rom.Model], **values: Any) -> tuple[int, Any]:
    """Save a new entity, forget the session, and load the entity back."""
    entity = model(**values)
    entity.save()
    id = entity.id
    rom.session.rollback()
    loaded = model.get(id)
    assert loaded is not entity
    return id, loaded


def is_numeric(model: type[rom.Model], attr: str) -> bool:
    return model._columns[attr]._keygen_name == "_numeric_keygen"


# -- valid values -------------------------------------------------------------


@pytest.mark.parametrize(("model", "attr"), CASES)
@SETTINGS
@given(data=st.data())
def test_valid_value_round_trips(
    rom_redis: redis.Redis, model: type[rom.Model], attr: str, data: st.DataObject
) -> None:
    """Any valid value saved and loaded back from Redis equals the value, and
    its index or unique entry finds the entity."""
    fresh(rom_redis)
    value = data.draw(VALUES[attr], label=attr)
    id, loaded = save_and_reload(model, **{attr: value})
    assert same(attr, getattr(loaded, attr), value)
    column = model._columns[attr]
    rom.session.rollback()
    if column.unique:
        assert model.get_by(**{attr: value}).id == id
    elif is_numeric(model, attr):
        assert [e.id for e in model.get_by(**{attr: value})] == [id]
    if column.indexed and attr == "flag":
        assert rom_redis.sismember(f"{model._namespace}:flag:{value}:idx", id)
    ns = model._namespace
    if column._keygen_name == "FULL_TEXT":
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        for token in FULL_TEXT(text) or ():
            assert rom_redis.sismember(f"{ns}:{attr}:{token}:idx", id)
            assert rom_redis.zscore(f"{ns}:{attr}:pre", f"{token}\0{id}") is not None
            rev = reverse_token(token)
            assert rom_redis.zscore(f"{ns}:{attr}:suf", f"{rev}\0{id}") is not None
    if column._keygen_name == "IDENTITY" and value:
        assert rom_redis.sismember(f"{ns}:{attr}:{value}:idx", id)


@SETTINGS
@given(values=st.fixed_dictionaries({}, optional=VALUES))
def test_valid_values_round_trip_together(
    rom_redis: redis.Redis, values: dict[str, Any]
) -> None:
    """Any set of valid values (absent ones read None) survives Redis."""
    fresh(rom_redis)
    _, loaded = save_and_reload(ValuePlain, **values)
    for attr in VALUES:
        if attr in values:
            assert same(attr, getattr(loaded, attr), values[attr])
        else:
            assert getattr(loaded, attr) is None


@SETTINGS
@given(old=st.fixed_dictionaries(VALUES), new=st.fixed_dictionaries(VALUES))
def test_updated_values_round_trip(
    rom_redis: redis.Redis, old: dict[str, Any], new: dict[str, Any]
) -> None:
    """Assigning any valid values to a loaded entity and saving them stores
    exactly the new values."""
    fresh(rom_redis)
    id, loaded = save_and_reload(ValuePlain, **old)
    loaded.update(**new)
    loaded.save()
    rom.session.rollback()
    again = ValuePlain.get(id)
    for attr, value in new.items():
        assert same(attr, getattr(again, attr), value)


@SETTINGS
@given(value=st.text())
def test_indexed_text_round_trips_with_every_keygen(
    rom_redis: redis.Redis, value: str
) -> None:
    """Any text survives Redis in FULL_TEXT, SIMPLE, SIMPLE_CI, IDENTITY and
    IDENTITY_CI columns with prefix and suffix indexes, and is indexed."""
    fresh(rom_redis)
    attrs = ("full", "simple", "simple_ci", "identity", "identity_ci")
    id, loaded = save_and_reload(ValueText, **dict.fromkeys(attrs, value))
    assert [getattr(loaded, attr) for attr in attrs] == [value] * len(attrs)
    ns = ValueText._namespace
    for token in FULL_TEXT(value) or ():
        assert rom_redis.sismember(f"{ns}:full:{token}:idx", id)
    for attr, keygen in (("simple", SIMPLE), ("simple_ci", SIMPLE_CI)):
        scores = keygen(value)
        score = rom_redis.zscore(f"{ns}:{attr}:idx", id)
        assert score == (float(scores[""]) if scores else None)
    if value:
        assert rom_redis.sismember(f"{ns}:identity:{value}:idx", id)
        (lowered,) = IDENTITY_CI(value)
        assert rom_redis.sismember(f"{ns}:identity_ci:{lowered}:idx", id)
        member = f"{value}\0{id}"
        assert rom_redis.zscore(f"{ns}:identity:pre", member) == float(
            prefix_score(value)
        )


@SETTINGS
@given(count=st.integers(1, 12), labels=st.lists(st.text(), min_size=12))
def test_primary_keys_round_trip(
    rom_redis: redis.Redis, count: int, labels: list[str]
) -> None:
    """Saved entities come back by their ids (ints or numeric strings), with
    their own id in a custom, indexed primary key."""
    fresh(rom_redis)
    entities = [ValueKeyed(label=label) for label in labels[:count]]
    rom.session.commit()
    ids = [entity.key for entity in entities]
    assert ids == list(range(1, count + 1))
    rom.session.rollback()
    loaded = ValueKeyed.get([str(id) for id in reversed(ids)])
    assert [entity.key for entity in loaded] == ids[::-1]
    assert [entity.label for entity in loaded] == labels[:count][::-1]
    pairs = rom_redis.zrange(f"{ValueKeyed._namespace}:key:idx", 0, -1, withscores=True)
    assert [(int(m), s) for m, s in pairs] == [(id, float(id)) for id in ids]


# -- invalid values -----------------------------------------------------------

UTC = datetime.timezone.utc

INVALID: list[tuple[str, Any]] = [
    ("integer", "x"),
    ("integer", "1.5"),
    ("integer", 1.5),
    ("integer", True),
    ("integer", float("inf")),
    ("integer", float("nan")),
    ("integer", [1]),
    ("real", "abc"),
    ("real", True),
    ("real", [1.0]),
    ("real", 10**400),
    ("real", "0\x1f"),
    ("integer", "0\x1c"),
    ("number", "abc"),
    ("number", True),
    ("number", [1]),
    ("moment", datetime.date(2020, 1, 2)),
    ("moment", "abc"),
    ("moment", [2020]),
    ("moment", 1e300),
    ("day", "abc"),
    ("day", datetime.time(1, 2)),
    ("day", [2020]),
    ("clock", "abc"),
    ("clock", 90000),
    ("clock", -1),
    ("clock", datetime.time(1, 2, tzinfo=UTC)),
    ("clock", [1]),
    ("blob", 5),
    ("blob", 1.5),
    ("blob", "Ω is not latin-1"),
    ("blob", [1]),
    ("words", 5),
    ("words", 1.5),
    ("words", b"\xff\xfe not utf-8"),
    ("words", "\ud800 lone surrogate"),
    ("words", ["a"]),
    ("doc", 5),
    ("doc", {1, 2}),
    ("doc", "not json"),
    ("doc", "5"),
    ("doc", {"a": {1}}),
    ("doc", object()),
]

# Families of invalid values, drawn by hypothesis.
INVALID_FAMILIES: dict[str, st.SearchStrategy[Any]] = {
    "integer": st.floats().filter(lambda f: not f.is_integer())
    | st.text().filter(lambda s: not _parses(int, s))
    | st.booleans(),
    "real": st.text().filter(lambda s: not _parses(float, s)) | st.booleans(),
    "moment": st.dates() | st.text().filter(lambda s: not _parses(float, s)),
    "blob": st.integers() | st.text().filter(lambda s: any(ord(c) > 255 for c in s)),
    "words": st.integers()
    | st.floats()
    | st.binary().filter(lambda b: not _parses(bytes.decode, b)),
    "doc": st.integers()
    | st.floats()
    | st.sets(st.integers())
    | st.frozensets(st.text()),
}


def _parses(parse: Any, value: Any) -> bool:
    try:
        parse(value)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def check_refused(conn: redis.Redis, attr: str, value: Any) -> None:
    """Construction and assignment with ``value`` raise InvalidColumnValue and
    nothing is written to Redis."""
    fresh(conn)
    entity = ValuePlain(integer=1, words="kept")
    entity.save()
    row = conn.hgetall(f"{ValuePlain._namespace}:{entity.id}")
    size = len(data_keys(conn))
    with pytest.raises(InvalidColumnValue):
        ValuePlain(**{attr: value})
    before = getattr(entity, attr)
    with pytest.raises(InvalidColumnValue):
        setattr(entity, attr, value)
    assert getattr(entity, attr) == before
    rom.session.commit()
    assert len(data_keys(conn)) == size
    assert conn.hgetall(f"{ValuePlain._namespace}:{entity.id}") == row


@pytest.mark.parametrize(("attr", "value"), INVALID, ids=repr)
def test_invalid_value_is_refused(
    rom_redis: redis.Redis, attr: str, value: Any
) -> None:
    """A value of the wrong type raises InvalidColumnValue, when constructing
    and when assigning, and writes nothing."""
    check_refused(rom_redis, attr, value)


@pytest.mark.parametrize("attr", sorted(INVALID_FAMILIES))
@SETTINGS
@given(data=st.data())
def test_invalid_values_are_refused(
    rom_redis: redis.Redis, attr: str, data: st.DataObject
) -> None:
    """Any value from a family of wrong values raises InvalidColumnValue, when
    constructing and when assigning, and writes nothing."""
    check_refused(rom_redis, attr, data.draw(INVALID_FAMILIES[attr], label=attr))
