"""Keygens and score encodings: the documented examples."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rom.keygen import CASE_INSENSITIVE
from rom.keygen import FULL_TEXT
from rom.keygen import IDENTITY
from rom.keygen import IDENTITY_CI
from rom.keygen import IDENTITY_STRING
from rom.keygen import IDENTITY_STRING_CI
from rom.keygen import LOWERCASE_QUERY_KEYGENS
from rom.keygen import MAX_PREFIX_SCORE
from rom.keygen import SIMPLE
from rom.keygen import SIMPLE_CI
from rom.keygen import STRING_INDEX_KEYGENS
from rom.keygen import STRING_INDEX_KEYGENS_STR
from rom.keygen import STRING_SORT_KEYGENS
from rom.keygen import STRING_SORT_KEYGENS_STR
from rom.keygen import Keygen
from rom.keygen import boolean_keygen
from rom.keygen import dt2ts
from rom.keygen import encode_unique_constraint
from rom.keygen import numeric_keygen
from rom.keygen import numeric_score
from rom.keygen import prefix_score
from rom.keygen import reverse_token
from rom.keygen import t2ts
from rom.keygen import to_score
from rom.keygen import ts2dt
from rom.keygen import ts2t

UTC_PLUS_2 = datetime.timezone(datetime.timedelta(hours=2))
naive_datetimes = st.datetimes(
    min_value=datetime.datetime(1902, 1, 1),
    max_value=datetime.datetime(2037, 12, 31, 23, 59, 59, 999999),
)


class TestDt2ts:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [
            (datetime.datetime(2024, 5, 6, 7, 8, 9, 250000), "1714979289.25"),
            (datetime.datetime(2020, 1, 2, 3, 4, 5, 678900), "1577934245.6789"),
            (datetime.datetime(1969, 12, 31, 23, 59, 59, 500000), "-0.5"),
            (datetime.date(2020, 1, 2), "1577923200.0"),
            (datetime.date(1960, 1, 1), "-315619200.0"),
        ],
    )
    def test_wire_values_match_rom(self, value: datetime.date, wire: str) -> None:
        """Datetimes and dates give rom's exact repr on the wire."""
        assert repr(dt2ts(value)) == wire

    def test_aware_datetime_is_converted_to_utc(self) -> None:
        """An aware datetime scores as its naive UTC equivalent."""
        aware = datetime.datetime(2020, 1, 2, 5, 4, 5, 678900, tzinfo=UTC_PLUS_2)
        assert repr(dt2ts(aware)) == "1577934245.6789"

    def test_datetime_in_date_column_keeps_its_time(self) -> None:
        """A datetime is scored with its time part even where a date is expected."""
        assert dt2ts(datetime.datetime(2020, 1, 2, 12)) == 1577923200.0 + 12 * 3600


class TestTs2dt:
    def test_returns_naive_utc(self) -> None:
        """A stored timestamp loads as the naive UTC datetime."""
        loaded = ts2dt(1577934245.6789)
        assert loaded == datetime.datetime(2020, 1, 2, 3, 4, 5, 678900)
        assert loaded.tzinfo is None

    def test_negative_timestamp(self) -> None:
        """Timestamps before 1970 load correctly."""
        assert ts2dt(-0.5) == datetime.datetime(1969, 12, 31, 23, 59, 59, 500000)

    def test_rounds_to_nearest_microsecond(self) -> None:
        """A timestamp a hair below a microsecond boundary rounds up to it."""
        assert ts2dt(0.0000019999999) == datetime.datetime(1970, 1, 1, 0, 0, 0, 2)

    @pytest.mark.parametrize("bad", [math.nan, math.inf, 1e20, -1e20])
    def test_out_of_range_raises_value_error(self, bad: float) -> None:
        """NaN and timestamps outside the datetime range raise ValueError."""
        with pytest.raises(ValueError):
            ts2dt(bad)

    @given(naive_datetimes)
    def test_round_trip_through_repr(self, value: datetime.datetime) -> None:
        """Every naive datetime of 1902-2037 survives a trip through Redis."""
        assert ts2dt(float(repr(dt2ts(value)))) == value


