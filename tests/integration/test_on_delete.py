"""on_delete processing against a real Redis.

Every policy; chains (A -> B -> C cascade); a restrict deep in a chain
aborting the whole delete before anything is written; hooks on cascaded
entities; session.delete() and Query.delete() on related models; and a
parent with 10,000 children under cascade and under set null, leaving
nothing that points at a deleted id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import RestrictError
from rom.exceptions import UniqueKeyViolation
from rom.testing import CallCounter
from rom.testing import data_keys
from tests.integration.dump import dump

# Hook calls as (hook, model name, id), and the (hook, model name) told to raise.
CALLS: list[tuple[str, str, Any]] = []
FAIL: set[tuple[str, str]] = set()


class _Hooked(rom.Model):
    def _hook(self, name: str) -> None:
        CALLS.append((name, type(self).__name__, self._data.get(self._pkey)))
        if (name, type(self).__name__) in FAIL:
            raise RuntimeError(f"{name} refused")

    def _before_delete(self) -> None:
        self._hook("before_delete")

    def _after_delete(self) -> None:
        self._hook("after_delete")

    def _before_update(self) -> None:
        self._hook("before_update")

    def _after_update(self) -> None:
        self._hook("after_update")


# A -> B -> C cascade; D restricts C; E is set null when its B goes.
class OdA(_Hooked):
    name = rom.Text(unique=True)


class OdB(_Hooked):
    a = rom.ManyToOne("OdA", on_delete="cascade")
    tag = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)


class OdC(_Hooked):
    b = rom.ManyToOne("OdB", on_delete="cascade")
    code = rom.Text(unique=True)


class OdD(_Hooked):
    c = rom.ManyToOne("OdC", on_delete="restrict")


class OdE(_Hooked):
    b = rom.ManyToOne("OdB", on_delete="set null")
    n = rom.Integer(index=True)


# One referenced model, one referring model per policy.
class OdOwner(_Hooked):
    _namespace = "od:owner"
    key = rom.PrimaryKey()
    name = rom.Text()


def _fallback_owner() -> int:
    return 1


class OdNulled(_Hooked):
    owner = rom.ManyToOne("od:owner", on_delete="set null")


class OdDefaulted(_Hooked):
    owner = rom.ManyToOne("OdOwner", on_delete="set default", default=_fallback_owner)


class OdIgnored(_Hooked):
    owner = rom.ManyToOne("OdOwner", on_delete="no action")


class OdGuarded(rom.Model):
    name = rom.Text()


class OdGuard(rom.Model):
    guarded = rom.OneToOne("OdGuarded", on_delete="restrict", unique=True)


class OdTree(_Hooked):
    name = rom.Text()
    parent = rom.ManyToOne("OdTree", on_delete="cascade")


class OdStrict(rom.Model):
    parent = rom.ManyToOne("OdStrict", on_delete="restrict")


class OdSeat(rom.Model):
    holder = rom.OneToOne(
        "OdSeatHolder", on_delete="set default", unique=True, default=1
    )


class OdSeatHolder(rom.Model):
    name = rom.Text()


# A primary key named "key" next to a plain column named "id" (bug 21).
class OdOddPk(rom.Model):
    key = rom.PrimaryKey()
    id = rom.Integer()


class OdOddKid(rom.Model):
    parent = rom.ManyToOne("OdOddPk", on_delete="cascade")


# The 10,000-children models.
class OdBigParent(rom.Model):
    name = rom.Text(unique=True)


class OdBigKid(rom.Model):
    parent = rom.ManyToOne("OdBigParent", on_delete="cascade")
    email = rom.Text(unique=True)
    n = rom.Integer(index=True)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)


class OdBigOrphan(rom.Model):
    parent = rom.ManyToOne("OdBigParent", on_delete="set null")
    email = rom.Text(unique=True)
    n = rom.Integer(index=True)


@pytest.fixture(autouse=True)
def _calls() -> Iterator[None]:
    CALLS.clear()
    FAIL.clear()
    yield
    FAIL.clear()


def chain(rom_redis: redis.Redis) -> dict[str, Any]:
    """A with two Bs, each B with two Cs and one E."""
    a = OdA(name="a")
    bs = [OdB(a=a, tag=f"b number {i}") for i in range(2)]
    cs = [OdC(b=b, code=f"c{i}{j}") for i, b in enumerate(bs) for j in range(2)]
    es = [OdE(b=b, n=i) for i, b in enumerate(bs)]
    rom.session.commit()
    CALLS.clear()
    return {"a": a, "bs": bs, "cs": cs, "es": es}


def keys_of(rom_redis: redis.Redis, prefix: str) -> list[bytes]:
    """Every key under ``prefix`` except the id counter."""
    keys = data_keys(rom_redis, f"{prefix}*")
    return sorted(k for k in keys if not k.endswith(b":id:"))


class TestCascade:
    def test_chain_cascades_to_the_end(self, rom_redis: redis.Redis) -> None:
        """Deleting A deletes its Bs and their Cs; Es referencing Bs are nulled."""
        made = chain(rom_redis)
        made["a"].delete()
        for prefix in ("OdA", "OdB", "OdC"):
            assert keys_of(rom_redis, prefix) == [], prefix
        for e in made["es"]:
            row = rom_redis.hgetall(e._pk)
            assert b"b" not in row and row[b"n"] == str(e.n).encode()
            assert e.b is None and not e._modified
        assert not rom_redis.exists("OdE:b:idx")
        assert rom_redis.zcard("OdE:n:idx") == 2
        assert all(x._deleted for x in [made["a"], *made["bs"], *made["cs"]])

    def test_cascaded_entities_get_their_hooks(self, rom_redis: redis.Redis) -> None:
        """Cascade-deleted entities get before/after delete hooks (bug 22)."""
        made = chain(rom_redis)
        made["a"].delete()
        befores = [c for c in CALLS if c[0] == "before_delete"]
        afters = [c for c in CALLS if c[0] == "after_delete"]
        expected = {("OdA", made["a"].id)}
        expected |= {("OdB", b.id) for b in made["bs"]}
        expected |= {("OdC", c.id) for c in made["cs"]}
        assert {(m, i) for _, m, i in befores} == expected
        assert {(m, i) for _, m, i in afters} == expected
        assert len(befores) == len(afters) == 7
        # The entity asked for comes first; set-null referrers are updated.
        assert befores[0][1] == "OdA"
        updates = {(h, m) for h, m, _ in CALLS if h.endswith("update")}
        assert updates == {("before_update", "OdE"), ("after_update", "OdE")}

    def test_a_self_referencing_tree_and_cycle(self, rom_redis: redis.Redis) -> None:
        """Cascades follow self-references; a cycle ends the walk."""
        root = OdTree(name="root")
        kids = [OdTree(name=f"k{i}", parent=root) for i in range(3)]
        grandkids = [OdTree(name=f"g{i}", parent=kids[0]) for i in range(2)]
        other = OdTree(name="other")
        rom.session.commit()
        root.parent = grandkids[1]  # a cycle through the tree
        root.save()
        kids[1].delete()
        assert rom_redis.exists(root._pk)
        root.delete()
        assert [k.decode() for k in keys_of(rom_redis, "OdTree")] == [
            other._pk,
        ]
        assert len([c for c in CALLS if c[0] == "before_delete"]) == 6

    def test_round_trips_of_a_cascade(
        self, rom_redis: redis.Redis, roundtrips: CallCounter
    ) -> None:
        """Per level: one index read and one row read; then one write."""
        made = chain(rom_redis)
        rom.session.rollback()
        a = OdA.get(made["a"].id)
        with roundtrips.count() as calls:
            a.delete()
        # level A: ZRANGEBYSCORE (B), GET Bs; level B: ZRANGEBYSCORE (C, E),
        # GET Cs, GET Es; level C: ZRANGEBYSCORE (D); then EVALSHA.
        assert calls.roundtrips == 7
        assert calls.names.count("EVALSHA") == 1

    def test_the_primary_key_is_used_not_a_column_named_id(
        self, rom_redis: redis.Redis
    ) -> None:
        """Referrers are found by the real primary key, whatever its name."""
        parent = OdOddPk(id=2)
        decoy = OdOddPk(id=1)
        rom.session.commit()
        assert (parent.key, decoy.key) == (1, 2)
        kid, decoy_kid = OdOddKid(parent=parent), OdOddKid(parent=decoy)
        rom.session.commit()
        parent.delete()
        assert not rom_redis.exists(kid._pk, parent._pk)
        assert rom_redis.exists(decoy_kid._pk, decoy._pk) == 2

    def test_cascade_with_the_watch_writer(self, rom_redis: redis.Redis) -> None:
        """With rom._disable_lua_writes(), the same cascade and set null."""
        made = chain(rom_redis)
        rom._disable_lua_writes()
        try:
            made["a"].delete()
        finally:
            rom._enable_lua_writes()
        for prefix in ("OdA", "OdB", "OdC"):
            assert keys_of(rom_redis, prefix) == [], prefix
        assert not rom_redis.exists("OdE:b:idx")
        assert all(b"b" not in rom_redis.hgetall(e._pk) for e in made["es"])


class TestRestrict:
    def test_restrict_deep_in_a_chain_writes_nothing(
        self, rom_redis: redis.Redis
    ) -> None:
        """A restrict on the third level refuses the delete of A up front."""
        made = chain(rom_redis)
        OdD(c=made["cs"][3]).save()
        before = dump(rom_redis)
        with pytest.raises(RestrictError, match=r"OdD\.c"):
            made["a"].delete()
        assert dump(rom_redis) == before
        assert not any(x._deleted for x in [made["a"], *made["bs"], *made["cs"]])
        assert [e.b for e in made["es"]] == made["bs"]
        assert not any(c[0].endswith("update") for c in CALLS)
        # Only A's before hook ran (before the plan); no cascaded hooks.
        assert [c[:2] for c in CALLS] == [("before_delete", "OdA")]

    def test_restrict_message(self, rom_redis: redis.Redis) -> None:
        """The message names the entity, the count and the referring column."""
        guarded = OdGuarded(name="g")
        OdGuard(guarded=guarded).save()
        with pytest.raises(RestrictError) as info:
            guarded.delete()
        assert str(info.value).startswith(
            f"Cannot delete entity OdGuarded with pk {guarded.id}, 1 foreign "
            "references from OdGuard.guarded exist"
        )
        assert isinstance(info.value, rom.InvalidOperation)

    def test_restrict_without_referrers_deletes(self, rom_redis: redis.Redis) -> None:
        """With no referrer left, a restrict does not refuse anything."""
        guarded = OdGuarded(name="g")
        guard = OdGuard(guarded=guarded)
        guard.save()
        guard.delete()
        guarded.delete()
        assert keys_of(rom_redis, "OdGuard") == []

    def test_referrers_deleted_in_the_same_delete_do_not_restrict(
        self, rom_redis: redis.Redis
    ) -> None:
        """A restrict referrer that is itself being deleted does not refuse."""
        loop = OdStrict()
        loop.save()
        loop.parent = loop
        loop.save()
        child = OdStrict(parent=loop)
        child.save()
        with pytest.raises(RestrictError):
            loop.delete()
        rom.session.delete([loop, child])
        assert keys_of(rom_redis, "OdStrict") == []


class TestSetNullAndDefault:
    def owner_with_referrers(self) -> dict[str, Any]:
        fallback = OdOwner(name="fallback")
        fallback.save()
        assert fallback.key == 1
        owner = OdOwner(name="owner")
        made = {
            "fallback": fallback,
            "owner": owner,
            "nulled": OdNulled(owner=owner),
            "defaulted": OdDefaulted(owner=owner),
            "ignored": OdIgnored(owner=owner),
        }
        rom.session.commit()
        CALLS.clear()
        return made

    def test_every_policy_on_one_target(self, rom_redis: redis.Redis) -> None:
        """set null clears, set default resets, no action leaves a dangling id."""
        made = self.owner_with_referrers()
        owner_id = made["owner"].key
        made["owner"].delete()
        assert not rom_redis.exists(made["owner"]._pk)
        assert b"owner" not in rom_redis.hgetall(made["nulled"]._pk)
        assert rom_redis.hget(made["defaulted"]._pk, "owner") == b"1"
        assert rom_redis.zscore("OdDefaulted:owner:idx", made["defaulted"].id) == 1.0
        assert rom_redis.hget(made["ignored"]._pk, "owner") == str(owner_id).encode()
        rom.session.rollback()
        assert OdNulled.get(made["nulled"].id).owner is None
        assert OdDefaulted.get(made["defaulted"].id).owner.name == "fallback"
        assert OdIgnored.get(made["ignored"].id).owner is None

    def test_updated_referrers_run_update_hooks(self, rom_redis: redis.Redis) -> None:
        """Referrers set null/default are saved with their update hooks."""
        made = self.owner_with_referrers()
        made["owner"].delete()
        updated = {(h, m) for h, m, _ in CALLS if "update" in h}
        assert updated == {
            ("before_update", "OdNulled"),
            ("after_update", "OdNulled"),
            ("before_update", "OdDefaulted"),
            ("after_update", "OdDefaulted"),
        }

    def test_a_failing_hook_writes_nothing(self, rom_redis: redis.Redis) -> None:
        """A referrer's before_update raising aborts the delete, memory restored."""
        made = self.owner_with_referrers()
        before = dump(rom_redis)
        FAIL.add(("before_update", "OdDefaulted"))
        with pytest.raises(RuntimeError):
            made["owner"].delete()
        assert dump(rom_redis) == before
        assert made["nulled"].owner is made["owner"]
        assert made["defaulted"].owner is made["owner"]
        assert not made["owner"]._deleted

    def test_a_cascaded_before_delete_aborts_everything(
        self, rom_redis: redis.Redis
    ) -> None:
        """A cascaded entity's before_delete raising writes nothing."""
        made = chain(rom_redis)
        before = dump(rom_redis)
        FAIL.add(("before_delete", "OdC"))
        with pytest.raises(RuntimeError):
            made["a"].delete()
        assert dump(rom_redis) == before

    def test_a_failed_update_deletes_nothing(self, rom_redis: redis.Redis) -> None:
        """Updates go first: one refused (unique) leaves every entity in place."""
        holder = OdSeatHolder(name="default")
        holder.save()
        assert holder.id == 1
        OdSeat(holder=holder).save()
        other = OdSeatHolder(name="other")
        seat = OdSeat(holder=other)
        seat.save()
        with pytest.raises(UniqueKeyViolation):
            other.delete()
        assert rom_redis.exists(other._pk)
        assert not other._deleted
        assert rom_redis.hget(seat._pk, "holder") == str(other.id).encode()
        assert seat.holder is other


