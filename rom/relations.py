"""Relationship columns: ManyToOne, OneToOne, ForeignModel, OneToMany and
ManyToMany.

A reference is stored as the referenced entity's id and indexed on it. A
loaded reference is fetched on first access (one round trip), not when the
referring entity is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeAlias
from typing import overload

from ._io import Steps
from ._io import run_sync
from ._registry import MODELS
from ._registry import MODELS_REFERENCED
from ._state import state_of
from .columns import NULL
from .columns import Column
from .columns import _Refused
from .exceptions import ColumnError
from .exceptions import InvalidOperation
from .exceptions import ORMError
from .keygen import KeygenResult

if TYPE_CHECKING:
    from ._many_to_many import RelatedSet

__all__ = [
    "MANY_TO_MANY_ON_DELETE",
    "NO_ACTION_DEFAULT",
    "ON_DELETE",
    "SKIP_ON_DELETE",
    "ForeignModel",
    "ManyToMany",
    "ManyToOne",
    "OnDelete",
    "OneToMany",
    "OneToOne",
]

ON_DELETE = ("no action", "restrict", "cascade", "set null", "set default")

# An on_delete policy: one of ON_DELETE, or a callable ``fn(referrer, deleted)``.
OnDelete: TypeAlias = str | Callable[[Any, Any], object]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_ACTION_DEFAULT: Any = _Marker("NO_ACTION_DEFAULT")

# The entity attribute where prefetch() leaves the lists of related
# entities it loaded, by relation attribute.
PREFETCHED = "_rom_prefetched"
SKIP_ON_DELETE: Any = _Marker("SKIP_ON_DELETE")


class Unloaded:
    """The id of a referenced entity that has not been fetched yet."""

    __slots__ = ("id",)

    def __init__(self, id: int | str) -> None:
        self.id = id

    def __repr__(self) -> str:
        return f"<Unloaded {self.id}>"


def _reference_keygen(attr: str, data: Mapping[str, Any]) -> KeygenResult:
    value = data.get(attr)
    if value is None:
        return []
    return {"": reference_id(value)}


_reference_keygen.__name__ = "_many_to_one_keygen"


def reference_id(value: Any) -> str:
    """The id stored for a reference value (entity, Unloaded or id).

    A new rom entity has an id once one was allocated for it: saving a
    referrer allocates the ids of the new entities it references and saves
    them first, in the same write (``rom._persist.save_entities``).
    """
    if isinstance(value, Unloaded):
        return str(value.id)
    if isinstance(value, int):
        return str(value)
    pk = getattr(type(value), "_pkey", None)
    if pk is None:  # a ForeignModel object
        return str(value.id)
    id = state_of(value).get(pk)
    if id is None:
        raise InvalidOperation(
            f"{type(value).__name__} entity is not saved yet: save it (or the "
            "entity that references it) first"
        )
    return str(id)


class _Reference(Column[Any]):
    """Shared behaviour of the columns that hold one referenced entity."""

    _typeless = True
    _expected = "an entity or its integer id"

    def __init__(
        self,
        ftable: Any,
        required: bool = False,
        default: Any = NULL,
        unique: bool = False,
    ) -> None:
        super().__init__(required=required, default=default, unique=unique, index=True)
        self.ftable = ftable
        self._set_keygen2(_reference_keygen, "_many_to_one_keygen")

    def _exempt_from_keygen(self) -> bool:
        return True

    def _target(self) -> Any:
        return MODELS.get(self.ftable) if isinstance(self.ftable, str) else None

    def _convert(self, value: object) -> Any:
        target = self._target()
        if target is not None and isinstance(value, target):
            return value
        if isinstance(value, Unloaded):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return Unloaded(value)
        if isinstance(value, str) and value.isdigit():
            return Unloaded(int(value))
        raise _Refused(f"expected a {self.ftable} entity or an integer id")

    def to_redis(self, value: Any) -> str:
        return reference_id(value)

    def from_redis(self, raw: str) -> Any:
        return Unloaded(int(raw) if raw.isdigit() else raw)

    def __get__(self, instance: object | None, owner: type) -> Any:
        if instance is None:
            return self
        return run_sync(self.load_steps(instance))

    def load_steps(self, instance: Any) -> Steps[Any]:
        """The referenced entity, read on first access (either transport)."""
        from ._lookup import get_steps  # _lookup imports this module

        state = state_of(instance)
        value = state.get(self.attr)
        if isinstance(value, Unloaded):
            target = self._target()
            if target is None:
                raise ORMError(
                    f"{self.model_name}.{self.attr} references {self.ftable!r}, "
                    "which is not a defined model"
                )
            if hasattr(target, "_meta"):
                value = yield from get_steps(target, value.id)
            else:  # a ForeignModel's own class: its get() is its business
                value = target.get(value.id)
            # A reference to a vanished entity reads as None, as in rom.
            state.put({self.attr: value})
        return value


class _OwnedReference(_Reference):
    """A reference between two rom models, with an on_delete policy."""

    def __init__(
        self,
        ftable: str,
        on_delete: OnDelete = NO_ACTION_DEFAULT,
        required: bool = False,
        default: Any = NULL,
        unique: bool = False,
    ) -> None:
        super().__init__(ftable, required=required, default=default, unique=unique)
        self.on_delete = _check_on_delete(type(self).__name__, on_delete, self)

    def get_related_model(self) -> Any:
        """Return the referenced model class, or None if it is not defined."""
        return self._target()


def _check_on_delete(kind: str, on_delete: Any, column: Column[Any]) -> OnDelete:
    if on_delete is NO_ACTION_DEFAULT:
        raise ColumnError(
            f"No on_delete action specified: {kind}(..., on_delete=...) takes "
            f"one of {ON_DELETE} or a callable fn(referrer, deleted)"
        )
    if not isinstance(on_delete, str) and callable(on_delete):
        policy: OnDelete = on_delete
        return policy
    if on_delete not in ON_DELETE:
        raise ColumnError(
            f"{kind} on_delete={on_delete!r} is not one of {ON_DELETE} nor a "
            "callable fn(referrer, deleted)"
        )
    if on_delete == "set null" and column.required:
        raise ColumnError(f"{kind}: on_delete='set null' needs required=False")
    if on_delete == "set default" and column.required and column.default is NULL:
        raise ColumnError(
            f"{kind}: on_delete='set default' on a required column needs a default"
        )
    return str(on_delete)


class ManyToOne(_OwnedReference):
    """A reference to one entity of ``ftable`` (a model name or namespace).

    ``on_delete`` (required) says what happens to this entity when the
    referenced one is deleted: 'no action', 'restrict', 'cascade',
    'set null' or 'set default', or a callable ``fn(referrer, deleted)``.

    A callable is called once per referring entity (loaded) while the
    delete is planned, before anything is written, with the entity being
    deleted; referrers the same delete also deletes (cascade) are not
    passed to it. It may change the referrer (point it at another entity,
    set the column to None, change other columns): a referrer it changed
    is saved in the same write as the 'set null'/'set default' updates,
    with its update hooks; one it left unchanged is not written (as with
    'no action', its reference then dangles). It may raise to refuse the
    whole delete: nothing is written and the changes made in memory to
    the referrers are undone. It should not write to Redis itself.
    """

    def __init__(
        self,
        ftable: str,
        on_delete: OnDelete = NO_ACTION_DEFAULT,
        required: bool = False,
        default: Any = NULL,
    ) -> None:
        super().__init__(ftable, on_delete, required=required, default=default)


class OneToOne(_OwnedReference):
    """A ManyToOne that may also be ``unique`` (``on_delete`` as in ManyToOne)."""


class ForeignModel(_Reference):
    """A reference to a non-rom object: ``fmodel`` has ``.id`` and ``get(id)``."""

    def __init__(
        self, fmodel: Any, required: bool = False, default: Any = NULL
    ) -> None:
        super().__init__(fmodel, required=required, default=default)

    def _target(self) -> Any:
        return self.ftable

    def _convert(self, value: object) -> Any:
        if isinstance(value, self.ftable):
            return value
        return super()._convert(value)


class OneToMany:
    """The reverse side of a ManyToOne: reading it lists the referrers.

    ``column`` names the ManyToOne/OneToOne attribute of ``ftable`` to
    follow; it may be left out when there is exactly one.
    """

    attr: str = ""
    model_name: str = ""

    def __init__(self, ftable: str, column: str | None = None) -> None:
        if column in ON_DELETE:
            raise ColumnError(
                f"OneToMany({ftable!r}, {column!r}): the second argument is the "
                "referring column's name, not an on_delete action"
            )
        self.ftable = ftable
        self.column = column

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = name
        self.model_name = owner.__name__

    def get_related_model(self) -> Any:
        """Return the referring model class, or None if it is not defined."""
        return MODELS.get(self.ftable)

    def referring_column(self, owner_namespaces: tuple[str, ...]) -> str:
        """The attribute of ``ftable`` that points back at the owner model."""
        if self.column:
            return self.column
        model = self.get_related_model()
        if model is None:
            raise ORMError(
                f"{self.model_name}.{self.attr}: model {self.ftable!r} is not defined"
            )
        found = _references_to(model, owner_namespaces)
        if len(found) != 1:
            raise ColumnError(
                f"{self.model_name}.{self.attr}: {self.ftable} has {len(found)} "
                f"references to {self.model_name} ({found}); pass column=..."
            )
        return found[0]

    def __get__(self, instance: object | None, owner: type) -> Any:
        if instance is None:
            return self
        return run_sync(self.load_steps(instance))

    def load_steps(self, instance: Any) -> Steps[Any]:
        """The referring entities, read on each access (either transport)."""
        from ._lookup import get_by_steps  # _lookup imports this module

        model = self.get_related_model()
        owner = type(instance)
        column = self.referring_column((owner.__name__, owner._namespace))
        pk = state_of(instance).get(instance._pkey)
        if pk is None:  # a new entity without an id has no referrers yet
            return []
        cached = vars(instance).get(PREFETCHED, {}).get(self.attr)
        if cached is not None:  # loaded by a query's prefetch()
            return list(cached)
        return (yield from get_by_steps(model, {column: pk}))

    def __set__(self, instance: object, value: object) -> None:
        raise InvalidOperation(
            f"{self.model_name}.{self.attr} is a OneToMany: assign the "
            f"{self.ftable} side instead"
        )

    def __delete__(self, instance: object) -> None:
        self.__set__(instance, None)


def _references_to(model: Any, namespaces: tuple[str, ...]) -> list[str]:
    return [
        name
        for name, col in model._columns.items()
        if isinstance(col, _OwnedReference) and col.ftable in namespaces
    ]


def referrers_of(model: Any) -> list[tuple[Any, str, OnDelete]]:
    """``(referring model, attribute, on_delete)`` of every reference to ``model``.

    References name their target by class name or by namespace; both are
    looked up, and only columns that really resolve to ``model`` count.
    """
    found: list[tuple[Any, str, OnDelete]] = []
    for key in dict.fromkeys((model.__name__, model._namespace)):
        for namespace, attr, action in MODELS_REFERENCED.get(key, ()):
            referrer = MODELS.get(namespace)
            col = referrer._meta.columns.get(attr) if referrer else None
            if (
                isinstance(col, _OwnedReference)
                and col.get_related_model() is model
                and (referrer, attr, action) not in found
            ):
                found.append((referrer, attr, action))
    return found


def relation_columns(columns: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of ``columns`` whose target model must be defined when an
    entity is constructed (see ``check_related_models``)."""
    return {
        name: col
        for name, col in columns.items()
        if isinstance(col, (OneToMany, _OwnedReference))
    }


