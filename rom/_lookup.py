"""Loading entities by id, by unique value and by index: ``get`` and ``get_by``.

``Model.get`` and ``Model.get_by`` are front ends for these functions. Each
lookup reads Redis once: ids held by the session cost nothing, the others
are read together; a unique value or a numeric range is resolved and its
rows read in one script call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from . import _claims
from . import _expiry_reads
from . import _scripts
from . import _transport
from ._io import Pipeline
from ._io import Steps
from ._io import call
from ._io import run_sync
from ._replies import reply_row
from ._replies import text
from ._search import RangeFilter
from ._search import query_keys
from ._search import range_bound
from ._state import state_of
from .columns import Column
from .columns import IndexOnly
from .connection import is_cluster
from .connection import sync_client
from .exceptions import QueryError
from .query import Query
from .relations import _Reference
from .relations import reference_id
from .session import session

if TYPE_CHECKING:
    from .model import Model

__all__ = ["ID_COLLECTIONS", "get", "get_by", "get_by_steps", "get_steps"]

M = TypeVar("M", bound="Model")

# What get() takes as "several ids"; anything else is one id.
ID_COLLECTIONS = (list, tuple, set, frozenset)


def get(model: type[M], ids: Any) -> M | list[M] | None:
    """One entity by id (or None), or the entities of a collection of ids.

    A collection gives the entities found, in the order asked.
    """
    if type(ids) is int and not model._meta.expiring:
        # The common call, one id, on the blocking API: get_steps's work
        # without its generator and request (the same transport call).
        client = sync_client(model._connection)  # refuses an asyncio client
        if _transport.lean_sync(client):
            key, cached = _held(model, ids)
            if cached is not None:
                return cached
            raw = _transport.sync_command(client, "hgetall", (key,), _NO_KWARGS)
            return _one(model, key, ids, raw)
    return run_sync(get_steps(model, ids))


_NO_KWARGS: dict[str, Any] = {}  # shared, never changed


def _held(model: type[M], id: int) -> tuple[str, M | None]:
    # The row key of ``id``, and the session's saved entity of it if any.
    key = model._meta.entity_key(id)
    cached = session.get(key)
    if isinstance(cached, model) and not state_of(cached).new:
        return key, cached
    return key, None


def _one(model: type[M], key: str, id: int, raw: Any) -> M | None:
    # The entity of one row read (an empty reply: no such row).
    if not raw:
        return None
    return session.adopt_replies(model, (key,), (b"%d" % id,), (raw,))[0]


def get_steps(model: type[M], ids: Any) -> Steps[M | list[M] | None]:
    """``get`` as steps, for either transport."""
    if type(ids) is int and not model._meta.expiring:
        # The common call, one id: _load_ids's work without its collections.
        key, cached = _held(model, ids)
        if cached is not None:
            return cached
        raw = yield from call(model._connection, "hgetall", key)
        return _one(model, key, ids, raw)
    single = not isinstance(ids, ID_COLLECTIONS)
    if not single and type(ids) is list and all(type(i) is int for i in ids):
        wanted = list(ids)  # the common list of ints: what _to_id gives
    else:
        wanted = [_to_id(model.__name__, i) for i in ([ids] if single else ids)]
    found = yield from _load_ids(model, wanted)
    if single:
        return found.get(wanted[0])
    return [found[i] for i in wanted if i in found]


def _to_id(model: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    digits = text(value).strip() if isinstance(value, (str, bytes)) else None
    if digits is None or not digits.lstrip("-").isdigit():
        raise ValueError(
            f"{model}.get() takes integer ids (or their strings), got "
            f"{type(value).__name__}: {value!r}"
        )
    return int(digits)


def _load_ids(model: type[M], ids: list[int]) -> Steps[dict[int, M]]:
    found: dict[int, M] = {}
    if model._meta.expiring:
        # Even the session's entities are asked for (one script call): an
        # entity whose expiry came is not returned, though a session holds
        # it; an alive one is the session's entity, as for other models.
        wanted = list(dict.fromkeys(ids))
        alive = yield from _expiry_reads.read_ids(
            model._connection, model._meta, wanted
        )
        for i, row in zip(wanted, alive, strict=True):
            if row:
                found[i] = model._adopt(row)
        return found
    # Each id's row key is built once; the session is looked up once.
    unique = dict(zip(ids, model._meta.entity_keys(ids), strict=True))
    missing: list[tuple[int, str]] = []
    cache = session.get_many(unique.values())
    for (i, key), cached in zip(unique.items(), cache, strict=True):
        if isinstance(cached, model) and not state_of(cached).new:
            found[i] = cached
        else:
            missing.append((i, key))
    if len(missing) == 1:
        # One command is atomic by itself: no MULTI/EXEC, no pipeline.
        i, key = missing[0]
        raw = yield from call(model._connection, "hgetall", key)
        if raw:
            found[i] = session.adopt_replies(model, (key,), (b"%d" % i,), (raw,))[0]
    elif missing:
        rows: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...] = tuple(
            ("hgetall", (key,), {}) for _, key in missing
        )
        # A partitioned model's rows lie in many slots on a cluster: no one
        # transaction holds them, each row is read whole by itself.
        atomic = not model._meta.partitions or not is_cluster(model._connection)
        replies = yield Pipeline(model._connection, rows, transaction=atomic)
        read = [
            (i, key, raw) for (i, key), raw in zip(missing, replies, strict=True) if raw
        ]
        ids = [i for i, _, _ in read]
        keys = [key for _, key, _ in read]
        raws = [raw for _, _, raw in read]
        adopted = session.adopt_replies(model, keys, [b"%d" % i for i in ids], raws)
        found.update(zip(ids, adopted, strict=True))
    return found


def get_by(model: type[M], kwargs: dict[str, Any]) -> Any:
    """``Model.get_by(**kwargs)``: by primary key, unique column or index."""
    return run_sync(get_by_steps(model, kwargs))


def get_by_steps(model: type[M], kwargs: dict[str, Any]) -> Steps[Any]:
    """``get_by`` as steps, for either transport."""
    limit = kwargs.pop("_limit", None)
    numeric = bool(kwargs.pop("_numeric", False))
    if len(kwargs) != 1:
        raise QueryError(
            f"{model.__name__}.get_by() takes exactly one attribute, you "
            f"provided {len(kwargs)}: {sorted(kwargs)}"
        )
    if limit is not None and not (
        isinstance(limit, (list, tuple))
        and len(limit) == 2
        and all(isinstance(v, int) for v in limit)
    ):
        raise QueryError(
            f"{model.__name__}.get_by(_limit=...) takes (offset, count) ints, "
            f"got {limit!r}"
        )
    ((attr, value),) = kwargs.items()
    found = yield from _lookup(model, attr, value, limit, numeric)
    return found


def _lookup(
    model: type[M], attr: str, value: Any, limit: Any, numeric: bool
) -> Steps[Any]:
    info = model._meta
    if isinstance(value, tuple) and len(value) != 2:
        raise QueryError(
            f"{model.__name__}.get_by({attr}=...) ranges are (low, high) "
            f"tuples, got {value!r}"
        )
    if attr == info.pk:
        return (yield from get_steps(model, value))
    col = info.columns.get(attr)
    if isinstance(col, Column) and col.unique and not (col.index and numeric):
        if isinstance(value, tuple):
            raise QueryError(
                f"Cannot query a unique index with a range: {model.__name__}."
                f"{attr} is unique; pass a value or a list of values"
            )
        return (yield from _by_unique(model, col, value))
    return (yield from _by_index(model, attr.split(":")[0], attr, value, limit))


def _unique_lookup_value(col: Column[Any], value: Any) -> str:
    if isinstance(col, IndexOnly) or (col.keygen is not None and not col.index):
        if isinstance(value, bytes):
            return value.decode("utf-8")
        return value if isinstance(value, str) else str(value)
    converted = col.validate(value)
    return col.to_redis(converted)


def _by_unique(model: type[M], col: Column[Any], value: Any) -> Steps[Any]:
    values = list(value) if isinstance(value, (list, set, frozenset)) else [value]
    # None is never stored, so it never matches (and is not the text 'None').
    values = [v for v in values if v is not None]
    if not values:
        return None if not isinstance(value, (list, set, frozenset)) else []
    wires = [_unique_lookup_value(col, v) for v in values]
    if model._meta.partitions:
        # In the partitions the values hash to; the rows say who has them.
        rows = yield from _claims.find(model, col.attr, wires)
        held = [model._adopt(row) if row else None for row in rows]
        if not isinstance(value, (list, set, frozenset)):
            return held[0]
        return [entity for entity in held if entity is not None]
    keys = model._meta.keys
    if model._meta.expiring:
        replies = yield from _expiry_reads.read_unique(
            model._connection, model._meta, col.attr, wires
        )
    else:
        replies = yield from _scripts.fetch_by_unique_steps(
            model._connection,
            [keys.unique(col.attr), keys.probe],
            keys.row_prefix,
            wires,
        )
    found: list[M | None] = []
    for reply in replies:
        row = reply_row(reply) if reply else None
        found.append(model._adopt(row) if row else None)
    if not isinstance(value, (list, set, frozenset)):
        return found[0]
    return [entity for entity in found if entity is not None]


def _by_index(
    model: type[M], base: str, attr: str, value: Any, limit: Any
) -> Steps[list[M]]:
    info = model._meta
    col = info.columns.get(base)
    if not isinstance(col, Column) or not col.indexed:
        raise QueryError(
            f"Cannot query on a column without an index: {model.__name__}."
            f"{base} (declare it with index=True)"
        )
    where = f"{model.__name__}.{attr}"
    if value is None:
        raise QueryError(
            f"{model.__name__}.get_by({attr}=None): entities without a value "
            "have no index entry, so None cannot be searched"
        )
    if isinstance(col, _Reference) and not isinstance(value, tuple):
        value = int(reference_id(col.validate(value)))
    if isinstance(value, tuple):
        low, high = value
    elif col._keygen_name == "_numeric_keygen" or isinstance(col, _Reference):
        low = high = value
    else:
        query = model.query.filter(**{attr: value})
        return (yield from (query.limit(*limit) if limit else query).all_steps())
    lo = range_bound(where, col, low) or "-inf"
    hi = range_bound(where, col, high) or "+inf"
    offset, count = limit if limit else (0, -1)
    if offset < 0:  # what ZRANGEBYSCORE ... LIMIT gives a negative offset
        return []
    # rom 1.1.2 read the ids, then the rows; one script call does both,
    # in the same order (ZRANGEBYSCORE), dropping rows that are gone.
    ranged = RangeFilter(query_keys(info).index(attr), lo, hi)
    bounds = (offset, None if count < 0 else count)
    return (yield from Query(model, (ranged,), limit=bounds).all_steps())
