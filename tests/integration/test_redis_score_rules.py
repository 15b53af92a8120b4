"""rom's score rules agree with what a real Redis accepts in ZADD and GEOADD.

``rom._redis_rules.parse_score`` decides, before a write script runs, which
keygen scores Redis would refuse. If it accepted something Redis refuses,
the script would stop half-way; if it refused something Redis accepts, a
valid keygen would fail. Each case is sent to Redis itself to compare.
"""

from __future__ import annotations

import pytest
import redis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from rom._redis_rules import GEO_LAT_LIMIT
from rom._redis_rules import parse_score
from rom._redis_rules import score_text

CASES = [
    "1",
    "-1",
    "+5",
    ".5",
    "5.",
    "1e3",
    "1E-3",
    "1e",
    "e1",
    "0x10",
    "0X1p3",
    "-0x.8",
    "0x",
    "0x1p",
    "inf",
    "-inf",
    "+INF",
    "Infinity",
    "-infinity",
    "infin",
    "nan",
    "NaN",
    "-nan",
    "nan(1)",
    "1_000",
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "\uff11",  # fullwidth 1
    " 5",
    "5 ",
    "\t5",
    "5\n",
    "",
    "-",
    ".",
    "1e999",
    "-1e999",
    "1e308",
    "1.7976931348623157e308",
    "1.8e308",
    "1e-400",
    "-1e-400",
    "0e-400",
    "0.000e999999",
    "1e-310",  # subnormal: accepted
    "4.9e-324",
    "2e-324",
    "0",
    "-0",
    "00012",
    "1.2.3",
    "1,5",
    "abc",
]


def _redis_accepts(conn: redis.Redis, text: str) -> float | None:
    conn.delete("scores")
    try:
        conn.zadd("scores", {"m": text})
    except redis.ResponseError:
        return None
    score = conn.zscore("scores", "m")
    assert score is not None
    return float(score)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b


@pytest.mark.parametrize("text", CASES)
def test_parse_score_matches_zadd(rom_redis: redis.Redis, text: str) -> None:
    """Redis accepts the text as a score exactly when parse_score does."""
    expected = _redis_accepts(rom_redis, text)
    assert _same(parse_score(text), expected), (text, expected)
    canonical = score_text(text)
    assert _same(None if canonical is None else float(canonical), expected)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(alphabet="0123456789.eE+-xXpPinfatyINF _\u0661\t", max_size=10))
def test_parse_score_matches_zadd_generated(rom_redis: redis.Redis, text: str) -> None:
    """The same, on generated number-like text."""
    expected = _redis_accepts(rom_redis, text)
    assert _same(parse_score(text), expected), (text, expected)
    canonical = score_text(text)
    assert _same(None if canonical is None else float(canonical), expected)


@pytest.mark.parametrize("text", [t for t in CASES if parse_score(t) is not None])
def test_canonical_text_stores_the_same_score(
    rom_redis: redis.Redis, text: str
) -> None:
    """score_text sends a spelling that Redis stores as the same double."""
    canonical = score_text(text)
    assert canonical is not None
    assert _same(_redis_accepts(rom_redis, canonical), _redis_accepts(rom_redis, text))


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(180.0, GEO_LAT_LIMIT), (-180.0, -GEO_LAT_LIMIT), (0.0, 0.0)],
)
def test_geo_limits_are_accepted(
    rom_redis: redis.Redis, lon: float, lat: float
) -> None:
    """The bounds rom allows are points GEOADD takes."""
    assert rom_redis.geoadd("g", [repr(lon), repr(lat), "m"]) == 1


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(180.0000001, 0.0), (0.0, GEO_LAT_LIMIT + 1e-7), (0.0, -GEO_LAT_LIMIT - 1e-7)],
)
def test_geo_outside_is_refused(rom_redis: redis.Redis, lon: float, lat: float) -> None:
    """Just outside them GEOADD refuses, as rom does."""
    with pytest.raises(redis.ResponseError):
        rom_redis.geoadd("g", [repr(lon), repr(lat), "m"])
