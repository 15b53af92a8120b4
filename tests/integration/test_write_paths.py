"""The Lua writer and the WATCH/MULTI/EXEC writer give the same data and errors.

``rom._disable_lua_writes()`` switches saves and deletes to the WATCH path;
both must leave Redis byte-for-byte identical (up to the order inside the
``-index-data-`` slots), and a refused write must leave it untouched.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from typing import Any

import pytest
import redis

import rom
from rom import GeoIndex
from rom.testing import data_keys
from tests.integration.dump import WRITE_PATHS
from tests.integration.dump import dump
from tests.integration.dump import writes_with

pytestmark = pytest.mark.usefixtures("fresh_models")


# -- models covering every column and index kind ------------------------------


def _pos(d: Any) -> tuple[float, float] | None:
    return (d.lon, d.lat) if d.lon is not None and d.lat is not None else None


def _custom(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"": len(value), f"len:{value}": 1.5, value.lower(): None}


def _declare_models() -> dict[str, Any]:
    class WpGroup(rom.Model):
        name = rom.Text(unique=True)
        items = rom.OneToMany("WpItem", "group")

    class WpItem(rom.Model):
        i = rom.Integer(index=True)
        f = rom.Float(index=True)
        d = rom.Decimal(index=True)
        b = rom.Boolean(index=True)
        dt = rom.DateTime(index=True)
        da = rom.Date(index=True)
        tm = rom.Time(index=True)
        s = rom.String(unique=True)
        sid = rom.String(index=True, keygen=rom.IDENTITY_STRING_CI, prefix=True)
        t = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
        simple = rom.Text(index=True, keygen=rom.SIMPLE_CI, prefix=True, suffix=True)
        ident = rom.Text(index=True, keygen=rom.IDENTITY_CI)
        custom = rom.Text(index=True, keygen=_custom)
        digits = rom.Integer(prefix=True)
        j = rom.Json()
        code = rom.Text(unique=True)
        a = rom.Integer()
        c = rom.Text()
        lon = rom.Float()
        lat = rom.Float()
        group = rom.ManyToOne("WpGroup", on_delete="set null")
        mate = rom.OneToOne("WpGroup", on_delete="no action", unique=True)
        words = rom.IndexOnly("t", keygen=lambda v: v.split() if v else None)
        key = rom.IndexOnly(
            keygen2=lambda attr, d: [d["code"].upper()] if d.get("code") else [],
            unique=True,
        )
        lst = rom.UnsafeColumn()
        unique_together = [("a", "c")]  # noqa: RUF012
        geo_index = [GeoIndex("pos", _pos)]  # noqa: RUF012

    class WpPk(rom.Model):
        id = rom.PrimaryKey(index=True)
        v = rom.Integer(index=True)

    return {"WpGroup": WpGroup, "WpItem": WpItem, "WpPk": WpPk}


def _full_item(m: dict[str, Any], group: Any, n: int) -> Any:
    return m["WpItem"](
        i=n,
        f=n + 0.25,
        d=decimal.Decimal(f"{n}.50"),
        b=True,
        dt=datetime.datetime(2024, 5, 6, 7, 8, 9, 250000),
        da=datetime.date(2020, 1, 2),
        tm=datetime.time(13, 14, 15, 500000),
        s=b"u\xffstr" + bytes([n]),
        sid="Caf\xe9 Bin".encode(),
        t=f"Hello, World! item {n}",
        simple=f"Alice Smith {n}",
        ident="Some Tag",
        custom=f"Value{n}",
        digits=1234 + n,
        j={"n": n, "é": [1, 2]},
        code=f"code-{n}",
        a=n,
        c="café Über",
        lon=0.5,
        lat=50.0,
        group=group,
        mate=group,
    )


def _scenario(conn: redis.Redis, m: dict[str, Any]) -> None:
    """Creates, updates, deletes and unique changes of every kind."""
    WpGroup, WpItem, WpPk = m["WpGroup"], m["WpItem"], m["WpPk"]
    g1, g2 = WpGroup(name="one"), WpGroup(name="two")
    rom.session.commit()
    x1 = _full_item(m, g1, 1)
    x2 = WpItem(i=2, code="code-2")
    x3 = _full_item(m, g2, 3)
    rom.session.commit()
    x3.lst.rpush("a", "b")
    pk = WpPk(v=1)
    pk.save()
    WpPk(v=2).save()

    # Updates: change indexed values, uniques, unique_together, references,
    # the geo point, and clear some columns.
    x1.update(t="Goodbye world", simple="bob", ident="Other", custom="Next")
    x1.update(code="code-1b", a=10, b=False, group=g2, lon=1.5, sid=b"ab")
    del x1.j
    x1.mate = None
    x1.save()
    x2.update(t="Now with words", c="café Über", a=2, f=3, lon=-10.0, lat=-20.0)
    x2.save()
    x2.update(digits=7, s=b"\x00")
    x2.save(full=True)
    pk.v = 5
    pk.save()

    # A forced save over a row someone changed, and a re-save after delete.
    conn.hset("WpItem:2", "i", "99")
    x2.i = 3
    x2.save(force=True)
    x3.delete()
    g1.delete()  # referenced by nobody any more
    g2.name = "deux"
    g2.save()
    x1.refresh(force=True)
    x1.save(full=True)
    WpPk.get(2).delete()


def test_both_paths_write_identical_data(rom_redis: redis.Redis) -> None:
    """The same operations give identical dumps with the Lua and the WATCH writer."""
    m = _declare_models()
    dumps = {}
    for path in WRITE_PATHS:
        rom.session.rollback()
        rom_redis.flushdb()
        with writes_with(path):
            _scenario(rom_redis, m)
        dumps[path] = dump(rom_redis, normalise=True)
    assert len(dumps["lua"]) > 40
    assert dumps["watch"] == dumps["lua"]


def test_scenario_end_state(rom_redis: redis.Redis, write_path: str) -> None:
    """After the scenario, removed values left no index entries on either path."""
    m = _declare_models()
    _scenario(rom_redis, m)
    keys = {k.decode("utf-8", "replace") for k in data_keys(rom_redis, "*")}
    assert not any(k.startswith("WpItem:3") for k in keys)
    assert "WpGroup:1" not in keys
    assert sorted(rom_redis.zrange("WpItem:pos:geo", 0, -1)) == [b"1", b"2"]
    assert rom_redis.zrange("WpPk:id:idx", 0, -1, withscores=True) == [(b"1", 1.0)]
    assert rom_redis.hgetall("WpItem:code:uidx") == {b"code-1b": b"1", b"code-2": b"2"}
    assert rom_redis.hgetall("WpItem:key:uidx") == {b"CODE-1B": b"1", b"CODE-2": b"2"}
    assert rom_redis.hlen("WpItem:a:c:uidx") == 2
    assert rom_redis.hget("WpItem:2", "i") == b"3"
    assert rom_redis.hget("WpItem:1", "group") == b"2"
    assert rom_redis.hgetall("WpGroup:name:uidx") == {b"deux": b"2"}
    x1 = m["WpItem"].get(1)
    assert (x1.t, x1.code, x1.a, x1.b, x1.j) == (
        "Goodbye world",
        "code-1b",
        10,
        False,
        None,
    )


# -- refused writes leave Redis untouched ---------------------------------------


def _saved_item(m: dict[str, Any]) -> Any:
    group = m["WpGroup"](name="g")
    group.save()
    item = _full_item(m, group, 1)
    item.save()
    return item


def _assert_untouched(
    conn: redis.Redis, action: Callable[[], Any], error: type[BaseException]
) -> None:
    before = dump(conn)
    with pytest.raises(error) as raised:
        action()
    assert type(raised.value) is error  # not merely a subclass of it
    assert dump(conn) == before


def test_non_numeric_keygen_score(rom_redis: redis.Redis, write_path: str) -> None:
    """A keygen giving a non-numeric score raises InvalidColumnValue, writes nothing."""

    class WpBadScore(rom.Model):
        v = rom.Text(index=True, keygen=lambda v: {"": v} if v else None)
        w = rom.Text()

    e = WpBadScore(v="12", w="x")
    e.save()
    e.update(v="abc", w="y")
    _assert_untouched(rom_redis, e.save, rom.InvalidColumnValue)
    new = WpBadScore(v="abc")
    _assert_untouched(rom_redis, new.save, rom.InvalidColumnValue)


def test_geo_point_out_of_range(rom_redis: redis.Redis, write_path: str) -> None:
    """A geo point Redis cannot index raises InvalidColumnValue, writes nothing."""
    m = _declare_models()
    item = _saved_item(m)
    item.update(lat=89.0, i=42)
    _assert_untouched(rom_redis, item.save, rom.InvalidColumnValue)
    item.update(lat=50.0, lon=181.0)
    _assert_untouched(rom_redis, item.save, rom.InvalidColumnValue)


def test_bad_values_are_refused_before_writing(
    rom_redis: redis.Redis, write_path: str
) -> None:
    """Integer 'abc' or non-UTF-8 bytes for Text raise InvalidColumnValue."""
    m = _declare_models()
    item = _saved_item(m)

    def bad_int() -> None:
        item.i = "abc"
        item.save()

    def bad_text() -> None:
        item.t = b"\xff\xfe"
        item.save()

    def bad_new() -> None:
        m["WpItem"](i="abc", code="new").save()

    for action in (bad_int, bad_text, bad_new):
        _assert_untouched(rom_redis, action, rom.InvalidColumnValue)
    assert item.i == 1 and item.t == "Hello, World! item 1"


def test_unique_violations(rom_redis: redis.Redis, write_path: str) -> None:
    """Any taken unique value raises UniqueKeyViolation and writes nothing."""
    m = _declare_models()
    WpItem = m["WpItem"]
    item = _saved_item(m)
    other = WpItem(code="other", a=5, c="x", i=5, t="other words")
    other.save()

    other.update(code="code-1", i=6, t="changed")
    _assert_untouched(rom_redis, other.save, rom.UniqueKeyViolation)
    other.update(code="other", s=item.s)
    _assert_untouched(rom_redis, other.save, rom.UniqueKeyViolation)
    other.update(s=None, a=1, c="café Über")
    _assert_untouched(rom_redis, other.save, rom.UniqueKeyViolation)
    other.update(a=5, c="x", code="CODE-1")  # 'key' IndexOnly upper-cases it
    _assert_untouched(rom_redis, other.save, rom.UniqueKeyViolation)
    other.update(code="fine", mate=item.mate)
    _assert_untouched(rom_redis, other.save, rom.UniqueKeyViolation)
    new = WpItem(code="code-1")
    _assert_untouched(rom_redis, new.save, rom.UniqueKeyViolation)


def test_stale_entity_raises_data_race(rom_redis: redis.Redis, write_path: str) -> None:
    """A save over another writer's change raises DataRaceError, writing nothing."""
    m = _declare_models()
    item = _saved_item(m)
    rom_redis.hset("WpItem:1", "t", "someone else")
    item.update(t="mine", i=7)
    _assert_untouched(rom_redis, item.save, rom.DataRaceError)


