"""The entity lifecycle in the session: delete evicts every copy, commit
order, and deleting an entity that was never saved."""

from typing import Any

import pytest
import redis

import rom
from rom.exceptions import EntityDeletedError
from rom.exceptions import UniqueKeyViolation
from rom.testing import CallCounter

HOOKS: list[tuple[str, Any]] = []


class LifeDoc(rom.Model):
    name = rom.Text(index=True, keygen=rom.FULL_TEXT)
    code = rom.String(unique=True)

    def _before_delete(self) -> None:
        HOOKS.append(("before_delete", self.name))

    def _after_delete(self) -> None:
        HOOKS.append(("after_delete", self.name))


class LifeAuthor(rom.Model):
    name = rom.Text()


class LifeBook(rom.Model):
    title = rom.Text()
    author = rom.ManyToOne("LifeAuthor", on_delete="no action")


def _stored_names(conn: redis.Redis) -> set[str]:
    return {
        v.decode() if isinstance(v, bytes) else str(v)
        for k in conn.keys("LifeDoc:*")
        if conn.type(k) in (b"hash", "hash") and conn.hexists(k, "name")
        for v in [conn.hget(k, "name")]
    }


# -- delete evicts every copy --------------------------------------------------


def test_delete_evicts_a_second_copy_of_the_row(rom_redis: redis.Redis) -> None:
    saved = LifeDoc(name="alpha beta", code="a1")
    saved.save()
    pk = saved.id
    rom.session.rollback()
    copy = LifeDoc.get(pk)  # a second object for the same row
    assert copy is not None and copy is not saved
    saved.delete()  # deleted through the first object
    assert LifeDoc.get(pk) is None
    assert LifeDoc.get([pk]) == []
    query = LifeDoc.query.filter(name="alpha")
    assert query.count() == 0
    assert query.all() == []
    assert len(LifeDoc.query.all()) == LifeDoc.query.count() == 0


def test_delete_evicts_a_modified_second_copy(rom_redis: redis.Redis) -> None:
    saved = LifeDoc(name="alpha", code="a1")
    saved.save()
    pk = saved.id
    rom.session.rollback()
    copy = LifeDoc.get(pk)
    assert copy is not None
    copy.name = "changed"  # dirty: held strongly by the session
    saved.delete()
    assert LifeDoc.get(pk) is None
    assert pk not in [e.id for e in rom.session.known.values()]
    assert rom.session.commit() == 0  # the evicted copy is not written back
    assert not rom_redis.exists(f"LifeDoc:{pk}")


# -- commit order ------------------------------------------------------------


def test_commit_writes_in_session_order_and_stops_at_the_failure(
    rom_redis: redis.Redis,
) -> None:
    LifeDoc(name="taken", code="dup").save()
    old = LifeDoc(name="old", code="o")
    old.save()
    rom.session.commit()
    rom.session.rollback()

    loaded = LifeDoc.get(old.id)
    assert loaded is not None
    loaded.name = "old changed"  # 1st: entered the session first (loaded)
    LifeDoc(name="second", code="s")  # 2nd: new
    LifeDoc(name="third", code="dup")  # 3rd: new, violates uniqueness
    LifeDoc(name="fourth", code="f")  # 4th: never written
    with pytest.raises(UniqueKeyViolation):
        rom.session.commit()
    assert _stored_names(rom_redis) == {"taken", "old changed", "second"}


def test_commit_writes_a_new_target_just_before_its_first_referrer(
    rom_redis: redis.Redis, fresh_models: None
) -> None:
    LifeDoc(name="taken", code="dup").save()
    rom.session.commit()
    LifeDoc(name="first", code="one")
    book = LifeBook(title="book")
    author = LifeAuthor(name="author")  # entered after the book
    book.author = author
    LifeDoc(name="clash", code="dup")
    last = LifeAuthor(name="never")
    with pytest.raises(UniqueKeyViolation):
        rom.session.commit()
    # first, then the author just before the book, then the failure.
    assert _stored_names(rom_redis) == {"taken", "first"}
    assert rom_redis.hget(f"LifeAuthor:{author.id}", "name") == b"author"
    assert rom_redis.hget(f"LifeBook:{book.id}", "author") == str(author.id).encode()
    assert last._new and not rom_redis.exists("LifeAuthor:2")


