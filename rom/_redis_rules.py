"""What Redis accepts, checked in Python before anything is sent.

A write script that meets a value Redis refuses (a ZADD score it cannot
parse, a GEOADD point out of range) stops where it is, and the writes it
already made stay. So every score and geo point is checked here with
Redis's own rules and sent in one canonical spelling; a refused value
raises before the script runs, and nothing is written.

Also here: what a Redis refusal of a write means (:func:`write_error`).
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import redis.exceptions

from .exceptions import InvalidColumnValue

__all__ = [
    "GEO_LAT_LIMIT",
    "MAX_STRING_BYTES",
    "geo_points",
    "parse_score",
    "score_text",
    "shown",
    "write_error",
]

# GEOADD refuses longitudes outside ±180 and latitudes outside this bound.
GEO_LAT_LIMIT = 85.05112878
# The largest string Redis stores (its default proto-max-bulk-len).
MAX_STRING_BYTES = 512 * 1024 * 1024

# What C's strtod() parses in the C locale, i.e. what Redis reads as a
# double (ZADD scores, GEOADD coordinates): a decimal or hexadecimal number,
# or inf/infinity, each with an optional sign. ASCII digits only; Redis also
# refuses leading whitespace and anything left over after the number.
_STRTOD = re.compile(
    r"""[+-]?(?:
        (?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
      | (?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)
                (?:[pP][+-]?[0-9]+)?)
      | (?P<inf>(?i:inf|infinity))
    )""",
    re.VERBOSE | re.ASCII,
)


_PLAIN_DECIMAL = frozenset("0123456789.-+eE")


def shown(value: object, limit: int = 80) -> str:
    """A short ``repr`` of ``value`` that never fails (huge ints included)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # a huge int, a deeply nested list
        text = f"<{type(value).__name__} too large to print>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_score(text: str) -> float | None:
    """The double Redis reads from ``text``, or None if Redis refuses it.

    Redis refuses NaN, numbers that overflow a double or underflow to zero,
    leading or trailing whitespace, digits other than ASCII 0-9, and
    underscores, all of which Python's ``float()`` may accept.
    """
    match = _STRTOD.fullmatch(text)
    if match is None:
        return None
    if match["inf"]:
        return -math.inf if text.startswith("-") else math.inf
    if match["hex"]:
        body = text.lstrip("+-")
        value = float.fromhex(body if "p" in body.lower() else body + "p0")
        value = -value if text.startswith("-") else value
        mantissa = match["hex"][2:].lower().split("p")[0]
    else:
        try:
            value = float(text)
        except OverflowError:  # pragma: no cover - float() rounds to inf
            return None
        mantissa = match["dec"].lower().split("e")[0]
    if math.isinf(value):
        return None  # overflow: strtod reports ERANGE, Redis refuses
    if value == 0 and mantissa.strip("0.") != "":
        return None  # underflow to zero: ERANGE again
    return value


def score_text(score: object) -> str | None:
    """``score`` spelled the way it is sent to ZADD, or None if refused.

    Numbers are sent as the double Redis would store: ints and Decimals too
    large for a double become ``inf``/``-inf`` (as numeric columns always
    did), ones too small become ``0.0``. Strings must be numbers Redis
    parses; they are sent as ``repr`` of that double, so the ZSET holds the
    same score either way.
    """
    if isinstance(score, bool):
        score = int(score)
    if isinstance(score, float):
        return None if math.isnan(score) else repr(score)
    if isinstance(score, int):
        try:
            return repr(float(score))
        except OverflowError:
            return "inf" if score > 0 else "-inf"
    if isinstance(score, decimal.Decimal):
        if score.is_nan():
            return None
        try:
            return repr(float(score))
        except OverflowError:  # pragma: no cover - Decimal -> float gives inf
            return "inf" if score > 0 else "-inf"
    if isinstance(score, bytes):
        try:
            score = score.decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(score, str):
        if _PLAIN_DECIMAL.issuperset(score):
            # Fast path for what numeric columns give: over these characters
            # float() and strtod() read the same grammar.
            try:
                value = float(score)
            except ValueError:
                return None
            if value != 0 and not math.isinf(value):
                return repr(value)
        parsed = parse_score(score)
        return None if parsed is None else repr(parsed)
    return None


