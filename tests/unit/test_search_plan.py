"""The pure query planner (rom/_search.py): filter nodes, errors, windows, plans.

No Redis: declaring models, building queries and planning them send nothing.
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any

import pytest
from hypothesis import assume
from hypothesis import given
from hypothesis import strategies as st

import rom
from rom._keys import KeySpace
from rom._search import NOT_NULL
from rom._search import AffixFilter
from rom._search import AnyFilter
from rom._search import GeoFilter
from rom._search import NoMatch
from rom._search import Order
from rom._search import RangeFilter
from rom._search import SearchPlan
from rom._search import SetFilter
from rom._search import check_limit
from rom._search import filters_for
from rom._search import geo_filter
from rom._search import order_for
from rom._search import pattern_filter
from rom._search import prefix_filter
from rom.exceptions import QueryError
from rom.keygen import prefix_score


def plan_keygen(value: Any) -> dict[str, Any] | None:
    """A dict keygen: a score, a scored sub-key and a set sub-key."""
    if not value:
        return None
    return {"": value["x"], "v:123": value["y"], value["kind"]: None}


class QPlanItem(rom.Model):
    n = rom.Integer(index=True)
    f = rom.Float(index=True)
    price = rom.Decimal(index=True)
    when = rom.DateTime(index=True)
    day = rom.Date(index=True)
    at = rom.Time(index=True)
    flag = rom.Boolean(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY, prefix=True, suffix=True)
    tag_ci = rom.Text(index=True, keygen=rom.IDENTITY_CI)
    body = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    title = rom.Text(index=True, keygen=rom.SIMPLE_CI, prefix=True)
    code = rom.String(index=True, keygen=rom.IDENTITY_STRING)
    code_ci = rom.String(index=True, keygen=rom.IDENTITY_STRING_CI)
    data = rom.Json(index=True, keygen=plan_keygen)
    note = rom.Text()
    words = rom.IndexOnly("note", rom.IDENTITY_CI)
    geo_index = [rom.GeoIndex("pos", lambda d: (d["lon"], d["lat"]))]  # noqa: RUF012


class QPlanOwner(rom.Model):
    name = rom.Text()


class QPlanPet(rom.Model):
    owner = rom.ManyToOne("QPlanOwner", on_delete="no action")
    name = rom.Text()


INFO = QPlanItem._meta


def key(name: str) -> str:
    """A QPlanItem index key."""
    return f"QPlanItem:{name}:idx"


def filters(name: str, value: Any) -> list[Any]:
    """The filter nodes of ``QPlanItem.query.filter(name=value)``."""
    return filters_for(INFO, name, value)


class TestNumericValues:
    @pytest.mark.parametrize(
        ("name", "value", "score"),
        [
            ("n", 5, "5"),
            ("n", -3, "-3"),
            ("f", 2.5, "2.5"),
            ("f", 3.0, "3.0"),
            ("price", decimal.Decimal("1.10"), "1.10"),
            ("when", datetime.datetime(1970, 1, 2), "86400.0"),
            ("day", datetime.date(1970, 1, 2), "86400.0"),
            ("at", datetime.time(1, 0, 30), "3630.0"),
        ],
    )
    def test_a_value_is_a_one_point_range(
        self, name: str, value: Any, score: str
    ) -> None:
        """A number, date or time becomes the range [score, score]."""
        assert filters(name, value) == [RangeFilter(key(name), score, score)]

    @pytest.mark.parametrize(
        ("value", "bounds"),
        [
            ((1, 3), ("1", "3")),
            ((None, 3), ("-inf", "3")),
            ((1, None), ("1", "+inf")),
            ((None, None), ("-inf", "+inf")),
            (("(1", "(3"), ("(1", "(3")),
            (("(1", 3.5), ("(1", "3.5")),
            (("2", "4"), ("2", "4")),
            (("(-2.5", None), ("(-2.5", "+inf")),
        ],
    )
    def test_ranges(self, value: tuple[Any, Any], bounds: tuple[str, str]) -> None:
        """Range ends: None is open, a '(' string is exclusive."""
        assert filters("n", value) == [RangeFilter(key("n"), *bounds)]

    def test_date_and_time_ranges(self) -> None:
        """Date and time endpoints become their numeric scores."""
        days = (datetime.date(1970, 1, 1), datetime.date(1970, 1, 3))
        assert filters("day", days) == [RangeFilter(key("day"), "0.0", "172800.0")]
        times = (None, datetime.time(0, 1))
        assert filters("at", times) == [RangeFilter(key("at"), "-inf", "60.0")]

    def test_references(self) -> None:
        """A ManyToOne filters its id index; NOT_NULL is the open range."""
        info = QPlanPet._meta
        pet = "QPlanPet:owner:idx"
        assert filters_for(info, "owner", NOT_NULL) == [
            RangeFilter(pet, "-inf", "+inf")
        ]
        assert filters_for(info, "owner", 7) == [RangeFilter(pet, "7", "7")]
        assert filters_for(info, "owner", (2, None)) == [RangeFilter(pet, "2", "+inf")]

    def test_sub_keys(self) -> None:
        """A sub-key names its own index: ranges and numbers score it, text is a set."""
        assert filters("data:v:123", (120, 125)) == [
            RangeFilter(key("data:v:123"), "120", "125")
        ]
        assert filters("data:v:123", 122) == [
            RangeFilter(key("data:v:123"), "122", "122")
        ]
        assert filters("data", (10, 20)) == [RangeFilter(key("data"), "10", "20")]
        assert filters("data", "odd") == [SetFilter(key("data:odd"))]


class TestTokenValues:
    def test_identity_keeps_the_value(self) -> None:
        """IDENTITY looks up the exact value."""
        assert filters("tag", "Red Sky") == [SetFilter(key("tag:Red Sky"))]

    @pytest.mark.parametrize(
        ("name", "value", "token"),
        [
            ("tag_ci", "RED", "red"),
            ("tag_ci", "ÜBER", "über"),
            ("code_ci", b"ABC", "abc"),
            ("code_ci", "ABC", "abc"),
            ("code", b"caf\xc3\xa9", "café"),
            ("code", "RAW", "RAW"),
            ("words", "MiXeD", "mixed"),
            ("flag", True, "True"),
            ("flag", False, "False"),
        ],
    )
    def test_normalised_tokens(self, name: str, value: Any, token: str) -> None:
        """Values are lowercased per keygen; bytes are decoded; bools are tokens."""
        assert filters(name, value) == [SetFilter(key(f"{name}:{token}"))]

    def test_full_text_splits_lowercases_and_strips(self) -> None:
        """A FULL_TEXT value is its distinct words, each a filter (ANDed)."""
        assert filters("body", "Hello, World! hello") == [
            SetFilter(key("body:hello")),
            SetFilter(key("body:world")),
        ]
        assert filters("body", b"caf\xe9") == [SetFilter(key("body:café"))]
        assert filters("body", "a*b") == [SetFilter(key("body:a*b"))]

    @pytest.mark.parametrize("value", ["", "   ", "...", "!? ;"])
    def test_full_text_without_words_matches_nothing(self, value: str) -> None:
        """No words means no match, answered without Redis."""
        assert filters("body", value) == [NoMatch()]

    def test_or_lists(self) -> None:
        """A list is one AnyFilter of distinct normalised tokens."""
        assert filters("tag", ["a", "b", "a"]) == [
            AnyFilter((key("tag:a"), key("tag:b")))
        ]
        assert filters("body", ["A", "b!", "a"]) == [
            AnyFilter((key("body:a"), key("body:b")))
        ]
        assert filters("tag_ci", ["X"]) == [AnyFilter((key("tag_ci:x"),))]
        assert filters("code", [b"caf\xc3\xa9", "x"]) == [
            AnyFilter((key("code:café"), key("code:x")))
        ]


class TestFilterErrors:
    @pytest.mark.parametrize(
        ("name", "value", "match"),
        [
            ("missing", 1, "non-existent column"),
            ("missing:sub", (1, 2), "non-existent column"),
            ("note", "x", "no index"),
            ("n", "5", "numeric"),
            ("n", b"5", "numeric"),
            ("n", True, "numeric"),
            ("n", [1, 2], "OR-lists"),
            ("n", (1, 2, 3), "2 endpoints"),
            ("n", (), "2 endpoints"),
            ("n", ("x", 1), "not a number"),
            ("n", (1, False), "endpoint"),
            ("n", ([1], 2), "endpoint"),
            ("n", {"a": 1}, "n"),
            ("n", NOT_NULL, "non-null"),
            ("title", "x", "startswith"),
            ("tag", (1, 2), "range"),
            ("body", ("a", "b"), "range"),
            ("tag", [], "know how to filter"),
            ("tag", {}, "know how to filter"),
            ("tag", None, "know how to filter"),
            ("tag", ["a", ["b"]], "OR-list items"),
            ("tag", ["a", None], "OR-list items"),
            ("body", ["two words"], "one word"),
        ],
    )
    def test_bad_filters(self, name: str, value: Any, match: str) -> None:
        """Each of these filters raises QueryError naming the problem."""
        with pytest.raises(QueryError, match=match):
            filters(name, value)

    def test_not_null_is_checked_by_identity(self) -> None:
        """Only the NOT_NULL object is refused on plain columns, not (None, None)."""
        assert NOT_NULL is rom.NOT_NULL
        open_ended = tuple([None, None])
        assert filters("n", open_ended) == [RangeFilter(key("n"), "-inf", "+inf")]


class TestPrefixSuffix:
    def test_startswith_window(self) -> None:
        """startswith scans [score(p), score(p, next)) of the :pre index."""
        assert prefix_filter(INFO, "body", "ABC", suffix=False) == AffixFilter(
            "QPlanItem:body:pre",
            "2.054904547363961e-306",
            "(2.054905948381121e-306",
            prefix="abc",
        )

    def test_endswith_reverses(self) -> None:
        """endswith looks up the reversed value in the :suf index."""
        assert prefix_filter(INFO, "tag", "Abc", suffix=True) == AffixFilter(
            "QPlanItem:tag:suf",
            prefix_score("cbA"),
            "(" + prefix_score("cbA", next=True),
            prefix="cbA",
        )
        assert prefix_filter(INFO, "tag", "né", suffix=True).prefix == "én"

    def test_empty_prefix_scans_everything(self) -> None:
        """An empty prefix has an unbounded window."""
        found = prefix_filter(INFO, "tag", "", suffix=False)
        assert (found.start, found.end, found.prefix) == ("-inf", "+inf", "")

    def test_long_prefix_window_is_its_first_seven_bytes(self) -> None:
        """Scores only see 7 bytes; the full prefix is compared by the script."""
        found = prefix_filter(INFO, "tag", "abcdefghij", suffix=False)
        assert found.start == prefix_score("abcdefg")
        assert found.end == "(" + prefix_score("abcdefg", next=True)
        assert found.prefix == "abcdefghij"

    def test_case_follows_the_keygen(self) -> None:
        """FULL_TEXT and SIMPLE_CI prefixes are lowercased, IDENTITY ones kept."""
        assert prefix_filter(INFO, "title", "AbC", suffix=False).prefix == "abc"
        assert prefix_filter(INFO, "tag", "AbC", suffix=False).prefix == "AbC"

    @given(
        prefix=st.text(alphabet="ab\0é€\U0001f600", max_size=3),
        token=st.text(alphabet="ab\0é€\U0001f600", max_size=9),
    )
    def test_window_holds_exactly_the_tokens_with_the_prefix(
        self, prefix: str, token: str
    ) -> None:
        """Within 7 bytes a token's score is in the window iff it has the prefix."""
        assume(prefix and len(prefix.encode()) <= 7)
        found = prefix_filter(INFO, "tag", prefix, suffix=False)
        assert isinstance(found, AffixFilter)
        start, end = float(found.start), float(found.end[1:])
        inside = start <= float(prefix_score(token)) < end
        assert inside == token.encode().startswith(prefix.encode())

    @pytest.mark.parametrize(
        ("call", "match"),
        [
            (lambda: prefix_filter(INFO, "n", "1", suffix=False), "prefix=True"),
            (lambda: prefix_filter(INFO, "title", "x", suffix=True), "suffix=True"),
            (lambda: prefix_filter(INFO, "nope", "x", suffix=False), "non-existent"),
            (lambda: prefix_filter(INFO, "tag", 5, suffix=False), "takes a str"),
            (lambda: pattern_filter(INFO, "tag_ci", "x"), "prefix=True"),
        ],
    )
    def test_errors(self, call: Any, match: str) -> None:
        """Prefix, suffix and pattern filters need the index and a string."""
        with pytest.raises(QueryError, match=match):
            call()


