"""Partitioned models (``_partitions``): placement, ids, get, save, delete."""

from __future__ import annotations

import re

import pytest
import redis
import redis.cluster

import rom
from rom._keys import cluster_partition_namespace
from rom._keys import cluster_slot
from rom.exceptions import ColumnError


class PtEvent(rom.Model):
    _partitions = 4
    kind = rom.Text()
    n = rom.Integer(index=True)


def test_new_entities_spread_over_the_partitions(rom_redis: redis.Redis) -> None:
    events = [PtEvent(kind="a", n=i) for i in range(8)]
    rom.session.commit()
    ids = [e.id for e in events]
    assert len(set(ids)) == 8
    assert sorted(i % 4 for i in ids) == [0, 0, 1, 1, 2, 2, 3, 3]
    for e in events:
        key = f"PtEvent~{e.id % 4}:{e.id}"
        assert rom_redis.hget(key, "kind") == b"a"
    assert not list(rom_redis.scan_iter(match="PtEvent:*"))


def test_get_save_delete_go_to_the_entity_partition(rom_redis: redis.Redis) -> None:
    e = PtEvent(kind="x", n=1)
    e.save()
    rom.session.rollback()
    got = PtEvent.get(e.id)
    assert got is not None and got.kind == "x"
    got.kind = "y"
    got.save()
    assert rom_redis.hget(f"PtEvent~{e.id % 4}:{e.id}", "kind") == b"y"
    assert [x.id for x in PtEvent.get([e.id, e.id + 1000])] == [e.id]
    got.delete()
    assert PtEvent.get(e.id) is None
    assert not rom_redis.exists(f"PtEvent~{e.id % 4}:{e.id}")


def test_cluster_partitions_get_one_slot_range_each() -> None:
    for i in range(16):
        ns = cluster_partition_namespace("PtEvent", i, 16)
        assert ns.startswith("{PtEvent~") and ns.endswith("}")
        assert i * 1024 <= cluster_slot(ns + ":1") < (i + 1) * 1024


def test_cluster_slot_agrees_with_redis_py() -> None:
    from redis.crc import key_slot

    for key in ("a", "{user}:1", "user~3:5", "{PtEvent~2~7}:x", "{}a", "x{y"):
        assert cluster_slot(key) == key_slot(key.encode())


@pytest.mark.parametrize("value", [1, 2000, "4", 2.0, True])
def test_a_bad_partition_count_is_refused(fresh_models: None, value: object) -> None:
    with pytest.raises(ColumnError, match="_partitions must be an int from 2"):

        class PtBad(rom.Model):
            _partitions = value
            a = rom.Text()


def test_a_hash_tagged_namespace_cannot_be_partitioned(fresh_models: None) -> None:
    with pytest.raises(ColumnError, match="may not contain"):

        class PtTagged(rom.Model):
            _namespace = "{x}tagged"
            _partitions = 4
            a = rom.Text()


class PtSpread(rom.Model):
    _partitions = 16
    n = rom.Integer(index=True)


@pytest.mark.cluster
def test_entities_spread_evenly_over_the_cluster_masters(
    rom_cluster: redis.cluster.RedisCluster,
) -> None:
    for i in range(480):
        PtSpread(n=i)
    rom.session.commit()
    per_node: dict[str, int] = {}
    for node in rom_cluster.get_primaries():
        client = rom_cluster.get_redis_connection(node)
        rows = [
            k
            for k in client.scan_iter(match="{PtSpread~*}:*")
            if re.fullmatch(rb"\{PtSpread~\d+~\d+\}:\d+", k)
        ]
        per_node[node.name] = len(rows)
    assert sum(per_node.values()) == 480
    # 16 partitions on 3 masters with equal slot runs: 5, 6 and 5 of them.
    assert sorted(per_node.values()) == [150, 150, 180]
    e = PtSpread.get(17)
    assert e is not None and e.n >= 0
    e.n = -1
    e.save()
    rom.session.rollback()
    assert PtSpread.get(17).n == -1


def test_a_namespace_inside_a_partitioned_one_is_refused(fresh_models: None) -> None:
    with pytest.raises(rom.exceptions.ORMError, match="PtEvent is partitioned"):

        class PtInside(rom.Model):
            _namespace = "PtEvent~2"
            a = rom.Text()

    class PtOuter(rom.Model):
        _namespace = "PtOuterNs~1"
        a = rom.Text()

    with pytest.raises(rom.exceptions.ORMError, match="PtOuterBase is partitioned"):

        class PtOuterBase(rom.Model):
            _namespace = "PtOuterNs"
            _partitions = 4
            a = rom.Text()
