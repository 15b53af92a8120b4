"""Namespaces that would share keys are refused; maintenance stays in its own.

With models ``shop`` and ``shop:item``, a token ``color:red`` of shop's
column ``item`` is the key ``shop:item:color:red:idx``, which is also
shop:item's index of color "red", and shop's SCAN of ``shop:*`` returns
all of shop:item's keys. rom refuses such a pair at class creation. Data
written by rom 1.1.2 (which did not refuse) may still hold both: every
maintenance job touches only keys whose whole shape is its model's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
from rom import ORMError
from rom.consistency import check
from rom.util import clean_old_index
from rom.util import clean_unsafe_cols
from rom.util import refresh_indices


class TestRefusal:
    def test_extending_an_existing_namespace_is_refused(
        self, fresh_models: None
    ) -> None:
        class NsRShop(rom.Model):
            _namespace = "ns:shop"
            name = rom.Text()

        with pytest.raises(ORMError) as raised:

            class NsRShopItem(rom.Model):
                _namespace = "ns:shop:item"
                name = rom.Text()

        message = str(raised.value)
        assert "NsRShopItem cannot use" in message and ".NsRShop," in message
        assert "'ns:shop:item'" in message and "'ns:shop'" in message
        assert "_namespace = 'ns_shop_item'" in message
        assert "NsRShopItem" not in rom.MODELS
        assert "ns:shop:item" not in rom.MODELS
        assert rom.MODELS["ns:shop"] is NsRShop

    def test_a_namespace_beginning_an_existing_one_is_refused(
        self, fresh_models: None
    ) -> None:
        class NsLong(rom.Model):
            _namespace = "ns:shop:item"
            name = rom.Text()

        with pytest.raises(
            ORMError, match=r"NsShort cannot use namespace 'ns:shop'.*NsLong"
        ):

            class NsShort(rom.Model):
                _namespace = "ns:shop"
                name = rom.Text()

        assert "NsShort" not in rom.MODELS
        assert rom.MODELS["ns:shop:item"] is NsLong

    def test_a_class_name_namespace_counts(self, fresh_models: None) -> None:
        class NsStore(rom.Model):
            name = rom.Text()

        with pytest.raises(ORMError, match="NsStore"):

            class NsStoreShelf(rom.Model):
                _namespace = "NsStore:shelf"
                name = rom.Text()

    def test_namespaces_sharing_a_prefix_without_colon_are_fine(
        self, fresh_models: None
    ) -> None:
        class NsA(rom.Model):
            _namespace = "ns:shop"

        class NsB(rom.Model):
            _namespace = "ns:shopping"

        class NsC(rom.Model):
            _namespace = "ns:sho"

        class NsD(rom.Model):
            _namespace = "ns_shop:item"

        assert {NsA._namespace, NsB._namespace, NsC._namespace, NsD._namespace} == {
            "ns:shop",
            "ns:shopping",
            "ns:sho",
            "ns_shop:item",
        }


# -- rom 1.1.2 data with overlapping namespaces ------------------------------


class NsShop(rom.Model):
    _namespace = "nsx:shop"
    # A column named like the other model's namespace suffix: its keys
    # nsx:shop:item:... share the prefix of NsItem's.
    item = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)
    title = rom.Text(index=True, keygen=rom.FULL_TEXT, suffix=True)
    code = rom.Text(unique=True)
    size = rom.Integer(index=True)
    notes = rom.UnsafeColumn()


def _define_item_model() -> Any:
    """NsItem, under "nsx:shop:item", as rom 1.1.2 allowed next to NsShop.

    rom refuses to define it while NsShop is registered, so it is defined
    with NsShop out of the registry, and left out of it itself: only its
    data shares NsShop's key prefix."""
    saved = dict(rom.MODELS)
    for key in ("NsShop", "nsx:shop"):
        del rom.MODELS[key]
    try:

        class NsItem(rom.Model):
            _namespace = "nsx:shop:item"
            name = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
            price = rom.Integer(index=True)
            email = rom.Text(unique=True)
            code = rom.Text(unique=True)
            log = rom.UnsafeColumn()

    finally:
        rom.MODELS.clear()
        rom.MODELS.update(saved)
    return NsItem


