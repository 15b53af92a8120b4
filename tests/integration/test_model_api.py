"""The Model API against a real Redis.

Construction, attributes, save/delete/refresh, copy/update/to_dict, get and
get_by, uniqueness, the data-race guard and the hooks, with the exact keys
they leave in Redis and the round trips they cost.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import DataRaceError
from rom.exceptions import EntityDeletedError
from rom.exceptions import InvalidColumnValue
from rom.exceptions import InvalidOperation
from rom.exceptions import QueryError
from rom.exceptions import UniqueKeyViolation
from rom.testing import CallCounter
from rom.testing import data_keys

# Hook calls as (hook name, entity id), and the hooks told to raise.
CALLS: list[tuple[str, Any]] = []
FAIL: set[str] = set()


class ApiItem(rom.Model):
    num = rom.Integer(index=True)
    code = rom.Text(unique=True)
    rank = rom.Integer(unique=True, index=True)
    note = rom.Text()
    other = rom.Text()


class ApiSimple(rom.Model):
    attr = rom.Integer()


class ApiRenamed(rom.Model):
    _namespace = "api_renamed_ns"
    num = rom.Integer(index=True)
    code = rom.Text(unique=True)


class ApiCustomPk(rom.Model):
    key = rom.PrimaryKey()
    value = rom.Text()


class ApiPair(rom.Model):
    first = rom.Text()
    second = rom.Integer()
    unique_together = [("first", "second")]  # noqa: RUF012


class ApiWords(rom.Model):
    text = rom.Text()
    words = rom.IndexOnly("text", rom.FULL_TEXT)


class ApiHooked(rom.Model):
    value = rom.Integer()

    def _hook(self, name: str) -> None:
        CALLS.append((name, self._data.get("id")))
        if name in FAIL:
            raise RuntimeError(f"{name} refused")

    def _before_insert(self) -> None:
        self._hook("before_insert")

    def _after_insert(self) -> None:
        self._hook("after_insert")

    def _before_update(self) -> None:
        self._hook("before_update")

    def _after_update(self) -> None:
        self._hook("after_update")

    def _before_delete(self) -> None:
        self._hook("before_delete")

    def _after_delete(self) -> None:
        self._hook("after_delete")


@pytest.fixture
def hooks() -> Iterator[list[tuple[str, Any]]]:
    """The hook call log, empty at the start of the test."""
    CALLS.clear()
    FAIL.clear()
    yield CALLS
    CALLS.clear()
    FAIL.clear()


def item(**values: Any) -> ApiItem:
    """A saved ApiItem."""
    entity = ApiItem(**values)
    entity.save()
    return entity


def row(conn: redis.Redis, key: str) -> dict[str, str]:
    """A row's fields without the index record, decoded."""
    raw = conn.hgetall(key)
    return {k.decode(): v.decode() for k, v in raw.items() if k != b"-index-data-"}


def fresh(model: Any, id: Any) -> Any:
    """The entity read from Redis into a new object (the session is cleared)."""
    rom.session.rollback()
    return model.get(id)


class TestConstruction:
    def test_keywords_become_values(self, rom_redis: redis.Redis) -> None:
        """Keyword arguments set the column values."""
        entity = ApiItem(num=1, code="c", note="n")
        assert (entity.num, entity.code, entity.note) == (1, "c", "n")

    def test_unknown_keywords_are_refused(self, rom_redis: redis.Redis) -> None:
        """An unknown keyword raises InvalidColumnValue naming it."""
        with pytest.raises(InvalidColumnValue, match="colour"):
            ApiItem(num=1, colour="red")

    def test_extra_ok_ignores_unknown_keywords(self, rom_redis: redis.Redis) -> None:
        """_extra_ok=True makes unknown keywords harmless."""
        entity = ApiItem(num=1, colour="red", _extra_ok=True)
        assert entity.num == 1
        assert "colour" not in entity.to_dict()
        assert not hasattr(entity, "colour")

    def test_truthy_primary_key_is_refused(self, rom_redis: redis.Redis) -> None:
        """Passing a primary key value raises InvalidColumnValue."""
        with pytest.raises(InvalidColumnValue, match="Cannot pass primary key"):
            ApiItem(id=5)

    def test_bypass_session_skips_registration_and_extras(
        self, rom_redis: redis.Redis
    ) -> None:
        """_bypass_session_entirely=True keeps the entity out of the session."""
        entity = ApiItem(num=1, colour="red", _bypass_session_entirely=True)
        assert rom.session.commit() == 0
        entity.save()
        assert row(rom_redis, entity._pk)["num"] == "1"

    def test_construction_costs_no_round_trip(self, roundtrips: CallCounter) -> None:
        """Building an entity does not talk to Redis."""
        with roundtrips.count() as calls:
            ApiItem(num=1, code="c")
        assert calls.roundtrips == 0

    def test_construct_and_save_is_one_round_trip(
        self, roundtrips: CallCounter
    ) -> None:
        """A new entity costs one round trip in total, its save."""
        ApiSimple(attr=0).save()  # loads the write script on the server
        with roundtrips.count() as calls:
            ApiItem(num=1, code="c", rank=3).save()
        assert calls.roundtrips == 1


