"""Plan an entity write or delete (pure), as the Lua writer and the WATCH path apply it.

``plan_save`` and ``plan_delete`` only compute: they validate every value and
every index entry in Python first, so the server-side step that applies a
plan cannot fail half-way. ``_persist`` sends the plans, to ``write_entity.lua``
or to ``_watch_writer.apply_plans``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from ._keys import KeySpace
from ._meta import SORTABLE_STRING_KEYGENS
from ._meta import ModelInfo
from ._redis_rules import MAX_STRING_BYTES
from ._redis_rules import geo_points
from ._redis_rules import score_text
from ._redis_rules import shown
from .columns import Column
from .columns import IndexOnly
from .columns import PrimaryKey
from .exceptions import ColumnError
from .exceptions import InvalidColumnValue
from .keygen import affix_score
from .keygen import encode_unique_constraint
from .keygen import numeric_score
from .keygen import reverse_token

__all__ = [
    "AttrDict",
    "IndexEntries",
    "WritePlan",
    "from_stored_row",
    "key_table",
    "plan_delete",
    "plan_save",
    "write_args",
]


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
    # Delete and forced save: unique entries the writer recomputes from the
    # row's current fields (and removes, unless this plan writes them).
    unique_fields: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    # Delete and forced save of a model whose unique entries are computed
    # in Python (a unique keygen, IndexOnly): those of the row as stored are
    # removed too. The caller reads the row and completes the plan with
    # ``from_stored_row``; the writer applies it only if the row is still
    # as read (``row_check``), and answers {"error": "moved"} otherwise.
    reads_row: bool = False
    row_check: list[tuple[str, str | None]] = field(default_factory=list)
    unique_stored: list[tuple[str, str]] = field(default_factory=list)
    # Rewrite every index entry; without it the writer leaves in place the
    # entries the stored record shares with this plan (a plain save).
    reindex: bool = True
    # Bookkeeping for the caller, not sent: the row's fields after the write.
    new_last: dict[str, str] = field(default_factory=dict)
    changes: int = 0
    # The model's key names (its KeySpace); built from namespace and pk
    # when not given.
    keys: KeySpace | None = None
    # An expiring model's plan (rom/_expiry.py): what the save does to the
    # entity's expiry ("keep", "persist", [kind, ms]; None for a delete or a
    # model without _ttl), and the expiry part of its key table.
    expiry: Any = None
    expiry_keys: dict[str, object] | None = None
    # A partitioned model's unique values live in the partitions the values
    # hash to, not in the entity's (rom/_claims.py): the plan carries no
    # unique entries for the writer, but the (column(s), value) pairs to
    # claim before the write and to drop after it (old values), and once
    # claimed the fence: Unix ms (server clock) after which the writer
    # refuses the plan. ``tokens``: the claims made, not sent.
    claims: list[tuple[str, str]] = field(default_factory=list)
    releases: list[tuple[str, str]] = field(default_factory=list)
    fence: int | None = None
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def keyspace(self) -> KeySpace:
        """The KeySpace naming every key this plan writes."""
        if self.keys is None:
            self.keys = KeySpace(self.namespace, self.pk)
        return self.keys

    def to_args(self) -> list[str]:
        """The plan as ``write_entity.lua`` takes it: JSON, then the record.

        The record travels as its own argument: nested in the JSON it would
        be escaped, and decoded by the script for nothing.
        """
        return [self.to_json(), "" if self.delete else self.entries.record()]

    def to_json(self) -> str:
        """Serialise the plan, but its record, for the Lua writer.

        ``ns`` names the plan's entry in the call's ``key_table``; the
        UnsafeColumn keys a delete removes go as full key names. Only what
        the plan has is sent: an empty list, a false flag and a missing id
        are left out (the script reads them as empty, false, none), and the
        tokens and affix names only in the record, so an update's JSON,
        which the script decodes on every call, is short.
        """
        e = self.entries
        body: dict[str, Any] = {"ns": self.namespace, "pk": self.pk}
        if self.id is not None:
            body["id"] = self.id
        if self.delete:
            body["delete"] = True
        if self.reindex:
            body["reindex"] = True
        # Pairs go flat (field, value, field, value...): cjson's cost is
        # mostly the tables it builds, one per nested list.
        if self.race:
            body["race"] = _flat(self.race)
        for name, value in (
            ("unique", self.unique),
            ("unique_del", self.unique_del),
            ("hdel", self.hdel),
            ("hset", self.hset),
            ("geo", e.geo),
            ("unique_stored", self.unique_stored),
        ):
            if value:
                body[name] = value
        # The tokens and the prefix and suffix names are in the record (its
        # slots 1, 3 and 4, same order), which the script decodes only
        # when it needs them: here only the affixes' scores. A plain save
        # sends each list as one string (space-separated repr()s of floats,
        # keygen affix_score), which costs cjson much less than a list and
        # which the script splits only if the record changed; a plan that
        # always writes its entries (new, full, delete) sends lists.
        if e.prefix:
            body["prefix"] = self._scores(e.prefix)
        if e.suffix:
            body["suffix"] = self._scores(e.suffix)
        if e.scored:
            body["scored"] = _flat(e.scored)
        if self.unsafe:
            body["unsafe"] = [self.keyspace.unsafe(self.id, a) for a in self.unsafe]
        if self.unique_fields:
            body["unique_fields"] = [[n, list(f)] for n, f in self.unique_fields]
        if self.row_check:
            body["row_check"] = [
                [f, False if v is None else v] for f, v in self.row_check
            ]
        if self.expiry is not None:
            body["x"] = self.expiry
        if self.fence is not None:
            body["fence"] = self.fence
        return _compact(body)

    def _scores(self, affixes: list[tuple[str, str, str]]) -> str | list[str]:
        scores = [score for _, _, score in affixes]
        if self.reindex or self.delete or self.id is None:
            return scores
        return " ".join(scores)

    def give_id(self, id: int) -> None:
        """Set the id of a new entity's plan made without one (the script
        would have allocated it): the row gets its primary key field."""
        self.id = str(id)
        self.hset += [self.pk, self.id]
        self.new_last[self.pk] = self.id


def _flat(pairs: list[tuple[str, str | None]]) -> list[str | bool]:
    # (name, value) pairs as name, value, name, ...; a None value (JSON null,
    # which the script cannot keep in a list) as false.
    flat: list[str | bool | None] = [x for pair in pairs for x in pair]
    if None in flat:
        return [False if x is None else x for x in flat]
    return flat  # type: ignore[return-value]


def key_table(plans: Iterable[WritePlan]) -> str:
    """The key table ``write_entity.lua`` gets with ``plans`` (its ARGV[2]):
    per namespace, ``KeySpace.script_keys`` (templates and key names).

    Sent once per call rather than in every plan, so plans stay small.
    """
    table: dict[str, str] = {}
    for plan in plans:
        if plan.namespace not in table:
            table[plan.namespace] = _table_entry(plan.keyspace, plan.expiry_keys)
    return "{" + ",".join(f"{_compact(ns)}:{e}" for ns, e in table.items()) + "}"


def _table_entry(keys: KeySpace, expiry: dict[str, object] | None) -> str:
    # A model's entry never changes: encoded once (per expiry key set).
    if expiry is None:
        return _plain_entry(keys)
    return _compact({**keys.script_keys(), "x": expiry})


@functools.cache
def _plain_entry(keys: KeySpace) -> str:
    return _compact(keys.script_keys())


def write_args(plans: Iterable[WritePlan]) -> list[str]:
    """The ARGV of ``write_entity.lua`` after the TTL: the key table, then
    two per plan (``WritePlan.to_args``)."""
    plans = list(plans)
    return [key_table(plans), *(a for plan in plans for a in plan.to_args())]


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
    # Tagged on a cluster, looked up once; a partition's for a partitioned model.
    keys = info.new_keys() if id is None else info.keys_for(id)
    plan = WritePlan(keys.namespace, info.pk, None if id is None else str(id))
    plan.keys = keys
    plan.reindex = full
    plan.new_last = {} if ignore_last else dict(last)
    row = {} if ignore_last else last
    for col in info.stored:
        # Inline: every stored column is compared, few are written.
        attr = col.attr
        if isinstance(col, PrimaryKey):
            wire = plan.id
        else:
            value = data.get(attr)
            wire = None if value is None else col.to_redis(value)
        if full or wire != row.get(attr):
            _plan_field(plan, col, wire, row.get(attr), data)
    plan.changes += _unstored_changes(info, full)
    if force and not new:
        # A forced save rewrites the row as it is in memory: drop every field
        # it has no value for (another writer may have set one), and the
        # unique entries of the row as stored that it does not write again.
        plan.hdel += [col.attr for col in info.stored if _wire(col, data) is None]
        plan.unique_fields = list(info.plain_unique)
        plan.reads_row = bool(_derived_unique(info))
    if not ignore_last:
        assert plan.id is not None
        checked = {f for f, _ in plan.race}
        plan.race += [(a, last.get(a)) for a in info.guarded if a not in checked]
        plan.race.insert(0, (info.pk, plan.id))
    plan.entries = plan_index(info, data)
    plan.unique = unique_values(info, data, lambda col: _wire(col, data))
    plan.unique_del = _unique_deletions(info, last, plan.unique)
    if info.partitions:
        # A full save claims every value again, as it rewrites every entry
        # (which repairs a lost one); a plain save claims only new values.
        old = set() if full else set(_old_unique(info, last))
        plan.claims = [entry for entry in plan.unique if entry not in old]
        plan.releases = plan.unique_del
        _no_local_unique(plan)
    return plan


def _old_unique(info: ModelInfo, last: Mapping[str, str]) -> list[tuple[str, str]]:
    if not last or not (info.unique or info.unique_together):
        return []
    values = decode_last(info, last) if _keygen_unique(info) else {}
    return unique_values(info, values, lambda col: last.get(col.attr))


def _no_local_unique(plan: WritePlan) -> None:
    # A partitioned model's unique entries are not in the entity's slot:
    # the writer gets none of them (rom/_claims.py handles them).
    plan.unique, plan.unique_del, plan.unique_fields = [], [], []
    plan.unique_stored, plan.reads_row = [], False


def _plan_field(
    plan: WritePlan,
    col: Column[Any],
    wire: str | None,
    old: str | None,
    data: Mapping[str, Any],
) -> None:
    # A column written: its wire value ``wire``, the row's ``old``.
    attr = col.attr
    plan.changes += 1
    if wire is None:
        if old is not None:
            plan.hdel.append(attr)
            plan.new_last.pop(attr, None)
        return
    if len(wire) > MAX_STRING_BYTES // 4 and len(wire.encode()) > MAX_STRING_BYTES:
        raise InvalidColumnValue(
            f"{plan.namespace}.{attr}: the value takes more than "
            f"{MAX_STRING_BYTES} bytes, the largest string Redis stores; "
            "split it or store it elsewhere",
            plan.namespace,
            attr,
            data.get(attr),
        )
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
        _column_entries(entries, info, col, data)
    for geo in info.geo.values():
        points = geo_points(info.name, geo.name, geo.callback(AttrDict(data)))
        if points:
            # Every point is added under the entity's id, so the last one is
            # what Redis keeps: adding only that one leaves the same state.
            lon, lat = points[-1]
            entries.geo.append((geo.name, lon, lat))
    return entries


def _column_entries(
    entries: IndexEntries, info: ModelInfo, col: Column[Any], data: Mapping[str, Any]
) -> None:
    # Checked before the None test: a new entity's id is None until the
    # script allocates it, and its <ns>:<pk>:idx entry is still due.
    if isinstance(col, PrimaryKey):
        entries.scored.append((col.attr, None))  # the script fills the id
        return
    attr = col.attr
    value = data.get(attr)
    if value is None:
        if not isinstance(col, IndexOnly):
            return
    elif col._keygen_name == "_numeric_keygen" and not col._reads_entity:
        # What the keygen's {"": score} gives, without the general path.
        score = numeric_score(value)
        entries.scored.append((attr, _score(info.name, attr, attr, score)))
        return
    assert col.keygen is not None
    _add_keygen_output(entries, info, col, col.keygen(attr, data), data)


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
    # Every token gets its SET, prefix/suffix entries come on top;
    # a prefix- or suffix-only column (e.g. Integer(prefix=True)) too.
    entries.tokens += [f"{attr}:{t}" for t in tokens]
    _add_affixes(entries, col, tokens)


def _add_scored(
    entries: IndexEntries, info: ModelInfo, col: Column[Any], output: dict[Any, Any]
) -> None:
    for key, score in output.items():
        if key == "":  # a numeric or SIMPLE keygen's only entry
            name = col.attr
        else:
            key = _token_text(info.name, col.attr, key)
            name = f"{col.attr}:{key}" if key else col.attr
        if score is None or score == "":
            entries.tokens.append(name)
        else:
            entries.scored.append((name, _score(info.name, col.attr, name, score)))


def _score(model: str, attr: str, name: str, score: Any) -> str:
    text = score_text(score)
    if text is None:
        raise InvalidColumnValue(
            f"{model}.{attr}: index score {shown(score)} for {name!r} is not a "
            "number Redis accepts; a keygen must give an int, float, Decimal "
            "or a plain number string (ASCII digits, no spaces or '_', no "
            "NaN, within the range of a double)",
            model,
            attr,
            score,
        )
    return text


def _token_text(model: str, attr: str, token: Any) -> str:
    if isinstance(token, str):
        if token.isascii():
            return token
        try:
            token.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidColumnValue(
                f"{model}.{attr}: index token {shown(token)} has unpaired "
                "surrogates, which cannot be sent to Redis as UTF-8; fix the "
                "keygen or the value",
                model,
                attr,
                token,
            ) from None
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
    if not output:
        # No keygen result (None, []): the value itself, or no entry at all.
        return wire
    if isinstance(output, (set, frozenset)):
        output = sorted(output, key=str)
    if not isinstance(output, (list, tuple)):
        raise ColumnError(
            f"{info.name}.{col.attr}: a unique keygen must return a list, tuple "
            f"or set, got {type(output).__name__}"
        )
    return _token_text(info.name, col.attr, output[0])


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
            except (ValueError, TypeError, ArithmeticError, RecursionError):
                values[col.attr] = None
    return values


# -- deleting -------------------------------------------------------------


def plan_delete(
    info: ModelInfo, data: Mapping[str, Any], last: Mapping[str, str], id: int
) -> WritePlan:
    """Plan deleting an entity: its row, unique entries and index entries."""
    keys = info.keys_for(id)
    plan = WritePlan(keys.namespace, info.pk, str(id), delete=True)
    plan.keys = keys
    values = decode_last(info, last) if _keygen_unique(info) else {}
    stored = unique_values(info, values, lambda c: last.get(c.attr))
    current = unique_values(info, data, lambda col: _wire(col, data))
    plan.unique_del = list(dict.fromkeys(stored + current))
    plan.unique_fields = list(info.plain_unique)
    plan.reads_row = bool(_derived_unique(info))
    plan.unsafe = list(info.unsafe)
    if info.partitions:
        plan.releases = plan.unique_del
        _no_local_unique(plan)
    return plan


# -- the row as stored ----------------------------------------------------


def _derived_unique(info: ModelInfo) -> list[Column[Any]]:
    # Unique columns whose entry a keygen computes: the writer cannot
    # recompute it from the row, so it is computed here from the row read.
    return [col for col in info.unique if col.keygen is not None and not col.index]


def from_stored_row(plan: WritePlan, info: ModelInfo, row: Mapping[str, str]) -> None:
    """Complete a ``reads_row`` plan with the row as just read from Redis.

    The plan then removes the keygen-computed unique entries of that row
    (but those it writes itself), and is applied only if the row's fields
    feeding them (and its primary key) are still as read.
    """
    plan.row_check = [(name, row.get(name)) for name in (info.pk, *info.guarded)]
    plan.unique_stored = []
    if row.get(info.pk) is None:  # the row is gone: it has no entries
        return
    values = decode_last(info, row)
    keep = set(plan.unique)
    for col in _derived_unique(info):
        value = _unique_value(info, col, values, row.get(col.attr))
        if value is not None and (col.attr, value) not in keep:
            plan.unique_stored.append((col.attr, value))
