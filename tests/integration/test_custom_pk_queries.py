"""A primary key not named ``id``, next to an ordinary column called ``id``.

Every query path (all, first, count, iteration, iter_result,
select().iter_result, ordering, limits, delete) and the on_delete lookups of
referrers must use the primary key, never the attribute named ``id``.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom


class CpItem(rom.Model):
    _id = rom.PrimaryKey(index=True)
    id = rom.Integer()  # an ordinary column, deliberately confusing
    n = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY, prefix=True)


class CpBare(rom.Model):
    key = rom.PrimaryKey()  # not indexed: bare queries probe the counter
    id = rom.Integer()
    n = rom.Integer()


class CpOwner(rom.Model):
    oid = rom.PrimaryKey(index=True)
    id = rom.Integer()
    name = rom.Text()


class CpPet(rom.Model):
    pid = rom.PrimaryKey(index=True)
    id = rom.Integer()
    owner = rom.ManyToOne("CpOwner", on_delete="cascade")
    keeper = rom.ManyToOne("CpOwner", on_delete="set null")


@pytest.fixture
def items(rom_redis: redis.Redis) -> list[CpItem]:
    # The "id" column runs opposite to the primary key, with a gap.
    found = [CpItem(id=100 - i, n=i % 3, tag=f"t{i}") for i in range(1, 8)]
    rom.session.commit()
    rom.session.rollback()
    return found


def pks(found: Any) -> list[int]:
    return [e._id for e in found]


def test_pk_is_allocated_and_the_id_column_kept(items: list[CpItem]) -> None:
    """The primary key gets 1..7; the id column keeps its own values."""
    got = CpItem.get(3)
    assert (got._id, got.id, got.n) == (3, 97, 0)
    assert rom.session.get(got._pk) is got


@pytest.mark.parametrize(
    "build",
    [
        lambda: CpItem.query,
        lambda: CpItem.query.order_by("_id"),
        lambda: CpItem.query.filter(n=(0, 2)).order_by("_id"),
        lambda: CpItem.query.filter(_id=(1, 7)),
        lambda: CpItem.query.filter(tag=[f"t{i}" for i in range(1, 8)]),
        lambda: CpItem.query.startswith(tag="t"),
        lambda: CpItem.query.like(tag="t!"),
    ],
    ids=["bare", "order", "range+order", "pk-range", "or-list", "prefix", "like"],
)
def test_every_path_lists_by_primary_key(items: list[CpItem], build: Any) -> None:
    """Results and their order come from the primary key, not the id column."""
    query = build()
    assert sorted(pks(query.all())) == list(range(1, 8))
    ordered = query if query._order_by else query.order_by("_id")
    assert pks(ordered.all()) == list(range(1, 8))
    assert pks(ordered.order_by("-_id").all()) == list(range(7, 0, -1))
    assert pks(ordered.limit(2, 3).all()) == [3, 4, 5]
    assert pks(ordered.limit(2, 3).iter_result(pagesize=2)) == [3, 4, 5]
    assert pks(ordered.iter_result(pagesize=3)) == list(range(1, 8))
    assert ordered.first()._id == 1
    assert query.count() == 7
    assert query.limit(5, 10).count() == 2
    rows = ordered.select("id", "n", include_pk=True).iter_result(pagesize=2)
    assert [(r["_id"], r["id"]) for r in rows] == [(i, 100 - i) for i in range(1, 8)]
    rows = ordered.select("id").all()
    assert [r["id"] for r in rows] == [100 - i for i in range(1, 8)]
    raw = ordered.select("id", decode=False, include_pk=True).first()
    assert raw == {"id": "99", "_id": "1"}
    assert [tuple(r) for r in ordered.select("_id", ff=lambda c: tuple).all()] == [
        (i,) for i in range(1, 8)
    ]


def test_filter_then_order_by_primary_key(items: list[CpItem]) -> None:
    """A token filter's results, and their order by the primary key."""
    assert sorted(pks(CpItem.query.filter(n=0).all())) == [3, 6]
    assert pks(CpItem.query.filter(n=0).order_by("-_id").all()) == [6, 3]


