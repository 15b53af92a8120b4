"""Index key generators and the score encodings they rely on."""

from __future__ import annotations

import datetime
import functools
import math
import string
import struct
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any
from typing import TypeAlias
from typing import overload

__all__ = [
    "CASE_INSENSITIVE",
    "EPOCH",
    "FULL_TEXT",
    "IDENTITY",
    "IDENTITY_CI",
    "IDENTITY_STRING",
    "IDENTITY_STRING_CI",
    "LOWERCASE_QUERY_KEYGENS",
    "MAX_PREFIX_SCORE",
    "SIMPLE",
    "SIMPLE_CI",
    "STRING_INDEX_KEYGENS",
    "STRING_INDEX_KEYGENS_STR",
    "STRING_SORT_KEYGENS",
    "STRING_SORT_KEYGENS_STR",
    "IndexTokens",
    "Keygen",
    "Keygen2",
    "KeygenResult",
    "Score",
    "ScoredKeys",
    "Token",
    "affix_score",
    "boolean_keygen",
    "dt2ts",
    "encode_unique_constraint",
    "numeric_keygen",
    "numeric_score",
    "prefix_score",
    "reverse_token",
    "t2ts",
    "to_score",
    "ts2dt",
    "ts2t",
]

# --- what a keygen returns --------------------------------------------------

Token: TypeAlias = str | bytes
"""One index token; bytes are UTF-8-decoded when the key name is built."""

IndexTokens: TypeAlias = (
    list[str] | list[bytes] | list[Token] | tuple[Token, ...] | AbstractSet[Token]
)
"""Tokens, each giving the SET ``<ns>:<attr>:<token>:idx``."""

Score: TypeAlias = str | float
"""A ZSET score as sent to Redis: a number, or a string Redis parses as one."""

ScoredKeys: TypeAlias = Mapping[str, Score | None]
"""``''`` -> score of ``<ns>:<attr>:idx``; ``k`` -> ZSET (score) or SET (None/'')."""

KeygenResult: TypeAlias = IndexTokens | ScoredKeys | None
"""Anything a keygen may return; a falsy result writes no index entries."""

Keygen: TypeAlias = Callable[[Any], KeygenResult]
"""A column keygen: called with the column's Python value."""

Keygen2: TypeAlias = Callable[[str, Mapping[str, Any]], KeygenResult]
"""A keygen2: called with the attribute name and the entity's whole data."""

# --- time helpers -----------------------------------------------------------

EPOCH = datetime.datetime(1970, 1, 1)
_EPOCH_DATE = datetime.date(1970, 1, 1)
_LAST_MICROSECOND_OF_DAY = datetime.timedelta(days=1, microseconds=-1)
# The first second past datetime.max, as seconds since the epoch.
_MAX_TS = float((datetime.datetime.max - EPOCH).days * 86400 + 86400)


def dt2ts(v: datetime.datetime | datetime.date) -> float:
    """Return seconds since the Unix epoch; naive datetimes are taken as UTC.

    The arithmetic is rom's, so the float (and its ``repr`` on the wire) is
    byte-identical. Aware datetimes are converted to naive UTC first.
    """
    if isinstance(v, datetime.datetime):
        offset = v.utcoffset() or datetime.timedelta(0)
        delta = v.replace(tzinfo=None) - offset - EPOCH
    else:
        delta = v - _EPOCH_DATE
    return delta.days * 86400 + delta.seconds + delta.microseconds / 1000000.0


def ts2dt(f: float) -> datetime.datetime:
    """Return the naive UTC datetime ``f`` seconds after the epoch.

    Rounds to the nearest microsecond and accepts negative values. The
    float of a datetime in the last microseconds of year 9999 can round up
    past ``datetime.max`` (floats there are ~30 µs apart); such a value,
    less than 1 ms past the end, gives ``datetime.max``.

    Raises:
        ValueError: ``f`` is NaN or outside the datetime range.
    """
    try:
        return EPOCH + datetime.timedelta(seconds=f)
    except OverflowError as exc:
        if _MAX_TS <= f < _MAX_TS + 0.001:
            return datetime.datetime.max
        raise ValueError(f"timestamp out of range: {f!r}") from exc


