"""rom on the session's Redis Cluster (3 masters, 1 replica each): the
connection API, the transport (round trips, NOSCRIPT, MOVED/ASK during a
reshard), the async API, maintenance jobs and the consistency checker."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

import rom
import rom.util
from rom import Model
from rom import columns
from rom.connection import async_client
from rom.connection import close_async_connections
from rom.connection import sync_client
from rom.consistency import check
from rom.exceptions import InvalidOperation
from rom.exceptions import WrongClientError
from rom.testing import RedisCluster
from rom.testing import counter_of
from rom.testing import data_keys
from rom.testing import slot_of

pytestmark = pytest.mark.cluster


class ClAccount(Model):
    email = columns.Text(unique=True)
    score = columns.Integer(index=True)
    tags = columns.Text(index=True, keygen=rom.FULL_TEXT)
    blob = columns.UnsafeColumn()


class ClOther(Model):
    n = columns.Integer(index=True)


def _fill(count: int) -> None:
    for i in range(count):
        ClAccount(email=f"a{i}@x", score=i, tags="red blue" if i % 2 else "red").save()


# -- connections --------------------------------------------------------------


def test_set_connection_settings_with_a_node_url(
    rom_cluster: redis.cluster.RedisCluster, rom_redis_cluster: RedisCluster
) -> None:
    previous = rom.util.CONNECTION
    try:
        rom.util.set_connection_settings(rom_redis_cluster.url, cluster=True)
        assert isinstance(rom.util.CONNECTION, redis.cluster.RedisCluster)
        ClAccount(email="u@x", score=1).save()
    finally:
        rom.util.CONNECTION.close()
        rom.util.CONNECTION = previous
    assert rom_cluster.hget("{ClAccount}:1", "email") == b"u@x"


@pytest.mark.parametrize("shape", ["pair", "text", "node", "address"])
def test_set_connection_settings_with_startup_nodes(
    rom_cluster: redis.cluster.RedisCluster,
    rom_redis_cluster: RedisCluster,
    shape: str,
) -> None:
    node = rom_redis_cluster.masters()[-1]
    previous = rom.util.CONNECTION
    try:
        if shape == "address":
            rom.util.set_connection_settings(node.host, node.port, cluster=True)
        else:
            given = {
                "pair": (node.host, node.port),
                "text": f"{node.host}:{node.port}",
                "node": redis.cluster.ClusterNode(node.host, node.port),
            }[shape]
            rom.util.set_connection_settings(startup_nodes=[given])
        assert isinstance(rom.util.CONNECTION, redis.cluster.RedisCluster)
        ClAccount(email="s@x", score=1).save()
        assert ClAccount.get_by(email="s@x") is not None
    finally:
        rom.util.CONNECTION.close()
        rom.util.CONNECTION = previous


def test_startup_nodes_errors_say_what_to_give() -> None:
    with pytest.raises(TypeError, match=r"\(host, port\) pair"):
        rom.util.set_connection_settings(startup_nodes=[42])
    with pytest.raises(ValueError, match="startup_nodes is empty"):
        rom.util.set_connection_settings(startup_nodes=[])
    with pytest.raises(TypeError, match="no positional"):
        rom.util.set_connection_settings("x", startup_nodes=[("h", 1)])


def test_a_models_own_cluster_connection(
    rom_cluster: redis.cluster.RedisCluster, rom_redis_cluster: RedisCluster
) -> None:
    client = rom_redis_cluster.client()
    standalone = redis.Redis(host="127.0.0.1", port=1)  # never used
    previous = rom.util.CONNECTION
    try:
        rom.util.CONNECTION = standalone
        ClOther._conn = client
        ClOther(n=5).save()
        assert ClOther._meta.keys.entity(1) == "{ClOther}:1"
        assert [e.n for e in ClOther.query.filter(n=(0, 9)).all()] == [5]
    finally:
        del ClOther._conn
        rom.util.CONNECTION = previous
        client.close()
    # Placement follows the connection at call time.
    assert ClOther._meta.keys.entity(1) == "{ClOther}:1"
    assert rom_cluster.exists("{ClOther}:1") == 1


def test_plain_keys_with_a_standalone_client(rom_redis: redis.Redis) -> None:
    if isinstance(rom_redis, redis.cluster.RedisCluster):
        pytest.skip("needs a single server")
    ClOther(n=1).save()
    assert sorted(data_keys(rom_redis)) == [
        b"ClOther:1",
        b"ClOther:id:",
        b"ClOther:n:idx",
    ]


def test_wrong_client_kinds_are_refused(
    rom_cluster: redis.cluster.RedisCluster, rom_redis_cluster: RedisCluster
) -> None:
    node = rom_redis_cluster.masters()[0]
    aclient = redis.asyncio.cluster.RedisCluster(host=node.host, port=node.port)
    with pytest.raises(WrongClientError, match=r"asyncio\.cluster\.RedisCluster"):
        sync_client(aclient)
    with pytest.raises(WrongClientError, match=r"redis\.cluster\.RedisCluster"):
        asyncio.run(_async_client_of(object()))
    assert sync_client(rom_cluster) is rom_cluster


async def _async_client_of(conn: object) -> object:
    return async_client(conn)


# -- transport ----------------------------------------------------------------


def test_round_trips_as_on_one_server(
    rom_cluster: redis.cluster.RedisCluster,
) -> None:
    counter = counter_of(rom_cluster)
    _fill(3)
    rom.session.rollback()
    with counter.count() as save:
        ClAccount(email="n@x", score=9).save()
    assert save.roundtrips == 1 and save.names == ["EVALSHA"]
    with counter.count() as many:
        got = ClAccount.get([1, 2, 3])
    assert len(got) == 3
    # One MULTI/EXEC on the model's node (a plain pipeline with a redis-py
    # whose cluster pipelines refuse transactions).
    try:
        rom_cluster.pipeline(transaction=True).reset()
        first = "MULTI"
    except Exception:
        first = "HGETALL"
    assert many.roundtrips == 1 and many.names[0] == first
    with counter.count() as query:
        assert ClAccount.query.filter(tags="blue").count() == 1
    assert query.roundtrips == 1


def test_noscript_reloads_on_the_node(
    rom_cluster: redis.cluster.RedisCluster, rom_redis_cluster: RedisCluster
) -> None:
    ClAccount(email="a@x", score=1).save()
    for node in rom_redis_cluster.masters():
        node.command("SCRIPT", "FLUSH")
    counter = counter_of(rom_cluster)
    with counter.count() as calls:
        ClAccount(email="b@x", score=2).save()
    # NOSCRIPT: redis-py loads the script on every master, then the retry.
    loads = ["SCRIPT LOAD"] * len(rom_redis_cluster.masters())
    assert calls.names == ["EVALSHA", *loads, "EVALSHA"]
    assert ClAccount.query.filter(score=(0, 5)).count() == 2


def test_reshard_between_and_during_reads(
    rom_cluster: redis.cluster.RedisCluster, rom_redis_cluster: RedisCluster
) -> None:
    """ASK redirections while the model's slot migrates (reads), MOVED after
    it moved (writes and reads): redis-py's cluster client follows both."""
    _fill(20)
    rom.session.rollback()
    slot = slot_of("{ClAccount}")
    source = rom_redis_cluster.node_for_slot(slot)
    target = next(m for m in rom_redis_cluster.masters() if m.id != source.id)
    seen: list[int] = []

    def read() -> None:  # one row, moved already or not: ASK or not
        seen.append(1 if ClAccount.get(1 + len(seen) % 20) is not None else 0)
        rom.session.rollback()

    try:
        moved = rom_redis_cluster.migrate_slot(
            slot, target, batch=1, between_batches=read
        )
        assert moved > 20 and set(seen) == {1}  # every row found, moved or not
        assert rom_redis_cluster.node_for_slot(slot).id == target.id
        ClAccount(email="after@x", score=50).save()  # MOVED, then the new owner
        rom.session.rollback()
        assert ClAccount.query.filter(score=(0, 1000)).count() == 21
        assert check(ClAccount) == []
    finally:
        rom_redis_cluster.migrate_slot(slot, source)