class TestTimeOfDay:
    @pytest.mark.parametrize(
        ("value", "wire"),
        [
            (datetime.time(13, 14, 15, 500000), "47655.5"),
            (datetime.time(0, 0, 0, 1), "1e-06"),
        ],
    )
    def test_wire_values_match_rom(self, value: datetime.time, wire: str) -> None:
        """Times give rom's exact repr on the wire."""
        assert repr(t2ts(value)) == wire

    def test_no_microsecond_lost(self) -> None:
        """01:02:03.100001 comes back intact (rom 1.1.2 lost the microsecond)."""
        value = datetime.time(1, 2, 3, 100001)
        assert ts2t(float(repr(t2ts(value)))) == value

    def test_just_below_midnight_stays_in_the_day(self) -> None:
        """A value that would round up to the next day gives the last microsecond."""
        assert ts2t(86399.9999996) == datetime.time(23, 59, 59, 999999)

    @pytest.mark.parametrize("bad", [-0.5, 86400.0, math.nan, math.inf])
    def test_out_of_range_raises_value_error(self, bad: float) -> None:
        """Seconds outside one day, and NaN, raise ValueError."""
        with pytest.raises(ValueError):
            ts2t(bad)

    @given(st.times())
    def test_round_trip_through_repr(self, value: datetime.time) -> None:
        """Every time of day survives a trip through Redis exactly."""
        assert ts2t(float(repr(t2ts(value)))) == value


def _all_ff_and_short(value: bytes) -> bool:
    return len(value) < 7 and value == b"\xff" * len(value)


class TestPrefixScore:
    @pytest.mark.parametrize(
        ("value", "score"),
        [
            ("", "2.2250738585072014e-308"),
            ("a", "2.0189796653424533e-306"),
            ("abc", "2.054904547363961e-306"),
            ("and", "2.0592434975090592e-306"),
            ("likes", "3.318459296274635e-306"),
            ("python", "4.0761097946948906e-306"),
            ("redis", "4.43463570106618e-306"),
            ("lua", "3.3271052615232375e-306"),
            ("dna", "2.3390112132095837e-306"),
            ("nohtyp", "3.695817827482267e-306"),
            ("sekil", "4.621169927513092e-306"),
            ("sider", "4.624041969501654e-306"),
            ("aul", "2.061784942637638e-306"),
            ("Alice Smith", "4.805972154468807e-307"),
            ("htimS ecilA", "2.714221020017134e-306"),
        ],
    )
    def test_observed_scores(self, value: str, score: str) -> None:
        """Scores equal those rom 1.1.2 wrote in the observed dumps."""
        assert prefix_score(value) == score

    def test_next(self) -> None:
        """next=True gives the bound just past every string starting with 'abc'."""
        assert prefix_score("abc", next=True) == "2.054905948381121e-306"

    def test_only_first_seven_bytes_count(self) -> None:
        """Strings sharing their first 7 bytes get equal scores."""
        assert prefix_score("abcdefgh") == prefix_score("abcdefgXYZ")

    def test_text_is_scored_as_utf8(self) -> None:
        """A str scores like its UTF-8 bytes."""
        assert prefix_score("café€") == prefix_score("café€".encode())

    def test_max_prefix_score(self) -> None:
        """MAX_PREFIX_SCORE is the next-bound of seven 0xff bytes."""
        assert prefix_score(b"\xff" * 7, next=True) == MAX_PREFIX_SCORE
        assert MAX_PREFIX_SCORE == "2.6686011349572752e-303"

    def test_max_is_above_non_latin_text(self) -> None:
        """MAX_PREFIX_SCORE lies above '€', which rom 1.1.2's bound did not."""
        roms_bound = "1.7174966357818841e-304"
        assert prefix_score("\xff" * 7, next=True) == roms_bound
        euro = float(prefix_score("€"))
        assert float(roms_bound) < euro < float(MAX_PREFIX_SCORE)

    @given(st.binary(max_size=10), st.binary(max_size=10))
    def test_orders_like_first_seven_bytes(self, a: bytes, b: bytes) -> None:
        """Scores are strictly monotone in the first 7 bytes and blind after them."""
        if a[:7] == b[:7]:
            assert prefix_score(a) == prefix_score(b)
        else:
            low, high = sorted([a, b], key=lambda v: v[:7])
            assert float(prefix_score(low)) < float(prefix_score(high))

    @given(st.lists(st.binary(max_size=9), min_size=2))
    def test_sorted_inputs_give_sorted_scores(self, values: list[bytes]) -> None:
        """Sorting by the first 7 bytes sorts the scores (non-decreasing)."""
        values.sort(key=lambda v: v[:7])
        scores = [float(prefix_score(v)) for v in values]
        assert scores == sorted(scores)

    @given(st.binary(max_size=10))
    def test_next_is_above_and_within_max(self, value: bytes) -> None:
        """prefix_score(x) < prefix_score(x, next=True) <= MAX_PREFIX_SCORE."""
        score = float(prefix_score(value))
        upper = float(prefix_score(value, next=True))
        assert score < upper
        assert score < float(MAX_PREFIX_SCORE)
        if not _all_ff_and_short(value):
            assert upper <= float(MAX_PREFIX_SCORE)

    @pytest.mark.parametrize("value", [b"", b"\xff", b"\xff" * 6])
    def test_next_of_short_all_ff_exceeds_max(self, value: bytes) -> None:
        """The only next-bounds above MAX are of b'' and short runs of 0xff."""
        upper = float(prefix_score(value, next=True))
        assert upper > float(MAX_PREFIX_SCORE)

    @given(st.binary(max_size=7), st.binary(max_size=5))
    def test_window_holds_every_extension(self, prefix: bytes, rest: bytes) -> None:
        """Every string starting with p scores within [score(p), next(p))."""
        score = float(prefix_score(prefix + rest))
        low = float(prefix_score(prefix))
        assert low <= score < float(prefix_score(prefix, next=True))

    @given(st.one_of(st.text(), st.binary()), st.booleans())
    def test_scores_are_exact_floats(self, value: str | bytes, nxt: bool) -> None:
        """Every score is a positive float whose repr round-trips through Redis."""
        score = prefix_score(value, next=nxt)
        assert float(score) > 0
        assert repr(float(score)) == score


