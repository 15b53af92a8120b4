"""Column descriptors: declaration checks, value conversion and wire encodings.

A column converts what a user assigns (``convert``), turns a Python value
into the exact wire string rom 1.1.2 stores (``to_redis``) and back
(``from_redis``), and knows which keygen indexes it. Instances of a model
keep their values in their state (``rom._state.EntityState``); the column
is the descriptor that reads and writes there.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import json
import math
import re
import sys
from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import Generic
from typing import TypeVar
from typing import overload

from ._redis_rules import shown
from ._registry import MODELS
from ._registry import MODELS_REFERENCED
from ._state import state_of
from ._unsafe import UnsafeColumn
from .exceptions import ColumnError
from .exceptions import InvalidColumnEncoding
from .exceptions import InvalidColumnValue
from .keygen import FULL_TEXT
from .keygen import STRING_INDEX_KEYGENS_STR
from .keygen import KeygenResult
from .keygen import boolean_keygen
from .keygen import dt2ts
from .keygen import numeric_keygen
from .keygen import t2ts
from .keygen import ts2dt
from .keygen import ts2t

if TYPE_CHECKING:
    from typing_extensions import Self

    from .model import Model

__all__ = [
    "MODELS",  # rom 1.1.2 kept the registries in rom.columns
    "MODELS_REFERENCED",
    "NULL",
    "NUMERIC_TYPES",
    "Boolean",
    "Column",
    "Date",
    "DateTime",
    "Decimal",
    "Float",
    "IndexOnly",
    "Integer",
    "Json",
    "PrimaryKey",
    "SaferDateTime",
    "String",
    "Text",
    "Time",
    "UnsafeColumn",
]

T = TypeVar("T")
Keygen2 = Callable[[str, Mapping[str, Any]], KeygenResult]

NUMERIC_TYPES: tuple[type, ...] = (
    int,
    float,
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
)


class _Null:
    """The "no default" marker (``rom.columns.NULL``)."""

    _instance: ClassVar[_Null | None] = None

    def __new__(cls) -> _Null:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL"

    def __bool__(self) -> bool:
        return False


NULL: Any = _Null()


class _Refused(Exception):
    """Raised by ``Column._convert``: the value does not fit (message = why).

    ``encoding`` is the UnicodeEncodeError behind a refusal, if any.
    """

    def __init__(self, why: str, encoding: UnicodeEncodeError | None = None) -> None:
        super().__init__(why)
        self.encoding = encoding


class Column(Generic[T]):
    """Base of every column: one attribute of a model, stored as a hash field.

    Args:
        required: a new entity must have a value (``MissingColumn``), and the
            value cannot later be set to None (``InvalidOperation``).
        default: a value, or a zero-argument callable, used when the value
            is None, both on construction and when loading a row.
        unique: keep ``<ns>:<attr>:uidx`` so no two entities share a value.
        index: make the column filterable (numeric range or keygen tokens).
        keygen: ``value -> tokens | {key: score}``, how the value is indexed.
        prefix: also keep ``<ns>:<attr>:pre`` for ``startswith``/``like``.
        suffix: also keep ``<ns>:<attr>:suf`` for ``endswith``.
        keygen2: ``(attr, entity_dict) -> ...``, a keygen that sees the
            whole entity (composite indexes).
    """

    _allowed: ClassVar[tuple[type, ...]] = ()
    # Relationship and IndexOnly columns are declared without value types.
    _typeless: ClassVar[bool] = False
    _expected: ClassVar[str] = "a value"

    attr: str
    model_name: str

    def __init__(
        self,
        required: bool = False,
        default: Any = NULL,
        unique: bool = False,
        index: bool = False,
        keygen: Callable[[Any], KeygenResult] | None = None,
        prefix: bool = False,
        suffix: bool = False,
        keygen2: Keygen2 | None = None,
    ) -> None:
        self.required = required
        self.default = NULL if default is None else default
        self.unique = unique
        self.index = index
        self.prefix = prefix
        self.suffix = suffix
        self.attr = ""
        self.model_name = ""
        self._keygen: Keygen2 | None = None
        self._keygen_name: str | None = None
        # True when the keygen sees the whole entity (keygen2), not one value.
        self._reads_entity = False
        self._init_keygen(keygen, keygen2)

    # -- declaration checks, made in the order rom 1.1.2 makes them ----------

    def _init_keygen(
        self,
        keygen: Callable[[Any], KeygenResult] | None,
        keygen2: Keygen2 | None,
    ) -> None:
        if (keygen or keygen2) and not (
            self.index or self.prefix or self.suffix or self.unique
        ):
            raise ColumnError(
                f"{type(self).__name__}: a keygen was given but the column is "
                "neither index=True, prefix=True, suffix=True nor unique=True; "
                "set one of them or drop the keygen"
            )
        if not self._allowed and not self._typeless:
            raise ColumnError(
                f"{type(self).__name__} has no value type: use a concrete "
                "column such as Integer, Text or Json"
            )
        if self.unique and not (
            self._typeless or self._is_string() or self._is_integer()
        ):
            raise ColumnError("Unique columns can only be strings or integers")
        if keygen and keygen2:
            raise ColumnError(
                f"{type(self).__name__}: pass keygen or keygen2, not both"
            )
        if keygen2 is not None:
            self._set_keygen2(keygen2, getattr(keygen2, "__name__", None))
            self._reads_entity = True
            return
        keygen = self._default_keygen(keygen)
        if keygen is not None:
            self._set_keygen1(keygen)

    def _default_keygen(
        self, keygen: Callable[[Any], KeygenResult] | None
    ) -> Callable[[Any], KeygenResult] | None:
        numeric, string = self._is_numeric(), self._is_string()
        if self.index and not numeric and not string and keygen is None:
            if bool in self._allowed:
                return boolean_keygen
            if not self._exempt_from_keygen():
                raise ColumnError(
                    f"Non-numeric/string indexed columns must provide keygen: "
                    f"{type(self).__name__}(index=True) needs keygen=... (a "
                    "function returning tokens or {key: score})"
                )
        if (self.index or self.prefix or self.suffix) and string and not keygen:
            raise ColumnError(
                f"Indexed string column {type(self).__name__} needs an explicit "
                f"keygen, one of: {STRING_INDEX_KEYGENS_STR} (e.g. "
                "keygen=rom.FULL_TEXT for word search)"
            )
        if keygen is None and self.index and numeric:
            return numeric_keygen
        if keygen is None and (self.prefix or self.suffix) and not self.index:
            return FULL_TEXT
        return keygen

    def _set_keygen1(self, keygen: Callable[[Any], KeygenResult]) -> None:
        def wrapped(attr: str, data: Mapping[str, Any]) -> KeygenResult:
            return keygen(data.get(attr))

        self._set_keygen2(wrapped, getattr(keygen, "__name__", None))

    def _set_keygen2(self, keygen2: Keygen2, name: str | None) -> None:
        self._keygen = keygen2
        self._keygen_name = name

    def _exempt_from_keygen(self) -> bool:
        return False

    @classmethod
    def _is_numeric(cls) -> bool:
        return (
            any(issubclass(t, NUMERIC_TYPES) for t in cls._allowed)
            and bool not in cls._allowed
        )

    @classmethod
    def _is_string(cls) -> bool:
        return str in cls._allowed or bytes in cls._allowed

    @classmethod
    def _is_integer(cls) -> bool:
        # Every allowed type must be an int: Float allows (float, int) and is
        # not unique-able.
        return bool(cls._allowed) and all(issubclass(t, int) for t in cls._allowed)

    # -- descriptor protocol ------------------------------------------------

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = name
        self.model_name = owner.__name__

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T | None: ...

    def __get__(self, instance: object | None, owner: type) -> Self | T | None:
        if instance is None:
            return self
        return state_of(instance).data.get(self.attr)

    def __set__(self, instance: Model, value: T | None) -> None:
        instance._assign(self, value)

    def __delete__(self, instance: Model) -> None:
        instance._assign(self, None)

    def __repr__(self) -> str:
        where = f"{self.model_name}.{self.attr}" if self.attr else "unbound"
        return f"<{type(self).__name__} {where}>"

    # -- values -------------------------------------------------------------

    @property
    def indexed(self) -> bool:
        """True if saving this column writes index entries."""
        return self._keygen is not None and (self.index or self.prefix or self.suffix)

    @property
    def keygen(self) -> Keygen2 | None:
        """The effective two-argument keygen, or None."""
        return self._keygen

    def default_value(self) -> T | None:
        """The default for a missing value (None when there is none)."""
        default = self.default
        if default is NULL:
            return None
        return default() if callable(default) else default  # type: ignore[no-any-return]

    def validate(self, value: object) -> T | None:
        """Convert ``value`` to this column's type, or raise InvalidColumnValue."""
        if value is None:
            return None
        try:
            return self._convert(value)
        except _Refused as refused:
            error = self._refusal(value, str(refused))
            if refused.encoding is not None:
                error = InvalidColumnEncoding(
                    str(error), self.model_name, self.attr, refused.encoding
                )
            raise error from None

    def _refusal(self, value: object, why: str) -> InvalidColumnValue:
        msg = (
            f"{self.model_name}.{self.attr} expects {self._expected}, "
            f"got {type(value).__name__}: {shown(value)}"
        )
        if why:
            msg += f" ({why})"
        return InvalidColumnValue(msg, self.model_name, self.attr, value)

    def _convert(self, value: object) -> T:
        if isinstance(value, self._allowed):
            return value  # type: ignore[return-value]
        raise _Refused("")

    def to_redis(self, value: T) -> str:
        """Return the wire string stored in Redis for ``value``."""
        return str(value)

    def from_redis(self, raw: str) -> T:
        """Return the Python value of the wire string ``raw``."""
        return raw  # type: ignore[return-value]

    def load(self, raw: str) -> T:
        """``from_redis`` for a row read from Redis, with a clear error."""
        try:
            return self.from_redis(raw)
        except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            raise InvalidColumnValue(
                f"{self.model_name}.{self.attr}: stored value {shown(raw)} cannot be "
                f"read as {self._expected} ({exc}); fix or remove the field",
                self.model_name,
                self.attr,
                raw,
            ) from None


