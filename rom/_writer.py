"""Plan an entity write or delete (pure), as the Lua writer and the WATCH path apply it.

``plan_save`` and ``plan_delete`` only compute: they validate every value and
every index entry in Python first, so the server-side step that applies a
plan cannot fail half-way. ``_persist`` sends the plans, to ``write_entity.lua``
or to ``_watch_writer.apply_plans``.
"""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from ._meta import SORTABLE_STRING_KEYGENS
from ._meta import ModelInfo
from .columns import Column
from .columns import IndexOnly
from .columns import PrimaryKey
from .exceptions import ColumnError
from .exceptions import InvalidColumnValue
from .keygen import affix_score
from .keygen import encode_unique_constraint
from .keygen import numeric_score
from .keygen import reverse_token

__all__ = ["AttrDict", "IndexEntries", "WritePlan", "plan_delete", "plan_save"]

_GEO_LAT_LIMIT = 85.05112878


class AttrDict(dict[str, Any]):
    """A dict whose keys also read as attributes (missing ones read None)."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


@dataclass(slots=True)
class IndexEntries:
    """Every index entry of one entity: rom's 5-slot ``-index-data-`` record."""

    tokens: list[str] = field(default_factory=list)
    scored: list[tuple[str, str | None]] = field(default_factory=list)
    prefix: list[tuple[str, str, str]] = field(default_factory=list)
    suffix: list[tuple[str, str, str]] = field(default_factory=list)
    geo: list[tuple[str, str, str]] = field(default_factory=list)

    def record(self) -> str:
        """The JSON record stored in ``-index-data-`` (empty slots as ``{}``)."""
        slots: list[list[Any]] = [
            self.tokens,
            [name for name, _ in self.scored],
            [[attr, tok] for attr, tok, _ in self.prefix],
            [[attr, rev] for attr, rev, _ in self.suffix],
            [name for name, _, _ in self.geo],
        ]
        # An empty slot is written as {} (what rom 1.1.2's cjson writes).
        return _compact([slot if slot else _EMPTY_SLOT for slot in slots])


_EMPTY_SLOT: dict[str, Any] = {}
# One encoder for every plan: json.dumps() with options builds a new one a call.
# Plans hold no cycles, so the encoder need not look for them.
_compact = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
).encode


@dataclass(slots=True)
class WritePlan:
    """One entity's write or delete, in the shape ``write_entity.lua`` takes.

    ``id`` is None for a new entity whose id the script allocates.
    """

    namespace: str
    pk: str
    id: str | None
    delete: bool = False
    # (field, expected value); None expects the field to be absent.
    race: list[tuple[str, str | None]] = field(default_factory=list)
    unique: list[tuple[str, str]] = field(default_factory=list)
    unique_del: list[tuple[str, str]] = field(default_factory=list)
    hdel: list[str] = field(default_factory=list)
    hset: list[str] = field(default_factory=list)
    entries: IndexEntries = field(default_factory=IndexEntries)
    unsafe: list[str] = field(default_factory=list)
    # Delete only: unique entries recomputed from the row's current fields.
    unique_fields: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    # Rewrite every index entry; without it the writer leaves in place the
    # entries the stored record shares with this plan (a plain save).
    reindex: bool = True
    # Bookkeeping for the caller, not sent: the row's fields after the write.
    new_last: dict[str, str] = field(default_factory=dict)
    changes: int = 0

    def to_args(self) -> list[str]:
        """The plan as ``write_entity.lua`` takes it: JSON, then the record.

        The record travels as its own argument: nested in the JSON it would
        be escaped, and decoded by the script for nothing.
        """
        return [self.to_json(), "" if self.delete else self.entries.record()]

    def to_json(self) -> str:
        """Serialise the plan, but its record, for the Lua writer."""
        e = self.entries
        body = {
            "ns": self.namespace,
            "pk": self.pk,
            "id": self.id if self.id is not None else False,
            "delete": self.delete,
            "race": [[f, v if v is not None else False] for f, v in self.race],
            "unique": self.unique,
            "unique_del": self.unique_del,
            "hdel": self.hdel,
            "hset": self.hset,
            "tokens": e.tokens,
            "scored": [[k, s if s is not None else False] for k, s in e.scored],
            "prefix": e.prefix,
            "suffix": e.suffix,
            "geo": e.geo,
            "unsafe": self.unsafe,
            "unique_fields": [[name, list(f)] for name, f in self.unique_fields],
            "reindex": self.reindex,
        }
        return _compact(body)


