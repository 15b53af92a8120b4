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
from ._expire_due import aexpire_due
from ._expire_due import expire_due
from ._unique_sweep import asweep_unique
from ._unique_sweep import sweep_unique
from ._user_script import NO_SCRIPT_MESSAGES
from ._user_script import script_load
from .connection import REDIS_URI
from .connection import close_async_connections
from .connection import connection_for
from .connection import get_async_connection
from .connection import set_connection_settings
from .consistency import Report
from .consistency import acheck
from .consistency import check
from .keygen import CASE_INSENSITIVE
from .keygen import FULL_TEXT
from .keygen import IDENTITY
from .keygen import IDENTITY_CI
from .keygen import IDENTITY_STRING
from .keygen import IDENTITY_STRING_CI
from .keygen import SIMPLE
from .keygen import SIMPLE_CI
from .keygen import STRING_INDEX_KEYGENS
from .keygen import STRING_INDEX_KEYGENS_STR
from .keygen import STRING_SORT_KEYGENS
from .keygen import STRING_SORT_KEYGENS_STR
from .keygen import boolean_keygen
from .keygen import dt2ts
from .keygen import encode_unique_constraint
from .keygen import numeric_keygen
from .keygen import prefix_score
from .keygen import t2ts
from .keygen import to_score
from .keygen import ts2dt
from .keygen import ts2t
from .locks import EntityLock
from .locks import Lock
from .maintenance import Progress
from .maintenance import aclean_old_index
from .maintenance import aclean_unsafe_cols
from .maintenance import arefresh_indices
from .maintenance import clean_old_index
from .maintenance import clean_unsafe_cols
from .maintenance import refresh_all_indexes
from .maintenance import refresh_indices
from .maintenance import show_progress
from .relations import _reference_keygen as reference_keygen
from .session import Session
from .session import session
from .session import use_null_session
from .session import use_rom_session

# CONNECTION, get_connection and NULL_SESSION are also public: they are
# forwarded to the module that owns them (see _UtilModule below).
__all__ = [
    "CASE_INSENSITIVE",
    "FULL_TEXT",
    "IDENTITY",
    "IDENTITY_CI",
    "IDENTITY_STRING",
    "IDENTITY_STRING_CI",
    "NO_SCRIPT_MESSAGES",
    "REDIS_URI",
    "SIMPLE",
    "SIMPLE_CI",
    "STRING_INDEX_KEYGENS",
    "STRING_INDEX_KEYGENS_STR",
    "STRING_SORT_KEYGENS",
    "STRING_SORT_KEYGENS_STR",
    "ClassProperty",
    "EntityLock",
    "Lock",
    "Progress",
    "Report",
    "Session",
    "acheck",
    "aclean_old_index",
    "aclean_unsafe_cols",
    "aexpire_due",
    "arefresh_indices",
    "asweep_unique",
    "check",
    "clean_old_index",
    "clean_unsafe_cols",
    "close_async_connections",
    "dt2ts",
    "expire_due",
    "get_async_connection",
    "refresh_all_indexes",
    "refresh_indices",
    "session",
    "set_connection_settings",
    "show_progress",
    "sweep_unique",
    "t2ts",
    "ts2dt",
    "ts2t",
    "use_null_session",
    "use_rom_session",
]

# rom 1.1.2's private helpers, kept under their old names for code that
# reached into rom.util.
_prefix_score = prefix_score
_to_score = to_score
_encode_unique_constraint = encode_unique_constraint
_string_keygen = FULL_TEXT
_numeric_keygen = numeric_keygen
_boolean_keygen = boolean_keygen
_many_to_one_keygen = reference_keygen
_connect = connection_for
_script_load = script_load

# Names whose value lives in another module; reads and writes go there.
_FORWARDED = {
    "CONNECTION": _connection,
    "get_connection": _connection,
    "NULL_SESSION": sys.modules[session.__module__],
}


def _forwarded(name: str, owner: types.ModuleType) -> property:
    # A data descriptor on the module's class, so tools that save and restore
    # attributes (pytest's monkeypatch.setattr and its undo) see the value.
    def get(module: types.ModuleType) -> Any:
        return getattr(owner, name)

    def put(module: types.ModuleType, value: Any) -> None:
        setattr(owner, name, value)

    return property(get, put)


class _UtilModule(types.ModuleType):
    """``rom.util``, whose forwarded names read and write their owner module."""


for _name, _owner in _FORWARDED.items():
    setattr(_UtilModule, _name, _forwarded(_name, _owner))
del _name, _owner

sys.modules[__name__].__class__ = _UtilModule
