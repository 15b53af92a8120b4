"""Relationship columns against a real Redis .

ManyToOne, OneToOne, OneToMany and ForeignModel: what is stored, lazy
loading (one round trip per hop, on first access), assignment by entity or
id, reverse lookups, self-references, references by class name or by
namespace, custom primary-key names, and saving a referrer whose target is
still unsaved.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom
from rom.exceptions import InvalidColumnValue
from rom.exceptions import InvalidOperation
from rom.exceptions import UniqueKeyViolation
from rom.relations import Unloaded
from rom.testing import CallCounter
from rom.testing import data_keys

INSERTS: list[str] = []


class RelAuthor(rom.Model):
    name = rom.Text()
    books = rom.OneToMany("RelBook")

    def _before_insert(self) -> None:
        INSERTS.append(f"author {self.name}")


class RelBook(rom.Model):
    title = rom.Text()
    author = rom.ManyToOne("RelAuthor", on_delete="no action")


class RelPassport(rom.Model):
    number = rom.Text()
    holder = rom.OneToOne("RelAuthor", on_delete="no action", unique=True)


class RelNode(rom.Model):
    name = rom.Text()
    parent = rom.ManyToOne("RelNode", on_delete="no action")
    children = rom.OneToMany("RelNode", "parent")


class RelGroup(rom.Model):
    _namespace = "rel:groups ns"
    code = rom.PrimaryKey()
    label = rom.Text()
    by_ns = rom.OneToMany("RelMember", column="group_ns")
    by_name = rom.OneToMany("RelMember", column="group_name")


class RelMember(rom.Model):
    _namespace = "rel:members"
    key = rom.PrimaryKey(index=True)
    # One reference by the target's namespace, one by its class name.
    group_ns = rom.ManyToOne("rel:groups ns", on_delete="no action")
    group_name = rom.ManyToOne("RelGroup", on_delete="no action")


class RelShelf(rom.Model):
    _namespace = "rel:shelf"
    # No column=: found by matching RelSlot.shelf's ftable, a namespace.
    slots = rom.OneToMany("RelSlot")


class RelSlot(rom.Model):
    shelf = rom.ManyToOne("rel:shelf", on_delete="no action")


class RelChainA(rom.Model):
    name = rom.Text()


class RelChainB(rom.Model):
    a = rom.ManyToOne("RelChainA", on_delete="no action")


class RelChainC(rom.Model):
    b = rom.ManyToOne("RelChainB", on_delete="no action")


class RelExternal:
    """A non-rom object with ``.id`` and a class-level ``get``."""

    known: dict[Any, RelExternal] = {}  # noqa: RUF012

    def __init__(self, id: int) -> None:
        self.id = id
        RelExternal.known[id] = self

    @classmethod
    def get(cls, id: Any) -> RelExternal | None:
        return cls.known.get(id)


class RelHolder(rom.Model):
    thing = rom.ForeignModel(RelExternal)


@pytest.fixture
def warm(rom_redis: redis.Redis, roundtrips: CallCounter) -> CallCounter:
    """Load the writer script on the server, then count from an empty db."""
    RelChainA(name="warm").save()
    rom_redis.flushdb()
    rom.session.rollback()
    roundtrips.reset()
    return roundtrips


def reload(entity: Any) -> Any:
    """The entity read back from Redis (the session forgotten)."""
    rom.session.rollback()
    return type(entity).get(entity._primary_key())


class TestStorage:
    def test_reference_is_stored_as_the_id_and_indexed(
        self, rom_redis: redis.Redis
    ) -> None:
        """A ManyToOne is the target id in the row and in <ns>:<attr>:idx."""
        author = RelAuthor(name="Ann")
        author.save()
        book = RelBook(title="T", author=author)
        book.save()
        row = rom_redis.hgetall(book._pk)
        assert row[b"author"] == str(author.id).encode()
        assert rom_redis.zrange("RelBook:author:idx", 0, -1, withscores=True) == [
            (str(book.id).encode(), float(author.id))
        ]
        assert b'"author"' in row[b"-index-data-"]

    def test_custom_namespace_and_pk_are_stored_by_pk_value(
        self, rom_redis: redis.Redis
    ) -> None:
        """References to a model with a custom pk name store that pk's value."""
        group = RelGroup(label="g")
        group.save()
        member = RelMember(group_ns=group, group_name=group)
        member.save()
        assert group.code == 1
        row = rom_redis.hgetall(f"rel:members:{member.key}")
        assert row[b"group_ns"] == row[b"group_name"] == b"1"
        assert row[b"key"] == str(member.key).encode()
        assert rom_redis.zscore("rel:members:group_ns:idx", member.key) == 1.0

    def test_a_null_reference_is_not_stored(self, rom_redis: redis.Redis) -> None:
        """A reference left None has no field and no index entry."""
        book = RelBook(title="alone")
        book.save()
        assert b"author" not in rom_redis.hgetall(book._pk)
        assert not rom_redis.exists("RelBook:author:idx")

    def test_foreign_model_stores_the_object_id(self, rom_redis: redis.Redis) -> None:
        """A ForeignModel stores obj.id and loads through fmodel.get(id)."""
        thing = RelExternal(42)
        holder = RelHolder(thing=thing)
        holder.save()
        assert rom_redis.hget(holder._pk, "thing") == b"42"
        assert rom_redis.zscore("RelHolder:thing:idx", holder.id) == 42.0
        assert reload(holder).thing is thing