class TestKeys:
    def test_row_counter_and_pk_field(self, rom_redis: redis.Redis) -> None:
        """A save writes the row <ns>:<id> with the pk field and INCRs <ns>:id:."""
        entity = item(num=5)
        assert entity._pk == f"ApiItem:{entity.id}"
        assert row(rom_redis, entity._pk) == {"num": "5", "id": str(entity.id)}
        assert rom_redis.get("ApiItem:id:") == str(entity.id).encode()

    def test_ids_count_up(self, rom_redis: redis.Redis) -> None:
        """Successive new entities get successive ids."""
        first, second = item(num=1), item(num=2)
        assert (first.id, second.id) == (1, 2)

    def test_namespace_names_every_key(self, rom_redis: redis.Redis) -> None:
        """_namespace replaces the class name in row, counter and index keys."""
        entity = ApiRenamed(num=3, code="x")
        entity.save()
        assert entity._pk == f"api_renamed_ns:{entity.id}"
        keys = {k.decode() for k in data_keys(rom_redis, "*")}
        assert keys == {
            f"api_renamed_ns:{entity.id}",
            "api_renamed_ns:id:",
            "api_renamed_ns:num:idx",
            "api_renamed_ns:code:uidx",
        }

    def test_custom_primary_key_name(self, rom_redis: redis.Redis) -> None:
        """A PrimaryKey named key uses <ns>:key: and stores the key field."""
        entity = ApiCustomPk(value="v")
        entity.save()
        assert entity.key == 1
        assert rom_redis.get("ApiCustomPk:key:") == b"1"
        assert row(rom_redis, "ApiCustomPk:1") == {"key": "1", "value": "v"}
        assert fresh(ApiCustomPk, 1).value == "v"

    def test_numeric_index_holds_the_value_as_score(
        self, rom_redis: redis.Redis
    ) -> None:
        """An indexed Integer puts the id in <ns>:<attr>:idx scored by the value."""
        entity = item(num=42)
        assert rom_redis.zscore("ApiItem:num:idx", str(entity.id)) == 42.0

    def test_unique_hash_maps_value_to_id(self, rom_redis: redis.Redis) -> None:
        """A unique column maps its wire value to the id in <ns>:<attr>:uidx."""
        entity = item(code="abc", rank=7)
        assert rom_redis.hgetall("ApiItem:code:uidx") == {b"abc": b"1"}
        assert rom_redis.hget("ApiItem:rank:uidx", "7") == str(entity.id).encode()


