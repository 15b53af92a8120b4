"""The callable on_delete policy: ``ManyToOne(..., on_delete=fn)``.

``fn(referrer, deleted)`` runs once per referring entity while the delete is
planned, before anything is written. A referrer it changed is saved in the
same write as the other updates (with its update hooks), one it left alone is
not written, and an exception from it refuses the whole delete: nothing
written, the referrers' in-memory changes undone. Referrers the same delete
cascades to are not passed to it. Every test runs on both write paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

import rom
from rom._registry import MODELS_REFERENCED
from rom.exceptions import ColumnError
from rom.exceptions import InvalidOperation
from rom.exceptions import RestrictError
from tests.integration.dump import dump

Policy = Callable[[Any, Any], object]


@pytest.fixture
def db(rom_redis: redis.Redis, fresh_models: None, write_path: str) -> redis.Redis:
    return rom_redis


class Hooks:
    """Records (hook, model name, id) of the hooked models declared below."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def model(self) -> type[rom.Model]:
        calls = self.calls

        class Hooked(rom.Model):
            _namespace = "CbHooked"

            def _hook(self, name: str) -> None:
                calls.append((name, type(self).__name__, self._data.get(self._pkey)))

            def _before_update(self) -> None:
                self._hook("before_update")

            def _after_update(self) -> None:
                self._hook("after_update")

            def _before_delete(self) -> None:
                self._hook("before_delete")

            def _after_delete(self) -> None:
                self._hook("after_delete")

        return Hooked

    def of(self, kind: str) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if kind in c[0]]


def declare(policy: Policy, *, required: bool = False) -> dict[str, Any]:
    """CbParent; CbChild (owner: ``policy``, box: cascade); CbBox (cascade)."""
    hooks = Hooks()
    base = hooks.model()

    class CbParent(base):  # type: ignore[valid-type,misc]
        name = rom.Text(index=True, keygen=rom.FULL_TEXT)

    class CbBox(base):  # type: ignore[valid-type,misc]
        parent = rom.ManyToOne("CbParent", on_delete="cascade")

    class CbChild(base):  # type: ignore[valid-type,misc]
        owner = rom.ManyToOne("CbParent", on_delete=policy, required=required)
        box = rom.ManyToOne("CbBox", on_delete="cascade")
        tags = rom.Json(default=list)
        n = rom.Integer(index=True, default=0)

    return {
        "Parent": CbParent,
        "Box": CbBox,
        "Child": CbChild,
        "hooks": hooks,
    }


def owner_id(db: redis.Redis, child: Any) -> Any:
    """The stored id of ``child``'s owner (bytes), or None."""
    return db.hget(child._pk, "owner")


def index_of(db: redis.Redis) -> Any:
    """The owner index: [(child id, owner id)]."""
    return db.zrange("CbChild:owner:idx", 0, -1, withscores=True)


