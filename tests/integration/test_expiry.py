"""Expiring entities (a model's ``_ttl``, ``expire()``, ``persist()``):
exact reads from the expiry time on, complete cleanup, cost.

A real clock and short expiries: an entity due "now" is made by saving it
with ``expire(SHORT)`` and waiting a little longer (the server's clock
decides, TIME inside the scripts).
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
import redis

import rom
from rom import _scripts
from rom.exceptions import EntityDeletedError
from rom.exceptions import InvalidOperation
from rom.exceptions import UniqueKeyViolation
from rom.testing import CallCounter
from rom.testing import data_keys

from .async_api import Api
from .dump import writes_with

SHORT = 0.3  # seconds
WAIT = 0.45  # past SHORT by more than any clock step


def _spot(data: Any) -> Any:
    return (data.lon, data.lat) if data.lon is not None else None


class XpItem(rom.Model):
    _ttl = 3600
    email = rom.Text(unique=True)
    code = rom.String(unique=True, keygen=rom.IDENTITY_CI)
    name = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    age = rom.Integer(index=True)
    team = rom.Text()
    number = rom.Integer()
    lon = rom.Float()
    lat = rom.Float()
    log = rom.UnsafeColumn()
    unique_together = ("team", "number")
    geo_index = [rom.GeoIndex("home", _spot)]  # noqa: RUF012


class XpNoDefault(rom.Model):
    _ttl = None
    label = rom.Text(unique=True, index=True, keygen=rom.SIMPLE, prefix=True)


class XpPlain(rom.Model):
    label = rom.Text(unique=True)
    age = rom.Integer(index=True)


def _item(n: int, **extra: Any) -> XpItem:
    values: dict[str, Any] = {
        "email": f"u{n}@x",
        "code": f"C{n}",
        "name": f"word{n} shared",
        "age": n,
        "team": "t",
        "number": n,
        "lon": 1.0 + n / 100,
        "lat": 2.0,
    }
    values.update(extra)
    return XpItem(**values)


def _own_keys(conn: redis.Redis, ns: str) -> set[str]:
    """The keys under ``<ns>:``, but write records (they expire by themselves)."""
    return {k.decode() for k in data_keys(conn, f"{ns}:*") if b"::write:" not in k}


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, rom_redis: redis.Redis) -> Api:
    return Api(request.param)


def test_every_read_leaves_out_an_expired_entity(
    api: Api, rom_redis: redis.Redis
) -> None:
    async def body(api: Api) -> None:
        doomed, kept = _item(1), _item(2)
        doomed.expire(SHORT)
        await api.call(doomed, "save")
        await api.call(kept, "save")
        rom.session.rollback()
        assert [e.id for e in await api.call(XpItem, "get", [1, 2])] == [1, 2]
        time.sleep(WAIT)
        rom.session.rollback()
        # Nothing met it yet: its row is still there, but no read returns it.
        assert rom_redis.exists("XpItem:1")
        assert await api.call(XpItem, "get", 1) is None
        assert [e.id for e in await api.call(XpItem, "get", [1, 2])] == [2]
        assert await api.call(XpItem, "get_by", email="u1@x") is None
        assert await api.call(XpItem, "get_by", code="c1") is None
        assert await api.call(XpItem, "get_by", id=1) is None
        assert [e.id for e in await api.call(XpItem, "get_by", age=(0, 9))] == [2]
        query = XpItem.query.filter(name="shared")
        assert [e.id for e in await api.call(query, "all")] == [2]
        assert await api.call(query, "count") == 1
        assert await api.call(XpItem.query, "count") == 1
        if not api.is_async:  # a bare query probes ids: sync only (as before)
            assert [e.id for e in XpItem.query.all()] == [2]
        near = XpItem.query.near("home", 1.0, 2.0, 100, "km")
        assert [e.id for e in await api.call(near, "all")] == [2]
        assert [e.id for e in await api.call(query.startswith(name="wor"), "all")] == [
            2
        ]
        assert [e.id for e in await api.call(query.endswith(name="d1"), "all")] == []

    api.run(body)


def test_sync_only_read_paths_leave_out_an_expired_entity(
    rom_redis: redis.Redis,
) -> None:
    doomed, kept, late = _item(1), _item(2), _item(3)
    doomed.expire(SHORT)
    late.expire(SHORT)
    rom.session.commit()
    rom.session.rollback()
    # A page read before the expiry, the rest after it: the cached result
    # still names entity 3, the page read leaves it out.
    pages = XpItem.query.filter(age=(0, 9)).order_by("age").iter_result(pagesize=2)
    assert next(pages).id == 1
    time.sleep(WAIT)
    assert [e.id for e in pages] == [2]
    rom.session.rollback()
    query = XpItem.query.filter(age=(0, 9)).order_by("age")
    assert [e.id for e in query.iter_result(pagesize=1)] == [2]
    assert query.select("email").all() == [{"email": "u2@x"}]
    key = query.cached_result(30)
    assert rom_redis.zrange(key, 0, -1) == [b"2"]
    assert query.first().id == 2 and query.count() == 1
    kept.refresh(force=True)
    with pytest.raises(EntityDeletedError):
        doomed.refresh(force=True)


def test_unique_values_are_free_once_their_holder_expired(
    api: Api, rom_redis: redis.Redis
) -> None:
    async def body(api: Api) -> None:
        first = _item(1)
        first.expire(SHORT)
        await api.call(first, "save")
        rom.session.rollback()
        with pytest.raises(UniqueKeyViolation):
            await api.call(_item(1), "save")  # still alive: the value is taken
        rom.session.rollback()
        time.sleep(WAIT)
        second = _item(1)
        await api.call(second, "save")  # takes email, code and (team, number)
        assert second.id != first.id
        assert not rom_redis.exists(f"XpItem:{first.id}")
        assert rom_redis.zscore("XpItem::expiry", str(first.id)) is None
        for key in ("XpItem:email:uidx", "XpItem:code:uidx"):
            assert set(rom_redis.hvals(key)) == {str(second.id).encode()}

    api.run(body)


def test_every_key_goes_once_all_expired_and_swept(rom_redis: redis.Redis) -> None:
    for n in range(1, 6):
        item = _item(n)
        item.expire(SHORT)
        item.save()
        item.log.rpush("a", "b")
        item.log.expire(60)  # UnsafeColumn key: removed with the entity
    plain = XpPlain(label="stays", age=1)
    plain.save()
    rom.session.rollback()
    assert len(_own_keys(rom_redis, "XpItem")) > 10
    time.sleep(WAIT)
    progress = list(rom.util.expire_due(XpItem, block_size=2))
    assert progress[-1].done == 5 and progress[-1].removed == 5
    assert [p.done for p in progress] == [2, 4, 5]
    assert _own_keys(rom_redis, "XpItem") == {"XpItem:id:"}
    # The other model is untouched, and has no expiry keys at all.
    assert _own_keys(rom_redis, "XpPlain") == {
        "XpPlain:1",
        "XpPlain:id:",
        "XpPlain:label:uidx",
        "XpPlain:age:idx",
    }
    assert list(rom.util.expire_due(XpItem)) == [(0, 0)]


def test_async_expire_due(rom_redis: redis.Redis) -> None:
    for n in range(1, 4):
        item = _item(n)
        item.expire(SHORT)
        item.save()
    time.sleep(WAIT)

    async def run() -> list[Any]:
        return [p async for p in rom.util.aexpire_due(XpItem)]

    Api("async").run(lambda api: _collect(run))
    assert _own_keys(rom_redis, "XpItem") == {"XpItem:id:"}


async def _collect(run: Any) -> None:
    got = await run()
    assert got[-1].done == 3


def test_writes_of_the_model_sweep_due_entities(rom_redis: redis.Redis) -> None:
    for n in range(1, 13):
        item = _item(n)
        item.expire(SHORT)
        item.save()
    time.sleep(WAIT)
    assert rom_redis.zcard("XpItem::expiry") == 12
    _item(50).save()  # sweeps 10 due entities (the earliest)
    assert rom_redis.zcard("XpItem::expiry") == 3  # 2 due, and the new one
    _item(51).save()
    assert rom_redis.zcard("XpItem::expiry") == 2
    assert sorted(int(k) for k in rom_redis.zrange("XpItem::expiry", 0, -1)) == [
        13,
        14,
    ]


def test_more_due_than_a_query_removes_are_still_left_out(
    rom_redis: redis.Redis,
) -> None:
    for n in range(1, 31):
        item = XpNoDefault(label=f"l{n}")
        item.expire(SHORT)
        item.save()
    alive = XpNoDefault(label="alive")
    alive.save()
    rom.session.rollback()
    time.sleep(WAIT)
    query = XpNoDefault.query.startswith(label="l")
    assert query.count() == 0  # removes 20, leaves out the 10 others
    assert rom_redis.zcard("XpNoDefault::expiry") == 10
    assert query.all() == []
    assert [e.id for e in XpNoDefault.query.startswith(label="a").all()] == [31]
    assert rom_redis.zcard("XpNoDefault::expiry") == 0


def test_an_update_racing_the_expiry_wins_or_loses_whole(
    api: Api, rom_redis: redis.Redis
) -> None:
    async def body(api: Api) -> None:
        winner, loser = _item(1), _item(2)
        winner.expire(SHORT)
        loser.expire(SHORT)
        await api.call(winner, "save")
        await api.call(loser, "save")
        # Extended before the expiry: it stays, with its new expiry.
        winner.expire(60)
        winner.age = 10
        await api.call(winner, "save")
        time.sleep(WAIT)
        # Updated after the expiry: the entity is gone, nothing is written.
        loser.age = 20
        with pytest.raises(EntityDeletedError):
            await api.call(loser, "save")
        assert not rom_redis.exists("XpItem:2")
        assert not rom_redis.zscore("XpItem:age:idx", "2")
        assert rom_redis.hget("XpItem:email:uidx", "u2@x") is None
        rom.session.rollback()
        got = await api.call(XpItem, "get", 1)
        assert got is not None and got.age == 10
        left = await api.call(got, "ttl")
        assert 50 < left <= 60
        # A forced save re-creates the expired entity (without an expiry).
        await api.call(loser, "save", force=True)
        rom.session.rollback()
        again = await api.call(XpItem, "get", 2)
        assert again is not None and again.age == 20
        assert await api.call(again, "ttl") is None
        assert rom_redis.hget("XpItem:email:uidx", "u2@x") == b"2"

    api.run(body)


def test_ttl_expire_at_a_datetime_and_persist(api: Api, rom_redis: redis.Redis) -> None:
    async def body(api: Api) -> None:
        item = _item(1)
        assert await api.call(item, "ttl") is None  # not saved
        await api.call(item, "save")
        assert 3590 < await api.call(item, "ttl") <= 3600  # the model's _ttl
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=100
        )
        item.expire(when)
        await api.call(item, "save")
        assert 90 < await api.call(item, "ttl") <= 100
        item.persist()
        await api.call(item, "save")
        assert await api.call(item, "ttl") is None
        assert rom_redis.zcard("XpItem::expiry") == 0
        assert not rom_redis.exists("XpItem::expiry:data")
        none = XpNoDefault(label="n")
        await api.call(none, "save")
        assert await api.call(none, "ttl") is None  # _ttl = None: no default
        none.expire(datetime.timedelta(seconds=SHORT))
        await api.call(none, "save")
        time.sleep(WAIT)
        assert await api.call(none, "ttl") == 0.0
        assert not rom_redis.exists(f"XpNoDefault:{none.id}")

    api.run(body)


def test_an_expiry_already_past_removes_at_the_save(rom_redis: redis.Redis) -> None:
    item = _item(1)
    item.expire(datetime.datetime(2000, 1, 1))
    item.save()
    assert _own_keys(rom_redis, "XpItem") == {"XpItem:id:"}


def test_delete_removes_the_expiry_entries(rom_redis: redis.Redis) -> None:
    item = _item(1)
    item.save()
    assert rom_redis.zcard("XpItem::expiry") == 1
    item.delete()
    assert _own_keys(rom_redis, "XpItem") == {"XpItem:id:"}


def test_models_without_ttl_refuse_expiry_calls(rom_redis: redis.Redis) -> None:
    plain = XpPlain(label="a")
    with pytest.raises(InvalidOperation, match="declare _ttl"):
        plain.expire(10)
    with pytest.raises(InvalidOperation, match="XpPlain"):
        plain.persist()
    with pytest.raises(InvalidOperation):
        list(rom.util.expire_due(XpPlain))
    with pytest.raises(rom.exceptions.ColumnError, match="positive"):
        _item(1).expire(0)
    with pytest.raises(rom.exceptions.ColumnError, match="timedelta"):
        _item(1).expire("soon")


def test_consistency_check_knows_the_expiry_keys(rom_redis: redis.Redis) -> None:
    _item(1).save()
    doomed = _item(2)
    doomed.expire(SHORT)
    doomed.save()
    XpPlain(label="a").save()
    time.sleep(WAIT)  # entity 2 expired, not removed yet: still consistent
    report = rom.util.check(XpItem, XpPlain)
    assert report.ok, report.summary()
    # On a model without _ttl the same key shape is not its own.
    rom_redis.zadd("XpPlain::expiry", {"1": 1})
    assert not rom.util.check(XpPlain).ok


def test_a_model_without_ttl_pays_nothing(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    for name in ("write_entity", "fetch_by_unique", "search", "read_expiring"):
        rom_redis.script_load(_scripts.load(name).source)
    XpPlain(label="a", age=1).save()
    rom.session.rollback()
    with roundtrips.count() as got:
        XpPlain.get(1)
    assert got.names == ["HGETALL"]
    rom.session.rollback()
    with roundtrips.count() as by_unique:
        XpPlain.get_by(label="a")
    assert by_unique.names == ["EVALSHA"]
    with roundtrips.count() as saved:
        XpPlain(label="b", age=2).save()
    assert saved.names == ["EVALSHA"]
    with roundtrips.count() as counted:
        XpPlain.query.filter(age=(0, 5)).count()
    assert counted.names == ["ZCOUNT"]
    # An expiring model: each of them one script call.
    _item(1).save()
    rom.session.rollback()
    with roundtrips.count() as got:
        XpItem.get(1)
    assert got.names == ["EVALSHA"]
    rom.session.rollback()
    with roundtrips.count() as many:
        XpItem.get([1, 2, 3])
    assert many.names == ["EVALSHA"]
    with roundtrips.count() as counted:
        XpItem.query.filter(age=(0, 5)).count()
    assert counted.names == ["EVALSHA"]


def test_many_to_many_with_an_expiring_model_is_refused(fresh_models: None) -> None:
    class XpTag(rom.Model):
        _ttl = 10

    with pytest.raises(rom.exceptions.ColumnError, match="declares _ttl"):

        class XpPost(rom.Model):
            tags = rom.ManyToMany("XpTag", "posts")


class XpParent(rom.Model):
    _ttl = None
    name = rom.Text()


class XpChild(rom.Model):
    parent = rom.ManyToOne("XpParent", on_delete="restrict")


def test_an_expiry_runs_no_on_delete_policy(rom_redis: redis.Redis) -> None:
    parent = XpParent(name="p")
    parent.expire(SHORT)
    parent.save()
    child = XpChild(parent=parent)
    child.save()
    rom.session.rollback()
    time.sleep(WAIT)
    # restrict cannot refuse an expiry: the parent is gone, the child stays
    # and its reference loads as None (a dangling id, as after SKIP_ON_DELETE).
    assert XpParent.get(parent.id) is None
    got = XpChild.get(child.id)
    assert got is not None and got.parent is None
    assert XpChild.query.filter(parent=parent.id).count() == 1


class XpHome(rom.Model):
    name = rom.Text(index=True, keygen=rom.IDENTITY)
    kids = rom.OneToMany("XpKid")


class XpKid(rom.Model):
    _ttl = None
    home = rom.ManyToOne("XpHome", on_delete="cascade")
    name = rom.Text()


def test_prefetch_leaves_out_expired_entities(rom_redis: redis.Redis) -> None:
    home = XpHome(name="h")
    home.save()
    kids = [XpKid(home=home, name=str(n)) for n in range(3)]
    kids[1].expire(SHORT)
    rom.session.commit()
    parent = XpParent(name="p")
    parent.expire(SHORT)
    parent.save()
    child = XpChild(parent=parent)
    child.save()
    rom.session.rollback()
    time.sleep(WAIT)
    (got,) = XpHome.query.filter(name="h").prefetch("kids").all()
    assert sorted(k.id for k in got.kids) == [kids[0].id, kids[2].id]
    rom.session.rollback()
    (loaded,) = XpChild.query.filter(parent=parent.id).prefetch("parent").all()
    assert loaded.parent is None


def test_the_watch_writer_refuses_an_expiring_model(rom_redis: redis.Redis) -> None:
    with writes_with("watch"):
        with pytest.raises(InvalidOperation, match="needs Lua scripting"):
            _item(1).save()
        XpPlain(label="ok").save()  # other models are written as before
    assert not rom_redis.exists("XpItem:1")


class XpAccount(rom.Model):
    _ttl = None
    balance = rom.Integer(default=0)
    sent = rom.Integer(default=0)


def test_transfer_refuses_expiring_models(rom_redis: redis.Redis) -> None:
    a, b = XpAccount(balance=10), XpAccount()
    rom.session.commit()
    with pytest.raises(InvalidOperation, match="does not check expiry"):
        a.transfer(b, "balance", 5, b, "sent")
    assert rom_redis.hget(f"XpAccount:{a.id}", "balance") == b"10"


def test_updates_racing_expiries_leave_whole_entities(rom_redis: redis.Redis) -> None:
    """Saves extending the expiry, sent around the moment it comes: each
    either wins (the entity stays, whole, with the new expiry) or loses
    (EntityDeletedError, and nothing of the entity is left)."""
    items = [_item(n) for n in range(1, 21)]
    for n, item in enumerate(items):
        item.expire(SHORT + n * 0.01)  # expiry times spread over 0.2 s
        item.save()
    won: set[int] = set()
    lost: set[int] = set()
    time.sleep(SHORT - 0.05)
    for item in items:
        item.expire(60)
        item.age = 100 + item.id
        try:
            item.save()
            won.add(item.id)
        except EntityDeletedError:
            lost.add(item.id)
    assert won | lost == {i.id for i in items}
    for id in won:
        row = rom_redis.hgetall(f"XpItem:{id}")
        assert row[b"age"] == str(100 + id).encode()
        assert rom_redis.zscore("XpItem:age:idx", str(id)) == 100 + id
        assert rom_redis.hget("XpItem:email:uidx", f"u{id}@x") == str(id).encode()
    for id in lost:
        assert not rom_redis.exists(f"XpItem:{id}")
        assert rom_redis.zscore("XpItem:age:idx", str(id)) is None
        assert rom_redis.hget("XpItem:email:uidx", f"u{id}@x") is None
        assert rom_redis.zscore("XpItem::expiry", str(id)) is None
    time.sleep(WAIT)
    list(rom.util.expire_due(XpItem))
    report = rom.util.check(XpItem)
    assert report.ok, report.summary()
    rom.session.rollback()
    assert {e.id for e in XpItem.get(sorted(won | lost))} == won


def test_get_never_returns_an_expired_entity_the_session_holds(
    api: Api, rom_redis: redis.Redis
) -> None:
    async def body(api: Api) -> None:
        item = _item(1)
        item.expire(SHORT)
        await api.call(item, "save")
        assert await api.call(XpItem, "get", 1) is item  # the session's entity
        time.sleep(WAIT)
        assert await api.call(XpItem, "get", 1) is None
        assert await api.call(XpItem, "get", [1]) == []

    api.run(body)
