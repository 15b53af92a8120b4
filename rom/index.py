"""Index descriptors users declare or filter with (rom 1.1.2's ``rom.index``)."""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable
from typing import Any
from typing import NamedTuple

from .keygen import MAX_PREFIX_SCORE

__all__ = [
    "MAX_PREFIX_SCORE",
    "SPECIAL",
    "GeoIndex",
    "Geofilter",
    "Pattern",
    "Prefix",
    "Suffix",
]

# The Lua pattern characters of rom 1.1.2's like() (kept as public API; like()
# no longer builds Lua patterns, so every one of them is literal there).
SPECIAL = re.compile(r"[-().%\[\]^$*+?]")


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


# A functional namedtuple: its field "count" would clash with tuple.count in
# the class syntax. rom 1.1.2 names the type "Geo".
Geofilter = namedtuple("Geo", "name lon lat radius measure count")  # type: ignore[name-match]
Geofilter.__doc__ = "A ``near`` filter on the geo index ``name``."


class GeoIndex(NamedTuple):
    """A geo index declared in a model's ``geo_index`` list.

    ``callback(data)`` receives the entity's values as an ``AttrDict`` and
    returns a mapping with ``lon`` and ``lat``, a ``(lon, lat)`` pair, a
    list of mappings (Redis keeps the last point), or None or ``[]`` for
    "no position".
    """

    name: str
    callback: Callable[[Any], Any]