class TestChanges:
    def test_repoint_to_another_parent(self, db: redis.Redis) -> None:
        """The callable points the referrer elsewhere; it is saved so."""
        spare: list[Any] = []

        def repoint(referrer: Any, deleted: Any) -> None:
            referrer.owner = spare[0]

        m = declare(repoint)
        old, new = m["Parent"](name="old"), m["Parent"](name="new")
        kids = [m["Child"](owner=old, n=i) for i in range(3)]
        other = m["Child"](owner=new, n=9)
        rom.session.commit()
        spare.append(new)
        m["hooks"].calls.clear()
        old.delete()
        assert not db.exists(old._pk)
        for kid in [*kids, other]:
            assert owner_id(db, kid) == str(new.id).encode()
            assert kid.owner is new and not kid._modified
        assert sorted(index_of(db)) == sorted(
            (str(k.id).encode(), float(new.id)) for k in [*kids, other]
        )
        updated = {(h, i) for h, _, i in m["hooks"].of("update")}
        assert updated == {
            (h, k.id) for k in kids for h in ("before_update", "after_update")
        }
        rom.session.rollback()
        assert [m["Child"].get(k.id).owner.name for k in kids] == ["new"] * 3

    def test_set_none(self, db: redis.Redis) -> None:
        """Setting the column to None clears it like 'set null'."""

        def clear(referrer: Any, deleted: Any) -> None:
            referrer.owner = None

        m = declare(clear)
        parent = m["Parent"](name="p")
        kid = m["Child"](owner=parent, n=4)
        rom.session.commit()
        parent.delete()
        row = db.hgetall(kid._pk)
        assert b"owner" not in row and row[b"n"] == b"4"
        assert not db.exists("CbChild:owner:idx")
        assert kid.owner is None and not kid._modified
        assert [h for h, _, _ in m["hooks"].of("update")] == [
            "before_update",
            "after_update",
        ]

    def test_other_columns_and_in_place_changes_are_saved(
        self, db: redis.Redis
    ) -> None:
        """A changed referrer is saved whole: other columns, in-place Json."""

        def mark(referrer: Any, deleted: Any) -> None:
            referrer.tags.append(f"orphan of {deleted.name}")
            referrer.n = 7

        m = declare(mark)
        parent = m["Parent"](name="p")
        kid = m["Child"](owner=parent)
        rom.session.commit()
        parent.delete()
        assert db.hget(kid._pk, "tags") == b'["orphan of p"]'
        assert db.hget(kid._pk, "n") == b"7"
        assert db.zscore("CbChild:n:idx", kid.id) == 7.0
        # The reference itself was left: it dangles, as the callable chose.
        assert owner_id(db, kid) == str(parent.id).encode()

    def test_left_alone_dangles_and_is_not_written(self, db: redis.Redis) -> None:
        """An unchanged referrer is not saved: the reference dangles."""
        seen: list[Any] = []

        def look(referrer: Any, deleted: Any) -> None:
            seen.append(referrer.owner)  # reading (and loading) is no change
            referrer.n = referrer.n  # nor is assigning the same value

        m = declare(look)
        parent = m["Parent"](name="p")
        kid = m["Child"](owner=parent, n=3)
        rom.session.commit()
        before = dump(db)
        m["hooks"].calls.clear()
        parent.delete()
        assert seen == [parent] and not kid._modified
        after = dump(db)
        assert after[kid._pk.encode()] == before[kid._pk.encode()]
        assert index_of(db) == [(str(kid.id).encode(), float(parent.id))]
        assert m["hooks"].of("update") == []
        rom.session.rollback()
        assert m["Child"].get(kid.id).owner is None  # a dangling id reads as None


