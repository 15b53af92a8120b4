"""A plain save writes only the index entries that changed; a full save all.

The writer script compares the plan with the stored ``-index-data-`` record:
entries both name stay in place, scores and geo points are written again,
and ``save(full=True)`` rewrites everything (which repairs lost entries).
Commands run inside the script are counted with INFO commandstats.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

import rom
from rom.testing import RedisServer

from .index_keys import index_members
from .server_commands import Ran
from .server_commands import commands_ran


class DiffDoc(rom.Model):
    email = rom.Text(unique=True)
    body = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    n = rom.Integer(index=True)
    flag = rom.Boolean(index=True)
    meta = rom.Json()


@pytest.fixture
def ran(rom_redis: redis.Redis, rom_redis_server: RedisServer | None) -> Iterator[Ran]:
    """Run a callable; return the commands the server ran meanwhile."""
    if rom_redis_server is None:
        pytest.skip("counts server commands: needs the private test server")
    warm = DiffDoc(email="warm@example.com", body="warm", n=0, flag=False)
    warm.save()  # the script is loaded from here on
    warm.delete()

    yield commands_ran(rom_redis)


def _saved(body: str = "Hello big world") -> DiffDoc:
    doc = DiffDoc(email="a@example.com", body=body, n=1, flag=True, meta={"k": 1})
    doc.save()
    return doc


def _index_keys(conn: redis.Redis) -> dict[bytes, object]:
    """Every index key of DiffDoc with its members (and scores)."""
    return index_members(conn, "DiffDoc")


def test_new_entity_reads_no_record(ran: Ran) -> None:
    """A new entity's save reads no old record and writes each affix
    column's members with one ZADD."""
    counts = ran(_saved)
    assert counts.get("hget") == 1  # the unique check only
    assert "hdel" not in counts and "hmget" not in counts
    # body:pre and body:suf (three members each, in one call) and n's score.
    assert counts["zadd"] == 3
    assert counts["sadd"] == 4  # hello, big, world, flag True


def test_plain_save_of_a_number_writes_only_its_score(
    ran: Ran, rom_redis: redis.Redis
) -> None:
    """Changing an indexed number rewrites its score, and no token, affix,
    unique entry or record."""
    doc = _saved()
    doc.n = 2
    counts = ran(doc.save)
    assert counts["zadd"] == 1
    assert counts["hset"] == 1  # the row's field
    for name in ("sadd", "srem", "zrem", "hdel"):
        assert name not in counts, name
    assert rom_redis.zscore("DiffDoc:n:idx", doc.id) == 2


def test_plain_save_of_text_changes_only_its_tokens(
    ran: Ran, rom_redis: redis.Redis
) -> None:
    """Changing one word removes and adds that word's entries only."""
    doc = _saved()
    doc.body = "Hello small world"
    counts = ran(doc.save)
    assert (counts["srem"], counts["sadd"]) == (1, 1)
    assert counts["zrem"] == 2  # big from :pre and :suf
    assert counts["zadd"] == 3  # small into :pre and :suf, n's score
    assert not rom_redis.exists("DiffDoc:body:big:idx")
    assert rom_redis.sismember("DiffDoc:body:small:idx", doc.id)


def test_plain_and_full_saves_leave_the_same_indexes(rom_redis: redis.Redis) -> None:
    """Whatever changed, a plain save ends with the indexes a full one writes."""
    doc = _saved()
    doc.update(body="Other words, and big", n=5, flag=False)
    doc.save()
    plain = _index_keys(rom_redis)
    doc.save(full=True)
    assert _index_keys(rom_redis) == plain
    assert rom_redis.hget(f"DiffDoc:{doc.id}", "-index-data-") == (
        b'[["body:and","body:big","body:other","body:words","flag:False"],'
        b'["n"],[["body","and"],["body","big"],["body","other"],["body","words"]],'
        b'[["body","dna"],["body","gib"],["body","rehto"],["body","sdrow"]],{}]'
    )


def test_full_save_repairs_a_lost_entry(rom_redis: redis.Redis) -> None:
    """save(full=True) writes every entry again, even one wiped by hand."""
    doc = _saved()
    rom_redis.delete("DiffDoc:body:big:idx")
    doc.save(full=True)
    assert rom_redis.sismember("DiffDoc:body:big:idx", doc.id)


def test_changing_a_json_column_keeps_every_entry(
    ran: Ran, rom_redis: redis.Redis
) -> None:
    """An unindexed column's change writes the row field and re-adds only
    the score of the numeric index."""
    doc = _saved()
    before = _index_keys(rom_redis)
    doc.meta = {"k": 2}
    counts = ran(doc.save)
    assert counts["zadd"] == 1
    assert _index_keys(rom_redis) == before


def test_legacy_record_is_still_cleaned(rom_redis: redis.Redis) -> None:
    """A record in the legacy <ns>:: hash is honoured, then removed."""
    doc = _saved()
    record = rom_redis.hget(f"DiffDoc:{doc.id}", "-index-data-")
    rom_redis.hset("DiffDoc::", str(doc.id), record)
    rom_redis.hdel(f"DiffDoc:{doc.id}", "-index-data-")
    doc.body = "Hello small world"
    doc.save()
    assert not rom_redis.exists("DiffDoc::")
    assert not rom_redis.exists("DiffDoc:body:big:idx")
    assert rom_redis.hget(f"DiffDoc:{doc.id}", "-index-data-") is not None


def test_many_affix_members_go_in_chunks(rom_redis: redis.Redis) -> None:
    """A column with thousands of words is saved, changed and deleted (the
    members of one key are sent in chunks, not as one huge call)."""
    words = [f"w{i}" for i in range(2500)]
    doc = DiffDoc(email="many@example.com", body=" ".join(words), n=1, flag=True)
    doc.save()
    assert rom_redis.zcard("DiffDoc:body:pre") == 2500
    doc.body = " ".join(words[:1000])
    doc.save()
    assert rom_redis.zcard("DiffDoc:body:suf") == 1000
    doc.delete()
    assert not rom_redis.exists("DiffDoc:body:pre", "DiffDoc:body:suf")


def _declare_schema_doc(indexed: bool) -> type[rom.Model]:
    # SdDoc as an application declares it before and after giving ``n`` an
    # index: the second declaration replaces the first in the registry.
    rom.MODELS.pop("SdDoc", None)

    class SdDoc(rom.Model):
        body = rom.Text(index=True, keygen=rom.FULL_TEXT)
        n = rom.Integer(index=indexed)
        meta = rom.Json()

    return SdDoc


def test_a_plain_save_indexes_a_column_given_an_index_since(
    rom_redis: redis.Redis, fresh_models: None
) -> None:
    """A row saved before its model gave ``n`` an index gets ``n``'s entry,
    in its record too, from its next plain save of another column; a
    delete then leaves no entry behind."""
    before = _declare_schema_doc(indexed=False)
    doc = before(body="hello", n=3, meta={"k": 1})
    doc.save()
    rom.session.rollback()
    after = _declare_schema_doc(indexed=True)
    doc = after.get(doc.id)
    doc.meta = {"k": 2}
    doc.save()
    assert rom_redis.zscore("SdDoc:n:idx", doc.id) == 3
    assert rom_redis.hget(f"SdDoc:{doc.id}", "-index-data-") == (
        b'[["body:hello"],["n"],{},{},{}]'
    )
    doc.delete()
    assert not rom_redis.exists("SdDoc:n:idx", "SdDoc:body:hello:idx")
