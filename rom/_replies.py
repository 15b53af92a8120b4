"""Redis replies as text: the one place bytes become str.

Replies are bytes unless the client decodes them (``decode_responses=True``);
rom stores UTF-8 text, so bytes are decoded as UTF-8 everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

__all__ = ["decode_row", "reply_row", "text", "text_or_none"]


def text(value: object) -> str:
    """``value`` as str: bytes decoded as UTF-8, anything else ``str()``-ed."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def text_or_none(value: object) -> str | None:
    """Like :func:`text`, but a missing value (None) stays None."""
    return None if value is None else text(value)


def decode_row(raw: Mapping[Any, Any]) -> dict[str, str]:
    """A row as read with HGETALL, fields and values as text."""
    try:
        # Every field and value is bytes unless the client decodes replies.
        return {k.decode(): v.decode() for k, v in raw.items()}
    except AttributeError:
        return {text(k): text(v) for k, v in raw.items()}


def reply_row(reply: Sequence[Any]) -> dict[str, str]:
    """The row of a script reply ``[id, field, value, ...]`` as text."""
    try:
        texts = [item.decode() for item in reply[1:]]
    except AttributeError:
        texts = [text(item) for item in reply[1:]]
    return dict(zip(texts[::2], texts[1::2], strict=False))
