"""The ``--#include`` lines of rom's Lua scripts (rom/_scripts.py expand)."""

from __future__ import annotations

from rom import _scripts
from rom._expiry import model_ttl
from rom._expiry import pending_expiry
from rom._keys import INDEX_SUFFIXES
from rom._keys import KeySpace


def test_includes_are_expanded_once_each() -> None:
    source = _scripts.load("write_entity").source
    assert not any(line.startswith(_scripts.INCLUDE) for line in source.splitlines())
    assert source.count("local function remove_entries(") == 1
    assert source.count("local function x_reap(") == 1
    twice = "--#include lib_entries\n--#include lib_entries\n"
    assert _scripts.expand(twice).count("local function key(") == 1


def test_every_script_using_the_expiry_code_includes_what_it_needs() -> None:
    for name in ("write_entity", "search", "read_expiring", "expire_due"):
        source = _scripts.load(name).source
        entries = source.index("local function remove_entries(")
        assert entries < source.index("local function x_reap("), name


def test_expiry_keys_have_shapes_of_their_own() -> None:
    keys = KeySpace("a:b")
    for key in (keys.expiry, keys.expiry_data):
        assert key.startswith("a:b::")
        assert keys.row_id(key) is None
        assert keys.unsafe_parts(key) is None
        assert keys.index_parts(key) is None
        assert key != keys.legacy_index and not keys.is_write_record(key)
        assert key.rpartition(":")[2] not in INDEX_SUFFIXES


def test_ttl_declarations() -> None:
    class Plain:
        pass

    class Hour:
        _ttl = 3600

    class NoDefault:
        _ttl = None

    class Child(Hour):
        pass

    assert model_ttl(Plain) == (False, None)
    assert model_ttl(Hour) == (True, 3_600_000)
    assert model_ttl(NoDefault) == (True, None)
    assert model_ttl(Child) == (True, 3_600_000)
    assert pending_expiry("M", 1.5) == ("rel", 1500)
