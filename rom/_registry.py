"""The model registry: class names and namespaces to model classes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .model import Model

__all__ = ["MODELS", "MODELS_REFERENCED"]

# name or namespace -> model class; every model is registered under both.
MODELS: dict[str, type[Model]] = {}

# referenced namespace -> [(referencing namespace, attr, on_delete action)]
MODELS_REFERENCED: dict[str, list[tuple[str, str, Any]]] = {}
