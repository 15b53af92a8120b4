"""Maintenance helpers against a real Redis.

refresh_indices rebuilds wiped indexes byte for byte (a large model, with
progress), follows changed index definitions, survives concurrent writers,
resumes; clean_old_index and clean_unsafe_cols remove only what names a
missing row, over every SCAN page, with ':' in namespaces and with
decode_responses=True clients; show_progress reports to terminals and
programs.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
from rom import maintenance
from rom.consistency import check
from rom.testing import data_keys
from rom.testing import is_write_record
from rom.util import Progress
from rom.util import clean_old_index
from rom.util import clean_unsafe_cols
from rom.util import refresh_all_indexes
from rom.util import refresh_indices
from rom.util import show_progress

INDEX_SUFFIXES = (b":idx", b":pre", b":suf", b":uidx", b":geo")


def _where(d: Any) -> tuple[float, float] | None:
    return (d.lon, d.lat) if d.lon is not None else None


class MtGroup(rom.Model):
    _namespace = "mt:groups"
    name = rom.Text()


class MtItem(rom.Model):
    _namespace = "mt:items*"
    email = rom.Text(unique=True)
    n = rom.Integer(index=True)
    score = rom.Float(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    name = rom.Text(index=True, keygen=rom.SIMPLE, prefix=True, suffix=True)
    flag = rom.Boolean(index=True)
    group = rom.ManyToOne("mt:groups", on_delete="no action")
    team = rom.Text()
    number = rom.Integer()
    lon = rom.Float()
    lat = rom.Float()
    unique_together = ("team", "number")
    geo_index = [rom.GeoIndex("where", _where)]  # noqa: RUF012


def _overlapping_model() -> Any:
    """A model whose namespace extends MtItem's, so its keys match
    "mt:items*:*" too. rom refuses to define it next to MtItem, but rom 1.1.2
    did not, so such data may exist: it is defined while MtItem is out of the
    registry, and left out of it."""
    saved = dict(rom.MODELS)
    for key in ("MtItem", "mt:items*"):
        del rom.MODELS[key]
    try:

        class MtInner(rom.Model):
            _namespace = "mt:items*:inner"
            n = rom.Integer(index=True)
            email = rom.Text(unique=True)

    finally:
        rom.MODELS.clear()
        rom.MODELS.update(saved)
    return MtInner


MtInner = _overlapping_model()


class MtNote(rom.Model):
    _namespace = "mt:notes"
    text = rom.Text(index=True, keygen=rom.FULL_TEXT)
    scratch = rom.UnsafeColumn()


def make_items(count: int, group: MtGroup | None = None, chunk: int = 5000) -> None:
    """Save ``count`` MtItems with every index kind in use."""
    for start in range(0, count, chunk):
        for i in range(start, min(start + chunk, count)):
            MtItem(
                email=f"user{i}@example.com",
                n=i,
                score=i / 8,
                tag=f"t{i % 7}",
                name=f"Name {i % 97} item",
                flag=i % 3 == 0,
                group=group,
                team=f"team{i % 11}",
                number=i,
                lon=(i % 360) - 180.0,
                lat=(i % 170) - 85.0,
            )
        rom.session.commit()
        rom.session.rollback()


def fast_dump(conn: redis.Redis, match: str = "*") -> dict[bytes, Any]:
    """Every key and its value, read in pipelined batches (for large dbs)."""
    keys = sorted(
        k for k in conn.scan_iter(match=match, count=5000) if not is_write_record(k)
    )
    out: dict[bytes, Any] = {}
    for start in range(0, len(keys), 2000):
        batch = keys[start : start + 2000]
        pipe = conn.pipeline(transaction=False)
        for key in batch:
            pipe.type(key)
        kinds = pipe.execute()
        for key, kind in zip(batch, kinds, strict=True):
            if kind == b"zset":
                pipe.zrange(key, 0, -1, withscores=True)
            else:
                read = {b"string": pipe.get, b"hash": pipe.hgetall}
                read.get(kind, pipe.smembers)(key)
        for key, kind, value in zip(batch, kinds, pipe.execute(), strict=True):
            out[key] = (kind, sorted(value) if kind == b"set" else value)
    return out


def wipe_indexes(conn: redis.Redis, namespace: str) -> int:
    """Delete every index key of a namespace (rows and counters stay)."""
    doomed = [
        k
        for k in conn.scan_iter(match=f"{namespace}:*", count=5000)
        if k.endswith(INDEX_SUFFIXES)
    ]
    for start in range(0, len(doomed), 1000):
        conn.delete(*doomed[start : start + 1000])
    return len(doomed)


def rebuild_and_compare(conn: redis.Redis, count: int) -> tuple[float, list[Any]]:
    """Save ``count`` items, wipe their indexes, refresh; return time and steps."""
    make_items(count, MtGroup.get(1))
    before = fast_dump(conn)
    assert wipe_indexes(conn, "mt:items\\*") > 10
    assert fast_dump(conn) != before
    steps: list[Any] = []
    out = io.StringIO()
    started = time.perf_counter()
    last = show_progress(
        refresh_indices(MtItem, block_size=1000),
        callback=lambda done, total: steps.append((done, total)),
        file=out,
    )
    elapsed = time.perf_counter() - started
    assert fast_dump(conn) == before
    assert last == (count, count)
    assert "100.0% complete" in out.getvalue()
    return elapsed, steps


@pytest.fixture
def group(rom_redis: redis.Redis) -> MtGroup:
    """The group every item references (id 1)."""
    g = MtGroup(name="g")
    g.save()
    assert g.id == 1
    return g


class TestRefreshIndices:
    def test_rebuilds_wiped_indexes_exactly(
        self, rom_redis: redis.Redis, group: MtGroup
    ) -> None:
        """10,000 rows: the rebuilt index keys equal the originals, byte for byte."""
        elapsed, steps = rebuild_and_compare(rom_redis, 10_000)
        print(f"\nrefresh_indices of 10,000 rows: {elapsed:.2f}s")
        dones = [done for done, _ in steps]
        assert dones == sorted(dones) and len(steps) > 5
        assert all(total >= done for done, total in steps)

    @pytest.mark.slow
    def test_rebuilds_100000_rows(self, rom_redis: redis.Redis, group: MtGroup) -> None:
        """100,000 rows rebuilt exactly (slow: run with -m slow)."""
        elapsed, _ = rebuild_and_compare(rom_redis, 100_000)
        print(f"\nrefresh_indices of 100,000 rows: {elapsed:.2f}s")

    def test_id_probing_gives_the_same_result(
        self, rom_redis: redis.Redis, group: MtGroup
    ) -> None:
        """scan=False (ids 1..counter) rebuilds the same data, gaps skipped."""
        make_items(300, group)
        MtItem.get(5).delete()
        before = fast_dump(rom_redis)
        wipe_indexes(rom_redis, "mt:items\\*")
        steps = list(refresh_indices(MtItem, block_size=50, scan=False))
        assert fast_dump(rom_redis) == before
        assert steps[-1] == (299, 299)
        assert steps[0] == (49, 300)  # rows found among ids 1..50
        assert check(MtItem) == []

    def test_other_namespaces_are_left_alone(
        self, rom_redis: redis.Redis, group: MtGroup
    ) -> None:
        """Rows of a namespace extending ours ("mt:items*:inner") are not read."""
        make_items(20, group)
        inner = MtInner(n=1, email="in@x")
        inner.save()
        rom_redis.delete("mt:items*:inner:n:idx")
        list(refresh_indices(MtItem))
        assert not rom_redis.exists("mt:items*:inner:n:idx")
        assert rom_redis.hget(inner._pk, "n") == b"1"

    def test_follows_a_changed_index_definition(
        self, rom_redis: redis.Redis, fresh_models: None
    ) -> None:
        """After redeclaring a model, old index entries go and new ones appear."""

        class MtVersioned(rom.Model):
            _namespace = "mt:versioned"
            word = rom.Text(index=True, keygen=rom.IDENTITY)
            size = rom.Integer()

        for i in range(30):
            MtVersioned(word=f"w{i % 3}", size=i)
        rom.session.commit()
        for key in ("MtVersioned", "mt:versioned"):
            del rom.MODELS[key]

        class MtVersioned2(rom.Model):  # the same data, new definitions
            _namespace = "mt:versioned"
            word = rom.Text()
            size = rom.Integer(index=True)

        rom.session.rollback()
        list(refresh_indices(MtVersioned2, block_size=10))
        assert data_keys(rom_redis, "mt:versioned:word:*") == []
        assert rom_redis.zcard("mt:versioned:size:idx") == 30
        assert [e.size for e in MtVersioned2.query.filter(size=(5, 6)).all()] == [5, 6]
        assert check(MtVersioned2) == []

    def test_hooks_and_session_are_untouched(
        self, rom_redis: redis.Redis, group: MtGroup
    ) -> None:
        """Cached entities (even modified ones) are neither used nor saved."""
        make_items(5, group)
        cached = MtItem.get(1)
        cached.n = 1000
        list(refresh_indices(MtItem))
        assert rom_redis.hget("mt:items*:1", "n") == b"0"
        assert cached._modified and cached.n == 1000

    def test_a_concurrent_change_is_kept(
        self, rom_redis: redis.Redis, group: MtGroup, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A row changed between read and write is read again and re-indexed."""
        make_items(30, group)
        write_batch = maintenance.write_batch_steps
        changed: list[int] = []

        def meddling(batch: Any) -> Any:
            # The write is steps run by either transport: yield its requests.
            if not changed:
                entity = batch[3][0]
                rom_redis.hset(entity._pk, "n", "777")
                changed.append(entity.id)
            return (yield from write_batch(batch))

        monkeypatch.setattr(maintenance, "write_batch_steps", meddling)
        wipe_indexes(rom_redis, "mt:items\\*")
        steps = list(refresh_indices(MtItem))
        assert steps[-1] == (30, 30)
        assert rom_redis.hget(f"mt:items*:{changed[0]}", "n") == b"777"
        assert rom_redis.zscore("mt:items*:n:idx", changed[0]) == 777.0
        assert rom_redis.zcard("mt:items*:n:idx") == 30
        assert check(MtItem) == []

    def test_resume_from_a_progress_point(
        self, rom_redis: redis.Redis, group: MtGroup
    ) -> None:
        """A job stopped midway continues from Progress.resume."""
        make_items(500, group)
        before = fast_dump(rom_redis)
        wipe_indexes(rom_redis, "mt:items\\*")
        job = refresh_indices(MtItem, block_size=100)
        first = next(job)
        job.close()
        assert isinstance(first, Progress) and first.resume
        rest = list(refresh_indices(MtItem, block_size=100, resume_from=first.resume))
        assert fast_dump(rom_redis) == before
        assert first.done + rest[-1].done >= 500

    def test_decode_responses_connection(
        self, rom_redis: redis.Redis, rom_redis_url: str, group: MtGroup
    ) -> None:
        """A decode_responses=True connection refreshes the same way."""
        make_items(50, group)
        before = fast_dump(rom_redis)
        wipe_indexes(rom_redis, "mt:items\\*")
        conn = redis.Redis.from_url(rom_redis_url, decode_responses=True)
        MtItem._conn = conn
        try:
            list(refresh_indices(MtItem, block_size=10))
        finally:
            del MtItem._conn
            conn.close()
        assert fast_dump(rom_redis) == before


