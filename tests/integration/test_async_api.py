"""The async API (aget, asave, acommit, aall, ...) beside its sync twin.

Each behaviour test has one body, run for both APIs through the ``api``
fixture (see ``async_api.py``): same results, same errors, same round
trips, same bytes in Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

import rom
import rom.connection
from rom import _scripts
from rom.exceptions import DataRaceError
from rom.exceptions import EntityDeletedError
from rom.exceptions import InvalidOperation
from rom.exceptions import UniqueKeyViolation
from rom.exceptions import WrongClientError
from rom.testing import CallCounter
from rom.testing import data_keys

from .async_api import Api
from .test_exactly_once import lose_replies

HOOKS: list[str] = []


class AsItem(rom.Model):
    num = rom.Integer(index=True)
    code = rom.Text(unique=True)


class AsParent(rom.Model):
    name = rom.Text()
    children = rom.OneToMany("AsChild")


class AsChild(rom.Model):
    parent = rom.ManyToOne("AsParent", on_delete="cascade")
    num = rom.Integer()


class AsAccount(rom.Model):
    coins = rom.Integer(index=True)


class AsTxn(rom.Model):
    sent = rom.Integer(default=0)


class AsTag(rom.Model):
    name = rom.Text()


class AsPost(rom.Model):
    title = rom.Text()
    tags = rom.ManyToMany("AsTag", related_name="posts")


class AsHooked(rom.Model):
    num = rom.Integer()

    def _before_insert(self) -> None:
        HOOKS.append("before_insert")

    def _after_insert(self) -> None:
        HOOKS.append("after_insert")


class AsAsyncHooked(rom.Model):
    num = rom.Integer()

    async def _before_insert(self) -> None:  # type: ignore[override]
        HOOKS.append("async before_insert")

    async def _after_delete(self) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        HOOKS.append("async after_delete")


# Round trips of saving one new AsItem: one script call, or the WATCH
# writer's transaction (WATCH; the record, the unique entry, the counter
# and the stored index record read under it; the TYPE check; MULTI/EXEC).
WRITE_TRIPS = {"lua": 1, "watch": 8}


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, rom_redis: redis.Redis) -> Api:
    # Scripts loaded up front: a first NOSCRIPT would add round trips.
    for name in ("write_entity", "fetch_by_unique", "search", "page", "many_to_many"):
        rom_redis.script_load(_scripts.load(name).source)
    return Api(request.param)


@pytest.fixture
def hooks() -> Iterator[list[str]]:
    HOOKS.clear()
    yield HOOKS
    HOOKS.clear()


def test_save_then_get_costs_what_sync_costs(
    api: Api, roundtrips: CallCounter, write_path: str
) -> None:
    async def body(api: Api) -> None:
        item = AsItem(num=3, code="a")
        with roundtrips.count() as saving:
            assert await api.call(item, "save") == 3
        assert saving.roundtrips == WRITE_TRIPS[write_path] and item.id == 1
        rom.session.rollback()
        with roundtrips.count() as getting:
            got = await api.call(AsItem, "get", 1)
        assert getting.roundtrips == 1
        assert got is not None and (got.num, got.code) == (3, "a")
        assert await api.call(AsItem, "get", 1) is got  # the session's entity
        rom.session.rollback()
        AsItem(num=4, code="b").save()
        rom.session.rollback()
        with roundtrips.count() as many:
            found = await api.call(AsItem, "get", [2, 9, 1])
        assert many.roundtrips == 1
        assert [e.id for e in found] == [2, 1]

    api.run(body)


def test_get_by_unique_and_range(api: Api, roundtrips: CallCounter) -> None:
    async def body(api: Api) -> None:
        for n in range(5):
            AsItem(num=n, code=f"c{n}").save()
        rom.session.rollback()
        with roundtrips.count() as by_unique:
            found = await api.call(AsItem, "get_by", code="c3")
        assert by_unique.roundtrips == 1 and found.num == 3
        assert await api.call(AsItem, "get_by", code="nope") is None
        ranged = await api.call(AsItem, "get_by", num=(1, 3))
        assert sorted(e.num for e in ranged) == [1, 2, 3]
        assert (await api.call(AsItem, "get_by", id=2)).num == 1

    api.run(body)


def test_errors_are_the_sync_ones_and_write_nothing(
    api: Api, rom_redis: redis.Redis, write_path: str
) -> None:
    async def body(api: Api) -> None:
        AsItem(num=1, code="taken").save()
        before = sorted(data_keys(rom_redis))
        clash = AsItem(num=2, code="taken")
        with pytest.raises(UniqueKeyViolation, match="taken"):
            await api.call(clash, "save")
        assert sorted(data_keys(rom_redis)) == before and clash._new
        rom.session.rollback()
        mine = AsItem.get(1)
        assert mine is not None
        rom_redis.hset("AsItem:1", "num", "7")  # another writer
        mine.num = 5
        with pytest.raises(DataRaceError):
            await api.call(mine, "save")
        assert rom_redis.hget("AsItem:1", "num") == b"7"
        await api.call(mine, "refresh", force=True)
        assert mine.num == 7
        rom_redis.delete("AsItem:1")
        with pytest.raises(EntityDeletedError):
            await api.call(mine, "refresh", force=True)

    api.run(body)


def test_delete_cascades_and_session_commit(
    api: Api, roundtrips: CallCounter, write_path: str
) -> None:
    async def body(api: Api) -> None:
        parent = AsParent(name="p")
        kids = [AsChild(parent=parent, num=n) for n in range(3)]
        with roundtrips.count() as committing:
            await api.call(rom.session, "commit")
        # As on the sync path: an INCR gives the new parent its id, then
        # parent and children are written by one script call (or one WATCH
        # transaction each: 6 round trips for the parent, which has its id,
        # 7 for each child, which reads the counter too).
        assert committing.roundtrips == {"lua": 2, "watch": 1 + 6 + 3 * 7}[write_path]
        assert [k.parent.id for k in kids] == [parent.id] * 3
        await api.call(parent, "delete")
        rom.session.rollback()
        assert AsChild.query.count() == 0 and AsParent.get(parent.id) is None
        assert rom.util.check(AsParent, AsChild) == []

    api.run(body)


def test_session_save_delete_refresh(api: Api, write_path: str) -> None:
    async def body(api: Api) -> None:
        a, b = AsItem(num=1, code="x"), AsItem(num=2, code="y")
        assert await api.call(rom.session, "save", [a, [b]]) == 6  # with ids
        rom.util.get_connection().hset(a._pk, "num", "10")
        await api.call(rom.session, "refresh", a, b)
        assert (a.num, b.num) == (10, 2)
        await api.call(rom.session, "refresh_all")
        await api.call(rom.session, "delete", a, b)
        assert AsItem.query.count() == 0
        c = AsItem(num=3, code="z")
        assert await api.call(rom.session, "flush") == 3
        assert AsItem.get_by(code="z") is c

    api.run(body)


def test_queries(api: Api, roundtrips: CallCounter, write_path: str) -> None:
    async def body(api: Api) -> None:
        for n in range(7):
            AsItem(num=n, code=f"q{n}").save()
        rom.session.rollback()
        query = AsItem.query.filter(num=(2, None)).order_by("-num")
        with roundtrips.count() as listing:
            found = await api.call(query, "all")
        assert listing.roundtrips == 1
        assert [e.num for e in found] == [6, 5, 4, 3, 2]
        assert (await api.call(query, "first")).num == 6
        assert await api.call(query, "count") == 5
        assert await api.call(AsItem.query.filter(num=99), "first") is None
        assert [e.num for e in await api.iterate(query.limit(1, 3))] == [5, 4, 3]
        key = await api.call(query, "cached_result", 30)
        assert rom.util.get_connection().zcard(key) == 5
        assert await api.call(AsItem.query.filter(num=(5, 6)), "update", num=9) == 2
        assert AsItem.query.filter(num=9).count() == 2
        assert await api.call(AsItem.query.filter(num=(None, 1)), "delete") == 2
        assert AsItem.query.count() == 5
        selected = AsItem.query.filter(num=(0, 9)).order_by("num").select("num", "code")
        rows = await api.call(selected, "all")
        expected = [(2, "q2"), (3, "q3"), (4, "q4"), (9, "q5"), (9, "q6")]
        assert rows == [{"num": n, "code": c} for n, c in expected]
        assert await api.iterate(selected) == rows

    api.run(body)


def test_exists_last_create_transfer(
    api: Api, roundtrips: CallCounter, write_path: str
) -> None:
    async def body(api: Api) -> None:
        with roundtrips.count() as creating:
            made = await api.call(AsItem, "create", num=1, code="k1")
        assert creating.roundtrips == WRITE_TRIPS[write_path] and not made._new
        with pytest.raises(UniqueKeyViolation):
            await api.call(AsItem, "create", num=2, code="k1")
        await api.call(AsItem, "create", num=5, code="k5")
        query = AsItem.query.filter(num=(0, 10)).order_by("num")
        assert await api.call(query, "exists") is True
        assert await api.call(AsItem.query.filter(num=7), "exists") is False
        assert (await api.call(query, "last")).num == 5
        a, b = AsAccount(coins=10), AsAccount(coins=0)
        txn = AsTxn()
        await api.call(rom.session, "commit")
        await api.call(a, "transfer", b, "coins", 4, txn, "sent")
        assert (a.coins, b.coins, txn.sent) == (6, 4, 1)
        with pytest.raises(ValueError, match="already sent"):
            await api.call(a, "transfer", b, "coins", 1, txn, "sent")
        assert AsAccount.get_by(coins=4) == [b]  # the index was rebuilt

    api.run(body)


def test_get_or_create_and_update_or_create(api: Api, write_path: str) -> None:
    async def body(api: Api) -> None:
        made, created = await api.call(AsItem, "get_or_create", {"num": 1}, code="g")
        assert created and made.num == 1
        again, created = await api.call(AsItem, "get_or_create", {"num": 2}, code="g")
        assert again is made and not created
        rom.util.get_connection().hset(made._pk, "num", "5")  # another writer
        updated, created = await api.call(
            AsItem, "update_or_create", {"num": 3}, code="g"
        )
        assert updated is made and not created and made.num == 3
        assert AsItem.get_by(num=3) == [made]

    api.run(body)


def test_many_to_many_sets(api: Api, roundtrips: CallCounter) -> None:
    async def body(api: Api) -> None:
        post = AsPost(title="p")
        tags = [AsTag(name=n) for n in "abc"]
        rom.session.commit()
        with roundtrips.count() as adding:
            assert await api.call(post.tags, "add", *tags[:2]) == 2
        assert adding.roundtrips == 1
        assert await api.call(post.tags, "ids") == [tags[0].id, tags[1].id]
        assert await api.call(post.tags, "count") == 2
        assert sorted(t.name for t in await api.call(post.tags, "all")) == ["a", "b"]
        assert await api.call(post.tags, "set", [tags[2]]) == 3
        assert [p.id for p in await api.call(tags[2].posts, "all")] == [post.id]
        assert await api.call(post.tags, "remove", tags[2]) == 1
        assert await api.call(post.tags, "clear") == 0
        if api.is_async:
            assert await post.tags.acontains(tags[0]) is False
        else:
            assert tags[0] not in post.tags

    api.run(body)


def test_iteration_removes_its_temporary_key(api: Api, rom_redis: redis.Redis) -> None:
    async def body(api: Api) -> None:
        for n in range(5):
            AsItem(num=n, code=f"i{n}").save()
        before = set(rom_redis.keys())
        query = AsItem.query.filter(num=(0, 10)).order_by("num")
        assert [e.num for e in await api.iterate(query)] == [0, 1, 2, 3, 4]
        assert set(rom_redis.keys()) == before

    api.run(body)


def test_sync_hooks_run_on_both_paths(
    api: Api, hooks: list[str], write_path: str
) -> None:
    async def body(api: Api) -> None:
        await api.call(AsHooked(num=1), "save")
        assert hooks == ["before_insert", "after_insert"]

    api.run(body)


def test_an_async_hook_is_awaited_or_refused(
    api: Api, hooks: list[str], rom_redis: redis.Redis, write_path: str
) -> None:
    async def body(api: Api) -> None:
        entity = AsAsyncHooked(num=1)
        if api.is_async:
            await entity.asave()
            assert hooks == ["async before_insert"] and entity.id == 1
            await entity.adelete()
            assert hooks[-1] == "async after_delete"
            return
        with pytest.raises(InvalidOperation, match=r"async def hook.*asave"):
            entity.save()
        assert hooks == [] and data_keys(rom_redis) == []

    api.run(body)


def test_a_lost_reply_is_settled_on_both_paths(
    api: Api, monkeypatch: pytest.MonkeyPatch, write_path: str
) -> None:
    """The reply of the first send is lost after Redis ran it: re-sent, once."""
    sent = lose_replies(monkeypatch, 1, run=True)

    async def body(api: Api) -> None:
        item = AsItem(num=1, code="once")
        await api.call(item, "save")
        assert len(sent) == 1 and item.id == 1
        assert AsItem.query.count() == 1

    api.run(body)


def test_relations_load_explicitly_on_the_async_path(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    async def body(api: Api) -> None:
        parent = AsParent(name="p")
        kids = [AsChild(parent=parent, num=n) for n in range(2)]
        await rom.session.acommit()
        rom.session.rollback()
        child = await AsChild.aget(kids[0].id)
        assert child is not None
        with roundtrips.count() as loading:
            loaded = await child.aload("parent")
        assert loading.roundtrips == 1 and loaded.name == "p"
        assert child.parent is loaded  # kept, as a first attribute read keeps it
        children = await loaded.aload("children")
        assert sorted(c.num for c in children) == [0, 1]
        assert await child.aload("num") == 0

    Api("async").run(body)


# -- connections ------------------------------------------------------------------


def test_the_async_client_is_made_from_the_same_settings(
    rom_redis: redis.Redis,
) -> None:
    seen: list[Any] = []

    async def body(api: Api) -> None:
        client = rom.util.get_async_connection()
        assert isinstance(client, redis.asyncio.Redis)
        assert client is rom.util.get_async_connection()
        kwargs = client.connection_pool.connection_kwargs
        sync_kwargs = rom_redis.connection_pool.connection_kwargs
        assert (kwargs["port"], kwargs["db"]) == (
            sync_kwargs["port"],
            sync_kwargs["db"],
        )
        seen.append(client)

    Api("async").run(body)
    Api("async").run(body)
    assert seen[0] is not seen[1]  # one client (and pool) per event loop


def test_a_mismatched_client_says_which_to_pass(
    rom_redis: redis.Redis, rom_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(api: Api) -> None:
        aclient = redis.asyncio.Redis.from_url(rom_redis_url)
        monkeypatch.setattr(AsItem, "_conn", aclient, raising=False)
        try:
            item = AsItem(num=1, code="a")
            await item.asave()
            assert (await AsItem.aget(item.id)) is item
            with pytest.raises(WrongClientError, match=r"redis\.asyncio\.Redis.*aget"):
                AsItem.get(item.id + 1)
            with pytest.raises(TypeError):  # WrongClientError is a TypeError too
                item.save()
        finally:
            await rom.connection._aclose(aclient)  # redis-py < 5.0.1: no aclose
        with pytest.raises(WrongClientError, match=r"Expected a redis\.Redis"):
            rom.connection.async_client(object())

    Api("async").run(body)
