"""Edge cases of the write path: re-sends, key types, counters, interrupts.

A request whose later plan found its row moved is re-sent for the remaining
plans only; the plans before it were written by the first send, so an error
of the re-send must not make rom forget them.
"""

from typing import Any

import pytest
import redis

import rom
from rom import _persist
from rom import _requests
from rom._requests import Batch
from rom.consistency import check


class ReviewAcct(rom.Model):
    # A unique keygen column: a forced save reads the row first. (The
    # WATCH path sends one plan per request: only the Lua path has plans
    # before a moved one in the same request.)
    email = rom.String(unique=True, keygen=rom.IDENTITY_CI)
    handle = rom.String(unique=True)


def test_plans_written_before_a_failed_resend_are_saved(
    rom_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    acct = ReviewAcct(email="Al@Example.com", handle="al")
    acct.save()
    rom.session.rollback()
    stale = ReviewAcct.get(acct.id)
    assert stale is not None
    stale.handle = "al2"
    new = ReviewAcct(email="New@Example.com", handle="new")
    calls: list[int] = []
    real = _persist.send

    def run(c: redis.Redis, chunk: Batch) -> Any:
        calls.append(len(chunk))
        if len(calls) == 1:
            # Another writer changes the stale row after it was read: the
            # forced save of it comes back "moved".
            row = f"ReviewAcct:{acct.id}"
            rom_redis.hdel("ReviewAcct:email:uidx", "al@example.com")
            rom_redis.hset(row, "email", "Other@Example.com")
            rom_redis.hset("ReviewAcct:email:uidx", "other@example.com", acct.id)
        else:
            # The re-send is refused: Redis is out of memory.
            rom_redis.config_set("maxmemory", 1)
        return real(c, chunk)

    monkeypatch.setattr(_persist, "send", run)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            _persist.save_entities([new, stale], full=False, force=True)
    finally:
        rom_redis.config_set("maxmemory", 0)
    monkeypatch.undo()
    assert calls == [2, 1]
    # The new entity was written by the first send: rom knows it is saved.
    assert rom_redis.hget("ReviewAcct:handle:uidx", "new") == b"2"
    assert not new._new and not new._modified
    assert new.id == 2
    # Saving it again writes no second row.
    new.save()
    assert rom_redis.hlen("ReviewAcct:handle:uidx") == 2
    assert check(ReviewAcct, conn=rom_redis) == []


def _tag_keygen(*args: Any) -> dict[str, Any]:
    # The same index name as a token (a SET) or with a score (a ZSET).
    return {"x": None} if "token" in repr(args) else {"x": 1}


class ReviewTag(rom.Model):
    tag = rom.String(index=True, keygen=_tag_keygen)
    handle = rom.String(unique=True)


@pytest.mark.usefixtures("write_path")
def test_a_key_an_earlier_plan_made_of_another_type_stops_the_later_plan(
    rom_redis: redis.Redis,
) -> None:
    # The first entity creates ReviewTag:tag:x:idx as a SET; the second needs
    # it as a ZSET: the second must fail before any of its writes, and the
    # first stays written (its request's record included).
    first = ReviewTag(tag="token", handle="a")
    second = ReviewTag(tag="scored", handle="b")
    with pytest.raises(redis.exceptions.ResponseError) as info:
        _persist.save_entities([first, second], full=False, force=False)
    assert "WRONGTYPE" in str(info.value)
    assert rom_redis.type("ReviewTag:tag:x:idx") == b"set"
    assert not first._new
    assert rom_redis.hget("ReviewTag:handle:uidx", "a") == str(first.id).encode()
    # Nothing of the second entity: no unique entry, no row.
    assert rom_redis.hget("ReviewTag:handle:uidx", "b") is None
    assert rom_redis.keys("ReviewTag:2*") == []
    assert check(ReviewTag, conn=rom_redis) == []


@pytest.mark.usefixtures("write_path")
def test_an_id_counter_that_is_no_number_is_a_redis_error(
    rom_redis: redis.Redis,
) -> None:
    # Both write paths refuse a new entity with a ResponseError naming the
    # counter, write nothing, and leave no write of unknown outcome behind.
    rom_redis.set("ReviewTag:id:", "abc")
    tag = ReviewTag(tag="token", handle="a")
    with pytest.raises(redis.exceptions.ResponseError) as info:
        tag.save()
    assert "ReviewTag:id:" in str(info.value)
    assert tag._new
    assert rom_redis.keys("ReviewTag:*") == [b"ReviewTag:id:"]
    assert tag not in _requests._PENDING


def test_entities_of_applied_chunks_stay_saved_after_an_interrupt(
    rom_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt during a later chunk propagates, and the entities
    of the chunks already applied are marked saved first."""
    monkeypatch.setattr(_requests, "CHUNK_ENTITIES", 1)
    calls: list[int] = []
    real = _persist.send

    def run(c: redis.Redis, chunk: Batch) -> Any:
        calls.append(len(chunk))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(c, chunk)

    monkeypatch.setattr(_persist, "send", run)
    first = ReviewTag(tag="token", handle="a")
    second = ReviewTag(tag="token", handle="b")
    with pytest.raises(KeyboardInterrupt):
        _persist.save_entities([first, second], full=False, force=False)
    monkeypatch.undo()
    # The first request was applied: its entity is saved.
    assert rom_redis.hget("ReviewTag:handle:uidx", "a") == b"1"
    assert not first._new