class TestArguments:
    def test_each_referrer_with_its_deleted_entity(self, db: redis.Redis) -> None:
        """One call per referrer, with the entity it referenced."""
        calls: list[tuple[Any, Any]] = []

        def record(referrer: Any, deleted: Any) -> None:
            calls.append((referrer, deleted))

        m = declare(record)
        a, b, keep = (m["Parent"](name=n) for n in "abk")
        kids = {
            "a": [m["Child"](owner=a, n=i) for i in range(2)],
            "b": [m["Child"](owner=b, n=5)],
            "k": [m["Child"](owner=keep, n=6)],
        }
        rom.session.commit()
        rom.session.delete([a, b])
        assert len(calls) == 3
        got = {(type(r).__name__, r.id, d.name) for r, d in calls}
        assert got == {("CbChild", k.id, n) for n in "ab" for k in kids[n]}
        for referrer, deleted in calls:
            assert deleted is (a if deleted.name == "a" else b)
            assert referrer is next(
                k for ks in kids.values() for k in ks if k.id == referrer.id
            )
            assert not referrer._deleted and deleted._deleted

    def test_referrers_loaded_fresh(self, db: redis.Redis) -> None:
        """Outside a session the referrer is loaded for the callable."""
        calls: list[tuple[Any, Any, Any]] = []

        def record(referrer: Any, deleted: Any) -> None:
            # The reference still resolves: nothing is written yet.
            calls.append((referrer, deleted, referrer.owner))

        m = declare(record)
        parent = m["Parent"](name="p")
        kid = m["Child"](owner=parent, n=2)
        rom.session.commit()
        rom.session.rollback()
        loaded = m["Parent"].get(parent.id)
        loaded.delete()
        [(referrer, deleted, owner)] = calls
        assert deleted is loaded and owner is loaded
        assert type(referrer) is m["Child"] and referrer.id == kid.id
        assert referrer is not kid and referrer.n == 2

    def test_cascaded_referrers_are_not_passed(self, db: redis.Redis) -> None:
        """A referrer the same delete cascades to is deleted, not called."""
        calls: list[Any] = []

        def record(referrer: Any, deleted: Any) -> None:
            calls.append(referrer)
            referrer.owner = None

        m = declare(record)
        parent = m["Parent"](name="p")
        box = m["Box"](parent=parent)
        boxed = m["Child"](owner=parent, box=box)  # cascaded through its box
        loose = m["Child"](owner=parent)
        elsewhere = m["Child"](owner=parent, box=m["Box"]())
        rom.session.commit()
        parent.delete()
        assert calls == [loose, elsewhere] or calls == [elsewhere, loose]
        assert not db.exists(parent._pk, box._pk, boxed._pk)
        assert boxed._deleted
        for kid in (loose, elsewhere):
            assert db.exists(kid._pk) and owner_id(db, kid) is None
        assert db.hget(elsewhere._pk, "box") == str(elsewhere.box.id).encode()
        gone = {(n, i) for h, n, i in m["hooks"].calls if h == "after_delete"}
        assert gone == {
            ("CbParent", parent.id),
            ("CbBox", box.id),
            ("CbChild", boxed.id),
        }

    def test_deleting_the_referrer_too(self, db: redis.Redis) -> None:
        """Referrers deleted alongside (asked for) are not passed either."""
        calls: list[Any] = []
        m = declare(lambda referrer, deleted: calls.append(referrer))
        parent = m["Parent"](name="p")
        kid = m["Child"](owner=parent)
        rom.session.commit()
        rom.session.delete([parent, kid])
        assert calls == []
        assert not db.exists(parent._pk, kid._pk)

    def test_with_set_null_and_cascade_siblings(
        self, db: redis.Redis, fresh_models: None
    ) -> None:
        """Callable, set null and cascade referrers of one entity, one write."""

        def repoint(referrer: Any, deleted: Any) -> None:
            referrer.owner = spare

        m = declare(repoint)

        class CbNulled(rom.Model):
            owner = rom.ManyToOne("CbParent", on_delete="set null")

        parent, spare = m["Parent"](name="p"), m["Parent"](name="spare")
        box = m["Box"](parent=parent)
        kid = m["Child"](owner=parent, n=1)
        nulled = CbNulled(owner=parent)
        rom.session.commit()
        parent.delete()
        assert not db.exists(parent._pk, box._pk)
        assert owner_id(db, kid) == str(spare.id).encode()
        assert db.hget(nulled._pk, "owner") is None
        assert kid.owner is spare and nulled.owner is None

    def test_one_to_one(self, db: redis.Redis, fresh_models: None) -> None:
        """OneToOne takes a callable too."""

        class CbSeat(rom.Model):
            name = rom.Text()

        spare = CbSeat(name="spare")
        spare.save()

        def move(referrer: Any, deleted: Any) -> None:
            referrer.seat = spare

        class CbHolder(rom.Model):
            seat = rom.OneToOne("CbSeat", on_delete=move, unique=True)

        seat = CbSeat(name="s")
        holder = CbHolder(seat=seat)
        rom.session.commit()
        seat.delete()
        assert db.hget(holder._pk, "seat") == str(spare.id).encode()
        assert db.hget("CbHolder:seat:uidx", str(spare.id)) == str(holder.id).encode()
        assert not db.hexists("CbHolder:seat:uidx", str(seat.id))


