"""The Query API against real data in Redis.

Filters (ranges, values, OR-lists, NOT_NULL, sub-keys, words), prefix,
suffix, pattern and geo filters, ordering, limits, select, the terminal
operations, Model.get_by and does_not_startwith/endswith, every QueryError,
and query values that must be taken as data.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import ORMError
from rom.exceptions import QueryError
from rom.query import _dict_data_factory
from rom.query import _list_data_factory
from rom.query import _namedtuple_data_factory
from rom.query import _tuple_data_factory

# Hook calls as (hook name, n) made by QyHooked.
CALLS: list[tuple[str, Any]] = []


def sub_keygen(value: Any) -> dict[str, Any] | None:
    """A dict keygen: a score, a scored sub-key and a set sub-key."""
    if not value:
        return None
    return {"": value["x"], "v:123": value["y"], value["kind"]: None}


class QyNum(rom.Model):
    n = rom.Integer(index=True)
    grp = rom.Integer(index=True)
    f = rom.Float(index=True)
    price = rom.Decimal(index=True)
    when = rom.DateTime(index=True)
    day = rom.Date(index=True)
    at = rom.Time(index=True)
    flag = rom.Boolean(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    title = rom.Text(index=True, keygen=rom.SIMPLE)
    name = rom.Text(index=True, keygen=rom.SIMPLE_CI)
    note = rom.Text()
    data = rom.Json(index=True, keygen=sub_keygen)


class QyText(rom.Model):
    body = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    ident = rom.Text(index=True, keygen=rom.IDENTITY, prefix=True, suffix=True)
    ident_ci = rom.Text(index=True, keygen=rom.IDENTITY_CI, prefix=True)
    code = rom.String(index=True, keygen=rom.IDENTITY_STRING)
    code_ci = rom.String(index=True, keygen=rom.IDENTITY_STRING_CI)
    title = rom.Text(index=True, keygen=rom.SIMPLE_CI, prefix=True, suffix=True)


class QyPlace(rom.Model):
    label = rom.Text()
    kind = rom.Text(index=True, keygen=rom.IDENTITY)
    lon = rom.Float()
    lat = rom.Float()
    geo_index = [rom.GeoIndex("pos", lambda d: (d["lon"], d["lat"]))]  # noqa: RUF012


class QyOwner(rom.Model):
    name = rom.Text()


class QyPet(rom.Model):
    name = rom.Text()
    owner = rom.ManyToOne("QyOwner", on_delete="no action")


class QyKeyed(rom.Model):
    key = rom.PrimaryKey(index=True)
    n = rom.Integer()


class QyPlain(rom.Model):
    n = rom.Integer(index=True)


class QyHooked(rom.Model):
    n = rom.Integer(index=True)

    def _before_delete(self) -> None:
        CALLS.append(("before_delete", self.n))

    def _after_delete(self) -> None:
        CALLS.append(("after_delete", self.n))


TAGS = ("red", "green", "blue")


def num_values(i: int) -> dict[str, Any]:
    """The QyNum columns of item ``i``."""
    return {
        "n": i,
        "grp": i % 3,
        "f": i / 4,
        "price": decimal.Decimal(f"{i}.5"),
        "when": datetime.datetime(2024, 1, 1 + i, 12, 0, 0),
        "day": datetime.date(2020, 1, 1 + i),
        "at": datetime.time(i, 30),
        "flag": i % 2 == 0,
        "tag": TAGS[i % 3],
        "title": f"T{i}",
        "name": ["bob", "Alice", "carol", "Dave"][i % 4] + str(i),
        "note": f"note {i}",
        "data": {"x": i * 10, "y": 120 + i, "kind": "odd" if i % 2 else "even"},
    }


@pytest.fixture
def nums(rom_redis: redis.Redis) -> list[QyNum]:
    """Ten saved QyNum items, n = 0..9 (ids 1..10), forgotten by the session."""
    items = [QyNum(**num_values(i)) for i in range(10)]
    rom.session.commit()
    rom.session.rollback()
    return items


def ns(query: rom.Query[Any]) -> list[int]:
    """The ``n`` of every entity a query returns, in order."""
    return [e.n for e in query.all()]


TEXTS = [
    # body, ident, ident_ci, code, code_ci, title
    ("Hello, World!", "Alpha", "MiXed", b"raw", b"RaW", "Apple"),
    ("hello there", "alpha", "mixed", b"RAW", b"raw", "apricot"),
    ("Café crème brûlée", "Beta", "Other", b"caf\xc3\xa9", b"CAF\xc3\xa9", "Banana"),
    ("naïve ÜBER cafés", "beta-2", "x", b"x", b"x", "cherry"),
    ("the world is big", "gamma", "y", b"y", b"y", "Avocado"),
]


@pytest.fixture
def texts(rom_redis: redis.Redis) -> list[QyText]:
    """The QyText items of TEXTS, saved (ids 1..5)."""
    items = [
        QyText(body=b, ident=i, ident_ci=c, code=s, code_ci=sc, title=t)
        for b, i, c, s, sc, t in TEXTS
    ]
    rom.session.commit()
    rom.session.rollback()
    return items


def bodies(query: rom.Query[Any]) -> list[str]:
    """The ``body`` of every QyText a query returns, sorted."""
    return sorted(e.body for e in query.all())


def temp_keys(conn: redis.Redis) -> list[bytes]:
    """Keys named ``<ns>:<uuid4>...``: query temp keys."""
    found = []
    for key in conn.scan_iter(count=1000):
        parts = key.decode("utf-8", "replace").split(":")
        if len(parts) >= 2:
            try:
                uuid.UUID(parts[1])
            except ValueError:
                continue
            found.append(key)
    return found


class TestNumericFilters:
    def test_range_is_inclusive(self, nums: list[QyNum]) -> None:
        """A (low, high) range includes both ends."""
        assert ns(QyNum.query.filter(n=(2, 5))) == [2, 3, 4, 5]

    def test_none_is_an_open_end(self, nums: list[QyNum]) -> None:
        """None on either side of a range leaves that side open."""
        assert ns(QyNum.query.filter(n=(None, 2))) == [0, 1, 2]
        assert ns(QyNum.query.filter(n=(7, None))) == [7, 8, 9]
        assert ns(QyNum.query.filter(n=(None, None))) == list(range(10))

    def test_parenthesis_makes_a_bound_exclusive(self, nums: list[QyNum]) -> None:
        """A string bound starting with '(' excludes its value."""
        assert ns(QyNum.query.filter(n=("(2", "(5"))) == [3, 4]
        assert ns(QyNum.query.filter(n=("(2", 5))) == [3, 4, 5]
        assert ns(QyNum.query.filter(n=(2, "(5"))) == [2, 3, 4]
        assert ns(QyNum.query.filter(n=("2", "5"))) == [2, 3, 4, 5]

    def test_a_number_is_equality(self, nums: list[QyNum]) -> None:
        """A plain number matches the entities with exactly that value."""
        assert ns(QyNum.query.filter(n=3)) == [3]
        assert ns(QyNum.query.filter(f=0.5)) == [2]
        assert ns(QyNum.query.filter(price=decimal.Decimal("4.5"))) == [4]
        assert ns(QyNum.query.filter(n=42)) == []

    def test_float_and_decimal_ranges(self, nums: list[QyNum]) -> None:
        """Float and Decimal columns take float and Decimal endpoints."""
        assert ns(QyNum.query.filter(f=(0.3, 1.0))) == [2, 3, 4]
        assert ns(QyNum.query.filter(price=(decimal.Decimal("2.5"), 4))) == [2, 3]

    def test_datetime_date_and_time_values(self, nums: list[QyNum]) -> None:
        """Dates, datetimes and times filter as their numeric scores."""
        start = datetime.datetime(2024, 1, 3, 12)
        end = datetime.datetime(2024, 1, 5, 11, 59)
        assert ns(QyNum.query.filter(when=(start, end))) == [2, 3]
        assert ns(QyNum.query.filter(when=start)) == [2]
        assert ns(QyNum.query.filter(day=datetime.date(2020, 1, 4))) == [3]
        assert ns(QyNum.query.filter(day=(None, datetime.date(2020, 1, 2)))) == [0, 1]
        window = (datetime.time(2, 0), datetime.time(4, 30))
        assert ns(QyNum.query.filter(at=window)) == [2, 3, 4]
        assert ns(QyNum.query.filter(at=datetime.time(7, 30))) == [7]

    def test_booleans(self, nums: list[QyNum]) -> None:
        """A bool matches the Boolean column's True or False token."""
        assert ns(QyNum.query.filter(flag=True)) == [0, 2, 4, 6, 8]
        assert ns(QyNum.query.filter(flag=False)) == [1, 3, 5, 7, 9]

    def test_several_filters_are_anded(self, nums: list[QyNum]) -> None:
        """Keywords of one call and chained calls are ANDed."""
        assert ns(QyNum.query.filter(n=(2, 8), flag=True)) == [2, 4, 6, 8]
        chained = QyNum.query.filter(n=(2, 8)).filter(flag=True).filter(tag="red")
        assert ns(chained) == [6]
        assert ns(QyNum.query.filter(n=(0, 4), f=(0.5, 2.0), grp=(1, 2))) == [2, 4]

    def test_or_list(self, nums: list[QyNum]) -> None:
        """A list matches any of its values."""
        assert ns(QyNum.query.filter(tag=["red", "blue"])) == [0, 2, 3, 5, 6, 8, 9]
        assert ns(QyNum.query.filter(tag=["red", "none"], flag=False)) == [3, 9]
        assert ns(QyNum.query.filter(tag=["none"])) == []

    def test_filters_leave_the_query_unchanged(self, nums: list[QyNum]) -> None:
        """Each builder returns a new Query; the original keeps its filters."""
        base = QyNum.query.filter(n=(0, 5))
        narrowed = base.filter(flag=False)
        assert ns(base) == [0, 1, 2, 3, 4, 5]
        assert ns(narrowed) == [1, 3, 5]

    def test_sub_key_filters_of_a_dict_keygen(self, nums: list[QyNum]) -> None:
        """A dict keygen's '' score, scored sub-key and set sub-key all filter."""
        assert ns(QyNum.query.filter(**{"data:v:123": (120, 125)})) == list(range(6))
        assert ns(QyNum.query.filter(**{"data:v:123": 122})) == [2]
        assert ns(QyNum.query.filter(data=(15, 35))) == [2, 3]
        assert ns(QyNum.query.filter(data=40)) == [4]
        assert ns(QyNum.query.filter(data="odd", n=(0, 5))) == [1, 3, 5]

    def test_not_null_on_a_many_to_one(self, rom_redis: redis.Redis) -> None:
        """NOT_NULL matches every entity with a reference; an entity or id one."""
        alice, bob = QyOwner(name="alice"), QyOwner(name="bob")
        QyPet(name="a", owner=alice)
        QyPet(name="b", owner=bob)
        QyPet(name="c")
        QyPet(name="d", owner=alice)
        rom.session.commit()
        names = lambda q: sorted(p.name for p in q.all())  # noqa: E731
        assert names(QyPet.query.filter(owner=rom.NOT_NULL)) == ["a", "b", "d"]
        assert names(QyPet.query.filter(owner=alice)) == ["a", "d"]
        assert names(QyPet.query.filter(owner=bob.id)) == ["b"]
        assert names(QyPet.query.filter(owner=(alice.id, bob.id))) == ["a", "b", "d"]

    def test_open_range_tuple_is_not_not_null(self, nums: list[QyNum]) -> None:
        """A (None, None) tuple of one's own is an open range on any numeric column."""
        assert QyNum.query.filter(n=(None, None)).count() == 10


