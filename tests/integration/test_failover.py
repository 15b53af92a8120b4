"""What a failover to a replica does to rom's writes.

A private primary and a private replica (``--replicaof``); the "failover"
is the primary being killed and the replica promoted (``REPLICAOF NO ONE``),
as Sentinel would do, and the client pointed at it. Redis replicates a
script's writes, the write record included, in one MULTI/EXEC, so:

* a write whose reply was lost, and that reached the replica, is answered
  from its record on the new primary: settling it adopts the outcome and
  nothing is written twice;
* a write that had not reached the replica is gone, even if the old primary
  acknowledged it (Redis replication is asynchronous); rom's next save of
  that entity says so (EntityDeletedError) instead of quietly re-creating
  half of it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
from rom import _io
from rom import _requests
from rom.exceptions import DataRaceError
from rom.exceptions import EntityDeletedError
from rom.testing import RedisServer
from rom.testing import use_connection

from .dump import WRITE_PATHS
from .dump import writes_with
from .faults import assert_consistent


class FoAccount(rom.Model):
    email = rom.Text(unique=True)
    n = rom.Integer(index=True)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT)


def _wait_for(check: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def pair() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A primary and its replica, in sync; both private, both stopped after."""
    with RedisServer() as primary:
        replica_args = ["--replicaof", "127.0.0.1", str(primary.port)]
        with RedisServer(extra_args=replica_args) as replica:
            probe = replica.client()
            _wait_for(
                lambda: probe.info("replication").get("master_link_status") == "up",
                "the replica to connect",
            )
            probe.close()
            rom.session.rollback()
            try:
                yield primary, replica
            finally:
                rom.session.rollback()


def _fail_over(primary: RedisServer, replica: RedisServer) -> redis.Redis:
    """Kill the primary, promote the replica; return a client of it."""
    os.kill(primary.pid, signal.SIGKILL)
    promoted = replica.client()
    promoted.execute_command("REPLICAOF", "NO", "ONE")
    _wait_for(
        lambda: promoted.info("replication").get("role") == "master",
        "the promotion",
    )
    return promoted


def _in_sync(primary: redis.Redis) -> None:
    # WAIT: every write so far reached the one replica.
    assert primary.execute_command("WAIT", 1, 5000) == 1


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_a_lost_reply_settles_on_the_promoted_replica(
    pair: tuple[RedisServer, RedisServer],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    """Every reply of a commit lost (but the writes applied and replicated),
    then a failover: the next commit adopts the outcome from the records on
    the new primary. One row per entity, nothing written twice."""
    primary, replica = pair
    old = primary.client()
    real = _requests._call

    def lose_reply(conn: redis.Redis, chunk: Any, key: str, args: list[str]) -> Any:
        # _call yields its requests (one code for the sync and async drivers).
        yield from real(conn, chunk, key, args)
        raise redis.exceptions.ConnectionError("reply lost (test)")

    with writes_with(path), use_connection(old):
        kept = FoAccount(email="kept@x", n=1, words="before")
        kept.save()
        monkeypatch.setattr(_requests, "_call", lose_reply)
        monkeypatch.setattr(_io.time, "sleep", lambda seconds: None)
        kept.n = 2
        fresh = [FoAccount(email=f"{i}@x", n=i, words="lost reply") for i in range(3)]
        with pytest.raises(rom.WriteOutcomeUnknown):
            rom.session.commit()
        monkeypatch.setattr(_requests, "_call", real)
        _in_sync(old)
    assert all(entity._new for entity in fresh)
    promoted = _fail_over(primary, replica)
    with writes_with(path), use_connection(promoted):
        rom.session.commit()
    assert sorted(e.id for e in fresh) == [2, 3, 4]
    assert not kept._modified and all(not e._new for e in fresh)
    assert assert_consistent(promoted, "FoAccount") == {"1", "2", "3", "4"}
    assert promoted.hget("FoAccount:1", "n") == b"2"
    assert promoted.get("FoAccount:id:") == b"4"


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_a_write_the_replica_never_got_is_lost_and_said_so(
    pair: tuple[RedisServer, RedisServer], path: str
) -> None:
    """The replica is promoted while the old primary still acknowledges a
    new entity and an update (writes in the failover window, never
    replicated); once the old primary is gone neither is there, the data
    left is consistent, and saving the entities again raises
    EntityDeletedError (the new one) and DataRaceError (the update)."""
    primary, replica = pair
    old = primary.client()
    with writes_with(path), use_connection(old):
        before = FoAccount(email="before@x", n=1, words="replicated")
        before.save()
        _in_sync(old)
        promoted = replica.client()
        promoted.execute_command("REPLICAOF", "NO", "ONE")
        unreplicated = FoAccount(email="late@x", n=2, words="not replicated")
        unreplicated.save()  # acknowledged by the old primary alone
        assert unreplicated.id == 2
        before.n = 5
        before.save()  # so is this update
    os.kill(primary.pid, signal.SIGKILL)
    assert assert_consistent(promoted, "FoAccount") == {"1"}
    assert promoted.hget("FoAccount:1", "n") == b"1"
    with writes_with(path), use_connection(promoted):
        unreplicated.n = 3
        with pytest.raises(EntityDeletedError):
            unreplicated.save()
        before.n = 6
        with pytest.raises(DataRaceError):
            before.save()
        # The unique value it held is free on the new primary.
        again = FoAccount(email="late@x", n=4, words="again")
        again.save()
    assert again.id == 2  # the counter is the replica's
    assert assert_consistent(promoted, "FoAccount") == {"1", "2"}
