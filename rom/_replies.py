"""Redis replies as text: the one place bytes become str.

Replies are bytes unless the client decodes them (``decode_responses=True``);
rom stores UTF-8 text, so bytes are decoded as UTF-8 everywhere. A row
field that is not UTF-8 (written by another client) raises
``InvalidStoredEncoding`` naming the field and, when known, the key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from .exceptions import InvalidStoredEncoding

__all__ = ["decode_row", "known_fields", "reply_row", "text", "text_or_none"]


def text(value: object) -> str:
    """``value`` as str: bytes decoded as UTF-8, anything else ``str()``-ed."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def text_or_none(value: object) -> str | None:
    """Like :func:`text`, but a missing value (None) stays None."""
    return None if value is None else text(value)


# The field names rows are read with, decoded once: each model's stored
# columns and rom's own fields (the models register theirs when defined, so
# the table is as big as the schema). A row's field found here is not
# decoded again, and its name is the very str the loader looks it up with.
# Any other field is decoded (so checked for UTF-8) as it is read.
_NAMES: dict[bytes, str] = {b"-index-data-": "-index-data-"}


def known_fields(names: Iterable[str]) -> None:
    """Record field names that rows are read with (see ``_NAMES``)."""
    for name in names:
        _NAMES[name.encode()] = sys.intern(name)


def decode_row(raw: Mapping[Any, Any], key: str | None = None) -> dict[str, str]:
    """A row as read with HGETALL (of ``key``), fields and values as text.

    Raises:
        InvalidStoredEncoding: a field or value is not UTF-8.
    """
    names = _NAMES
    try:
        # Every field and value is bytes unless the client decodes replies
        # (a str field is not among the names: it fails on .decode()).
        return {names.get(k) or k.decode(): v.decode() for k, v in raw.items()}
    except AttributeError:
        return {text(k): text(v) for k, v in raw.items()}
    except UnicodeDecodeError:
        raise _not_utf8(list(raw.items()), key) from None


def reply_row(reply: Sequence[Any], key: str | None = None) -> dict[str, str]:
    """The row of a script reply ``[id, field, value, ...]`` as text.

    Raises:
        InvalidStoredEncoding: a field or value is not UTF-8.
    """
    names = _NAMES
    pairs = iter(reply[1:])
    try:
        return {
            names.get(f) or f.decode(): v.decode()
            for f, v in zip(pairs, pairs, strict=False)
        }
    except AttributeError:
        texts = [text(item) for item in reply[1:]]
    except UnicodeDecodeError:
        items = list(reply[1:])
        if key is None and reply and isinstance(reply[0], (bytes, int)):
            key = f"the row of id {text(reply[0])}"
        raise _not_utf8(list(zip(items[::2], items[1::2], strict=False)), key) from None
    return dict(zip(texts[::2], texts[1::2], strict=False))


def _not_utf8(items: list[tuple[Any, Any]], key: str | None) -> InvalidStoredEncoding:
    where = f" of {key}" if key else ""
    for field, value in items:
        name = (
            field.decode("utf-8", "backslashreplace")
            if isinstance(field, bytes)
            else str(field)
        )
        for raw, what in ((field, "name"), (value, "value")):
            if not isinstance(raw, bytes):
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                shown = raw if len(raw) <= 60 else raw[:57] + b"..."
                return InvalidStoredEncoding(
                    f"the {what} of field {name!r}{where} is not UTF-8 "
                    f"({shown!r}): rom stores every field as UTF-8 text, so "
                    "another client wrote it; rewrite it as UTF-8 (a String "
                    "column stores its bytes latin-1-decoded, then UTF-8) or "
                    "delete the field",
                    name,
                    exc,
                )
    raise AssertionError("no undecodable field")  # pragma: no cover
