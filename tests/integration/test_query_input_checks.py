"""Query input Redis would refuse or misread raises QueryError (or just works).

Range endpoints are checked against the score syntax Redis accepts before
anything is sent; huge limits and long OR-lists work; None is refused as a
filter or get_by value instead of matching every entity that has a value.
"""

from __future__ import annotations

import decimal
import math
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import QueryError
from rom.testing import CallCounter


class QiItem(rom.Model):
    n = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    where = rom.Float()


class QiPlace(rom.Model):
    lon = rom.Float()
    lat = rom.Float()
    geo_index = [rom.GeoIndex("where", lambda d: (d.lon, d.lat))]  # noqa: RUF012


class QiOwner(rom.Model):
    name = rom.Text()


class QiPet(rom.Model):
    owner = rom.ManyToOne("QiOwner", on_delete="cascade")
    age = rom.Integer(index=True)


@pytest.fixture
def items(rom_redis: redis.Redis) -> list[QiItem]:
    found = [QiItem(n=i, tag=f"t{i}") for i in range(1, 6)]
    rom.session.commit()
    return found


def ns(query: Any) -> list[int]:
    return [e.n for e in query.all()]


BAD_BOUNDS = [
    "nan",
    "NaN",
    "(nan",
    "1_0",
    " 5",
    "5 ",
    "0x10",
    "",
    "1e",
    "((5",
    "five",
    float("nan"),
    decimal.Decimal("NaN"),
    decimal.Decimal("sNaN"),
]


@pytest.mark.parametrize("bound", BAD_BOUNDS, ids=repr)
def test_bad_range_bounds_raise_before_sending(
    items: list[QiItem], roundtrips: CallCounter, bound: Any
) -> None:
    """QueryError names the model, column and value; nothing reaches Redis."""
    roundtrips.reset()
    for build in (
        lambda: QiItem.query.filter(n=(bound, 10)),
        lambda: QiItem.query.filter(n=(1, bound)),
        lambda: QiItem.get_by(n=(bound, None)),
    ):
        with pytest.raises(QueryError) as raised:
            build()
        message = str(raised.value)
        assert "QiItem.n" in message
        assert repr(bound) in message
        assert "Redis accepts" in message
    assert roundtrips.roundtrips == 0


def test_nan_equality_raises(items: list[QiItem]) -> None:
    """filter(n=nan) and get_by(n=nan) are refused too (NaN equals nothing)."""
    with pytest.raises(QueryError, match=r"QiItem\.n"):
        QiItem.query.filter(n=math.nan)
    with pytest.raises(QueryError, match=r"QiItem\.n"):
        QiItem.get_by(n=math.nan)


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        (("2", "4"), [2, 3, 4]),
        (("(2", "(4"), [3]),
        (("-inf", "+inf"), [1, 2, 3, 4, 5]),
        (("-Infinity", "2.5e0"), [1, 2]),
        ((".5", "1."), [1]),
        ((math.inf * -1, math.inf), [1, 2, 3, 4, 5]),
        ((decimal.Decimal("1E+0"), decimal.Decimal("Infinity")), [1, 2, 3, 4, 5]),
        ((10**400 * -1, 2), [1, 2]),
    ],
)
def test_good_bounds_still_work(
    items: list[QiItem], bounds: tuple[Any, Any], expected: list[int]
) -> None:
    """Every form Redis reads like Python still filters as before."""
    assert ns(QiItem.query.filter(n=bounds).order_by("n")) == expected
    assert [e.n for e in QiItem.get_by(n=bounds)] == expected


@pytest.mark.parametrize(
    ("offset", "count", "expected"),
    [
        (0, 10**20, [1, 2, 3, 4, 5]),
        (0, 2**63, [1, 2, 3, 4, 5]),
        (2, 2**63 - 1, [3, 4, 5]),
        (10**20, 5, []),
        (2**63, None, []),
        (2**64, 10**30, []),
    ],
)
def test_huge_limits_work(
    items: list[QiItem], offset: int, count: int | None, expected: list[int]
) -> None:
    """Offsets and counts past Redis's 64-bit integers mean 'nothing'/'all'."""
    for query in (
        QiItem.query.filter(n=(None, None)).order_by("n"),
        QiItem.query.filter(tag=["t1", "t2", "t3", "t4", "t5"]).order_by("n"),
        QiItem.query.order_by("n"),
    ):
        limited = query.limit(offset, count)
        assert ns(limited) == expected
        assert [e.n for e in limited.iter_result()] == expected
        assert limited.count() == len(expected)
        assert (limited.first() or QiItem(n=None)).n == (
            expected[0] if expected else None
        )
    assert [e.n for e in QiItem.get_by(n=(1, 5), _limit=(offset, count or 0))] == (
        expected if count else []
    )