class TestLazyLoading:
    def test_loading_does_not_fetch_references(
        self, rom_redis: redis.Redis, warm: CallCounter
    ) -> None:
        """get() reads one row; the reference is fetched on first access only."""
        author = RelAuthor(name="Ann")
        book = RelBook(title="T", author=author)
        book.save()
        rom.session.rollback()
        with warm.count() as calls:
            loaded = RelBook.get(book.id)
        assert calls.roundtrips == 1
        assert isinstance(loaded._data["author"], Unloaded)
        with warm.count() as calls:
            assert loaded.author.name == "Ann"
            assert loaded.author is loaded.author
        assert calls.roundtrips == 1

    def test_a_chain_costs_one_round_trip_per_hop(
        self, rom_redis: redis.Redis, warm: CallCounter
    ) -> None:
        """C -> B -> A: loading C reads C only, each hop then costs one read."""
        a = RelChainA(name="root")
        b = RelChainB(a=a)
        c = RelChainC(b=b)
        c.save()
        rom.session.rollback()
        with warm.count() as calls:
            loaded = RelChainC.get(c.id)
        assert calls.roundtrips == 1
        with warm.count() as calls:
            middle = loaded.b
        assert calls.roundtrips == 1
        assert isinstance(middle._data["a"], Unloaded)
        with warm.count() as calls:
            assert middle.a.name == "root"
        assert calls.roundtrips == 1

    def test_a_dangling_reference_reads_none(self, rom_redis: redis.Redis) -> None:
        """A stored id whose row is gone reads as None."""
        book = RelBook(title="T", author=12345)
        book.save()
        assert reload(book).author is None

    def test_to_dict_gives_entities(self, rom_redis: redis.Redis) -> None:
        """to_dict() holds the referenced entity, not its id."""
        author = RelAuthor(name="Ann")
        book = RelBook(title="T", author=author)
        book.save()
        assert reload(book).to_dict()["author"].name == "Ann"

    def test_loaded_entity_is_the_session_one(self, rom_redis: redis.Redis) -> None:
        """A fetched reference is the entity the session already holds."""
        author = RelAuthor(name="Ann")
        book = RelBook(title="T", author=author)
        book.save()
        book._data["author"] = Unloaded(author.id)
        assert book.author is author