def geo_points(model: str, name: str, output: Any) -> list[tuple[str, str]]:
    """The ``(lon, lat)`` texts a geo callback's ``output`` asks for.

    ``output`` is None or an empty list (no point), a ``{'lon':, 'lat':}``
    mapping, a ``(lon, lat)`` pair, or a list of mappings (every point of
    the list; Redis keeps the last, as the entity has one member).

    Raises:
        InvalidColumnValue: the output is none of these, or a point is not a
            pair of numbers Redis can index.
    """
    if output is None:
        return []
    if isinstance(output, Mapping):
        return [_geo_point(model, name, output, output)]
    if isinstance(output, Sequence) and not isinstance(output, (str, bytes)):
        if output and all(isinstance(p, Mapping) for p in output):
            return [_geo_point(model, name, p, output) for p in output]
        if not output:
            return []
        if len(output) == 2 and not any(isinstance(p, Mapping) for p in output):
            return [_geo_point(model, name, output, output)]
    raise _geo_refusal(model, name, output, "")


def _geo_point(model: str, name: str, point: Any, output: Any) -> tuple[str, str]:
    try:
        if isinstance(point, Mapping):
            lon, lat = _coordinate(point["lon"]), _coordinate(point["lat"])
        else:
            lon, lat = (_coordinate(v) for v in point)
    except KeyError:
        raise _geo_refusal(
            model, name, output, "a point needs 'lon' and 'lat'"
        ) from None
    except (TypeError, ValueError, ArithmeticError):
        raise _geo_refusal(model, name, output, "lon and lat must be numbers") from None
    if not (-180 <= lon <= 180 and -GEO_LAT_LIMIT <= lat <= GEO_LAT_LIMIT):
        raise _geo_refusal(
            model,
            name,
            output,
            f"({lon!r}, {lat!r}) is outside what Redis can index: lon -180..180, "
            f"lat -{GEO_LAT_LIMIT}..{GEO_LAT_LIMIT}",
        )
    return repr(lon), repr(lat)


def _coordinate(value: Any) -> float:
    if isinstance(value, (str, bytes)):
        text = value.decode("ascii") if isinstance(value, bytes) else value
        parsed = parse_score(text)
        if parsed is None:
            raise ValueError(text)
        return parsed
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        raise TypeError(type(value).__name__)
    return float(value)  # OverflowError, or ValueError for a signalling NaN


def _geo_refusal(model: str, name: str, output: Any, why: str) -> InvalidColumnValue:
    msg = (
        f"{model} geo index {name!r}: the callback must return None, [] (no "
        "point), {'lon': x, 'lat': y}, (lon, lat) or a list of such dicts, "
        f"got {shown(output)}"
    )
    if why:
        msg += f" ({why})"
    return InvalidColumnValue(msg, model, name, output)


# -- refusals from Redis --------------------------------------------------

_OOM = "OOM command not allowed"


def write_error(exc: redis.exceptions.ResponseError) -> redis.exceptions.ResponseError:
    """The error to raise for a write Redis refused with ``exc``.

    Redis refuses writes when it is out of memory (``maxmemory`` reached
    under a ``noeviction`` policy). redis-py raises ``OutOfMemoryError`` for
    a plain command, but inside a script Redis 6.2 wraps the message (``Error
    running script ... OOM command not allowed ...``) and redis-py raises a
    plain ``ResponseError``. This returns an ``OutOfMemoryError`` (a
    ``ResponseError`` subclass) with the same message for both, and ``exc``
    itself for any other error.
    """
    if isinstance(exc, redis.exceptions.OutOfMemoryError) or _OOM not in str(exc):
        return exc
    mapped = redis.exceptions.OutOfMemoryError(
        f"{exc} (Redis is out of memory: raise maxmemory, choose an eviction "
        "policy, or free memory, then retry the write)"
    )
    mapped.__cause__ = exc
    return mapped
