"""Consistency checker: does what is in Redis agree with itself?

:func:`check` reads every key of the given models (with SCAN, never KEYS)
and returns the :class:`Problem` it finds, in a :class:`Report` (a list
with a per-model summary); an empty one means the data is consistent.
Each row's expected index entries, unique entries and index
record are computed with the planning code that writes them
(``rom._writer``), so the checker and the writer share one definition.

It only reads. Run it on data at rest for a definite answer: an entity
being written while the check runs may show as a problem that is gone a
moment later (a row or index key deleted meanwhile is taken as gone, never
as damage). ``rom repair`` (``rom._repair``) fixes what it reports,
re-checking each row as it goes, so a repair is safe on a live database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

import redis

from ._io import Each
from ._io import Pinned
from ._io import Pipeline
from ._io import Steps
from ._io import call
from ._io import run_async
from ._io import run_sync
from ._key_shapes import KeyCensus
from ._key_shapes import KeyShape
from ._key_shapes import partition_censuses_steps
from ._partitions import value_partition
from ._record import record_entries
from ._registry import MODELS
from ._registry import registered_models
from ._replies import decode_row
from ._state import plan_save
from .relations import _OwnedReference
from .relations import many_to_many_sides

if TYPE_CHECKING:
    from ._keys import KeySpace
    from ._meta import ModelInfo
    from .model import Model

__all__ = ["KINDS", "Problem", "Report", "acheck", "check", "check_steps"]

#: Every problem kind :func:`check` reports, and what it means.
KINDS: Final[Mapping[str, str]] = {
    "bad-row": "a row that cannot be loaded or indexed (missing or wrong primary "
    "key field, a value its column cannot read, a keygen that fails)",
    "missing-entry": "a row lacks an index, prefix, suffix or geo entry its "
    "values give",
    "wrong-score": "an index entry whose score (or geo position) is not the one "
    "the row's values give",
    "extra-entry": "an index entry for a row whose values do not give it",
    "orphan-entry": "an index entry naming a row that does not exist",
    "missing-unique": "a row's unique value has no entry in the unique index",
    "unique-mismatch": "a unique entry mapping a value to a row that does not "
    "hold it (or to another row than the one holding it)",
    "orphan-unique": "a unique entry naming a row that does not exist",
    "missing-record": "a row with index entries but no -index-data- record",
    "stale-record": "an index record (-index-data- or the legacy <ns>:: field) "
    "naming other entries than the row's values give",
    "orphan-record": "a legacy <ns>:: record of a row that does not exist",
    "id-above-counter": "a row whose id is above the <ns>:<pk>: id counter, "
    "so a new entity would be given its id",
    "wrong-partition": "a row of a partitioned model in another partition than "
    "its id's (id % partitions): rom never reads it there",
    "temp-key": "a query's temporary key left without a TTL",
    "orphan-unsafe": "an UnsafeColumn key of a row that does not exist",
    "missing-reference": "a ManyToOne or OneToOne column naming an entity "
    "whose row does not exist (columns with on_delete='no action' are left "
    "out: rom leaves those dangling by design)",
    "wrong-type": "a key of the model holding another Redis type than rom writes there",
    "unknown-key": "a key under the model's namespace that is none of its "
    "keys: another model's whose namespace extends this one, or an index or "
    "UnsafeColumn the model no longer declares",
}

_BLOCK = 500


@dataclass(frozen=True, slots=True)
class Problem:
    """One inconsistency: which model, what kind (see ``KINDS``), where."""

    model: str
    kind: str
    key: str
    detail: str
    #: The id of the row the problem concerns ('' if none, as for a
    #: leftover temporary key).
    id: str = ""
    #: The index member, unique field, UnsafeColumn or reference column the
    #: problem is about ('' if the whole key or row is).
    member: str = ""
    #: The partition whose keys hold the problem, for a partitioned model
    #: (rom/_partitions.py); None for an unpartitioned one.
    partition: int | None = None

    def __str__(self) -> str:
        where = self.model
        if self.partition is not None:
            where += f" (partition {self.partition})"
        return f"{where}: {self.kind} at {self.key!r}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as a JSON-ready dict (with ``partition`` for a
        partitioned model)."""
        found: dict[str, Any] = {
            "model": self.model,
            "kind": self.kind,
            "key": self.key,
            "id": self.id,
            "member": self.member,
            "detail": self.detail,
        }
        if self.partition is not None:
            found["partition"] = self.partition
        return found