class TestAttributes:
    def test_assignment_marks_modified(self, rom_redis: redis.Redis) -> None:
        """Assigning a column marks a loaded entity modified."""
        entity = fresh(ApiItem, item(num=1).id)
        assert entity._modified is False
        entity.num = 2
        assert entity._modified is True

    def test_to_dict_is_a_shallow_copy(self, rom_redis: redis.Redis) -> None:
        """to_dict() has every column (None when unset) and is a copy."""
        entity = item(num=1, code="c")
        values = entity.to_dict()
        assert values == {
            "num": 1,
            "code": "c",
            "rank": None,
            "note": None,
            "other": None,
            "id": entity.id,
        }
        values["num"] = 99
        assert entity.num == 1

    def test_to_dict_has_index_only_as_none(self, rom_redis: redis.Redis) -> None:
        """IndexOnly columns appear in to_dict() with the value None."""
        entity = ApiWords(text="a b")
        entity.save()
        assert entity.to_dict() == {"text": "a b", "words": None, "id": entity.id}

    def test_update_positional_then_keywords(self, rom_redis: redis.Redis) -> None:
        """update() assigns positional values in column order, then keywords."""
        entity = ApiItem()
        result = entity.update(1, "c", note="n")
        assert result is entity
        assert (entity.num, entity.code, entity.note) == (1, "c", "n")

    def test_update_validates(self, rom_redis: redis.Redis) -> None:
        """update() converts and checks values like assignment."""
        entity = ApiItem()
        entity.update(num="4")
        assert entity.num == 4
        with pytest.raises(InvalidColumnValue):
            entity.update(num="four")

    def test_copy_is_a_new_unsaved_entity(self, rom_redis: redis.Redis) -> None:
        """copy() gives a new entity with the same values and, once saved, a new id."""
        original = item(num=1, note="n")
        duplicate = original.copy()
        assert duplicate is not original
        assert duplicate._new is True
        assert (duplicate.num, duplicate.note) == (1, "n")
        duplicate.save()
        assert duplicate.id != original.id
        assert fresh(ApiItem, duplicate.id).note == "n"

    def test_copy_collides_on_unique_columns(self, rom_redis: redis.Redis) -> None:
        """A copy keeps unique values, so saving it raises UniqueKeyViolation."""
        original = item(num=1, code="same")
        with pytest.raises(UniqueKeyViolation):
            original.copy().save()


class TestSave:
    def test_new_entity_counts_every_column(self, rom_redis: redis.Redis) -> None:
        """Saving a new entity returns the number of columns, the pk included."""
        assert ApiSimple(attr=1).save() == 2

    def test_unchanged_entity_saves_nothing(self, rom_redis: redis.Redis) -> None:
        """A second save without changes returns 0."""
        entity = ApiSimple(attr=1)
        entity.save()
        assert entity.save() == 0

    def test_changed_columns_are_counted(self, rom_redis: redis.Redis) -> None:
        """A save counts only the columns that changed."""
        entity = item(num=1, code="c")
        entity.num = 2
        entity.note = "n"
        assert entity.save() == 2
        assert row(rom_redis, entity._pk)["note"] == "n"

    def test_full_save_rewrites_every_column(self, rom_redis: redis.Redis) -> None:
        """save(full=True) counts every column."""
        entity = ApiSimple(attr=1)
        entity.save()
        assert entity.save(full=True) == 2

    def test_save_is_one_round_trip(self, roundtrips: CallCounter) -> None:
        """Saving an existing entity with unique and indexed columns is one trip."""
        entity = item(num=1, code="c", rank=1)
        entity.num, entity.code, entity.rank = 2, "d", 2
        with roundtrips.count() as calls:
            entity.save()
        assert calls.roundtrips == 1

    def test_saved_entity_is_clean(self, rom_redis: redis.Redis) -> None:
        """After a save the entity is neither new nor modified."""
        entity = item(num=1)
        assert (entity._new, entity._modified, entity._deleted) == (
            False,
            False,
            False,
        )

    def test_index_follows_value_changes(self, rom_redis: redis.Redis) -> None:
        """Changing an indexed value moves the entity in the index."""
        entity = item(num=1)
        entity.num = 5
        entity.save()
        assert rom_redis.zscore("ApiItem:num:idx", str(entity.id)) == 5.0
        entity.num = None
        entity.save()
        assert rom_redis.zscore("ApiItem:num:idx", str(entity.id)) is None