# -- saving ---------------------------------------------------------------


def plan_save(
    info: ModelInfo,
    data: Mapping[str, Any],
    last: Mapping[str, str],
    id: int | None,
    *,
    new: bool,
    full: bool = False,
    force: bool = False,
) -> WritePlan:
    """Plan saving an entity whose values are ``data`` and Redis row ``last``.

    A save is full (every field rewritten) when asked, for a new entity and
    with ``force``; ``force`` also skips the check that nobody else changed
    the row. Index entries are always recomputed from scratch; a full save
    also has the writer rewrite them all (``reindex``), which repairs lost
    entries, where a plain one only writes what changed.
    """
    ignore_last = new or force
    full = full or ignore_last
    plan = WritePlan(info.namespace, info.pk, None if id is None else str(id))
    plan.reindex = full
    plan.new_last = {} if ignore_last else dict(last)
    for col in info.stored:
        _plan_field(plan, col, data, {} if ignore_last else last, full)
    plan.changes += _unstored_changes(info, full)
    if force and not new:
        # A forced save rewrites the row as it is in memory: drop stale fields.
        plan.hdel += [
            col.attr
            for col in info.stored
            if col.attr in last and _wire(col, data) is None
        ]
    if not ignore_last:
        assert plan.id is not None
        checked = {f for f, _ in plan.race}
        plan.race += [(a, last.get(a)) for a in info.guarded if a not in checked]
        plan.race.insert(0, (info.pk, plan.id))
    plan.entries = plan_index(info, data)
    plan.unique = unique_values(info, data, lambda col: _wire(col, data))
    plan.unique_del = _unique_deletions(info, last, plan.unique)
    return plan


def _plan_field(
    plan: WritePlan,
    col: Column[Any],
    data: Mapping[str, Any],
    last: Mapping[str, str],
    full: bool,
) -> None:
    attr = col.attr
    wire = plan.id if isinstance(col, PrimaryKey) else _wire(col, data)
    old = last.get(attr)
    if not full and wire == old:
        return
    plan.changes += 1
    if wire is None:
        if old is not None:
            plan.hdel.append(attr)
            plan.new_last.pop(attr, None)
        return
    plan.hset += [attr, wire]
    plan.new_last[attr] = wire
    if old is not None and not isinstance(col, PrimaryKey):
        plan.race.append((attr, old))


def _unstored_changes(info: ModelInfo, full: bool) -> int:
    # rom counts IndexOnly and OneToMany columns of a full save as changed.
    return info.counted - len(info.stored) if full else 0


def _wire(col: Column[Any], data: Mapping[str, Any]) -> str | None:
    value = data.get(col.attr)
    return None if value is None else col.to_redis(value)


# -- index entries --------------------------------------------------------


def plan_index(info: ModelInfo, data: Mapping[str, Any]) -> IndexEntries:
    """Every index entry the entity's values produce."""
    entries = IndexEntries()
    for col in info.indexed:
        # Checked before the None test: a new entity's id is None until the
        # script allocates it, and its <ns>:<pk>:idx entry is still due.
        if isinstance(col, PrimaryKey):
            entries.scored.append((col.attr, None))  # the script fills the id
            continue
        if data.get(col.attr) is None and not isinstance(col, IndexOnly):
            continue
        assert col.keygen is not None
        _add_keygen_output(entries, info, col, col.keygen(col.attr, data), data)
    for geo in info.geo.values():
        point = geo.callback(AttrDict(data))
        if point is not None:
            entries.geo.append(_geo_entry(info.name, geo.name, point))
    return entries


