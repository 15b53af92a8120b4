"""Data written by rom 1.1.2 (and older rom) is read, updated and deleted correctly.

Each test writes rows and index entries by hand with redis-py, exactly as
docs/data_layout.rst says rom 1.1.2 writes them (including the quirks of its
record: ``{}`` for empty slots, cjson's ``\\/``, geo names in slot 4, the 2013
two-slot record and the pre-1.0 ``<ns>::`` HASH), then works on them through
the API.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom
from rom import GeoIndex
from tests.integration.dump import INDEX_DATA
from tests.integration.dump import dump
from tests.integration.dump import prefix_score
from tests.integration.dump import record
from tests.integration.dump import slots

pytestmark = pytest.mark.usefixtures("fresh_models", "write_path")


def _where(d: Any) -> tuple[float, float] | None:
    return (d.lon, d.lat) if d.lon is not None and d.lat is not None else None


def _declare_note() -> Any:
    class Note(rom.Model):
        title = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
        n = rom.Integer(index=True)
        flag = rom.Boolean(index=True)
        code = rom.Text(unique=True)
        path = rom.Text(index=True, keygen=rom.IDENTITY)
        lon = rom.Float()
        lat = rom.Float()
        geo_index = [GeoIndex("where", _where)]  # noqa: RUF012

    return Note


# The row and index entries rom 1.1.2 writes for Note 7 with every value set.
FULL_ROW = {
    "id": "7",
    "title": "Hello World",
    "n": "5",
    "flag": "1",
    "code": "abc",
    "path": "a/b",
    "lon": "0.5",
    "lat": "50.0",
}
# As cjson writes it: "/" escaped, the geo name as a bare string in slot 4,
# the empty slot 5 as {}.
FULL_RECORD = (
    '[["title:hello","flag:True","path:a\\/b","title:world"],["n"],'
    '[["title","world"],["title","hello"]],'
    '[["title","dlrow"],"where",["title","olleh"]],{}]'
)
# A row with only some values: empty slots in the middle are {} too.
SPARSE_ROW = {"id": "7", "n": "5", "flag": "1", "code": "abc", "path": "a/b"}
SPARSE_RECORD = '[["flag:True","path:a\\/b"],["n"],{},{},{}]'
# The 2013 format: [keys, scored] only.
OLD_RECORD = '[["flag:True","path:a\\/b"],["n"]]'


def _write_rom_row(conn: redis.Redis, row: dict[str, str]) -> None:
    """Write Note 7's row (without its record) and its index entries, as rom does."""
    conn.set("Note:id:", 7)
    conn.hset("Note:7", mapping=row)
    conn.hset("Note:code:uidx", "abc", "7")
    conn.zadd("Note:n:idx", {"7": 5})
    conn.sadd("Note:flag:True:idx", "7")
    conn.sadd("Note:path:a/b:idx", "7")
    if "title" in row:
        for word in ("hello", "world"):
            conn.sadd(f"Note:title:{word}:idx", "7")
            conn.zadd("Note:title:pre", {f"{word}\x007": prefix_score(word)})
            rev = word[::-1]
            conn.zadd("Note:title:suf", {f"{rev}\x007": prefix_score(rev)})
    if "lon" in row:
        conn.geoadd("Note:where:geo", (0.5, 50.0, "7"))


def _write_legacy(conn: redis.Redis, layout: str) -> None:
    """Note 7 in one of rom's historical layouts."""
    if layout == "full":
        _write_rom_row(conn, {**FULL_ROW, "-index-data-": FULL_RECORD})
    elif layout == "sparse":
        _write_rom_row(conn, {**SPARSE_ROW, "-index-data-": SPARSE_RECORD})
    elif layout == "2013":
        _write_rom_row(conn, {**SPARSE_ROW, "-index-data-": OLD_RECORD})
    elif layout == "namespace-hash":
        # Pre-1.0: the record lives in the HASH <ns>:: under the id, and the
        # row has no -index-data- field. Another entity's record stays.
        _write_rom_row(conn, FULL_ROW)
        conn.hset("Note::", mapping={"7": FULL_RECORD, "8": OLD_RECORD})
    else:  # pragma: no cover
        raise AssertionError(layout)


LAYOUTS = ["full", "sparse", "2013", "namespace-hash"]