class TestRefreshAllIndexes:
    def test_each_model_once(
        self, rom_redis: redis.Redis, fresh_models: None, group: MtGroup
    ) -> None:
        """Every model is refreshed once, the base Model never."""
        make_items(10, group)
        wipe_indexes(rom_redis, "mt:items\\*")
        mine = {m for m in (MtItem, MtGroup, rom.Model)}
        for key in [k for k, m in rom.MODELS.items() if m not in mine]:
            del rom.MODELS[key]
        out = io.StringIO()
        refresh_all_indexes(file=out)
        lines = [x for x in out.getvalue().splitlines() if x.startswith("updating")]
        assert sorted(lines) == ["updating mt:groups", "updating mt:items*"]
        assert rom_redis.zcard("mt:items*:n:idx") == 10


def legacy_record(*slots: Any) -> str:
    """A pre-1.0 index record as rom 0.4x stored it in ``<ns>::``."""
    return json.dumps([s if s else {} for s in slots])


def _id_of(member: bytes) -> bytes:
    return member.rpartition(b"\0")[2]


def without_ids(dumped: dict[bytes, Any], ids: set[bytes]) -> dict[bytes, Any]:
    """A dump with the rows ``<ns>:<id>`` and every index entry of ``ids`` gone."""
    out: dict[bytes, Any] = {}
    for key, (kind, value) in dumped.items():
        if key.rpartition(b":")[2] in ids:
            continue
        if kind == b"set":
            value = [m for m in value if _id_of(m) not in ids]
        elif kind == b"zset":
            value = [(m, s) for m, s in value if _id_of(m) not in ids]
        elif key.endswith(b":uidx"):
            value = {f: v for f, v in value.items() if v not in ids}
        if value:
            out[key] = (kind, value)
    return out