class TestToScore:
    @pytest.mark.parametrize(
        ("value", "exclusive", "bound"),
        [
            (1.5, False, "1.5"),
            (1e-06, False, "1e-06"),
            (3, False, "3"),
            (Decimal("12.50"), False, "12.50"),
            (math.inf, False, "inf"),
            ("-inf", False, "-inf"),
            ("(5", False, "5"),
            (5, True, "(5"),
            ("(5", True, "(5"),
        ],
    )
    def test_bounds(self, value: object, exclusive: bool, bound: str) -> None:
        """Floats use repr, others str, and '(' marks only exclusive bounds."""
        assert to_score(value, exclusive) == bound


class TestNumeric:
    @pytest.mark.parametrize(
        ("value", "score"),
        [
            (30, "30"),
            (1 << 128, str(1 << 128)),
            (4.5, "4.5"),
            (2.0, "2.0"),
            (Decimal("12.50"), "12.50"),
            (Decimal("1E+2"), "1E+2"),
            (datetime.datetime(2024, 5, 6, 7, 8, 9, 250000), "1714979289.25"),
            (datetime.date(2020, 1, 2), "1577923200.0"),
            (datetime.time(13, 14, 15, 500000), "47655.5"),
        ],
    )
    def test_numeric_score(self, value: object, score: str) -> None:
        """Numbers, dates and times score as rom's numeric keygen did."""
        assert numeric_score(value) == score

    @given(st.integers())
    def test_int_scores_are_their_str(self, value: int) -> None:
        """An int scores as its decimal str."""
        assert numeric_score(value) == str(value)

    def test_numeric_keygen(self) -> None:
        """The numeric keygen puts the score under the '' key, and skips None."""
        assert numeric_keygen(4.5) == {"": "4.5"}
        assert numeric_keygen(0) == {"": "0"}
        assert numeric_keygen(None) is None

    def test_boolean_keygen(self) -> None:
        """The boolean keygen gives the token 'True' or 'False'."""
        assert boolean_keygen(True) == ["True"]
        assert boolean_keygen(False) == ["False"]
        assert boolean_keygen(0) == ["False"]

    def test_internal_names(self) -> None:
        """The internal keygens keep rom's private names."""
        assert numeric_keygen.__name__ == "_numeric_keygen"
        assert boolean_keygen.__name__ == "_boolean_keygen"