def test_delete_uses_primary_key(rom_redis: redis.Redis, items: list[CpItem]) -> None:
    """Query.delete removes the matching rows (keys by primary key)."""
    CpItem.query.filter(n=1).delete(blocksize=1)
    assert sorted(pks(CpItem.query.all())) == [2, 3, 5, 6]
    assert rom_redis.exists("CpItem:1", "CpItem:4", "CpItem:7") == 0
    assert rom_redis.exists("CpItem:99", "CpItem:96") == 0
    assert CpItem.query.count() == 4
    CpItem.query.delete()
    assert CpItem.query.count() == 0
    assert rom_redis.zcard("CpItem:_id:idx") == 0


def test_unindexed_primary_key_probes(rom_redis: redis.Redis) -> None:
    """Without a pk index, bare queries probe 1..counter and read the pk."""
    for i in range(1, 5):
        CpBare(id=50 - i, n=i).save()
    rom.session.rollback()
    assert [e.key for e in CpBare.query.all()] == [1, 2, 3, 4]
    assert [e.key for e in CpBare.query.order_by("-key").limit(1, 2)] == [3, 2]
    assert [r["id"] for r in CpBare.query.select("id").all()] == [49, 48, 47, 46]
    assert [r["key"] for r in CpBare.query.select("id", include_pk=True)] == [
        1,
        2,
        3,
        4,
    ]
    assert CpBare.query.count() == 4
    assert CpBare.get_by(key=2).n == 2


def test_on_delete_finds_referrers_by_primary_key(rom_redis: redis.Redis) -> None:
    """cascade and set null look referrers up by the owner's primary key."""
    owners = [CpOwner(id=900 + i, name=f"o{i}") for i in range(3)]
    rom.session.commit()
    # The owners' "id" column (900..902) is no id: pets point at primary keys.
    pets = [
        CpPet(id=1, owner=owners[0], keeper=owners[1]),
        CpPet(id=2, owner=owners[1], keeper=owners[0]),
        CpPet(id=3, owner=owners[1], keeper=owners[1]),
    ]
    rom.session.commit()
    rom.session.rollback()
    assert sorted(p.pid for p in CpPet.get_by(owner=owners[1].oid)) == [2, 3]
    assert sorted(p.pid for p in CpPet.query.filter(owner=owners[1])) == [2, 3]
    CpOwner.get(owners[1].oid).delete()
    rom.session.rollback()
    # owner=cascade removed pets 2 and 3; keeper=set null cleared pet 1's.
    assert [p.pid for p in CpPet.query.all()] == [1]
    left = CpPet.get(1)
    assert left.keeper is None
    assert left.owner.oid == owners[0].oid
    assert rom_redis.exists(f"CpPet:{pets[1].pid}", f"CpPet:{pets[2].pid}") == 0


def test_query_delete_applies_on_delete_by_primary_key(
    rom_redis: redis.Redis,
) -> None:
    """Query.delete() on owners cascades to pets found by the owners' pks."""
    owners = [CpOwner(id=5 - i, name=f"o{i}") for i in range(3)]
    rom.session.commit()
    CpPet(id=owners[2].oid, owner=owners[0])
    CpPet(id=owners[0].oid, owner=owners[2], keeper=owners[0])
    rom.session.commit()
    rom.session.rollback()
    CpOwner.query.filter(oid=(owners[0].oid, owners[0].oid)).delete()
    rom.session.rollback()
    assert sorted(o.oid for o in CpOwner.query.all()) == [owners[1].oid, owners[2].oid]
    # The pet owned by owner 0 is gone; the other lost its keeper only.
    (left,) = CpPet.query.all()
    assert left.owner.oid == owners[2].oid
    assert left.keeper is None