class TestLikePatterns:
    @pytest.mark.parametrize(
        ("pattern", "prefix", "items"),
        [
            ("abc", "abc", ()),
            ("a.c", "a.c", ()),
            ("^$()%.[]-", "^$()%.[]-", ()),
            ("h?llo", "h", ((0, 1), "llo")),
            ("*orld", "", ((0, -1), "orld")),
            ("th+e", "th", ((1, -1), "e")),
            ("b!g", "b", ((1, 1), "g")),
            ("50%+", "50%", ((1, 1),)),
            ("x\0y?z", "x\0y", ((0, 1), "z")),
            ("a*?*b", "a", ((0, -1), "b")),
            ("a?!?b", "a", ((1, 3), "b")),
            ("a*??", "a", ()),
            ("a!?!", "a", ((2, 2),)),
            ("café!é", "café", ((1, 1), "é")),
            ("*a*a*ab", "", ((0, -1), "a", (0, -1), "a", (0, -1), "ab")),
        ],
    )
    def test_pattern_items(
        self, pattern: str, prefix: str, items: tuple[object, ...]
    ) -> None:
        """The literal prefix is checked as is, the rest is matcher items.

        Literal runs stay whole, each run of wildcards becomes one gap of
        (least, most) characters (-1: no limit), and a trailing gap keeps
        only its least.
        """
        found = pattern_filter(INFO, "tag", pattern)
        assert isinstance(found, AffixFilter)
        assert (found.prefix, found.pattern) == (prefix, items)

    def test_full_text_patterns_are_lowercased(self) -> None:
        """A FULL_TEXT pattern is lowercased like the words it matches."""
        found = pattern_filter(INFO, "body", "AB*C")
        assert (found.prefix, found.pattern) == ("ab", ((0, -1), "c"))

    @pytest.mark.parametrize(
        ("pattern", "literal"),
        [("abc", "abc"), ("ab?c", "ab"), ("a.c*", "a.c"), ("*x", ""), ("!x", "")],
    )
    def test_window_of_the_literal_prefix(self, pattern: str, literal: str) -> None:
        """The scan is narrowed to the text before the first wildcard."""
        found = pattern_filter(INFO, "tag", pattern)
        expected = prefix_filter(INFO, "tag", literal, suffix=False)
        assert (found.key, found.start, found.end) == (
            expected.key,
            expected.start,
            expected.end,
        )