def _other_keys(layout: str) -> dict[bytes, Any]:
    """Keys of the layout that our writes must leave alone."""
    if layout == "namespace-hash":
        return {b"Note::": ("hash", {b"8": OLD_RECORD.encode()})}
    return {}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_load_rom_row(rom_redis: redis.Redis, layout: str) -> None:
    """A row written by rom 1.1.2 loads with every value converted back."""
    Note = _declare_note()
    _write_legacy(rom_redis, layout)
    note = Note.get(7)
    expected = {
        "id": 7,
        "n": 5,
        "flag": True,
        "code": "abc",
        "path": "a/b",
        "title": None,
        "lon": None,
        "lat": None,
    }
    if layout in ("full", "namespace-hash"):
        expected.update(title="Hello World", lon=0.5, lat=50.0)
    assert note.to_dict() == expected
    assert Note.get_by(code="abc") is note


@pytest.mark.parametrize("layout", LAYOUTS)
def test_update_rom_row(rom_redis: redis.Redis, layout: str) -> None:
    """An update removes every entry the old record names and writes ours."""
    Note = _declare_note()
    _write_legacy(rom_redis, layout)
    note = Note.get(7)
    note.update(title="Bye now", n=6, flag=False, code="xyz", path="c/d")
    note.lon = note.lat = None
    note.save()
    db = dump(rom_redis)
    row = db[b"Note:7"][1]
    assert record(row.pop(INDEX_DATA)) == slots(
        ["title:bye", "title:now", "flag:False", "path:c/d"],
        ["n"],
        [["title", "bye"], ["title", "now"]],
        [["title", "eyb"], ["title", "won"]],
    )
    assert db == {
        b"Note:7": (
            "hash",
            {
                b"id": b"7",
                b"title": b"Bye now",
                b"n": b"6",
                b"flag": b"",
                b"code": b"xyz",
                b"path": b"c/d",
            },
        ),
        b"Note:id:": ("string", b"7"),
        b"Note:code:uidx": ("hash", {b"xyz": b"7"}),
        b"Note:n:idx": ("zset", [(b"7", 6.0)]),
        b"Note:flag:False:idx": ("set", [b"7"]),
        b"Note:path:c/d:idx": ("set", [b"7"]),
        b"Note:title:bye:idx": ("set", [b"7"]),
        b"Note:title:now:idx": ("set", [b"7"]),
        b"Note:title:pre": (
            "zset",
            [
                (b"bye\x007", prefix_score("bye")),
                (b"now\x007", prefix_score("now")),
            ],
        ),
        b"Note:title:suf": (
            "zset",
            [
                (b"eyb\x007", prefix_score("eyb")),
                (b"won\x007", prefix_score("won")),
            ],
        ),
        # The old geo entry, named only by a bare slot-4 string (or by the
        # <ns>:: record), is removed: the callback now gives no point.
        **_other_keys(layout),
    }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_delete_rom_row(rom_redis: redis.Redis, layout: str) -> None:
    """Deleting a rom-written row leaves only the id counter (and other ids)."""
    Note = _declare_note()
    _write_legacy(rom_redis, layout)
    Note.get(7).delete()
    assert dump(rom_redis) == {
        b"Note:id:": ("string", b"7"),
        **_other_keys(layout),
    }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_update_then_delete_rom_row(rom_redis: redis.Redis, layout: str) -> None:
    """After an update rewrote the record, a delete still removes everything."""
    Note = _declare_note()
    _write_legacy(rom_redis, layout)
    note = Note.get(7)
    note.title = "Other words"
    note.lon, note.lat = 10.0, 20.0
    note.save()
    assert rom_redis.zscore("Note:where:geo", "7") is not None
    assert rom_redis.hexists("Note::", "7") is False
    note.delete()
    assert dump(rom_redis) == {
        b"Note:id:": ("string", b"7"),
        **_other_keys(layout),
    }


