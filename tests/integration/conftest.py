"""Fixtures shared by the integration tests."""

from collections.abc import Iterator

import pytest

from rom.testing import RedisServer

from .cluster_subset import CLUSTER_TESTS
from .dump import WRITE_PATHS
from .dump import writes_with


@pytest.fixture(params=WRITE_PATHS)
def write_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once with the Lua writer and once with the WATCH writer."""
    with writes_with(request.param):
        yield request.param


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    """A private redis-server of the test module's own, for tests that make
    their clients themselves (proxies, pools, lost replies)."""
    with RedisServer() as private:
        yield private


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``cluster`` the tests listed in cluster_subset.py, and
    ``partitioned`` the behaviour suite of partitioned models.

    Not their async runs with the WATCH writer: rom refuses that pair on a
    cluster (test_cluster_rom.py checks the refusal)."""
    for item in items:
        path, _, rest = item.nodeid.partition("::")
        if path.rsplit("/", 1)[-1].startswith("test_partitioned"):
            item.add_marker(pytest.mark.partitioned)
        chosen = CLUSTER_TESTS.get(path.rsplit("/", 1)[-1])
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("api") == "async" and params.get("write_path") == "watch":
            continue
        if chosen and rest.split("[", 1)[0] in chosen:
            item.add_marker(pytest.mark.cluster)