class TestCleanOldIndex:
    def test_legacy_records_of_missing_rows(self, rom_redis: redis.Redis) -> None:
        """<ns>:: records of vanished rows go, with the entries they name."""
        keep = MtNote(text="kept words")
        keep.save()
        ns = "mt:notes"
        rom_redis.sadd(f"{ns}:text:gone:idx", "90", keep.id)
        rom_redis.zadd(f"{ns}:score:idx", {"90": 1, "91": 2})
        rom_redis.zadd(f"{ns}:text:pre", {"gone\x0090": 1.0})
        rom_redis.zadd(f"{ns}:text:suf", {"enog\x0090": 1.0})
        rom_redis.zadd(f"{ns}:where:geo", {"90": 1.0})
        rom_redis.hset(
            f"{ns}::",
            mapping={
                "90": legacy_record(
                    ["text:gone"],
                    ["score"],
                    [["text", "gone"]],
                    [["text", "enog"], "where"],
                ),
                str(keep.id): legacy_record(["text:kept"]),
            },
        )
        steps = list(clean_old_index(MtNote))
        assert rom_redis.smembers(f"{ns}:text:gone:idx") == {str(keep.id).encode()}
        assert rom_redis.zrange(f"{ns}:score:idx", 0, -1) == [b"91"]
        assert not rom_redis.exists(f"{ns}:text:pre", f"{ns}:text:suf")
        assert not rom_redis.exists(f"{ns}:where:geo")
        assert rom_redis.hkeys(f"{ns}::") == [str(keep.id).encode()]
        assert steps[-1].removed == 6
        assert steps[-1][0] == steps[-1][1]

    def test_index_and_unique_entries_of_missing_rows(
        self, rom_redis: redis.Redis, group: MtGroup
    ) -> None:
        """1.x rows deleted behind rom's back: their entries are found and removed."""
        make_items(40, group)
        before = fast_dump(rom_redis)
        doomed = [f"mt:items*:{i}" for i in (3, 17, 33)]
        rom_redis.delete(*doomed)
        inner = MtInner(n=3, email="user3@example.com")
        inner.save()
        rom_redis.hset("mt:items*:inner:email:uidx", "orphan", "999")
        steps = list(clean_old_index(MtItem, block_size=10))
        after = {k: v for k, v in fast_dump(rom_redis).items() if b"inner" not in k}
        assert after == without_ids(before, {b"3", b"17", b"33"})
        assert rom_redis.hget("mt:items*:inner:email:uidx", "orphan") == b"999"
        assert steps[-1].removed > 3 * 8
        # ids 3, 10, 17, 24, 31 and 38 have tag t2; 3 and 17 are gone.
        assert MtItem.query.filter(tag="t2").count() == 4
        # Only MtInner's keys (another namespace under ours) are reported.
        assert {p.kind for p in check(MtItem)} == {"unknown-key"}
        assert all(p.key.startswith("mt:items*:inner:") for p in check(MtItem))

    def test_unique_entry_taken_over_is_kept(self, rom_redis: redis.Redis) -> None:
        """A unique field is only removed while it still names the missing row."""
        rom_redis.hset("mt:items*:email:uidx", mapping={"a@x": "5", "b@x": "6"})
        rom_redis.hset("mt:items*:6", mapping={"id": "6", "email": "b@x"})
        list(clean_old_index(MtItem))
        assert rom_redis.hgetall("mt:items*:email:uidx") == {b"b@x": b"6"}

    def test_probe_mode_and_decode_responses(
        self, rom_redis: redis.Redis, rom_redis_url: str
    ) -> None:
        """force_hscan=None probes ids; a decode_responses client works too."""
        note = MtNote(text="alive")
        note.save()
        rom_redis.set("mt:notes:id:", 5)
        rom_redis.hset("mt:notes::", "4", legacy_record(["text:dead"]))
        rom_redis.sadd("mt:notes:text:dead:idx", "4")
        conn = redis.Redis.from_url(rom_redis_url, decode_responses=True)
        MtNote._conn = conn
        try:
            steps = list(clean_old_index(MtNote, force_hscan=None))
        finally:
            del MtNote._conn
            conn.close()
        assert not rom_redis.exists("mt:notes::", "mt:notes:text:dead:idx")
        assert rom_redis.smembers("mt:notes:text:alive:idx") == {b"1"}
        assert steps[-1].removed == 2