class TestBulkDeletes:
    def test_session_delete_applies_policies(self, rom_redis: redis.Redis) -> None:
        """session.delete() of related entities follows on_delete, planned once."""
        first, second = chain(rom_redis), chain_b(rom_redis)
        rom.session.delete([first["a"], second["a"]])
        for prefix in ("OdA", "OdB", "OdC"):
            assert keys_of(rom_redis, prefix) == [], prefix
        assert not rom_redis.exists("OdE:b:idx")

    def test_query_delete_applies_policies(self, rom_redis: redis.Redis) -> None:
        """Query.delete() on a referenced model cascades too."""
        chain(rom_redis)
        chain_b(rom_redis)
        OdA.query.delete(blocksize=1)
        for prefix in ("OdA", "OdB", "OdC"):
            assert keys_of(rom_redis, prefix) == [], prefix

    def test_skip_on_delete(self, rom_redis: redis.Redis) -> None:
        """A keyword set to SKIP_ON_DELETE deletes the entity alone."""
        made = chain(rom_redis)
        made["a"].delete(skip_on_delete_i_really_mean_it=rom.SKIP_ON_DELETE)
        assert not rom_redis.exists(made["a"]._pk)
        assert all(rom_redis.exists(b._pk) for b in made["bs"])

    def test_unreferenced_delete_is_one_round_trip(
        self, rom_redis: redis.Redis, roundtrips: CallCounter
    ) -> None:
        """No referrer to follow: the delete is the only round trip."""
        made = chain(rom_redis)
        made["es"][0].delete()  # loads the writer script if needed
        with roundtrips.count() as calls:
            made["es"][1].delete()
        assert calls.roundtrips == 1


