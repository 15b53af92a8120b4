"""Lookups, Q trees, exclude, several order keys, slicing, exists and last.

Each new form is one script call (counted with the ``roundtrips`` fixture)
and leaves no temporary key behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import redis

import rom
from rom import Q
from rom.testing import CallCounter
from rom.testing import is_write_record


class LkItem(rom.Model):
    n = rom.Integer(index=True)
    rank = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    word = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE)
    flag = rom.Boolean(index=True)
    note = rom.Text()
    lon = rom.Float()
    lat = rom.Float()
    geo_index = [rom.GeoIndex("pos", lambda d: (d["lon"], d["lat"]))]  # noqa: RUF012


class LkKeyed(rom.Model):
    """A model whose primary key is indexed: negations read that ZSET."""

    id = rom.PrimaryKey(index=True)
    n = rom.Integer(index=True)


KNOWN = re.compile(rb"^(LkItem|LkKeyed|LkMany):(\d+|id:|.+:(idx|pre|suf|geo))$")


def leftovers(conn: redis.Redis) -> list[bytes]:
    """Keys that are not rows, counters or indexes: query temporaries."""
    keys = conn.scan_iter(count=1000)
    return sorted(k for k in keys if not (KNOWN.match(k) or is_write_record(k)))


def populate(count: int = 12) -> None:
    """n = 0..count-1; rank = n % 3; tag t(n%2); n=3 and n=7 lack rank/flag."""
    for i in range(count):
        missing = i in (3, 7)
        LkItem(
            n=i,
            rank=None if missing else i % 3,
            tag=f"t{i % 2}",
            word=f"w{i % 4} common",
            name=f"nm{i:02d}",
            flag=None if missing else i % 2 == 0,
            note="x",
            lon=i * 0.01,
            lat=50.0,
        )
    rom.session.commit()
    rom.session.rollback()


@pytest.fixture
def warm(rom_redis: redis.Redis, roundtrips: CallCounter) -> CallCounter:
    """Items saved and the scripts loaded; the counter reset."""
    populate()
    LkItem.query.filter(n=(0, 1)).all()
    list(LkItem.query.filter(tag="t1").iter_result())
    rom.session.rollback()
    roundtrips.reset()
    return roundtrips


def ns(found: list[LkItem]) -> list[int | None]:
    return [e.n for e in found]


ALL = list(range(12))

# (query, the n values of all(), in order)
CASES: list[tuple[str, Callable[[], rom.Query[LkItem]], list[int]]] = [
    ("gt", lambda: LkItem.query.filter(n__gt=8), [9, 10, 11]),
    ("gte", lambda: LkItem.query.filter(n__gte=9), [9, 10, 11]),
    ("lt", lambda: LkItem.query.filter(n__lt=2), [0, 1]),
    ("lte", lambda: LkItem.query.filter(n__lte=1), [0, 1]),
    ("range", lambda: LkItem.query.filter(n__range=(4, 6)), [4, 5, 6]),
    ("exact", lambda: LkItem.query.filter(n__exact=5), [5]),
    ("in numeric", lambda: LkItem.query.filter(n__in=[10, 1, 5]), [1, 5, 10]),
    ("in tokens", lambda: LkItem.query.filter(tag__in=["t1"], n__lt=6), [1, 3, 5]),
    ("isnull", lambda: LkItem.query.filter(rank__isnull=True), [3, 7]),
    (
        "not isnull",
        lambda: LkItem.query.filter(rank__isnull=False).order_by("n"),
        [0, 1, 2, 4, 5, 6, 8, 9, 10, 11],
    ),
    ("bool isnull", lambda: LkItem.query.filter(flag__isnull=True), [3, 7]),
    ("startswith", lambda: LkItem.query.filter(word__startswith="w3"), [3, 7, 11]),
    ("endswith", lambda: LkItem.query.filter(word__endswith="2"), [2, 6, 10]),
    ("like", lambda: LkItem.query.filter(word__like="w!", n__lt=3), [0, 1, 2]),
    ("exclude", lambda: LkItem.query.exclude(tag="t0"), [1, 3, 5, 7, 9, 11]),
    (
        "exclude and",
        lambda: LkItem.query.filter(n__lt=6).exclude(tag="t0", n__gt=1),
        [0, 1, 3, 5],
    ),
    (
        "or across columns",
        lambda: LkItem.query.filter(Q(n__lt=2) | Q(word="w3")),
        [0, 1, 3, 7, 11],
    ),
    (
        "negated or",
        lambda: LkItem.query.filter(~(Q(n__lt=9) | Q(tag="t1"))),
        [10],
    ),
    (
        "depth 3",
        lambda: LkItem.query.filter(
            (Q(tag="t0") & ~Q(n__in=[0, 4])) | (Q(flag__isnull=True) & Q(n__gt=5))
        ),
        [2, 6, 7, 8, 10],
    ),
    (
        "order two keys",
        lambda: LkItem.query.filter(n__lt=9).order_by("-rank", "n"),
        [2, 5, 8, 1, 4, 0, 6],
    ),
    (
        "order then id desc",
        lambda: LkItem.query.filter(n__lt=9).order_by("rank", "-id"),
        [6, 0, 4, 1, 8, 5, 2],
    ),
    ("slice", lambda: LkItem.query.order_by("n")[3:6], [3, 4, 5]),
    ("slice of slice", lambda: LkItem.query.order_by("-n")[2:8][1:3], [8, 7]),
    ("near lookup", lambda: LkItem.query.filter(pos__near=(0, 50, 1.0, "km")), [0, 1]),
]


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_new_forms_are_one_script_call(
    warm: CallCounter,
    rom_redis: redis.Redis,
    name: str,
    make: Callable[[], rom.Query[LkItem]],
    expected: list[int],
) -> None:
    """all(), count() and first() each take one round trip; nothing is left."""
    query = make()
    with warm.count() as calls:
        found = query.all()
    assert ns(found) == expected, name
    assert calls.roundtrips == 1
    with warm.count() as calls:
        assert query.count() == len(expected)
    assert calls.roundtrips == 1
    with warm.count() as calls:
        first = query.first()
    assert (first.n if first else None) == (expected[0] if expected else None)
    assert calls.roundtrips == 1
    assert [e.n for e in query.iter_result(pagesize=2)] == expected
    assert leftovers(rom_redis) == []


def test_negation_with_unindexed_pk_probes_the_counter(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """A lone negation reads ids 1..counter that still have a row."""
    LkItem.get(2).delete()  # id 2 holds n=1
    rom.session.rollback()
    query = LkItem.query.exclude(n__gte=4)
    with warm.count() as calls:
        assert ns(query.all()) == [0, 2, 3]
    assert calls.roundtrips == 1
    assert leftovers(rom_redis) == []


def test_negation_with_indexed_pk_reads_the_pk_index(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    """With PrimaryKey(index=True) the negation subtracts from that ZSET."""
    for i in range(6):
        LkKeyed(n=i)
    rom.session.commit()
    rom.session.rollback()
    # A row the pk index does not list is not part of "all ids".
    rom_redis.zrem("LkKeyed:id:idx", "6")
    LkKeyed.query.exclude(n=0).all()
    roundtrips.reset()
    with roundtrips.count() as calls:
        found = LkKeyed.query.exclude(n__in=[1, 2]).all()
    assert [e.n for e in found] == [0, 3, 4]
    assert calls.roundtrips == 1
    assert leftovers(rom_redis) == []


def test_last_follows_the_order(warm: CallCounter) -> None:
    """last() is the last of all(), one round trip, for every kind of order."""
    queries = [
        LkItem.query.filter(n__lt=9).order_by("-rank", "n"),
        LkItem.query.filter(rank=(0, 0)),
        LkItem.query.filter(tag="t1").order_by("-n"),
        LkItem.query.filter(tag="t1"),
        LkItem.query.order_by("name"),
        LkItem.query.exclude(tag="t1"),
    ]
    for query in queries:
        expected = ns(query.all())[-1]
        with warm.count() as calls:
            last = query.last()
        assert last is not None and last.n == expected
        assert calls.roundtrips == 1
    assert LkItem.query.filter(n__gt=100).last() is None
    # A bare query on an unindexed primary key: ids are probed.
    assert LkItem.query.last() is not None
    assert LkItem.query.last().n == 11  # type: ignore[union-attr]


def test_last_of_a_limited_query_is_refused(warm: CallCounter) -> None:
    with pytest.raises(rom.QueryError, match="before limit"):
        LkItem.query.filter(n__gt=1)[2:4].last()


def test_exists_and_bool(warm: CallCounter) -> None:
    """exists() and bool() are one round trip each."""
    with warm.count() as calls:
        assert LkItem.query.filter(n__gt=10).exists()
        assert not LkItem.query.filter(n__gt=11)
        assert LkItem.query.exclude(n__lt=11)
        assert not LkItem.query.filter(n__in=[])
    assert calls.roundtrips == 3
    assert not LkItem.query.filter(n__gt=5)[10:]
    assert LkItem.query.filter(n__gt=5)[5:]


def test_len_is_refused_but_list_works(warm: CallCounter) -> None:
    query = LkItem.query.filter(n__lt=3)
    with pytest.raises(TypeError, match="count"):
        len(query)
    with warm.count() as calls:
        assert [e.n for e in list(query)] == [0, 1, 2]
    # Cached result, one page, its DEL: as before, no len() round trip.
    assert calls.roundtrips == 3


def test_index_access(warm: CallCounter) -> None:
    query = LkItem.query.order_by("-n")
    with warm.count() as calls:
        assert query[0].n == 11
    assert calls.roundtrips == 1
    assert query[3:][1].n == 7
    with pytest.raises(IndexError):
        query[12]
    with pytest.raises(IndexError):
        query[:2][2]
    with pytest.raises(rom.QueryError, match="negative"):
        query[-1]
    with pytest.raises(rom.QueryError, match=">= 0"):
        query[-3:]
    with pytest.raises(rom.QueryError, match="steps"):
        query[::2]


def test_select_with_new_forms(warm: CallCounter) -> None:
    rows = LkItem.query.filter(Q(n=1) | Q(n=2)).order_by("-n").select("n").all()
    assert rows == [{"n": 2}, {"n": 1}]
    assert LkItem.query.exclude(n__lt=11).select("n").last() == {"n": 11}


BAD: list[tuple[Callable[[], Any], str]] = [
    (
        lambda: LkItem.query.filter(tag__gt="a"),
        r"LkItem\.tag__gt needs an index that keeps scores.*token index",
    ),
    (lambda: LkItem.query.filter(note__lt=3), r"LkItem\.note__lt needs .*no index"),
    (lambda: LkItem.query.filter(tag__isnull=True), r"tag__isnull needs"),
    (lambda: LkItem.query.filter(n__isnull="yes"), r"True or False"),
    (lambda: LkItem.query.filter(n__in="abc"), r"list, tuple or set"),
    (lambda: LkItem.query.filter(n__range=5), r"\(low, high\) pair"),
    (lambda: LkItem.query.filter(n__gt=None), r"isnull"),
    (lambda: LkItem.query.filter(n__gt="(3"), r"pass the number itself"),
    (lambda: LkItem.query.filter(n__gt="abc"), r"not a number Redis accepts"),
    (lambda: LkItem.query.filter(tag__startswith="a"), r"prefix=True"),
    (lambda: LkItem.query.filter(nope__gt=1), r"non-existent column LkItem\.nope"),
    (lambda: LkItem.query.filter(n__near=(0, 0, 1, "km")), r"no geo index 'n'"),
    (lambda: LkItem.query.filter("n=1"), r"Q objects"),  # type: ignore[arg-type]
    (lambda: Q(n=1) | {"n": 2}, r"combine only with Q"),
    (lambda: LkItem.query.order_by("n", "tag"), r"Cannot order LkItem by tag"),
]


@pytest.mark.parametrize(("make", "message"), BAD)
def test_bad_lookups_raise_before_redis(
    rom_redis: redis.Redis,
    roundtrips: CallCounter,
    make: Callable[[], Any],
    message: str,
) -> None:
    """Every bad lookup raises a QueryError naming the problem, with no call."""
    with (
        roundtrips.count() as calls,
        pytest.raises((rom.QueryError, ValueError), match=message),
    ):
        make()
    assert calls.roundtrips == 0


def test_plain_filters_keep_their_meaning(warm: CallCounter) -> None:
    """A plain keyword is rom 1.1.2's filter: ranges order, lists are OR."""
    assert ns(LkItem.query.filter(rank=(1, 2), n__lt=6).all()) == [1, 4, 2, 5]
    assert ns(LkItem.query.filter(word=["w1", "w2"], n__lt=4).all()) == [1, 2]
    assert ns(LkItem.query.filter(Q()).filter(n=4).all()) == [4]
    assert LkItem.query.filter(~Q()).count() == 12