def check_related_models(model: str, columns: Mapping[str, Any]) -> None:
    """Raise ORMError if a relation of a model names a model that is not
    defined (checked when an entity is constructed, as rom 1.1.2 does)."""
    for name, col in columns.items():
        if isinstance(col, (OneToMany, _OwnedReference)) and (
            col.get_related_model() is None
        ):
            kind = type(col).__name__
            raise ORMError(
                f"{model}.{name}: {kind} target {col.ftable!r} is not a defined "
                "model; define a model with that class name or _namespace, or "
                "fix the name"
            )


def register_references(namespace: str, columns: Mapping[str, Any]) -> None:
    """Record the on_delete policies of a new model's references, and link
    the ManyToMany sides that the new model completes."""
    for name, col in columns.items():
        if isinstance(col, _OwnedReference):
            MODELS_REFERENCED.setdefault(col.ftable, []).append(
                (namespace, name, col.on_delete)
            )
    model = MODELS.get(namespace)
    if model is not None:
        _link_many_to_many(model)


# -- many-to-many ----------------------------------------------------------------

# What deleting an entity does to the entities related to it through a
# ManyToMany: drop the memberships, refuse the delete, or delete them too.
MANY_TO_MANY_ON_DELETE = ("remove", "restrict", "cascade")

# Declared sides whose other model is not defined yet.
_UNLINKED: list[ManyToMany] = []


