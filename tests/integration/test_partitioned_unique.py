"""Unique values of partitioned models: in the value's partition, exact.

The claim/write/confirm protocol of rom/_claims.py, step by step, on one
server and (``-m cluster --rom-cluster``) on a Redis Cluster, where the
value's slot and the entity's slot differ.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis

import rom
from rom import _claims
from rom import util
from rom._partitions import value_partition
from rom.exceptions import ORMError
from rom.exceptions import UniqueKeyViolation
from rom.keygen import encode_unique_constraint
from rom.testing import CallCounter

pytestmark = pytest.mark.cluster

P = 16


class PuUser(rom.Model):
    _partitions = P
    email = rom.Text(unique=True, keygen=rom.IDENTITY)
    nick = rom.Text(unique=True)
    first = rom.Text()
    last = rom.Text()
    unique_together = (("first", "last"),)


class PuPlain(rom.Model):
    email = rom.Text(unique=True)


def _parts(value: str) -> rom._keys.KeySpace:  # type: ignore[name-defined]
    return PuUser._meta.parts[value_partition(value, P)]


def _entry(r: redis.Redis, cols: str, value: str) -> bytes | None:
    return r.hget(_parts(value).unique(cols), value)  # type: ignore[return-value]


def _claim(r: redis.Redis, cols: str, value: str) -> bytes | None:
    return r.hget(_parts(value).claims(cols), value)  # type: ignore[return-value]


def _new_id(partition: int) -> int:
    # An id of the given partition that no test allocates (ids n*P+i, n < 1e6).
    return 10_000_000 * P + partition


def test_a_new_value_is_held_in_its_own_partition(rom_redis: redis.Redis) -> None:
    u = PuUser(email="a@x", nick="ann", first="A", last="B")
    u.save()
    for cols, value in [
        ("email", "a@x"),
        ("nick", "ann"),
        ("first:last", encode_unique_constraint(["A", "B"])),
    ]:
        assert _entry(rom_redis, cols, value) == str(u.id).encode()
        assert _claim(rom_redis, cols, value) is None
    # Nothing unique in the entity's own partition unless the value hashes there.
    own = PuUser._meta.keys_for(u.id)
    if value_partition("a@x", P) != u.id % P:
        assert not rom_redis.exists(own.unique("email"))
    rom.session.rollback()
    assert PuUser.get_by(email="a@x").id == u.id
    assert PuUser.get_by(nick="ann").id == u.id
    assert PuUser.get_by(email=["a@x", "none@x"])[0].id == u.id
    assert PuUser.get_by(email="none@x") is None


def test_a_taken_value_is_refused_naming_model_column_value(
    rom_redis: redis.Redis,
) -> None:
    PuUser(email="b@x", nick="bob").save()
    other = PuUser(email="b@x", nick="bobby")
    with pytest.raises(UniqueKeyViolation, match=r"'b@x' of PuUser\.email") as info:
        other.save()
    assert info.value.column == "email" and info.value.value == "b@x"
    assert "already has it" in str(info.value)
    # Its other claim (nick) was released; nothing of it written.
    assert _claim(rom_redis, "nick", "bobby") is None
    assert _entry(rom_redis, "nick", "bobby") is None
    assert other.id is None or PuUser.get(other.id) is None
    with pytest.raises(UniqueKeyViolation, match=r"PuUser\.first:last"):
        PuUser(email="c1@x", first="F", last="L").save()
        PuUser(email="c2@x", first="F", last="L").save()


def test_changing_and_deleting_release_old_values(rom_redis: redis.Redis) -> None:
    u = PuUser(email="old@x", nick="o")
    u.save()
    u.email = "new@x"
    u.save()
    assert _entry(rom_redis, "email", "old@x") is None
    assert _entry(rom_redis, "email", "new@x") == str(u.id).encode()
    PuUser(email="old@x").save()  # free again
    u.delete()
    assert _entry(rom_redis, "email", "new@x") is None
    assert _entry(rom_redis, "nick", "o") is None
    PuUser(email="new@x", nick="o").save()


def test_the_same_value_twice_in_one_commit(rom_redis: redis.Redis) -> None:
    a = PuUser(email="twice@x")
    b = PuUser(email="twice@x")
    with pytest.raises(
        UniqueKeyViolation, match=r"of the same save \(id \d+\) takes it"
    ):
        rom.session.commit()
    assert PuUser.get(a.id).email == "twice@x"  # the first is written
    assert b.id is None or PuUser.get(b.id) is None


def test_a_stale_entry_is_taken_over_and_read_past(rom_redis: redis.Redis) -> None:
    # An entry whose holder's row does not have the value (a writer died
    # before dropping it): the row is the truth.
    rom_redis.hset(_parts("stale@x").unique("email"), "stale@x", "987654")
    assert PuUser.get_by(email="stale@x") is None
    u = PuUser(email="stale@x")
    u.save()
    assert _entry(rom_redis, "email", "stale@x") == str(u.id).encode()


def test_a_live_claim_refuses_then_a_lapsed_one_is_taken_over(
    rom_redis: redis.Redis,
) -> None:
    far = int(time.time() * 1000) + 60_000
    ghost = _new_id(3)
    rom_redis.hset(_parts("c@x").claims("email"), "c@x", f"{ghost}:{far}")
    with pytest.raises(UniqueKeyViolation, match="being claimed by another writer"):
        PuUser(email="c@x").save()
    assert PuUser.get_by(email="c@x") is None
    rom_redis.hset(_parts("c@x").claims("email"), "c@x", f"{ghost}:1")
    u = PuUser(email="c@x")
    u.save()
    assert _entry(rom_redis, "email", "c@x") == str(u.id).encode()
    assert _claim(rom_redis, "email", "c@x") is None


def test_a_claim_whose_row_has_the_value_holds_it(rom_redis: redis.Redis) -> None:
    # A writer that died between its write and its confirm: readers find
    # the entity and confirm its claim; a second writer is refused.
    u = PuUser(email="w@x")
    u.save()
    token = f"{u.id}:{int(time.time() * 1000) + 60_000}"
    rom_redis.hdel(_parts("w@x").unique("email"), "w@x")
    rom_redis.hset(_parts("w@x").claims("email"), "w@x", token)
    with pytest.raises(UniqueKeyViolation, match="already has it"):
        PuUser(email="w@x").save()
    rom.session.rollback()
    rom_redis.hset(_parts("w@x").claims("email"), "w@x", token)
    rom_redis.hdel(_parts("w@x").unique("email"), "w@x")
    assert PuUser.get_by(email="w@x").id == u.id
    assert _entry(rom_redis, "email", "w@x") == str(u.id).encode()
    assert _claim(rom_redis, "email", "w@x") is None


def test_a_write_past_its_fence_writes_nothing(
    rom_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A claim whose lifetime is used up by the margin: the writer refuses.
    monkeypatch.setattr(_claims, "CLAIM_LIFETIME_MS", 1_000)
    monkeypatch.setattr(_claims, "FENCE_MARGIN_MS", 1_000)
    u = PuUser(email="late@x")
    with pytest.raises(ORMError, match="nothing of it was written"):
        u.save()
    assert u.id is not None and PuUser.get(u.id) is None
    assert _claim(rom_redis, "email", "late@x") is None
    assert _entry(rom_redis, "email", "late@x") is None


def test_the_sweep_resolves_what_writers_left(rom_redis: redis.Redis) -> None:
    held = PuUser(email="h@x")
    held.save()
    pending = PuUser(email="p@x")
    pending.save()
    rom_redis.hdel(_parts("p@x").unique("email"), "p@x")
    rom_redis.hset(_parts("p@x").claims("email"), "p@x", f"{pending.id}:1")
    rom_redis.hset(_parts("gone@x").claims("email"), "gone@x", f"{_new_id(1)}:1")
    far = int(time.time() * 1000) + 60_000
    rom_redis.hset(_parts("live@x").claims("email"), "live@x", f"{_new_id(2)}:{far}")
    rom_redis.hset(_parts("dead@x").unique("email"), "dead@x", str(_new_id(4)))
    counts = util.sweep_unique(PuUser)
    assert counts == {"confirmed": 1, "lapsed": 1, "stale": 1, "kept": 3}
    assert _entry(rom_redis, "email", "p@x") == str(pending.id).encode()
    assert _claim(rom_redis, "email", "gone@x") is None
    assert _claim(rom_redis, "email", "live@x") is not None
    assert _entry(rom_redis, "email", "dead@x") is None
    assert _entry(rom_redis, "email", "h@x") == str(held.id).encode()
    again = asyncio.run(_asweep())
    assert again == {"confirmed": 0, "lapsed": 0, "stale": 0, "kept": 3}


async def _asweep() -> dict[str, int]:
    try:
        return await util.asweep_unique(PuUser)
    finally:
        await util.close_async_connections()


def test_async_save_claims_and_confirms(rom_redis: redis.Redis) -> None:
    async def run() -> int:
        try:
            u = PuUser(email="async@x")
            await u.asave()
            with pytest.raises(UniqueKeyViolation):
                await PuUser(email="async@x").asave()
            return u.id
        finally:
            await util.close_async_connections()

    id = asyncio.run(run())
    assert _entry(rom_redis, "email", "async@x") == str(id).encode()


def test_a_claim_of_the_same_entity_is_judged_by_its_row(
    rom_redis: redis.Redis,
) -> None:
    # Another save of this very entity claims the value (live, row without
    # it): refused; once lapsed it is taken; one whose row has it is
    # confirmed, and the save goes on.
    u = PuUser(email="self@x")
    u.save()
    far = int(time.time() * 1000) + 60_000
    claims = _parts("self2@x").claims("email")
    rom_redis.hset(claims, "self2@x", f"{u.id}:{far}")
    u.email = "self2@x"
    with pytest.raises(UniqueKeyViolation, match="another save of this same entity"):
        u.save()
    rom_redis.hset(claims, "self2@x", f"{u.id}:1")
    u.save()
    assert _entry(rom_redis, "email", "self2@x") == str(u.id).encode()
    assert _claim(rom_redis, "email", "self2@x") is None
    rom_redis.hdel(_parts("self2@x").unique("email"), "self2@x")
    rom_redis.hset(claims, "self2@x", f"{u.id}:{far}")
    u.save(force=True)
    assert _entry(rom_redis, "email", "self2@x") == str(u.id).encode()
    assert _claim(rom_redis, "email", "self2@x") is None


def test_unpartitioned_models_keep_their_unique_entries_in_their_slot(
    rom_redis: redis.Redis,
) -> None:
    u = PuPlain(email="plain@x")
    u.save()
    keys = PuPlain._meta.keys
    assert rom_redis.hget(keys.unique("email"), "plain@x") == str(u.id).encode()
    assert not rom_redis.exists(keys.claims("email"))


def test_round_trips_of_a_new_entity_a_change_and_a_lookup(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    PuUser(email="warm@x").save()  # scripts loaded on the server(s)
    PuUser.get_by(email="warm@x")
    rom.session.rollback()
    roundtrips.reset()
    u = PuUser(email="rt@x")
    u.save()
    # id, claim (one value partition), write, confirm
    assert roundtrips.roundtrips == 4
    roundtrips.reset()
    u.email = "rt2@x"
    u.save()
    # claim rt2, write, confirm rt2 + hold rt@x (two value partitions, or
    # one), the row read again, then the drop of rt@x
    two = value_partition("rt@x", P) != value_partition("rt2@x", P)
    assert roundtrips.roundtrips == 2 + (2 if two else 1) + 2
    rom.session.rollback()
    roundtrips.reset()
    assert PuUser.get_by(email="rt2@x").id == u.id
    # the entry and claim (one pipeline), the holder's row
    assert roundtrips.roundtrips == 2


def test_round_trips_of_a_plain_save_and_a_delete(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    u = PuUser(email="rt3@x")
    u.save()
    roundtrips.reset()
    u.first = "no unique value changed"
    u.save()
    assert roundtrips.roundtrips == 1
    roundtrips.reset()
    u.delete()
    # the write, the hold of rt3@x, the row read again, the drop
    assert roundtrips.roundtrips == 4
    assert _entry(rom_redis, "email", "rt3@x") is None


def test_racing_get_or_create_all_get_the_one_entity(rom_redis: redis.Redis) -> None:
    import threading

    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def run() -> None:
        try:
            start.wait()
            entity, created = PuUser.get_or_create(email="race@x")
            results.append((entity.id, created))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            rom.session.rollback()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({id for id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_the_sweep_refuses_an_unpartitioned_model(rom_redis: redis.Redis) -> None:
    with pytest.raises(
        rom.exceptions.InvalidOperation, match="PuPlain is not partitioned"
    ):
        util.sweep_unique(PuPlain)


def test_the_watch_writer_is_refused_for_a_claiming_save(
    rom_redis: redis.Redis,
) -> None:
    from .dump import writes_with

    u = PuUser(email="watch@x")
    with (
        writes_with("watch"),
        pytest.raises(rom.exceptions.InvalidOperation, match="PuUser is partitioned"),
    ):
        u.save()
    assert _claim(rom_redis, "email", "watch@x") is None
    u.save()
    assert PuUser.get_by(email="watch@x") is u


def test_a_late_drop_spares_a_value_given_back_meanwhile(
    rom_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save changes a@x to b@x; before it drops a@x, another save of the
    same entity gives a@x back (claim, write, confirm). The first save's
    drop must leave a@x's entry, which the row holds again."""
    u = PuUser(email="late-a@x")
    u.save()
    real = _claims.finish

    def racing(batch: Any, done: Any, error: Any) -> Any:
        if any(plan.releases for _, plan in done):
            monkeypatch.setattr(_claims, "finish", real)
            rom.session.rollback()
            again = PuUser.get(u.id)
            assert again is not None and again.email == "late-b@x"
            again.email = "late-a@x"
            again.save()
        yield from real(batch, done, error)

    monkeypatch.setattr(_claims, "finish", racing)
    u.email = "late-b@x"
    u.save()
    rom.session.rollback()
    assert _entry(rom_redis, "email", "late-a@x") == str(u.id).encode()
    assert PuUser.get_by(email="late-a@x").id == u.id
    assert PuUser.get_by(email="late-b@x") is None
    with pytest.raises(UniqueKeyViolation):
        PuUser(email="late-a@x").save()


class PuTemp(rom.Model):
    _partitions = P
    _ttl = 3600
    email = rom.Text(unique=True)


def test_an_expired_holder_holds_nothing(rom_redis: redis.Redis) -> None:
    """An expiring partitioned entity whose time came is not found by its
    unique value, and its value is free for another entity at once."""
    doomed = PuTemp(email="temp@x")
    doomed.expire(0.3)
    doomed.save()
    rom.session.rollback()
    assert PuTemp.get_by(email="temp@x").id == doomed.id
    time.sleep(0.45)
    rom.session.rollback()
    assert PuTemp.get_by(email="temp@x") is None
    other = PuTemp(email="temp@x")
    other.save()
    rom.session.rollback()
    assert PuTemp.get_by(email="temp@x").id == other.id