class TestEncodeUniqueConstraint:
    def test_ascii(self) -> None:
        """age=42, email='Bob@Example.com' gives rom's field."""
        field = encode_unique_constraint(["42", "Bob@Example.com"])
        assert field.encode() == b"\0\x0042\0\0\0Bob@Example.com"

    def test_non_ascii_is_double_encoded(self) -> None:
        """Non-ASCII wire strings are double-UTF-8-encoded, as rom wrote them."""
        string_wire = b"\xc3\xbfab".decode("latin-1")  # String column b'\xc3\xbfab'
        field = encode_unique_constraint(["5", string_wire, "café Über"])
        expected = (
            b"\0\x005"
            + b"\0\0\0"
            + bytes.fromhex("c3 83 c2 83 c3 82 c2 bf")
            + b"ab"
            + b"\0\0\0"
            + b"caf"
            + bytes.fromhex("c3 83 c2 a9 20 c3 83 c2 9c")
            + b"ber"
        )
        assert field.encode() == expected

    def test_empty_value(self) -> None:
        """An empty wire string still contributes its two NUL bytes."""
        assert encode_unique_constraint(["", "x"]) == "\0\0\0\0\0x"


class TestFullText:
    @pytest.mark.parametrize(
        ("value", "tokens"),
        [
            (
                "Hello, World!  hello-again... (x)",
                ["hello", "hello-again", "world", "x"],
            ),
            ("Don't stop", ["don't", "stop"]),
            ("...", []),
            ("Likes Redis, and Python!", ["and", "likes", "python", "redis"]),
            ("Likes Lua", ["likes", "lua"]),
            ("a\xa0b", ["a", "b"]),
            ("ÉCOLE Straße", ["straße", "école"]),
            (b"caf\xe9", ["café"]),
            (1.5, ["1.5"]),
            (42, ["42"]),
        ],
    )
    def test_tokens(self, value: object, tokens: list[str]) -> None:
        """Text splits on whitespace, is lowercased and trimmed of punctuation."""
        assert FULL_TEXT(value) == tokens

    @pytest.mark.parametrize("value", [None, ""])
    def test_empty_gives_none(self, value: object) -> None:
        """None and '' give no index entries."""
        assert FULL_TEXT(value) is None


class TestSimple:
    def test_score(self) -> None:
        """SIMPLE scores the whole value, case kept."""
        assert SIMPLE("Alice Smith") == {"": "4.805972154468807e-307"}

    def test_bytes_are_latin1_decoded(self) -> None:
        """Bytes are scored as the UTF-8 of their latin-1 decoding."""
        assert SIMPLE(b"u\xffstr") == {"": prefix_score("u\xffstr")}

    def test_non_text_uses_str(self) -> None:
        """Other values are scored as their str."""
        assert SIMPLE(42) == {"": prefix_score("42")}

    @pytest.mark.parametrize("value", [None, "", b"", 0])
    def test_falsy_gives_none(self, value: object) -> None:
        """Falsy values give no index entries."""
        assert SIMPLE(value) is None

    def test_simple_ci_lowercases(self) -> None:
        """SIMPLE_CI of 'MiXeD Case' is the score of 'mixed c'."""
        assert SIMPLE_CI("MiXeD Case") == {"": "3.505010334596154e-306"}
        assert SIMPLE_CI("MiXeD Case") == {"": prefix_score("mixed c")}

    def test_simple_ci_lowers_bytes_like_rom(self) -> None:
        """SIMPLE_CI lowercases bytes before decoding, so only ASCII changes."""
        assert SIMPLE_CI(b"AB\xc0") == SIMPLE(b"ab\xc0")

    def test_simple_ci_accepts_none(self) -> None:
        """SIMPLE_CI(None) gives no entries (rom 1.1.2 raised AttributeError)."""
        assert SIMPLE_CI(None) is None

    def test_case_insensitive_is_simple_ci(self) -> None:
        """CASE_INSENSITIVE is the very same function as SIMPLE_CI."""
        assert CASE_INSENSITIVE is SIMPLE_CI