class TestWordFilters:
    def test_full_text_words_are_lowercased_and_anded(
        self, texts: list[QyText]
    ) -> None:
        """FULL_TEXT values are split into lowercased words, all of them required."""
        assert bodies(QyText.query.filter(body="HELLO")) == [
            "Hello, World!",
            "hello there",
        ]
        assert bodies(QyText.query.filter(body="world hello")) == ["Hello, World!"]
        assert bodies(QyText.query.filter(body="World!")) == [
            "Hello, World!",
            "the world is big",
        ]
        assert bodies(QyText.query.filter(body="hello big")) == []

    def test_full_text_non_ascii_words(self, texts: list[QyText]) -> None:
        """Non-ASCII words match, lowercased the Unicode way."""
        assert bodies(QyText.query.filter(body="CRÈME")) == ["Café crème brûlée"]
        assert bodies(QyText.query.filter(body="über")) == ["naïve ÜBER cafés"]

    def test_full_text_without_words_matches_nothing(self, texts: list[QyText]) -> None:
        """A value with no words (only spaces or punctuation) matches nothing."""
        assert QyText.query.filter(body="  ...  ").all() == []
        assert QyText.query.filter(body="...").count() == 0

    def test_full_text_or_list(self, texts: list[QyText]) -> None:
        """An OR-list of words, lowercased."""
        assert bodies(QyText.query.filter(body=["BIG", "there"])) == [
            "hello there",
            "the world is big",
        ]

    def test_identity_is_exact(self, texts: list[QyText]) -> None:
        """IDENTITY matches the whole value, case-sensitively."""
        assert [e.ident for e in QyText.query.filter(ident="Alpha").all()] == ["Alpha"]
        assert [e.ident for e in QyText.query.filter(ident="alpha").all()] == ["alpha"]
        assert QyText.query.filter(ident="ALPHA").all() == []
        assert QyText.query.filter(ident="beta").all() == []

    def test_identity_ci_lowercases_the_value(self, texts: list[QyText]) -> None:
        """IDENTITY_CI matches regardless of case."""
        found = QyText.query.filter(ident_ci="MIXED").all()
        assert sorted(e.ident_ci for e in found) == ["MiXed", "mixed"]

    def test_identity_string_takes_bytes_and_str(self, texts: list[QyText]) -> None:
        """IDENTITY_STRING matches bytes exactly (UTF-8 included) and str."""
        assert [e.code for e in QyText.query.filter(code=b"raw").all()] == [b"raw"]
        assert [e.code for e in QyText.query.filter(code="RAW").all()] == [b"RAW"]
        found = QyText.query.filter(code="caf\xc3\xa9".encode("latin-1")).all()
        assert [e.code for e in found] == [b"caf\xc3\xa9"]

    def test_identity_string_ci_lowercases_the_value(self, texts: list[QyText]) -> None:
        """IDENTITY_STRING_CI matches mixed-case bytes or str values."""
        found = QyText.query.filter(code_ci=b"RAW").all()
        assert sorted(e.code_ci for e in found) == [b"RaW", b"raw"]
        assert len(QyText.query.filter(code_ci="rAw").all()) == 2


