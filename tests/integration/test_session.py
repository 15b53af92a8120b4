"""The session: the per-thread identity map and unit of work.

The fixture ``rom_redis`` rolls the session back before and after each
test; tests that switch to the null session restore the default themselves.
"""

import gc
import threading
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
import rom.util
from rom.exceptions import ORMError
from rom.exceptions import UniqueKeyViolation
from rom.testing import CallCounter
from rom.testing import data_keys

DELETE_CALLS: list[tuple[str, Any]] = []


class SessItem(rom.Model):
    num = rom.Integer(index=True)
    code = rom.Text(unique=True)


class SessDeletable(rom.Model):
    num = rom.Integer()

    def _before_delete(self) -> None:
        DELETE_CALLS.append(("before", self.id))

    def _after_delete(self) -> None:
        DELETE_CALLS.append(("after", self.id))


@pytest.fixture
def null_default() -> Iterator[None]:
    """Switch the global default to the null session for the test."""
    rom.util.use_null_session()
    try:
        yield
    finally:
        rom.util.use_rom_session()


@pytest.fixture
def delete_calls() -> Iterator[list[tuple[str, Any]]]:
    """The delete hook log of SessDeletable, empty at the start."""
    DELETE_CALLS.clear()
    yield DELETE_CALLS
    DELETE_CALLS.clear()


def saved(**values: Any) -> SessItem:
    """A saved SessItem."""
    entity = SessItem(**values)
    entity.save()
    return entity


