"""Turning a row read from Redis into an entity's state, cheaply.

Every read (``get``, ``get_by``, queries, prefetch, maintenance) builds
entities from rows, so this is rom's hottest loop. A :class:`RowLoader` is
built once per model: a tuple of ``(field, converter)`` pairs for its stored
columns, where a column whose ``from_redis`` is a plain conversion (text,
``int``, ``float``, ``bool``, JSON) is converted by that builtin directly,
without a Python call through the column.

The fast loop handles the common row: every stored field present and every
value convertible. Anything else (a missing field, a value that does not
convert) is redone by :meth:`RowLoader.checked`, the column-by-column path,
which gives defaults to missing columns and raises the column's own error
naming the model, the column and the value. So a row gives the same state,
and a bad row the same error, either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from ._meta import ModelInfo
from ._state import EntityState
from .columns import Boolean
from .columns import Column
from .columns import Float
from .columns import Integer
from .columns import Json
from .columns import PrimaryKey
from .exceptions import InvalidColumnValue

__all__ = ["RowLoader"]

# The errors a converter raises for a value it cannot convert (what
# Column.load turns into InvalidColumnValue).
_CONVERSION_ERRORS = (ValueError, TypeError, ArithmeticError, RecursionError)

_scan_json = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json(raw: str) -> Any:
    # json.loads without its three Python frames: rom writes JSON with no
    # surrounding whitespace, so one scan reads it. Anything else (leading
    # or trailing text, a BOM) goes to json.loads, which decides.
    try:
        value, end = _scan_json(raw, 0)
    except StopIteration:
        return json.loads(raw)
    if end != len(raw):
        return json.loads(raw)
    return value


# Columns whose from_redis is exactly one of these conversions (None: the
# wire text is the value). A subclass overriding from_redis is called
# through its column.
_PLAIN: dict[Any, Callable[[str], Any] | None] = {
    Column.from_redis: None,
    Integer.from_redis: int,
    PrimaryKey.from_redis: int,
    Float.from_redis: float,
    Boolean.from_redis: bool,
    Json.from_redis: _json,
}


def _converter(col: Column[Any]) -> Callable[[str], Any] | None:
    method = type(col).from_redis
    if method in _PLAIN:
        return _PLAIN[method]
    return col.from_redis


class RowLoader:
    """Builds the :class:`EntityState` of rows of one model."""

    __slots__ = ("index_only", "info", "steps")

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.steps = tuple((col.attr, _converter(col)) for col in info.stored)
        self.index_only = dict.fromkeys(info.index_only)

    def state(self, row: Mapping[str, str]) -> EntityState:
        """The state of an entity loaded from ``row`` (field -> wire text).

        Raises:
            InvalidColumnValue: the row has no id, or a stored value does not
                convert (naming the column and the value).
        """
        data: dict[str, Any] = {}
        last: dict[str, str] = {}
        try:
            for attr, convert in self.steps:
                raw = row[attr]
                data[attr] = raw if convert is None else convert(raw)
                last[attr] = raw
        except (KeyError, *_CONVERSION_ERRORS):
            return self.checked(row)
        if self.index_only:
            data.update(self.index_only)
        return EntityState(data, last, new=False, modified=False)

    def checked(self, row: Mapping[str, str]) -> EntityState:
        """:meth:`state` column by column: defaults, and each column's error."""
        info = self.info
        if row.get(info.pk) is None:
            raise InvalidColumnValue(
                f"Cannot set none primary key on object loading: the {info.name} "
                f"row has no {info.pk!r} field",
                info.name,
                info.pk,
            )
        data: dict[str, Any] = {}
        last: dict[str, str] = {}
        for col in info.stored:
            attr = col.attr
            raw = row.get(attr)
            if raw is None:
                data[attr] = col.validate(col.default_value())
                continue
            try:
                data[attr] = col.from_redis(raw)
            except _CONVERSION_ERRORS:
                data[attr] = col.load(raw)  # raises, naming the column
            last[attr] = raw
        for name in info.index_only:
            data[name] = None
        return EntityState(data, last, new=False, modified=False)