class TestPrefixSuffixPattern:
    def test_startswith_on_words(self, texts: list[QyText]) -> None:
        """startswith matches entities having a word with that prefix (any case)."""
        assert bodies(QyText.query.startswith(body="HEL")) == [
            "Hello, World!",
            "hello there",
        ]
        assert bodies(QyText.query.startswith(body="wor")) == [
            "Hello, World!",
            "the world is big",
        ]
        assert bodies(QyText.query.startswith(body="hello")) == [
            "Hello, World!",
            "hello there",
        ]
        assert bodies(QyText.query.startswith(body="zz")) == []

    def test_startswith_on_identity_is_case_sensitive(
        self, texts: list[QyText]
    ) -> None:
        """IDENTITY prefixes keep their case; IDENTITY_CI ones are lowercased."""
        assert [e.ident for e in QyText.query.startswith(ident="al").all()] == ["alpha"]
        assert sorted(e.ident for e in QyText.query.startswith(ident="be").all()) == [
            "beta-2"
        ]
        found = QyText.query.startswith(ident_ci="MI").all()
        assert sorted(e.ident_ci for e in found) == ["MiXed", "mixed"]

    def test_startswith_on_simple_ci(self, texts: list[QyText]) -> None:
        """SIMPLE_CI prefix entries are the lowercased value."""
        found = QyText.query.startswith(title="AP").all()
        assert sorted(e.title for e in found) == ["Apple", "apricot"]

    def test_endswith(self, texts: list[QyText]) -> None:
        """endswith matches a word (or whole value) ending with the value."""
        assert bodies(QyText.query.endswith(body="LD")) == [
            "Hello, World!",
            "the world is big",
        ]
        assert [e.ident for e in QyText.query.endswith(ident="-2").all()] == ["beta-2"]
        assert sorted(e.title for e in QyText.query.endswith(title="O").all()) == [
            "Avocado"
        ]
        assert [e.ident for e in QyText.query.endswith(ident="pha").all()] == [
            "Alpha",
            "alpha",
        ]

    def test_non_ascii_prefixes_and_suffixes(self, texts: list[QyText]) -> None:
        """startswith/endswith compare whole characters of non-ASCII words."""
        assert bodies(QyText.query.startswith(body="CAF")) == [
            "Café crème brûlée",
            "naïve ÜBER cafés",
        ]
        assert bodies(QyText.query.startswith(body="café")) == [
            "Café crème brûlée",
            "naïve ÜBER cafés",
        ]
        assert bodies(QyText.query.startswith(body="naï")) == ["naïve ÜBER cafés"]
        assert bodies(QyText.query.endswith(body="ée")) == ["Café crème brûlée"]
        assert bodies(QyText.query.endswith(body="ÉS")) == ["naïve ÜBER cafés"]

    def test_like_wildcards(self, texts: list[QyText]) -> None:
        """? is 0-1 characters, * 0 or more, + 1 or more, ! exactly one."""
        like = lambda p: bodies(QyText.query.like(body=p))  # noqa: E731
        assert like("h?llo") == ["Hello, World!", "hello there"]
        assert like("?ello") == ["Hello, World!", "hello there"]
        assert like("w*d") == ["Hello, World!", "the world is big"]
        assert like("*orld") == ["Hello, World!", "the world is big"]
        assert like("th+e") == ["hello there"]
        assert like("the+") == ["hello there"]
        assert like("th!re") == ["hello there"]
        assert like("t!e") == ["hello there", "the world is big"]
        assert like("b!!") == ["Café crème brûlée", "the world is big"]
        assert like("b!!!") == ["Café crème brûlée"]
        assert like("bi!!") == []

    def test_like_is_anchored_at_the_start_only(self, texts: list[QyText]) -> None:
        """A pattern must match from a token's start and may be followed by more."""
        assert bodies(QyText.query.like(body="orld")) == []
        assert bodies(QyText.query.like(body="?orld")) == [
            "Hello, World!",
            "the world is big",
        ]
        assert bodies(QyText.query.like(body="wor")) == [
            "Hello, World!",
            "the world is big",
        ]

    def test_like_matches_exact_words(self, texts: list[QyText]) -> None:
        """A pattern equal to a whole word matches it."""
        assert bodies(QyText.query.like(body="big")) == ["the world is big"]
        assert bodies(QyText.query.like(body="big*")) == ["the world is big"]
        assert [e.ident for e in QyText.query.like(ident="Alpha").all()] == ["Alpha"]

    def test_like_counts_non_ascii_characters(self, texts: list[QyText]) -> None:
        """? and ! stand for whole characters, not bytes, in non-ASCII words."""
        like = lambda p: bodies(QyText.query.like(body=p))  # noqa: E731
        assert like("caf!") == ["Café crème brûlée", "naïve ÜBER cafés"]
        assert like("caf!s") == ["naïve ÜBER cafés"]
        assert like("na!ve") == ["naïve ÜBER cafés"]
        assert like("na?ve") == ["naïve ÜBER cafés"]
        assert like("br!l!e") == ["Café crème brûlée"]
        assert like("cr+me") == ["Café crème brûlée"]
        assert like("*ber") == ["naïve ÜBER cafés"]
        assert like("caf!!!") == []