class TestIdentity:
    @pytest.mark.parametrize(
        ("keygen", "value", "tokens"),
        [
            (IDENTITY, "Some Tag", ["Some Tag"]),
            (IDENTITY, b"raw", [b"raw"]),
            (IDENTITY, 5, ["5"]),
            (IDENTITY_CI, "Some Tag", ["some tag"]),
            (IDENTITY_CI, b"RAW", [b"raw"]),
            (IDENTITY_STRING, "u\xffstr", [b"u\xffstr"]),
            (IDENTITY_STRING, b"X", [b"X"]),
            (IDENTITY_STRING_CI, b"AbC", [b"abc"]),
            (IDENTITY_STRING_CI, "AbC", [b"abc"]),
        ],
    )
    def test_tokens(self, keygen: Keygen, value: object, tokens: list[object]) -> None:
        """Identity keygens index the exact (or lowercased) value."""
        assert keygen(value) == tokens

    @pytest.mark.parametrize(
        "keygen", [IDENTITY, IDENTITY_CI, IDENTITY_STRING, IDENTITY_STRING_CI]
    )
    @pytest.mark.parametrize("value", [None, "", b"", 0])
    def test_falsy_gives_none(self, keygen: Keygen, value: object) -> None:
        """Falsy values give no index entries."""
        assert keygen(value) is None


class TestKeygenSets:
    @pytest.mark.parametrize(
        ("keygen", "name"),
        [
            (FULL_TEXT, "FULL_TEXT"),
            (SIMPLE, "SIMPLE"),
            (SIMPLE_CI, "SIMPLE_CI"),
            (CASE_INSENSITIVE, "SIMPLE_CI"),
            (IDENTITY, "IDENTITY"),
            (IDENTITY_CI, "IDENTITY_CI"),
            (IDENTITY_STRING, "IDENTITY_STRING"),
            (IDENTITY_STRING_CI, "IDENTITY_STRING_CI"),
        ],
    )
    def test_names(self, keygen: Keygen, name: str) -> None:
        """Each keygen carries rom's name, which queries inspect."""
        assert keygen.__name__ == name

    def test_string_keygen_tuples(self) -> None:
        """The string index and sort keygen tuples are rom's."""
        assert STRING_INDEX_KEYGENS == (
            FULL_TEXT,
            SIMPLE,
            SIMPLE_CI,
            IDENTITY,
            IDENTITY_CI,
            CASE_INSENSITIVE,
        )
        assert STRING_SORT_KEYGENS == (SIMPLE, SIMPLE_CI, CASE_INSENSITIVE)

    def test_string_keygen_names(self) -> None:
        """The *_STR constants name the keygens, CASE_INSENSITIVE by its name."""
        assert STRING_INDEX_KEYGENS_STR == (
            "FULL_TEXT, SIMPLE, SIMPLE_CI, IDENTITY, IDENTITY_CI, CASE_INSENSITIVE"
        )
        assert STRING_SORT_KEYGENS_STR == "SIMPLE, SIMPLE_CI, CASE_INSENSITIVE"

    def test_lowercase_query_keygens(self) -> None:
        """Queries lowercase for every CI keygen, IDENTITY_STRING_CI included."""
        assert {
            "FULL_TEXT",
            "SIMPLE_CI",
            "CASE_INSENSITIVE",
            "IDENTITY_CI",
            "IDENTITY_STRING_CI",
        } == LOWERCASE_QUERY_KEYGENS


class TestReverseToken:
    def test_text_reverses_by_character(self) -> None:
        """A str token is reversed character by character."""
        assert reverse_token("likes") == "sekil"
        assert reverse_token("café") == "éfac"

    def test_bytes_reverse_by_byte(self) -> None:
        """A bytes token is reversed byte by byte."""
        assert reverse_token(b"ab\xc3\xbf") == b"\xbf\xc3ba"