NsItem = _define_item_model()


def dump(conn: redis.Redis, pattern: str) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {}
    for key in sorted(conn.scan_iter(match=pattern)):
        kind = conn.type(key)
        if kind == b"zset":
            out[key] = conn.zrange(key, 0, -1, withscores=True)
        elif kind == b"set":
            out[key] = sorted(conn.smembers(key))
        elif kind == b"hash":
            out[key] = conn.hgetall(key)
        elif kind == b"list":
            out[key] = conn.lrange(key, 0, -1)
        else:
            out[key] = conn.get(key)
    return out


@pytest.fixture
def both(rom_redis: redis.Redis) -> Iterator[None]:
    """Entities of both models; NsShop ids 1-6 and NsItem ids 1-12."""
    for i in range(6):
        NsShop(item=f"spare part{i}", title=f"Shop {i}", code=f"s{i}", size=i)
    for i in range(12):
        NsItem(name=f"Part{i} red", price=i, email=f"i{i}@x", code=f"c{i}")
    rom.session.commit()
    rom.session.rollback()
    for i in (1, 7, 12):
        rom_redis.rpush(f"nsx:shop:item:{i}:log", "x")
    yield


def item_keys_are_untouched(conn: redis.Redis, before: dict[bytes, Any]) -> None:
    after = dump(conn, "nsx:shop:item:*")
    mine = {k: v for k, v in after.items() if not _shop_key(k)}
    assert mine == {k: v for k, v in before.items() if not _shop_key(k)}


def _shop_key(key: bytes) -> bool:
    # NsShop's keys under nsx:shop:item:...: its column item's prefix index
    # and its token SETs nsx:shop:item:<token>:idx (NsItem's only key of
    # that shape is its price index).
    if key == b"nsx:shop:item:pre":
        return True
    return key.count(b":") == 4 and key.endswith(b":idx") and b":price:" not in key


def problems(model: Any) -> list[Any]:
    """What check() finds, but the other model's keys under our prefix."""
    return [p for p in check(model) if p.kind != "unknown-key"]


def test_both_models_check_clean(both: None) -> None:
    assert problems(NsItem) == []
    assert problems(NsShop) == []
    # Each scan meets the other model's keys, and says so.
    unknown = {p.key: p.detail for p in check(NsShop)}
    assert "nsx:shop:item:1" in unknown
    assert "nsx:shop:item:name:pre" in unknown
    # Shaped like NsShop's token "price" of column item: shared, not unknown.
    assert "nsx:shop:item:price:idx" not in unknown
    assert "'nsx:shop:item', which another model uses" in unknown["nsx:shop:item:1"]
    shop_keys = {p.key for p in check(NsItem)}
    assert shop_keys == {
        k.decode() for k in dump(NsShop._connection, "nsx:shop:item:*") if _shop_key(k)
    }
    assert "nsx:shop:item:spare:idx" in shop_keys


def test_damage_in_a_shared_key_is_still_found(
    both: None, rom_redis: redis.Redis
) -> None:
    # nsx:shop:item:spare:idx is NsShop's (token "spare" of column item), but
    # it lies under NsItem's namespace: a missing entry is still reported.
    rom_redis.srem("nsx:shop:item:spare:idx", "2")
    assert [(p.kind, p.key) for p in problems(NsShop)] == [
        ("missing-entry", "nsx:shop:item:spare:idx")
    ]


def test_clean_old_index_of_the_shorter_namespace_leaves_the_other_alone(
    both: None, rom_redis: redis.Redis
) -> None:
    # Rows of NsShop vanish behind rom's back: their entries are orphans.
    rom_redis.delete("nsx:shop:2", "nsx:shop:3")
    before = dump(rom_redis, "nsx:shop:item:*")
    steps = list(clean_old_index(NsShop, block_size=10))
    assert steps[-1].removed > 0
    item_keys_are_untouched(rom_redis, before)
    assert problems(NsItem) == []
    assert problems(NsShop) == []
    assert NsItem.query.filter(price=(5, 11)).count() == 7
    assert not rom_redis.zscore("nsx:shop:size:idx", "2")