class TestNear:
    @pytest.fixture
    def places(self, rom_redis: redis.Redis) -> list[QyPlace]:
        """Places east of (0, 50), 0.01 degree (about 715 m) apart, saved shuffled."""
        order = [3, 0, 5, 1, 4, 2, 6]
        items = [
            QyPlace(label=f"p{i}", kind="a" if i % 2 else "b", lon=i * 0.01, lat=50.0)
            for i in order
        ]
        rom.session.commit()
        return items

    def test_near_within_a_radius_by_distance(self, places: list[QyPlace]) -> None:
        """near() returns the places within the radius, nearest first."""
        found = QyPlace.query.near("pos", 0.0, 50.0, 3, "km").all()
        assert [p.label for p in found] == ["p0", "p1", "p2", "p3", "p4"]

    def test_near_from_another_point(self, places: list[QyPlace]) -> None:
        """Distances are measured from the given point; units are case-blind."""
        found = QyPlace.query.near("pos", 0.06, 50.0, 1500, "M").all()
        assert [p.label for p in found] == ["p6", "p5", "p4"]

    def test_near_with_count(self, places: list[QyPlace]) -> None:
        """count keeps only the nearest candidates."""
        found = QyPlace.query.near("pos", 0.0, 50.0, 100, "km", 2).all()
        assert [p.label for p in found] == ["p0", "p1"]
        assert QyPlace.query.near("pos", 0.0, 50.0, 100, "mi", 3).count() == 3

    def test_near_with_a_filter(self, places: list[QyPlace]) -> None:
        """near() combined with a filter keeps distance order."""
        query = QyPlace.query.filter(kind="a").near("pos", 0.0, 50.0, 10000, "ft")
        assert [p.label for p in query.all()] == ["p1", "p3"]
        assert query.count() == 2

    @pytest.mark.parametrize(
        "args",
        [
            ("nope", 0.0, 50.0, 1, "km"),
            ("pos", 0.0, 50.0, 1, "yd"),
            ("pos", 0.0, 50.0, 1, "kilometers"),
        ],
    )
    def test_bad_name_or_measure_is_value_error(self, args: tuple[Any, ...]) -> None:
        """An unknown geo index or unit raises ValueError."""
        with pytest.raises(ValueError):
            QyPlace.query.near(*args)


class TestOrdering:
    def test_order_by_numeric(self, nums: list[QyNum]) -> None:
        """order_by sorts by the numeric index; '-' descends."""
        assert ns(QyNum.query.order_by("f")) == list(range(10))
        assert ns(QyNum.query.order_by("-f")) == list(range(9, -1, -1))
        assert ns(QyNum.query.filter(flag=True).order_by("-n")) == [8, 6, 4, 2, 0]
        assert ns(QyNum.query.filter(n=(2, 6)).order_by("-when")) == [6, 5, 4, 3, 2]

    def test_order_by_simple_is_case_sensitive(self, rom_redis: redis.Redis) -> None:
        """SIMPLE orders by the text with case: capitals first."""
        for i, title in enumerate(["beta", "Alpha", "alpha", "Zed", "b"]):
            QyNum(n=i, title=title)
        rom.session.commit()
        titles = [e.title for e in QyNum.query.order_by("title").all()]
        assert titles == ["Alpha", "Zed", "alpha", "b", "beta"]
        titles = [e.title for e in QyNum.query.order_by("-title").all()]
        assert titles == ["beta", "b", "alpha", "Zed", "Alpha"]

    def test_order_by_simple_ci_ignores_case(self, rom_redis: redis.Redis) -> None:
        """SIMPLE_CI orders by the lowercased text."""
        for i, name in enumerate(["beta", "Alpha", "carl", "Bob", "delta"]):
            QyNum(n=i, name=name)
        rom.session.commit()
        names = [e.name for e in QyNum.query.order_by("name").all()]
        assert names == ["Alpha", "beta", "Bob", "carl", "delta"]
        names = [e.name for e in QyNum.query.filter(n=(1, 4)).order_by("-name").all()]
        assert names == ["delta", "carl", "Bob", "Alpha"]

    def test_default_order_is_the_first_range_filter(self, nums: list[QyNum]) -> None:
        """Without order_by, results follow the first range filter written."""
        q = QyNum.query.filter(tag=["red", "green"], f=(0, 10)).filter(n=(0, 9))
        assert ns(q) == [0, 1, 3, 4, 6, 7, 9]
        # grp has ties; they are ordered by id as text, as rom does.
        q = QyNum.query.filter(grp=(0, 2), n=(0, 9))
        assert ns(q) == [0, 9, 3, 6, 1, 4, 7, 2, 5, 8]

    def test_default_order_without_range_is_by_id(self, rom_redis: redis.Redis) -> None:
        """Without a range filter, results are ordered by id numerically."""
        items = [QyNum(n=i, tag="same", flag=False) for i in range(12)]
        rom.session.commit()
        assert [e.id for e in QyNum.query.filter(tag="same").all()] == [
            e.id for e in items
        ]
        found = QyNum.query.filter(tag="same", flag=False).all()
        assert [e.id for e in found] == [e.id for e in items]

    def test_ties_are_ordered_by_id_as_text(self, rom_redis: redis.Redis) -> None:
        """Equal scores come out by id as text ("10" before "2"), like rom."""
        for _ in range(12):
            QyNum(n=5, tag="t")
        rom.session.commit()
        expected = sorted(range(1, 13), key=str)
        assert [e.id for e in QyNum.query.filter(n=5).all()] == expected
        assert [e.id for e in QyNum.query.filter(n=5, tag="t").all()] == expected
        assert [e.id for e in QyNum.query.filter(tag="t").order_by("n").all()] == (
            expected
        )

    def test_descending_ties_agree_everywhere(self, rom_redis: redis.Redis) -> None:
        """Descending order breaks ties by id as text on every path and page."""
        for i in range(14):
            QyNum(n=i % 3, tag="t")
        rom.session.commit()
        every = sorted(range(1, 15), key=str)
        every.sort(key=lambda id: (id - 1) % 3, reverse=True)
        for offset in range(15):
            for count in (1, 2, 5, None):
                end = None if count is None else offset + count
                window = every[offset:end]
                for query in (
                    QyNum.query.order_by("-n"),
                    QyNum.query.filter(n=(0, 2)).order_by("-n"),
                    QyNum.query.filter(tag="t").order_by("-n"),
                ):
                    query = query.limit(offset, count)
                    assert [e.id for e in query.all()] == window
                    assert [e.id for e in query.iter_result(pagesize=3)] == window
        key = QyNum.query.filter(tag="t").order_by("-n").cached_result(5)
        assert [int(i) for i in rom_redis.zrange(key, 0, -1)] == every

    def test_order_by_keeps_only_entities_in_its_index(
        self, rom_redis: redis.Redis
    ) -> None:
        """order_by another index drops entities lacking it, in all() and count()."""
        QyNum(n=1, title="a")
        QyNum(n=2)
        QyNum(n=3, title="b")
        rom.session.commit()
        query = QyNum.query.filter(n=(0, 5)).order_by("-title")
        assert ns(query) == [3, 1]
        assert query.count() == 2
        assert QyNum.query.order_by("title").count() == 2
        assert QyNum.query.filter(n=(0, 5)).order_by("n").count() == 3

    def test_order_by_primary_key(self, rom_redis: redis.Redis) -> None:
        """order_by the primary key works with and without an index on it."""
        for i in range(12):
            QyPlain(n=i % 2)
            QyKeyed(n=i)
        rom.session.commit()
        assert [e.id for e in QyPlain.query.order_by("id").all()] == list(range(1, 13))
        assert [e.id for e in QyPlain.query.order_by("-id").limit(0, 3).all()] == [
            12,
            11,
            10,
        ]
        assert [e.id for e in QyPlain.query.filter(n=1).order_by("-id").all()] == [
            12,
            10,
            8,
            6,
            4,
            2,
        ]
        assert [e.id for e in QyPlain.query.filter(n=(0, 0)).order_by("id").all()] == [
            1,
            3,
            5,
            7,
            9,
            11,
        ]
        assert QyPlain.query.order_by("-id").count() == 12
        assert QyPlain.query.filter(n=1).order_by("-id").count() == 6
        assert [e.key for e in QyKeyed.query.order_by("-key").limit(1, 3).all()] == [
            11,
            10,
            9,
        ]