# rom 1.1.2's name for the base class, which user code may test.
_Column = Column


_DECIMAL_INT = re.compile(r"[+-]?[0-9]+")
# Python refuses to turn ints of more than sys.get_int_max_str_digits()
# digits (4300 by default) into text and back; smaller ones need no check.
_SMALL_INT_BITS = 2000


def _storable_int(value: int) -> int:
    if value.bit_length() > _SMALL_INT_BITS:
        try:
            str(value)
        except ValueError:
            raise _Refused(
                "more digits than Python converts to text "
                f"(sys.get_int_max_str_digits() = {sys.get_int_max_str_digits()}); "
                "store it as a String or raise that limit"
            ) from None
    return value


def _as_float(value: int | float | decimal.Decimal) -> float:
    try:
        return float(value)
    except OverflowError:
        raise _Refused("too large for a float") from None
    except ValueError:  # Decimal('sNaN')
        raise _Refused("a signalling NaN is not a number") from None


# The whitespace int() and float() skip around a number; str.strip() would
# also drop characters such as '\x1f' that they refuse.
_NUMBER_SPACE = " \t\n\r\x0b\x0c"


def _number_text(value: object) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("ascii").strip(_NUMBER_SPACE)
        except UnicodeDecodeError:
            return None
    return value.strip(_NUMBER_SPACE) if isinstance(value, str) else None