class TestCleanUnsafeCols:
    def test_removes_keys_of_missing_rows_only(
        self, rom_redis: redis.Redis, rom_redis_url: str
    ) -> None:
        """Across many SCAN pages: orphaned unsafe keys go, others stay."""
        notes = [MtNote(text=f"n{i}") for i in range(1500)]
        rom.session.commit()
        pipe = rom_redis.pipeline(transaction=False)
        for note in notes:
            pipe.rpush(f"mt:notes:{note.id}:scratch", "x")
        pipe.execute()
        for note in notes[::3]:
            rom_redis.delete(note._pk)
        rom_redis.set("mt:notes:9999:text", "orphan under an index-like name")
        rom_redis.set("mt:items*:inner:7", "not mt:items*'s key")
        rom_redis.set("mt:items*:8:scratch", "orphan of MtItem")
        with pytest.raises(ValueError, match="missing models"):
            clean_unsafe_cols()
        conn = redis.Redis.from_url(rom_redis_url, decode_responses=True)
        MtNote._conn = conn
        try:
            examined, deleted = clean_unsafe_cols(MtNote, MtItem, block_size=100)
        finally:
            del MtNote._conn
            conn.close()
        assert deleted == 500 + 1 + 1
        assert examined == 1500 + 1 + 1
        left = data_keys(rom_redis, "mt:notes:*:scratch")
        assert len(left) == 1000
        assert rom_redis.exists("mt:items*:inner:7")
        assert not rom_redis.exists("mt:items*:8:scratch")
        assert clean_unsafe_cols(MtNote) == (1000, 0)


