"""Shared test configuration.

The fixtures (``rom_redis``, ``roundtrips``, ``rom_redis_url``,
``rom_redis_version``) and the ``requires_redis`` marker come from rom's pytest
plugin, ``rom/pytest_plugin.py``, loaded through its ``pytest11`` entry point:
install the package first (``pip install -e '.[test]'``).
"""

from collections.abc import Iterator

import pytest

from rom._registry import MODELS
from rom._registry import MODELS_REFERENCED


@pytest.fixture
def fresh_models() -> Iterator[None]:
    """Let a test declare models (any names) that are forgotten afterwards."""
    models = dict(MODELS)
    referenced = {k: list(v) for k, v in MODELS_REFERENCED.items()}
    try:
        yield
    finally:
        MODELS.clear()
        MODELS.update(models)
        MODELS_REFERENCED.clear()
        MODELS_REFERENCED.update(referenced)