def test_clean_old_index_of_the_longer_namespace_leaves_the_other_alone(
    both: None, rom_redis: redis.Redis
) -> None:
    rom_redis.delete("nsx:shop:item:4")
    before = dump(rom_redis, "nsx:shop:*")
    list(clean_old_index(NsItem, block_size=10))
    after = dump(rom_redis, "nsx:shop:*")
    shop_only = {k: v for k, v in before.items() if not k.startswith(b"nsx:shop:item:")}
    assert {k: v for k, v in after.items() if k in shop_only} == shop_only
    assert problems(NsItem) == []
    assert problems(NsShop) == []


def test_refresh_indices_reads_only_its_own_rows(
    both: None, rom_redis: redis.Redis
) -> None:
    rom_redis.delete("nsx:shop:size:idx", "nsx:shop:item:price:idx")
    before = dump(rom_redis, "nsx:shop:item:*")
    steps = list(refresh_indices(NsShop, block_size=10))
    assert steps[-1] == (6, 6)
    assert rom_redis.zcard("nsx:shop:size:idx") == 6
    item_keys_are_untouched(rom_redis, before)
    list(refresh_indices(NsItem, block_size=10))
    assert problems(NsItem) == []
    assert problems(NsShop) == []


def test_clean_unsafe_cols_deletes_only_its_own_keys(
    both: None, rom_redis: redis.Redis
) -> None:
    rom_redis.rpush("nsx:shop:5:notes", "n")
    rom_redis.rpush("nsx:shop:50:notes", "orphan")
    rom_redis.delete("nsx:shop:item:7")
    examined, deleted = clean_unsafe_cols(NsShop)
    assert (examined, deleted) == (2, 1)
    assert rom_redis.exists("nsx:shop:item:7:log")
    assert clean_unsafe_cols(NsItem) == (3, 1)
    assert not rom_redis.exists("nsx:shop:item:7:log")


def test_racing_writers_and_maintenance_on_both_models(
    both: None, rom_redis: redis.Redis
) -> None:
    """Writers of both models and the maintenance jobs of both, all at once,
    leave both models' data consistent."""
    errors: list[BaseException] = []
    start = threading.Barrier(4, timeout=30)

    def run(job: Any) -> None:
        try:
            start.wait()
            job()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            rom.session.rollback()

    def write_shops() -> None:
        for n in range(40):
            shop = NsShop.get(1 + n % 6)
            shop.item = f"spare part{n} item"
            shop.size = n
            with contextlib.suppress(rom.DataRaceError):
                shop.save()
            NsShop(item=f"new{n}", title="t", code=f"new{n}", size=n).save()
            rom.session.rollback()

    def write_items() -> None:
        for n in range(40):
            item = NsItem.get(1 + n % 12)
            item.name = f"Part{n} blue"
            item.price = 100 + n
            with contextlib.suppress(rom.DataRaceError):
                item.save()
            NsItem(name=f"x{n}", price=n, email=f"n{n}@x", code=f"n{n}").save()
            rom.session.rollback()

    def maintain(model: Any) -> Any:
        def job() -> None:
            for _ in range(4):
                list(refresh_indices(model, block_size=10))
                list(clean_old_index(model, block_size=10))
                clean_unsafe_cols(model)

        return job

    threads = [
        threading.Thread(target=run, args=(job,), daemon=True)
        for job in (write_shops, write_items, maintain(NsShop), maintain(NsItem))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert NsShop.query.filter(size=(0, None)).count() == 46
    assert NsItem.query.filter(price=(0, None)).count() == 52
    assert problems(NsItem) == []
    assert problems(NsShop) == []
