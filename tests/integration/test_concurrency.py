"""Concurrent writers: unique races, data races and deletes, on both write paths.

Every scenario runs on the Lua writer (the default) and on the WATCH/MULTI
path (``rom._disable_lua_writes()``). Threads are released together by a
barrier, so their writes really race; each thread has its own session.
Each test ends by asserting the consistency checker finds nothing wrong.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis

import rom
from rom import DataRaceError
from rom import EntityDeletedError
from rom import UniqueKeyViolation
from rom.consistency import check
from rom.testing import data_keys

THREADS = 8
REPEATS = 5


class ConcurrencyUser(rom.Model):
    email = rom.Text(unique=True)
    name = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)
    age = rom.Integer(index=True)


class ConcurrencySeat(rom.Model):
    team = rom.Text(index=True, keygen=rom.IDENTITY)
    number = rom.Integer(index=True)
    holder = rom.Text()
    unique_together = ("team", "number")


# -- helpers ------------------------------------------------------------------


Action = Callable[[], Any]


def race(prepares: list[Callable[[], Action]]) -> list[Any]:
    """Prepare each action in its own thread, release them together, and
    return what each returned or raised (in the order given)."""
    barrier = threading.Barrier(len(prepares), timeout=30)
    outcomes: list[Any] = [None] * len(prepares)

    def run(i: int, prepare: Callable[[], Action]) -> None:
        try:
            try:
                action = prepare()
            except BaseException:
                barrier.abort()
                raise
            barrier.wait()
            outcomes[i] = action()
        except BaseException as exc:
            outcomes[i] = exc
        finally:
            rom.session.rollback()

    threads = [
        threading.Thread(target=run, args=(i, p), daemon=True)
        for i, p in enumerate(prepares)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def split(outcomes: list[Any], error: type[Exception]) -> tuple[list[Any], list[Any]]:
    """Return (successes, failures); fail on any unexpected exception."""
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    unexpected = [o for o in failures if not isinstance(o, error)]
    assert unexpected == []
    return [o for o in outcomes if not isinstance(o, BaseException)], failures


def text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8")


def row_ids(conn: redis.Redis, ns: str) -> set[str]:
    """The ids of every row hash of namespace ``ns``."""
    ids = set()
    for key in conn.scan_iter(match=f"{ns}:*"):
        rest = key.decode("utf-8")[len(ns) + 1 :]
        if rest.isdigit():
            ids.add(rest)
    return ids


def referenced_ids(conn: redis.Redis, ns: str) -> dict[str, set[str]]:
    """Every id named by an index or unique key of ``ns``, by key."""
    found: dict[str, set[str]] = {}
    for raw in conn.scan_iter(match=f"{ns}:*"):
        key = raw.decode("utf-8")
        kind = conn.type(raw).decode()
        if kind == "set":
            ids = {text(m) for m in conn.smembers(raw)}
        elif kind == "zset":
            members = [m.split(b"\0")[-1] for m in conn.zrange(raw, 0, -1)]
            ids = {text(m) for m in members}
        elif kind == "hash" and key.endswith(":uidx"):
            ids = {text(v) for v in conn.hvals(raw)}
        else:
            continue
        found[key] = {i for i in ids if i is not None}
    return found


def assert_no_strays(conn: redis.Redis, ns: str) -> None:
    """Every index and unique entry of ``ns`` names a row that exists."""
    rows = row_ids(conn, ns)
    strays = {k: ids - rows for k, ids in referenced_ids(conn, ns).items()}
    assert {k: v for k, v in strays.items() if v} == {}


def assert_uidx_matches_rows(conn: redis.Redis, ns: str, column: str) -> None:
    """The single-column unique hash maps exactly each row's value to its id."""
    expected = {}
    for id in row_ids(conn, ns):
        value = text(conn.hget(f"{ns}:{id}", column))
        if value is not None:
            expected[value] = id
    stored = conn.hgetall(f"{ns}:{column}:uidx")
    assert {text(k): text(v) for k, v in stored.items()} == expected


def counter(conn: redis.Redis, ns: str) -> int:
    return int(conn.get(f"{ns}:id:") or 0)


# -- new entities racing for one unique value ---------------------------------