def t2ts(t: datetime.time) -> float:
    """Return the seconds since midnight of ``t`` (its tzinfo is ignored)."""
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def ts2t(f: float) -> datetime.time:
    """Return the time of day ``f`` seconds after midnight, to the nearest µs.

    A value just below 86400 that would round up to midnight of the next day
    gives 23:59:59.999999 instead.

    Raises:
        ValueError: ``f`` is not in ``[0, 86400)``.
    """
    if not 0 <= f < 86400:
        raise ValueError(f"seconds since midnight out of range: {f!r}")
    delta = min(datetime.timedelta(seconds=f), _LAST_MICROSECOND_OF_DAY)
    return (datetime.datetime.min + delta).time()


# --- scores -----------------------------------------------------------------

_PREFIX_BYTES = 7
# Digit 0 marks the end of the string, bytes are digits 1..256 (so b"\0" sorts
# after end-of-string) and next=True can push a digit to 257.
_PREFIX_BASE = 258
_SMALLEST_NORMAL_BITS = 1 << 52  # bit pattern of the smallest normal double
_DOUBLE_BITS = struct.Struct("<d")
_U64 = struct.Struct("<Q")


def prefix_score(v: str | bytes, next: bool = False) -> str:
    """Return the ZSET score that orders ``v`` by its first 7 UTF-8 bytes.

    With ``next=True`` return the score just past every string that starts
    with ``v``: the exclusive upper bound of a prefix search.
    """
    raw = v.encode("utf-8") if isinstance(v, str) else v
    # Only the first 7 bytes count: scores are cached by them.
    return _head_score(bytes(raw[:_PREFIX_BYTES]), next)


@functools.lru_cache(maxsize=1 << 14)
def _head_score(head: bytes, next: bool) -> str:
    # Tokens repeat (every save of a prefix-indexed column scores each of
    # its words), and this arithmetic costs several microseconds a token.
    n = 0
    for c in head:
        n = n * _PREFIX_BASE + c + 1
    if next:
        n += 1
    n *= _PREFIX_BASE ** (_PREFIX_BYTES - len(head))
    # Positive doubles order like their bit patterns, so n maps monotonically.
    bits = _U64.pack(n + _SMALLEST_NORMAL_BITS)
    return repr(_DOUBLE_BITS.unpack(bits)[0])


# Above every token's score. rom 1.1.2 scored the *text* "\xff" * 7 here, i.e.
# bytes c3 bf c3 bf..., which is 1.7174966357818841e-304 and lies below tokens
# starting with U+0100 or higher, so empty-prefix patterns missed them. It only
# bounds queries and is never stored, so the fix changes no data.
MAX_PREFIX_SCORE: str = prefix_score(b"\xff" * _PREFIX_BYTES, next=True)


def affix_score(token: str, raw: bool = False, next: bool = False) -> str:
    """Return the score of a :pre/:suf ``token`` (or of a prefix of one).

    With ``raw`` the token is bytes decoded as latin-1 (a SIMPLE* index of a
    String column): rom 1.1.2 scored such tokens by those bytes, not by the
    UTF-8 of the text. Text that is not latin-1 cannot come from bytes and
    is scored by its UTF-8.
    """
    if raw:
        try:
            return prefix_score(token.encode("latin-1"), next)
        except UnicodeEncodeError:
            pass
    return prefix_score(token, next)


def to_score(v: object, exclusive: bool = False) -> str:
    """Return ``v`` as a ZRANGEBYSCORE bound, prefixed by ``(`` if exclusive."""
    text = repr(v) if isinstance(v, float) else str(v)
    text = text.removeprefix("(")
    return "(" + text if exclusive else text


def numeric_score(v: object) -> str:
    """Return the score string rom's numeric keygen gives a column value."""
    if isinstance(v, datetime.date):  # datetime is a date subclass
        v = dt2ts(v)
    elif isinstance(v, datetime.time):
        v = t2ts(v)
    if isinstance(v, float):
        return repr(v)
    return _redis_double(v, str(v))


def _redis_double(v: Any, text: str) -> str:
    # Redis refuses a score whose double overflows or underflows to 0 (e.g.
    # 10**400, Decimal('1E-500')): send the double it rounds to instead.
    try:
        f = float(v)
    except OverflowError:  # an int beyond the double range
        f = math.inf if v > 0 else -math.inf
    except (TypeError, ValueError):
        return text
    return repr(f) if math.isinf(f) or (f == 0 and v != 0) else text


def encode_unique_constraint(wires: Sequence[str]) -> str:
    """Return the field of a composite unique index for these wire strings.

    ``wires`` are the columns' wire strings in sorted column-name order. The
    result, once UTF-8-encoded by redis-py, is rom's field: non-ASCII ends up
    double-UTF-8-encoded, which rom 1.1.2 data requires.
    """
    raw = b"\0".join(b"\0\0" + wire.encode("utf-8") for wire in wires)
    return raw.decode("latin-1")