class TestRefusal:
    def test_raising_writes_nothing_and_undoes(self, db: redis.Redis) -> None:
        """An exception refuses the delete; the referrers are restored."""
        calls: list[Any] = []

        def picky(referrer: Any, deleted: Any) -> None:
            calls.append(referrer)
            referrer.tags.append("moved")
            referrer.n = 100
            referrer.owner = spare
            if len(calls) == 2:
                raise RuntimeError("not this one")

        m = declare(picky)
        parent, spare = m["Parent"](name="p"), m["Parent"](name="spare")
        box = m["Box"](parent=parent)
        kids = [m["Child"](owner=parent, n=i, tags=[i]) for i in range(3)]
        rom.session.commit()
        before = dump(db)
        m["hooks"].calls.clear()
        with pytest.raises(RuntimeError, match="not this one"):
            parent.delete()
        assert dump(db) == before
        assert len(calls) == 2
        for i, kid in enumerate(kids):
            assert kid.owner is parent and kid.n == i and kid.tags == [i]
            assert not kid._modified
        assert not parent._deleted and not box._deleted
        assert m["hooks"].of("update") == [] and m["hooks"].of("after") == []
        # The entities are still usable: a later delete goes through.
        calls.append(None)
        parent.delete()
        assert all(owner_id(db, k) == str(spare.id).encode() for k in kids)

    def test_a_refused_value_writes_nothing(self, db: redis.Redis) -> None:
        """None on a required column (or an unsaved target) refuses the delete."""
        targets: list[Any] = [None]

        def assign(referrer: Any, deleted: Any) -> None:
            referrer.owner = targets[0]

        m = declare(assign, required=True)
        parent = m["Parent"](name="p")
        kid = m["Child"](owner=parent)
        rom.session.commit()
        before = dump(db)
        with pytest.raises(InvalidOperation, match="required"):
            parent.delete()
        assert dump(db) == before and kid.owner is parent
        targets[0] = m["Parent"](name="unsaved")
        with pytest.raises(InvalidOperation, match="not saved"):
            parent.delete()
        assert dump(db) == before and kid.owner is parent and not kid._modified
        assert not parent._deleted

    def test_a_failing_update_hook_undoes_the_callables(self, db: redis.Redis) -> None:
        """A referrer's before_update raising after the callables ran."""

        def repoint(referrer: Any, deleted: Any) -> None:
            referrer.owner = spare
            referrer.n = 50

        m = declare(repoint)
        parent, spare = m["Parent"](name="p"), m["Parent"](name="spare")
        kid = m["Child"](owner=parent, n=1)
        rom.session.commit()
        before = dump(db)

        def refuse() -> None:
            raise RuntimeError("no update")

        kid._before_update = refuse
        with pytest.raises(RuntimeError, match="no update"):
            parent.delete()
        assert dump(db) == before
        assert kid.owner is parent and kid.n == 1 and not kid._modified

    def test_restrict_refuses_before_any_call(
        self, db: redis.Redis, fresh_models: None
    ) -> None:
        """A restrict elsewhere refuses the delete before callables run."""
        calls: list[Any] = []
        m = declare(lambda referrer, deleted: calls.append(referrer))

        class CbGuard(rom.Model):
            parent = rom.ManyToOne("CbParent", on_delete="restrict")

        parent = m["Parent"](name="p")
        m["Child"](owner=parent)
        CbGuard(parent=parent)
        rom.session.commit()
        before = dump(db)
        with pytest.raises(RestrictError):
            parent.delete()
        assert calls == [] and dump(db) == before


class TestDeclaration:
    def test_the_callable_is_registered(self, fresh_models: None) -> None:
        """MODELS_REFERENCED keeps the callable itself as the action."""

        def policy(referrer: Any, deleted: Any) -> None:
            pass

        class CbRegistered(rom.Model):
            owner = rom.ManyToOne("CbTarget", on_delete=policy)

        assert CbRegistered._columns["owner"].on_delete is policy
        assert ("CbRegistered", "owner", policy) in MODELS_REFERENCED["CbTarget"]

    @pytest.mark.parametrize("value", ["explode", 3, None, ("cascade",)])
    def test_other_values_are_refused(self, value: Any) -> None:
        """Non-callables outside ON_DELETE raise; the message names callables."""
        with pytest.raises(ColumnError, match="callable"):
            rom.ManyToOne("CbTarget", on_delete=value)
        with pytest.raises(ColumnError, match="callable"):
            rom.OneToOne("CbTarget", on_delete=value)

    def test_a_callable_on_a_required_column(self) -> None:
        """Unlike 'set null', a callable is fine on a required column."""
        column = rom.ManyToOne("CbTarget", on_delete=print, required=True)
        assert column.on_delete is print
