"""DateTime and timezones: naive UTC by default, aware UTC with aware=True.

By default (as rom 1.1.2 stores them) values are naive UTC datetimes: an
aware datetime is converted to UTC, then made naive. ``DateTime(aware=True)``
gives aware UTC datetimes back, both after assignment and after loading,
so they compare equal to the aware values assigned. The stored bytes are
the same either way.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import redis

import rom

UTC = datetime.timezone.utc
PARIS_SUMMER = datetime.timezone(datetime.timedelta(hours=2))
AWARE = datetime.datetime(2021, 6, 1, 14, 30, 15, 250_000, tzinfo=PARIS_SUMMER)
NAIVE_UTC = datetime.datetime(2021, 6, 1, 12, 30, 15, 250_000)
WIRE = b"1622550615.25"


class TzEvent(rom.Model):
    naive = rom.DateTime(index=True)
    aware = rom.DateTime(index=True, aware=True)
    safer = rom.SaferDateTime(aware=True)
    day = rom.Date()


def _reloaded(entity: Any) -> Any:
    rom.session.rollback()
    return TzEvent.get(entity.id)


def test_default_is_naive_utc(rom_redis: redis.Redis) -> None:
    """An aware datetime becomes naive UTC in memory and after a reload."""
    entity = TzEvent(naive=AWARE)
    assert entity.naive == NAIVE_UTC and entity.naive.tzinfo is None
    entity.save()
    assert rom_redis.hget(entity._pk, "naive") == WIRE
    loaded = _reloaded(entity)
    assert loaded.naive == NAIVE_UTC and loaded.naive.tzinfo is None


@pytest.mark.parametrize("given", [AWARE, NAIVE_UTC, 1622550615.25, "1622550615.25"])
def test_aware_column_gives_aware_utc(rom_redis: redis.Redis, given: Any) -> None:
    """aware=True: values are aware UTC, equal to what was assigned."""
    entity = TzEvent(aware=given)
    assert entity.aware.tzinfo is UTC
    assert entity.aware == NAIVE_UTC.replace(tzinfo=UTC)
    if isinstance(given, datetime.datetime) and given.tzinfo is not None:
        assert entity.aware == given  # the comparison the tour relies on
    entity.save()
    assert rom_redis.hget(entity._pk, "aware") == WIRE  # same wire format
    loaded = _reloaded(entity)
    assert loaded.aware.tzinfo is UTC
    assert loaded.aware == AWARE
    assert TzEvent.get_by(aware=(AWARE, AWARE)) == [loaded]
    assert TzEvent.get_by(aware=(NAIVE_UTC, NAIVE_UTC)) == [loaded]


def test_saving_aware_entity_twice_writes_nothing_new(rom_redis: redis.Redis) -> None:
    """A reloaded aware value is unchanged, so a save writes nothing."""
    entity = TzEvent(aware=AWARE, safer=AWARE)
    entity.save()
    loaded = _reloaded(entity)
    assert loaded.safer == AWARE and loaded.safer.tzinfo is UTC
    assert loaded.save() == 0


def test_aware_and_naive_columns_share_data(rom_redis: redis.Redis) -> None:
    """A row written through one kind of column reads through the other."""
    entity = TzEvent(naive=NAIVE_UTC)
    entity.save()
    raw = rom_redis.hget(entity._pk, "naive")
    rom_redis.hset(entity._pk, "aware", raw)
    loaded = _reloaded(entity)
    assert loaded.aware == AWARE
    assert loaded.naive == NAIVE_UTC


def test_aware_date_takes_utc_date(rom_redis: redis.Redis) -> None:
    """A Date given an aware datetime keeps its UTC date."""
    late = datetime.datetime(2021, 6, 1, 1, 0, tzinfo=PARIS_SUMMER)
    assert TzEvent(day=late).day == datetime.date(2021, 5, 31)


def test_aware_extremes(rom_redis: redis.Redis) -> None:
    """The last instant of year 9999 loads back aware; beyond it is refused."""
    entity = TzEvent(aware=datetime.datetime.max.replace(tzinfo=UTC))
    entity.save()
    assert _reloaded(entity).aware == datetime.datetime.max.replace(tzinfo=UTC)
    too_late = datetime.datetime.max.replace(
        tzinfo=datetime.timezone(-datetime.timedelta(hours=1))
    )
    with pytest.raises(rom.InvalidColumnValue, match="outside years"):
        TzEvent(aware=too_late)
