"""Fixtures shared by the integration tests."""

from collections.abc import Iterator

import pytest

from .dump import WRITE_PATHS
from .dump import writes_with


@pytest.fixture(params=WRITE_PATHS)
def write_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once with the Lua writer and once with the WATCH writer."""
    with writes_with(request.param):
        yield request.param
