"""rom writing and reading while its model's slot migrates between two nodes.

Every script declares ``KeySpace.probe`` (a key never written) beside a key
of its slot, so during the migration the cluster answers TRYAGAIN instead
of running it on half of the slot's keys; rom waits and sends it again.

Its own cluster: a failed migration must not disturb the session's one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
from rom import Model
from rom import _scripts
from rom import columns
from rom.connection import close_async_connections
from rom.consistency import check
from rom.testing import RedisCluster
from rom.testing import slot_of
from rom.testing import use_connection


class ClMover(Model):
    email = columns.Text(unique=True)
    score = columns.Integer(index=True)
    words = columns.Text(index=True, keygen=rom.FULL_TEXT)


class ClMoverNote(Model):
    """In another slot: prefetching its movers reads ClMover's slot."""

    n = columns.Integer(index=True)
    mover = rom.ManyToOne("ClMover", on_delete="cascade")


SEEDED = 30


@pytest.fixture
def cluster() -> Iterator[RedisCluster]:
    with RedisCluster(masters=2) as started:
        yield started


@pytest.fixture
def client(cluster: RedisCluster) -> Iterator[redis.RedisCluster]:
    client = cluster.client()
    with use_connection(client):  # type: ignore[arg-type]
        for i in range(SEEDED):
            mover = ClMover(email=f"m{i}@x", score=i, words=f"seed w{i}")
            mover.save()
            ClMoverNote(n=i, mover=mover).save()
        rom.session.rollback()
        yield client
    client.close()