class TestNearOrderLimit:
    def test_geo_filter(self) -> None:
        """near() names the geo key, lowercases the unit, drops a zero count."""
        assert geo_filter(INFO, "pos", 1, 2.5, 3, "KM", 0) == GeoFilter(
            "QPlanItem:pos:geo", 1.0, 2.5, 3.0, "km", None
        )
        assert geo_filter(INFO, "pos", 0, 0, 1, "ft", 4).count == 4

    @pytest.mark.parametrize(
        "args",
        [
            ("nope", 0, 0, 1, "km", None),
            ("pos", 0, 0, 1, "yd", None),
            ("pos", 0, 0, 1, "", None),
            ("pos", 0, 0, 1, "km", -1),
        ],
    )
    def test_geo_errors(self, args: tuple[Any, ...]) -> None:
        """An unknown geo index, unit or a negative count raises ValueError."""
        with pytest.raises(ValueError):
            geo_filter(INFO, *args)

    def test_order_for(self) -> None:
        """order_by takes numeric and SIMPLE indexes; '-' descends; ids sort too."""
        assert order_for(INFO, "n") == Order(key("n"))
        assert order_for(INFO, "-when") == Order(key("when"), desc=True)
        assert order_for(INFO, "title") == Order(key("title"))
        assert order_for(INFO, "-id") == Order(None, desc=True)
        assert order_for(INFO, "id").by_id
        assert order_for(QPlanPet._meta, "owner") == Order("QPlanPet:owner:idx")

    @pytest.mark.parametrize(
        ("name", "match"),
        [
            ("missing", "non-existent"),
            ("-note", "no index"),
            ("tag", "words"),
            ("body", "words"),
            ("flag", "words"),
            ("code", "words"),
        ],
    )
    def test_order_errors(self, name: str, match: str) -> None:
        """Unindexed and word-indexed columns cannot order."""
        with pytest.raises(QueryError, match=match):
            order_for(INFO, name)

    @pytest.mark.parametrize("limit", [(0, None), (0, 0), (5, 10), (3, None)])
    def test_good_limits(self, limit: tuple[int, int | None]) -> None:
        """Offsets >= 0 and counts >= 0 (or None) are kept."""
        assert check_limit("M", *limit) == limit

    @pytest.mark.parametrize(
        "limit", [(-1, 5), (0, -1), (True, 1), (0, 1.5), ("1", 2), (None, 2)]
    )
    def test_bad_limits(self, limit: tuple[Any, Any]) -> None:
        """Negative or non-integer limits raise QueryError."""
        with pytest.raises(QueryError):
            check_limit("M", *limit)


