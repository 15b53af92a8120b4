"""Partitioned models (``_partitions``) in rom's operations: maintenance jobs,
the consistency check and repair, expiry, the CLI and relations work one
partition at a time (on a Redis Cluster each partition's slot on its own
master) and add up over all of them.

The ``cluster`` tests run on one server by default and on a private
3-master cluster with ``--rom-cluster -m cluster``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster

import rom
import rom.connection
from rom.consistency import check
from rom.testing import data_keys
from rom.util import clean_old_index
from rom.util import clean_unsafe_cols
from rom.util import refresh_indices

P = 4
ROOT = Path(__file__).resolve().parents[2]


def _where(e: Any) -> tuple[float, float] | None:
    return (e.lon, e.lat) if e.lon is not None else None


class PoItem(rom.Model):
    _partitions = P
    n = rom.Integer(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    name = rom.Text(index=True, keygen=rom.SIMPLE, prefix=True, suffix=True)
    lon = rom.Float()
    lat = rom.Float()
    scratch = rom.UnsafeColumn()
    geo_index = [rom.GeoIndex("where", _where)]  # noqa: RUF012


def _keys(conn: Any, pattern: str) -> list[str]:
    return sorted(
        k.decode() if isinstance(k, bytes) else k for k in data_keys(conn, pattern)
    )


def _items(count: int) -> list[PoItem]:
    items = [
        PoItem(n=i, tag=f"t{i % 3}", name=f"name{i}", lon=float(i % 90), lat=1.0)
        for i in range(count)
    ]
    rom.session.commit()
    rom.session.rollback()
    return items


def _arun(coro: Any) -> Any:
    """Run ``coro`` on a fresh event loop, closing rom's async clients after."""

    async def main() -> Any:
        try:
            return await coro
        finally:
            await rom.connection.close_async_connections()

    return asyncio.run(main())


def _part(model: Any, id: object) -> Any:
    return model._meta.keys_for(id)


