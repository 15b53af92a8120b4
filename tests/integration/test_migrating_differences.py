"""Deliberate differences from rom 1.1.2: its bugs that rom fixes.

Each test asserts our behaviour where rom 1.1.2 had a bug (each is listed in
docs/migrating.rst); the data written stays readable by rom 1.1.2.
"""

import datetime
import decimal
import gc
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import ColumnError
from rom.exceptions import DataRaceError
from rom.exceptions import EntityDeletedError
from rom.exceptions import InvalidColumnValue
from rom.testing import CallCounter
from rom.testing import data_keys


class FixSafer(rom.Model):
    when = rom.SaferDateTime()
    num = rom.Integer()


class FixSaferRequired(rom.Model):
    when = rom.SaferDateTime(required=True)


class FixTimes(rom.Model):
    dt = rom.DateTime()
    d = rom.Date()
    t = rom.Time()


class FixNumbers(rom.Model):
    i = rom.Integer()
    ii = rom.Integer(index=True)
    f = rom.Float()
    fi = rom.Float(index=True)
    dec = rom.Decimal()


class FixBinary(rom.Model):
    blob = rom.String()
    name = rom.Text()


class FixTarget(rom.Model):
    num = rom.Integer()


class FixPointer(rom.Model):
    to = rom.ManyToOne("FixTarget", "no action")
    note = rom.Text()


def bad_score(value: Any) -> dict[str, Any]:
    """A keygen whose score Redis could not store."""
    return {"": "not-a-number"} if value == "bad" else {"": 1}


class FixGuarded(rom.Model):
    code = rom.Text(unique=True)
    num = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=bad_score)


class FixLazy(rom.Model):
    num = rom.Integer()
    code = rom.Text(unique=True)


@pytest.fixture
def lua_writes_restored() -> Iterator[None]:
    """Put the default (Lua) write path back after the test."""
    try:
        yield
    finally:
        rom._enable_lua_writes()


def reload(entity: Any) -> Any:
    """The entity read back from Redis as a fresh object."""
    rom.session.rollback()
    return type(entity).get(entity.id)


def snapshot(conn: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key of the database with its serialised value."""
    return {key: conn.dump(key) for key in data_keys(conn, "*")}


class TestSaferDateTimeOptional:
    def test_missing_is_accepted(self, rom_redis: redis.Redis) -> None:
        """A non-required SaferDateTime may be left out."""
        entity = FixSafer(num=1)
        entity.save()
        assert reload(entity).when is None

    def test_none_is_accepted(self, rom_redis: redis.Redis) -> None:
        """None is accepted for a non-required SaferDateTime."""
        assert FixSafer(when=None).when is None

    def test_datetime_is_still_required_type(self, rom_redis: redis.Redis) -> None:
        """Values other than datetimes are still refused."""
        with pytest.raises(InvalidColumnValue):
            FixSafer(when=1577934245.0)
        entity = FixSafer(when=datetime.datetime(2020, 1, 2))
        with pytest.raises(InvalidColumnValue):
            entity.when = "1577934245"

    def test_required_still_enforced(self, rom_redis: redis.Redis) -> None:
        """A required SaferDateTime must still be given."""
        with pytest.raises(rom.MissingColumn):
            FixSaferRequired()


class TestTimesFromNumbers:
    def test_datetime_from_number(self, rom_redis: redis.Redis) -> None:
        """DateTime(number) at construction is a timestamp."""
        entity = FixTimes(dt=1577934245.6789)
        assert entity.dt == datetime.datetime(2020, 1, 2, 3, 4, 5, 678900)
        entity.save()
        assert rom_redis.hget(entity._pk, "dt") == b"1577934245.6789"

    def test_date_from_number(self, rom_redis: redis.Redis) -> None:
        """Date(number) at construction is a timestamp."""
        assert FixTimes(d=1577923200).d == datetime.date(2020, 1, 2)

    def test_time_from_number(self, rom_redis: redis.Redis) -> None:
        """Time(number) at construction is seconds since midnight."""
        assert FixTimes(t=47655.5).t == datetime.time(13, 14, 15, 500000)


class TestIntegerStrictness:
    @pytest.mark.parametrize("value", [True, False])
    @pytest.mark.parametrize("attr", ["i", "ii"])
    def test_bool_is_refused(
        self, rom_redis: redis.Redis, attr: str, value: bool
    ) -> None:
        """A bool given to an Integer raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue):
            FixNumbers(**{attr: value})
        entity = FixNumbers()
        with pytest.raises(InvalidColumnValue):
            setattr(entity, attr, value)

    @pytest.mark.parametrize("value", [5.7, -0.5, float("inf"), float("nan")])
    def test_non_integral_float_is_refused(
        self, rom_redis: redis.Redis, value: float
    ) -> None:
        """A float with a fraction is refused, not truncated."""
        with pytest.raises(InvalidColumnValue):
            FixNumbers(i=value)

    def test_integral_float_is_accepted(self, rom_redis: redis.Redis) -> None:
        """An integral float becomes an int."""
        entity = FixNumbers(i=5.0, ii=decimal.Decimal("7"))
        assert (entity.i, entity.ii) == (5, 7)
        assert type(entity.i) is int
        entity.save()
        assert rom_redis.hget(entity._pk, "i") == b"5"


