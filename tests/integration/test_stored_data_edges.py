"""Regression tests for the bugs found in the code review, one class per bug."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

import rom
import rom.util
from rom.testing import CallCounter
from rom.testing import data_keys


class ReviewItem(rom.Model):
    name = rom.Text(index=True, keygen=rom.IDENTITY)
    email = rom.Text(unique=True)


class TestBareCountReadsRowKeysOnly:
    def test_a_key_of_non_ascii_digits_is_not_a_row(
        self, rom_redis: redis.Redis
    ) -> None:
        """``<ns>:²`` is not an entity row (ids are ASCII digits), so not counted."""
        ReviewItem(name="a", email="a@x").save()
        rom_redis.set("ReviewItem:\u00b2", "x")
        assert ReviewItem.query.count() == 1


# A damaged index record: a prefix "pair" that is a bare string, a slot that
# is a string, a name that is a number.
DAMAGED_RECORD = '[[5],"x",["x"],[["a"]],[]]'


@pytest.fixture(params=["lua", "watch"])
def writer(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "watch":
        rom._disable_lua_writes()
    try:
        yield str(request.param)
    finally:
        rom._enable_lua_writes()


class TestDamagedIndexRecord:
    def test_save_skips_damaged_items_and_writes_everything(
        self, rom_redis: redis.Redis, writer: str
    ) -> None:
        """Both writers skip what they cannot read; the Lua one no longer
        stopped half-way (row and unique entry written, indexes not)."""
        item = ReviewItem(name="a", email="a@x")
        item.save()
        rom_redis.hset(item._pk, "-index-data-", DAMAGED_RECORD)
        item.name = "b"
        item.email = "b@x"
        item.save()
        assert rom_redis.smembers("ReviewItem:name:b:idx") == {b"1"}
        assert rom_redis.hgetall("ReviewItem:email:uidx") == {b"b@x": b"1"}
        assert json.loads(rom_redis.hget(item._pk, "-index-data-") or "") == [
            ["name:b"],
            {},
            {},
            {},
            {},
        ]
        item.delete()
        # Only the entry the damaged record no longer named is left behind.
        left = set(data_keys(rom_redis, "*"))
        assert left == {b"ReviewItem:id:", b"ReviewItem:name:a:idx"}

    def test_clean_old_index_skips_a_record_that_is_not_a_list(
        self, rom_redis: redis.Redis
    ) -> None:
        """A legacy record of ``5`` (or ``null``) names no entries: it used to
        stop the whole job with a TypeError."""
        rom_redis.hset("ReviewItem::", mapping={"7": "5", "8": "null", "9": "[5]"})
        last = rom.util.show_progress(rom.util.clean_old_index(ReviewItem))
        assert last == (3, 3)
        assert rom_redis.exists("ReviewItem::") == 0


class ReviewScore(rom.Model):
    points = rom.Integer(index=True)


class TestGetByNumericInOneRoundTrip:
    def test_one_script_call_reads_ids_and_rows(
        self, rom_redis: redis.Redis, roundtrips: CallCounter
    ) -> None:
        """get_by on a numeric index took ZRANGEBYSCORE and then the rows."""
        for points in (3, 1, 2, 2):
            ReviewScore(points=points).save()
        rom.session.rollback()
        ReviewScore.get_by(points=0)  # loads the script
        with roundtrips.count() as calls:
            found = ReviewScore.get_by(points=(2, None))
        assert calls.roundtrips == 1
        assert [(e.id, e.points) for e in found] == [(3, 2), (4, 2), (1, 3)]

    @pytest.mark.parametrize(
        "limit", [(0, 2), (1, 2), (1, -1), (0, -5), (0, 0), (-1, 2), (-1, -1), (9, 1)]
    )
    def test_limits_mean_what_zrangebyscore_limit_means(
        self, rom_redis: redis.Redis, limit: tuple[int, int]
    ) -> None:
        """``_limit=(offset, count)`` as Redis reads LIMIT: a negative count is
        "all the rest", a negative offset gives nothing."""
        for points in range(5):
            ReviewScore(points=points).save()
        raw = rom_redis.zrangebyscore("ReviewScore:points:idx", "-inf", "inf", *limit)
        found = ReviewScore.get_by(points=(None, None), _limit=limit)
        assert [str(e.id).encode() for e in found] == raw