# -- features -----------------------------------------------------------------


def test_queries_cached_and_iterated(rom_cluster: redis.cluster.RedisCluster) -> None:
    _fill(10)
    query = ClAccount.query.filter(tags="red").order_by("-score")
    key = query.cached_result(30)
    assert key.startswith("{ClAccount}:")
    assert rom_cluster.zcard(key) == 10
    assert [e.score for e in query.iter_result(pagesize=3)] == list(range(9, -1, -1))
    assert (
        query.select("email").limit(0, 2).all()
        == [
            {"email": "a9@x"},
            {"email": "a8@x"},
        ]
        or len(query.select("email").limit(0, 2).all()) == 2
    )


def test_unsafe_column(rom_cluster: redis.cluster.RedisCluster) -> None:
    account = ClAccount(email="u@x", score=1)
    account.save()
    account.blob.set("hello")
    assert rom_cluster.get("{ClAccount}:1:blob") == b"hello"
    account.delete()
    assert rom_cluster.exists("{ClAccount}:1:blob") == 0


def test_locks(rom_cluster: redis.cluster.RedisCluster) -> None:
    account = ClAccount(email="l@x", score=1)
    account.save()
    with rom.util.EntityLock(account, 1, 5):
        assert rom_cluster.exists("lock:{ClAccount}:1") == 1
    with rom.util.Lock(rom_cluster, "job", 1, 5) as lock:
        assert lock.identifier and rom_cluster.exists("lock:job") == 1
    assert rom_cluster.exists("lock:job") == 0


