"""SearchPlan.to_json writes common plans by hand: the same text the encoder gives.

search.lua reads the plan; the hand-written form of the common plans must be
byte for byte ``json.dumps(plan.to_body(temp), ensure_ascii=False,
separators=(",", ":"))``, whatever the key names and values hold.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from rom._keys import KeySpace
from rom._search import AffixFilter
from rom._search import AnyFilter
from rom._search import Filter
from rom._search import GeoFilter
from rom._search import Order
from rom._search import RangeFilter
from rom._search import SearchPlan
from rom._search import SetFilter


def encoded(plan: SearchPlan, temp: str) -> str:
    return json.dumps(plan.to_body(temp), ensure_ascii=False, separators=(",", ":"))


texts = st.text(max_size=12)
filters: st.SearchStrategy[Filter] = st.one_of(
    st.builds(RangeFilter, texts, texts, texts),
    st.builds(SetFilter, texts),
    st.builds(AnyFilter, st.tuples(texts, texts)),
    st.builds(AffixFilter, texts, texts, texts, prefix=texts),
    st.builds(AffixFilter, texts, texts, texts, prefix=texts, pattern=st.just(("x",))),
    st.builds(
        AffixFilter, texts, texts, texts, prefix=texts, extra=st.just((("1", "2"),))
    ),
)
orders = st.one_of(
    st.none(),
    st.builds(Order, st.none() | texts, st.booleans()),
)


@given(
    namespace=texts,
    temp=texts,
    found=st.lists(filters, max_size=3),
    order=orders,
    offset=st.integers(0, 2**40),
    count=st.none() | st.integers(0, 2**40),
    mode=st.sampled_from(["rows", "select", "count", "ids", "cache"]),
    fields=st.lists(texts, max_size=3).map(tuple),
    ttl=st.integers(1, 2**31 - 1),
)
def test_common_plans_are_written_as_the_encoder_writes_them(
    namespace: str,
    temp: str,
    found: list[Filter],
    order: Order | None,
    offset: int,
    count: int | None,
    mode: str,
    fields: tuple[str, ...],
    ttl: int,
) -> None:
    plan = SearchPlan(
        KeySpace(namespace), tuple(found), order, offset, count, mode, fields, ttl
    )
    assert plan.to_json(temp) == encoded(plan, temp)


def test_rare_options_take_the_encoder() -> None:
    keys = KeySpace("Item")
    one = (RangeFilter("Item:age:idx", "1", "(5"),)
    geo = GeoFilter("Item:place:geo", 1.5, 2.5, 10.0, "km", None)
    for plan in (
        SearchPlan(keys, one, Order("k"), 0, None, "rows", orders=(Order("k"),)),
        SearchPlan(keys, one, Order(None, True), 0, 1, "rows", last=True),
        SearchPlan(keys, one, Order("k"), 0, 1, "ids", expiry={"x": ["a", "é"]}),
        SearchPlan(keys, one, Order("k"), 0, 1, "ids", scores=True),
        SearchPlan(keys, one, Order(None, geo=geo), 0, 1, "rows"),
    ):
        assert plan.to_json("Item:t") == encoded(plan, "Item:t")