class TestAssignment:
    def test_assign_by_entity_int_or_numeric_str(self, rom_redis: redis.Redis) -> None:
        """An entity, an int id and a numeric str id all store the same id."""
        author = RelAuthor(name="Ann")
        author.save()
        for value in (author, author.id, str(author.id)):
            book = RelBook(title="T", author=value)
            book.save()
            assert rom_redis.hget(book._pk, "author") == str(author.id).encode()
            assert reload(book).author.name == "Ann"

    def test_assign_after_construction_and_clear(self, rom_redis: redis.Redis) -> None:
        """Assigning a new target or None rewrites the field and the index."""
        first, second = RelAuthor(name="a"), RelAuthor(name="b")
        rom.session.commit()
        book = RelBook(title="T", author=first)
        book.save()
        book.author = second.id
        book.save()
        assert rom_redis.zscore("RelBook:author:idx", book.id) == second.id
        book.author = None
        book.save()
        assert b"author" not in rom_redis.hgetall(book._pk)
        assert rom_redis.zscore("RelBook:author:idx", book.id) is None

    def test_wrong_model_is_refused(self, rom_redis: redis.Redis) -> None:
        """An entity of another model raises InvalidColumnValue."""
        node = RelNode(name="n")
        with pytest.raises(InvalidColumnValue):
            RelBook(title="T", author=node)
        book = RelBook(title="T")
        with pytest.raises(InvalidColumnValue):
            book.author = "not an id"

    def test_one_to_many_cannot_be_assigned(self, rom_redis: redis.Redis) -> None:
        """Assigning or deleting a OneToMany raises InvalidOperation."""
        author = RelAuthor(name="Ann")
        with pytest.raises(InvalidOperation):
            author.books = []
        with pytest.raises(InvalidOperation):
            del author.books

    def test_one_to_one_unique(self, rom_redis: redis.Redis) -> None:
        """A unique OneToOne refuses a second referrer of the same target."""
        author = RelAuthor(name="Ann")
        RelPassport(number="1", holder=author).save()
        with pytest.raises(UniqueKeyViolation):
            RelPassport(number="2", holder=author).save()
        assert rom_redis.hgetall("RelPassport:holder:uidx") == {
            str(author.id).encode(): b"1"
        }


class TestUnsavedTargets:
    def test_construction_does_not_save_the_target(
        self, rom_redis: redis.Redis
    ) -> None:
        """Constructing a referrer with a new target writes nothing (bug 23)."""
        RelBook(title="T", author=RelAuthor(name="Ann"))
        assert data_keys(rom_redis, "*") == []

    def test_saving_the_referrer_saves_the_target_first(
        self, rom_redis: redis.Redis, warm: CallCounter
    ) -> None:
        """save() writes a new target first, in the same script call."""
        INSERTS.clear()
        author = RelAuthor(name="Ann")
        book = RelBook(title="T", author=author)
        with warm.count() as calls:
            book.save()
        # INCR for the target's id, then one script call for both entities.
        assert calls.names == ["INCRBY", "EVALSHA"]
        assert INSERTS == ["author Ann"]
        assert not author._new
        assert rom_redis.hget(author._pk, "name") == b"Ann"
        assert reload(book).author.name == "Ann"

    def test_two_new_entities_referencing_each_other(
        self, rom_redis: redis.Redis
    ) -> None:
        """A cycle of new entities is saved in one write, both ids stored."""
        first = RelNode(name="first")
        second = RelNode(name="second", parent=first)
        first.parent = second
        second.save()
        assert not first._new and not second._new
        assert reload(first).parent.name == "second"
        assert reload(second).parent.name == "first"

    def test_session_commit_saves_targets_before_referrers(
        self, rom_redis: redis.Redis
    ) -> None:
        """Whatever the order in the session, targets are written first."""
        book = RelBook(title="T")
        author = RelAuthor(name="Ann")
        book.author = author
        rom.session.commit()
        assert reload(book).author.name == "Ann"