def _add_keygen_output(
    entries: IndexEntries,
    info: ModelInfo,
    col: Column[Any],
    output: Any,
    data: Mapping[str, Any],
) -> None:
    attr = col.attr
    if not output:
        return
    if isinstance(output, dict):
        _add_scored(entries, info, col, output)
        if col.prefix or col.suffix:
            value = data.get(attr)
            text = _sortable_text(col, value)
            if text is not None:
                _add_affixes(entries, col, [text], raw=isinstance(value, bytes))
        return
    if not isinstance(output, (list, tuple, set, frozenset)):
        raise ColumnError(
            f"{info.name}.{attr}: Don't know how to turn {output!r} into a "
            "sequence of keys; a keygen returns a list/set of tokens or a dict"
        )
    tokens = sorted({_token_text(info.name, attr, t) for t in output})
    # SPEC 6.4: every token gets its SET, prefix/suffix entries come on top;
    # a prefix- or suffix-only column (e.g. Integer(prefix=True)) too.
    entries.tokens += [f"{attr}:{t}" for t in tokens]
    _add_affixes(entries, col, tokens)


def _add_scored(
    entries: IndexEntries, info: ModelInfo, col: Column[Any], output: dict[Any, Any]
) -> None:
    for key, score in output.items():
        key = _token_text(info.name, col.attr, key)
        name = f"{col.attr}:{key}" if key else col.attr
        if score is None or score == "":
            entries.tokens.append(name)
        else:
            entries.scored.append((name, _score_text(info.name, name, score)))


def _score_text(model: str, name: str, score: Any) -> str:
    if isinstance(score, bool):
        score = int(score)
    if isinstance(score, (int, float, decimal.Decimal)):
        text = numeric_score(score)
    else:
        text = str(score).strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise ColumnError(
            f"{model}.{name}: index score {score!r} is not a number; a keygen "
            "must give numeric scores (NaN is not allowed)"
        )
    # Redis refuses text that over- or underflows a double ('1e400',
    # '1e-400'): send the double it rounds to, as numeric_score does.
    if math.isinf(value) and "inf" not in text.lower():
        return repr(value)
    if value == 0 and any(d in "123456789" for d in text.lower().split("e")[0]):
        return "0.0"
    return text


def _token_text(model: str, attr: str, token: Any) -> str:
    if isinstance(token, str):
        return token
    if isinstance(token, bytes):
        try:
            return token.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidColumnValue(
                f"{model}.{attr}: index token {token!r} is not UTF-8; identity "
                "keygens on String columns need UTF-8 bytes",
                model,
                attr,
                token,
            ) from None
    return repr(token) if isinstance(token, float) else str(token)


def _sortable_text(col: Column[Any], value: Any) -> str | None:
    # Only the SIMPLE keygens say which text they sort by: the value itself.
    if col._keygen_name not in SORTABLE_STRING_KEYGENS or value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return text if col._keygen_name == "SIMPLE" else text.lower()


def _add_affixes(
    entries: IndexEntries,
    col: Column[Any],
    tokens: Iterable[str],
    *,
    raw: bool = False,
) -> None:
    # ``raw``: the tokens are bytes values decoded as latin-1 (a SIMPLE* index
    # of a String column); as in rom 1.1.2 their prefix and suffix scores
    # come from those bytes, not from the UTF-8 of the stored text.
    for token in tokens:
        if col.prefix:
            entries.prefix.append((col.attr, token, affix_score(token, raw)))
        if col.suffix:
            rev = str(reverse_token(token))
            entries.suffix.append((col.attr, rev, affix_score(rev, raw)))


