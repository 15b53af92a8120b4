"""Expiring entities: a model's ``_ttl``, an entity's pending expiry, and
what the scripts get to keep expired entities out of every read.

A model opts in by declaring ``_ttl`` (seconds, a ``timedelta``, or None
for "no default expiry, but entities may be given one"). Only such a model
has the expiry keys (``KeySpace.expiry``, ``KeySpace.expiry_data``) and
only its reads and writes pay for them; every other model keeps rom
1.1.2's layout and commands. Expiry times are Unix milliseconds compared
with the server's clock (``TIME`` inside the scripts), never the client's.

Pure planning: nothing here talks to Redis.
"""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING
from typing import Any

from .exceptions import ColumnError
from .exceptions import InvalidOperation

if TYPE_CHECKING:
    from ._keys import KeySpace
    from ._meta import ModelInfo
    from ._writer import WritePlan

__all__ = [
    "KEEP",
    "PERSIST",
    "Pending",
    "attach",
    "check_expiring",
    "expiry_table",
    "expiry_table_json",
    "model_ttl",
    "pending_expiry",
    "plan_expiry",
    "saved",
    "set_pending",
]

# What a save does to the entity's expiry: keep it, drop it, or set one.
KEEP = "keep"
PERSIST = "persist"
# ("rel", ms from the server's now) or ("abs", Unix ms), or KEEP / PERSIST.
Pending = tuple[str, int] | str

_UNSET = object()


def _to_ms(model: str, what: str, value: Any) -> int:
    if isinstance(value, datetime.timedelta):
        ms = int(value.total_seconds() * 1000)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ms = int(value * 1000)
    else:
        raise ColumnError(
            f"{model}.{what} takes seconds (int or float) or a timedelta, "
            f"got {type(value).__name__}: {value!r}"
        )
    if ms <= 0:
        raise ColumnError(
            f"{model}.{what} must be positive, got {value!r}; use persist() "
            "for no expiry"
        )
    return ms


def model_ttl(cls: type) -> tuple[bool, int | None]:
    """``(expiring, default ms)`` of a model class from its ``_ttl``.

    A class without ``_ttl`` (in it or a base model) is not expiring.
    """
    value = _UNSET
    for base in cls.__mro__:
        if "_ttl" in base.__dict__:
            value = base.__dict__["_ttl"]
            break
    if value is _UNSET:
        return False, None
    if value is None:
        return True, None
    return True, _to_ms(cls.__name__, "_ttl", value)


def pending_expiry(model: str, when: Any) -> Pending:
    """What ``entity.expire(when)`` asks: seconds or a timedelta from the
    server's now at the save, or a datetime (naive = UTC)."""
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return ("abs", int(when.timestamp() * 1000))
    return ("rel", _to_ms(model, "expire()", when))


def check_expiring(info: ModelInfo, what: str) -> None:
    """Refuse ``what`` on a model that did not declare ``_ttl``."""
    if not info.expiring:
        raise InvalidOperation(
            f"{info.name}.{what}: {info.name} has no expiry; declare "
            f"_ttl on the class (seconds, a timedelta, or None for no "
            "default) to give its entities one"
        )


def plan_expiry(info: ModelInfo, pending: Pending | None, new: bool) -> Any:
    """The ``x`` member of a save plan of an expiring model: ``"keep"``,
    ``"persist"`` or ``[kind, ms]``; a new entity with nothing pending gets
    the model's default."""
    if pending is None:
        if new and info.ttl_ms is not None:
            return ["rel", info.ttl_ms]
        return PERSIST if new else KEEP
    return pending if isinstance(pending, str) else list(pending)


# The entity attribute holding what its next save does to its expiry.
_PENDING = "_rom_expiry_pending"


def set_pending(entity: Any, pending: Pending) -> None:
    """Remember what ``entity``'s next save does to its expiry."""
    object.__setattr__(entity, _PENDING, pending)


def attach(plan: WritePlan, info: ModelInfo, entity: Any, new: bool) -> None:
    """Give a save plan of an expiring model its expiry (``plan_expiry``)."""
    plan.expiry = plan_expiry(info, entity.__dict__.get(_PENDING), new)
    plan.expiry_keys = info.keys.expiry_keys(list(info.unsafe))


def saved(entity: Any) -> None:
    """The entity's pending expiry was written."""
    entity.__dict__.pop(_PENDING, None)


def expiry_table(info: ModelInfo, keys: KeySpace | None = None) -> dict[str, object]:
    """The key table of an expiring model for its scripts:
    ``KeySpace.script_keys()`` and the expiry keys under ``x``; of the
    partition ``keys`` if given, else of ``info.keys``."""
    keys = info.keys if keys is None else keys
    table = keys.script_keys()
    table["x"] = keys.expiry_keys(list(info.unsafe))
    return table


def expiry_table_json(info: ModelInfo) -> str:
    """``expiry_table`` as the JSON scripts take."""
    return json.dumps(expiry_table(info), ensure_ascii=False, separators=(",", ":"))
