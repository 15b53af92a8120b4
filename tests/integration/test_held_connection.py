"""A thread's held connection (rom._transport): rom's requests of one thread
use one connection of the pool, checked before each use, given back when
the thread ends; none is held from a BlockingConnectionPool, nor more than
a quarter of a pool's max_connections, nor across a fork."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator

import pytest
import redis

import rom
from rom import _transport
from rom._io import call
from rom._io import run_sync
from rom.testing import RedisServer
from rom.testing import use_connection


class HcItem(rom.Model):
    n = rom.Integer(index=True)
    email = rom.Text(unique=True)


@pytest.fixture
def direct(server: RedisServer) -> Iterator[redis.Redis]:
    client = server.client()
    client.flushdb()
    yield client
    client.close()


def _rom_id(client: redis.Redis) -> int:
    """The server's id of the connection rom's next request uses."""
    return int(run_sync(call(client, "client_id")))


def _in_use(client: redis.Redis) -> int:
    return len(client.connection_pool._in_use_connections)  # type: ignore[attr-defined]


def test_a_thread_sends_its_requests_on_one_connection(
    server: RedisServer, direct: redis.Redis
) -> None:
    client = server.client()
    with use_connection(client):
        item = HcItem(n=1, email="a@x")
        item.save()
        first = _rom_id(client)
        for _ in range(5):
            rom.session.rollback()
            assert HcItem.get(item.id).email == "a@x"
            assert HcItem.query.filter(n=1).count() == 1
        assert _rom_id(client) == first
        # Held between requests: the pool made one connection and lends it
        # to nobody else.
        assert _in_use(client) == 1
        assert client.ping()  # redis-py's own call takes another connection
        assert len(direct.client_list()) == 3  # direct, rom's, the ping's
    client.close()


def test_a_connection_the_server_closed_is_replaced_before_a_write(
    server: RedisServer, direct: redis.Redis
) -> None:
    client = server.client()
    with use_connection(client):
        item = HcItem(n=1, email="b@x")
        item.save()
        held = _rom_id(client)
        direct.client_kill_filter(_id=held)
        # Checked before it is used: the write goes on a new connection,
        # once, with no error (not into a closed socket).
        item.n = 2
        item.save()
        assert _rom_id(client) != held
    assert direct.hget(f"HcItem:{item.id}", "n") == b"2"
    assert direct.zscore("HcItem:n:idx", str(item.id)) == 2.0
    client.close()


def test_a_timed_out_reply_is_not_read_by_the_next_request(
    server: RedisServer, direct: redis.Redis
) -> None:
    client = server.client(socket_timeout=0.2)
    direct.set("k", "v")
    assert _rom_id(client)  # the connection is held
    with pytest.raises(redis.TimeoutError):
        run_sync(call(client, "blpop", ["list"], 1))
    # The connection was closed: the server lets the BLPOP go.
    deadline = time.monotonic() + 5
    while [c for c in direct.client_list() if c["cmd"] == "blpop"]:
        assert time.monotonic() < deadline, "the timed-out BLPOP is still blocked"
        time.sleep(0.01)
    direct.rpush("list", "late")  # a reply the closed connection never reads
    assert run_sync(call(client, "get", "k")) == b"v"
    assert direct.llen("list") == 1  # the timed-out BLPOP took nothing
    client.close()


def test_a_thread_gives_its_connection_back_when_it_ends(server: RedisServer) -> None:
    client = server.client()
    ids: list[int] = []
    worker = threading.Thread(target=lambda: ids.append(_rom_id(client)))
    worker.start()
    worker.join()
    gc.collect()
    assert ids and _in_use(client) == 0
    # The connection went back to the pool: the next request takes it.
    assert _rom_id(client) == ids[0]
    client.close()


def test_no_connection_is_held_from_a_blocking_pool(server: RedisServer) -> None:
    pool = redis.BlockingConnectionPool(
        host=server.host, port=server.port, max_connections=1, timeout=1
    )
    client = redis.Redis(connection_pool=pool)
    assert _rom_id(client)
    assert client.ping()  # the only connection is free (else: no connection)
    client.close()


def test_at_most_a_quarter_of_max_connections_is_held(server: RedisServer) -> None:
    client = server.client(max_connections=8)
    done = threading.Event()
    started = threading.Barrier(5)

    def work() -> None:
        _rom_id(client)
        started.wait()
        done.wait()

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    started.wait()
    assert _in_use(client) == 2  # 8 // 4 threads hold one; two gave theirs back
    done.set()
    for worker in workers:
        worker.join()
    gc.collect()
    assert _in_use(client) == 0
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_use_its_parents_connection(
    server: RedisServer,
) -> None:
    # A quarter of 4 connections: one thread may hold one, the parent's
    # main thread does; the child's own main thread may hold one too.
    client = server.client(max_connections=4)
    parent = _rom_id(client)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            slots = _transport._LOCAL.held.slots
            os.write(write, f"{_rom_id(client)} {len(slots)}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    child, held = (int(x) for x in os.read(read, 64).split())
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child and child != parent
    assert held == 1  # the child holds a connection of its own
    assert _rom_id(client) == parent  # the parent's connection is intact
    client.close()


def test_a_thread_holds_at_most_four_connections(server: RedisServer) -> None:
    clients = [server.client() for _ in range(5)]
    for client in clients:
        _rom_id(client)
    # The fifth pool's connection is held in place of the first's.
    assert [_in_use(c) for c in clients] == [0, 1, 1, 1, 1]
    assert _rom_id(clients[0])  # and the first pool is served as before
    assert [_in_use(c) for c in clients] == [1, 0, 1, 1, 1]
    for client in clients:
        client.close()
