"""ModelInfo: a model's columns, keys and constraints, checked at class creation."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from ._expiry import model_ttl
from ._keys import KeySpace
from ._keys import partition_keyspaces
from ._partitions import RoundRobin
from ._partitions import model_partitions
from ._partitions import partition_of
from ._registry import MODELS
from ._registry import registered_models
from ._registry import same_definition
from .columns import Column
from .columns import IndexOnly
from .columns import PrimaryKey
from .columns import UnsafeColumn
from .connection import connection_for
from .connection import is_cluster
from .exceptions import ColumnError
from .exceptions import InvalidOperation
from .exceptions import ORMError
from .index import GeoIndex
from .relations import OneToMany
from .relations import _OwnedReference
from .relations import _Reference

__all__ = ["ModelInfo", "build_model_info"]

AnyColumn = Column[Any] | UnsafeColumn | OneToMany
SORTABLE_STRING_KEYGENS = ("SIMPLE", "SIMPLE_CI", "CASE_INSENSITIVE")
# Keygens whose entries are SETs of ids, one per token.
TOKEN_KEYGENS = frozenset(
    {
        "FULL_TEXT",
        "IDENTITY",
        "IDENTITY_CI",
        "IDENTITY_STRING",
        "IDENTITY_STRING_CI",
        "_boolean_keygen",
    }
)


@dataclass(slots=True)
class ModelInfo:
    """Everything rom derives from a model class declaration."""

    name: str
    namespace: str
    pk: str
    # The key names on one server; see ``keys`` for the ones in use.
    plain_keys: KeySpace
    columns: dict[str, AnyColumn]
    # Columns whose values live in the row hash, the primary key included.
    stored: list[Column[Any]] = field(default_factory=list)
    indexed: list[Column[Any]] = field(default_factory=list)
    unique: list[Column[Any]] = field(default_factory=list)
    unique_together: tuple[tuple[str, ...], ...] = ()
    geo: dict[str, GeoIndex] = field(default_factory=dict)
    unsafe: list[str] = field(default_factory=list)
    # IndexOnly columns: in an entity's data (always None), never stored.
    index_only: list[str] = field(default_factory=list)
    references: list[_Reference] = field(default_factory=list)
    # Columns counted by save() for a new entity (all but UnsafeColumns).
    counted: int = 0
    # Stored columns whose values feed index or unique entries: a save checks
    # they are unchanged in Redis, so it never indexes a stale value.
    guarded: tuple[str, ...] = ()
    # Unique entries a delete can recompute from the row as it is in Redis:
    # (uidx name, fields), for unique columns without a keygen and groups.
    plain_unique: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The model class, whose connection decides the key names in use.
    model: type | None = None
    cluster_keys: KeySpace | None = None

    def __post_init__(self) -> None:
        self.cluster_keys = self.plain_keys.for_cluster()

    @property
    def keys(self) -> KeySpace:
        """The model's key names for its connection at this moment: with a
        Redis Cluster client, the namespace is hash-tagged (``{user}:1``) so
        every key of the model is in one slot; otherwise rom 1.1.2's names.
        (A model's connection may be set after the class is made.)

        A partitioned model has no one KeySpace: see ``keys_for`` and
        ``parts``; asking for this one is a bug of the caller.
        """
        if self.partitions:
            raise InvalidOperation(
                f"{self.name} is partitioned (_partitions = {self.partitions}): "
                "its keys are per partition; this operation does not support "
                "partitioned models"
            )
        model = self.model
        if model is not None and is_cluster(connection_for(model)):
            return self.cluster_keys  # type: ignore[return-value]
        return self.plain_keys

    # A model declaring ``_partitions`` (rom/_partitions.py): its number of
    # partitions, else 0.
    partitions: int = 0
    _plain_parts: tuple[KeySpace, ...] = ()
    _cluster_parts: tuple[KeySpace, ...] = ()
    _round_robin: RoundRobin | None = None

    @property
    def parts(self) -> tuple[KeySpace, ...]:
        """Every KeySpace holding the model's entities, for its connection at
        this moment: one per partition, or the one of ``keys``."""
        if not self.partitions:
            return (self.keys,)
        model = self.model
        if model is not None and is_cluster(connection_for(model)):
            if not self._cluster_parts:
                self._cluster_parts = partition_keyspaces(
                    self.namespace, self.pk, self.partitions, cluster=True
                )
            return self._cluster_parts
        return self._plain_parts

    def keys_for(self, id: object) -> KeySpace:
        """The KeySpace holding entity ``id``: its partition's, or ``keys``."""
        if not self.partitions:
            return self.keys
        return self.parts[partition_of(id, self.partitions)]

    def entity_key(self, id: object) -> str:
        """The row key of entity ``id``: ``keys_for(id).entity(id)``."""
        if not self.partitions:
            return self.keys.entity(id)
        return self.parts[partition_of(id, self.partitions)].entity(id)

    def entity_keys(self, ids: Iterable[object]) -> list[str]:
        """``entity_key`` of each id."""
        if not self.partitions:
            return self.keys.entities(ids)
        parts, count = self.parts, self.partitions
        return [parts[partition_of(i, count)].entity(i) for i in ids]

    def new_keys(self) -> KeySpace:
        """The KeySpace a new entity without an id is written to: the next
        partition in turn, or ``keys``."""
        if self._round_robin is None:
            return self.keys
        return self.parts[next(self._round_robin)]

    # A model declaring ``_ttl`` (rom/_expiry.py): its entities may expire;
    # ttl_ms is the default expiry of a new entity (None: none).
    expiring: bool = False
    ttl_ms: int | None = None

    @property
    def has_relations(self) -> bool:
        """True if the model references another model."""
        return any(isinstance(c, _OwnedReference) for c in self.references)


def _own_columns(cls: type) -> dict[str, AnyColumn]:
    columns: dict[str, AnyColumn] = {}
    for base in reversed(cls.__mro__[1:]):
        info = base.__dict__.get("_meta")
        if isinstance(info, ModelInfo):
            for name, col in info.columns.items():
                if not isinstance(col, PrimaryKey) or name != "id":
                    columns[name] = col
    for name, value in cls.__dict__.items():
        if isinstance(value, (Column, UnsafeColumn, OneToMany)):
            columns[name] = value
    return columns


def _bind_inherited(cls: type, columns: dict[str, AnyColumn]) -> None:
    # Each model gets its own column objects, so messages name the model the
    # user is working with and per-model state never leaks to a base class.
    for name, col in list(columns.items()):
        if cls.__dict__.get(name) is not col:
            col = copy.copy(col)
            setattr(cls, name, col)
            columns[name] = col
        col.attr = name
        col.model_name = cls.__name__


def _namespace(cls: type) -> str:
    namespace = cls.__dict__.get("_namespace", cls.__name__)
    if not isinstance(namespace, str):
        raise ORMError(
            f"{cls.__name__}._namespace must be a str, got "
            f"{type(namespace).__name__}: {namespace!r}"
        )
    for key in (cls.__name__, namespace):
        other = MODELS.get(key)
        if other is not None and not same_definition(other, cls):
            raise ORMError(
                f"Cannot have two models with the same name {cls.__name__!r} or "
                f"namespace {namespace!r}: {key!r} is already used by "
                f"{other.__module__}.{other.__qualname__}"
            )
    _check_overlap(cls, namespace)
    return namespace


def _check_overlap(cls: type, namespace: str) -> None:
    # Every key is "<ns>:...": with namespaces "a" and "a:b", a's index key
    # "a:b:x:idx" (token x of a column b) is also b's index of a column x,
    # and a's SCAN of "a:*" returns all of b's keys.
    for other in registered_models():
        theirs = other._namespace
        if same_definition(other, cls) or theirs == namespace:
            continue
        if namespace.startswith(theirs + ":") or theirs.startswith(namespace + ":"):
            suggestion = (
                namespace.replace(":", "_")
                if ":" in namespace
                else namespace + "_model"
            )
            raise ORMError(
                f"{cls.__name__} cannot use namespace {namespace!r}: it shares keys "
                f"with {other.__module__}.{other.__qualname__}, whose namespace is "
                f"{theirs!r} (one namespace followed by ':' begins the other, so "
                "index keys of one model would be read and written as the "
                f"other's). Give {cls.__name__} a namespace that neither begins "
                f"nor extends another model's, e.g. _namespace = {suggestion!r}"
            )


def _check_partition_overlap(cls: type, info: ModelInfo) -> None:
    # A partitioned model "a" keeps its keys under "a~<i>:": a model whose
    # namespace begins with "a~" would share them.
    for other in registered_models():
        theirs: ModelInfo | None = other.__dict__.get("_meta")
        if theirs is None or same_definition(other, cls):
            continue
        for outer, inner, owner in (
            (info, theirs, cls),
            (theirs, info, other),
        ):
            if outer.partitions and inner.namespace.startswith(outer.namespace + "~"):
                raise ORMError(
                    f"{cls.__name__} cannot use namespace {info.namespace!r}: "
                    f"{owner.__name__} is partitioned and keeps its keys under "
                    f"'{outer.namespace}~<partition>:', which namespace "
                    f"{inner.namespace!r} of {inner.name} begins. Give "
                    f"{cls.__name__} a namespace that does not begin with "
                    f"'{outer.namespace}~'"
                )


def _primary_key(cls: type, columns: dict[str, AnyColumn]) -> str:
    pks = [name for name, col in columns.items() if isinstance(col, PrimaryKey)]
    if len(pks) > 1:
        raise ColumnError(
            f"{cls.__name__} declares more than one PrimaryKey column: {pks}"
        )
    if pks:
        return pks[0]
    if "id" in columns:
        raise ColumnError(
            f"Cannot have non-primary key named 'id' on {cls.__name__}: rename "
            "the column or declare it as rom.PrimaryKey()"
        )
    pk = PrimaryKey()
    pk.__set_name__(cls, "id")
    setattr(cls, "id", pk)  # noqa: B010 - the class is not known statically
    columns["id"] = pk
    return "id"


def _unique_together(
    cls: type, columns: dict[str, AnyColumn], pk: str
) -> tuple[tuple[str, ...], ...]:
    declared = getattr(cls, "unique_together", ()) or ()
    if declared and all(isinstance(c, str) for c in declared):
        declared = [declared]
    groups: list[tuple[str, ...]] = []
    for group in declared:
        names = tuple(sorted(set(group)))
        _check_group(cls.__name__, names, columns, pk, groups)
        groups.append(names)
    return tuple(groups)


def _check_group(
    model: str,
    names: tuple[str, ...],
    columns: dict[str, AnyColumn],
    pk: str,
    seen: list[tuple[str, ...]],
) -> None:
    if len(names) < 2:
        raise ColumnError(f"{model}.unique_together group {names} needs 2+ columns")
    if names in seen:
        raise ColumnError(f"{model}.unique_together repeats the group {names}")
    for name in names:
        col = columns.get(name)
        if name == pk:
            raise ColumnError(
                f"{model}.unique_together group {names} includes the primary key"
            )
        if not isinstance(col, Column) or isinstance(col, IndexOnly):
            raise ColumnError(
                f"{model}.unique_together group {names} names {name!r}, which is "
                "not a stored column"
            )


def _geo_indexes(cls: type) -> dict[str, GeoIndex]:
    declared = getattr(cls, "geo_index", None) or []
    if not isinstance(declared, list) or not all(
        isinstance(g, GeoIndex) for g in declared
    ):
        raise ORMError(
            f"{cls.__name__}.geo_index must be a list of rom.GeoIndex(name, callback)"
        )
    geo: dict[str, GeoIndex] = {}
    for index in declared:
        if index.name in geo:
            raise ColumnError(f"{cls.__name__}.geo_index repeats {index.name!r}")
        geo[index.name] = index
    return geo


def _warn_unsortable_affixes(model: str, col: Column[Any]) -> None:
    if not (col.prefix or col.suffix) or col.keygen is None:
        return
    name = col._keygen_name
    if name in ("_numeric_keygen", "_many_to_one_keygen"):
        warnings.warn(
            f"{model}.{col.attr}: prefix/suffix indexes need a token keygen; "
            "numeric values get none",
            UserWarning,
            stacklevel=4,
        )


def build_model_info(cls: type) -> ModelInfo:
    """Check a new model class and return its ModelInfo."""
    namespace = _namespace(cls)
    columns = _own_columns(cls)
    _bind_inherited(cls, columns)
    pk = _primary_key(cls, columns)
    info = ModelInfo(
        name=cls.__name__,
        namespace=namespace,
        pk=pk,
        plain_keys=KeySpace(namespace, pk),
        columns=columns,
        unique_together=_unique_together(cls, columns, pk),
        geo=_geo_indexes(cls),
        model=cls,
    )
    _classify(info, columns.items())
    _derive_guards(info)
    info.expiring, info.ttl_ms = model_ttl(cls)
    info.partitions = model_partitions(cls, namespace)
    if info.partitions:
        info._plain_parts = partition_keyspaces(
            namespace, pk, info.partitions, cluster=False
        )
        info._round_robin = RoundRobin(info.partitions)
    _check_partition_overlap(cls, info)
    _check_one_to_many(cls, info)
    return info


def _derive_guards(info: ModelInfo) -> None:
    stored = [c.attr for c in info.stored if c.attr != info.pk]
    if info.geo or any(c._reads_entity for c in info.indexed + info.unique):
        info.guarded = tuple(stored)
    else:
        feeding = {c.attr for c in info.indexed + info.unique}
        feeding.update(name for group in info.unique_together for name in group)
        info.guarded = tuple(a for a in stored if a in feeding)
    plain: list[tuple[str, tuple[str, ...]]] = [
        (c.attr, (c.attr,))
        for c in info.unique
        if not isinstance(c, IndexOnly) and (c.keygen is None or c.index)
    ]
    plain += [(":".join(group), group) for group in info.unique_together]
    info.plain_unique = tuple(plain)


def _classify(info: ModelInfo, columns: Iterable[tuple[str, AnyColumn]]) -> None:
    for name, col in columns:
        if isinstance(col, UnsafeColumn):
            col.check_name(info.name, name)
            info.unsafe.append(name)
            continue
        info.counted += 1
        if isinstance(col, OneToMany):
            continue
        if isinstance(col, IndexOnly):
            info.index_only.append(name)
        else:
            info.stored.append(col)
        if col.indexed:
            info.indexed.append(col)
            _warn_unsortable_affixes(info.name, col)
        if col.unique:
            info.unique.append(col)
        if isinstance(col, _Reference):
            info.references.append(col)


def _check_one_to_many(cls: type, info: ModelInfo) -> None:
    names = (info.name, info.namespace)
    for col in info.columns.values():
        if (
            isinstance(col, OneToMany)
            and col.column is None
            and col.get_related_model() is not None
        ):
            col.referring_column(names)
    # The reverse check: an earlier model's column-less OneToMany back to us.
    for ref in info.references:
        if not isinstance(ref, _OwnedReference):
            continue
        target = ref.get_related_model()
        if target is None:
            continue
        for col in target._meta.columns.values():
            if (
                isinstance(col, OneToMany)
                and col.column is None
                and col.ftable in names
            ):
                count = sum(
                    1
                    for r in info.references
                    if isinstance(r, _OwnedReference)
                    and r.ftable in (target.__name__, target._namespace)
                )
                if count > 1:
                    raise ColumnError(
                        f"{target.__name__}.{col.attr} is a OneToMany without "
                        f"column=, but {info.name} has {count} references to "
                        f"{target.__name__}; pass column=..."
                    )
