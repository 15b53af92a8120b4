"""The two errors that are both a rom error and a Unicode error."""

from __future__ import annotations

import copy
import pickle

import pytest

from rom.exceptions import ColumnError
from rom.exceptions import InvalidColumnEncoding
from rom.exceptions import InvalidColumnValue
from rom.exceptions import InvalidStoredEncoding


def _encoding_error() -> InvalidColumnEncoding:
    try:
        "a\u20ac".encode("latin-1")
    except UnicodeEncodeError as exc:
        return InvalidColumnEncoding("M.s: not latin-1", "M", "s", exc)
    raise AssertionError("unreachable")


def _decoding_error() -> InvalidStoredEncoding:
    try:
        b"\xff".decode("utf-8")
    except UnicodeDecodeError as exc:
        return InvalidStoredEncoding("field 's' of M:1 is not UTF-8", "s", exc)
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("make", "unicode_base"),
    [(_encoding_error, UnicodeEncodeError), (_decoding_error, UnicodeDecodeError)],
)
def test_bases_fields_and_copies(make: object, unicode_base: type) -> None:
    """Both bases catch it; fields, message and pickling survive."""
    error = make()  # type: ignore[operator]
    assert isinstance(
        error, (InvalidColumnValue, ColumnError, unicode_base, ValueError)
    )
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(clone) is type(error)
        assert str(clone) == str(error)
        assert (clone.model, clone.column, clone.value) == (
            error.model,
            error.column,
            error.value,
        )
        assert (clone.start, clone.end, clone.reason) == (
            error.start,
            error.end,
            error.reason,
        )
