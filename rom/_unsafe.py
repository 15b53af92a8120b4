"""UnsafeColumn: a private Redis key per entity, and the handle that reaches it.

The key ``<ns>:<id>:<attr>`` may hold any Redis type; rom neither stores
nor indexes it, and deletes it with the entity. Re-exported by
:mod:`rom.columns`, its rom 1.1.2 home.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import overload

from ._keys import INDEX_SUFFIXES
from .exceptions import ColumnError
from .exceptions import InvalidColumnValue

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["UnsafeColumn", "UnsafeHandle"]

# An UnsafeColumn key <ns>:<id>:<attr> must not look like an index key.
_RESERVED_UNSAFE_NAMES = frozenset({*INDEX_SUFFIXES, ""})


class UnsafeHandle:
    """Redis commands bound to one entity's private key ``<ns>:<id>:<attr>``.

    ``handle.rpush('x')`` runs ``RPUSH <ns>:<id>:<attr> x`` on the model's
    connection; pass ``skip_key=True`` to leave the key out.
    """

    __slots__ = ("_conn", "key")

    def __init__(self, conn: Any, key: str) -> None:
        self._conn = conn
        self.key = key

    def __getattr__(self, command: str) -> Callable[..., Any]:
        method = getattr(self._conn, command)

        def call(*args: Any, skip_key: bool = False, **kwargs: Any) -> Any:
            if skip_key:
                return method(*args, **kwargs)
            return method(self.key, *args, **kwargs)

        return call

    def __repr__(self) -> str:
        return f"<UnsafeHandle {self.key}>"


class UnsafeColumn:
    """A private Redis key per entity (any type), deleted with the entity.

    Not stored in the row, not indexed, not tracked for changes; reading the
    attribute gives an ``UnsafeHandle`` for the key.
    """

    attr: str = ""
    model_name: str = ""

    def __set_name__(self, owner: type, name: str) -> None:
        # The name is checked by check_name() at model creation: an error
        # raised here would reach the user wrapped in a RuntimeError.
        self.attr = name
        self.model_name = owner.__name__

    def check_name(self, model: str, name: str) -> None:
        """Refuse names that clash with index key suffixes (ColumnError)."""
        if name in _RESERVED_UNSAFE_NAMES:
            raise ColumnError(
                f"{model}.{name}: UnsafeColumn names cannot be one of "
                f"{sorted(_RESERVED_UNSAFE_NAMES - {''})}; rename the attribute"
            )

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type) -> UnsafeHandle: ...

    def __get__(self, instance: object | None, owner: type) -> Self | UnsafeHandle:
        if instance is None:
            return self
        return instance._unsafe_handle(self.attr)  # type: ignore[attr-defined, no-any-return]

    def __set__(self, instance: object, value: object) -> None:
        raise InvalidColumnValue(
            f"{self.model_name}.{self.attr} is an UnsafeColumn: use its commands "
            f"(e.g. entity.{self.attr}.set(...)) instead of assigning",
            self.model_name,
            self.attr,
            value,
        )

    def __delete__(self, instance: object) -> None:
        instance._unsafe_handle(self.attr).delete()  # type: ignore[attr-defined]