class TestLimit:
    def test_offset_and_count(self, nums: list[QyNum]) -> None:
        """limit(offset, count) skips offset results and keeps count."""
        assert ns(QyNum.query.filter(n=(0, 9)).limit(2, 3)) == [2, 3, 4]
        assert ns(QyNum.query.order_by("-n").limit(0, 2)) == [9, 8]
        assert ns(QyNum.query.filter(flag=True).limit(1, 2)) == [2, 4]
        assert ns(QyNum.query.filter(n=(0, 9)).limit(8, None)) == [8, 9]
        assert ns(QyNum.query.filter(n=(0, 9)).limit(20, 5)) == []

    def test_count_honours_limit(self, nums: list[QyNum]) -> None:
        """count() counts what all() would return, limit included."""
        query = QyNum.query.filter(n=(0, 9))
        assert query.count() == 10
        assert query.limit(2, 3).count() == 3
        assert query.limit(8, 5).count() == 2
        assert query.limit(20, 5).count() == 0
        assert QyNum.query.filter(flag=True).limit(1, 10).count() == 4
        assert QyNum.query.limit(7, None).count() == 3

    def test_limit_zero_gives_nothing_everywhere(self, nums: list[QyNum]) -> None:
        """limit(x, 0) gives no results from every terminal operation."""
        for query in (
            QyNum.query.filter(n=(0, 9)),
            QyNum.query.filter(flag=True),
            QyNum.query.filter(flag=True, n=(0, 9)),
            QyNum.query.order_by("n"),
            QyNum.query,
        ):
            limited = query.limit(2, 0)
            assert limited.all() == []
            assert limited.count() == 0
            assert list(limited) == []
            assert list(limited.iter_result(pagesize=1)) == []
            assert limited.first() is None

    def test_limit_zero_on_a_probed_model(self, rom_redis: redis.Redis) -> None:
        """A model without a primary-key index also gives nothing for limit(x, 0)."""
        QyPlain(n=1).save()
        assert QyPlain.query.limit(0, 0).all() == []
        assert QyPlain.query.limit(0, 0).count() == 0