class Report(list[Problem]):
    """The problems :func:`check` found: a list, plus a summary.

    It compares equal to a plain list (``check(Model) == []`` holds for
    consistent data). ``models`` names every model checked, consistent or
    not; ``rows`` keeps each model's rows as read (by model name, then id),
    which lets a repair make sure a row did not change since the check.
    """

    models: list[str]
    rows: dict[str, dict[str, dict[str, str]]]
    #: The number of partitions of each partitioned model checked.
    partitions: dict[str, int]

    def __init__(self, problems: Iterable[Problem] = ()) -> None:
        super().__init__(problems)
        self.models = []
        self.rows = {}
        self.partitions = {}

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self

    def counts(self) -> dict[str, dict[str, int]]:
        """Problem counts by model, then kind (every checked model listed)."""
        found: dict[str, dict[str, int]] = {name: {} for name in self.models}
        for problem in self:
            kinds = found.setdefault(problem.model, {})
            kinds[problem.kind] = kinds.get(problem.kind, 0) + 1
        return found

    def summary(self) -> str:
        """One line per model: ``Model: ok`` or its problem counts."""
        lines = []
        for name, kinds in self.counts().items():
            count = len(self.rows.get(name, {}))
            rows = f"{count} row{'' if count == 1 else 's'}"
            if name in self.partitions:
                rows += f" in {self.partitions[name]} partitions"
            if not kinds:
                lines.append(f"{name}: ok ({rows})")
                continue
            total = sum(kinds.values())
            shown = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            where = sorted(
                {
                    p.partition
                    for p in self
                    if p.model == name and p.partition is not None
                }
            )
            if where:
                shown += f" (partitions {', '.join(map(str, where))})"
            lines.append(f"{name}: {total} problem(s) in {rows}: {shown}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict: ok, counts and every problem."""
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "problems": [p.to_dict() for p in self],
        }


def check(*models: type[Model], conn: redis.Redis | None = None) -> Report:
    """Check the data of ``models`` (every registered model if none given).

    ``conn`` overrides the models' own connections. Returns the problems
    found, model by model and by key, as a :class:`Report` (a list); an
    empty one means the data is consistent.
    """
    return run_sync(check_steps(models, conn))


async def acheck(*models: type[Model], conn: Any = None) -> Report:
    """``check()`` on asyncio: ``report = await acheck(Model)``.

    ``conn`` may be a ``redis.Redis`` (its asyncio twin is used) or a
    ``redis.asyncio.Redis``.
    """
    return await run_async(check_steps(models, conn))


def check_steps(models: tuple[type[Model], ...], conn: Any) -> Steps[Report]:
    """``check`` as steps, for either transport."""
    chosen = models or tuple(registered_models())
    report = Report()
    for model in chosen:
        info = model._meta
        shared = _Shared()
        # One check per partition of a partitioned model (each reads only its
        # partition's keys: one slot on a cluster), all of them sharing what
        # a unique entry may need from another partition.
        client = conn or model._connection
        censuses = yield from partition_censuses_steps(client, info, 1000)
        checks = [
            _ModelCheck(
                model,
                client,
                keys=keys,
                partition=i if info.partitions else None,
                shared=shared,
                census=census,
            )
            for i, (keys, census) in enumerate(zip(info.parts, censuses, strict=True))
        ]
        for checker in checks:
            yield from checker.gather()
        rows: dict[str, dict[str, str]] = {}
        for checker in checks:
            rows.update(checker.rows)
        shared.ids = set(rows)
        problems: list[Problem] = []
        for checker in checks:
            problems += yield from checker.verify()
        problems += _check_uniques(info, checks)
        report += sorted(problems, key=lambda p: (p.key, p.kind, p.detail))
        report.models.append(info.name)
        report.rows[info.name] = rows
        if info.partitions:
            report.partitions[info.name] = info.partitions
    return report