class TestTimeRoundTrip:
    def test_times_round_trip_exactly(self, rom_redis: redis.Redis) -> None:
        """Every Time value reads back unchanged."""
        times = [
            datetime.time(h, m, s, us)
            for h, m, s, us in [
                (0, 0, 0, 1),
                (23, 59, 59, 999999),
                (12, 0, 0, 500001),
                (13, 14, 15, 999998),
            ]
        ]
        times += [
            datetime.time(h % 24, (h * 7) % 60, (h * 13) % 60, us)
            for h, us in enumerate(range(1, 1000000, 7919))
        ]
        entities = [FixTimes(t=t) for t in times]
        rom.session.save(entities)
        rom.session.rollback()
        loaded = FixTimes.get([e.id for e in entities])
        assert [e.t for e in loaded] == times

    def test_aware_time_is_refused(self, rom_redis: redis.Redis) -> None:
        """An aware time raises InvalidColumnValue, not TypeError."""
        with pytest.raises(InvalidColumnValue):
            FixTimes(t=datetime.time(1, 2, tzinfo=datetime.timezone.utc))


class TestFloatFromInt:
    def test_int_is_stored_as_float_repr(self, rom_redis: redis.Redis) -> None:
        """An int in a Float column is stored as '3.0'."""
        entity = FixNumbers(f=3, fi=4)
        entity.save()
        assert rom_redis.hget(entity._pk, "f") == b"3.0"
        assert rom_redis.hget(entity._pk, "fi") == b"4.0"
        assert type(entity.f) is float

    def test_full_save_after_save_is_no_race(self, rom_redis: redis.Redis) -> None:
        """``save()`` then ``save(full=True)`` raises no DataRaceError."""
        entity = FixNumbers(f=3, i=1)
        entity.save()
        entity.save(full=True)
        loaded = reload(entity)
        loaded.f = 4
        loaded.save()
        loaded.save(full=True)
        assert rom_redis.hget(entity._pk, "f") == b"4.0"


class TestStringChangeTracking:
    def test_unchanged_string_saves_nothing(self, rom_redis: redis.Redis) -> None:
        """An unchanged loaded entity with a String saves 0."""
        entity = FixBinary(blob=b"\x00\xffdata", name="n")
        entity.save()
        assert entity.save() == 0
        loaded = reload(entity)
        assert loaded.save() == 0

    def test_changed_string_counts_once(self, rom_redis: redis.Redis) -> None:
        """A changed String column counts as one change."""
        entity = FixBinary(blob=b"a", name="n")
        entity.save()
        loaded = reload(entity)
        loaded.blob = b"b"
        assert loaded.save() == 1


class TestAttributeAccess:
    def test_deleted_attribute_reads_none(self, rom_redis: redis.Redis) -> None:
        """Reading a deleted attribute returns None."""
        entity = FixPointer(note="x")
        del entity.note
        assert entity.note is None

    def test_class_access_returns_the_column(self) -> None:
        """Model.col is the column object, not an error."""
        assert FixPointer.note is FixPointer._columns["note"]
        assert isinstance(FixNumbers.i, rom.Integer)

    def test_get_related_model_through_the_class(self) -> None:
        """Model.col.get_related_model() works as documented."""
        assert FixPointer.to.get_related_model() is FixTarget