class TestSelect:
    def test_dict_factory_is_the_default(self, nums: list[QyNum]) -> None:
        """select() returns dicts of decoded values by default."""
        rows = QyNum.query.filter(n=(1, 2)).select("n", "f", "day").all()
        assert rows == [
            {"n": 1, "f": 0.25, "day": datetime.date(2020, 1, 2)},
            {"n": 2, "f": 0.5, "day": datetime.date(2020, 1, 3)},
        ]
        assert (
            rows
            == (
                QyNum.query.filter(n=(1, 2)).select(
                    "n", "f", "day", ff=_dict_data_factory
                )
            ).all()
        )

    def test_each_factory(self, nums: list[QyNum]) -> None:
        """Tuple, list and namedtuple factories shape each row."""
        query = QyNum.query.filter(n=(3, 4))
        assert query.select("n", "tag", ff=_tuple_data_factory).all() == [
            (3, "red"),
            (4, "green"),
        ]
        assert query.select("n", "tag", ff=_list_data_factory).all() == [
            [3, "red"],
            [4, "green"],
        ]
        rows = query.select("n", "tag", ff=_namedtuple_data_factory).all()
        assert [(r.n, r.tag) for r in rows] == [(3, "red"), (4, "green")]

    def test_a_custom_factory(self, nums: list[QyNum]) -> None:
        """ff(columns) gets the column names and returns the row maker."""
        seen: list[tuple[str, ...]] = []

        def factory(columns: Any) -> Any:
            seen.append(tuple(columns))
            return lambda values: "|".join(map(str, values))

        assert QyNum.query.filter(n=5).select("tag", "n", ff=factory).all() == [
            "blue|5"
        ]
        assert seen == [("tag", "n")]

    def test_decode_false_gives_raw_strings(self, nums: list[QyNum]) -> None:
        """decode=False returns the stored strings (None for a missing field)."""
        QyNum(n=100).save()
        rows = (
            QyNum.query.filter(n=(9, 100))
            .select("n", "f", "flag", "note", decode=False)
            .all()
        )
        assert rows == [
            {"n": "9", "f": "2.25", "flag": "", "note": "note 9"},
            {"n": "100", "f": None, "flag": None, "note": None},
        ]

    def test_include_pk_and_list_argument(self, nums: list[QyNum]) -> None:
        """include_pk appends the id; column names may come as one list."""
        rows = QyNum.query.filter(n=(0, 1)).select(["n"], include_pk=True).all()
        assert rows == [{"n": 0, "id": 1}, {"n": 1, "id": 2}]
        rows = QyNum.query.filter(n=0).select("id", "n").all()
        assert rows == [{"id": 1, "n": 0}]
        rows = QyNum.query.filter(n=0).select("n", include_pk=True, decode=False)
        assert rows.all() == [{"n": "0", "id": "1"}]

    def test_select_bypasses_the_session(self, nums: list[QyNum]) -> None:
        """Selected rows are read from Redis, not from cached entities."""
        cached = QyNum.get(1)
        cached.note = "unsaved"
        assert QyNum.query.filter(n=0).select("note").first() == {"note": "note 0"}

    def test_select_decodes_references(self, rom_redis: redis.Redis) -> None:
        """decode=True gives ManyToOne values as entities; defaults apply."""
        owner = QyOwner(name="o")
        pet = QyPet(name="p", owner=owner)
        rom.session.commit()
        rows = QyPet.query.filter(owner=owner).select("owner", "name").all()
        assert rows == [{"owner": owner, "name": "p"}]
        raw = QyPet.query.filter(owner=owner).select("owner", decode=False).all()
        assert raw == [{"owner": str(owner.id)}]
        assert pet.id == 1

    def test_select_with_order_limit_and_iteration(self, nums: list[QyNum]) -> None:
        """select() follows order_by and limit, in all() and in iter_result()."""
        query = QyNum.query.order_by("-n").limit(1, 5).select("n")
        expected = [{"n": n} for n in (8, 7, 6, 5, 4)]
        assert query.all() == expected
        assert list(query.iter_result(pagesize=2)) == expected
        assert query.first() == {"n": 8}

    def test_select_on_a_probed_model(self, rom_redis: redis.Redis) -> None:
        """A bare select() works on a model without a primary-key index."""
        for i in range(3):
            QyPlain(n=i)
        rom.session.commit()
        assert QyPlain.query.select("n").all() == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert QyPlain.query.select("n", decode=False).limit(1, 1).all() == [{"n": "1"}]


class TestTerminal:
    def test_bare_count_counts_existing_entities(self, rom_redis: redis.Redis) -> None:
        """A bare count() counts saved entities, not the id counter."""
        plain = [QyPlain(n=i) for i in range(5)]
        keyed = [QyKeyed(n=i) for i in range(5)]
        rom.session.commit()
        plain[1].delete()
        keyed[2].delete()
        QyPlain(n=9)  # never saved
        assert QyPlain.query.count() == 4
        assert QyKeyed.query.count() == 4
        assert QyKeyed.query.limit(1, 2).count() == 2
        assert QyPlain.query.limit(3, 10).count() == 1

    def test_all_and_execute(self, nums: list[QyNum]) -> None:
        """all() and execute() return the same list of session entities."""
        query = QyNum.query.filter(n=(1, 3))
        found = query.all()
        assert found == query.execute()
        assert found[0] is QyNum.get(2)

    def test_first(self, nums: list[QyNum]) -> None:
        """first() is the first result (after the offset), or None."""
        assert QyNum.query.filter(n=(4, 9)).first().n == 4
        assert QyNum.query.filter(n=(4, 9)).order_by("-n").first().n == 9
        assert QyNum.query.filter(n=(4, 9)).limit(2, 10).first().n == 6
        assert QyNum.query.filter(n=(40, 90)).first() is None
        assert QyNum.query.first().n == 0

    def test_iteration(self, nums: list[QyNum]) -> None:
        """Iterating a query yields the same entities, in the same order, as all()."""
        query = QyNum.query.filter(tag=["red", "blue"]).order_by("-f")
        assert [e.n for e in query] == ns(query)
        assert [e.n for e in QyNum.query] == list(range(10))

    def test_iter_result_pages_with_a_limit(
        self, nums: list[QyNum], rom_redis: redis.Redis
    ) -> None:
        """iter_result with a small page size honours offset and count."""
        query = QyNum.query.filter(n=(0, 9)).order_by("-n").limit(1, 5)
        assert [e.n for e in query.iter_result(pagesize=2)] == [8, 7, 6, 5, 4]
        assert [e.n for e in query.iter_result(pagesize=1)] == [8, 7, 6, 5, 4]
        assert [e.n for e in query.iter_result(pagesize=100)] == [8, 7, 6, 5, 4]
        everything = QyNum.query.filter(flag=False).iter_result(pagesize=3)
        assert [e.n for e in everything] == [1, 3, 5, 7, 9]
        assert temp_keys(rom_redis) == []

    def test_iter_result_on_a_probed_model(self, rom_redis: redis.Redis) -> None:
        """Bare iteration of a model without a pk index skips deleted ids."""
        items = [QyPlain(n=i) for i in range(7)]
        rom.session.commit()
        items[2].delete()
        got = [e.n for e in QyPlain.query.limit(1, 4).iter_result(pagesize=2)]
        assert got == [1, 3, 4, 5]
        assert [e.n for e in QyPlain.query] == [0, 1, 3, 4, 5, 6]

    def test_cached_result(self, nums: list[QyNum], rom_redis: redis.Redis) -> None:
        """cached_result stores the ids in query order under a key with a TTL."""
        key = QyNum.query.filter(n=(2, 5)).order_by("-n").cached_result(60)
        assert key.startswith("QyNum:")
        assert 0 < rom_redis.ttl(key) <= 60
        assert rom_redis.zrange(key, 0, -1) == [b"6", b"5", b"4", b"3"]
        key = QyNum.query.filter(flag=False).limit(0, 1).cached_result(5)
        assert 0 < rom_redis.ttl(key) <= 5
        assert rom_redis.zrange(key, 0, -1) == [b"2", b"4", b"6", b"8", b"10"]
        key = QyNum.query.order_by("name").cached_result(5)
        names = [QyNum.get(int(i)).name for i in rom_redis.zrange(key, 0, -1)]
        assert names == sorted(names, key=str.lower)

    def test_delete_runs_the_hooks(self, rom_redis: redis.Redis) -> None:
        """Query.delete removes the matches, blocksize at a time, with hooks."""
        CALLS.clear()
        for i in range(7):
            QyHooked(n=i)
        rom.session.commit()
        QyHooked.query.filter(n=(1, 5)).delete(blocksize=2)
        assert [e.n for e in QyHooked.query.order_by("n").all()] == [0, 6]
        assert sorted(n for name, n in CALLS if name == "before_delete") == [
            1,
            2,
            3,
            4,
            5,
        ]
        assert sorted(n for name, n in CALLS if name == "after_delete") == [
            1,
            2,
            3,
            4,
            5,
        ]
        assert rom_redis.zcard("QyHooked:n:idx") == 2
        rom.session.rollback()
        QyHooked.query.delete()
        assert QyHooked.query.count() == 0
        assert temp_keys(rom_redis) == []

    def test_delete_on_a_model_with_a_reference(self, rom_redis: redis.Redis) -> None:
        """Query.delete deletes the matches of a model holding a ManyToOne."""
        owner = QyOwner(name="o")
        for name in "abc":
            QyPet(name=name, owner=owner if name != "b" else None)
        rom.session.commit()
        QyPet.query.filter(owner=rom.NOT_NULL).delete()
        assert [p.name for p in QyPet.query.all()] == ["b"]
        assert QyOwner.get(owner.id) is owner

    def test_replace(self, nums: list[QyNum]) -> None:
        """replace() copies a query with some parts swapped."""
        query = QyNum.query.filter(n=(0, 9)).order_by("-n").limit(0, 2)
        assert ns(query.replace(limit=(1, 1))) == [8]
        assert ns(query.replace(order_by="n")) == [0, 1]
        assert ns(query.replace(filters=(), limit=None, order_by=None)) == list(
            range(10)
        )
        assert ns(query) == [9, 8]
        with pytest.raises(QueryError):
            query.replace(colour="blue")


