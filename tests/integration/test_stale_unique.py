"""Unique entries stay right when a stale copy deletes or force-saves.

A stale copy is an object loaded before another writer changed the row. Its
delete must remove the unique entries of the row as it is in Redis, and its
force-save must drop the other writer's entries, on both write paths.
"""

from collections.abc import Callable
from typing import Any

import pytest
import redis

import rom
from rom import _persist
from rom._requests import Batch
from rom._stored_rows import MAX_READS
from rom.consistency import check
from rom.exceptions import DataRaceError
from rom.exceptions import UniqueKeyViolation
from rom.testing import data_keys


class StaleAcct(rom.Model):
    # A unique keygen column (no index): the entry is the keygen's output.
    email = rom.String(unique=True, keygen=rom.IDENTITY_CI)
    # A plain unique column: the entry is the stored value.
    handle = rom.String(unique=True)
    # An IndexOnly unique entry derived from another column.
    nick = rom.String()
    nick_ci = rom.IndexOnly(column="nick", keygen=rom.IDENTITY_CI, unique=True)


def _uidx(conn: redis.Redis, column: str) -> dict[str, str]:
    raw = conn.hgetall(f"StaleAcct:{column}:uidx")
    return {k.decode(): v.decode() for k, v in raw.items()}


def _two_copies(**values: str) -> tuple[StaleAcct, StaleAcct]:
    """A saved account, and a second (then stale) copy of its row."""
    acct = StaleAcct(**values)
    acct.save()
    rom.session.rollback()
    stale = StaleAcct.get(acct.id)
    assert stale is not None and stale is not acct
    return acct, stale


def _change(acct: StaleAcct) -> None:
    """Another writer changes every unique value of the row."""
    acct.email = "Bob@Example.com"
    acct.handle = "bob"
    acct.nick = "Bobby"
    acct.save()


@pytest.mark.usefixtures("write_path")
def test_delete_from_a_stale_copy_removes_the_stored_unique_entries(
    rom_redis: redis.Redis,
) -> None:
    acct, stale = _two_copies(email="Al@Example.com", handle="al", nick="Ally")
    _change(acct)
    stale.delete()
    assert _uidx(rom_redis, "email") == {}
    assert _uidx(rom_redis, "handle") == {}
    assert _uidx(rom_redis, "nick_ci") == {}
    assert check(StaleAcct, conn=rom_redis) == []
    # The values are free again.
    StaleAcct(email="bob@example.com", handle="bob", nick="BOBBY").save()
    assert check(StaleAcct, conn=rom_redis) == []


@pytest.mark.usefixtures("write_path")
def test_force_save_from_a_stale_copy_drops_the_other_writers_entries(
    rom_redis: redis.Redis,
) -> None:
    acct, stale = _two_copies(email="Al@Example.com", handle="al", nick="Ally")
    _change(acct)
    stale.save(force=True)  # the row goes back to the stale copy's values
    pk = str(stale.id)
    assert _uidx(rom_redis, "email") == {"al@example.com": pk}
    assert _uidx(rom_redis, "handle") == {"al": pk}
    assert _uidx(rom_redis, "nick_ci") == {"ally": pk}
    row = rom_redis.hgetall(f"StaleAcct:{pk}")
    assert row[b"email"] == b"Al@Example.com" and row[b"nick"] == b"Ally"
    StaleAcct(email="BOB@example.com", handle="bob", nick="bobby").save()
    assert check(StaleAcct, conn=rom_redis) == []


@pytest.mark.usefixtures("write_path")
def test_force_save_from_a_stale_copy_drops_fields_the_copy_lacks(
    rom_redis: redis.Redis,
) -> None:
    acct, stale = _two_copies(email="Al@Example.com")
    acct.handle = "bob"  # set by the other writer only
    acct.nick = "Bobby"
    acct.save()
    stale.save(force=True)
    row = rom_redis.hgetall(f"StaleAcct:{stale.id}")
    assert b"handle" not in row and b"nick" not in row
    assert _uidx(rom_redis, "handle") == {}
    assert _uidx(rom_redis, "nick_ci") == {}
    assert check(StaleAcct, conn=rom_redis) == []


@pytest.mark.usefixtures("write_path")
def test_delete_from_a_stale_copy_after_the_row_is_gone(
    rom_redis: redis.Redis,
) -> None:
    acct, stale = _two_copies(email="Al@Example.com", handle="al", nick="Ally")
    acct.delete()
    stale.delete()  # nothing left to remove; no error
    assert data_keys(rom_redis, "StaleAcct:*") == [b"StaleAcct:id:"]


@pytest.mark.usefixtures("write_path")
def test_a_still_used_value_is_still_refused(rom_redis: redis.Redis) -> None:
    acct, _stale = _two_copies(email="Al@Example.com", handle="al", nick="Ally")
    _change(acct)
    with pytest.raises(UniqueKeyViolation):
        StaleAcct(email="BOB@EXAMPLE.COM").save()
    with pytest.raises(UniqueKeyViolation):
        StaleAcct(nick="bobby").save()


def _racing_runner(
    conn: redis.Redis, rewrites: int
) -> tuple[Callable[[redis.Redis, Batch], list[dict[str, Any]]], list[int]]:
    """The real writer, with another writer changing row 1 before each of
    its first ``rewrites`` calls (after the row was read for the plan)."""
    calls: list[int] = []
    real = _persist.send

    def run(c: redis.Redis, chunk: Batch) -> list[dict[str, Any]]:
        calls.append(len(chunk))
        if len(calls) <= rewrites:  # what a save of a new email does
            old = conn.hget("StaleAcct:1", "email")
            if old is not None:
                conn.hdel("StaleAcct:email:uidx", old.decode().lower())
            conn.hset("StaleAcct:1", "email", f"Other{len(calls)}@Example.com")
            conn.hset("StaleAcct:email:uidx", f"other{len(calls)}@example.com", "1")
        return real(c, chunk)

    return run, calls


@pytest.mark.usefixtures("write_path")
def test_a_row_changed_after_it_was_read_is_read_again(
    rom_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _acct, stale = _two_copies(email="Al@Example.com", handle="al", nick="Ally")
    run, calls = _racing_runner(rom_redis, rewrites=2)
    monkeypatch.setattr(_persist, "send", run)
    stale.delete()
    assert calls == [1, 1, 1]  # sent three times: the row moved twice
    assert _uidx(rom_redis, "email") == {}
    assert _uidx(rom_redis, "handle") == {} and _uidx(rom_redis, "nick_ci") == {}
    assert not rom_redis.exists("StaleAcct:1")
    assert check(StaleAcct, conn=rom_redis) == []


@pytest.mark.usefixtures("write_path")
def test_a_row_that_never_stops_moving_is_a_race(
    rom_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _acct, stale = _two_copies(email="Al@Example.com")
    run, calls = _racing_runner(rom_redis, rewrites=MAX_READS)
    monkeypatch.setattr(_persist, "send", run)
    with pytest.raises(DataRaceError) as info:
        stale.delete()
    assert "StaleAcct:1" in str(info.value) and "email" in str(info.value)
    assert len(calls) == MAX_READS
    assert rom_redis.exists("StaleAcct:1")  # nothing deleted
    assert not stale._deleted