class TestSearchPlan:
    def test_json_of_a_plan(self) -> None:
        """The plan names a fresh namespaced temp key and every limit."""
        plan = SearchPlan(
            KeySpace("QPlanItem"),
            (RangeFilter(key("n"), "1", "(5"), SetFilter(key("tag:x"))),
            Order(key("n"), desc=True),
            2,
            None,
            "rows",
        )
        body = json.loads(plan.to_json())
        assert body.pop("scratch") == body["temp"] + ":"
        namespace, temp = body.pop("temp").split(":")
        assert namespace == "QPlanItem"
        assert uuid.UUID(temp).version == 4
        assert body == {
            "ttl": 30,
            "filters": [
                {"kind": "range", "key": key("n"), "min": "1", "max": "(5"},
                {"kind": "set", "key": key("tag:x")},
            ],
            "order": {"key": key("n"), "desc": True},
            "offset": 2,
            "count": -1,
            "mode": "rows",
            "id_desc": False,
            "fields": [],
            "row_prefix": "QPlanItem:",
        }

    def test_order_by_id_and_by_distance(self) -> None:
        """An order by id is no order key; an order by distance adds its search."""
        geo = GeoFilter("QPlanItem:pos:geo", 1.0, 2.0, 3.0, "km", None)
        by_id = SearchPlan(KeySpace("N"), (geo,), Order(None, True), 0, 5, "ids")
        body = json.loads(by_id.to_json())
        assert (body["order"], body["id_desc"], body["count"]) == (False, True, 5)
        near = SearchPlan(KeySpace("N"), (geo,), Order(None, geo=geo), 0, 5, "ids")
        body = json.loads(near.to_json())
        assert body["order"] == {"key": "", "desc": False, "geo": 2}
        assert body["filters"][1] == {
            "kind": "geo",
            "key": "QPlanItem:pos:geo",
            "lon": "1.0",
            "lat": "2.0",
            "radius": "3.0",
            "unit": "km",
            "count": False,
        }

    def test_each_plan_has_its_own_temp_key(self) -> None:
        """Two plans never share a temp key."""
        plan = SearchPlan(KeySpace("N"), (), Order(None), 0, None, "count")
        assert json.loads(plan.to_json())["temp"] != json.loads(plan.to_json())["temp"]

    def test_default_order_is_the_first_range_written(self) -> None:
        """Without order_by, a query orders by its first range (or near) filter."""
        query = QPlanItem.query.filter(tag="x").filter(f=(0, 1)).filter(n=(1, 2))
        assert json.loads(query._plan("ids").to_json())["order"] == {
            "key": key("f"),
            "desc": False,
        }
        query = QPlanItem.query.filter(tag="x", body="word")
        assert json.loads(query._plan("ids").to_json())["order"] is False
        query = QPlanItem.query.filter(tag="x").near("pos", 0, 0, 1, "km")
        assert json.loads(query._plan("ids").to_json())["order"]["geo"] == 3


