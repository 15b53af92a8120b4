"""Queries over a partitioned model give exactly what the same data in an
unpartitioned model gives (docs/partitioning_queries.rst).

PqPart (16 partitions) and PqFlat hold the same random entities under the
same ids (ties in every index, missing values, words, a geo index); every
query below runs on both and must return the same results in the same
order: all(), count(), first(), last(), exists(), select/values_list,
slices, iter_result() and cached_result() pages, get_by, update and delete.
The same runs on the 3-master test cluster
(``python -m pytest --rom-cluster -m cluster <this file>``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import QueryError
from rom.testing import CallCounter

pytestmark = pytest.mark.cluster

WORDS = ["ab", "abc", "b", "ba", "café", "naïve", "zz", "x.y", "über"]
CI = ["Red", "red", "blue", "BLUE", "green"]
NAMES = ["a", "ab", "B", "abcd", "abce", "é", "Zed", "b", "m"]
FLOATS = [-1.5, 0.0, 0.25, 2.0, 2.5, 100.0]


def _geo(d: dict[str, Any]) -> tuple[float, float] | None:
    return None if d["lon"] is None else (d["lon"], d["lat"])


class PqFlat(rom.Model):
    id = rom.PrimaryKey()  # unindexed: bare queries walk the ids
    i = rom.Integer(index=True)
    x = rom.Float(index=True)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    ci = rom.Text(index=True, keygen=rom.IDENTITY_CI)
    flag = rom.Boolean(index=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE, prefix=True)
    lon = rom.Float()
    lat = rom.Float()
    geo_index = [rom.GeoIndex("pos", _geo)]  # noqa: RUF012


class PqPart(rom.Model):
    _partitions = 16
    id = rom.PrimaryKey()
    i = rom.Integer(index=True)
    x = rom.Float(index=True)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    ci = rom.Text(index=True, keygen=rom.IDENTITY_CI)
    flag = rom.Boolean(index=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE, prefix=True)
    lon = rom.Float()
    lat = rom.Float()
    geo_index = [rom.GeoIndex("pos", _geo)]  # noqa: RUF012


class PqFlatPk(rom.Model):
    id = rom.PrimaryKey(index=True)
    i = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)


class PqPartPk(rom.Model):
    _partitions = 5
    id = rom.PrimaryKey(index=True)
    i = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)


def _values(rng: random.Random) -> dict[str, Any]:
    return {
        "i": rng.randrange(-5, 12),
        "x": None if rng.random() < 0.1 else rng.choice(FLOATS),
        "words": " ".join(rng.sample(WORDS, rng.randrange(1, 4))),
        "ci": rng.choice(CI),
        "flag": rng.random() < 0.5,
        "name": rng.choice(NAMES),
        "lon": round(rng.uniform(-0.5, 0.5), 4),
        "lat": round(50 + rng.uniform(-0.5, 0.5), 4),
    }


def populate(seed: int, count: int = 120) -> None:
    """``count`` random entities in PqPart, and the same under the same ids
    in PqFlat; a few deleted from both."""
    rng = random.Random(seed)
    rows = [_values(rng) for _ in range(count)]
    parted = [PqPart(**row) for row in rows]
    rom.session.commit()
    copy(parted, PqFlat, ("i", "x", "words", "ci", "flag", "name", "lon", "lat"))
    gone = rng.sample([e.id for e in parted], 6)
    for model in (PqPart, PqFlat):
        for entity in model.get(gone):
            entity.delete()
    rom.session.rollback()


def copy(parted: list[Any], flat: type[Any], columns: tuple[str, ...]) -> None:
    """Save in ``flat`` (unpartitioned, empty) the data of the ``parted``
    entities under the same ids: ids are allocated 1, 2, ..., so entities
    1..max id are saved in turn and those of ids no entity has deleted."""
    by_id = {e.id: e for e in parted}
    for n in range(1, max(by_id) + 1):
        source = by_id.get(n)
        row = {c: getattr(source, c) for c in columns} if source else {}
        entity = flat(**row)
        entity.save()
        assert entity.id == n
        if source is None:
            entity.delete()
    rom.session.rollback()


Build = Callable[[Any], Any]

# Every filter kind, with and without an order; the same lambda builds the
# query on either model.
QUERIES: list[tuple[str, Build]] = [
    ("bare", lambda m: m.query),
    ("bare by -id", lambda m: m.query.order_by("-id")),
    ("range", lambda m: m.query.filter(i=(0, 6))),
    ("range open", lambda m: m.query.filter(x=(None, 2.0))),
    ("range excl", lambda m: m.query.filter(i=("(0", "(9"))),
    ("range by -i", lambda m: m.query.filter(i=(0, 6)).order_by("-i")),
    ("range by x", lambda m: m.query.filter(i=(-2, 8)).order_by("x")),
    ("order i", lambda m: m.query.order_by("i")),
    ("order -x", lambda m: m.query.order_by("-x")),
    ("order name", lambda m: m.query.order_by("name")),
    ("order -name", lambda m: m.query.order_by("-name")),
    ("token", lambda m: m.query.filter(words="ab")),
    ("tokens and", lambda m: m.query.filter(words="ab", flag=True)),
    ("or-list", lambda m: m.query.filter(ci=["red", "green"]).order_by("-i")),
    ("bool by x", lambda m: m.query.filter(flag=False).order_by("x")),
    ("startswith", lambda m: m.query.startswith(words="ca")),
    ("endswith by i", lambda m: m.query.endswith(words="b").order_by("i")),
    ("like", lambda m: m.query.like(words="a*c")),
    ("name prefix", lambda m: m.query.startswith(name="ab").order_by("-name")),
    ("near", lambda m: m.query.near("pos", 0.0, 50.0, 30, "km")),
    ("near by i", lambda m: m.query.near("pos", 0.1, 50.1, 40, "km").order_by("i")),
    ("near count", lambda m: m.query.near("pos", 0.0, 50.0, 100, "km", 7)),
    ("two orders", lambda m: m.query.filter(i=(-3, 10)).order_by("name", "-x")),
    ("orders name i", lambda m: m.query.order_by("-name", "i")),
    ("orders i id", lambda m: m.query.filter(flag=True).order_by("i", "-id")),
    ("lookups", lambda m: m.query.filter(i__gte=2, x__lt=50)),
    ("in", lambda m: m.query.filter(i__in=[1, 3, 5]).order_by("-x")),
    ("isnull", lambda m: m.query.filter(x__isnull=True)),
    ("exclude", lambda m: m.query.exclude(flag=True).order_by("i")),
    ("q or", lambda m: m.query.filter(rom.Q(i=(8, 11)) | rom.Q(ci="blue"))),
    ("q not", lambda m: m.query.filter(~rom.Q(words="ab"), i=(0, 11))),
    ("not alone", lambda m: m.query.filter(~rom.Q(flag=True))),
    ("nothing", lambda m: m.query.filter(words="nowhere")),
]
LIMITS: list[tuple[int, int | None] | None] = [
    None,
    (0, 1),
    (0, 5),
    (3, 4),
    (10, None),
    (25, 30),
    (500, 5),
]


def ids(found: list[Any]) -> list[int]:
    return [e.id for e in found]


def check(query: Build, what: str) -> None:
    """Every terminal of ``query`` agrees on PqPart and PqFlat."""
    flat, part = query(PqFlat), query(PqPart)
    assert ids(part.all()) == ids(flat.all()), what
    assert part.count() == flat.count(), what
    assert part.exists() == flat.exists(), what
    f, p = flat.first(), part.first()
    assert (p and p.id) == (f and f.id), what
    cols = ("i", "name", "flag")
    assert part.values_list(*cols).all() == flat.values_list(*cols).all(), what
    assert part.select("x", include_pk=True).all() == (
        flat.select("x", include_pk=True).all()
    ), what


@pytest.mark.parametrize("limit", LIMITS)
def test_every_query_kind_agrees_with_the_unpartitioned_model(
    rom_redis: redis.Redis, limit: tuple[int, int | None] | None
) -> None:
    populate(seed=7)
    for name, build in QUERIES:
        if limit is None:
            check(build, name)
        else:
            check(lambda m, b=build: b(m).limit(*limit), f"{name} limit {limit}")


def test_last_slices_and_indexes_agree(rom_redis: redis.Redis) -> None:
    populate(seed=11)
    for name, build in QUERIES:
        flat, part = build(PqFlat), build(PqPart)
        f, p = flat.last(), part.last()
        assert (p and p.id) == (f and f.id), name
        assert ids(part[2:9].all()) == ids(flat[2:9].all()), name
        assert ids(part[1:][3:6].all()) == ids(flat[1:][3:6].all()), name
        if flat.count() > 4:
            assert part[4].id == flat[4].id, name
        else:
            with pytest.raises(IndexError):
                part[4]


@pytest.mark.parametrize("pagesize", [1, 7, 100])
def test_iter_result_and_cached_pages_agree(
    rom_redis: redis.Redis, pagesize: int
) -> None:
    populate(seed=3)
    for name, build in QUERIES:
        flat, part = build(PqFlat), build(PqPart)
        want = ids(flat.all())
        assert ids(list(part.iter_result(pagesize=pagesize))) == want, name
        assert (
            ids(list(part.limit(2, 9).iter_result(pagesize=pagesize))) == (want[2:11])
        ), name
    # Nothing left behind: the shares of every cached result are deleted.
    leftover = [k for k in rom_redis.scan_iter(count=1000) if b"-" in k]
    assert leftover == []


def test_random_queries_agree(rom_redis: redis.Redis) -> None:
    """Random ANDs of random conditions, random orders and limits."""
    populate(seed=21, count=150)
    rng = random.Random(5)
    conditions: list[Callable[[Any], Any]] = [
        lambda q: q.filter(i=(rng.randrange(-6, 6), rng.randrange(0, 13))),
        lambda q: q.filter(x=(rng.choice(FLOATS), None)),
        lambda q: q.filter(words=rng.choice(WORDS)),
        lambda q: q.filter(ci=rng.sample(CI, 2)),
        lambda q: q.filter(flag=rng.random() < 0.5),
        lambda q: q.startswith(words=rng.choice(WORDS)[:1]),
        lambda q: q.startswith(name=rng.choice(NAMES)[:1]),
        lambda q: q.endswith(words=rng.choice(WORDS)[-1:]),
        lambda q: q.exclude(ci=rng.choice(CI)),
        lambda q: q.near("pos", 0.0, 50.0, rng.choice([10, 40, 80]), "km"),
    ]
    orders = [(), ("i",), ("-i",), ("x",), ("-name",), ("name", "-i"), ("-id",)]
    for n in range(60):
        picked = rng.sample(conditions, rng.randrange(1, 3))
        order = rng.choice(orders)
        offset, count = rng.randrange(0, 15), rng.choice([None, 1, 3, 10])
        state = rng.getstate()

        def build(
            m: Any, picked: Any = picked, order: Any = order, state: Any = state
        ) -> Any:
            rng.setstate(state)  # the same random values for both models
            q = m.query
            for make in picked:
                q = make(q)
            return q.order_by(*order) if order else q

        flat = build(PqFlat).limit(offset, count)
        part = build(PqPart).limit(offset, count)
        assert ids(part.all()) == ids(flat.all()), n
        assert part.count() == flat.count(), n
        assert ids(list(part.iter_result(pagesize=4))) == ids(flat.all()), n


def test_get_by_ranges_and_non_unique_columns(rom_redis: redis.Redis) -> None:
    populate(seed=5)
    for kwargs in ({"i": (2, 7)}, {"i": 3}, {"x": (0.0, 2.5)}, {"ci": "red"}):
        assert ids(PqPart.get_by(**kwargs)) == ids(PqFlat.get_by(**kwargs)), kwargs
    got = PqPart.get_by(i=(0, 9), _limit=(2, 5))
    assert ids(got) == ids(PqFlat.get_by(i=(0, 9), _limit=(2, 5)))


def test_update_and_delete_every_match(rom_redis: redis.Redis) -> None:
    populate(seed=9)
    for model in (PqFlat, PqPart):
        assert model.query.filter(flag=True).update(ci="updated") == (
            PqFlat.query.filter(flag=True).count()
        )
        rom.session.rollback()
    assert ids(PqPart.query.filter(ci="updated").all()) == ids(
        PqFlat.query.filter(ci="updated").all()
    )
    deleted = PqPart.query.filter(i=(0, 5)).delete(blocksize=3)
    assert deleted == PqFlat.query.filter(i=(0, 5)).delete(blocksize=3) > 0
    rom.session.rollback()
    assert PqPart.query.filter(i=(0, 5)).count() == 0
    assert ids(PqPart.query.all()) == ids(PqFlat.query.all())


def test_cached_result_is_a_handle_rom_pages_understand(
    rom_redis: redis.Redis,
) -> None:
    populate(seed=13)
    query = PqPart.query.filter(i=(0, 11)).order_by("-x")
    handle = query.cached_result(60)
    assert handle.startswith(PqPart._meta.parts[0].row_prefix)
    # Each partition's share: ids of that partition, scores their ranks in
    # the whole result.
    token = handle.split(":", 1)[1]
    ranked: list[tuple[float, int]] = []
    for i, part in enumerate(PqPart._meta.parts):
        share = rom_redis.zrange(part.row_prefix + token, 0, -1, withscores=True)
        assert all(int(m) % 16 == i for m, _ in share)
        assert share == [] or 0 < rom_redis.ttl(part.row_prefix + token) <= 60
        ranked += [(score, int(m)) for m, score in share]
    want = ids(PqFlat.query.filter(i=(0, 11)).order_by("-x").all())
    assert [m for _, m in sorted(ranked)] == want
    assert [score for score, _ in sorted(ranked)] == list(range(len(want)))
    with pytest.raises(QueryError, match="not a cached result of PqPart"):
        list(query._pages("nope", 30, 10))


def test_bare_queries_with_an_indexed_primary_key(rom_redis: redis.Redis) -> None:
    rng = random.Random(1)
    parted = [PqPartPk(i=rng.randrange(5), tag=f"t{n % 3}") for n in range(40)]
    rom.session.commit()
    copy(parted, PqFlatPk, ("i", "tag"))
    for build in (
        lambda m: m.query,
        lambda m: m.query.order_by("-id"),
        lambda m: m.query.filter(id=(10, 30)),
        lambda m: m.query.filter(tag="t1").order_by("-i"),
        lambda m: m.query.filter(~rom.Q(tag="t0")),
    ):
        flat, part = build(PqFlatPk), build(PqPartPk)
        assert ids(part.all()) == ids(flat.all())
        assert ids(part.limit(3, 7).all()) == ids(flat.limit(3, 7).all())
        assert part.count() == flat.count()
        assert ids(list(part.iter_result(pagesize=6))) == ids(flat.all())


def test_async_terminals_agree(rom_redis: redis.Redis) -> None:
    populate(seed=17)

    async def run(model: Any) -> list[Any]:
        q = model.query.filter(i=(0, 9)).order_by("-x", "i")
        return [
            ids(await q.limit(2, 6).aall()),
            await q.acount(),
            (await q.afirst()).id,
            (await q.alast()).id,
            await q.aexists(),
            ids([e async for e in q.aiter_result(pagesize=5)]),
        ]

    assert asyncio.run(run(PqPart)) == asyncio.run(run(PqFlat))


def test_an_async_query_is_one_pipeline(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    populate(seed=8, count=40)
    query = PqPart.query.filter(i=(0, 9)).order_by("-x").limit(1, 5)
    want = ids(PqFlat.query.filter(i=(0, 9)).order_by("-x").limit(1, 5).all())

    async def run() -> tuple[list[int], int, int]:
        await query.aall()  # connections made, scripts loaded
        roundtrips.reset()
        found = ids(await query.aall())
        return found, roundtrips.roundtrips, len(roundtrips.names)

    found, trips, commands = asyncio.run(run())
    assert found == want
    assert trips == _masters(rom_redis)
    assert commands == 16


# -- round trips ---------------------------------------------------------------


def _masters(conn: Any) -> int:
    nodes = getattr(conn, "get_primaries", None)
    return len(nodes()) if nodes is not None else 1


def test_a_query_is_one_round_trip_per_node(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    populate(seed=1, count=40)
    query = PqPart.query.filter(i=(0, 9)).order_by("-x").limit(2, 5)
    query.all()  # scripts loaded
    nodes = _masters(rom_redis)
    for run in (
        query.all,
        query.count,
        query.first,
        query.exists,
        PqPart.query.filter(words="ab").all,
        PqPart.query.order_by("name").first,
        PqPart.query.filter(flag=True).count,
        PqPart.query.filter(i=(1, 5)).order_by("i", "-x").last,
    ):
        with roundtrips.count() as calls:
            run()
        # One pipeline of 16 script calls: one round trip per node.
        assert calls.roundtrips == nodes, run
        assert set(calls.names) == {"EVALSHA"} and len(calls.names) == 16
    with roundtrips.count() as calls:
        found = list(PqPart.query.filter(i=(0, 9)).iter_result(pagesize=100))
    assert found
    # The ids of every partition, their shares written, one page, the drop.
    assert calls.roundtrips == 4 * nodes


def test_a_query_reads_at_most_offset_plus_count_per_partition(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    populate(seed=2, count=100)
    import json

    plans: list[dict[str, Any]] = []
    with roundtrips.count():
        PqPart.query.order_by("i").limit(4, 3).all()
    # The plans sent say so: offset 0, count 7, with scores.
    from rom._partition_plans import partition_plans

    query = PqPart.query.order_by("i").limit(4, 3)
    for plan in partition_plans(query._plan("rows"), PqPart._meta):
        plans.append(json.loads(plan.to_json("t")))
    assert {(p["offset"], p["count"], p["scores"]) for p in plans} == {(0, 7, True)}
    assert len({p["row_prefix"] for p in plans}) == 16


def test_queries_on_a_partitioned_model_never_read_unpartitioned_keys(
    rom_redis: redis.Redis,
) -> None:
    populate(seed=4, count=30)
    from rom._partition_plans import partition_plans

    query = PqPart.query.filter(rom.Q(words="ab") | ~rom.Q(flag=True), i=(0, 5)).near(
        "pos", 0, 50, 10, "km"
    )
    for i, plan in enumerate(partition_plans(query._plan("rows"), PqPart._meta)):
        text = plan.to_json("t")
        assert "PqPart~P" not in text
        assert text.count(PqPart._meta.parts[i].row_prefix) >= 5


def test_scripts_flushed_from_the_server_are_loaded_again(
    rom_redis: redis.Redis,
) -> None:
    """NOSCRIPT in the pipeline of a partitioned query: loaded, sent again."""
    populate(seed=6, count=30)
    query = PqPart.query.filter(i=(0, 9)).order_by("-i")
    want = ids(PqFlat.query.filter(i=(0, 9)).order_by("-i").all())
    assert ids(query.all()) == want
    rom_redis.script_flush()
    assert ids(query.all()) == want
    rom_redis.script_flush()
    assert ids(list(query.iter_result(pagesize=5))) == want


def test_a_count_of_one_range_is_a_zcount_per_partition(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    populate(seed=5, count=80)
    for lo, hi in ((0, 9), (3, 3), (-5, 100), (50, 40)):
        with roundtrips.count() as calls:
            counted = PqPart.query.filter(i=(lo, hi)).count()
        assert counted == PqFlat.query.filter(i=(lo, hi)).count()
        # No script: one pipeline of 16 ZCOUNTs, one round trip per node.
        assert calls.names == ["ZCOUNT"] * 16
        assert calls.roundtrips == _masters(rom_redis)
    assert PqPart.query.filter(i=(0, 9)).limit(2, 3).count() == min(
        max(PqFlat.query.filter(i=(0, 9)).count() - 2, 0), 3
    )