def _index_dump(conn: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in _keys(conn, "*PoItem~*"):
        kind = conn.type(key)
        if kind == b"zset":
            found[key] = conn.zrange(key, 0, -1, withscores=True)
        elif kind == b"set":
            found[key] = sorted(conn.smembers(key))
    return found


# -- maintenance ---------------------------------------------------------------


@pytest.mark.cluster
def test_refresh_indices_rebuilds_every_partition(rom_redis: redis.Redis) -> None:
    items = _items(40)
    before = _index_dump(rom_redis)
    assert {key.split(":")[0] for key in before} >= {
        part.namespace for part in PoItem._meta.parts
    }
    for key in before:
        rom_redis.delete(key)
    for e in items:
        rom_redis.hdel(_part(PoItem, e.id).entity(e.id), "-index-data-")
    progress = list(refresh_indices(PoItem, block_size=10))
    assert progress[-1].done == progress[-1].total == 40
    assert progress[-1].resume is None
    assert _index_dump(rom_redis) == before
    assert check(PoItem) == []
    # Probing ids counter by counter finds every row too.
    for key in before:
        rom_redis.delete(key)
    progress = list(refresh_indices(PoItem, block_size=10, scan=False))
    assert progress[-1].done == 40
    assert _index_dump(rom_redis) == before


@pytest.mark.cluster
@pytest.mark.parametrize("scan", [True, False])
def test_refresh_indices_resumes_in_the_right_partition(
    rom_redis: redis.Redis, scan: bool
) -> None:
    _items(60)
    before = _index_dump(rom_redis)
    for key in before:
        rom_redis.delete(key)
    seen = steps = resume = 0
    while steps < 100:
        # A job stopped after its first block, resumed where it said.
        job = refresh_indices(PoItem, block_size=10, scan=scan, resume_from=resume)
        first = next(job)
        seen += first.done
        steps += 1
        if first.resume is None:
            break
        resume = first.resume
    # Every partition's rows were rewritten, none skipped.
    assert _index_dump(rom_redis) == before
    assert steps < 100
    if not scan:
        assert steps >= 6  # 60 ids, probed 10 a block
        assert seen == 60  # ids probed block by block, each once
    else:
        # A SCAN page may hold more keys than its COUNT hint asks (whole
        # hash-table buckets), so blocks may be larger; still at least one
        # stop per partition, which are refreshed one after the other.
        assert steps >= P
        assert seen >= 60  # a SCAN may return a key twice across pages


@pytest.mark.cluster
def test_clean_old_index_and_unsafe_cols_per_partition(rom_redis: redis.Redis) -> None:
    items = _items(12)
    for e in items[:4]:
        e.scratch.set("x")
    gone = items[:4]
    # Rows removed behind rom's back: their entries and UnsafeColumn keys
    # are left in their partitions.
    for e in gone:
        rom_redis.delete(_part(PoItem, e.id).entity(e.id))
    parts_hit = {_part(PoItem, e.id).namespace for e in gone}
    assert len(parts_hit) > 1
    progress = list(clean_old_index(PoItem, block_size=10))
    # n, tag, name (idx, pre, suf), where: 6 entries per removed row.
    assert progress[-1].removed == 6 * len(gone)
    assert clean_unsafe_cols(PoItem) == (4, 4)
    for e in gone:
        keys = _part(PoItem, e.id)
        assert rom_redis.zscore(keys.index("n"), str(e.id)) is None
        assert not rom_redis.exists(keys.unsafe(e.id, "scratch"))
    assert check(PoItem) == []
    assert [x.n for x in PoItem.get([e.id for e in items[4:]])] == [
        e.n for e in items[4:]
    ]


@pytest.mark.cluster
def test_async_maintenance_per_partition(rom_redis: redis.Redis) -> None:
    from rom.maintenance import aclean_old_index
    from rom.maintenance import arefresh_indices

    items = _items(20)
    before = _index_dump(rom_redis)
    for key in before:
        rom_redis.delete(key)

    async def run() -> tuple[Any, Any]:
        refreshed = [p async for p in arefresh_indices(PoItem, block_size=10)]
        cleaned = [p async for p in aclean_old_index(PoItem)]
        return refreshed[-1], cleaned[-1]

    refreshed, cleaned = _arun(run())
    assert refreshed.done == len(items)
    assert cleaned.removed == 0
    assert _index_dump(rom_redis) == before


# -- consistency check and repair --------------------------------------------------


@pytest.mark.cluster
def test_check_is_clean_after_writes_and_says_partitioned(
    rom_redis: redis.Redis,
) -> None:
    items = _items(20)
    items[3].delete()
    items[4].n = 99
    items[4].save()
    report = check(PoItem)
    assert report == []
    assert report.partitions == {"PoItem": P}
    assert report.summary() == f"PoItem: ok (19 rows in {P} partitions)"


@pytest.mark.cluster
def test_check_finds_planted_damage_per_partition_and_repair_fixes_it(
    rom_redis: redis.Redis,
) -> None:
    from rom._repair import apply_repair
    from rom._repair import plan_repair

    items = _items(16)
    by_part: dict[int, list[PoItem]] = {}
    for e in items:
        by_part.setdefault(e.id % P, []).append(e)
    a, b, c = by_part[0][0], by_part[1][0], by_part[2][0]
    ka, kb, kc = _part(PoItem, a.id), _part(PoItem, b.id), _part(PoItem, c.id)
    rom_redis.zrem(ka.index("n"), str(a.id))  # missing-entry in partition 0
    rom_redis.zadd(kb.index("n"), {"999": 5})  # orphan-entry in partition 1
    top = max(e.id for e in by_part[2])
    rom_redis.set(kc.counter, 0)  # id-above-counter in partition 2
    # A row copied into partition 3 under an id of partition 1.
    stray = _part(PoItem, 3).entity(b.id)
    rom_redis.hset(stray, mapping={"id": str(b.id), "n": "1"})
    report = check(PoItem)
    found = {(p.kind, p.partition) for p in report}
    assert found == {
        ("missing-entry", 0),
        ("orphan-entry", 1),
        ("id-above-counter", 2),
        ("wrong-partition", 3),
    }
    above = [p for p in report if p.kind == "id-above-counter"]
    assert len(above) == len(by_part[2])
    assert f"SET {kc.counter} {(top - 2) // P}" in above[0].detail
    wrong = next(p for p in report if p.kind == "wrong-partition")
    assert wrong.key == stray and "belongs in partition 1" in wrong.detail
    assert "(partition 3)" in str(wrong)
    assert wrong.to_dict()["partition"] == 3
    assert "(partitions 0, 1, 2, 3)" in report.summary()

    models = {"PoItem": PoItem}
    result = apply_repair(plan_repair(report, models), models)
    assert [s.kind for s in result.manual] == ["manual"]
    assert not result.skipped
    after = check(PoItem)
    assert [(p.kind, p.partition) for p in after] == [("wrong-partition", 3)]
    assert int(rom_redis.get(kc.counter)) == (top - 2) // P
    rom_redis.delete(stray)
    assert check(PoItem) == []
    # The raised counter hands out fresh ids of partition 2.
    fresh = [PoItem(n=-1) for _ in range(P)]
    rom.session.commit()
    assert all(e.id > top for e in fresh if e.id % P == 2)


class PoUnique(rom.Model):
    _partitions = P
    email = rom.Text(unique=True)
    n = rom.Integer(index=True)


def _unique_entry(conn: Any, email: str) -> tuple[str, bytes] | None:
    # Wherever the entry lives (the row's partition, or the value's under
    # the unique-across-partitions protocol): the checker must agree.
    for keys in PoUnique._meta.parts:
        owner = conn.hget(keys.unique("email"), email)
        if owner is not None:
            return keys.unique("email"), owner
    return None


@pytest.mark.cluster
def test_check_and_repair_unique_entries_of_a_partitioned_model(
    rom_redis: redis.Redis,
) -> None:
    from rom._repair import apply_repair
    from rom._repair import plan_repair

    people = [PoUnique(email=f"p{i}@x", n=i) for i in range(8)]
    rom.session.commit()
    rom.session.rollback()
    assert check(PoUnique) == []
    victim = people[5]
    found = _unique_entry(rom_redis, victim.email)
    assert found is not None and found[1] == str(victim.id).encode()
    rom_redis.hdel(found[0], victim.email)
    report = check(PoUnique)
    assert [(p.kind, p.key, p.id) for p in report] == [
        ("missing-unique", found[0], str(victim.id))
    ]
    models = {"PoUnique": PoUnique}
    assert apply_repair(plan_repair(report, models), models).complete
    assert _unique_entry(rom_redis, victim.email) == found
    assert check(PoUnique) == []


def test_async_check_per_partition(rom_redis: redis.Redis) -> None:
    # Not on a cluster: acheck reads rows in a pinned pipeline, which
    # redis.asyncio's cluster client has not (for any model).
    from rom.consistency import acheck

    items = _items(8)
    keys = _part(PoItem, items[5].id)
    rom_redis.srem(keys.token("tag", items[5].tag), str(items[5].id))
    report = _arun(acheck(PoItem))
    assert [(p.kind, p.partition, p.id) for p in report] == [
        ("missing-entry", items[5].id % P, str(items[5].id))
    ]


# -- expiry ----------------------------------------------------------------------------

SHORT = 0.2  # seconds: an expiry that comes during the test
WAIT = 0.45  # past SHORT by more than any clock step


class PoTemp(rom.Model):
    _partitions = P
    _ttl = 3600
    n = rom.Integer(index=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE, prefix=True)
    log = rom.UnsafeColumn()


def _temps(count: int, expire: float | None = None) -> list[PoTemp]:
    temps = [PoTemp(n=i, name=f"t{i}") for i in range(count)]
    for t in temps:
        if expire is not None:
            t.expire(expire)
    rom.session.commit()
    rom.session.rollback()
    return temps


@pytest.mark.cluster
def test_expiry_keys_are_per_partition(rom_redis: redis.Redis) -> None:
    temps = _temps(8)
    for t in temps:
        keys = _part(PoTemp, t.id)
        assert rom_redis.zscore(keys.expiry, str(t.id)) is not None
    assert not _keys(rom_redis, "PoTemp::*")
    assert not _keys(rom_redis, "{PoTemp}*")
    got = PoTemp.get(temps[3].id)
    assert got is not None and got.n == 3
    assert 3590 < got.ttl() <= 3600
    assert [t.n for t in PoTemp.get([t.id for t in temps])] == list(range(8))


@pytest.mark.cluster
def test_expired_partitioned_entities_are_never_read(rom_redis: redis.Redis) -> None:
    temps = _temps(8)
    doomed = temps[:4]  # one in each partition
    assert {t.id % P for t in doomed} == set(range(P))
    for t in doomed:
        got = PoTemp.get(t.id)
        got.expire(SHORT)
        got.save()
    rom.session.rollback()
    time.sleep(WAIT)
    ids = [t.id for t in temps]
    assert [t.n for t in PoTemp.get(ids)] == [4, 5, 6, 7]
    assert PoTemp.get(doomed[2].id) is None
    # Met by the read: removed with their entries, in their partitions.
    for t in doomed:
        keys = _part(PoTemp, t.id)
        assert not rom_redis.exists(keys.entity(t.id))
        assert rom_redis.zscore(keys.index("n"), str(t.id)) is None
    assert check(PoTemp) == []


@pytest.mark.cluster
def test_expire_due_sweeps_every_partition(rom_redis: redis.Redis) -> None:
    temps = _temps(12, expire=SHORT)
    for t in temps[:6]:
        t.log.rpush("a")
    keep = _temps(4)
    time.sleep(WAIT)
    progress = list(rom.util.expire_due(PoTemp, block_size=2))
    assert progress[-1].done == progress[-1].removed == 12
    assert progress[-1].total == 12
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    for t in temps:
        keys = _part(PoTemp, t.id)
        assert not rom_redis.exists(keys.entity(t.id), keys.unsafe(t.id, "log"))
        assert rom_redis.zscore(keys.expiry, str(t.id)) is None
    assert [t.n for t in PoTemp.get([t.id for t in keep])] == [0, 1, 2, 3]
    assert list(rom.util.expire_due(PoTemp)) == [(0, 0)]
    assert check(PoTemp) == []


@pytest.mark.cluster
def test_async_expire_due_per_partition(rom_redis: redis.Redis) -> None:
    _temps(6, expire=SHORT)
    time.sleep(WAIT)

    async def run() -> list[Any]:
        return [p async for p in rom.util.aexpire_due(PoTemp, block_size=4)]

    progress = _arun(run())
    assert progress[-1].done == 6


# -- relations -------------------------------------------------------------------------


class PoAuthor(rom.Model):
    name = rom.Text()
    posts = rom.OneToMany("PoPost", column="author")


class PoPost(rom.Model):
    _partitions = P
    n = rom.Integer(index=True)
    author = rom.ManyToOne("PoAuthor", on_delete="cascade")
    editor = rom.ManyToOne("PoAuthor", on_delete="set null")
    likes = rom.OneToMany("PoLike")


class PoLike(rom.Model):
    _partitions = 3
    post = rom.ManyToOne("PoPost", on_delete="cascade")


class PoComment(rom.Model):
    text = rom.Text()
    post = rom.ManyToOne("PoPost", on_delete="restrict")


def _blog() -> tuple[PoAuthor, PoAuthor, list[PoPost]]:
    ann, bob = PoAuthor(name="ann"), PoAuthor(name="bob")
    rom.session.commit()
    posts = [PoPost(n=i, author=ann, editor=bob) for i in range(8)]
    rom.session.commit()
    for post in posts[:4]:
        PoLike(post=post)
        PoLike(post=post)
    rom.session.commit()
    rom.session.rollback()
    return ann, bob, posts


@pytest.mark.cluster
def test_references_on_and_to_partitioned_models_check_clean(
    rom_redis: redis.Redis,
) -> None:
    ann, _, posts = _blog()
    for post in posts:
        keys = _part(PoPost, post.id)
        assert rom_redis.zscore(keys.index("author"), str(post.id)) == ann.id
    assert check(PoAuthor, PoPost, PoLike) == []
    got = PoPost.get(posts[5].id)
    assert got.author.name == "ann" and got.editor.name == "bob"


@pytest.mark.cluster
def test_missing_reference_found_in_its_partition(rom_redis: redis.Redis) -> None:
    _, bob, posts = _blog()
    rom_redis.delete(bob._pk)  # every post's editor is gone
    report = check(PoPost)
    assert sorted((p.kind, p.partition, p.id) for p in report) == sorted(
        ("missing-reference", post.id % P, str(post.id)) for post in posts
    )
    from rom._repair import apply_repair
    from rom._repair import plan_repair

    models = {"PoPost": PoPost}
    result = apply_repair(plan_repair(report, models), models)
    assert result.complete
    rom.session.rollback()
    assert all(p.editor is None for p in PoPost.get([p.id for p in posts]))
    assert check(PoPost) == []


@pytest.mark.cluster
def test_on_delete_finds_referrers_in_every_partition(rom_redis: redis.Redis) -> None:
    ann, bob, posts = _blog()
    assert {p.id % P for p in posts} == set(range(P))
    liked = [p.id for p in posts[:4]]
    bob.delete()  # 'set null' on the editor of every post
    rom.session.rollback()
    assert [p.editor for p in PoPost.get([p.id for p in posts])] == [None] * 8
    PoAuthor.get(ann.id).delete()  # cascades to the posts, then their likes
    rom.session.rollback()
    assert PoPost.get([p.id for p in posts]) == []
    assert not _keys(rom_redis, "*PoLike~*:[0-9]*")
    assert len(liked) == 4
    assert check(PoAuthor, PoPost, PoLike) == []


@pytest.mark.cluster
def test_restrict_from_a_referrer_of_a_partitioned_model(
    rom_redis: redis.Redis,
) -> None:
    _, _, posts = _blog()
    PoComment(text="hi", post=posts[6])
    rom.session.commit()
    with pytest.raises(rom.exceptions.RestrictError, match=r"PoComment\.post"):
        PoPost.get(posts[6].id).delete()
    rom.session.rollback()
    assert PoPost.get(posts[6].id) is not None


@pytest.mark.cluster
def test_prefetch_reads_every_partition(rom_redis: redis.Redis) -> None:
    _, _, posts = _blog()
    comments = [PoComment(text=str(i), post=post) for i, post in enumerate(posts)]
    rom.session.commit()
    rom.session.rollback()
    authors = PoAuthor.query.prefetch("posts").all()
    by_name = {a.name: a for a in authors}
    # The OneToMany's referrers, from every partition, in id order.
    prefetched = rom._prefetch.PREFETCHED
    found = vars(by_name["ann"])[prefetched]["posts"]
    assert [p.id for p in found] == sorted((p.id for p in posts), key=str)
    assert vars(by_name["bob"])[prefetched]["posts"] == []
    rom.session.rollback()
    got = PoComment.query.prefetch("post").all()
    assert sorted(c.post.n for c in got) == list(range(8))
    assert len(comments) == 8


def test_many_to_many_with_a_partitioned_model_is_refused(fresh_models: None) -> None:
    class PoTagged(rom.Model):
        _partitions = 2
        name = rom.Text()

    with pytest.raises(rom.exceptions.ColumnError, match="PoTagged is partitioned"):

        class PoTag(rom.Model):
            name = rom.Text()
            items = rom.ManyToMany("PoTagged", related_name="tags")

    with pytest.raises(rom.exceptions.ColumnError, match="PoPart is partitioned"):

        class PoPart(rom.Model):
            _partitions = 2
            tags = rom.ManyToMany("PoAuthor", related_name="parts")


class PoAccount(rom.Model):
    _partitions = P
    balance = rom.Integer(default=0)
    sent = rom.Integer(default=0)


@pytest.mark.cluster
def test_transfer_between_partitions(rom_redis: redis.Redis) -> None:
    a, b, txn = (PoAccount(balance=10) for _ in range(3))
    rom.session.commit()
    assert len({a.id % P, b.id % P, txn.id % P}) == 3
    if isinstance(rom_redis, redis.cluster.RedisCluster):
        # Each partition is a slot of its own: no one script holds all three.
        with pytest.raises(ValueError, match="PoAccount is partitioned"):
            a.transfer(b, "balance", 4, txn, "sent")
        assert PoAccount.get(a.id).balance == 10
        return
    a.transfer(b, "balance", 4, txn, "sent")
    rom.session.rollback()
    assert [PoAccount.get(e.id).balance for e in (a, b)] == [6, 14]


# -- the rom command -------------------------------------------------------------------

CLI_APP = """
import rom


class PoCli(rom.Model):
    _partitions = 4
    score = rom.Integer(index=True)
    name = rom.Text()


class PoPlainCli(rom.Model):
    score = rom.Integer(index=True)
"""


def _cli(tmp_path: Path, url: str, cluster: bool, *args: str, stdin: str = "") -> Any:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    env.pop("ROM_REDIS_URI", None)
    command = [sys.executable, "-m", "rom", "--app", "pocliapp", "--url", url]
    done = subprocess.run(
        [*command, *(["--cluster"] if cluster else []), *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done


@pytest.mark.cluster
def test_the_rom_command_on_a_partitioned_model(
    tmp_path: Path, rom_redis: redis.Redis, rom_redis_url: str, fresh_models: None
) -> None:
    (tmp_path / "pocliapp.py").write_text(CLI_APP)
    sys.path.insert(0, str(tmp_path))
    try:
        import pocliapp  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pocliapp", None)
    cluster = isinstance(rom_redis, redis.cluster.RedisCluster)
    model = pocliapp.PoCli
    created = [model(score=i, name=f"n{i}") for i in range(10)]
    rom.session.commit()
    rom.session.rollback()
    ids = sorted(e.id for e in created)  # n * 4 + i: 4..11 and two more

    def rom_(*args: str, stdin: str = "") -> Any:
        return _cli(tmp_path, rom_redis_url, cluster, *args, stdin=stdin)

    models = rom_("models", "PoCli")
    assert models.returncode == 0, models.stderr
    assert "partitioned over 4" in models.stdout
    assert "10 rows in all" in models.stdout
    assert ("{PoCli~<i>~<n>}:" if cluster else "PoCli~<i>:") in models.stdout
    described = json.loads(rom_("models", "--json", "PoCli").stdout)[0]
    assert described["partitions"] == 4 and described["rows"] == 10
    assert sorted(described["partition_rows"]) == [2, 2, 3, 3]
    stats = rom_("stats", "--json")
    figures = {f["model"]: f for f in json.loads(stats.stdout)}
    assert figures["PoCli"]["rows"] == 10
    assert figures["PoCli"]["index_entries"] == 10
    assert "partition_rows" not in figures["PoPlainCli"]
    assert "PoCli/4" in rom_("stats").stdout

    assert rom_("check").returncode == 0
    victim = model.get(6)
    assert victim is not None
    keys = model._meta.keys_for(6)
    rom_redis.zrem(keys.index("score"), "6")
    broken = rom_("check", "-v", "PoCli")
    assert broken.returncode == 1
    assert "in 4 partitions" in broken.stdout
    assert f"PoCli (partition {6 % 4}): missing-entry" in broken.stdout
    as_json = json.loads(rom_("check", "--json", "PoCli").stdout)
    assert [p["partition"] for p in as_json["problems"]] == [6 % 4]
    fixed = rom_("repair", "--apply", "PoCli")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert rom_redis.zscore(keys.index("score"), "6") == victim.score

    rom_redis.zrem(keys.index("score"), "6")
    reindexed = rom_("reindex", "PoCli")
    assert reindexed.returncode == 0, reindexed.stderr
    assert "10 rows re-indexed (all 4 partitions)" in reindexed.stdout
    assert rom_redis.zscore(keys.index("score"), "6") == victim.score
    rom_redis.zadd(keys.index("score"), {"998": 1})  # 998 % 4 == 2: no row
    cleaned = rom_("clean", "PoCli")
    assert "1 orphan index entries removed" in cleaned.stdout
    assert "(all 4 partitions)" in cleaned.stdout

    exported = rom_("export", "PoCli")
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [int(r["id"]) for r in rows] == ids
    for entity in model.get(ids):
        entity.delete()
    rom.session.rollback()
    for part in model._meta.parts:  # as into an empty database
        rom_redis.delete(part.counter)
    imported = rom_("import", "PoCli", stdin=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    assert "imported 10" in imported.stderr
    assert sorted(e.score for e in model.get(ids)) == list(range(10))
    assert rom_("check").returncode == 0
    # Each partition's counter was raised past its imported ids.
    fresh = [model(score=100 + i) for i in range(4)]
    rom.session.commit()
    for e in fresh:
        assert e.id > max(i for i in ids if i % 4 == e.id % 4)
