"""What the async path lacked once: prefetch(), queries probing the id
counter, the maintenance jobs and the checker, async on_delete callables.

Each body runs for the sync and the async API (``async_api.py``): same
results, same round trips.
"""

from __future__ import annotations

import pytest
import redis

import rom
from rom import _scripts
from rom.testing import CallCounter

from .async_api import Api
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