class TestReverseLookups:
    def test_one_to_many_lists_the_referrers(self, rom_redis: redis.Redis) -> None:
        """Reading a OneToMany returns the entities pointing at this one."""
        author, other = RelAuthor(name="Ann"), RelAuthor(name="Bob")
        books = [RelBook(title=str(i), author=author) for i in range(3)]
        RelBook(title="x", author=other)
        rom.session.commit()
        assert sorted(b.id for b in author.books) == sorted(b.id for b in books)
        assert [b.title for b in other.books] == ["x"]

    def test_one_to_many_of_a_new_entity_is_empty(
        self, rom_redis: redis.Redis, roundtrips: CallCounter
    ) -> None:
        """A new entity has no referrers: no round trip, no id allocated."""
        author = RelAuthor(name="new")
        with roundtrips.count() as calls:
            assert author.books == []
        assert calls.roundtrips == 0
        assert author._data["id"] is None

    def test_filter_and_get_by_take_entity_or_id(self, rom_redis: redis.Redis) -> None:
        """filter()/get_by() on a reference take the entity or its id."""
        author = RelAuthor(name="Ann")
        book = RelBook(title="T", author=author)
        RelBook(title="none")
        rom.session.commit()
        for value in (author, author.id):
            assert [b.id for b in RelBook.query.filter(author=value).all()] == [book.id]
            assert [b.id for b in RelBook.get_by(author=value)] == [book.id]
        found = RelBook.query.filter(author=rom.NOT_NULL).all()
        assert [b.id for b in found] == [book.id]

    def test_reference_by_namespace_or_class_name(self, rom_redis: redis.Redis) -> None:
        """ftable may name the target by namespace or class name; both resolve."""
        group = RelGroup(label="g")
        members = [RelMember(group_ns=group), RelMember(group_name=group)]
        rom.session.commit()
        assert [m.key for m in group.by_ns] == [members[0].key]
        assert [m.key for m in group.by_name] == [members[1].key]
        assert reload(members[0]).group_ns.label == "g"
        assert reload(members[1]).group_name.label == "g"

    def test_one_to_many_finds_a_reference_by_namespace(
        self, rom_redis: redis.Redis
    ) -> None:
        """A column-less OneToMany matches a ManyToOne naming the namespace."""
        shelf = RelShelf()
        slots = [RelSlot(shelf=shelf) for _ in range(2)]
        rom.session.commit()
        assert sorted(s.id for s in shelf.slots) == sorted(s.id for s in slots)


class TestSelfReference:
    def test_tree_of_nodes(self, rom_redis: redis.Redis) -> None:
        """A model referencing itself: parents, children and a self-loop."""
        root = RelNode(name="root")
        kids = [RelNode(name=f"kid{i}", parent=root) for i in range(3)]
        grandkid = RelNode(name="grandkid", parent=kids[0])
        rom.session.commit()
        rom.session.rollback()
        loaded = RelNode.get(grandkid.id)
        assert loaded.parent.parent.name == "root"
        assert sorted(n.name for n in RelNode.get(root.id).children) == [
            "kid0",
            "kid1",
            "kid2",
        ]
        root = RelNode.get(root.id)
        root.parent = root
        root.save()
        assert reload(root).parent.name == "root"
        assert reload(root).parent.parent.parent.name == "root"


class TestDeclaration:
    def test_get_related_model(self) -> None:
        """get_related_model() resolves the target, also through class access."""
        assert RelBook.author.get_related_model() is RelAuthor
        assert RelPassport._columns["holder"].get_related_model() is RelAuthor
        assert RelAuthor._columns["books"].get_related_model() is RelBook
        assert RelMember._columns["group_ns"].get_related_model() is RelGroup
        assert RelMember._columns["group_name"].get_related_model() is RelGroup

    def test_undefined_target_gives_none(self, fresh_models: None) -> None:
        """A reference to a model not defined (yet) resolves to None."""

        class RelDangling(rom.Model):
            other = rom.ManyToOne("RelNotDefinedAnywhere", on_delete="no action")

        assert RelDangling.other.get_related_model() is None

    def test_registry_keeps_ftable_and_resolves_both(self) -> None:
        """MODELS_REFERENCED is keyed by the ftable string, as in rom 1.1.2."""
        assert ("rel:members", "group_ns", "no action") in rom.MODELS_REFERENCED[
            "rel:groups ns"
        ]
        assert ("rel:members", "group_name", "no action") in rom.MODELS_REFERENCED[
            "RelGroup"
        ]