def test_new_entities_with_one_email_have_one_winner(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """Of eight new users saved at once with one email, one wins and the rest
    get UniqueKeyViolation, leaving no trace and burning no id."""
    ns = ConcurrencyUser._namespace
    for rep in range(REPEATS):
        email = f"same-{rep}@example.com"

        def prepare(i: int, email: str = email) -> Action:
            user = ConcurrencyUser(email=email, name=f"racer number{i}", age=i)

            def save() -> int:
                user.save()
                return user.id

            return save

        outcomes = race([lambda i=i: prepare(i) for i in range(THREADS)])
        winners, losers = split(outcomes, UniqueKeyViolation)
        assert len(winners) == 1
        assert len(losers) == THREADS - 1
        assert text(rom_redis.hget(f"{ns}:email:uidx", email)) == str(winners[0])
        assert counter(rom_redis, ns) == rep + 1
        assert row_ids(rom_redis, ns) == {str(i) for i in range(1, rep + 2)}
        assert_no_strays(rom_redis, ns)
        assert_uidx_matches_rows(rom_redis, ns, "email")
    assert check(ConcurrencyUser, ConcurrencySeat) == []


def test_new_seats_with_one_team_and_number_have_one_winner(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """Of eight new seats saved at once with one (team, number), one wins and
    the rest get UniqueKeyViolation, leaving no trace and burning no id."""
    ns = ConcurrencySeat._namespace
    for rep in range(REPEATS):

        def prepare(i: int, rep: int = rep) -> Action:
            seat = ConcurrencySeat(team="red", number=rep, holder=f"holder {i}")

            def save() -> int:
                seat.save()
                return seat.id

            return save

        outcomes = race([lambda i=i: prepare(i) for i in range(THREADS)])
        winners, losers = split(outcomes, UniqueKeyViolation)
        assert len(winners) == 1
        assert len(losers) == THREADS - 1
        assert counter(rom_redis, ns) == rep + 1
        assert row_ids(rom_redis, ns) == {str(i) for i in range(1, rep + 2)}
        assert rom_redis.hlen(f"{ns}:number:team:uidx") == rep + 1
        assert_no_strays(rom_redis, ns)
    assert rom_redis.zcard(f"{ns}:number:idx") == REPEATS
    assert rom_redis.scard(f"{ns}:team:red:idx") == REPEATS
    assert check(ConcurrencyUser, ConcurrencySeat) == []


def test_new_entities_with_distinct_values_all_win(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """Eight new users saved at once with distinct emails all succeed, with
    distinct ids and no id burnt."""
    ns = ConcurrencyUser._namespace
    for rep in range(REPEATS):

        def prepare(i: int, rep: int = rep) -> Action:
            user = ConcurrencyUser(email=f"u{rep}-{i}@example.com", age=i)

            def save() -> int:
                user.save()
                return user.id

            return save

        outcomes = race([lambda i=i: prepare(i) for i in range(THREADS)])
        winners, _ = split(outcomes, Exception)
        assert len(set(winners)) == THREADS
    assert counter(rom_redis, ns) == THREADS * REPEATS
    assert len(row_ids(rom_redis, ns)) == THREADS * REPEATS
    assert_no_strays(rom_redis, ns)
    assert_uidx_matches_rows(rom_redis, ns, "email")
    assert check(ConcurrencyUser, ConcurrencySeat) == []


# -- existing entities racing to take one unique value -------------------------


def test_updates_to_one_email_have_one_winner(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """Eight users changing their email to the same new one at once: one wins,
    the rest get UniqueKeyViolation and keep their old email everywhere."""
    ns = ConcurrencyUser._namespace
    users = [
        ConcurrencyUser(email=f"old{i}@example.com", age=i) for i in range(THREADS)
    ]
    rom.session.commit()
    ids = [user.id for user in users]
    rom.session.rollback()
    for rep in range(REPEATS):
        email = f"taken-{rep}@example.com"

        def prepare(id: int, email: str = email) -> Action:
            user = ConcurrencyUser.get(id)
            user.email = email

            def save() -> int:
                user.save()
                return id

            return save

        before = {id: text(rom_redis.hget(f"{ns}:{id}", "email")) for id in ids}
        outcomes = race([lambda id=id: prepare(id) for id in ids])
        winners, losers = split(outcomes, UniqueKeyViolation)
        assert len(winners) == 1
        assert len(losers) == THREADS - 1
        (winner,) = winners
        assert text(rom_redis.hget(f"{ns}:email:uidx", email)) == str(winner)
        assert rom_redis.hget(f"{ns}:email:uidx", before[winner]) is None
        for id in ids:
            stored = text(rom_redis.hget(f"{ns}:{id}", "email"))
            assert stored == (email if id == winner else before[id])
        assert counter(rom_redis, ns) == len(ids)
        assert_no_strays(rom_redis, ns)
        assert_uidx_matches_rows(rom_redis, ns, "email")
    assert check(ConcurrencyUser, ConcurrencySeat) == []


def test_updates_to_one_team_and_number_have_one_winner(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """Eight seats moving to the same (team, number) at once: one wins, the
    rest get UniqueKeyViolation and keep their old unique entry."""
    ns = ConcurrencySeat._namespace
    seats = [ConcurrencySeat(team="blue", number=i) for i in range(THREADS)]
    rom.session.commit()
    ids = [seat.id for seat in seats]
    rom.session.rollback()
    for rep in range(REPEATS):

        def prepare(id: int, rep: int = rep) -> Action:
            seat = ConcurrencySeat.get(id)
            seat.number = 100 + rep

            def save() -> int:
                seat.save()
                return id

            return save

        outcomes = race([lambda id=id: prepare(id) for id in ids])
        winners, losers = split(outcomes, UniqueKeyViolation)
        assert len(winners) == 1
        assert len(losers) == THREADS - 1
        numbers = sorted(int(rom_redis.hget(f"{ns}:{id}", "number")) for id in ids)
        assert numbers.count(100 + rep) == 1
        assert rom_redis.hlen(f"{ns}:number:team:uidx") == THREADS
        scores = sorted(
            s for _, s in rom_redis.zrange(f"{ns}:number:idx", 0, -1, withscores=True)
        )
        assert scores == numbers
        assert_no_strays(rom_redis, ns)
    assert check(ConcurrencyUser, ConcurrencySeat) == []


# -- existing entities: data races and deletes --------------------------------


def test_writers_of_one_column_have_one_winner(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """Eight writers changing the same column of one entity at once: one
    succeeds, the rest get DataRaceError, and the row and index agree."""
    ns = ConcurrencyUser._namespace
    user = ConcurrencyUser(email="shared@example.com", name="first", age=0)
    user.save()
    id = user.id
    rom.session.rollback()
    for rep in range(REPEATS):

        def prepare(i: int, rep: int = rep) -> Action:
            mine = ConcurrencyUser.get(id)
            mine.age = 1000 * (rep + 1) + i

            def save() -> int:
                mine.save()
                return mine.age

            return save

        outcomes = race([lambda i=i: prepare(i) for i in range(THREADS)])
        winners, losers = split(outcomes, DataRaceError)
        assert len(winners) == 1
        assert len(losers) == THREADS - 1
        assert int(rom_redis.hget(f"{ns}:{id}", "age")) == winners[0]
        assert rom_redis.zscore(f"{ns}:age:idx", str(id)) == winners[0]
        assert rom_redis.zcard(f"{ns}:age:idx") == 1
        assert_no_strays(rom_redis, ns)
    assert check(ConcurrencyUser, ConcurrencySeat) == []


def test_save_of_an_entity_deleted_meanwhile_raises(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """Saving a change to an entity another thread deleted raises
    EntityDeletedError and does not re-create the row."""
    ns = ConcurrencyUser._namespace
    user = ConcurrencyUser(email="gone@example.com", name="soon gone", age=3)
    user.save()
    id = user.id
    rom.session.rollback()
    stale = ConcurrencyUser.get(id)

    def prepare() -> Action:
        return ConcurrencyUser.get(id).delete

    assert race([prepare]) == [None]
    stale.age = 4
    with pytest.raises(EntityDeletedError):
        stale.save()
    assert data_keys(rom_redis, f"{ns}:*") == [f"{ns}:id:".encode()]
    assert check(ConcurrencyUser, ConcurrencySeat) == []


def test_save_racing_a_delete_never_resurrects_the_entity(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """A save racing a delete of the same entity either lands first or gets
    EntityDeletedError; either way the entity ends up fully deleted."""
    ns = ConcurrencyUser._namespace
    for rep in range(REPEATS * 2):
        user = ConcurrencyUser(email=f"race{rep}@example.com", name="x y", age=rep)
        user.save()
        id = user.id
        rom.session.rollback()

        def prepare_save(id: int = id, rep: int = rep) -> Action:
            mine = ConcurrencyUser.get(id)
            mine.age = rep + 100
            mine.name = "changed name"
            return mine.save

        def prepare_delete(id: int = id) -> Action:
            return ConcurrencyUser.get(id).delete

        saved, deleted = race([prepare_save, prepare_delete])
        assert deleted is None
        assert isinstance(saved, (int, EntityDeletedError))
        assert rom_redis.exists(f"{ns}:{id}") == 0
        assert_no_strays(rom_redis, ns)
    assert data_keys(rom_redis, f"{ns}:*") == [f"{ns}:id:".encode()]
    assert check(ConcurrencyUser, ConcurrencySeat) == []


# -- gaps of rom 1.1.2, closed -----------------------------------------------


def test_delete_of_a_stale_copy_leaves_no_unique_entry(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """Deleting a stale copy of an entity whose email another writer changed
    also removes the new email's unique entry."""
    ns = ConcurrencyUser._namespace
    user = ConcurrencyUser(email="before@example.com", age=1)
    user.save()
    id = user.id
    rom.session.rollback()
    stale = ConcurrencyUser.get(id)

    def prepare() -> Action:
        mine = ConcurrencyUser.get(id)
        mine.email = "after@example.com"
        return mine.save

    assert race([prepare]) == [1]
    stale.delete()
    assert_no_strays(rom_redis, ns)
    assert check(ConcurrencyUser, ConcurrencySeat) == []


def test_writers_of_different_columns_keep_the_index_in_step(
    write_path: str, rom_redis: redis.Redis
) -> None:
    """After two writers change different columns of one entity, the index
    still matches the row (the second save may instead get DataRaceError)."""
    ns = ConcurrencyUser._namespace
    user = ConcurrencyUser(email="both@example.com", name="first", age=1)
    user.save()
    id = user.id
    rom.session.rollback()
    stale = ConcurrencyUser.get(id)
    stale.name = "second"

    def prepare() -> Action:
        mine = ConcurrencyUser.get(id)
        mine.age = 2
        return mine.save

    assert race([prepare]) == [1]
    with contextlib.suppress(DataRaceError):
        stale.save()
    age = int(rom_redis.hget(f"{ns}:{id}", "age"))
    assert rom_redis.zscore(f"{ns}:age:idx", str(id)) == age
    assert check(ConcurrencyUser, ConcurrencySeat) == []
