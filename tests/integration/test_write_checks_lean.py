"""The write script's key checks, done with as few server commands as it can.

Reads that need a key anyway (the row's HMGET, a unique hash's HGET, the
counter's GET) are that key's type check; only keys a write changes are
checked; index sets are checked with one SDIFF against the slot's probe;
the rows of a batch's new entities with one EXISTS. These tests pin what
those shortcuts must still give: a key of another type stops the entity
before any of its writes, with an error naming the key, and everything
else is written as before. Commands run inside the script are counted
with INFO commandstats.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

import rom
from rom.testing import RedisServer

from .server_commands import Ran
from .server_commands import commands_ran


class LwDoc(rom.Model):
    email = rom.Text(unique=True)
    body = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)
    n = rom.Integer(index=True)
    flag = rom.Boolean(index=True)


@pytest.fixture
def ran(rom_redis: redis.Redis, rom_redis_server: RedisServer | None) -> Iterator[Ran]:
    """Run a callable; return the commands the server ran meanwhile."""
    if rom_redis_server is None:
        pytest.skip("counts server commands: needs the private test server")
    warm = LwDoc(email="warm@example.com", body="warm", n=0, flag=False)
    warm.save()  # the script is loaded from here on
    warm.delete()

    yield commands_ran(rom_redis)


def _doc(i: int, body: str = "alpha beta gamma") -> LwDoc:
    return LwDoc(email=f"{i}@example.com", body=body, n=i, flag=i % 2 == 0)


# -- what is checked, and with how many commands -----------------------------------


def test_an_insert_checks_its_sets_with_one_sdiff(ran: Ran) -> None:
    """New entity: its row and its sorted sets by TYPE, its four sets (three
    words and the flag) by one SDIFF; the unique hash and the counter by
    the reads the write does anyway."""
    counts = ran(lambda: _doc(1).save())
    assert counts["sdiff"] == 1
    # The new row, n:idx and body:pre; not the unique hash, legacy hash,
    # counter or the sets.
    assert counts["type"] == 3
    assert counts["hget"] == 1 and counts["get"] == 2  # unique; record, counter
    assert counts["sadd"] == 4 and counts["zadd"] == 2
    assert counts["hset"] == 2  # the unique entry; the row with its record


def test_a_batch_checks_new_rows_with_one_exists(ran: Ran) -> None:
    """A commit of new entities reads the counter once, checks their rows
    with one EXISTS and their sets with one SDIFF."""
    docs = [_doc(i) for i in range(1, 21)]
    counts = ran(rom.session.commit)
    assert [d.id for d in docs] == list(range(2, 22))
    assert counts["exists"] == 1
    assert counts["get"] == 2  # the write record, the counter
    assert counts["sdiff"] == 1
    assert counts["type"] == 2  # n:idx and body:pre, once for the batch
    assert counts["incr"] == 20


def test_an_update_of_a_number_reads_its_row_once(ran: Ran) -> None:
    """The row's HMGET is its check; the record is unchanged, so only the
    sorted set the score goes to is checked."""
    doc = _doc(1)
    doc.save()
    doc.n = 5
    counts = ran(doc.save)
    assert counts["hmget"] == 1
    assert counts["type"] == 1
    assert "sdiff" not in counts
    assert "hget" in counts  # the unique check, the legacy record


# -- a key of another type still stops the entity ---------------------------------


def test_a_row_of_another_type_stops_an_update(rom_redis: redis.Redis) -> None:
    doc = _doc(1)
    doc.save()
    rom_redis.delete(f"LwDoc:{doc.id}")
    rom_redis.set(f"LwDoc:{doc.id}", "not a row")
    doc.n = 7
    with pytest.raises(redis.ResponseError) as raised:
        doc.save()
    message = str(raised.value)
    assert f"key LwDoc:{doc.id} holds a string, the write needs a hash" in message
    assert "Nothing of this entity was written" in message
    assert rom_redis.zscore("LwDoc:n:idx", doc.id) == 1
    assert rom_redis.get(f"LwDoc:{doc.id}") == b"not a row"


def test_a_counter_of_another_type_stops_an_insert(rom_redis: redis.Redis) -> None:
    rom_redis.hset("LwDoc:id:", "x", "1")
    with pytest.raises(redis.ResponseError, match="LwDoc:id: holds a hash"):
        _doc(1).save()
    assert rom_redis.hgetall("LwDoc:email:uidx") == {}
    assert rom_redis.keys("LwDoc:1*") == []


def test_a_unique_hash_of_another_type_stops_an_insert(
    rom_redis: redis.Redis,
) -> None:
    rom_redis.set("LwDoc:email:uidx", "oops")
    with pytest.raises(redis.ResponseError, match="LwDoc:email:uidx holds a string"):
        _doc(1).save()
    assert rom_redis.get("LwDoc:id:") is None
    assert rom_redis.keys("LwDoc:*idx") == [b"LwDoc:email:uidx"]
    assert rom_redis.get("LwDoc:email:uidx") == b"oops"


def test_a_later_new_row_of_another_type_stops_that_entity(
    rom_redis: redis.Redis,
) -> None:
    """The batch's EXISTS finds a key where a new row will go: each row is
    then checked alone, and the entity whose row it is fails first."""
    rom_redis.set("LwDoc:3", "squatter")
    docs = [_doc(i) for i in range(1, 6)]
    with pytest.raises(redis.ResponseError, match="key LwDoc:3 holds a string"):
        rom.session.commit()
    assert [d.id for d in docs[:2]] == [1, 2]
    assert all(d._new for d in docs[2:])
    assert rom_redis.get("LwDoc:id:") == b"2"
    assert rom_redis.hlen("LwDoc:email:uidx") == 2
    assert rom_redis.get("LwDoc:3") == b"squatter"


def test_a_set_of_another_type_in_a_batch_stops_that_entity(
    rom_redis: redis.Redis,
) -> None:
    """The batch's SDIFF is refused: each entity checks its own sets, and
    the one writing the bad key fails, naming it."""
    rom_redis.set("LwDoc:body:delta:idx", "oops")
    docs = [_doc(1), _doc(2), _doc(3, "delta epsilon"), _doc(4)]
    bad = "LwDoc:body:delta:idx holds a string"
    with pytest.raises(redis.ResponseError, match=bad):
        rom.session.commit()
    assert [d.id for d in docs[:2]] == [1, 2]
    assert docs[2]._new and docs[3]._new
    assert not rom_redis.exists("LwDoc:body:epsilon:idx")


def test_a_probe_key_of_another_type_does_not_stop_writes(
    rom_redis: redis.Redis,
) -> None:
    """The probe is never written by rom; if something else made it a
    string, the SDIFF is refused and each set is checked by TYPE."""
    rom_redis.set("LwDoc::probe", "someone else's")
    docs = [_doc(1), _doc(2)]
    rom.session.commit()
    docs[0].body = "other words"
    docs[0].save()
    docs[1].delete()
    assert rom_redis.smembers("LwDoc:body:other:idx") == {b"1"}
    assert rom_redis.smembers("LwDoc:body:alpha:idx") == set()
    assert rom_redis.get("LwDoc::probe") == b"someone else's"


def test_a_probe_set_is_left_alone(rom_redis: redis.Redis) -> None:
    rom_redis.sadd("LwDoc::probe", "x")
    doc = _doc(1)
    doc.save()
    assert rom_redis.smembers("LwDoc::probe") == {b"x"}
    assert rom_redis.smembers("LwDoc:body:alpha:idx") == {b"1"}
