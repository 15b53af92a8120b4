"""Turning a row read from Redis into an entity's state, cheaply.

Every read (``get``, ``get_by``, queries, prefetch, maintenance) builds
entities from rows, so this is rom's hottest loop. A :class:`RowLoader` is
built once per model: a tuple of ``(field, converter)`` pairs for its stored
columns, where a column whose ``from_redis`` is a plain conversion (text,
``int``, ``float``, ``bool``, JSON) is converted by that builtin directly,
without a Python call through the column.

The compiled loader handles the common row: every stored field present and every
value convertible. Anything else (a missing field, a value that does not
convert) is redone by :meth:`RowLoader.checked`, the column-by-column path,
which gives defaults to missing columns and raises the column's own error
naming the model, the column and the value. So a row gives the same state,
and a bad row the same error, either way.

``get`` and queries read rows as dicts of bytes (HGETALL replies, or a
script's ``[id, field, value, ...]`` paired up); ``RowLoader.from_reply``
builds the entity from those bytes directly, decoding each stored field as
it reads it, and hands any other reply to ``decode_row`` and the path
above.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from ._meta import ModelInfo
from ._replies import decode_row
from ._replies import known_fields
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
    # Stands for json.loads in the table below; the compiled loader scans
    # the text itself (see RowLoader._compile).
    return json.loads(raw)


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

    __slots__ = ("entity", "from_reply", "info", "state")

    def __init__(self, info: ModelInfo, model: type[Any]) -> None:
        self.info = info
        known_fields(col.attr for col in info.stored)
        #: The state of an entity loaded from ``row`` (field -> wire text).
        #: Raises InvalidColumnValue when the row has no id or a stored
        #: value does not convert (naming the column and the value). A
        #: second argument (where the row was read) is taken and unused,
        #: so that it is called as ``from_reply`` is.
        self.state: Callable[..., EntityState] = self._compile()
        #: A new ``model`` entity (made without ``__init__``) holding
        #: ``state(row)``: the same code, in one Python call per row.
        self.entity: Callable[..., Any] = self._compile(model)
        #: ``entity`` of an HGETALL reply of bytes (``row key``'s), decoded
        #: as it is read: the common row (every stored field and no other,
        #: every one UTF-8 and convertible) with no decoded row in between;
        #: any other goes through ``decode_row`` and ``entity``, which give
        #: its defaults or raise its error.
        self.from_reply: Callable[[Mapping[Any, Any], str], Any] = self._compile_reply(
            model
        )

    def _compile(self, model: type[Any] | None = None) -> Callable[..., Any]:
        # One function per model, with the columns unrolled: each field is
        # read, converted by a builtin (or the column) and put into two
        # dict displays, with no loop and no Python call per column. JSON
        # is scanned in place: text around the value (which rom never
        # writes) sends the row to checked(), which uses json.loads.
        env: dict[str, Any] = {
            "checked": self.checked,
            "new": object.__new__,
            "State": EntityState,
            "scan": _scan_json,
            "Unconvertible": (KeyError, StopIteration, *_CONVERSION_ERRORS),
            "model": model,
            "make": None if model is None else model.__new__,
        }
        body, values, wires = self._columns(env, lambda attr: f"row[{attr!r}]")
        lines = [
            "def state(row, where=None):",  # where: as from_reply's, unused
            "    try:",
            *(f"        {line}" for line in body),
            f"        data = {{{', '.join(values)}}}",
            "    except Unconvertible:",
            "        state = checked(row)",
            "    else:",
            "        state = new(State)",
            "        state.data = data",
            f"        state.last = {{{', '.join(wires)}}}",
            "        state.new = state.modified = state.deleted = False",
        ]
        if model is None:
            lines.append("    return state")
        else:  # the entity, its one slot set (as _from_row did)
            lines += [
                "    entity = make(model)",
                "    entity._rom_state = state",
                "    return entity",
            ]
        exec("\n".join(lines), env)
        built: Callable[..., Any] = env["state"]
        return built

    def _columns(
        self, env: dict[str, Any], read: Callable[[str], str]
    ) -> tuple[list[str], list[str], list[str]]:
        # The unrolled columns of a compiled loader: the lines reading and
        # converting each stored field (``read(attr)``: the expression of
        # its wire text), and the items of the data and last dict displays.
        # Converters go into ``env``.
        body, values, wires = [], [], []
        for i, col in enumerate(self.info.stored):
            convert = _converter(col)
            body.append(f"r{i} = {read(col.attr)}")
            if convert is None:
                value = f"r{i}"
            elif convert is _json:
                body.append(f"v{i}, end = scan(r{i}, 0)")
                body.append(f"if end != len(r{i}): raise ValueError")
                value = f"v{i}"
            else:
                env[f"c{i}"] = convert
                value = f"c{i}(r{i})"
            values.append(f"{col.attr!r}: {value}")
            wires.append(f"{col.attr!r}: r{i}")
        values += [f"{name!r}: None" for name in self.info.index_only]
        return body, values, wires

    def _compile_reply(
        self, model: type[Any]
    ) -> Callable[[Mapping[Any, Any], str], Any]:
        # _compile's function, reading bytes fields: a reply that is not a
        # dict of bytes holding exactly the stored fields and maybe the
        # index record (a str field of a client that decodes replies, a
        # missing or extra field, bytes that are not UTF-8) or a value that
        # does not convert is redone by slow(), the decoded row's path,
        # which raises its error.
        entity = self.entity

        def slow(raw: Mapping[Any, Any], key: str) -> Any:
            return entity(decode_row(raw, key))

        env: dict[str, Any] = {
            "slow": slow,
            "new": object.__new__,
            "State": EntityState,
            "scan": _scan_json,
            "Unconvertible": (
                KeyError,
                AttributeError,
                StopIteration,
                *_CONVERSION_ERRORS,
            ),
            "model": model,
            "make": model.__new__,
        }
        body, values, wires = self._columns(
            env, lambda attr: f"raw[{attr.encode()!r}].decode()"
        )
        lines = [
            "def from_reply(raw, key):",
            "    try:",
            # Besides the stored fields, the row may hold its index record.
            f"        if len(raw) != {len(self.info.stored)}:",
            f"            if len(raw) != {len(self.info.stored) + 1}: raise KeyError",
            "            raw[b'-index-data-'].decode()",
            *(f"        {line}" for line in body),
            f"        data = {{{', '.join(values)}}}",
            "    except Unconvertible:",
            "        return slow(raw, key)",
            "    state = new(State)",
            "    state.data = data",
            f"    state.last = {{{', '.join(wires)}}}",
            "    state.new = state.modified = state.deleted = False",
            "    entity = make(model)",
            "    entity._rom_state = state",
            "    return entity",
        ]
        exec("\n".join(lines), env)
        built: Callable[[Mapping[Any, Any], str], Any] = env["from_reply"]
        return built

    def checked(self, row: Mapping[str, str]) -> EntityState:
        """``state`` column by column: defaults, and each column's error."""
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
