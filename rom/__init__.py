"""rom: a Redis object mapper with rom 1.1.2's API and data layout.

Declare models with columns, save and load entities, and look them up by
unique and indexed columns; every write is one atomic server-side step.
"""

from __future__ import annotations

from . import columns
from . import exceptions
from . import index
from . import model
from . import query
from . import util
from ._persist import disable_lua_writes
from ._persist import enable_lua_writes
from ._q import Q
from ._registry import MODELS
from ._registry import MODELS_REFERENCED
from ._user_script import script_load
from .columns import Boolean
from .columns import Column
from .columns import Date
from .columns import DateTime
from .columns import Decimal
from .columns import Float
from .columns import IndexOnly
from .columns import Integer
from .columns import Json
from .columns import PrimaryKey
from .columns import SaferDateTime
from .columns import String
from .columns import Text
from .columns import Time
from .columns import UnsafeColumn
from .connection import connection_for
from .exceptions import ColumnError
from .exceptions import DataRaceError
from .exceptions import EntityDeletedError
from .exceptions import InvalidColumnValue
from .exceptions import InvalidOperation
from .exceptions import MissingColumn
from .exceptions import ORMError
from .exceptions import QueryError
from .exceptions import RestrictError
from .exceptions import UniqueKeyViolation
from .exceptions import WriteOutcomeUnknown
from .exceptions import WrongClientError
from .index import GeoIndex
from .index import Pattern
from .index import Prefix
from .index import Suffix
from .keygen import CASE_INSENSITIVE
from .keygen import FULL_TEXT
from .keygen import IDENTITY
from .keygen import IDENTITY_CI
from .keygen import IDENTITY_STRING
from .keygen import IDENTITY_STRING_CI
from .keygen import SIMPLE
from .keygen import SIMPLE_CI
from .keygen import encode_unique_constraint
from .keygen import prefix_score
from .model import Model
from .query import NOT_NULL
from .query import NUMERIC_TYPES
from .query import Query
from .relations import SKIP_ON_DELETE
from .relations import ForeignModel
from .relations import ManyToMany
from .relations import ManyToOne
from .relations import OneToMany
from .relations import OneToOne
from .session import session_scope
from .util import ClassProperty
from .util import session

# The package version: 2.x implements rom 1.1.2's API and data layout.
VERSION = "2.0.0"
__version__ = VERSION

# rom 1.1.2 imported these private helpers into the package namespace.
_prefix_score = prefix_score
_encode_unique_constraint = encode_unique_constraint
_connect = connection_for
_script_load = script_load

# The 2013 names of the write-path switch; Lua writes are the default.
_enable_lua_writes = enable_lua_writes
_disable_lua_writes = disable_lua_writes

COLUMN_TYPES = [
    Column,
    Integer,
    Boolean,
    Float,
    Decimal,
    DateTime,
    Date,
    Time,
    String,
    Text,
    Json,
    PrimaryKey,
    ManyToOne,
    ForeignModel,
    OneToMany,
    OneToOne,
    IndexOnly,
]


__all__ = [
    "CASE_INSENSITIVE",
    "COLUMN_TYPES",
    "FULL_TEXT",
    "IDENTITY",
    "IDENTITY_CI",
    "IDENTITY_STRING",
    "IDENTITY_STRING_CI",
    "MODELS",
    "MODELS_REFERENCED",
    "NOT_NULL",
    "NUMERIC_TYPES",
    "SIMPLE",
    "SIMPLE_CI",
    "SKIP_ON_DELETE",
    "VERSION",
    "Boolean",
    "ClassProperty",
    "Column",
    "ColumnError",
    "DataRaceError",
    "Date",
    "DateTime",
    "Decimal",
    "EntityDeletedError",
    "Float",
    "ForeignModel",
    "GeoIndex",
    "IndexOnly",
    "Integer",
    "InvalidColumnValue",
    "InvalidOperation",
    "Json",
    "ManyToMany",
    "ManyToOne",
    "MissingColumn",
    "Model",
    "ORMError",
    "OneToMany",
    "OneToOne",
    "Pattern",
    "Prefix",
    "PrimaryKey",
    "Q",
    "Query",
    "QueryError",
    "RestrictError",
    "SaferDateTime",
    "String",
    "Suffix",
    "Text",
    "Time",
    "UniqueKeyViolation",
    "UnsafeColumn",
    "WriteOutcomeUnknown",
    "WrongClientError",
    "__version__",
    "columns",
    "exceptions",
    "index",
    "model",
    "query",
    "session",
    "session_scope",
    "util",
]

MODELS["Model"] = Model