def test_namespace_hash_record_wins_over_row_record(rom_redis: redis.Redis) -> None:
    """When both exist, the ``<ns>::`` record is the one used."""
    Note = _declare_note()
    _write_rom_row(rom_redis, {**SPARSE_ROW, "-index-data-": "[{},{},{},{},{}]"})
    # A stale entry only the <ns>:: record names.
    rom_redis.sadd("Note:title:stale:idx", "7")
    rom_redis.hset("Note::", "7", '[["title:stale","flag:True"],["n"]]')
    note = Note.get(7)
    note.n = 9
    note.save()
    assert rom_redis.exists("Note:title:stale:idx", "Note::") == 0
    assert rom_redis.zrange("Note:n:idx", 0, -1, withscores=True) == [(b"7", 9.0)]
    assert record(rom_redis.hget("Note:7", "-index-data-")) == slots(
        ["flag:True", "path:a/b"], ["n"]
    )


def test_old_unique_entry_of_another_id_is_kept(rom_redis: redis.Redis) -> None:
    """A changed unique's old field is removed only if it maps to this id."""
    Note = _declare_note()
    _write_rom_row(rom_redis, {**SPARSE_ROW, "-index-data-": SPARSE_RECORD})
    rom_redis.hset("Note:code:uidx", "abc", "99")
    note = Note.get(7)
    note.code = "xyz"
    note.save()
    assert rom_redis.hgetall("Note:code:uidx") == {b"abc": b"99", b"xyz": b"7"}


# -- single rows written by rom ------------------------------------------------


def test_float_stored_as_int_loads_as_float(rom_redis: redis.Redis) -> None:
    """A Float stored as ``3`` loads as 3.0; a full save rewrites ``3.0``."""

    class Reading(rom.Model):
        f = rom.Float()
        g = rom.Float(index=True)

    rom_redis.set("Reading:id:", 1)
    rom_redis.hset(
        "Reading:1",
        mapping={"id": "1", "f": "3", "g": "4", "-index-data-": '[{},["g"],{},{},{}]'},
    )
    rom_redis.zadd("Reading:g:idx", {"1": 4})
    r = Reading.get(1)
    assert (r.f, r.g) == (3.0, 4.0)
    assert type(r.f) is float and type(r.g) is float
    # rom 1.1.2 raised a spurious DataRaceError here.
    assert r.save(full=True) == 3
    assert rom_redis.hmget("Reading:1", "f", "g") == [b"3.0", b"4.0"]
    r.save(full=True)
    assert rom_redis.zrange("Reading:g:idx", 0, -1, withscores=True) == [(b"1", 4.0)]


def test_missing_field_gets_default(rom_redis: redis.Redis) -> None:
    """A row without a column's field loads its default, and the next save writes it."""

    class Ticket(rom.Model):
        title = rom.Text()
        status = rom.Text(default="new")
        hits = rom.Integer(default=lambda: 0)
        note = rom.Text()

    rom_redis.set("Ticket:id:", 1)
    rom_redis.hset(
        "Ticket:1",
        mapping={"id": "1", "title": "t", "-index-data-": "[{},{},{},{},{}]"},
    )
    t = Ticket.get(1)
    assert (t.title, t.status, t.hits, t.note) == ("t", "new", 0, None)
    t.save()
    assert rom_redis.hgetall("Ticket:1") == {
        b"id": b"1",
        b"title": b"t",
        b"status": b"new",
        b"hits": b"0",
        b"-index-data-": b"[{},{},{},{},{}]",
    }


def test_row_without_primary_key_field_is_refused(rom_redis: redis.Redis) -> None:
    """Loading a row that lacks the primary-key field raises InvalidColumnValue."""

    class Broken(rom.Model):
        name = rom.Text()

    rom_redis.hset("Broken:1", mapping={"name": "x", "-index-data-": "[]"})
    with pytest.raises(rom.InvalidColumnValue):
        Broken.get(1)


def test_field_of_removed_column_is_ignored(rom_redis: redis.Redis) -> None:
    """A stale field of a column the model no longer has is ignored and left alone."""

    class Slim(rom.Model):
        name = rom.Text()

    rom_redis.set("Slim:id:", 1)
    rom_redis.hset(
        "Slim:1",
        mapping={
            "id": "1",
            "name": "x",
            "gone": "old",
            "-index-data-": "[{},{},{},{},{}]",
        },
    )
    s = Slim.get(1)
    assert s.to_dict() == {"id": 1, "name": "x"}
    s.name = "y"
    s.save()
    assert rom_redis.hgetall("Slim:1") == {
        b"id": b"1",
        b"name": b"y",
        b"gone": b"old",
        b"-index-data-": b"[{},{},{},{},{}]",
    }