class TestLazyIds:
    def test_construction_burns_no_id(self, rom_redis: redis.Redis) -> None:
        """A constructed but unsaved entity takes no id."""
        FixLazy(num=1)
        rom.session.rollback()
        assert rom_redis.get("FixLazy:id:") is None
        entity = FixLazy(num=2)
        entity.save()
        assert entity.id == 1

    def test_failed_save_burns_no_id(self, rom_redis: redis.Redis) -> None:
        """A save refused by a unique check takes no id."""
        FixLazy(code="taken").save()
        with pytest.raises(rom.UniqueKeyViolation):
            FixLazy(code="taken").save()
        assert rom_redis.get("FixLazy:id:") == b"1"

    def test_reading_the_id_allocates_it(self, rom_redis: redis.Redis) -> None:
        """The id is taken when first read, and kept."""
        entity = FixLazy(num=1)
        id = entity.id
        assert rom_redis.get("FixLazy:id:") == str(id).encode()
        entity.save()
        assert entity.id == id
        assert rom_redis.hget(f"FixLazy:{id}", "id") == str(id).encode()

    def test_zero_primary_key_is_refused(self, rom_redis: redis.Redis) -> None:
        """Model(id=0) is refused like any other pk value."""
        with pytest.raises(InvalidColumnValue, match="Cannot pass primary key"):
            FixLazy(id=0)
        with pytest.raises(InvalidColumnValue, match="Cannot pass primary key"):
            FixLazy(id="0")

    def test_unsaved_entity_is_not_returned_by_get(
        self, rom_redis: redis.Redis
    ) -> None:
        """``get()`` returns only saved entities."""
        entity = FixLazy(num=1)
        assert FixLazy.get(entity.id) is None
        assert FixLazy.get([entity.id]) == []

    def test_commit_saves_the_unsaved_entity(self, rom_redis: redis.Redis) -> None:
        """``commit()`` still writes new entities, with fresh ids."""
        first, second = FixLazy(num=1), FixLazy(num=2)
        rom.session.commit()
        assert {first.id, second.id} == {1, 2}
        assert FixLazy.get(first.id) is first


class TestRefreshVanishedRow:
    def test_refresh_raises_entity_deleted(self, rom_redis: redis.Redis) -> None:
        """``refresh()`` of a vanished row raises EntityDeletedError."""
        entity = FixLazy(num=1, code="c")
        entity.save()
        rom_redis.delete(entity._pk)
        with pytest.raises(EntityDeletedError) as info:
            entity.refresh()
        assert info.value.args[1:] == ("FixLazy", str(entity.id))

    def test_object_stays_usable(self, rom_redis: redis.Redis) -> None:
        """After the error the object keeps working."""
        entity = FixLazy(num=1, code="c")
        entity.save()
        rom_redis.delete(entity._pk)
        with pytest.raises(EntityDeletedError):
            entity.refresh()
        assert (entity.num, entity.code) == (1, "c")
        entity.num = 2
        assert entity.to_dict()["num"] == 2
        entity.save(force=True)
        assert rom_redis.hget(entity._pk, "num") == b"2"


class TestCommitKeepsIdentity:
    def test_get_after_commit_returns_same_object(self, rom_redis: redis.Redis) -> None:
        """After commit, get() returns the object still held.

        This is intended: the identity map keeps clean entities weakly, so
        while the program holds an entity, loading its row gives that same
        object (one object per row per thread, never two diverging copies);
        once the program drops it, the map lets it go and nothing leaks.
        """
        entity = FixLazy(num=1)
        rom.session.commit()
        assert FixLazy.get(entity.id) is entity
        entity.num = 2
        rom.session.commit()
        assert FixLazy.get(entity.id) is entity

    def test_dropped_entity_is_released(self, rom_redis: redis.Redis) -> None:
        """A clean entity nobody holds leaves the session."""
        entity = FixLazy(num=1)
        rom.session.commit()
        key, id = entity._pk, entity.id
        del entity
        gc.collect()
        assert rom.session.get(key) is None
        assert FixLazy.get(id).num == 1