class TestUnique:
    def test_violation_raises_with_args(self, rom_redis: redis.Redis) -> None:
        """A taken value raises UniqueKeyViolation with (message, ns, id)."""
        item(code="taken")
        other = item(code="free")
        other.code = "taken"
        with pytest.raises(UniqueKeyViolation) as info:
            other.save()
        message, namespace, id = info.value.args
        assert (namespace, id) == ("ApiItem", str(other.id))
        assert "'taken'" in message
        assert "ApiItem:code:uidx" in message

    def test_violation_writes_nothing(self, rom_redis: redis.Redis) -> None:
        """A new entity with a taken value leaves Redis unchanged."""
        item(num=1, code="taken")
        before = {k: rom_redis.dump(k) for k in data_keys(rom_redis, "*")}
        with pytest.raises(UniqueKeyViolation):
            ApiItem(num=2, code="taken", rank=9).save()
        after = {k: rom_redis.dump(k) for k in data_keys(rom_redis, "*")}
        assert after == before

    def test_violation_on_update_keeps_old_values(self, rom_redis: redis.Redis) -> None:
        """An update that collides writes none of its changes."""
        item(code="taken")
        other = item(code="mine", num=1)
        other.code, other.num = "taken", 2
        with pytest.raises(UniqueKeyViolation):
            other.save()
        assert row(rom_redis, other._pk)["num"] == "1"
        assert rom_redis.hget("ApiItem:code:uidx", "mine") == str(other.id).encode()

    def test_changing_value_frees_the_old_one(self, rom_redis: redis.Redis) -> None:
        """The old unique value is released when the value changes."""
        entity = item(code="old")
        entity.code = "new"
        entity.save()
        assert rom_redis.hgetall("ApiItem:code:uidx") == {
            b"new": str(entity.id).encode()
        }
        item(code="old")

    def test_old_value_kept_if_it_maps_elsewhere(self, rom_redis: redis.Redis) -> None:
        """The old value's field is removed only if it still maps to this id."""
        entity = item(code="old")
        rom_redis.hset("ApiItem:code:uidx", "old", "999")
        entity.code = "new"
        entity.save()
        assert rom_redis.hget("ApiItem:code:uidx", "old") == b"999"

    def test_none_is_not_constrained(self, rom_redis: redis.Redis) -> None:
        """Many entities may leave a unique column empty."""
        item(num=1)
        item(num=2)
        assert rom_redis.hlen("ApiItem:code:uidx") == 0

    def test_same_entity_may_resave_its_value(self, rom_redis: redis.Redis) -> None:
        """Saving an entity again with its own unique value is fine."""
        entity = item(code="mine")
        assert entity.save(full=True) >= 1

    def test_uniqueness_is_case_sensitive(self, rom_redis: redis.Redis) -> None:
        """Unique values compare by exact wire string."""
        item(code="Case")
        item(code="case")
        assert rom_redis.hlen("ApiItem:code:uidx") == 2

    def test_unique_together_violation(self, rom_redis: redis.Redis) -> None:
        """Two entities with the same column tuple raise UniqueKeyViolation."""
        ApiPair(first="a", second=1).save()
        ApiPair(first="a", second=2).save()
        with pytest.raises(UniqueKeyViolation, match="ApiPair:first:second:uidx"):
            ApiPair(first="a", second=1).save()
        assert rom_redis.hlen("ApiPair:first:second:uidx") == 2

    def test_unique_together_skipped_with_none(self, rom_redis: redis.Redis) -> None:
        """The constraint does not apply while any of its columns is None."""
        ApiPair(first="a").save()
        ApiPair(first="a").save()
        assert rom_redis.exists("ApiPair:first:second:uidx") == 0

    def test_unique_together_change_frees_old_tuple(
        self, rom_redis: redis.Redis
    ) -> None:
        """Changing one column of the tuple releases the old tuple."""
        entity = ApiPair(first="a", second=1)
        entity.save()
        entity.second = 2
        entity.save()
        assert rom_redis.hlen("ApiPair:first:second:uidx") == 1
        ApiPair(first="a", second=1).save()