class TestQueryBuilding:
    def test_builders_return_new_queries(self) -> None:
        """Each builder returns a new Query and leaves the old one unchanged."""
        base = QPlanItem.query
        narrowed = base.filter(n=1)
        ordered = narrowed.order_by("-n").limit(1, 2)
        assert base._filters == ()
        assert narrowed._filters == (RangeFilter(key("n"), "1", "1"),)
        assert (narrowed._order_by, narrowed._limit) == (None, None)
        assert (ordered._order_by, ordered._limit) == ("-n", (1, 2))

    @pytest.mark.parametrize(
        ("columns", "match"),
        [
            ((), "at least one"),
            (([],), "at least one"),
            (("n", "n"), "duplicate"),
            (("n", "nope"), "not a stored column"),
            (("words",), "not a stored column"),
        ],
    )
    def test_select_errors(self, columns: tuple[Any, ...], match: str) -> None:
        """select() needs distinct stored column names."""
        with pytest.raises(QueryError, match=match):
            QPlanItem.query.select(*columns)

    def test_select_adds_the_primary_key_to_the_fields(self) -> None:
        """The pk is always read, and returned only with include_pk."""
        chosen = QPlanItem.query.select("n", "f")._select
        assert (chosen.columns, chosen.fields) == (("n", "f"), ("n", "f", "id"))
        chosen = QPlanItem.query.select(["n"], include_pk=True)._select
        assert (chosen.columns, chosen.fields) == (("n", "id"), ("n", "id"))