class TestBadValuesWriteNothing:
    def test_bad_index_score_writes_nothing_for_new(
        self, rom_redis: redis.Redis
    ) -> None:
        """A value whose index would fail is refused up front."""
        entity = FixGuarded(code="c", num=1, tag="bad")
        with pytest.raises(ColumnError):
            entity.save()
        assert data_keys(rom_redis) == []

    def test_bad_index_score_writes_nothing_on_update(
        self, rom_redis: redis.Redis
    ) -> None:
        """A failing update leaves row, uniques and indexes."""
        entity = FixGuarded(code="c", num=1, tag="ok")
        entity.save()
        before = snapshot(rom_redis)
        entity.code, entity.num, entity.tag = "d", 2, "bad"
        with pytest.raises(ColumnError):
            entity.save()
        assert snapshot(rom_redis) == before
        assert entity._modified is True

    def test_nan_in_indexed_float_is_refused(self, rom_redis: redis.Redis) -> None:
        """NaN cannot reach a numeric index."""
        with pytest.raises(InvalidColumnValue):
            FixNumbers(fi=float("nan"))


class TestMinorConversions:
    def test_decimal_from_float_uses_repr(self, rom_redis: redis.Redis) -> None:
        """Decimal(0.1 float) is Decimal('0.1')."""
        entity = FixNumbers(dec=0.1)
        assert entity.dec == decimal.Decimal("0.1")
        entity.save()
        assert rom_redis.hget(entity._pk, "dec") == b"0.1"

    def test_date_from_datetime_truncates(self, rom_redis: redis.Redis) -> None:
        """A datetime given to a Date column keeps only the date."""
        entity = FixTimes(d=datetime.datetime(2020, 1, 2, 15, 30))
        assert entity.d == datetime.date(2020, 1, 2)
        assert type(entity.d) is datetime.date
        entity.save()
        assert rom_redis.hget(entity._pk, "d") == b"1577923200.0"


class TestNumericGetBy:
    def test_numeric_keyword_works(self, rom_redis: redis.Redis) -> None:
        """``get_by(..., _numeric=True)`` no longer raises."""
        entity = FixGuarded(num=5)
        entity.save()
        assert FixGuarded.get_by(num=5, _numeric=True) == [entity]


class TestLuaSwitch:
    def test_switches_exist(self) -> None:
        """``rom._enable_lua_writes`` and ``_disable_lua_writes`` exist."""
        assert callable(rom._enable_lua_writes)
        assert callable(rom._disable_lua_writes)

    def test_disable_uses_watch_multi_exec(
        self, roundtrips: CallCounter, lua_writes_restored: None
    ) -> None:
        """With Lua disabled, saves go through MULTI/EXEC."""
        rom._disable_lua_writes()
        with roundtrips.count() as calls:
            FixLazy(num=1, code="c").save()
        assert "EVALSHA" not in calls.names
        assert {"WATCH", "MULTI", "EXEC"} <= set(calls.names)
        rom._enable_lua_writes()
        with roundtrips.count() as calls:
            FixLazy(num=2, code="d").save()
        assert "EVALSHA" in calls.names
        assert "MULTI" not in calls.names

    def test_both_paths_leave_the_same_data(
        self, rom_redis: redis.Redis, lua_writes_restored: None
    ) -> None:
        """The WATCH path writes exactly what the script writes."""
        states = []
        for switch in (rom._enable_lua_writes, rom._disable_lua_writes):
            rom_redis.flushdb()
            rom.session.rollback()
            switch()
            entity = FixGuarded(code="c", num=1, tag="ok")
            entity.save()
            entity.code, entity.num = "d", 2
            entity.save()
            other = FixGuarded(code="e", num=3)
            other.save()
            other.delete()
            states.append(
                {
                    key: (rom_redis.type(key), sorted(_contents(rom_redis, key)))
                    for key in data_keys(rom_redis, "*")
                }
            )
        assert states[0] == states[1]

    def test_checks_hold_without_lua(
        self, rom_redis: redis.Redis, lua_writes_restored: None
    ) -> None:
        """Unique and race checks also work without Lua."""
        rom._disable_lua_writes()
        FixLazy(code="taken").save()
        with pytest.raises(rom.UniqueKeyViolation):
            FixLazy(code="taken").save()
        entity = reload(FixLazy.get_by(code="taken"))
        rom_redis.hset(entity._pk, "code", "theirs")
        entity.code = "mine"
        with pytest.raises(DataRaceError):
            entity.save()


def _contents(conn: redis.Redis, key: bytes) -> list[Any]:
    """A comparable view of any key's value."""
    kind = conn.type(key)
    if kind == b"hash":
        return sorted(conn.hgetall(key).items())
    if kind == b"zset":
        return conn.zrange(key, 0, -1, withscores=True)
    if kind == b"set":
        return sorted(conn.smembers(key))
    return [conn.get(key)]
