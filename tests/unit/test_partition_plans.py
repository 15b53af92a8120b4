"""The pure planning and merging of a partitioned model's queries
(rom/_partition_plans.py). No Redis: plans are built and replies made up.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import rom
from rom._partition_plans import cache_keys
from rom._partition_plans import cache_writes
from rom._partition_plans import merge
from rom._partition_plans import merge_page
from rom._partition_plans import new_cache
from rom._partition_plans import partition_plans
from rom._search import SearchPlan
from rom._search import SetFilter
from rom._search import query_keys
from rom.exceptions import QueryError


class PpUnit(rom.Model):
    _partitions = 3
    n = rom.Integer(index=True)
    x = rom.Float(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY, prefix=True)
    lon = rom.Float()
    lat = rom.Float()
    geo_index = [rom.GeoIndex("pos", lambda d: (d["lon"], d["lat"]))]  # noqa: RUF012


def plans_of(query: Any, mode: str = "rows") -> list[dict[str, Any]]:
    plan = query._plan(mode)
    return [json.loads(p.to_json("T")) for p in partition_plans(plan, PpUnit._meta)]


def test_the_template_names_no_partition() -> None:
    keys = query_keys(PpUnit._meta)
    assert keys.namespace == "PpUnit~P"
    assert [p.namespace for p in PpUnit._meta.parts] == [
        "PpUnit~0",
        "PpUnit~1",
        "PpUnit~2",
    ]


def test_every_key_of_every_filter_kind_is_renamed() -> None:
    query = (
        PpUnit.query.filter(rom.Q(tag="a") | ~rom.Q(n=(1, 5)), tag=["b", "c"])
        .startswith(tag="x")
        .near("pos", 1, 2, 3, "km")
        .order_by("-x")
    )
    for i, body in enumerate(plans_of(query)):
        text = json.dumps(body)
        assert "PpUnit~P" not in text
        assert f"PpUnit~{i}:tag:a:idx" in text
        assert f"PpUnit~{i}:n:idx" in text
        assert f"PpUnit~{i}:pos:geo" in text
        assert f"PpUnit~{i}:tag:pre" in text
        assert body["order"]["key"] == f"PpUnit~{i}:x:idx"
        assert body["row_prefix"] == f"PpUnit~{i}:"


def test_the_universe_of_a_negation_walks_the_partition_ids() -> None:
    # No primary-key index: ids n * 3 + i for n = 1..counter of partition i.
    bodies = plans_of(PpUnit.query.filter(~rom.Q(tag="a")))
    for i, body in enumerate(bodies):
        universe = body["filters"][0]["all"]
        assert universe == {
            "kind": "all",
            "counter": f"PpUnit~{i}:id:",
            "prefix": f"PpUnit~{i}:",
            "stride": 3,
            "offset": i,
        }


def test_each_partition_reads_offset_plus_count_from_zero() -> None:
    bodies = plans_of(PpUnit.query.order_by("n").limit(7, 5))
    assert {(b["offset"], b["count"], b.get("scores")) for b in bodies} == {
        (0, 12, True)
    }
    # Ordered by id: no scores needed; a count keeps its plan.
    bodies = plans_of(PpUnit.query.filter(tag="a").limit(2, 2))
    assert {(b["offset"], b["count"], b.get("scores")) for b in bodies} == {
        (0, 4, None)
    }
    bodies = plans_of(PpUnit.query.filter(tag="a"), mode="count")
    assert {(b["offset"], b["count"]) for b in bodies} == {(0, -1)}


def test_a_key_of_another_model_is_refused() -> None:
    plan = PpUnit.query.filter(tag="a")._plan("rows")
    foreign = SearchPlan(
        plan.keys, (SetFilter("Other:1:members"),), None, 0, None, "rows"
    )
    with pytest.raises(QueryError, match=r"PpUnit is partitioned.*ManyToMany"):
        partition_plans(foreign, PpUnit._meta)


def test_near_with_a_count_only_alone_and_by_distance() -> None:
    near = PpUnit.query.near("pos", 1, 2, 3, "km", 4)
    assert len(plans_of(near)) == 3
    for query in (near.filter(tag="a"), near.order_by("n")):
        with pytest.raises(QueryError, match=r"near\(\.\.\., count=4\)"):
            plans_of(query)


def _reply(ids: list[int], scores: list[str]) -> list[Any]:
    return [[[str(i).encode(), b"n", b"1"] for i in ids], [s.encode() for s in scores]]


def test_merge_by_score_breaks_ties_by_id_as_text() -> None:
    plan = PpUnit.query.order_by("n").limit(1, 4)._plan("rows")
    replies = [
        _reply([3, 30], ["1", "2"]),
        _reply([1, 4, 10], ["1", "1", "5"]),
        _reply([2, 5], ["0", "inf"]),
    ]
    found = merge(plan, replies, PpUnit._meta)
    # Order: 2 (0), then score 1: "1" < "3" < "4", then 30 (2), 10, 5.
    assert [int(r[0]) for r in found] == [1, 3, 4, 30]
    desc = PpUnit.query.order_by("-n")._plan("rows")
    found = merge(desc, replies, PpUnit._meta)
    assert [int(r[0]) for r in found] == [5, 10, 30, 1, 3, 4, 2]


def test_merge_by_several_orders_breaks_ties_by_id_as_a_number() -> None:
    plan = PpUnit.query.order_by("n", "-x")._plan("rows")
    replies = [
        [[[b"3"], [b"30"]], [[b"1", b"2"], [b"1", b"2"]]],
        [[[b"10"], [b"4"]], [[b"1", b"2"], [b"1", b"0"]]],
        [[], []],
    ]
    found = merge(plan, replies, PpUnit._meta)
    assert [int(r[0]) for r in found] == [3, 10, 30, 4]


def test_merge_by_id_and_last() -> None:
    plan = PpUnit.query.filter(tag="a")._plan("ids")
    replies = [[b"3", b"30"], [b"1", b"10"], [b"2"]]
    assert merge(plan, replies, PpUnit._meta) == [b"1", b"2", b"3", b"10", b"30"]
    count = PpUnit.query.filter(tag="a")._plan("count")
    assert merge(count, [2, 0, 5], PpUnit._meta) == 7


def test_cached_result_shares_and_pages() -> None:
    info = PpUnit._meta
    handle, keys = new_cache(info)
    assert handle == keys[0] and handle.startswith("PpUnit~0:")
    assert cache_keys(info, handle) == keys
    writes = cache_writes(info, keys, ["4", "3", "9", "5"], 30)
    assert writes == (
        ("zadd", (keys[0], {"3": 1, "9": 2}), {}),
        ("expire", (keys[0], 30), {}),
        ("zadd", (keys[1], {"4": 0}), {}),
        ("expire", (keys[1], 30), {}),
        ("zadd", (keys[2], {"5": 3}), {}),
        ("expire", (keys[2], 30), {}),
    )
    with pytest.raises(QueryError, match="not a cached result of PpUnit"):
        cache_keys(info, "PpUnit~1:abc")
    total, rows = merge_page(
        [[2, [b"3"], [b"9"], [b"1", b"2"]], [1, [b"4"], [b"0"]], [1, []]]
    )
    # Partition 2's row 5 vanished: counted in the page, not returned.
    assert total == 4
    assert rows == [[b"4"], [b"3"], [b"9"]]