class TestDataRace:
    def test_changed_column_raises_data_race(self, rom_redis: redis.Redis) -> None:
        """A column changed in Redis since loading raises DataRaceError."""
        entity = fresh(ApiItem, item(num=1, note="a").id)
        rom_redis.hset(entity._pk, "note", "theirs")
        entity.note = "mine"
        with pytest.raises(DataRaceError) as info:
            entity.save()
        message, namespace, id = info.value.args
        assert (namespace, id) == ("ApiItem", str(entity.id))
        assert "'note'" in message
        assert f"ApiItem:{entity.id}" in message
        assert row(rom_redis, entity._pk)["note"] == "theirs"

    def test_race_writes_nothing(self, rom_redis: redis.Redis) -> None:
        """A raced save changes no other column either."""
        entity = fresh(ApiItem, item(num=1, note="a").id)
        rom_redis.hset(entity._pk, "note", "theirs")
        entity.note, entity.num = "mine", 2
        with pytest.raises(DataRaceError):
            entity.save()
        assert row(rom_redis, entity._pk)["num"] == "1"
        assert rom_redis.zscore("ApiItem:num:idx", str(entity.id)) == 1.0

    def test_unwritten_columns_are_not_checked(self, rom_redis: redis.Redis) -> None:
        """Only the columns being written are compared."""
        entity = fresh(ApiItem, item(num=1, note="a").id)
        rom_redis.hset(entity._pk, "note", "theirs")
        entity.num = 2
        assert entity.save() == 1
        assert row(rom_redis, entity._pk)["note"] == "theirs"

    def test_columns_without_previous_value_are_not_checked(
        self, rom_redis: redis.Redis
    ) -> None:
        """A column that had no value when loaded is written without a check."""
        entity = fresh(ApiItem, item(num=1).id)
        rom_redis.hset(entity._pk, "note", "theirs")
        entity.note = "mine"
        entity.save()
        assert row(rom_redis, entity._pk)["note"] == "mine"

    def test_deleted_row_raises_entity_deleted(self, rom_redis: redis.Redis) -> None:
        """A row deleted by another writer raises EntityDeletedError."""
        entity = item(num=1)
        rom_redis.delete(entity._pk)
        entity.num = 2
        with pytest.raises(EntityDeletedError) as info:
            entity.save()
        message, namespace, id = info.value.args
        assert (namespace, id) == ("ApiItem", str(entity.id))
        assert "save(force=True)" in message
        assert rom_redis.exists(entity._pk) == 0

    def test_force_recreates_a_deleted_row(self, rom_redis: redis.Redis) -> None:
        """save(force=True) writes the whole row again."""
        entity = item(num=1, code="c")
        rom_redis.delete(entity._pk)
        entity.save(force=True)
        assert row(rom_redis, entity._pk) == {
            "num": "1",
            "code": "c",
            "id": str(entity.id),
        }

    def test_force_overwrites_a_race(self, rom_redis: redis.Redis) -> None:
        """save(force=True) skips the race check."""
        entity = fresh(ApiItem, item(num=1, note="a").id)
        rom_redis.hset(entity._pk, "note", "theirs")
        entity.note = "mine"
        entity.save(force=True)
        assert row(rom_redis, entity._pk)["note"] == "mine"


class TestDelete:
    def test_delete_removes_row_unique_and_index(self, rom_redis: redis.Redis) -> None:
        """delete() removes the row, its unique entries and its index entries."""
        entity = item(num=1, code="c", rank=3)
        entity.delete()
        assert {k.decode() for k in data_keys(rom_redis, "*")} == {"ApiItem:id:"}

    def test_delete_keeps_the_counter(self, rom_redis: redis.Redis) -> None:
        """The id counter is not decremented."""
        entity = item(num=1)
        entity.delete()
        assert rom_redis.get("ApiItem:id:") == b"1"
        assert item(num=2).id == 2

    def test_deleted_entity_is_gone(self, rom_redis: redis.Redis) -> None:
        """After delete() get() returns None and the entity is marked deleted."""
        entity = item(num=1)
        entity.delete()
        assert entity._deleted
        assert ApiItem.get(entity.id) is None
        assert fresh(ApiItem, entity.id) is None

    def test_delete_frees_unique_values(self, rom_redis: redis.Redis) -> None:
        """A deleted entity's unique value can be used again."""
        item(code="c").delete()
        item(code="c")

    def test_delete_is_one_round_trip(self, roundtrips: CallCounter) -> None:
        """Deleting an entity without references is one round trip."""
        entity = item(num=1, code="c")
        with roundtrips.count() as calls:
            entity.delete()
        assert calls.roundtrips == 1