class TestShowProgress:
    @staticmethod
    def job(steps: int) -> Iterator[tuple[int, int]]:
        for i in range(1, steps + 1):
            time.sleep(0.002)
            yield (i, steps)

    def test_callback_gets_every_step(self) -> None:
        """A callback receives each (done, total); nothing is printed."""
        seen: list[tuple[int, int]] = []
        assert show_progress(self.job(5), callback=lambda *a: seen.append(a)) == (5, 5)
        assert seen == [(i, 5) for i in range(1, 6)]

    def test_terminal_gets_a_bar(self) -> None:
        """On a terminal, a \\r-redrawn bar with rom's message, then a newline."""

        class Tty(io.StringIO):
            def isatty(self) -> bool:
                return True

        out = Tty()
        show_progress(self.job(60), file=out, interval=0.01)
        text = out.getvalue()
        assert text.count("\r") > 1 and text.endswith("\n")
        assert "[" + "#" * 30 + "] 100.0% complete" in text
        assert "seconds elapsed" in text and "seconds remaining" in text

    def test_a_log_gets_lines(self) -> None:
        """Elsewhere, plain lines (at most one a second, and the last)."""
        out = io.StringIO()
        show_progress(self.job(20), file=out)
        lines = out.getvalue().splitlines()
        assert lines[-1].startswith("100.0% complete")
        assert "\r" not in out.getvalue() and len(lines) <= 2

    def test_empty_job(self) -> None:
        """A job with no steps returns None and prints nothing."""
        out = io.StringIO()
        assert show_progress(iter(()), file=out) is None
        assert out.getvalue() == ""