def test_empty_window_of_a_multi_column_order(warm: CallCounter) -> None:
    """A zero-size slice returns nothing, also when sorted in the script."""
    query = LkItem.query.order_by("rank", "-n")
    assert query[0:0].all() == []
    assert query[5:5].all() == []
    assert ns(query[0:3].all()) == [9, 6, 0]
    assert query[0:0].count() == 0


def test_order_keys_after_the_id_are_dropped(warm: CallCounter) -> None:
    """Ids never tie: order_by("-id", "rank") is order_by("-id"), n=7 included."""
    query = LkItem.query.order_by("-id", "rank")
    assert query._order_by == "-id"
    assert ns(query.all()) == ALL[::-1]
    assert query.count() == 12
    assert LkItem.query.order_by("rank", "id")._order_by == ("rank", "id")


class LkMany(rom.Model):
    n = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)


def test_long_in_lists_and_negations_over_many_ids(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    """Past the script's chunk sizes: 1,200 ids probed, 1,500 values in __in."""
    for i in range(1200):
        LkMany(n=i, tag=f"t{i % 7}")
    rom.session.commit()
    rom.session.rollback()
    rom_redis.delete("LkMany:5")  # a row gone: the probe skips its id
    LkMany.query.exclude(n=0).count()
    roundtrips.reset()
    with roundtrips.count() as calls:
        assert LkMany.query.exclude(n__lt=1000).count() == 200
        assert LkMany.query.exclude(tag="t0").count() == 1200 - 172 - 1
        wanted = list(range(0, 3000, 2))
        assert LkMany.query.filter(n__in=wanted).count() == 600
        tags = [f"t{i}" for i in range(1500)]
        assert LkMany.query.filter(tag__in=tags).exclude(n__gte=10).count() == 10
    assert calls.roundtrips == 4
    assert leftovers(rom_redis) == []


def test_an_and_tree_is_its_conditions(warm: CallCounter) -> None:
    """filter(Q(a, b)) orders as filter(a, b): by its first range."""
    by_kwargs = LkItem.query.filter(rank__gte=1, tag="t0")
    by_q = LkItem.query.filter(Q(rank__gte=1) & Q(tag="t0"))
    # Ties by id as text: id 11 (n=10) before id 5 (n=4).
    assert ns(by_q.all()) == ns(by_kwargs.all()) == [10, 4, 2, 8]
    # An OR is not a range: by id.
    assert ns(LkItem.query.filter(Q(rank=2) | Q(n=4)).all()) == [2, 4, 5, 8, 11]