class TestRefresh:
    def test_refresh_reads_other_writers_changes(self, rom_redis: redis.Redis) -> None:
        """refresh() reloads the values stored in Redis."""
        entity = item(num=1, note="a")
        rom_redis.hset(entity._pk, mapping={"note": "b", "num": "7"})
        entity.refresh()
        assert (entity.note, entity.num) == ("b", 7)
        assert entity._modified is False

    def test_modified_entity_needs_force(self, rom_redis: redis.Redis) -> None:
        """A modified entity cannot be refreshed without force."""
        entity = item(num=1)
        entity.num = 2
        with pytest.raises(InvalidOperation, match="Cannot refresh a modified entity"):
            entity.refresh()
        assert entity.num == 2

    def test_force_discards_changes(self, rom_redis: redis.Redis) -> None:
        """refresh(force=True) drops unsaved changes."""
        entity = item(num=1)
        entity.num = 2
        entity.refresh(force=True)
        assert entity.num == 1
        assert entity._modified is False

    def test_new_entity_cannot_be_refreshed(self, rom_redis: redis.Redis) -> None:
        """A new entity counts as modified, and with force is refused as new."""
        entity = ApiItem(num=1)
        with pytest.raises(InvalidOperation, match="modified"):
            entity.refresh()
        with pytest.raises(InvalidOperation, match="Cannot refresh a new entity"):
            entity.refresh(force=True)

    def test_deleted_entity_refresh_does_nothing(self, rom_redis: redis.Redis) -> None:
        """refresh() of a deleted entity returns without doing anything."""
        entity = item(num=1)
        entity.delete()
        assert entity.refresh() is None
        assert entity._deleted


class TestGet:
    def test_get_one_by_int_or_string(self, rom_redis: redis.Redis) -> None:
        """get() takes an int or a numeric string id."""
        entity = item(num=1)
        rom.session.rollback()
        by_int = ApiItem.get(entity.id)
        assert by_int.num == 1
        assert ApiItem.get(str(entity.id)) is by_int

    def test_missing_id_gives_none(self, rom_redis: redis.Redis) -> None:
        """get() of an unknown id returns None."""
        assert ApiItem.get(12345) is None

    def test_list_keeps_order_and_drops_missing(self, rom_redis: redis.Redis) -> None:
        """A list of ids gives the found entities in the order asked."""
        a, b, c = item(num=1), item(num=2), item(num=3)
        rom.session.rollback()
        found = ApiItem.get([c.id, 99, a.id, b.id])
        assert [e.num for e in found] == [3, 1, 2]

    @pytest.mark.parametrize("kind", [list, tuple, set, frozenset])
    def test_any_collection_of_ids(self, rom_redis: redis.Redis, kind: Any) -> None:
        """Lists, tuples, sets and frozensets of ids all return lists."""
        a = item(num=1)
        assert ApiItem.get(kind([a.id])) == [a]

    def test_empty_list_gives_empty_list(self, rom_redis: redis.Redis) -> None:
        """get([]) returns []."""
        assert ApiItem.get([]) == []

    def test_non_numeric_id_is_value_error(self, rom_redis: redis.Redis) -> None:
        """A non-numeric id raises ValueError."""
        with pytest.raises(ValueError):
            ApiItem.get("abc")

    def test_many_ids_are_one_round_trip(
        self, rom_redis: redis.Redis, roundtrips: CallCounter
    ) -> None:
        """Fetching several uncached ids costs one round trip."""
        ids = [item(num=n).id for n in range(3)]
        rom.session.rollback()
        with roundtrips.count() as calls:
            assert len(ApiItem.get(ids)) == 3
        assert calls.roundtrips == 1

    def test_cached_entity_needs_no_round_trip(self, roundtrips: CallCounter) -> None:
        """An entity in the session is returned without reading Redis."""
        entity = item(num=1)
        with roundtrips.count() as calls:
            assert ApiItem.get(entity.id) is entity
        assert calls.roundtrips == 0

    def test_loaded_values_are_converted(self, rom_redis: redis.Redis) -> None:
        """A loaded entity has Python values and is clean."""
        entity = fresh(ApiItem, item(num=5, code="c").id)
        assert (entity.num, entity.code, entity._new, entity._modified) == (
            5,
            "c",
            False,
            False,
        )

    def test_row_without_pk_field_is_refused(self, rom_redis: redis.Redis) -> None:
        """A row lacking its pk field cannot be loaded (InvalidColumnValue)."""
        rom_redis.hset("ApiItem:77", "num", "1")
        with pytest.raises(InvalidColumnValue, match="primary key"):
            ApiItem.get(77)

    def test_other_model_rows_are_not_confused(self, rom_redis: redis.Redis) -> None:
        """get() of one model never returns another model's entity."""
        item(num=1)
        assert ApiSimple.get(1) is None


