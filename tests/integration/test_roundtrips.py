"""Round-trip budgets of the hot paths (docs/design.rst), counted on the wire."""

from __future__ import annotations

import datetime
import decimal

import pytest
import redis

import rom
from rom.testing import CallCounter
from rom.testing import data_keys


class RoundtripItem(rom.Model):
    email = rom.Text(unique=True)
    code = rom.String(unique=True)
    name = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    title = rom.Text(index=True, keygen=rom.SIMPLE_CI)
    age = rom.Integer(index=True)
    score = rom.Float(index=True)
    price = rom.Decimal(index=True)
    active = rom.Boolean(index=True)
    born = rom.Date(index=True)
    created = rom.DateTime(index=True)
    tags = rom.Json()
    team = rom.Text()
    number = rom.Integer()
    unique_together = ("team", "number")


class RoundtripNote(rom.Model):
    body = rom.Text(index=True, keygen=rom.IDENTITY)


class RoundtripWarmup(rom.Model):
    key = rom.Text(unique=True)


def values(i: int) -> dict[str, object]:
    """Column values for item ``i``: every column set, every unique distinct."""
    return {
        "email": f"user{i}@example.com",
        "code": b"c\xff%d" % i,
        "name": f"Item number {i}",
        "title": f"Title {i}",
        "age": 20 + i,
        "score": i / 4,
        "price": decimal.Decimal(f"{i}.25"),
        "active": i % 2 == 0,
        "born": datetime.date(2000, 1, 1 + i % 28),
        "created": datetime.datetime(2024, 1, 2, 3, 4, 5, i),
        "tags": {"i": i, "list": [1, "two", None]},
        "team": "red",
        "number": i,
    }


@pytest.fixture
def warm(rom_redis: redis.Redis, roundtrips: CallCounter) -> CallCounter:
    """Make sure the server has rom's scripts loaded, then start on an empty db.

    The first script call after a server start costs NOSCRIPT + SCRIPT LOAD;
    budgets are about the steady state.
    """
    entity = RoundtripWarmup(key="warm")
    entity.save()
    assert RoundtripWarmup.get_by(key="warm") is entity
    entity.delete()
    rom_redis.flushdb()
    rom.session.rollback()
    roundtrips.reset()
    return roundtrips


def saved_ids(count: int) -> list[int]:
    """Save ``count`` items, forget them, and return their ids."""
    items = [RoundtripItem(**values(i)) for i in range(count)]
    rom.session.commit()
    ids = [item.id for item in items]
    rom.session.rollback()
    return ids


# -- saving -------------------------------------------------------------------


def test_new_entity_is_one_roundtrip_in_total(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """Constructing and saving a new entity with every kind of index is one
    EVALSHA: no INCR for its id beforehand."""
    with warm.count() as c:
        item = RoundtripItem(**values(1))
        item.save()
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert item.id == 1
    assert rom_redis.hget("RoundtripItem:1", "email") == b"user1@example.com"


def test_construction_alone_costs_nothing(warm: CallCounter) -> None:
    """Constructing a new entity talks to no server."""
    with warm.count() as c:
        RoundtripItem(**values(1))
    assert c.roundtrips == 0


def test_reading_a_new_id_is_one_incr_and_saving_one_more(warm: CallCounter) -> None:
    """Reading a new entity's id is one INCRBY, then its save is one EVALSHA."""
    item = RoundtripItem(**values(1))
    with warm.count() as c:
        assert item.id == 1
        assert item.id == 1
    assert (c.roundtrips, c.names) == (1, ["INCRBY"])
    with warm.count() as c:
        item.save()
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert RoundtripItem.get(1) is item


def test_save_of_every_changed_column_is_one_roundtrip(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """Saving a loaded entity whose every column (unique ones included)
    changed is one EVALSHA."""
    (id,) = saved_ids(1)
    item = RoundtripItem.get(id)
    item.update(**values(7))
    with warm.count() as c:
        assert item.save() > 0
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert rom_redis.hget("RoundtripItem:email:uidx", "user7@example.com") == b"1"
    assert rom_redis.hget("RoundtripItem:email:uidx", "user0@example.com") is None


@pytest.mark.parametrize("column", ["email", "code", "name", "age", "number", "tags"])
def test_save_of_one_changed_column_is_one_roundtrip(
    warm: CallCounter, column: str
) -> None:
    """Saving a loaded entity with one changed column is one EVALSHA."""
    (id,) = saved_ids(1)
    item = RoundtripItem.get(id)
    setattr(item, column, values(9)[column])
    with warm.count() as c:
        item.save()
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])