class ManyToMany:
    """A many-to-many relation between two rom models, visible on both.

    ``tags = rom.ManyToMany('Tag', related_name='posts')`` on ``Post``
    gives ``post.tags`` and ``tag.posts`` (the second side is added to
    ``Tag`` when both models are defined). Each side reads as a
    ``RelatedSet``: ``all()``, ``ids()``, ``count()``, ``add(...)``,
    ``remove(...)``, ``set(...)``, ``clear()``, each change one atomic
    script call that updates both sides. ``Post.query.filter(tags=tag)``
    finds the posts of a tag.

    ``on_delete`` says what deleting a ``Tag`` does to its posts, and
    ``related_on_delete`` what deleting a ``Post`` does to its tags:
    'remove' (the default: only the memberships go), 'restrict' (refuse
    the delete while there are members) or 'cascade' (delete them too).
    """

    attr: str = ""
    model_name: str = ""

    def __init__(
        self,
        ftable: str,
        related_name: str,
        on_delete: str = "remove",
        related_on_delete: str = "remove",
    ) -> None:
        if not isinstance(ftable, str) or not ftable:
            raise ColumnError(
                f"ManyToMany takes the other model's class name or namespace, "
                f"got {ftable!r}"
            )
        if not isinstance(related_name, str) or not related_name.isidentifier():
            raise ColumnError(
                f"ManyToMany({ftable!r}, related_name=...) must name the "
                f"attribute of the other side, got {related_name!r}"
            )
        for name, value in (
            ("on_delete", on_delete),
            ("related_on_delete", related_on_delete),
        ):
            if value not in MANY_TO_MANY_ON_DELETE:
                raise ColumnError(
                    f"ManyToMany({ftable!r}) {name}={value!r} is not one of "
                    f"{MANY_TO_MANY_ON_DELETE}"
                )
        self.ftable = ftable
        self.related_name = related_name
        self.on_delete = on_delete
        self.related_on_delete = related_on_delete
        self.owner: Any = None
        # The side on the other model, once both models are defined.
        self.other: ManyToMany | None = None
        self.declared = True

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = name
        self.model_name = owner.__name__
        self.owner = owner

    def __repr__(self) -> str:
        return f"<ManyToMany {self.model_name}.{self.attr} <-> {self.ftable}>"

    def get_related_model(self) -> Any:
        """Return the other model class, or None if it is not defined."""
        return MODELS.get(self.ftable)

    def linked(self) -> ManyToMany:
        """The other side; ORMError if the other model is not defined yet."""
        if self.other is None:
            raise ORMError(
                f"{self.model_name}.{self.attr} is a ManyToMany with "
                f"{self.ftable!r}, which is not a defined model; define it (with "
                "that class name or _namespace) first"
            )
        return self.other

    @overload
    def __get__(self, instance: None, owner: type) -> ManyToMany: ...

    @overload
    def __get__(self, instance: object, owner: type) -> RelatedSet: ...

    def __get__(self, instance: object | None, owner: type) -> Any:
        if instance is None:
            return self
        from ._many_to_many import RelatedSet

        return RelatedSet(instance, self)

    def __set__(self, instance: object, value: object) -> None:
        raise InvalidOperation(
            f"{self.model_name}.{self.attr} is a ManyToMany: change it with "
            f".{self.attr}.set([...]), .add(...), .remove(...) or .clear()"
        )

    def __delete__(self, instance: object) -> None:
        self.__set__(instance, None)