class Integer(Column[int]):
    """An ``int`` column; a bool or a non-integral number is refused."""

    _allowed = (int,)
    _expected = "an int"

    def _convert(self, value: object) -> int:
        if isinstance(value, bool):
            raise _Refused("use Boolean for truth values")
        if isinstance(value, int):
            return _storable_int(value)
        if isinstance(value, decimal.Decimal) and not value.is_finite():
            raise _Refused("not a finite number")
        if isinstance(value, (float, decimal.Decimal)):
            if math.isfinite(value) and value == int(value):
                return _storable_int(int(value))
            raise _Refused("it has a fractional part; round it first")
        text = _number_text(value)
        if text is None:
            raise _Refused("")
        # int() would also take '1_000', Arabic-Indic digits and control
        # characters around the number: only plain decimal text is a number.
        if not _DECIMAL_INT.fullmatch(text):
            raise _Refused("not a whole number")
        try:
            return int(text)
        except ValueError:
            raise _Refused("more digits than Python converts from text") from None

    def from_redis(self, raw: str) -> int:
        return int(raw)


class Float(Column[float]):
    """A ``float`` column; ints are stored as floats (``3`` -> ``3.0``)."""

    _allowed = (float, int)
    _expected = "a float"

    def _convert(self, value: object) -> float:
        if isinstance(value, bool):
            raise _Refused("use Boolean for truth values")
        if isinstance(value, (int, float, decimal.Decimal)):
            result = _as_float(value)
        else:
            text = _number_text(value)
            if text is None:
                raise _Refused("")
            try:
                result = float(text)
            except ValueError:
                raise _Refused("not a number") from None
        if self.index and math.isnan(result):
            raise _Refused("NaN cannot be indexed")
        return result

    def to_redis(self, value: float) -> str:
        return repr(float(value))

    def from_redis(self, raw: str) -> float:
        return float(raw)