def unique_key(info: ModelInfo, keys: KeySpace, column: str, value: str) -> str:
    """The unique HASH holding ``value``'s entry of ``column`` (a column or
    ``c1:c2`` group) of model ``info``, for a row of partition ``keys`` (the
    model's KeySpace if unpartitioned): the row's own ``<ns>:<cols>:uidx``.

    The hook of unique columns on partitioned models, whose entries live in
    the partition of the value rather than of the row: the checker, repair
    and ``rom import`` ask here where an entry belongs (and the checker
    looks for it among the entries of every partition).
    """
    if info.partitions:
        return info.parts[value_partition(value, info.partitions)].unique(column)
    return keys.unique(column)


@dataclass
class _Shared:
    """What the checks of one model's partitions share: the unique entries
    expected and found (an entry may live in another partition than its
    row), and every row id of the model."""

    unique: set[tuple[str, str, str]] = field(default_factory=set)
    unique_keys: set[str] = field(default_factory=set)
    # (uidx key, value) pairs that have an entry, whichever id it names
    unique_found: set[tuple[str, str]] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)


def _check_uniques(info: ModelInfo, checks: list[_ModelCheck]) -> list[Problem]:
    # After every partition's unique keys were read: the rows' unique values
    # that no entry (or an entry naming another id) holds.
    shared = checks[0].shared
    wrong = {k for c in checks for k, kind in c.key_kinds.items() if kind == "wrong"}
    by_prefix = [(c.keys.row_prefix, c.partition) for c in checks]
    problems: list[Problem] = []
    for key, value, id in sorted(shared.unique):
        if key in wrong:
            continue
        part = next((i for prefix, i in by_prefix if key.startswith(prefix)), None)
        if (key, value) in shared.unique_found:
            kind = "unique-mismatch"
            detail = f"row {id} holds {value!r}, but the entry maps it to another id"
        else:
            kind, detail = (
                "missing-unique",
                f"row {id} holds {value!r}, which has no entry",
            )
        problems.append(Problem(info.name, kind, key, detail, id, value, part))
    return problems


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


# key -> member -> expected score (None: a SET member; a tuple: a geo point)
_Expected = dict[str, dict[str, Any]]