def test_save_without_changes_is_one_roundtrip(warm: CallCounter) -> None:
    """Saving an unchanged entity is still a single EVALSHA."""
    (id,) = saved_ids(1)
    item = RoundtripItem.get(id)
    with warm.count() as c:
        item.save()
    assert c.roundtrips == 1


def test_commit_of_fifty_new_entities_is_one_roundtrip(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """session.commit() of 50 new entities of two models is one EVALSHA."""
    items = [RoundtripItem(**values(i)) for i in range(25)]
    notes = [RoundtripNote(body=f"note {i}") for i in range(25)]
    with warm.count() as c:
        rom.session.commit()
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert sorted(item.id for item in items) == list(range(1, 26))
    assert sorted(note.id for note in notes) == list(range(1, 26))
    assert rom_redis.hlen("RoundtripItem:email:uidx") == 25


def test_commit_of_fifty_modified_entities_is_one_roundtrip(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """session.commit() of 50 loaded and changed entities is one EVALSHA."""
    ids = saved_ids(50)
    items = RoundtripItem.get(ids)
    for item in items:
        item.age += 100
        item.email = f"new-{item.email}"
    with warm.count() as c:
        rom.session.commit()
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert rom_redis.zcount("RoundtripItem:age:idx", 120, 169) == 50


def test_flush_of_new_and_modified_entities_is_one_roundtrip(
    warm: CallCounter,
) -> None:
    """session.flush() of 25 changed and 25 new entities is one EVALSHA."""
    ids = saved_ids(25)
    for item in RoundtripItem.get(ids):
        item.name = "renamed"
    new = [RoundtripItem(**values(100 + i)) for i in range(25)]
    with warm.count() as c:
        rom.session.flush()
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert all(not item._modified for item in new)


# -- loading ------------------------------------------------------------------


def test_get_of_one_id_is_one_hgetall(warm: CallCounter) -> None:
    """Model.get(id) is one HGETALL: a single command needs no MULTI/EXEC."""
    (id,) = saved_ids(1)
    with warm.count() as c:
        item = RoundtripItem.get(id)
    assert (c.roundtrips, c.names) == (1, ["HGETALL"])
    assert item.email == "user0@example.com"


def test_get_of_a_list_of_ids_is_one_transaction(warm: CallCounter) -> None:
    """Model.get([ids]) is one round trip, however many ids."""
    ids = saved_ids(10)
    with warm.count() as c:
        items = RoundtripItem.get([*ids, 999])
    assert (c.roundtrips, c.names) == (1, ["MULTI", *["HGETALL"] * 11, "EXEC"])
    assert [item.id for item in items] == ids


def test_get_of_a_missing_id_is_one_roundtrip(warm: CallCounter) -> None:
    """Model.get of an id with no row is one round trip and gives None."""
    with warm.count() as c:
        assert RoundtripItem.get(12345) is None
    assert c.roundtrips == 1


def test_get_of_cached_entities_is_free(warm: CallCounter) -> None:
    """Model.get of entities already in the session costs no round trip."""
    ids = saved_ids(3)
    items = RoundtripItem.get(ids)
    with warm.count() as c:
        assert RoundtripItem.get(ids[0]) is items[0]
        assert RoundtripItem.get(ids) == items
    assert c.roundtrips == 0


def test_get_of_a_just_saved_entity_is_free(warm: CallCounter) -> None:
    """Model.get of an entity this thread just saved costs no round trip."""
    item = RoundtripItem(**values(1))
    item.save()
    with warm.count() as c:
        assert RoundtripItem.get(item.id) is item
    assert c.roundtrips == 0


def test_get_of_some_cached_ids_reads_only_the_rest(warm: CallCounter) -> None:
    """Model.get([ids]) reads only the ids not cached, in one round trip."""
    ids = saved_ids(4)
    first = RoundtripItem.get(ids[0])
    with warm.count() as c:
        items = RoundtripItem.get(ids)
    assert (c.roundtrips, c.names) == (1, ["MULTI", *["HGETALL"] * 3, "EXEC"])
    assert items[0] is first


@pytest.mark.parametrize(
    ("column", "value"),
    [("email", "user2@example.com"), ("code", b"c\xff2")],
)
def test_get_by_unique_value_is_one_roundtrip(
    warm: CallCounter, column: str, value: object
) -> None:
    """get_by(unique=value) is one EVALSHA, for Text and String columns."""
    ids = saved_ids(3)
    with warm.count() as c:
        item = RoundtripItem.get_by(**{column: value})
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert item.id == ids[2]


def test_get_by_a_list_of_unique_values_is_one_roundtrip(warm: CallCounter) -> None:
    """get_by(unique=[values]) is one EVALSHA, however many values."""
    ids = saved_ids(5)
    wanted = [f"user{i}@example.com" for i in (4, 0, 2)] + ["nobody@example.com"]
    with warm.count() as c:
        items = RoundtripItem.get_by(email=wanted)
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert [item.id for item in items] == [ids[4], ids[0], ids[2]]


def test_get_by_a_missing_unique_value_is_one_roundtrip(warm: CallCounter) -> None:
    """get_by(unique=value) with no such value is one EVALSHA and gives None."""
    with warm.count() as c:
        assert RoundtripItem.get_by(email="nobody@example.com") is None
    assert c.roundtrips == 1


def test_get_by_primary_key_is_one_roundtrip(warm: CallCounter) -> None:
    """get_by(id=value) reads the row in one round trip."""
    (id,) = saved_ids(1)
    with warm.count() as c:
        assert RoundtripItem.get_by(id=id).id == id
    assert c.roundtrips == 1


# -- deleting -----------------------------------------------------------------


def test_delete_is_one_roundtrip(warm: CallCounter, rom_redis: redis.Redis) -> None:
    """entity.delete() of an entity with unique and index entries is one
    EVALSHA, and leaves only the id counter."""
    (id,) = saved_ids(1)
    item = RoundtripItem.get(id)
    with warm.count() as c:
        item.delete()
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert data_keys(rom_redis, "RoundtripItem:*") == [b"RoundtripItem:id:"]


def test_session_delete_of_many_is_one_roundtrip(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """session.delete() of 20 entities is one EVALSHA."""
    ids = saved_ids(20)
    items = RoundtripItem.get(ids)
    with warm.count() as c:
        rom.session.delete(items)
    assert (c.roundtrips, c.names) == (1, ["EVALSHA"])
    assert data_keys(rom_redis, "RoundtripItem:*") == [b"RoundtripItem:id:"]


# -- script loading -----------------------------------------------------------


def test_scripts_are_reloaded_after_script_flush(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """After SCRIPT FLUSH, the first call of each script costs NOSCRIPT,
    SCRIPT LOAD and a retry; the next costs one round trip again."""
    rom_redis.script_flush()
    try:
        with warm.count() as c:
            item = RoundtripItem(**values(1))
            item.save()
        assert (c.roundtrips, c.names) == (3, ["EVALSHA", "SCRIPT LOAD", "EVALSHA"])
        assert rom_redis.hget("RoundtripItem:1", "email") == b"user1@example.com"
        rom.session.rollback()
        with warm.count() as c:
            found = RoundtripItem.get_by(email="user1@example.com")
        assert (c.roundtrips, c.names) == (3, ["EVALSHA", "SCRIPT LOAD", "EVALSHA"])
        assert found.id == 1
        found.age = 99
        with warm.count() as c:
            found.save()
        assert c.roundtrips == 1
        with warm.count() as c:
            assert RoundtripItem.get_by(email="user1@example.com") is found
        assert c.roundtrips == 1
    finally:
        # Leave the shared server with every script loaded for later tests.
        entity = RoundtripWarmup(key="rewarm")
        entity.save()
        RoundtripWarmup.get_by(key="rewarm")
