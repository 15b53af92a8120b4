"""What the async path lacked once: prefetch(), queries probing the id
counter, the maintenance jobs and the checker, async on_delete callables.

Each body runs for the sync and the async API (``async_api.py``): same
results, same round trips.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

import rom
from rom import _requests
from rom import _scripts
from rom._io import Wait
from rom.exceptions import InvalidOperation
from rom.testing import CallCounter

from .async_api import Api
from .dump import dump
from .test_prefetch import PfPost
from .test_prefetch import blog
from .test_prefetch import related


class GpBare(rom.Model):
    key = rom.PrimaryKey()  # not indexed: queries by it probe the counter
    n = rom.Integer()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, rom_redis: redis.Redis) -> Api:
    # Scripts loaded up front: a first NOSCRIPT would add round trips.
    for name in ("search", "page", "prefetch", "fetch_by_unique", "write_entity"):
        rom_redis.script_load(_scripts.load(name).source)
    return Api(request.param)


# -- prefetch() -------------------------------------------------------------------


def test_prefetch_costs_one_more_round_trip(
    api: Api, rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    blog(rom_redis)
    query = PfPost.query.filter(n=(0, 49)).prefetch("author", "tags", "comments")

    async def body(api: Api) -> None:
        with roundtrips.count() as listing:
            posts = await api.call(query, "all")
            seen = [related(p) for p in posts]
        assert listing.roundtrips == 2  # the query, then the prefetch
        assert len(posts) == 50
        assert seen[7] == ("a2", ["t0"], ["c7.0", "c7.1", "c7.2"])
        assert seen[3] == ("a3", [], ["c3.0", "c3.1", "c3.2"])
        rom.session.rollback()
        with roundtrips.count() as first:
            post = await api.call(query.order_by("-n"), "first")
            assert related(post) == ("a4", ["t0"], ["c49.0"])
        assert first.roundtrips == 2
        rom.session.rollback()
        with roundtrips.count() as paging:
            pages = await api.iterate(query.prefetch("comments"))
            total = sum(len(p.comments) for p in pages)
        assert total == sum(i % 4 for i in range(50))
        # the cached result, 1 page and its prefetch, DEL of the cached result
        assert paging.roundtrips == 4

    api.run(body)


# -- queries ordered by an unindexed primary key -------------------------------------


def test_queries_probing_the_id_counter(
    api: Api, rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    for i in range(1, 8):
        GpBare(n=i * 10).save()
    GpBare.get(3).delete()
    rom.session.rollback()

    async def body(api: Api) -> None:
        with roundtrips.count() as listing:
            found = await api.call(GpBare.query, "all")
        assert [e.key for e in found] == [1, 2, 4, 5, 6, 7]
        assert listing.roundtrips == 2  # the counter, then one block of rows
        query = GpBare.query.order_by("-key")
        assert [e.n for e in await api.call(query.limit(1, 3), "all")] == [60, 50, 40]
        assert (await api.call(query, "first")).key == 7
        assert (await api.call(query, "last")).key == 1
        assert await api.call(query, "exists") is True
        assert await api.call(query, "count") == 6
        assert [e.key for e in await api.iterate(query.limit(2, 3))] == [5, 4, 2]
        assert [e.key for e in await api.iterate(GpBare.query)] == [1, 2, 4, 5, 6, 7]
        selected = GpBare.query.order_by("key").select("n")
        assert [r["n"] for r in await api.call(selected, "all")] == [
            10,
            20,
            40,
            50,
            60,
            70,
        ]
        assert [r["n"] for r in await api.iterate(selected.limit(0, 2))] == [10, 20]
        assert await api.call(GpBare.query, "update", n=1) == 6
        assert await api.call(query.limit(0, 2), "delete") == 2
        rom.session.rollback()
        assert [(e.key, e.n) for e in GpBare.query.all()] == [
            (1, 1),
            (2, 1),
            (4, 1),
            (5, 1),
        ]

    api.run(body)


# -- on_delete: async def callables, a delete interrupted --------------------------

NOTIFIED: list[str] = []


async def _reassign(referrer: GpTask, deleted: GpOwner) -> None:
    await asyncio.sleep(0)
    NOTIFIED.append(f"{type(deleted).__name__} {deleted.id}")
    referrer.note = "orphaned"


class GpOwner(rom.Model):
    name = rom.Text()


class GpTask(rom.Model):
    owner = rom.ManyToOne("GpOwner", on_delete=_reassign)
    note = rom.Text()


class GpDoc(rom.Model):
    owner = rom.ManyToOne("GpOwner", on_delete="set null")
    editor = rom.ManyToOne("GpOwner", on_delete="set default", default=None)
    n = rom.Integer(index=True)


def test_an_async_on_delete_callable_is_awaited_or_refused(
    api: Api, rom_redis: redis.Redis, write_path: str
) -> None:
    NOTIFIED.clear()

    async def body(api: Api) -> None:
        owner = GpOwner(name="o")
        task = GpTask(owner=owner, note="todo")
        await api.call(rom.session, "commit")
        before = dump(rom_redis)
        if not api.is_async:
            with pytest.raises(
                InvalidOperation, match=r"_reassign.*async def.*adelete"
            ):
                owner.delete()
            # Refused before anything was written or changed.
            assert dump(rom_redis) == before and task.note == "todo"
            assert NOTIFIED == [] and not owner._deleted
            return
        await owner.adelete()
        assert [f"GpOwner {owner.id}"] == NOTIFIED and task.note == "orphaned"
        rom.session.rollback()
        assert GpTask.get(task.id).note == "orphaned"
        assert GpOwner.get(owner.id) is None

    api.run(body)


@pytest.mark.parametrize("applied", [False, True], ids=["before-send", "after-send"])
def test_an_interrupted_delete_leaves_referrers_as_redis_holds_them(
    api: Api,
    rom_redis: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    write_path: str,
    applied: bool,
) -> None:
    """The delete is cancelled (a KeyboardInterrupt on the sync path) while its
    first write request is on its way: before it was sent, or after Redis
    ran it and before the reply came back. Either way the referrers'
    attributes are then what Redis holds, and saving them writes nothing."""
    real = _requests._call
    reached = asyncio.Event()

    def call(conn: Any, chunk: Any, record_key: str, args: list[str]) -> Any:
        if applied:
            yield from real(conn, chunk, record_key, args)
        if not api.is_async:
            raise KeyboardInterrupt
        reached.set()
        yield Wait(600)  # the task is cancelled here

    # The Lua writer sends the 3 updates and the delete in one request, the
    # WATCH writer one request each: the first request is interrupted.
    written = (4 if write_path == "lua" else 1) if applied else 0
    docs: list[GpDoc] = []

    async def delete(owner: GpOwner) -> None:
        # The referrers, in the session of the task that deletes.
        docs.extend(await api.call(GpDoc.query.order_by("n"), "all"))
        monkeypatch.setattr(_requests, "_call", call)
        await api.call(owner, "delete")

    async def body(api: Api) -> None:
        owner = GpOwner(name="o")
        for n in range(3):
            GpDoc(owner=owner, editor=owner, n=n)
        await api.call(rom.session, "commit")
        rom.session.rollback()
        if api.is_async:
            deleting = asyncio.create_task(delete(owner))
            await reached.wait()
            deleting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await deleting
        else:
            with pytest.raises(KeyboardInterrupt):
                await delete(owner)
        monkeypatch.setattr(_requests, "_call", real)
        for index, doc in enumerate(docs):
            expected = None if index < written else owner.id
            stored = rom_redis.hmget(doc._pk, ["owner", "editor"])
            assert [None if v is None else int(v) for v in stored] == [expected] * 2
            held = [doc._data[attr] for attr in ("owner", "editor")]
            assert [getattr(v, "id", v) for v in held] == [expected] * 2
            assert not doc._modified
        assert owner._deleted is (written == 4)
        assert rom_redis.exists(owner._pk) == (written != 4)
        # Nothing left to settle, nothing stale to write back.
        before = dump(rom_redis)
        await api.call(rom.session, "save", docs)
        assert dump(rom_redis) == before
        assert rom.util.check(GpOwner, GpDoc) == []

    api.run(body)


# -- maintenance jobs and the checker -------------------------------------------------


class GpNote(rom.Model):
    text = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)
    code = rom.Text(unique=True)
    score = rom.Integer(index=True)
    lon = rom.Float()
    lat = rom.Float()
    owner = rom.ManyToOne("GpOwner", on_delete="set null")
    scratch = rom.UnsafeColumn()
    geo_index = [rom.GeoIndex("at", lambda d: (d.lon, d.lat))]  # noqa: RUF012


def _notes(rom_redis: redis.Redis) -> list[GpNote]:
    owner = GpOwner(name="o")
    notes = [
        GpNote(text=f"word{i % 3} note", code=f"c{i}", score=i, lon=i, lat=i)
        for i in range(1, 31)
    ]
    for note in notes[:10]:
        note.owner = owner
    rom.session.commit()
    for note in notes:
        note.scratch.rpush("x")
    rom.session.rollback()
    return notes


def test_clean_old_index_and_unsafe_cols(api: Api, rom_redis: redis.Redis) -> None:
    notes = _notes(rom_redis)
    gone = [notes[i] for i in (2, 11, 12, 29)]
    rom_redis.delete(*(n._pk for n in gone))  # behind rom's back
    rom_redis.hset("GpNote::", "77", '[["text:old"], ["score"], {}, {}, {}]')
    rom_redis.sadd("GpNote:text:old:idx", "77")
    rom_redis.zadd("GpNote:score:idx", {"77": 1})

    async def body(api: Api) -> None:
        if api.is_async:
            steps = [p async for p in rom.util.aclean_old_index(GpNote, 10)]
            examined, deleted = await rom.util.aclean_unsafe_cols(GpNote)
        else:
            steps = list(rom.util.clean_old_index(GpNote, 10))
            examined, deleted = rom.util.clean_unsafe_cols(GpNote)
        # Per gone row: 2 token entries and their 2 prefix entries, score,
        # unique, geo; the owner entry of the one with an owner; the legacy
        # record's 2 entries and itself.
        assert steps[-1].removed == 4 * 7 + 1 + 3
        assert steps[-1].done == steps[-1].total and steps[-1].resume is None
        assert [p.done for p in steps] == sorted(p.done for p in steps)
        assert (examined, deleted) == (30, 4)
        if api.is_async:
            with pytest.raises(ValueError, match="missing models"):
                await rom.util.aclean_unsafe_cols()
            again = [p async for p in rom.util.aclean_old_index(GpNote, 10, None)]
        else:
            with pytest.raises(ValueError, match="missing models"):
                rom.util.clean_unsafe_cols()
            again = list(rom.util.clean_old_index(GpNote, 10, None))
        assert again[-1].removed == 0

    api.run(body)
    assert rom.util.check(GpNote) == []
    assert GpNote.query.filter(text="word0").count() == 10 - 3  # i = 3, 12, 30


def test_acheck_reports_what_check_reports(api: Api, rom_redis: redis.Redis) -> None:
    notes = _notes(rom_redis)
    rom_redis.delete(notes[2]._pk)  # orphans its entries
    rom_redis.zrem("GpNote:score:idx", notes[4].id)  # a missing entry
    rom_redis.hset(notes[6]._pk, "score", "700")  # entries now wrong
    rom_redis.hset(notes[1]._pk, "owner", "999")  # a missing reference
    rom_redis.delete(notes[8]._pk)
    rom_redis.set(notes[8]._pk, "not a row")  # a wrong type
    rom_redis.set("GpNote:0b6e2b3c-8f7a-4c1e-9d2b-1a2b3c4d5e6f", "temp")  # no TTL
    rom_redis.hset("GpNote:99", mapping={"id": "99", "code": "c99"})  # > counter
    rom_redis.zadd("GpNote:at:geo", {str(notes[10].id): 0})  # moved point
    expected = rom.util.check(GpNote, GpOwner)

    async def body(api: Api) -> None:
        report = await api.call(rom.consistency, "check", GpNote, GpOwner)
        assert report == expected and report.models == expected.models
        assert report.rows == expected.rows and report.summary() == expected.summary()
        kinds = {p.kind for p in report}
        assert kinds >= {
            "orphan-entry",
            "orphan-unique",
            "missing-entry",
            "missing-reference",
            "wrong-type",
            "temp-key",
            "id-above-counter",
            "orphan-unsafe",
            "wrong-score",
        }
        on = rom.util.get_connection() if not api.is_async else None
        assert await api.call(rom.consistency, "check", GpOwner, conn=on) == []

    api.run(body)
