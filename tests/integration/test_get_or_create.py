"""create, get_or_create and update_or_create against a real Redis.

Race safety on unique columns is shown twice: deterministically (a second
thread creates the same entity while the first is inside its save) and
with threads released together by a barrier.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

import rom
from rom.exceptions import InvalidColumnValue
from rom.exceptions import QueryError
from rom.exceptions import UniqueKeyViolation
from rom.testing import CallCounter


class GocUser(rom.Model):
    email = rom.String(unique=True, required=True)
    name = rom.Text(index=True, keygen=rom.IDENTITY)
    visits = rom.Integer(default=0, index=True)


class GocCity(rom.Model):
    name = rom.Text(index=True, keygen=rom.IDENTITY)
    country = rom.Text(index=True, keygen=rom.IDENTITY)
    people = rom.Integer()


# A user whose first insert lets another thread create the same email first.
RIVAL: dict[str, Any] = {}


class GocRaced(rom.Model):
    email = rom.String(unique=True)
    name = rom.Text()

    def _before_insert(self) -> None:
        email = RIVAL.pop("email", None)
        if email is not None:
            winner = threading.Thread(
                target=lambda: RIVAL.setdefault(
                    "winner", GocRaced.create(email=email, name="rival").id
                )
            )
            winner.start()
            winner.join()


def test_create_saves_now(rom_redis: redis.Redis, roundtrips: CallCounter) -> None:
    GocUser(email=b"warm@x").delete()  # nothing sent: unsaved
    GocUser.create(email=b"w@x", name="W").delete()  # loads the script
    rom_redis.delete("GocUser:id:")
    roundtrips.reset()
    user = GocUser.create(email=b"a@x", name="A")
    assert roundtrips.roundtrips == 1
    assert user.id == 1 and not user._modified
    assert rom_redis.hget("GocUser:1", "email") == b"a@x"
    with pytest.raises(UniqueKeyViolation):
        GocUser.create(email=b"a@x", name="B")
    rom.session.commit()  # the failed entity is not pending
    assert GocUser.query.count() == 1
    with pytest.raises(InvalidColumnValue):
        GocUser.create(email=b"b@x", visits="many")
    assert rom_redis.keys("GocUser:2*") == []


def test_get_or_create_by_unique(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    GocUser.get_or_create(email=b"w@x")[0].delete()  # loads the scripts
    rom_redis.delete("GocUser:id:")
    roundtrips.reset()
    user, created = GocUser.get_or_create(email=b"a@x", defaults={"name": "A"})
    assert created and user.name == "A"
    assert roundtrips.roundtrips == 2  # the unique lookup, the save
    rom.session.rollback()
    roundtrips.reset()
    again, created = GocUser.get_or_create(email=b"a@x", defaults={"name": "Z"})
    assert not created and again.id == user.id and again.name == "A"
    assert roundtrips.roundtrips == 1  # one unique lookup
    # A unique value held by an entity that does not match the rest.
    with pytest.raises(UniqueKeyViolation):
        GocUser.get_or_create(email=b"a@x", name="other")


def test_get_or_create_without_unique(rom_redis: redis.Redis) -> None:
    city, created = GocCity.get_or_create(name="Paris", country="FR")
    assert created
    GocCity.create(name="Paris", country="US", people=3)
    again, created = GocCity.get_or_create(name="Paris", country="FR")
    assert not created and again is city
    GocCity.create(name="Paris", country="FR")
    with pytest.raises(QueryError, match=r"matches 2 entities \(ids \[1, 3\]\)"):
        GocCity.get_or_create(name="Paris", country="FR")
    with pytest.raises(QueryError, match="'mayor' is not a stored column"):
        GocCity.get_or_create(mayor="x")
    with pytest.raises(QueryError, match="at least one column"):
        GocCity.get_or_create()
    with pytest.raises(QueryError, match="no index"):
        GocCity.get_or_create(people=3)


def test_loser_of_a_race_returns_the_winner(rom_redis: redis.Redis) -> None:
    RIVAL["email"] = b"race@x"
    user, created = GocRaced.get_or_create(email=b"race@x", defaults={"name": "me"})
    assert RIVAL.pop("winner") == user.id == 1
    assert not created and user.name == "rival"
    assert rom_redis.keys("GocRaced:[0-9]*") == [b"GocRaced:1"]


def test_racing_threads_create_once(rom_redis: redis.Redis) -> None:
    threads = 8
    barrier = threading.Barrier(threads)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            for round_ in range(10):
                barrier.wait()
                user, created = GocUser.get_or_create(
                    email=f"u{round_}".encode(), defaults={"name": f"t{n}"}
                )
                results.append((user.id, created))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert sum(created for _, created in results) == 10
    assert len({id for id, _ in results}) == 10
    assert GocUser.query.count() == 10


def test_update_or_create(rom_redis: redis.Redis) -> None:
    user, created = GocUser.update_or_create(email=b"a@x", defaults={"visits": 1})
    assert created and user.visits == 1
    rom.session.rollback()
    user, created = GocUser.update_or_create(email=b"a@x", defaults={"visits": 2})
    assert not created and user.visits == 2
    assert rom_redis.hget("GocUser:1", "visits") == b"2"
    # Another writer changed the row after it was read: re-read, re-applied.
    rom_redis.hset("GocUser:1", "name", "changed")
    user2, created = GocUser.update_or_create(
        email=b"a@x", defaults={"name": "mine", "visits": 3}
    )
    assert not created and user2 is user
    assert rom_redis.hmget("GocUser:1", "name", "visits") == [b"mine", b"3"]