class TestGetBy:
    def test_token_value(self, nums: list[QyNum]) -> None:
        """get_by on a token index returns a list of entities."""
        assert sorted(e.n for e in QyNum.get_by(tag="red")) == [0, 3, 6, 9]
        assert sorted(e.n for e in QyNum.get_by(flag=False)) == [1, 3, 5, 7, 9]
        assert sorted(e.n for e in QyNum.get_by(tag=["red", "blue"])) == [
            0,
            2,
            3,
            5,
            6,
            8,
            9,
        ]

    def test_numeric_value_and_range(self, nums: list[QyNum]) -> None:
        """A number or a (low, high) tuple reads the numeric index, inclusive."""
        assert [e.n for e in QyNum.get_by(n=4)] == [4]
        assert [e.n for e in QyNum.get_by(n=(3, 6))] == [3, 4, 5, 6]
        assert [e.n for e in QyNum.get_by(f=(None, 0.5))] == [0, 1, 2]
        assert [e.n for e in QyNum.get_by(day=datetime.date(2020, 1, 2))] == [1]

    def test_limit(self, nums: list[QyNum]) -> None:
        """_limit=(offset, count) applies to ranges and token lookups."""
        assert [e.n for e in QyNum.get_by(n=(3, 9), _limit=(1, 2))] == [4, 5]
        assert [e.n for e in QyNum.get_by(tag="red", _limit=(1, 2))] == [3, 6]

    def test_numeric_flag(self, rom_redis: redis.Redis) -> None:
        """_numeric=True is accepted."""
        for i in range(3):
            QyNum(n=i)
        rom.session.commit()
        assert [e.n for e in QyNum.get_by(n=(1, 2), _numeric=True)] == [1, 2]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {},
            {"n": 1, "f": 2.0},
            {"n": 1, "_limit": (1,)},
            {"n": 1, "_limit": ("a", 2)},
            {"n": (1, 2, 3)},
            {"note": "x"},
        ],
    )
    def test_bad_arguments(self, rom_redis: redis.Redis, kwargs: Any) -> None:
        """Bad get_by arguments raise QueryError."""
        with pytest.raises(QueryError):
            QyNum.get_by(**kwargs)


class TestDoesNot:
    @pytest.fixture
    def words(self, rom_redis: redis.Redis) -> dict[str, QyText]:
        """QyText items whose ident and title are each one of a few words."""
        found = {}
        for word in ["ab", "ABC", "abc", "a.c", "b", "Bab", "x%y"]:
            found[word] = QyText(ident=word, title=word)
        rom.session.commit()
        return found

    def test_does_not_startwith(self, words: dict[str, QyText]) -> None:
        """Entities whose token starts with none of the values, each once."""
        got = [e.ident for e in QyText.does_not_startwith("ident", ["ab", "ABC"])]
        assert sorted(got) == sorted(["a.c", "b", "Bab", "x%y"])
        got = [e.ident for e in QyText.does_not_startwith("ident", "a", blocksize=1)]
        assert sorted(got) == sorted(["ABC", "b", "Bab", "x%y"])
        got = [e.ident for e in QyText.does_not_startwith("ident", [])]
        assert sorted(got) == sorted(words)

    def test_does_not_endwith(self, words: dict[str, QyText]) -> None:
        """Values are given unreversed; the match is exact."""
        got = [e.ident for e in QyText.does_not_endwith("ident", ["b", "c"])]
        assert sorted(got) == ["ABC", "x%y"]
        got = [e.title for e in QyText.does_not_endwith("title", ["bc", "%y"])]
        assert sorted(got) == sorted(["a.c", "ab", "b", "Bab"])

    def test_needs_the_index(self, words: dict[str, QyText]) -> None:
        """A column without the prefix or suffix index raises QueryError."""
        with pytest.raises(QueryError):
            list(QyText.does_not_endwith("ident_ci", ["a"]))
        with pytest.raises(QueryError):
            list(QyText.does_not_startwith("code", ["a"]))