class TestGetBy:
    def test_by_primary_key(self, rom_redis: redis.Redis) -> None:
        """get_by(id=...) is get(...)."""
        a, b = item(num=1), item(num=2)
        assert ApiItem.get_by(id=a.id) is a
        assert ApiItem.get_by(id=[b.id, a.id]) == [b, a]

    def test_by_custom_primary_key(self, rom_redis: redis.Redis) -> None:
        """get_by works with a PrimaryKey of another name."""
        entity = ApiCustomPk(value="v")
        entity.save()
        rom.session.rollback()
        assert ApiCustomPk.get_by(key=entity.key).value == "v"

    def test_by_unique_value(self, rom_redis: redis.Redis) -> None:
        """A unique column returns the entity or None."""
        entity = item(code="c")
        rom.session.rollback()
        assert ApiItem.get_by(code="c").id == entity.id
        assert ApiItem.get_by(code="nope") is None

    def test_by_unique_list(self, rom_redis: redis.Redis) -> None:
        """A list of unique values returns the found entities in order."""
        a, b = item(code="a"), item(code="b")
        assert ApiItem.get_by(code=["b", "x", "a"]) == [b, a]

    def test_by_unique_integer(self, rom_redis: redis.Redis) -> None:
        """A unique Integer is looked up by its wire string."""
        entity = item(rank=10)
        assert ApiItem.get_by(rank=10) is entity
        assert ApiItem.get_by(rank="10") is entity

    def test_unique_lookup_is_one_round_trip(self, roundtrips: CallCounter) -> None:
        """get_by on a unique column costs one round trip."""
        item(code="c")
        ApiItem.get_by(code="warm-up")  # loads the lookup script on the server
        rom.session.rollback()
        with roundtrips.count() as calls:
            assert ApiItem.get_by(code="c") is not None
        assert calls.roundtrips == 1

    def test_unique_with_range_is_refused(self, rom_redis: redis.Redis) -> None:
        """A tuple for a unique column raises QueryError."""
        with pytest.raises(QueryError, match="Cannot query a unique index with a"):
            ApiItem.get_by(code=("a", "b"))

    def test_numeric_value_matches_equal(self, rom_redis: redis.Redis) -> None:
        """A number on an indexed column returns every entity with that value."""
        a, _, c = item(num=1), item(num=2), item(num=1)
        assert sorted(e.id for e in ApiItem.get_by(num=1)) == [a.id, c.id]

    def test_range_is_inclusive(self, rom_redis: redis.Redis) -> None:
        """A (low, high) range includes both ends."""
        for n in range(1, 6):
            item(num=n)
        assert [e.num for e in ApiItem.get_by(num=(2, 4))] == [2, 3, 4]

    def test_none_ends_are_open(self, rom_redis: redis.Redis) -> None:
        """None as an end of the range means unbounded."""
        for n in range(1, 6):
            item(num=n)
        assert [e.num for e in ApiItem.get_by(num=(None, 2))] == [1, 2]
        assert [e.num for e in ApiItem.get_by(num=(4, None))] == [4, 5]
        assert len(ApiItem.get_by(num=(None, None))) == 5

    def test_limit_is_offset_and_count(self, rom_redis: redis.Redis) -> None:
        """_limit=(offset, count) pages through the range in score order."""
        for n in range(1, 6):
            item(num=n)
        found = ApiItem.get_by(num=(None, None), _limit=(1, 2))
        assert [e.num for e in found] == [2, 3]

    def test_numeric_forces_range_on_unique_column(
        self, rom_redis: redis.Redis
    ) -> None:
        """_numeric=True looks up an indexed unique column by range, as a list."""
        for n in (10, 20, 30):
            item(rank=n)
        assert [e.rank for e in ApiItem.get_by(rank=(15, 30), _numeric=True)] == [
            20,
            30,
        ]
        assert [e.rank for e in ApiItem.get_by(rank=20, _numeric=True)] == [20]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {},
            {"num": 1, "rank": 1},
            {"num": (1, 2, 3)},
            {"num": 1, "_limit": (1,)},
            {"num": 1, "_limit": ("a", 1)},
            {"num": 1, "_limit": 5},
        ],
        ids=["none", "two", "long-tuple", "short-limit", "str-limit", "int-limit"],
    )
    def test_bad_arguments_are_query_errors(
        self, rom_redis: redis.Redis, kwargs: dict[str, Any]
    ) -> None:
        """Wrong numbers of columns, bad ranges and bad _limit raise QueryError."""
        with pytest.raises(QueryError):
            ApiItem.get_by(**kwargs)

    def test_unindexed_column_is_refused(self, rom_redis: redis.Redis) -> None:
        """A column without an index raises QueryError."""
        with pytest.raises(QueryError, match="Cannot query on a column without"):
            ApiItem.get_by(note="x")


