"""Loading the application: its connection, its model modules, its models."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

import redis

from . import connection
from ._registry import MODELS
from ._registry import registered_models

if TYPE_CHECKING:
    from .model import Model

__all__ = ["UsageError", "load_app", "pick_models"]


class UsageError(Exception):
    """A mistake in the command line: the message says how to fix it."""


def load_app(modules: Sequence[str], url: str | None, *, cluster: bool = False) -> None:
    """Connect to ``url`` (if given) and import the ``modules`` defining models.

    The connection is set before the import, so models that read the
    global connection while being defined use it too.
    """
    if cluster and not url:
        raise UsageError(
            "--cluster needs --url, the URL of any node of the cluster, e.g. "
            "--cluster --url redis://10.0.0.1:7000/0"
        )
    if url:
        try:
            if cluster:
                connection.set_connection_settings(url, cluster=True)
            else:
                connection.CONNECTION = redis.Redis.from_url(url)
        except ValueError as exc:
            raise UsageError(
                f"--url {url!r} is not a Redis URL ({exc}); pass one like "
                "redis://localhost:6379/0"
            ) from None
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            raise UsageError(
                f"--app {name}: the module did not import ({detail}); pass a "
                "module path importable from the current directory, such as "
                "myapp.models"
            ) from exc


def pick_models(names: Sequence[str]) -> list[type[Model]]:
    """The models named (by class name or namespace), or every model if none.

    Raises UsageError for an unknown name, or when no model is defined.
    """
    known = sorted(m._meta.name for m in registered_models())
    if not known:
        raise UsageError(
            "no models are defined: pass --app with the module that defines them"
        )
    if not names:
        return sorted(registered_models(), key=lambda m: m._meta.name)
    chosen: list[type[Model]] = []
    for name in names:
        model = MODELS.get(name)
        if model is None or "_meta" not in vars(model):
            raise UsageError(f"no model named {name!r}; the models are {known}")
        if model not in chosen:
            chosen.append(model)
    return chosen