class Decimal(Column[decimal.Decimal]):
    """A ``decimal.Decimal`` column, stored as its ``str``."""

    _allowed = (decimal.Decimal,)
    _expected = "a Decimal"

    def _convert(self, value: object) -> decimal.Decimal:
        if isinstance(value, bool):
            raise _Refused("use Boolean for truth values")
        if isinstance(value, decimal.Decimal):
            result = value
        elif isinstance(value, int):
            result = decimal.Decimal(value)
        elif isinstance(value, float):
            # repr gives the shortest decimal that reads back as this float,
            # so 0.1 becomes Decimal('0.1'), not its binary expansion.
            result = decimal.Decimal(repr(value))
        else:
            text = _number_text(value)
            if text is None:
                raise _Refused("")
            try:
                result = decimal.Decimal(text)
            except decimal.InvalidOperation:
                raise _Refused("not a decimal number") from None
        if result.is_snan():
            raise _Refused("a signalling NaN cannot be stored; use Decimal('NaN')")
        if self.index and result.is_nan():
            raise _Refused("NaN cannot be indexed")
        return result

    def from_redis(self, raw: str) -> decimal.Decimal:
        try:
            return decimal.Decimal(raw)
        except decimal.InvalidOperation:
            raise ValueError(f"invalid decimal {raw!r}") from None


class Boolean(Column[bool]):
    """A ``bool`` column: stored as ``'1'`` or ``''``; indexed as tokens."""

    _allowed = (bool,)
    _expected = "a bool"

    def _convert(self, value: object) -> bool:
        return bool(value)

    def to_redis(self, value: bool) -> str:
        return "1" if value else ""

    def from_redis(self, raw: str) -> bool:
        return bool(raw)


def _timestamp(value: object) -> float:
    if isinstance(value, bool):
        raise _Refused("")
    if isinstance(value, (int, float, decimal.Decimal)):
        return _as_float(value)
    text = _number_text(value)
    if text is None:
        raise _Refused("")
    try:
        return float(text)
    except ValueError:
        raise _Refused("strings must be a Unix timestamp") from None