def test_a_new_target_entered_first_is_written_at_its_own_place(
    rom_redis: redis.Redis, fresh_models: None
) -> None:
    author = LifeAuthor(name="author")
    LifeDoc(name="a doc", code="x")
    LifeBook(title="book", author=author)
    rom.session.commit()
    assert author.id == 1
    assert LifeDoc.query.count() == 1 and LifeBook.query.count() == 1


# -- deleting a never-saved entity -----------------------------------------------


@pytest.fixture
def hooks() -> list[tuple[str, Any]]:
    HOOKS.clear()
    return HOOKS


def test_delete_of_never_saved_entity_sends_nothing(
    rom_redis: redis.Redis, roundtrips: CallCounter, hooks: list[Any]
) -> None:
    doc = LifeDoc(name="draft", code="d")
    roundtrips.reset()
    doc.delete()
    assert roundtrips.roundtrips == 0
    assert rom_redis.get("LifeDoc:id:") is None  # no id taken
    assert hooks == [("before_delete", "draft"), ("after_delete", "draft")]
    assert doc._deleted
    assert rom.session.commit() == 0  # not written by a commit either
    assert rom_redis.keys("LifeDoc:*") == []


def test_session_delete_of_never_saved_entity_sends_nothing(
    rom_redis: redis.Redis, roundtrips: CallCounter, hooks: list[Any]
) -> None:
    saved = LifeDoc(name="kept", code="k")
    saved.save()
    counter = rom_redis.get("LifeDoc:id:")
    draft = LifeDoc(name="draft", code="d")
    roundtrips.reset()
    rom.session.delete(draft)
    assert roundtrips.roundtrips == 0
    assert rom_redis.get("LifeDoc:id:") == counter
    assert draft._deleted
    assert draft._data["id"] is None  # no id taken in memory either


def test_save_after_deleting_a_never_saved_entity_says_so(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    doc = LifeDoc(name="draft", code="d")
    doc.delete()
    roundtrips.reset()
    with pytest.raises(EntityDeletedError) as info:
        doc.save()
    message = str(info.value)
    assert "LifeDoc" in message and "None" not in message
    assert "deleted before it was saved" in message
    assert roundtrips.roundtrips == 0
    assert rom_redis.get("LifeDoc:id:") is None


def test_delete_of_entity_with_an_id_but_never_saved_sends_nothing(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    doc = LifeDoc(name="draft", code="d")
    pk = doc.id  # takes an id, but writes no row
    roundtrips.reset()
    doc.delete()
    assert roundtrips.roundtrips == 0
    assert rom_redis.get("LifeDoc:id:") == str(pk).encode()
    assert LifeDoc.get(pk) is None


def test_force_save_after_deleting_a_never_saved_entity_creates_it(
    rom_redis: redis.Redis,
) -> None:
    doc = LifeDoc(name="draft", code="d")
    doc.delete()
    doc.save(force=True)
    assert not doc._deleted and doc.id == 1
    assert rom_redis.hget("LifeDoc:1", "name") == b"draft"


def test_saving_the_other_copy_after_a_delete_says_it_is_deleted(
    rom_redis: redis.Redis,
) -> None:
    saved = LifeDoc(name="alpha", code="a1")
    saved.save()
    rom.session.rollback()
    copy = LifeDoc.get(saved.id)
    assert copy is not None
    saved.delete()
    copy.name = "changed"
    with pytest.raises(EntityDeletedError):
        copy.save()
    assert not rom_redis.exists(f"LifeDoc:{saved.id}")