def chain_b(rom_redis: redis.Redis) -> dict[str, Any]:
    """A second, smaller chain (A named a2)."""
    a = OdA(name="a2")
    b = OdB(a=a, tag="second")
    c = OdC(b=b, code="second c")
    rom.session.commit()
    return {"a": a, "bs": [b], "cs": [c]}


class TestTenThousandChildren:
    COUNT = 10_000

    def test_cascade_leaves_nothing_behind(self, rom_redis: redis.Redis) -> None:
        """Deleting a parent of 10,000 cascaded children leaves only counters."""
        parent = OdBigParent(name="big")
        for i in range(self.COUNT):
            OdBigKid(parent=parent, email=f"k{i}@x", n=i, words=f"kid {i} here")
        rom.session.commit()
        rom.session.rollback()
        parent = OdBigParent.get(parent.id)
        started = time.perf_counter()
        parent.delete()
        elapsed = time.perf_counter() - started
        print(f"\ncascade delete of {self.COUNT} children: {elapsed:.2f}s")
        left = sorted(data_keys(rom_redis, "*"))
        assert left == [b"OdBigKid:id:", b"OdBigParent:id:"]

    def test_set_null_leaves_nothing_pointing_at_it(
        self, rom_redis: redis.Redis
    ) -> None:
        """Set null on 10,000 children: no reference, index or unique to the id."""
        parent = OdBigParent(name="big")
        kids = [
            OdBigOrphan(parent=parent, email=f"o{i}@x", n=i) for i in range(self.COUNT)
        ]
        rom.session.commit()
        rom.session.rollback()
        parent = OdBigParent.get(parent.id)
        started = time.perf_counter()
        parent.delete()
        elapsed = time.perf_counter() - started
        print(f"\nset null delete of {self.COUNT} children: {elapsed:.2f}s")
        assert not rom_redis.exists(parent._pk, "OdBigParent:name:uidx")
        assert not rom_redis.exists("OdBigOrphan:parent:idx")
        pipe = rom_redis.pipeline()
        for kid in kids:
            pipe.hget(kid._pk, "parent")
        assert set(pipe.execute()) == {None}
        assert rom_redis.zcard("OdBigOrphan:n:idx") == self.COUNT
        assert rom_redis.hlen("OdBigOrphan:email:uidx") == self.COUNT
        assert b'"parent"' not in rom_redis.hget(kids[0]._pk, "-index-data-")