def many_to_many_sides(model: Any) -> list[ManyToMany]:
    """The ManyToMany sides of ``model`` (declared or added as the other side)."""
    found: dict[str, ManyToMany] = {}
    for klass in reversed(model.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, ManyToMany):
                found[name] = value
    return list(found.values())


def many_to_many_side(model: Any, name: str) -> ManyToMany | None:
    """The ManyToMany side ``name`` of ``model``, or None."""
    for side in many_to_many_sides(model):
        if side.attr == name:
            return side
    return None


def _link_many_to_many(model: Any) -> None:
    # A side declared on this model, and the sides declared earlier that
    # name it, get their other side now if both models are defined.
    for side in many_to_many_sides(model):
        if side.declared and side.owner is model and side not in _UNLINKED:
            _UNLINKED.append(side)
    for side in list(_UNLINKED):
        target = side.get_related_model()
        owner = MODELS.get(side.owner.__name__) if side.owner else None
        if owner is not side.owner:  # a model replaced by a new definition
            _UNLINKED.remove(side)
            continue
        if target is not None:
            _UNLINKED.remove(side)
            _add_other_side(side, target)


def _add_other_side(side: ManyToMany, target: Any) -> None:
    name = side.related_name
    for model in (side.owner, target):
        if getattr(getattr(model, "_meta", None), "partitions", 0):
            raise ColumnError(
                f"{side.model_name}.{side.attr}: {model.__name__} is partitioned "
                f"(_partitions = {model._meta.partitions}), and partitioned "
                "models cannot have ManyToMany relations yet (a membership "
                "change writes both sides in one script, and their partitions "
                "lie in different slots); use a ManyToOne on a link model instead"
            )
        if getattr(getattr(model, "_meta", None), "expiring", False):
            raise ColumnError(
                f"{side.model_name}.{side.attr}: {model.__name__} declares _ttl, "
                "and expiring models cannot have ManyToMany relations (an expiry "
                "would leave the other side's membership sets behind); use a "
                "ManyToOne on a link model instead"
            )
    taken = vars(target).get(name, getattr(target, "_columns", {}).get(name))
    if taken is not None and not (
        isinstance(taken, ManyToMany)
        and not taken.declared
        and taken.ftable in (side.model_name, side.owner._namespace)
    ):
        raise ColumnError(
            f"{side.model_name}.{side.attr}: related_name={name!r} is already "
            f"an attribute of {target.__name__}; choose another related_name"
        )
    other = ManyToMany(
        side.owner._namespace,
        side.attr,
        on_delete=side.related_on_delete,
        related_on_delete=side.on_delete,
    )
    other.declared = False
    setattr(target, name, other)
    other.__set_name__(target, name)
    other.other = side
    side.other = other
