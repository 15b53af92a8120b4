"""Geo callbacks return what rom 1.1.2's did: a dict, a list of dicts, or nothing.

A list is every point of the entity in that index; all are added under the
entity's id, so Redis keeps the last one. An empty list (and None) means
no point: the entity is not in the geo index, and an earlier point is removed.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom

from .dump import record


@pytest.fixture
def places(fresh_models: None) -> type[rom.Model]:
    """A model whose geo callback returns whatever ``spots`` holds."""

    class GcPlace(rom.Model):
        name = rom.Text()
        spots = rom.Json()
        geo_index = [rom.GeoIndex("at", lambda d: d.spots)]  # noqa: RUF012

    return GcPlace


def _position(conn: redis.Redis, key: str, member: str) -> tuple[float, float] | None:
    found = conn.geopos(key, member)[0]
    return None if found is None else (round(found[0], 4), round(found[1], 4))


@pytest.mark.parametrize(
    ("spots", "where"),
    [
        ({"lon": 10.5, "lat": 20.25}, (10.5, 20.25)),
        ([{"lon": 1, "lat": 2}], (1.0, 2.0)),
        ([{"lon": 1, "lat": 2}, {"lon": 3.5, "lat": -4.5}], (3.5, -4.5)),
        ([], None),
    ],
    ids=["dict", "one-item list", "two-item list", "empty list"],
)
def test_callback_results(
    rom_redis: redis.Redis, places: Any, spots: Any, where: Any
) -> None:
    """Each shape indexes its (last) point, or none, and records the index."""
    entity = places(name="p", spots=spots)
    entity.save()
    assert _position(rom_redis, "GcPlace:at:geo", str(entity.id)) == where
    geo_slot = record(rom_redis.hget(entity._pk, "-index-data-"))[4]
    assert geo_slot == ([] if where is None else ["at"])
    if where is not None:
        found = places.query.near("at", where[0], where[1], 1, "km").all()
        assert found == [entity]


def test_none_means_no_point(rom_redis: redis.Redis, fresh_models: None) -> None:
    """A callback returning None indexes nothing (rom 1.1.2 raised TypeError)."""

    class GcNone(rom.Model):
        name = rom.Text()
        geo_index = [rom.GeoIndex("at", lambda d: None)]  # noqa: RUF012

    entity = GcNone(name="x")
    entity.save()
    assert not rom_redis.exists("GcNone:at:geo")


def test_point_removed_when_list_empties(rom_redis: redis.Redis, places: Any) -> None:
    """Going from a list of points to [] takes the entity out of the index."""
    entity = places(name="p", spots=[{"lon": 1, "lat": 2}, {"lon": 5, "lat": 6}])
    entity.save()
    assert _position(rom_redis, "GcPlace:at:geo", str(entity.id)) == (5.0, 6.0)
    entity.spots = []
    entity.save()
    assert _position(rom_redis, "GcPlace:at:geo", str(entity.id)) is None
    entity.spots = {"lon": 7, "lat": 8}
    entity.save()
    assert _position(rom_redis, "GcPlace:at:geo", str(entity.id)) == (7.0, 8.0)
    entity.delete()
    assert not rom_redis.exists("GcPlace:at:geo")
