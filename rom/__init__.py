"""rom: a Redis object mapper with rom 1.1.2's API and data layout.

Declare models with columns, save and load entities, and look them up by
unique and indexed columns; every write is one atomic server-side step.
"""

from __future__ import annotations

import datetime
import decimal

from . import columns, exceptions, index, model, util
from ._persist import disable_lua_writes as _disable_lua_writes
from ._persist import enable_lua_writes as _enable_lua_writes
from ._registry import MODELS, MODELS_REFERENCED
from .columns import (
    Boolean,
    Column,
    Date,
    DateTime,
    Decimal,
    Float,
    IndexOnly,
    Integer,
    Json,
    PrimaryKey,
    SaferDateTime,
    String,
    Text,
    Time,
    UnsafeColumn,
)
from .exceptions import (
    ColumnError,
    DataRaceError,
    EntityDeletedError,
    InvalidColumnValue,
    InvalidOperation,
    MissingColumn,
    ORMError,
    QueryError,
    RestrictError,
    UniqueKeyViolation,
)
from .index import GeoIndex, Pattern, Prefix, Suffix
from .keygen import (
    CASE_INSENSITIVE,
    FULL_TEXT,
    IDENTITY,
    IDENTITY_CI,
    IDENTITY_STRING,
    IDENTITY_STRING_CI,
    SIMPLE,
    SIMPLE_CI,
)
from .model import Model
from .relations import (
    SKIP_ON_DELETE,
    ForeignModel,
    ManyToOne,
    OneToMany,
    OneToOne,
)
from .util import ClassProperty, session

VERSION = "1.1.2"

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

NUMERIC_TYPES = (
    int,
    float,
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
)

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
    "ManyToOne",
    "MissingColumn",
    "Model",
    "ORMError",
    "OneToMany",
    "OneToOne",
    "Pattern",
    "Prefix",
    "PrimaryKey",
    "QueryError",
    "RestrictError",
    "SaferDateTime",
    "String",
    "Suffix",
    "Text",
    "Time",
    "UniqueKeyViolation",
    "UnsafeColumn",
    "columns",
    "exceptions",
    "index",
    "model",
    "session",
    "util",
]

MODELS["Model"] = Model
