"""The model registry: class names and namespaces to model classes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "MODELS",
    "MODELS_REFERENCED",
    "register_model",
    "registered_models",
    "same_definition",
]

# name or namespace -> model class; every model is registered under both.
MODELS: dict[str, type[Model]] = {}

# referenced namespace -> [(referencing namespace, attr, on_delete action)]
MODELS_REFERENCED: dict[str, list[tuple[str, str, Any]]] = {}


def registered_models() -> list[type[Model]]:
    """Each registered model once (MODELS has it under its name and its
    namespace), without the base Model."""
    found = {id(m): m for m in MODELS.values() if "_meta" in vars(m)}
    return list(found.values())


def same_definition(a: type, b: type) -> bool:
    """True if ``a`` and ``b`` come from one class statement run again (a
    reloaded module, a re-run notebook cell): same module, same qualified name."""
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


def register_model(cls: type[Model]) -> None:
    """Register ``cls`` under its name and namespace, replacing an earlier
    run of the same class statement (and the references it recorded)."""
    earlier = [
        m for m in registered_models() if m is not cls and same_definition(m, cls)
    ]
    for old in earlier:
        for key in [k for k, m in MODELS.items() if m is old]:
            del MODELS[key]
        for target, refs in list(MODELS_REFERENCED.items()):
            refs[:] = [r for r in refs if r[0] != old._namespace]
            if not refs:
                del MODELS_REFERENCED[target]
    MODELS[cls.__name__] = cls
    MODELS[cls._namespace] = cls