def _naive_utc(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    except OverflowError:
        raise _Refused("in UTC it falls outside years 1..9999") from None


class DateTime(Column[datetime.datetime]):
    """A ``datetime`` column, stored as float seconds since 1970 (UTC).

    Values are naive UTC datetimes: an aware datetime is converted to UTC,
    a naive one is taken as UTC, and numbers are Unix timestamps. With
    ``aware=True`` the values (as assigned and as loaded) are aware UTC
    datetimes instead; what is stored is the same.
    """

    _allowed = (datetime.datetime,)
    _expected = "a datetime"

    def __init__(
        self,
        required: bool = False,
        default: Any = NULL,
        unique: bool = False,
        index: bool = False,
        keygen: Callable[[Any], KeygenResult] | None = None,
        prefix: bool = False,
        suffix: bool = False,
        keygen2: Keygen2 | None = None,
        *,
        aware: bool = False,
    ) -> None:
        self.aware = aware
        super().__init__(
            required, default, unique, index, keygen, prefix, suffix, keygen2
        )

    def _in_zone(self, value: datetime.datetime) -> datetime.datetime:
        return value.replace(tzinfo=datetime.timezone.utc) if self.aware else value

    def _convert(self, value: object) -> datetime.datetime:
        if isinstance(value, datetime.datetime):
            return self._in_zone(_naive_utc(value))
        if isinstance(value, datetime.date):
            raise _Refused("a date has no time; use a Date column or a datetime")
        try:
            return self._in_zone(ts2dt(_timestamp(value)))
        except (OverflowError, ValueError):
            raise _Refused("timestamp out of range") from None

    def to_redis(self, value: datetime.datetime) -> str:
        return repr(dt2ts(value))

    def from_redis(self, raw: str) -> datetime.datetime:
        return self._in_zone(ts2dt(float(raw)))


class SaferDateTime(DateTime):
    """A DateTime that accepts only ``datetime`` objects (no timestamps)."""

    def _convert(self, value: object) -> datetime.datetime:
        if isinstance(value, datetime.datetime):
            return self._in_zone(_naive_utc(value))
        raise _Refused("SaferDateTime takes datetime objects only")


class Date(Column[datetime.date]):
    """A ``date`` column, stored as the float timestamp of its midnight UTC."""

    _allowed = (datetime.date,)
    _expected = "a date"

    def _convert(self, value: object) -> datetime.date:
        if isinstance(value, datetime.datetime):
            return _naive_utc(value).date()
        if isinstance(value, datetime.date):
            return value
        try:
            return ts2dt(_timestamp(value)).date()
        except (OverflowError, ValueError):
            raise _Refused("timestamp out of range") from None

    def to_redis(self, value: datetime.date) -> str:
        return repr(dt2ts(value))

    def from_redis(self, raw: str) -> datetime.date:
        return ts2dt(float(raw)).date()


class Time(Column[datetime.time]):
    """A naive ``time`` column, stored as float seconds since midnight."""

    _allowed = (datetime.time,)
    _expected = "a time"

    def _convert(self, value: object) -> datetime.time:
        if isinstance(value, datetime.time):
            if value.tzinfo is not None:
                raise _Refused("aware times are not supported; drop tzinfo")
            return value
        seconds = _timestamp(value)
        if not 0 <= seconds < 86400:
            raise _Refused("seconds since midnight must be in [0, 86400)")
        return ts2t(seconds)

    def to_redis(self, value: datetime.time) -> str:
        return repr(t2ts(value))

    def from_redis(self, raw: str) -> datetime.time:
        return ts2t(float(raw))


class String(Column[bytes]):
    """A ``bytes`` column; stored latin-1-decoded (so UTF-8 in Redis).

    A ``str`` is accepted when every character is latin-1; use ``Text`` for
    text.
    """

    _allowed = (bytes,)
    _expected = "bytes"

    def _convert(self, value: object) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str):
            try:
                return value.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise _Refused(
                    "this text has characters outside latin-1; use a Text "
                    "column, or encode it to bytes yourself",
                    exc,
                ) from None
        raise _Refused("")

    def to_redis(self, value: bytes) -> str:
        return value.decode("latin-1")

    def from_redis(self, raw: str) -> bytes:
        return raw.encode("latin-1")


class Text(Column[str]):
    """A ``str`` column; bytes are accepted when they are valid UTF-8."""

    _allowed = (str,)
    _expected = "a str"

    def _convert(self, value: object) -> str:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _Refused("it contains unpaired surrogates") from None
            return value
        if isinstance(value, (bytes, bytearray)):
            try:
                return bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise _Refused("bytes that are not UTF-8; use String") from None
        raise _Refused("")