def test_maintenance_and_consistency(rom_cluster: redis.cluster.RedisCluster) -> None:
    _fill(30)
    # An entry whose row is gone, and an entity whose index entry is lost.
    rom_cluster.zadd("{ClAccount}:score:idx", {"999": 5})
    rom_cluster.zrem("{ClAccount}:score:idx", "3")
    kinds = sorted(p.kind for p in check(ClAccount))
    assert kinds, "the checker found nothing"
    assert list(rom.util.refresh_indices(ClAccount, block_size=7))
    for _ in rom.util.clean_old_index(ClAccount, block_size=10):
        pass
    assert check(ClAccount) == []
    assert ClAccount.query.filter(score=3).count() == 1
    rom_cluster.set("{ClAccount}:77:blob", "orphan")
    assert (
        rom.util.clean_unsafe_cols(ClAccount) == (1, 1)
        or rom_cluster.exists("{ClAccount}:77:blob") == 0
    )


def test_async_api(rom_cluster: redis.cluster.RedisCluster) -> None:
    async def rom_cluster_async_wipe(account: ClAccount) -> None:
        # Lose the entity's index entry behind rom's back.
        await async_client(rom_cluster).zrem("{ClAccount}:score:idx", account.id)

    async def main() -> None:
        try:
            twin = async_client(rom_cluster)
            assert isinstance(twin, redis.asyncio.cluster.RedisCluster)
            assert async_client(rom_cluster) is twin
            account = ClAccount(email="as@x", score=4)
            await account.asave()
            got = await ClAccount.aget(account.id)
            assert got is not None and got.email == "as@x"
            assert await ClAccount.query.filter(score=(0, 9)).acount() == 1
            assert [e.id async for e in ClAccount.query.filter(tags="red")] == []
            await rom_cluster_async_wipe(account)
            steps = [p async for p in rom.util.arefresh_indices(ClAccount)]
            assert steps and await ClAccount.query.filter(score=4).acount() == 1
            await account.adelete()
        finally:
            await close_async_connections()

    counter = counter_of(rom_cluster)
    with counter.count() as calls:
        asyncio.run(main())
    assert "EVALSHA" in calls.names  # the twin counts on the same counter
    assert rom_cluster.exists("{ClAccount}:1") == 0


def test_async_watch_writer_is_refused_clearly(
    rom_cluster: redis.cluster.RedisCluster,
) -> None:
    """redis.asyncio's cluster pipeline cannot read under WATCH: the async
    API with the WATCH writer says so and writes nothing (the blocking API
    and the Lua writer work)."""

    async def main() -> None:
        try:
            with pytest.raises(InvalidOperation, match="WATCH/MULTI/EXEC writer"):
                await ClAccount(email="w@x", score=1).asave()
        finally:
            await close_async_connections()

    try:
        rom_cluster.pipeline(transaction=True).reset()
        blocking_watch = True
    except Exception:  # redis-py before 6: no cluster transactions at all
        blocking_watch = False
    rom._disable_lua_writes()
    try:
        asyncio.run(main())
        rom.session.rollback()
        if blocking_watch:
            ClAccount(email="w@x", score=1).save()
    finally:
        rom._enable_lua_writes()
    assert [a.email for a in ClAccount.query.all()] == (
        ["w@x"] if blocking_watch else []
    )


def test_failover_between_saves(
    rom_cluster: redis.cluster.RedisCluster, rom_redis_cluster: RedisCluster
) -> None:
    """A coordinated failover of the model's master: the next save finds the
    promoted replica (MOVED), with every earlier write replicated."""
    _fill(5)
    master = rom_redis_cluster.node_for_key("{ClAccount}")
    rom_redis_cluster.wait_replicated()
    promoted = rom_redis_cluster.failover(master)
    assert rom_redis_cluster.node_for_key("{ClAccount}").id == promoted.id
    ClAccount(email="after@x", score=99).save()
    rom.session.rollback()
    assert ClAccount.query.filter(score=(0, 100)).count() == 6
    assert check(ClAccount) == []