def test_deleted_entity_raises_entity_deleted(
    rom_redis: redis.Redis, write_path: str
) -> None:
    """Saving a row another writer deleted raises EntityDeletedError, writes nothing."""
    m = _declare_models()
    item = _saved_item(m)
    rom.session.rollback()
    m["WpItem"].get(1).delete()
    item.i = 8
    _assert_untouched(rom_redis, item.save, rom.EntityDeletedError)


def test_commit_stops_at_first_unique_violation(
    rom_redis: redis.Redis, write_path: str
) -> None:
    """A commit writes entities before a unique violation, not it or later ones."""

    class WpCode(rom.Model):
        code = rom.Text(unique=True)
        n = rom.Integer(index=True)

    WpCode(code="dup", n=0).save()
    first = WpCode(code="a", n=1)
    WpCode(code="dup", n=2)
    last = WpCode(code="c", n=3)
    with pytest.raises(rom.UniqueKeyViolation):
        rom.session.commit()
    assert rom_redis.hgetall("WpCode:code:uidx") == {b"dup": b"1", b"a": b"2"}
    assert rom_redis.zrange("WpCode:n:idx", 0, -1, withscores=True) == [
        (b"1", 0.0),
        (b"2", 1.0),
    ]
    assert data_keys(rom_redis, "WpCode:[3-9]") == []
    assert first._new is False and last._new is True