def test_or_list_of_8000_values(items: list[QiItem]) -> None:
    """An OR-list longer than Lua's unpack() limit works (in chunks)."""
    values = [f"x{i}" for i in range(8000)] + ["t2", "t5"]
    query = QiItem.query.filter(tag=values)
    assert sorted(ns(query)) == [2, 5]
    assert query.count() == 2
    assert sorted(e.n for e in query.iter_result()) == [2, 5]
    both = QiItem.query.filter(tag=values, n=(3, None))
    assert ns(both) == [5]
    big = [f"t{i}" for i in range(1, 6)] * 2000
    assert sorted(ns(QiItem.query.filter(tag=big))) == [1, 2, 3, 4, 5]


def test_filter_none_raises(rom_redis: redis.Redis, roundtrips: CallCounter) -> None:
    """filter(col=None) names model and column; it used to match every value."""
    owner = QiOwner(name="o")
    owner.save()
    QiPet(owner=owner, age=3).save()
    QiItem(n=1, tag="a").save()
    roundtrips.reset()
    for model, column in ((QiItem, "n"), (QiItem, "tag"), (QiPet, "owner")):
        with pytest.raises(QueryError) as raised:
            model.query.filter(**{column: None})
        assert f"{model.__name__}.{column} by None" in str(raised.value)
        assert "None cannot be searched" in str(raised.value)
    assert roundtrips.roundtrips == 0
    # The delete that used to remove every pet with an owner is refused.
    with pytest.raises(QueryError):
        QiPet.query.filter(owner=None).delete()
    assert QiPet.query.filter(owner=rom.NOT_NULL).count() == 1
    assert QiPet.query.count() == 1


def test_get_by_none_raises(rom_redis: redis.Redis) -> None:
    """get_by(ref=None) and get_by(n=None) raise QueryError, not AttributeError."""
    owner = QiOwner(name="o")
    owner.save()
    QiPet(owner=owner, age=3).save()
    for column in ("owner", "age"):
        with pytest.raises(QueryError) as raised:
            QiPet.get_by(**{column: None})
        assert f"QiPet.get_by({column}=None)" in str(raised.value)
    assert [p.age for p in QiPet.get_by(owner=owner)] == [3]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((200.0, 0.0, 10), "outside"),
        ((0.0, 86.0, 10), "outside"),
        ((math.nan, 0.0, 10), "outside"),
        ((0.0, 0.0, -1), "finite number >= 0"),
        ((0.0, 0.0, math.inf), "finite number >= 0"),
        ((0.0, 0.0, math.nan), "finite number >= 0"),
        (("x", 0.0, 1), "must be numbers"),
    ],
)
def test_near_checks_what_geosearch_refuses(
    rom_redis: redis.Redis, args: tuple[Any, Any, Any], match: str
) -> None:
    """Bad near() input raises ValueError (rom 1.1.2's type) before sending."""
    with pytest.raises(ValueError, match=match):
        QiPlace.query.near("where", *args, "km")
    QiPlace(lon=1.0, lat=1.0).save()
    near = QiPlace.query.near("where", 1.0, 1.0, 1, "km", count=2**70)
    assert [p.lon for p in near.all()] == [1.0]


def test_huge_timeouts_and_page_sizes_work(items: list[QiItem]) -> None:
    """cached_result/iter_result take any timeout >= 1 and any page size."""
    query = QiItem.query.filter(n=(2, 4)).order_by("n")
    assert [e.n for e in query.iter_result(timeout=10**20, pagesize=10**20)] == [
        2,
        3,
        4,
    ]
    key = query.cached_result(10**20)
    conn = QiItem._connection
    assert conn.zcard(key) == 3
    assert 0 < conn.ttl(key) <= 2**31 - 1
    conn.delete(key)