def in_thread(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a new thread and return its result (or raise its error)."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # handed back to the test thread
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    return result["value"]


class TestIdentityMap:
    def test_session_is_shared_by_the_modules(self) -> None:
        """rom.session and rom.util.session are the same Session object."""
        assert rom.session is rom.util.session
        assert isinstance(rom.session, rom.util.Session)

    def test_get_returns_the_same_object(self, rom_redis: redis.Redis) -> None:
        """Loading the same row twice gives the same object."""
        id = saved(num=1).id
        rom.session.rollback()
        first = SessItem.get(id)
        assert SessItem.get(id) is first
        assert SessItem.get([id]) == [first]
        assert SessItem.get_by(num=(1, 1)) == [first]

    def test_session_get_by_pk_string(self, rom_redis: redis.Redis) -> None:
        """session.get('<ns>:<id>') returns the cached entity, else None."""
        entity = saved(num=1)
        assert rom.session.get(entity._pk) is entity
        assert rom.session.get("SessItem:999") is None

    def test_assignment_registers_dirty_entity(self, rom_redis: redis.Redis) -> None:
        """A modified entity is held in known until it is saved."""
        entity = saved(num=1)
        assert entity._pk not in rom.session.known
        entity.num = 2
        assert rom.session.known[entity._pk] is entity
        entity.save()
        assert entity._pk not in rom.session.known

    def test_forget_drops_the_entity(self, rom_redis: redis.Redis) -> None:
        """After forget(), get() reads Redis into a new object."""
        entity = saved(num=1)
        rom.session.forget(entity)
        assert rom.session.get(entity._pk) is None
        again = SessItem.get(entity.id)
        assert again is not entity
        assert again.num == 1

    def test_delete_forgets(self, rom_redis: redis.Redis) -> None:
        """A deleted entity is no longer in the session."""
        entity = saved(num=1)
        entity.delete()
        assert rom.session.get(entity._pk) is None

    def test_rollback_forgets_everything(self, rom_redis: redis.Redis) -> None:
        """rollback() clears the map; pending changes are never written."""
        entity = saved(num=1)
        entity.num = 2
        SessItem(num=3)
        rom.session.rollback()
        assert rom.session.get(entity._pk) is None
        assert rom.session.commit() == 0
        assert rom_redis.hget(entity._pk, "num") == b"1"
        assert data_keys(rom_redis, "SessItem:2") == []


class TestWeakMap:
    """Clean entities are held weakly: kept while used, forgotten after."""

    def test_dropped_entity_is_forgotten(self, rom_redis: redis.Redis) -> None:
        """Once nothing refers to a clean entity, the session forgets it and
        the next read builds a new object from Redis."""
        saved(num=1)
        rom.session.commit()
        entity = SessItem.get(1)
        key = entity._pk
        assert rom.session.get(key) is entity
        del entity
        gc.collect()
        assert rom.session.get(key) is None
        assert key not in rom.session.wknown
        again = SessItem.get(1)
        assert again.num == 1
        assert rom.session.get(key) is again
        assert SessItem.get(1) is again

    def test_entities_read_in_bulk_are_held_weakly(
        self, rom_redis: redis.Redis
    ) -> None:
        """get() of many ids and queries register each entity weakly."""
        for num in range(3):
            saved(num=num)
        rom.session.commit()
        many = SessItem.get([1, 2, 3])
        assert SessItem.query.filter(num=(0, 2)).all() == many
        assert [rom.session.get(e._pk) for e in many] == many
        assert sorted(rom.session.wknown) == ["SessItem:1", "SessItem:2", "SessItem:3"]
        del many[1:]
        gc.collect()
        assert list(rom.session.wknown) == ["SessItem:1"]
        assert len(rom.session.wknown) == 1

    def test_a_replaced_entry_outlives_the_old_entity(
        self, rom_redis: redis.Redis
    ) -> None:
        """When a row's entry is replaced by a newer object, the death of the
        old one does not remove the new one's entry."""
        saved(num=1)
        rom.session.commit()
        old = SessItem.get(1)
        rom.session.rollback()
        new = SessItem.get(1)
        assert new is not old
        del old
        gc.collect()
        assert rom.session.get("SessItem:1") is new
        assert rom.session.wknown["SessItem:1"] is new

    def test_wknown_reads_as_a_mapping_of_entities(
        self, rom_redis: redis.Redis
    ) -> None:
        """session.wknown maps '<ns>:<id>' to live entities (as rom 1.1.2's
        WeakValueDictionary did): get, in, [], len, iteration, items."""
        entity = saved(num=1)
        weak = rom.session.wknown
        assert weak["SessItem:1"] is entity
        assert weak.get("SessItem:1") is entity
        assert weak.get("SessItem:9") is None
        assert "SessItem:1" in weak and "SessItem:9" not in weak
        assert dict(weak.items()) == {"SessItem:1": entity}
        assert list(weak.values()) == [entity]
        with pytest.raises(KeyError):
            weak["SessItem:9"]
        del weak["SessItem:1"]
        assert rom.session.get("SessItem:1") is None
        weak["SessItem:1"] = entity
        assert rom.session.get("SessItem:1") is entity

    def test_the_null_session_holds_nothing(
        self, rom_redis: redis.Redis, null_default: None
    ) -> None:
        """With the null session, reads build entities the map never sees."""
        rom.util.use_rom_session()
        saved(num=1)
        rom.session.commit()
        rom.session.rollback()
        rom.util.use_null_session()
        first = SessItem.get(1)
        assert SessItem.get(1) is not first
        assert len(rom.session.wknown) == 0


class TestFlushAndCommit:
    def test_commit_saves_new_and_modified(self, rom_redis: redis.Redis) -> None:
        """commit() writes every new and modified entity and counts columns."""
        entity = saved(num=1)
        entity.num = 2
        SessItem(num=3, code="c")
        assert rom.session.commit() == 1 + 3
        assert rom_redis.hget(entity._pk, "num") == b"2"
        assert SessItem.get_by(code="c").num == 3

    def test_commit_saves_dropped_new_entities(self, rom_redis: redis.Redis) -> None:
        """An unsaved entity is written by commit() even with no reference left."""
        SessItem(num=7)
        gc.collect()
        rom.session.commit()
        assert rom_redis.hget("SessItem:1", "num") == b"7"

    def test_commit_of_clean_session_is_zero(self, rom_redis: redis.Redis) -> None:
        """With nothing pending, commit() writes nothing and returns 0."""
        saved(num=1)
        assert rom.session.commit() == 0

    def test_commit_empties_known(self, rom_redis: redis.Redis) -> None:
        """After commit() no entity is held strongly."""
        entity = saved(num=1)
        entity.num = 2
        rom.session.commit()
        assert len(rom.session.known) == 0

    def test_commit_is_one_round_trip(
        self, rom_redis: redis.Redis, roundtrips: CallCounter
    ) -> None:
        """Committing several dirty entities costs one round trip."""
        saved(num=0)
        entities = [saved(num=n) for n in range(3)]
        for entity in entities:
            entity.num += 10
        SessItem(num=99)
        with roundtrips.count() as calls:
            rom.session.commit()
        assert calls.roundtrips == 1

    def test_flush_keeps_the_cache(self, rom_redis: redis.Redis) -> None:
        """flush() saves pending entities and keeps returning the same objects."""
        entity = saved(num=1)
        entity.num = 2
        assert rom.session.flush() == 1
        assert rom_redis.hget(entity._pk, "num") == b"2"
        assert SessItem.get(entity.id) is entity

    def test_full_rewrites_every_column(self, rom_redis: redis.Redis) -> None:
        """commit(full=True) counts every column of the saved entities."""
        entity = saved(num=1, code="c")
        entity.num = 2
        assert rom.session.commit(full=True) == 3

    def test_all_saves_unmodified_entities(self, rom_redis: redis.Redis) -> None:
        """commit(all=True, full=True) also rewrites clean cached entities."""
        entity = saved(num=1)
        assert rom.session.commit(full=True) == 0
        assert rom.session.commit(all=True, full=True) == 3
        assert entity._modified is False

    def test_force_skips_the_race_check(self, rom_redis: redis.Redis) -> None:
        """commit(force=True) overwrites another writer's change."""
        entity = saved(num=1)
        rom_redis.hset(entity._pk, "num", "50")
        entity.num = 2
        rom.session.commit(force=True)
        assert rom_redis.hget(entity._pk, "num") == b"2"

    def test_first_error_stops_the_rest(self, rom_redis: redis.Redis) -> None:
        """A failing entity aborts the save of those after it."""
        saved(code="taken")
        good = SessItem(num=1)
        bad = SessItem(code="taken")
        later = SessItem(num=3)
        with pytest.raises(UniqueKeyViolation):
            rom.session.save(good, bad, later)
        assert good._new is False
        assert (bad._new, later._new) == (True, True)
        assert SessItem.get_by(num=(3, 3)) == []


class TestSaveMany:
    def test_save_accepts_nested_lists(self, rom_redis: redis.Redis) -> None:
        """session.save() takes entities in arbitrarily nested lists and tuples."""
        a, b, c = SessItem(num=1), SessItem(num=2), SessItem(num=3)
        assert rom.session.save([a, [b, (c,)]]) == 9
        assert [e.num for e in SessItem.get([a.id, b.id, c.id])] == [1, 2, 3]

    def test_save_skips_clean_and_deleted(self, rom_redis: redis.Redis) -> None:
        """Unmodified and deleted entities are not saved."""
        clean = saved(num=1)
        gone = saved(num=2)
        gone.delete()
        assert rom.session.save(clean, gone) == 0
        assert rom_redis.exists(gone._pk) == 0

    def test_save_all_includes_clean(self, rom_redis: redis.Redis) -> None:
        """all=True saves unmodified entities too."""
        clean = saved(num=1)
        assert rom.session.save(clean, all=True, full=True) == 3

    @pytest.mark.parametrize("bad", [5, "x", None, {"a": 1}, SessItem])
    def test_non_models_are_refused(self, rom_redis: redis.Redis, bad: Any) -> None:
        """Anything but entities and lists of them raises ORMError."""
        with pytest.raises(
            ORMError, match="Cannot save an object that is not an instance of a Model"
        ):
            rom.session.save(SessItem(num=1), [bad])


class TestDeleteMany:
    def test_delete_removes_rows_and_runs_hooks(
        self, rom_redis: redis.Redis, delete_calls: list[tuple[str, Any]]
    ) -> None:
        """session.delete() removes every row and calls both delete hooks."""
        a, b = SessDeletable(num=1), SessDeletable(num=2)
        rom.session.save(a, b)
        rom.session.delete([a, (b,)])
        assert data_keys(rom_redis, "SessDeletable:[0-9]*") == []
        assert sorted(delete_calls) == sorted(
            [("before", a.id), ("before", b.id), ("after", a.id), ("after", b.id)]
        )
        assert a._deleted and b._deleted
        assert rom.session.get(a._pk) is None

    def test_delete_is_one_round_trip(
        self, rom_redis: redis.Redis, roundtrips: CallCounter
    ) -> None:
        """Deleting several entities on one connection is one round trip."""
        entities = [saved(num=n, code=str(n)) for n in range(3)]
        with roundtrips.count() as calls:
            rom.session.delete(entities)
        assert calls.roundtrips == 1
        assert rom_redis.hlen("SessItem:code:uidx") == 0

    def test_deleted_entities_are_skipped(
        self, rom_redis: redis.Redis, delete_calls: list[tuple[str, Any]]
    ) -> None:
        """Already deleted entities get no hooks a second time."""
        entity = SessDeletable(num=1)
        entity.save()
        entity.delete()
        delete_calls.clear()
        rom.session.delete(entity)
        assert delete_calls == []

    def test_non_models_are_refused(self, rom_redis: redis.Redis) -> None:
        """A non-entity raises ORMError."""
        with pytest.raises(ORMError):
            rom.session.delete([object()])


class TestRefresh:
    def test_refresh_reloads_nested_entities(self, rom_redis: redis.Redis) -> None:
        """session.refresh() reloads entities given in nested lists."""
        a, b = saved(num=1), saved(num=2)
        rom_redis.hset(a._pk, "num", "10")
        rom_redis.hset(b._pk, "num", "20")
        rom.session.refresh([a, [(b,)]])
        assert (a.num, b.num) == (10, 20)

    def test_refresh_force_discards_changes(self, rom_redis: redis.Redis) -> None:
        """force=True refreshes modified entities too."""
        entity = saved(num=1)
        entity.num = 5
        rom.session.refresh(entity, force=True)
        assert entity.num == 1

    def test_refresh_readds_new_entities(self, rom_redis: redis.Redis) -> None:
        """A new entity is not read, only registered again."""
        entity = SessItem(num=1)
        rom.session.rollback()
        rom.session.refresh(entity)
        assert entity.num == 1
        rom.session.commit()
        assert entity._new is False

    def test_refresh_refuses_non_models(self, rom_redis: redis.Redis) -> None:
        """A non-entity raises ORMError."""
        with pytest.raises(ORMError):
            rom.session.refresh(["x"])

    def test_refresh_all(self, rom_redis: redis.Redis) -> None:
        """refresh_all() reloads every cached entity."""
        a, b = saved(num=1), saved(num=2)
        b.num = 3
        rom_redis.hset(a._pk, "num", "10")
        rom.session.refresh_all(force=True)
        assert (a.num, b.num) == (10, 2)


class TestNullSession:
    def test_default_is_rom_session(self) -> None:
        """Caching is on unless switched off."""
        assert rom.session.null_session is False

    def test_nothing_is_cached(
        self, rom_redis: redis.Redis, null_default: None
    ) -> None:
        """Under the null session get() always reads a new object."""
        id = saved(num=1).id
        first = SessItem.get(id)
        assert SessItem.get(id) is not first
        assert rom.session.get(first._pk) is None

    def test_commit_ignores_new_entities(
        self, rom_redis: redis.Redis, null_default: None
    ) -> None:
        """New entities are not registered, so commit() does not save them."""
        entity = SessItem(num=1)
        assert rom.session.commit() == 0
        assert data_keys(rom_redis) == []
        entity.save()
        assert rom_redis.hget(entity._pk, "num") == b"1"

    def test_commit_saves_entities_cached_before(self, rom_redis: redis.Redis) -> None:
        """Entities cached before the switch are still committed."""
        entity = saved(num=1)
        entity.num = 2
        rom.util.use_null_session()
        try:
            rom.session.commit()
        finally:
            rom.util.use_rom_session()
        assert rom_redis.hget(entity._pk, "num") == b"2"

    def test_use_rom_session_restores_caching(
        self, rom_redis: redis.Redis, null_default: None
    ) -> None:
        """use_rom_session() turns caching back on."""
        rom.util.use_rom_session()
        id = saved(num=1).id
        assert SessItem.get(id) is SessItem.get(id)

    def test_thread_override_is_per_thread(self, rom_redis: redis.Redis) -> None:
        """Setting null_session in one thread leaves other threads alone."""

        def switch_off() -> bool:
            rom.session.null_session = True
            return bool(rom.session.null_session)

        assert in_thread(switch_off) is True
        assert rom.session.null_session is False
        assert in_thread(lambda: rom.session.null_session) is False

    def test_thread_override_beats_global_default(
        self, rom_redis: redis.Redis, null_default: None
    ) -> None:
        """A thread's own setting wins over the global default; del restores it."""
        rom.session.null_session = False
        try:
            assert rom.session.null_session is False
            id = saved(num=1).id
            assert SessItem.get(id) is SessItem.get(id)
        finally:
            del rom.session.null_session
        assert rom.session.null_session is True

    def test_new_threads_follow_global_default(
        self, rom_redis: redis.Redis, null_default: None
    ) -> None:
        """A thread without an override reads the global default."""
        assert in_thread(lambda: rom.session.null_session) is True


class TestThreads:
    def test_threads_have_separate_maps(self, rom_redis: redis.Redis) -> None:
        """Another thread loads its own object for the same row."""
        entity = saved(num=1)
        other = in_thread(lambda: SessItem.get(entity.id))
        assert other is not entity
        assert other.num == 1
        assert SessItem.get(entity.id) is entity

    def test_commit_only_saves_own_thread(self, rom_redis: redis.Redis) -> None:
        """commit() in one thread never writes another thread's entities."""
        mine = SessItem(num=1)

        def theirs() -> int:
            SessItem(num=2)
            return rom.session.commit()

        assert in_thread(theirs) == 3
        assert mine._new is True
        assert [e.num for e in SessItem.get([1, 2])] == [2]
        rom.session.commit()
        assert mine._new is False

    def test_rollback_only_clears_own_thread(self, rom_redis: redis.Redis) -> None:
        """rollback() in another thread leaves this thread's map alone."""
        entity = saved(num=1)
        in_thread(rom.session.rollback)
        assert SessItem.get(entity.id) is entity

    def test_two_threads_work_concurrently(self, rom_redis: redis.Redis) -> None:
        """Two threads building and committing at once each save their own."""
        barrier = threading.Barrier(2)
        counts: dict[int, int] = {}

        def work(n: int) -> None:
            for i in range(5):
                SessItem(num=n * 100 + i)
            barrier.wait(10)
            counts[n] = rom.session.commit()

        threads = [threading.Thread(target=work, args=(n,)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert counts == {1: 15, 2: 15}
        nums = sorted(e.num for e in SessItem.get(list(range(1, 11))))
        assert nums == [100, 101, 102, 103, 104, 200, 201, 202, 203, 204]
        assert rom.session.commit() == 0