@pytest.fixture
def refusals(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the script calls refused because their slot was migrating."""
    seen: list[int] = []
    real = _scripts._resharding

    def spy(exc: Exception) -> bool:
        found = real(exc)
        if found:
            seen.append(1)
        return found

    monkeypatch.setattr(_scripts, "_resharding", spy)
    return seen


def _migrate(cluster: RedisCluster, during: Callable[[], object]) -> None:
    """Move ClMover's slot to the other master, with ``during`` between
    MIGRATE batches (the slot half moved)."""
    slot = slot_of("{ClMover}")
    source = cluster.node_for_slot(slot)
    target = next(m for m in cluster.masters() if m.id != source.id)
    cluster.migrate_slot(slot, target, batch=5, between_batches=during)
    assert cluster.node_for_slot(slot).id == target.id
    # No key of the slot left behind, none on two masters.
    assert source.command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0


def _in_threads(work: Callable[[threading.Event], None], n: int) -> Any:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work(stop)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            rom.session.rollback()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    return stop, threads, errors


def test_saves_during_a_reshard(
    cluster: RedisCluster, client: redis.RedisCluster, refusals: list[int]
) -> None:
    """Writers save new entities and update seeded ones while the slot
    moves: every acknowledged write is there afterwards, exactly once, and
    the indexes agree with the rows."""
    saved: dict[int, tuple[str, int]] = {}
    updated: dict[int, set[int]] = {}
    lock = threading.Lock()
    counter = iter(range(10**6))

    def write(stop: threading.Event) -> None:
        while not stop.is_set():
            with lock:
                n = next(counter)
            entity = ClMover(email=f"during{n}@x", score=1000 + n, words=f"new w{n}")
            entity.save()
            with lock:
                saved[int(entity.id)] = (f"during{n}@x", 1000 + n)
            seeded = ClMover.get_by(email=f"m{n % SEEDED}@x")
            assert seeded is not None
            seeded.score = 500 + n
            seeded.save()
            with lock:
                updated.setdefault(int(seeded.id), set()).add(500 + n)
            rom.session.rollback()

    stop, threads, errors = _in_threads(write, 2)
    try:
        _migrate(cluster, lambda: time.sleep(0.05))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert refusals, "no write ran into the migration: the test proved nothing"
    assert saved
    rom.session.rollback()
    assert check(ClMover) == []
    for id, (email, score) in saved.items():
        found = ClMover.get_by(email=email)
        assert found is not None and int(found.id) == id and found.score == score
    for id, scores in updated.items():
        # Two writers may update one entity: the last write wins.
        loaded = ClMover.get(id)
        assert loaded is not None and loaded.score in scores
    total = SEEDED + len(saved)
    assert ClMover.query.count() == total
    assert ClMover.query.filter(score=(0, 10**9)).count() == total
    assert len(ClMover.query.filter(words="new").all()) == len(saved)
    # The id counter moved with the slot: no id was handed out twice.
    assert len(saved) == len(set(saved))
    assert max(saved) == total


def test_queries_during_a_reshard_are_exact(
    cluster: RedisCluster, client: redis.RedisCluster, refusals: list[int]
) -> None:
    """Readers query, page, look up by unique value and prefetch while the
    slot moves: every answer is the whole, exact one."""
    expected = {str(i + 1) for i in range(SEEDED)}
    reads: list[int] = []

    def read(stop: threading.Event) -> None:
        while not stop.is_set():
            ids = {str(e.id) for e in ClMover.query.filter(score=(0, 10**9)).all()}
            assert ids == expected
            assert ClMover.query.filter(words="seed").count() == SEEDED
            first = ClMover.query.filter(score=(0, 10**9)).order_by("score")
            assert [e.score for e in first.limit(5, 5).all()] == list(range(5, 10))
            pages = list(first.iter_result(timeout=30, pagesize=7))
            assert [e.score for e in pages] == list(range(SEEDED))
            found = ClMover.get_by(email="m17@x")
            assert found is not None and found.score == 17
            rom.session.rollback()
            notes = ClMoverNote.query.filter(n=(0, 10**9)).prefetch("mover").all()
            assert sorted(note.mover.score for note in notes) == list(range(SEEDED))
            rom.session.rollback()
            reads.append(1)

    stop, threads, errors = _in_threads(read, 2)
    try:
        _migrate(cluster, lambda: time.sleep(0.05))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert refusals, "no read ran into the migration: the test proved nothing"
    assert reads
    assert check(ClMover) == []


def test_a_reshard_that_does_not_finish_fails_cleanly(
    cluster: RedisCluster,
    client: redis.RedisCluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A save or query whose slot stays half migrated longer than rom
    waits raises TryAgainError naming the script and keys; nothing was
    written, and the save goes through once the slot has moved."""
    monkeypatch.setattr(_scripts, "RESHARD_WAIT", 0.05)
    caught: list[BaseException] = []
    late = ClMover(email="late@x", score=7777)

    def during() -> None:
        if caught:
            return
        # Two filters: answered by search.lua (one alone is a ZCOUNT, a
        # one-key command that ASK redirects correctly).
        query = ClMover.query.filter(score=(0, 10), words="seed")
        for call in (late.save, query.all):
            with pytest.raises(redis.exceptions.TryAgainError) as info:
                call()
            caught.append(info.value)

    _migrate(cluster, during)
    assert len(caught) == 2
    assert "reshard of their hash slot is under way" in str(caught[0])
    assert "write_entity.lua" in str(caught[0]) and "ClMover" in str(caught[0])
    assert "search.lua" in str(caught[1])
    assert late.id is None or ClMover.get(late.id) is None
    late.save()
    rom.session.rollback()
    assert ClMover.get_by(email="late@x") is not None
    assert ClMover.query.count() == SEEDED + 1
    assert check(ClMover) == []


def test_async_saves_and_queries_during_a_reshard(
    cluster: RedisCluster, client: redis.RedisCluster, refusals: list[int]
) -> None:
    """The asyncio driver waits out the migration as the blocking one."""
    slot = slot_of("{ClMover}")
    source = cluster.node_for_slot(slot)
    target = next(m for m in cluster.masters() if m.id != source.id)
    saved: dict[str, int] = {}

    async def main() -> None:
        mover = threading.Thread(
            target=cluster.migrate_slot,
            args=(slot, target),
            kwargs={"batch": 5, "between_batches": lambda: time.sleep(0.05)},
        )
        try:
            mover.start()
            n = 0
            while mover.is_alive() or n < 3:
                entity = ClMover(email=f"a{n}@x", score=2000 + n, words="async")
                await entity.asave()
                saved[f"a{n}@x"] = int(entity.id)
                query = ClMover.query.filter(score=(0, 10**9), words="seed")
                assert await query.acount() == SEEDED
                rom.session.rollback()
                n += 1
        finally:
            mover.join()
            await close_async_connections()

    asyncio.run(main())
    assert refusals, "no call ran into the migration: the test proved nothing"
    assert cluster.node_for_slot(slot).id == target.id
    assert source.command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    for email, id in saved.items():
        found = ClMover.get_by(email=email)
        assert found is not None and int(found.id) == id
    assert ClMover.query.count() == SEEDED + len(saved)
    assert check(ClMover) == []


def _save() -> object:
    entity = ClMover(email="waited@x", score=4242)
    entity.save()
    rom.session.rollback()
    found = ClMover.get_by(email="waited@x")
    return found is not None and found.score == 4242


def _search() -> object:
    query = ClMover.query.filter(score=(0, 10**9), words="seed")
    return sorted(e.score for e in query.all())


def _page() -> object:
    query = ClMover.query.filter(score=(0, 10**9)).order_by("score")
    return [e.score for e in query.iter_result(timeout=30, pagesize=7)]


def _unique() -> object:
    found = ClMover.get_by(email=["m3@x", "m29@x"])
    return sorted(e.score for e in found)


def _prefetch() -> object:
    notes = ClMoverNote.query.filter(n=(0, 10**9)).prefetch("mover").all()
    return sorted(note.mover.score for note in notes)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (_save, True),
        (_search, list(range(SEEDED))),
        (_page, list(range(SEEDED))),
        (_unique, [3, 29]),
        (_prefetch, list(range(SEEDED))),
    ],
    ids=["save", "search", "page", "unique", "prefetch"],
)
def test_a_call_refused_mid_migration_waits_and_answers_exactly(
    cluster: RedisCluster,
    client: redis.RedisCluster,
    refusals: list[int],
    call: Callable[[], object],
    expected: object,
) -> None:
    """Started once the slot is half moved, the call is refused (TRYAGAIN),
    then sent again until the slot has moved, and answers exactly."""
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(call())
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            rom.session.rollback()

    thread = threading.Thread(target=run)

    def during() -> None:
        if thread.ident is not None:
            return
        thread.start()
        # Hold the migration half done until the call was refused.
        for _ in range(1000):
            if refusals or not thread.is_alive():
                return
            time.sleep(0.01)

    _migrate(cluster, during)
    thread.join()
    assert errors == []
    assert refusals, "the call was not refused during the migration"
    assert results == [expected]
