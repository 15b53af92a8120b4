"""rom.testing.DroppingProxy: drops what it is told to, and stops quietly."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from rom.testing import DroppingProxy
from rom.testing import RedisServer


@pytest.fixture
def thread_errors() -> Iterator[list[BaseException | None]]:
    """Exceptions that escape any thread while the test runs."""
    seen: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    try:
        yield seen
    finally:
        threading.excepthook = previous


def test_passes_everything_when_told_to_drop_nothing(server: RedisServer) -> None:
    with DroppingProxy(server.port) as proxy:
        client = proxy.client()
        for i in range(50):
            client.set(f"k{i}", i)
        assert client.get("k49") == b"49"
        client.close()
        assert proxy.dropped == 0


def test_a_pump_whose_sockets_were_closed_by_stop_ends_quietly(
    thread_errors: list[BaseException | None],
) -> None:
    """stop() closes the sockets of open connections; a pump thread then
    calling select() on them (fd -1) used to die with ValueError, printed
    as an unhandled thread exception."""
    proxy = DroppingProxy(1)
    a, b = socket.socketpair()
    a.close()
    b.close()
    proxy._pump(a, b)  # returns instead of raising
    assert thread_errors == []


def test_stop_with_open_connections_leaves_no_thread_error(
    server: RedisServer, thread_errors: list[BaseException | None]
) -> None:
    proxy = DroppingProxy(server.port).start()
    clients = [proxy.client() for _ in range(20)]
    for client in clients:
        assert client.ping()
    proxy.stop()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.daemon:
            thread.join(2.5)
    assert thread_errors == []
    for client in clients:
        client.close()