@overload
def reverse_token(tok: str) -> str: ...
@overload
def reverse_token(tok: bytes) -> bytes: ...
def reverse_token(tok: str | bytes) -> str | bytes:
    """Return a token reversed for a suffix index (by character or by byte)."""
    return tok[::-1]


# --- internal keygens of numeric and boolean columns ------------------------


def _numeric_keygen(v: object) -> dict[str, str] | None:
    """Index a numeric, date or time value under its score."""
    if v is None:
        return None
    return {"": numeric_score(v)}


def _boolean_keygen(v: object) -> list[str]:
    """Index a boolean value under the token ``'True'`` or ``'False'``."""
    return [str(bool(v))]


numeric_keygen = _numeric_keygen
boolean_keygen = _boolean_keygen

# --- public keygens; queries pick lowercasing by __name__ -------------------


def _as_text(v: object) -> str:
    """Return ``v`` as text: bytes are latin-1-decoded, others ``str()``-ed."""
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return v if isinstance(v, str) else str(v)


def _full_text_token(piece: str) -> str:
    return piece.lower().strip(string.punctuation)


def FULL_TEXT(v: object) -> list[str] | None:
    """Return the sorted distinct lowercase words of ``v``, punctuation trimmed."""
    if v is None or v == "":
        return None
    text = repr(v) if isinstance(v, float) else _as_text(v)
    tokens = {_full_text_token(piece) for piece in text.split()}
    tokens.discard("")
    return sorted(tokens)


def SIMPLE(v: object) -> dict[str, str] | None:
    """Return the prefix score of ``v``: sorts by the first 7 bytes, with case."""
    if not v:
        return None
    return {"": prefix_score(_as_text(v))}


def SIMPLE_CI(v: object) -> dict[str, str] | None:
    """Return the prefix score of ``v`` lowercased: sorts without case."""
    if not v:
        return None
    # bytes.lower() touches ASCII only, as in rom: the score must match its data.
    lowered = v.lower() if isinstance(v, (str, bytes)) else str(v).lower()
    return SIMPLE(lowered)


CASE_INSENSITIVE = SIMPLE_CI


def _identity_token(v: object) -> Token:
    return v if isinstance(v, (str, bytes)) else str(v)


def IDENTITY(v: object) -> list[Token] | None:
    """Return ``[v]``: the index matches the exact value."""
    if not v:
        return None
    return [_identity_token(v)]


def IDENTITY_CI(v: object) -> list[Token] | None:
    """Return ``[v.lower()]``: the index matches the value without case."""
    if not v:
        return None
    return [_identity_token(v).lower()]


def _identity_bytes(v: object) -> bytes:
    return v if isinstance(v, bytes) else _as_text(v).encode("latin-1")


def IDENTITY_STRING(v: object) -> list[bytes] | None:
    """Return ``[v]`` as bytes (str is latin-1-encoded), for String columns."""
    if not v:
        return None
    return [_identity_bytes(v)]


def IDENTITY_STRING_CI(v: object) -> list[bytes] | None:
    """Return ``[v.lower()]`` as bytes, for String columns."""
    if not v:
        return None
    return [_identity_bytes(v).lower()]


STRING_INDEX_KEYGENS: tuple[Keygen, ...] = (
    FULL_TEXT,
    SIMPLE,
    SIMPLE_CI,
    IDENTITY,
    IDENTITY_CI,
    CASE_INSENSITIVE,
)
# Spelled out: CASE_INSENSITIVE is SIMPLE_CI, so __name__ would repeat SIMPLE_CI.
STRING_INDEX_KEYGENS_STR: str = (
    "FULL_TEXT, SIMPLE, SIMPLE_CI, IDENTITY, IDENTITY_CI, CASE_INSENSITIVE"
)
STRING_SORT_KEYGENS: tuple[Keygen, ...] = (SIMPLE, SIMPLE_CI, CASE_INSENSITIVE)
STRING_SORT_KEYGENS_STR: str = "SIMPLE, SIMPLE_CI, CASE_INSENSITIVE"

LOWERCASE_QUERY_KEYGENS: frozenset[str] = frozenset(
    # rom 1.1.2 omits IDENTITY_STRING_CI, so its mixed-case queries never match.
    {"FULL_TEXT", "SIMPLE_CI", "CASE_INSENSITIVE", "IDENTITY_CI", "IDENTITY_STRING_CI"}
)
"""Names (``__name__``) of the keygens whose query values are lowercased."""