@dataclass
class _ModelCheck:
    model: type[Model]
    conn: Any
    # The partition checked (its KeySpace, its number), or the model's keys.
    keys: KeySpace
    partition: int | None
    shared: _Shared
    # Its keys, sorted out (rom._key_shapes.partition_censuses_steps).
    census: KeyCensus
    problems: list[Problem] = field(default_factory=list)
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    index_keys: dict[str, KeyShape] = field(default_factory=dict)
    # Index keys of our shape under another model's namespace "<ns>:<x>":
    # only the entries our rows expect are looked for in them.
    shared_keys: set[str] = field(default_factory=set)
    unsafe_keys: list[tuple[str, KeyShape]] = field(default_factory=list)
    temp_keys: list[str] = field(default_factory=list)
    expected: _Expected = field(default_factory=dict)
    key_kinds: dict[str, str] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)
    legacy: dict[str, str] = field(default_factory=dict)
    # (row id, column, target model, target id) of every checked reference
    references: list[tuple[str, str, type[Model], str]] = field(default_factory=list)

    @property
    def info(self) -> ModelInfo:
        return self.model._meta

    def report(
        self, kind: str, key: str, detail: str, id: str = "", member: str = ""
    ) -> None:
        self.problems.append(
            Problem(self.info.name, kind, key, detail, id, member, self.partition)
        )

    def gather(self) -> Steps[None]:
        """Read the rows and work out what each should have."""
        yield from self._scan()
        yield from self._read_rows()
        self.legacy = legacy = yield from self._legacy_records()
        for id in sorted(self.rows, key=int):
            self._expect(id, self.rows[id], legacy)

    def verify(self) -> Steps[list[Problem]]:
        """Compare the keys with what the rows should have (after every
        partition's ``gather``)."""
        legacy = self.legacy
        for id in legacy:
            if id not in self.rows:
                self.report(
                    "orphan-record",
                    self.keys.legacy_index,
                    f"field {id!r}: no row",
                    id,
                    id,
                )
        yield from self._check_index_keys()
        self._check_missing()
        yield from self._check_counter()
        self._check_unsafe()
        yield from self._check_temp()
        yield from self._check_references()
        return self.problems

    # -- reading ----------------------------------------------------------

    def _scan(self) -> Steps[None]:
        census = self.census
        yield from ()
        nested = tuple(f"{namespace}:" for namespace in census.nested)
        for key in census.foreign:
            theirs = [n for n in census.nested if key.startswith(f"{n}:")]
            self.report(
                "unknown-key",
                key,
                f"a key of the namespace {theirs[0]!r}, which another model "
                f"uses: it shares keys with {self.info.namespace!r}, give one "
                "of them another _namespace"
                if theirs
                else f"not a key of {self.info.name} (another model's, or of a "
                "column it no longer declares)",
            )
        for key, shape in census.own + census.shared:
            if shape.kind == "row":
                if self.partition is not None and (
                    int(shape.id) % self.info.partitions != self.partition
                ):
                    self.report(
                        "wrong-partition",
                        key,
                        f"row {shape.id} belongs in partition "
                        f"{int(shape.id) % self.info.partitions} (its id modulo "
                        f"{self.info.partitions}), not {self.partition}: rom "
                        "never reads it here; move or delete it by hand",
                        shape.id,
                    )
                    continue
                self.rows[shape.id] = {}
            elif shape.kind == "index":
                self.index_keys[key] = shape
                if nested and key.startswith(nested):
                    self.shared_keys.add(key)
            elif shape.kind == "unsafe":
                self.unsafe_keys.append((key, shape))
            elif shape.kind == "temp":
                self.temp_keys.append(key)

    def _read_rows(self) -> Steps[None]:
        ids = sorted(self.rows, key=int)
        for start in range(0, len(ids), _BLOCK):
            block = ids[start : start + _BLOCK]
            read = functools.partial(self._read_block, block=block)
            replies = yield Pinned(self.conn, read, transaction=False)
            for id, kind, raw in zip(block, replies[::2], replies[1::2], strict=True):
                if _str(kind) == "none":  # deleted since the scan
                    del self.rows[id]
                elif _str(kind) != "hash":
                    self.report(
                        "wrong-type",
                        self.keys.entity(id),
                        f"a row must be a HASH, got {_str(kind)}",
                    )
                    del self.rows[id]
                else:
                    self.rows[id] = decode_row(raw)

    def _read_block(self, pipe: Any, *, block: list[str]) -> Steps[list[Any]]:
        # TYPE and HGETALL of each row in one pipeline (no MULTI/EXEC, which
        # Redis refuses at maxmemory); a row that is no HASH gives its error
        # in place of its fields.
        for id in block:
            yield from call(pipe, "type", self.keys.entity(id))
            yield from call(pipe, "hgetall", self.keys.entity(id))
        replies = yield from call(pipe, "execute", raise_on_error=False)
        return list(replies)

    def _legacy_records(self) -> Steps[dict[str, str]]:
        key = self.keys.legacy_index
        kind = _str((yield from call(self.conn, "type", key)))
        if kind == "none":
            return {}
        if kind != "hash":
            self.report("wrong-type", key, f"expected a HASH, got {kind}")
            return {}
        return decode_row((yield from call(self.conn, "hgetall", key)))

    # -- what each row should have ----------------------------------------------

    def _expect(self, id: str, row: dict[str, str], legacy: dict[str, str]) -> None:
        key = self.keys.entity(id)
        pk = row.get(self.info.pk)
        if pk != id:
            self.report(
                "bad-row",
                key,
                f"the {self.info.pk!r} field is {pk!r}, expected {id!r}",
                id,
            )
            return
        try:
            # A partitioned model's plan lists its unique values as claims,
            # and all of them only when it ignores the row as last read.
            partitioned = bool(self.info.partitions)
            plan = plan_save(self.model._from_row(row), full=True, force=partitioned)
        except Exception as exc:  # any failure is the finding
            self.report("bad-row", key, f"cannot be loaded or indexed: {exc!r}", id)
            return
        e = plan.entries
        for name in e.tokens:
            self._want(self.keys.index(name), "set", id, None)
        for name, score in e.scored:
            self._want(self.keys.index(name), "zset", id, float(score or id))
        for attr, token, score in e.prefix:
            self._want(self.keys.prefix(attr), "zset", f"{token}\0{id}", float(score))
        for attr, rev, score in e.suffix:
            self._want(self.keys.suffix(attr), "zset", f"{rev}\0{id}", float(score))
        for name, lon, lat in e.geo:
            self._want(self.keys.geo(name), "zset", id, (float(lon), float(lat)))
        for column, value in plan.claims if self.info.partitions else plan.unique:
            uidx = unique_key(self.info, self.keys, column, value)
            self.shared.unique.add((uidx, value, id))
            self.shared.unique_keys.add(uidx)
        for attr, target in self._reference_targets():
            ref = row.get(attr)
            if ref is not None:
                self.references.append((id, attr, target, ref))
        self._check_record(id, row, legacy, e.record())

    def _want(self, key: str, kind: str, member: str, score: Any) -> None:
        self.key_kinds.setdefault(key, kind)
        self.expected.setdefault(key, {})[member] = score

    def _check_record(
        self, id: str, row: dict[str, str], legacy: dict[str, str], record: str
    ) -> None:
        if id in legacy:
            key, raw = self.keys.legacy_index, legacy.get(id)
        else:
            key, raw = self.keys.entity(id), row.get("-index-data-")
        if raw == record:
            return  # what the writer writes, byte for byte
        want = set(record_entries(self.keys, id, record))
        if raw is None:
            if want:
                self.report(
                    "missing-record",
                    key,
                    f"row {id} has index entries but no -index-data- field; "
                    "refresh_indices() rewrites it",
                    id,
                )
            return
        got = set(record_entries(self.keys, id, raw))
        if got != want:
            extra = sorted(f"{e.key} {e.member!r}" for e in got - want)
            missing = sorted(f"{e.key} {e.member!r}" for e in want - got)
            self.report(
                "stale-record",
                key,
                f"record of row {id} names {extra} it should not and lacks "
                f"{missing}; refresh_indices() rewrites it",
                id,
            )

    # -- index keys as they are -------------------------------------------------

    def _check_index_keys(self) -> Steps[None]:
        todo: list[tuple[str, KeyShape]] = []
        for key, shape in sorted(self.index_keys.items()):
            if key in self.shared_keys:
                mine = (
                    self.shared.unique_keys if shape.suffix == "uidx" else self.expected
                )
                if key not in mine:
                    continue  # not one our rows use: the other model's
            todo.append((key, shape))
        for start in range(0, len(todo), _BLOCK):
            yield from self._check_key_block(todo[start : start + _BLOCK])

    def _check_key_block(self, block: list[tuple[str, KeyShape]]) -> Steps[None]:
        kinds = yield Pipeline(self.conn, tuple(("type", (k,), {}) for k, _ in block))
        readable: list[tuple[str, KeyShape, str]] = []
        reads: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        for (key, shape), raw_kind in zip(block, kinds, strict=True):
            kind = _str(raw_kind)
            if kind == "none":
                continue  # emptied since the scan: it holds nothing
            want = "hash" if shape.suffix == "uidx" else self.key_kinds.get(key)
            allowed = {want} if want else {"set", "zset"}
            if shape.suffix in ("pre", "suf", "geo"):
                allowed = {"zset"}
            if kind not in allowed:
                wanted = " or ".join(sorted(k.upper() for k in allowed if k))
                self.report("wrong-type", key, f"expected a {wanted}, got {kind}")
                self.key_kinds[key] = "wrong"
                continue
            readable.append((key, shape, kind))
            if kind == "zset":
                reads.append(("zrange", (key, 0, -1), {"withscores": True}))
            else:
                reads.append(({"set": "smembers", "hash": "hgetall"}[kind], (key,), {}))
        contents = (yield Pipeline(self.conn, tuple(reads))) if readable else []
        for (key, shape, kind), content in zip(readable, contents, strict=True):
            partial = key in self.shared_keys
            if kind == "hash":
                self._check_unique_key(key, content.items(), partial)
            else:
                members: list[tuple[str, float | None]] = (
                    [(_str(m), None) for m in content]
                    if kind == "set"
                    else [(_str(m), float(score)) for m, score in content]
                )
                yield from self._check_members(key, shape, members, partial)

    def _check_members(
        self,
        key: str,
        shape: KeyShape,
        members: Iterable[tuple[str, float | None]],
        partial: bool,
    ) -> Steps[None]:
        expected = self.expected.get(key, {})
        geo: list[str] = []
        for member, score in members:
            affix = shape.suffix in ("pre", "suf")
            id = member.rpartition("\0")[2] if affix else member
            if partial and member not in expected:
                continue  # maybe the other model's entry
            if id not in self.rows:
                self.report(
                    "orphan-entry", key, f"member {member!r}: no row {id}", id, member
                )
            elif member not in expected:
                self.report(
                    "extra-entry",
                    key,
                    f"member {member!r}: row {id}'s values do not give it",
                    id,
                    member,
                )
            else:
                self.seen.add((key, member))
                if shape.suffix == "geo":
                    geo.append(member)
                elif score is not None and expected[member] != score:
                    self.report(
                        "wrong-score",
                        key,
                        f"member {member!r} has score {score!r}, row {id}'s "
                        f"values give {expected[member]!r}",
                        id,
                        member,
                    )
        if geo:
            yield from self._check_geo(key, geo, expected)

    def _check_geo(
        self, key: str, members: list[str], expected: dict[str, Any]
    ) -> Steps[None]:
        positions = yield from call(self.conn, "geopos", key, *members)
        for member, pos in zip(members, positions, strict=True):
            lon, lat = expected[member]
            if pos is None or abs(pos[0] - lon) > 1e-5 or abs(pos[1] - lat) > 1e-5:
                self.report(
                    "wrong-score",
                    key,
                    f"member {member!r} is at {pos!r}, row {member}'s values give "
                    f"({lon!r}, {lat!r})",
                    member,
                    member,
                )

    def _check_unique_key(
        self, key: str, items: Iterable[tuple[Any, Any]], partial: bool
    ) -> None:
        for raw_field, raw_id in items:
            value, id = _str(raw_field), _str(raw_id)
            entry = (key, value, id)
            self.shared.unique_found.add((key, value))
            if entry in self.shared.unique:
                self.shared.unique.discard(entry)
            elif partial:
                continue  # maybe the other model's entry
            elif id not in self.shared.ids:
                self.report(
                    "orphan-unique", key, f"{value!r} -> {id}: no row {id}", id, value
                )
            else:
                self.report(
                    "unique-mismatch",
                    key,
                    f"{value!r} -> {id}, but row {id}'s values do not give {value!r}",
                    id,
                    value,
                )

    # -- what rows lack ---------------------------------------------------------

    def _check_missing(self) -> None:
        for key, members in sorted(self.expected.items()):
            if self.key_kinds.get(key) == "wrong":
                continue
            for member in members:
                if (key, member) not in self.seen:
                    self.report(
                        "missing-entry",
                        key,
                        f"member {member!r} (row {member.rpartition(chr(0))[2]}) "
                        "is missing; refresh_indices() adds it",
                        member.rpartition("\0")[2],
                        member,
                    )

    def _check_counter(self) -> Steps[None]:
        key = self.keys.counter
        if not self.rows:
            return
        try:
            raw = yield from call(self.conn, "get", key)
            counter = int(_str(raw)) if raw is not None else 0
        except (ValueError, redis.ResponseError) as exc:
            self.report("wrong-type", key, f"expected an integer STRING: {exc}")
            return
        # A partition hands out the ids n * stride + offset for n up to its
        # counter (stride 1, offset 0 unpartitioned).
        stride, offset = self.keys.id_stride, self.keys.id_offset
        top = max((int(id) - offset) // stride for id in self.rows)
        for id in sorted(self.rows, key=int):
            if int(id) > counter * stride + offset:
                self.report(
                    "id-above-counter",
                    self.keys.entity(id),
                    f"id {id} is above the counter {key!r} ({counter}"
                    + (f", ids up to {counter * stride + offset}" if stride > 1 else "")
                    + f"); a new entity would overwrite it: SET {key} {top}",
                    id,
                )

    def _check_unsafe(self) -> None:
        declared = set(self.info.unsafe)
        # A ManyToMany side's member SETs have the same <ns>:<id>:<attr> shape.
        model = MODELS.get(self.info.namespace)
        if model is not None:
            declared.update(side.attr for side in many_to_many_sides(model))
        for key, shape in self.unsafe_keys:
            if shape.id not in self.rows:
                self.report(
                    "orphan-unsafe",
                    key,
                    f"UnsafeColumn key of row {shape.id}, which does not exist; "
                    "clean_unsafe_cols() deletes it",
                    shape.id,
                    shape.name,
                )
            elif shape.name not in declared:
                self.report(
                    "unknown-key",
                    key,
                    f"{shape.name!r} is not an UnsafeColumn of {self.info.name}",
                    shape.id,
                    shape.name,
                )

    def _reference_targets(self) -> list[tuple[str, type[Model]]]:
        found = []
        for col in self.info.references:
            if not isinstance(col, _OwnedReference) or col.on_delete == "no action":
                continue
            target = col.get_related_model()
            if target is not None:
                found.append((col.attr, target))
        return found

    def _check_references(self) -> Steps[None]:
        # A target on the model's own connection is looked up on ``conn``
        # (which may override it); one on another connection on its own.
        refs = self.references
        for start in range(0, len(refs), _BLOCK):
            block = refs[start : start + _BLOCK]
            pipes: dict[int, tuple[Any, list[Any]]] = {}
            for _, _, target, ref in block:
                conn = self._conn_of(target)
                reads = pipes.setdefault(id(conn), (conn, []))[1]
                reads.append(("exists", (target._meta.entity_key(ref),), {}))
            sent = yield Each(tuple(Pipeline(c, tuple(r)) for c, r in pipes.values()))
            replies = {key: iter(got) for key, got in zip(pipes, sent, strict=True)}
            for row_id, attr, target, ref in block:
                if next(replies[id(self._conn_of(target))]):
                    continue
                self.report(
                    "missing-reference",
                    self.keys.entity(row_id),
                    f"{self.info.name}.{attr} of row {row_id} names "
                    f"{target._meta.name} {ref}, whose row "
                    f"{target._meta.entity_key(ref)!r} does not exist; "
                    "rom repair applies the column's on_delete policy",
                    row_id,
                    attr,
                )

    def _conn_of(self, target: type[Model]) -> Any:
        theirs = target._connection
        return self.conn if theirs is self.model._connection else theirs

    def _check_temp(self) -> Steps[None]:
        for key in self.temp_keys:
            if (yield from call(self.conn, "ttl", key)) == -1:
                self.report("temp-key", key, "a temporary query key with no TTL")