class TestHooks:
    def test_insert_hooks_surround_first_save(
        self, rom_redis: redis.Redis, hooks: list[tuple[str, Any]]
    ) -> None:
        """A new entity's save calls _before_insert then _after_insert."""
        entity = ApiHooked(value=1)
        entity.save()
        assert [name for name, _ in hooks] == ["before_insert", "after_insert"]
        assert hooks[-1][1] == entity.id

    def test_update_hooks_run_even_without_changes(
        self, rom_redis: redis.Redis, hooks: list[tuple[str, Any]]
    ) -> None:
        """Saving an existing entity calls the update hooks, changed or not."""
        entity = ApiHooked(value=1)
        entity.save()
        hooks.clear()
        entity.save()
        assert hooks == [("before_update", entity.id), ("after_update", entity.id)]

    def test_delete_hooks(
        self, rom_redis: redis.Redis, hooks: list[tuple[str, Any]]
    ) -> None:
        """delete() calls _before_delete then _after_delete."""
        entity = ApiHooked(value=1)
        entity.save()
        hooks.clear()
        entity.delete()
        assert [name for name, _ in hooks] == ["before_delete", "after_delete"]

    def test_raising_before_insert_writes_nothing(
        self, rom_redis: redis.Redis, hooks: list[tuple[str, Any]]
    ) -> None:
        """A raising _before_insert aborts the save; Redis stays empty."""
        FAIL.add("before_insert")
        entity = ApiHooked(value=1)
        with pytest.raises(RuntimeError, match="before_insert refused"):
            entity.save()
        assert data_keys(rom_redis) == []
        assert entity._new is True
        assert [name for name, _ in hooks] == ["before_insert"]

    def test_raising_before_update_writes_nothing(
        self, rom_redis: redis.Redis, hooks: list[tuple[str, Any]]
    ) -> None:
        """A raising _before_update leaves the stored row as it was."""
        entity = ApiHooked(value=1)
        entity.save()
        FAIL.add("before_update")
        entity.value = 2
        with pytest.raises(RuntimeError):
            entity.save()
        assert row(rom_redis, entity._pk)["value"] == "1"
        assert entity._modified is True

    def test_raising_before_delete_keeps_the_row(
        self, rom_redis: redis.Redis, hooks: list[tuple[str, Any]]
    ) -> None:
        """A raising _before_delete aborts the delete."""
        entity = ApiHooked(value=1)
        entity.save()
        FAIL.add("before_delete")
        with pytest.raises(RuntimeError):
            entity.delete()
        assert rom_redis.exists(entity._pk) == 1
        assert not entity._deleted

    def test_raising_after_insert_has_already_written(
        self, rom_redis: redis.Redis, hooks: list[tuple[str, Any]]
    ) -> None:
        """A raising _after_insert propagates after the data is written."""
        FAIL.add("after_insert")
        entity = ApiHooked(value=1)
        with pytest.raises(RuntimeError, match="after_insert refused"):
            entity.save()
        assert row(rom_redis, entity._pk)["value"] == "1"
        assert (entity._new, entity._modified) == (False, False)

    def test_raising_after_delete_has_already_deleted(
        self, rom_redis: redis.Redis, hooks: list[tuple[str, Any]]
    ) -> None:
        """A raising _after_delete propagates after the row is gone."""
        entity = ApiHooked(value=1)
        entity.save()
        FAIL.add("after_delete")
        with pytest.raises(RuntimeError):
            entity.delete()
        assert rom_redis.exists(entity._pk) == 0
        assert entity._deleted
