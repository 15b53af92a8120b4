"""``Model.transfer()``: move an amount between two entities in one script call."""

from __future__ import annotations

import decimal
from typing import TYPE_CHECKING
from typing import Any

import redis

from . import _scripts
from ._io import Steps
from ._persist import save_entities_steps
from ._replies import text
from ._state import state_of
from .exceptions import InvalidOperation

if TYPE_CHECKING:
    from .model import Model

__all__ = ["transfer_steps"]


def transfer_steps(
    source: Model,
    dest: Model,
    attr: str,
    value: Any,
    txn: Model,
    txn_attr: str,
    decimal_places: int = 0,
    refresh_entities: bool = True,
    refresh_index: bool = True,
) -> Steps[None]:
    """Move ``value`` from ``source.attr`` to ``dest.attr``; set ``txn.txn_attr = 1``.

    All three writes happen atomically, or none: ``ValueError`` says why
    ('already sent', 'not enough credit', 'entity deleted'). The three must
    be in one slot group (``rom._keys.slot_group``): one script, one slot.
    The script does not touch indexes; ``refresh_index`` reloads the
    entities and saves them in full afterwards, which rebuilds their index
    entries.
    """
    entities = (source, dest, txn)
    for entity in entities:
        if entity._meta.expiring:
            raise InvalidOperation(
                f"transfer() does not check expiry, and {entity._meta.name} "
                "declares _ttl; update the entities and save them instead "
                "(a save checks the expiry atomically)"
            )
    amount = _check(entities, value, decimal_places)
    keys = [entity._pk for entity in entities]
    args = [attr, txn_attr, amount, int(decimal_places)]
    script = _scripts.load("transfer")
    reply = yield from script.steps(source._connection, keys, args)
    message = text(reply)
    if message != "ok":
        raise ValueError(message)
    if refresh_entities or refresh_index:
        for entity in _distinct(entities):
            yield from entity.refresh_steps()
    if refresh_index:
        yield from save_entities_steps(_distinct(entities), full=True, force=False)


def _distinct(entities: tuple[Model, ...]) -> list[Model]:
    return list({id(e): e for e in entities}.values())


def _check(entities: tuple[Model, ...], value: Any, places: int) -> str:
    groups = {
        entity._meta.keys_for(entity._primary_key()).slot_group for entity in entities
    }
    partitioned = sorted({e._meta.name for e in entities if e._meta.partitions})
    if len(groups) != 1 and partitioned:
        raise ValueError(
            "transfer() is one atomic script, so its three entities must be in "
            f"one hash slot; {', '.join(partitioned)} is partitioned and on a "
            "Redis Cluster each partition has a slot of its own, so these "
            "entities are in different slots. Update the entities and save "
            "them instead, or keep the balances in an unpartitioned model"
        )
    servers = {_server(entity._connection) for entity in entities}
    if len(servers) != 1:
        raise ValueError(
            "transfer() needs all three entities on the same Redis server and "
            f"database, got {sorted(map(str, servers))}"
        )
    if len(groups) != 1:
        # Split into one script per slot it would stop being all-or-nothing.
        names = sorted({entity._meta.namespace for entity in entities})
        raise ValueError(
            "transfer() is one atomic script, so its three entities must be in "
            f"one hash slot group; the namespaces {names} have the hash tags "
            f"{sorted(groups)}. Give their models namespaces with the same "
            "hash tag (e.g. '{bank}account' and '{bank}txn')"
        )
    for entity in entities:
        state = state_of(entity).status
        if state != "loaded":
            raise ValueError(
                f"transfer() needs saved, unmodified entities; {entity!r} is "
                f"{state} (save or refresh it first)"
            )
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        raise ValueError(f"transfer() value must be a number, got {value!r}")
    if not value > 0:
        raise ValueError(f"transfer() value must be > 0, got {value!r}")
    if isinstance(places, bool) or not isinstance(places, int) or places < 0:
        raise ValueError(
            f"transfer() decimal_places must be an int >= 0, got {places!r}"
        )
    return repr(value) if isinstance(value, float) else str(value)


def _server(conn: redis.Redis) -> tuple[Any, ...]:
    # "Same server" rather than "same client object": two clients of one
    # server and database see the same keys.
    kwargs = conn.connection_pool.connection_kwargs
    return (
        kwargs.get("host"),
        kwargs.get("port"),
        kwargs.get("path"),
        int(kwargs.get("db") or 0),
    )
