"""Index descriptors users declare or filter with (rom 1.1.2's ``rom.index``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["GeoIndex", "Geofilter", "Pattern", "Prefix", "Suffix"]


class Prefix(NamedTuple):
    """A ``startswith`` filter on the prefix index of ``attr``."""

    attr: str
    prefix: str


class Suffix(NamedTuple):
    """An ``endswith`` filter (``suffix`` is already reversed)."""

    attr: str
    suffix: str


class Pattern(NamedTuple):
    """A ``like`` filter on the prefix index of ``attr``."""

    attr: str
    pattern: str


class Geofilter(NamedTuple):
    """A ``near`` filter on the geo index ``name``."""

    name: str
    lon: float
    lat: float
    radius: float
    measure: str
    count: int | None


Geofilter.__name__ = "Geo"


class GeoIndex(NamedTuple):
    """A geo index declared in a model's ``geo_index`` list.

    ``callback(data)`` receives the entity's values as an ``AttrDict`` and
    returns ``(lon, lat)``, a mapping with ``lon`` and ``lat``, or None for
    "no position".
    """

    name: str
    callback: Callable[[Any], Any]