class Json(Column[Any]):
    """A JSON column (dict, list or tuple), stored with sorted keys."""

    _allowed = (dict, list, tuple)
    _expected = "a dict, list or tuple"

    def _convert(self, value: object) -> Any:
        if isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except ValueError:
                raise _Refused("the string is not valid JSON") from None
        if not isinstance(value, (dict, list, tuple)):
            raise _Refused("")
        try:
            json.dumps(value, sort_keys=True)
        except RecursionError:
            raise _Refused(
                "nested too deeply for Python's JSON encoder; flatten it"
            ) from None
        except (TypeError, ValueError) as exc:
            raise _Refused(f"not JSON-serialisable: {exc}") from None
        _check_json_keys(value)
        return value

    def to_redis(self, value: Any) -> str:
        return _json_wire(value)

    def from_redis(self, raw: str) -> Any:
        return json.loads(raw)


# json.dumps(value, sort_keys=True) with one encoder for every call: dumps
# builds a new one a call when given an option (every save encodes each
# JSON column, changed or not, to compare it with the row).
_json_wire = json.JSONEncoder(sort_keys=True).encode


def _check_json_keys(value: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> None:
    # JSON object keys are strings: json.dumps would turn 1, 1.5, True and
    # None into "1", "1.5", "true" and "null", so the value read back (and
    # seen by a keygen after a reload) would differ from the one saved.
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise _Refused(
                        f"JSON object keys must be str, got {type(key).__name__} "
                        f"key {shown(key, 40)}; convert the keys with str() first"
                    )
                pending.append(inner)
        elif isinstance(item, (list, tuple)):
            pending.extend(item)


class PrimaryKey(Column[int]):
    """The integer primary key; ``index=True`` also keeps ``<ns>:<pk>:idx``."""

    _allowed = (int,)
    _expected = "an int"

    def __init__(self, index: bool = False) -> None:
        super().__init__(index=index)

    def _convert(self, value: object) -> int:
        if isinstance(value, bool):
            raise _Refused("")
        if isinstance(value, int):
            return value
        text = _number_text(value)
        if text is not None and text.isdigit():
            return int(text)
        raise _Refused("")

    def from_redis(self, raw: str) -> int:
        return int(raw)

    def __get__(self, instance: object | None, owner: type) -> Any:
        if instance is None:
            return self
        # Ids are allocated lazily: reading the key of a new entity takes one.
        return instance._primary_key()  # type: ignore[attr-defined]


class IndexOnly(Column[None]):
    """An index computed from other columns; it stores no value of its own.

    Give ``column`` and ``keygen`` (index another column's value a second
    way) or ``keygen2`` (index anything derived from the whole entity).
    """

    _typeless = True
    _expected = "no value (IndexOnly columns cannot be assigned)"

    def __init__(
        self,
        column: str | None = None,
        keygen: Callable[[Any], KeygenResult] | None = None,
        prefix: bool = False,
        suffix: bool = False,
        keygen2: Keygen2 | None = None,
        index: bool = False,
        unique: bool = False,
    ) -> None:
        if not ((column and keygen) or keygen2):
            raise ValueError("IndexOnly needs either column= and keygen=, or keygen2=")
        self.source_column = column
        index = index or prefix or suffix or not unique
        if keygen2 is None and keygen is not None and column is not None:
            source, one_arg = column, keygen

            def from_column(attr: str, data: Mapping[str, Any]) -> KeygenResult:
                return one_arg(data.get(source))

            # Keep the keygen's name so queries lowercase values like it does.
            from_column.__name__ = getattr(keygen, "__name__", "<lambda>")
            keygen2 = from_column
        super().__init__(
            index=index, prefix=prefix, suffix=suffix, keygen2=keygen2, unique=unique
        )

    def _convert(self, value: object) -> None:
        raise _Refused("")


_RELATION_NAMES = frozenset(
    {
        "ForeignModel",
        "ManyToOne",
        "NO_ACTION_DEFAULT",
        "ON_DELETE",
        "OneToMany",
        "OneToOne",
        "SKIP_ON_DELETE",
    }
)


def __getattr__(name: str) -> Any:
    # rom 1.1.2 kept relationship columns and the session in rom.columns.
    # They live in rom.relations and rom.session now, which import this
    # module, so the old names resolve on first use (PEP 562).
    if name in _RELATION_NAMES:
        return getattr(importlib.import_module("rom.relations"), name)
    if name == "session":
        return importlib.import_module("rom.session").session
    raise AttributeError(f"module 'rom.columns' has no attribute {name!r}")
