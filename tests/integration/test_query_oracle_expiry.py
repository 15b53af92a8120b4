"""The query oracle (test_query_oracle.py) on an expiring model.

Random entities of a model declaring ``_ttl`` get random values, updates
and deletes; then a random subset is made due (its expiry time set in the
past, as if the clock had passed it before any script met them) and random
queries must return exactly what brute force gives over the entities still
alive, from all(), count(), iteration and first(). Up to 30 more due
entities (with random values too) make some queries meet more due entities
than one call removes, so the exclusion of the rest is exercised.
"""

from __future__ import annotations

from typing import Any

import redis
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import rom

from . import test_query_oracle as oracle


class QxItem(oracle.QoItem):
    _ttl = 3600


@settings(oracle.SETTINGS, max_examples=60)
@given(
    created=st.lists(oracle.values_st, min_size=4, max_size=14),
    doomed=st.one_of(
        st.lists(oracle.values_st, max_size=5),
        st.lists(oracle.values_st, min_size=21, max_size=30),
    ),
    changes=oracle.changes_st,
    pagesize=st.integers(1, 4),
    data=st.data(),
)
def test_expired_entities_never_match(
    rom_redis: redis.Redis,
    created: list[dict[str, Any]],
    doomed: list[dict[str, Any]],
    changes: Any,
    pagesize: int,
    data: st.DataObject,
) -> None:
    """Queries over alive and expired entities match brute force over the alive."""
    saved = oracle.QoItem
    oracle.QoItem = QxItem  # type: ignore[misc]
    try:
        world = oracle.build(rom_redis, created + doomed, changes)
        alive = sorted(world.rows)
        due = set(data.draw(st.sets(st.sampled_from(alive))) if alive else set())
        # The doomed extras (the last ids created) are due too, if not deleted.
        due |= {i for i in alive if i > len(created)}
        queries = data.draw(st.lists(oracle.query_st(world), min_size=3, max_size=6))
        past = 1000  # Unix ms: long ago by any clock
        if due:
            rom_redis.zadd("QxItem::expiry", {str(i): past for i in due})
        for i in due:
            del world.rows[i]
        for query in queries:
            oracle.check(world, query, pagesize)
        # Every read removed what it met, the rest goes with expire_due.
        list(rom.util.expire_due(QxItem))
        assert rom_redis.zcard("QxItem::expiry") == len(world.rows)
        assert rom.util.check(QxItem).ok
    finally:
        oracle.QoItem = saved  # type: ignore[misc]
