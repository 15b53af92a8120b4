"""``rom.util``: rom 1.1.2's utility module, kept as a facade over the new modules.

``rom.util.CONNECTION = client`` and ``rom.util.get_connection = f`` work as
in rom 1.1.2: the assignment is forwarded to ``rom.connection``, which every
call reads afresh.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from . import connection as _connection
from ._classproperty import ClassProperty
from .connection import REDIS_URI, set_connection_settings
from .connection import connection_for as _connect
from .keygen import (
    CASE_INSENSITIVE,
    FULL_TEXT,
    IDENTITY,
    IDENTITY_CI,
    IDENTITY_STRING,
    IDENTITY_STRING_CI,
    SIMPLE,
    SIMPLE_CI,
    STRING_INDEX_KEYGENS,
    STRING_INDEX_KEYGENS_STR,
    STRING_SORT_KEYGENS,
    STRING_SORT_KEYGENS_STR,
    dt2ts,
    encode_unique_constraint,
    prefix_score,
    t2ts,
    to_score,
    ts2dt,
    ts2t,
)
from .session import Session, session, use_null_session, use_rom_session

__all__ = [
    "CASE_INSENSITIVE",
    "CONNECTION",
    "FULL_TEXT",
    "IDENTITY",
    "IDENTITY_CI",
    "IDENTITY_STRING",
    "IDENTITY_STRING_CI",
    "NULL_SESSION",
    "REDIS_URI",
    "SIMPLE",
    "SIMPLE_CI",
    "STRING_INDEX_KEYGENS",
    "STRING_INDEX_KEYGENS_STR",
    "STRING_SORT_KEYGENS",
    "STRING_SORT_KEYGENS_STR",
    "ClassProperty",
    "Session",
    "dt2ts",
    "get_connection",
    "session",
    "set_connection_settings",
    "t2ts",
    "ts2dt",
    "ts2t",
    "use_null_session",
    "use_rom_session",
]

_prefix_score = prefix_score
_to_score = to_score
_encode_unique_constraint = encode_unique_constraint
_string_keygen = FULL_TEXT

# Names whose value lives in another module; reads and writes go there.
_FORWARDED = {
    "CONNECTION": _connection,
    "get_connection": _connection,
    "NULL_SESSION": sys.modules[session.__module__],
}


class _UtilModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        owner = _FORWARDED.get(name)
        if owner is None:
            raise AttributeError(f"module 'rom.util' has no attribute {name!r}")
        return getattr(owner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        owner = _FORWARDED.get(name)
        if owner is not None:
            setattr(owner, name, value)
        else:
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _UtilModule
