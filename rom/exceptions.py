"""The error tree: rom 1.1.2's exception names and base classes, kept exactly.

Existing ``except`` clauses written for rom 1.1.2 keep working. The errors that
concern one entity also carry structured fields, so code can read them
without parsing the message.
"""

from __future__ import annotations

from typing import Any

import redis.exceptions

__all__ = [
    "BulkError",
    "ColumnError",
    "DataRaceError",
    "EntityDeletedError",
    "InvalidColumnValue",
    "InvalidOperation",
    "MissingColumn",
    "ORMError",
    "QueryError",
    "RestrictError",
    "UniqueKeyViolation",
    "UnsafeError",
    "WriteOutcomeUnknown",
    "WrongClientError",
]


class ORMError(Exception):
    """Base class of every error rom raises on purpose."""


class UniqueKeyViolation(ORMError):
    """A unique or unique_together value is already taken by another entity.

    ``args`` is ``(message, namespace, id)`` as in rom 1.1.2; ``column`` and
    ``value`` name the constraint that failed.
    """

    def __init__(
        self,
        message: str,
        namespace: str = "",
        id: str = "",
        column: str = "",
        value: object = None,
    ) -> None:
        super().__init__(message, namespace, id)
        self.namespace = namespace
        self.id = id
        self.column = column
        self.value = value

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidOperation(ORMError):
    """The operation is not allowed on this entity or column in its state."""


class QueryError(InvalidOperation):
    """A query or lookup was asked for something the model cannot answer."""


class RestrictError(InvalidOperation):
    """A delete was refused by an ``on_delete='restrict'`` reference."""


class _EntityConflict(InvalidOperation):
    """Shared shape of the two "another writer got there first" errors."""

    def __init__(self, message: str, namespace: str = "", id: str = "") -> None:
        super().__init__(message, namespace, id)
        self.namespace = namespace
        self.id = id

    def __str__(self) -> str:
        return str(self.args[0])


class DataRaceError(_EntityConflict):
    """Columns of the entity were changed in Redis since it was loaded.

    Also raised by ``Lock`` used as a context manager when it is held.
    """


# Deliberately not a DataRaceError subclass: a race is fixed by reloading,
# a deleted entity by re-creating it (save(force=True)). A subclass would let
# the order of except clauses pick the wrong fix.
class EntityDeletedError(_EntityConflict):
    """The entity's row was deleted by another writer since it was loaded."""


class ColumnError(ORMError):
    """A column or model is declared wrongly, or an entity cannot be written."""


class MissingColumn(ColumnError):
    """A required column has no value on a new entity."""


class InvalidColumnValue(ColumnError):
    """A value cannot be stored in a column (wrong type or not convertible).

    ``model``, ``column`` and ``value`` say which value was refused.
    """

    def __init__(
        self,
        message: str,
        model: str = "",
        column: str = "",
        value: object = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.column = column
        self.value = value


class InvalidColumnEncoding(InvalidColumnValue, UnicodeEncodeError):
    """A str given to a ``String`` (bytes) column has non-latin-1 characters.

    Both an ``InvalidColumnValue`` and, as in rom 1.1.2, a
    ``UnicodeEncodeError``: either ``except`` clause catches it.
    """

    def __init__(
        self, message: str, model: str, column: str, error: UnicodeEncodeError
    ) -> None:
        UnicodeEncodeError.__init__(
            self, error.encoding, error.object, error.start, error.end, error.reason
        )
        self.message = message
        self.model = model
        self.column = column
        self.value = error.object

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        error = UnicodeEncodeError(
            self.encoding, self.object, self.start, self.end, self.reason
        )
        return (type(self), (self.message, self.model, self.column, error))


class InvalidStoredEncoding(InvalidColumnValue, UnicodeDecodeError):
    """A field read from Redis is not UTF-8 (written by another client).

    rom stores every field as UTF-8 text. Both an ``InvalidColumnValue``
    (``column`` is the field, ``value`` its raw bytes) and, as in rom 1.1.2,
    a ``UnicodeDecodeError``.
    """

    def __init__(self, message: str, field: str, error: UnicodeDecodeError) -> None:
        UnicodeDecodeError.__init__(
            self, error.encoding, error.object, error.start, error.end, error.reason
        )
        self.message = message
        self.model = ""
        self.column = field
        self.value = error.object

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        error = UnicodeDecodeError(
            self.encoding, self.object, self.start, self.end, self.reason
        )
        return (type(self), (self.message, self.column, error))


class UnsafeError(ColumnError):
    """Kept for rom 1.1.2 compatibility; never raised."""


class BulkError(ORMError):
    """Kept for rom 1.1.2 compatibility; never raised."""


class WriteOutcomeUnknown(ORMError, redis.exceptions.ConnectionError):
    """A write was sent but its reply never came back, even after re-sending.

    Redis may or may not have applied it. The write carried a request token
    and Redis records each applied request, so nothing is lost or doubled:
    the entities named here remember the token, and their next ``save()``
    or ``delete()`` first asks Redis how the request ended (one read),
    adopts that outcome (the id and written values of an applied save) and
    makes sure the lost request can no longer apply. ``models`` and ``ids``
    name the entities (``None`` for a new entity whose id is not known);
    ``__cause__`` is the last connection error seen.

    Also a ``redis.exceptions.ConnectionError``, so code catching that for
    rom 1.1.2 keeps working.
    """

    def __init__(
        self,
        message: str,
        models: tuple[str, ...] = (),
        ids: tuple[str | None, ...] = (),
    ) -> None:
        super().__init__(message)
        self.models = models
        self.ids = ids

    def __str__(self) -> str:
        return str(self.args[0])


class WrongClientError(ORMError, TypeError):
    """A blocking client was given where an asyncio one is needed, or the reverse.

    The sync API (``save``, ``get``, ...) needs a ``redis.Redis``; the async
    API (``asave``, ``aget``, ...) makes a ``redis.asyncio.Redis`` from a
    blocking client's settings by itself, or uses an asyncio client given
    as a model's ``_conn``.
    """