class TestErrors:
    @pytest.mark.parametrize(
        ("build", "match"),
        [
            (lambda q: q.filter(missing=1), "non-existent column"),
            (lambda q: q.filter(**{"missing:x": 1}), "non-existent column"),
            (lambda q: q.filter(note="x"), "no index"),
            (lambda q: q.filter(n="5"), "numeric"),
            (lambda q: q.filter(n=b"5"), "numeric"),
            (lambda q: q.filter(n=True), "numeric"),
            (lambda q: q.filter(n=[1, 2]), "OR-lists"),
            (lambda q: q.filter(n=(1, 2, 3)), "2 endpoints"),
            (lambda q: q.filter(n=(1,)), "2 endpoints"),
            (lambda q: q.filter(n=("a", 2)), "not a number"),
            (lambda q: q.filter(n=(True, 2)), "endpoint"),
            (lambda q: q.filter(n={"a": 1}), "n"),
            (lambda q: q.filter(tag=("a", "b")), "range"),
            (lambda q: q.filter(tag=[]), "know how to filter"),
            (lambda q: q.filter(tag={"a": 1}), "know how to filter"),
            (lambda q: q.filter(tag=None), "know how to filter"),
            (lambda q: q.filter(title="x"), "startswith"),
            (lambda q: q.filter(n=rom.NOT_NULL), "non-null"),
            (lambda q: q.startswith(tag="x"), "prefix=True"),
            (lambda q: q.endswith(tag="x"), "suffix=True"),
            (lambda q: q.like(tag="x"), "prefix=True"),
            (lambda q: q.startswith(missing="x"), "non-existent"),
            (lambda q: q.order_by("missing"), "non-existent"),
            (lambda q: q.order_by("note"), "no index"),
            (lambda q: q.order_by("-tag"), "words"),
            (lambda q: q.order_by("flag"), "words"),
            (lambda q: q.limit(-1, 5), "offset"),
            (lambda q: q.limit(0, -5), "count"),
            (lambda q: q.limit("0", 5), "offset"),
            (lambda q: q.select(), "at least one"),
            (lambda q: q.select([]), "at least one"),
            (lambda q: q.select("n", "n"), "duplicate"),
            (lambda q: q.select("n", "missing"), "not a stored column"),
        ],
    )
    def test_query_errors(self, build: Any, match: str) -> None:
        """Each misuse raises QueryError while the query is built."""
        with pytest.raises(QueryError, match=match):
            build(QyNum.query)

    def test_word_index_errors(self) -> None:
        """Ranges and OR-list items of several words are refused on words."""
        with pytest.raises(QueryError):
            QyText.query.filter(body=(1, 2))
        with pytest.raises(QueryError, match="one word"):
            QyText.query.filter(body=["two words"])
        with pytest.raises(QueryError):
            QyText.query.startswith(body=5)

    @pytest.mark.parametrize("timeout", [0, -3, 0.5, "x", None])
    def test_cached_result_timeout(self, rom_redis: redis.Redis, timeout: Any) -> None:
        """cached_result needs a timeout of at least one second."""
        with pytest.raises(QueryError):
            QyNum.query.filter(n=(1, 2)).cached_result(timeout)

    def test_cached_result_of_a_bare_query(self, rom_redis: redis.Redis) -> None:
        """cached_result needs filter or order criteria."""
        with pytest.raises(QueryError, match="missing filter or order"):
            QyNum.query.cached_result(30)
        with pytest.raises(QueryError, match="missing filter or order"):
            QyNum.query.limit(0, 3).cached_result(30)

    def test_query_error_is_a_value_error(self) -> None:
        """QueryError can be caught as rom's ORMError."""
        with pytest.raises(ORMError):
            QyNum.query.filter(missing=1)


# Values that are special to glob patterns, Lua patterns, rom's key syntax or C.
SPECIAL = ["a*b", "a?b", "[x]", "100%", "a:b", "x\0y", "^$().%-+", "a.c", "50%+"]
DECOYS = ["ab", "axb", "x", "1000", "a", "xy", "^$", "abc", "50"]


class TestValuesAreData:
    @pytest.fixture
    def specials(self, rom_redis: redis.Redis) -> Iterator[None]:
        """QyText items whose ident is one of SPECIAL or DECOYS."""
        for value in SPECIAL + DECOYS:
            QyText(ident=value, body=value)
        rom.session.commit()
        yield

    def idents(self, query: rom.Query[Any]) -> list[str]:
        """The ident of each result, sorted."""
        return sorted(e.ident for e in query.all())

    @pytest.mark.parametrize("value", SPECIAL)
    def test_filter_matches_literally(self, specials: None, value: str) -> None:
        """A filter value with special characters matches only itself."""
        assert self.idents(QyText.query.filter(ident=value)) == [value]

    @pytest.mark.parametrize("value", SPECIAL)
    def test_startswith_and_endswith_match_literally(
        self, specials: None, value: str
    ) -> None:
        """Prefixes and suffixes with special characters match literally."""
        assert self.idents(QyText.query.startswith(ident=value)) == [value]
        assert self.idents(QyText.query.endswith(ident=value)) == [value]
        assert value in self.idents(QyText.query.startswith(ident=value[:2]))
        assert value in self.idents(QyText.query.endswith(ident=value[-2:]))

    @pytest.mark.parametrize(
        ("pattern", "expected"),
        [
            ("[x]", ["[x]"]),
            ("100%", ["100%"]),
            ("a:b", ["a:b"]),
            ("x\0y", ["x\0y"]),
            ("^$().%-", ["^$().%-+"]),
            ("a.c", ["a.c"]),
            ("a.", ["a.c"]),
            ("%", []),
            ("[", ["[x]"]),
            ("^", ["^$", "^$().%-+"]),
            ("x\0", ["x\0y"]),
            ("a*b", ["a*b", "a:b", "a?b", "ab", "abc", "axb"]),
            ("a!b", ["a*b", "a:b", "a?b", "axb"]),
            ("a?b", ["a*b", "a:b", "a?b", "ab", "abc", "axb"]),
            ("50%+", ["50%+"]),
        ],
    )
    def test_like_matches_literally_but_for_wildcards(
        self, specials: None, pattern: str, expected: list[str]
    ) -> None:
        """like() treats every character but ? * + ! as itself."""
        assert self.idents(QyText.query.like(ident=pattern)) == sorted(expected)

    def test_word_values_with_specials(self, specials: None) -> None:
        """FULL_TEXT words keep inner special characters as data."""
        assert self.idents(QyText.query.filter(body="A*B")) == ["a*b"]
        assert self.idents(QyText.query.filter(body="a:b")) == ["a:b"]
        assert self.idents(QyText.query.startswith(body="a?")) == ["a?b"]
