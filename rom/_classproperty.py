"""ClassProperty: a property computed from the class, on class and instance access."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Generic
from typing import TypeVar

__all__ = ["ClassProperty"]

R = TypeVar("R")


class ClassProperty(Generic[R]):
    """Call ``get(cls)`` whether read on the class or on an instance."""

    def __init__(
        self,
        get: Callable[[Any], R],
        set: Callable[[Any, Any], None] | None = None,
        delete: Callable[[Any], None] | None = None,
    ) -> None:
        self.get = get
        self.set = set
        self.delete = delete
        self.__doc__ = get.__doc__

    def __get__(self, instance: object | None, owner: type | None = None) -> R:
        cls = owner if owner is not None else type(instance)
        return self.get(cls)

    def __set__(self, instance: object, value: Any) -> None:
        if self.set is None:
            raise AttributeError("can't set attribute")
        self.set(type(instance), value)

    def __delete__(self, instance: object) -> None:
        if self.delete is None:
            raise AttributeError("can't delete attribute")
        self.delete(type(instance))

    def getter(self, get: Callable[[Any], R]) -> ClassProperty[R]:
        """Return a copy with another getter."""
        return type(self)(get, self.set, self.delete)

    def setter(self, set: Callable[[Any, Any], None]) -> ClassProperty[R]:
        """Return a copy with a setter."""
        return type(self)(self.get, set, self.delete)

    def deleter(self, delete: Callable[[Any], None]) -> ClassProperty[R]:
        """Return a copy with a deleter."""
        return type(self)(self.get, self.set, delete)