def _geo_entry(model: str, name: str, point: Any) -> tuple[str, str, str]:
    try:
        if isinstance(point, Mapping):
            lon, lat = float(point["lon"]), float(point["lat"])
        else:
            lon, lat = (float(v) for v in point)
    except (KeyError, TypeError, ValueError):
        raise ColumnError(
            f"{model} geo index {name!r}: the callback must return (lon, lat), "
            f"{{'lon': .., 'lat': ..}} or None, got {point!r}"
        ) from None
    if not (-180 <= lon <= 180 and -_GEO_LAT_LIMIT <= lat <= _GEO_LAT_LIMIT):
        raise ColumnError(
            f"{model} geo index {name!r}: ({lon}, {lat}) is outside the range "
            f"Redis can index (lon -180..180, lat ±{_GEO_LAT_LIMIT})"
        )
    return (name, repr(lon), repr(lat))


# -- uniqueness -----------------------------------------------------------


def unique_values(
    info: ModelInfo, data: Mapping[str, Any], wire: Any
) -> list[tuple[str, str]]:
    """The ``(column, value)`` unique entries of an entity.

    ``wire(col)`` gives a column's wire string; ``data`` its Python values.
    """
    found: list[tuple[str, str]] = []
    for col in info.unique:
        value = _unique_value(info, col, data, wire(col))
        if value is not None:
            found.append((col.attr, value))
    for group in info.unique_together:
        cols = [info.columns[name] for name in group]
        wires = [wire(col) for col in cols]
        if all(w is not None for w in wires):
            found.append((":".join(group), encode_unique_constraint(wires)))
    return found


def _unique_value(
    info: ModelInfo, col: Column[Any], data: Mapping[str, Any], wire: str | None
) -> str | None:
    if col.keygen is None or col.index:
        return wire
    if data.get(col.attr) is None and not isinstance(col, IndexOnly):
        return None
    output = col.keygen(col.attr, data)
    if isinstance(output, (set, frozenset)):
        output = sorted(output, key=str)
    if not isinstance(output, (list, tuple)):
        raise ColumnError(
            f"{info.name}.{col.attr}: a unique keygen must return a list, tuple "
            f"or set, got {type(output).__name__}"
        )
    if output:
        return _token_text(info.name, col.attr, output[0])
    return wire


def _unique_deletions(
    info: ModelInfo, last: Mapping[str, str], current: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    if not last or not (info.unique or info.unique_together):
        return []
    values = decode_last(info, last) if _keygen_unique(info) else {}
    old = unique_values(info, values, lambda col: last.get(col.attr))
    keep = set(current)
    return [entry for entry in old if entry not in keep]


def _keygen_unique(info: ModelInfo) -> bool:
    # Only a unique keygen reads Python values; other unique entries are
    # wire strings, so a row need not be decoded (a JSON column, say) for them.
    return any(col.keygen is not None and not col.index for col in info.unique)


def decode_last(info: ModelInfo, last: Mapping[str, str]) -> dict[str, Any]:
    """The Python values of a row's stored fields (for old unique values)."""
    values: dict[str, Any] = {}
    for col in info.stored:
        raw = last.get(col.attr)
        if raw is not None:
            try:
                values[col.attr] = col.from_redis(raw)
            except (ValueError, TypeError, ArithmeticError):
                values[col.attr] = None
    return values


# -- deleting -------------------------------------------------------------


def plan_delete(
    info: ModelInfo, data: Mapping[str, Any], last: Mapping[str, str], id: int
) -> WritePlan:
    """Plan deleting an entity: its row, unique entries and index entries."""
    plan = WritePlan(info.namespace, info.pk, str(id), delete=True)
    values = decode_last(info, last) if _keygen_unique(info) else {}
    stored = unique_values(info, values, lambda c: last.get(c.attr))
    current = unique_values(info, data, lambda col: _wire(col, data))
    plan.unique_del = list(dict.fromkeys(stored + current))
    plan.unique_fields = list(info.plain_unique)
    plan.unsafe = list(info.unsafe)
    return plan
