"""ManyToMany against a real Redis: both sides, atomic changes, deletes, filters.

Memberships live in ``<ns>:<id>:<attr>`` SETs on both sides; every change is
one script call; deleting an entity on either side applies the other side's
policy ('remove', 'restrict', 'cascade').
"""

from __future__ import annotations

import threading

import pytest
import redis

import rom
from rom.exceptions import ColumnError
from rom.exceptions import EntityDeletedError
from rom.exceptions import InvalidColumnValue
from rom.exceptions import InvalidOperation
from rom.exceptions import RestrictError
from rom.testing import CallCounter


class MmPost(rom.Model):
    title = rom.Text()
    tags = rom.ManyToMany("MmTag", related_name="posts")


class MmTag(rom.Model):
    name = rom.Text()


# Deleting a tag is refused while posts use it; deleting a note deletes its
# labels (related_on_delete='cascade').
class MmNote(rom.Model):
    text = rom.Text()
    labels = rom.ManyToMany(
        "MmLabel",
        related_name="notes",
        on_delete="restrict",
        related_on_delete="cascade",
    )


class MmLabel(rom.Model):
    name = rom.Text()


def members(conn: redis.Redis, key: str) -> set[int]:
    return {int(m) for m in conn.smembers(key)}


def saved(*entities: rom.Model) -> None:
    for e in entities:
        e.save()


def test_both_sides_and_keys(rom_redis: redis.Redis, roundtrips: CallCounter) -> None:
    post, other = MmPost(title="a"), MmPost(title="b")
    t1, t2, t3 = MmTag(name="x"), MmTag(name="y"), MmTag(name="z")
    saved(post, other, t1, t2, t3)
    assert post.tags.remove(t3) == 0  # loads the script on the server
    roundtrips.reset()
    assert post.tags.add(t1, t2.id) == 2
    assert roundtrips.roundtrips == 1
    assert post.tags.add(t1) == 0  # already there
    other.tags.add(t2)
    assert members(rom_redis, "MmPost:1:tags") == {1, 2}
    assert members(rom_redis, "MmTag:2:posts") == {1, 2}
    assert members(rom_redis, "MmTag:1:posts") == {1}
    assert MmTag.query.filter(posts=post).count() == 2  # loads search.lua
    roundtrips.reset()
    assert [t.name for t in post.tags.all()] == ["x", "y"]
    assert roundtrips.roundtrips == 1
    assert [p.title for p in t2.posts.all()] == ["a", "b"]
    assert t2.posts.ids() == [1, 2]
    assert t2.posts.count() == 2
    assert post in t1.posts and other not in t1.posts
    assert [t.name for t in post.tags.query.filter(posts=other).all()] == ["y"]
    assert post.tags.all()[0] is t1  # the session's entity
    assert MmTag.posts.other is MmPost.tags  # type: ignore[attr-defined]


def test_remove_set_clear(rom_redis: redis.Redis, roundtrips: CallCounter) -> None:
    post = MmPost(title="a")
    tags = [MmTag(name=n) for n in "abcd"]
    saved(post, *tags)
    post.tags.add(*tags[:3])
    assert post.tags.remove(tags[0], tags[3]) == 1
    assert post.tags.ids() == [2, 3]
    assert tags[0].posts.ids() == []
    roundtrips.reset()
    assert post.tags.set([tags[2], tags[3]]) == 2  # 2 out, 4 in
    assert roundtrips.roundtrips == 1
    assert post.tags.ids() == [3, 4]
    assert tags[1].posts.ids() == [] and tags[3].posts.ids() == [1]
    assert post.tags.clear() == 2
    assert post.tags.ids() == []
    assert not rom_redis.exists("MmPost:1:tags", "MmTag:3:posts", "MmTag:4:posts")


def test_refuses_bad_input_and_writes_nothing(rom_redis: redis.Redis) -> None:
    post, tag = MmPost(title="a"), MmTag(name="x")
    unsaved = MmTag(name="new")
    post.save()
    tag.save()
    before = sorted(rom_redis.keys())
    with pytest.raises(InvalidOperation, match="MmTag entity is not saved yet"):
        post.tags.add(tag, unsaved)
    with pytest.raises(InvalidColumnValue, match="expected a saved MmTag"):
        post.tags.add(post)
    with pytest.raises(InvalidOperation, match="no MmTag with id 99 exists"):
        post.tags.add(tag, 99)
    with pytest.raises(InvalidOperation, match="MmPost entity is not saved yet"):
        MmPost(title="new").tags.add(tag)
    with pytest.raises(InvalidOperation, match=r"\.tags\.set\(\[\.\.\.\]\)"):
        post.tags = [tag]
    rom_redis.delete("MmPost:1")  # deleted by another writer
    with pytest.raises(EntityDeletedError, match="MmPost:1 was deleted"):
        post.tags.add(tag)
    rom_redis.hset("MmPost:1", "id", "1")
    assert sorted(rom_redis.keys()) == before


def test_declaration_errors(fresh_models: None) -> None:
    with pytest.raises(ColumnError, match="on_delete='set null' is not one of"):
        rom.ManyToMany("MmTag", related_name="x", on_delete="set null")
    with pytest.raises(ColumnError, match="related_name"):
        rom.ManyToMany("MmTag", related_name="")

    class MmClashA(rom.Model):
        name = rom.Text()

    with pytest.raises(ColumnError, match="related_name='name' is already"):

        class MmClashB(rom.Model):
            others = rom.ManyToMany("MmClashA", related_name="name")


def test_declared_before_the_other_model(
    rom_redis: redis.Redis, fresh_models: None
) -> None:
    class MmLateA(rom.Model):
        bs = rom.ManyToMany("MmLateB", related_name="as_")

    a = MmLateA()
    a.save()
    with pytest.raises(rom.ORMError, match="'MmLateB', which is not a defined"):
        a.bs.ids()

    class MmLateB(rom.Model):
        name = rom.Text()

    b = MmLateB(name="b")
    b.save()
    a.bs.add(b)
    assert b.as_.all() == [a]  # type: ignore[attr-defined]


def test_filter_by_member(rom_redis: redis.Redis, roundtrips: CallCounter) -> None:
    posts = [MmPost(title=f"p{i}") for i in range(4)]
    t1, t2 = MmTag(name="x"), MmTag(name="y")
    saved(*posts, t1, t2)
    posts[0].tags.add(t1)
    posts[2].tags.add(t1, t2)
    posts[3].tags.add(t2)
    roundtrips.reset()
    assert MmPost.query.filter(tags=t1).all() == [posts[0], posts[2]]
    assert roundtrips.roundtrips == 1
    assert MmPost.query.filter(tags=t2.id).count() == 2
    assert MmPost.query.filter(tags=[t1, t2]).all() == [posts[0], posts[2], posts[3]]
    assert MmPost.query.filter(tags=t1).filter(tags=t2).all() == [posts[2]]
    assert MmTag.query.filter(posts=posts[2]).all() == [t1, t2]
    assert MmPost.query.filter(tags=[]).all() == []
    with pytest.raises(InvalidColumnValue, match="expected a saved MmTag"):
        MmPost.query.filter(tags="x")


def test_delete_removes_memberships_on_both_sides(rom_redis: redis.Redis) -> None:
    post, other = MmPost(title="a"), MmPost(title="b")
    t1, t2 = MmTag(name="x"), MmTag(name="y")
    saved(post, other, t1, t2)
    post.tags.add(t1, t2)
    other.tags.add(t1)
    t1.delete()
    assert post.tags.ids() == [2] and other.tags.ids() == []
    assert not rom_redis.exists("MmTag:1:posts")
    post.delete()
    assert t2.posts.ids() == []
    assert not rom_redis.exists("MmPost:1:tags", "MmTag:2:posts")
    rom.session.delete(other, t2)  # nothing related left: still fine
    assert rom_redis.keys("Mm*:[0-9]*:*") == []


def test_restrict_and_cascade(rom_redis: redis.Redis) -> None:
    note, other = MmNote(text="n"), MmNote(text="o")
    l1, l2, l3 = MmLabel(name="a"), MmLabel(name="b"), MmLabel(name="c")
    saved(note, other, l1, l2, l3)
    note.labels.add(l1, l2)
    other.labels.add(l3)
    with pytest.raises(RestrictError, match=r"MmNote\.labels exist"):
        l1.delete()
    assert MmLabel.get(1) is l1 and note.labels.ids() == [1, 2]
    note.delete()  # cascades to its labels
    assert MmLabel.get([1, 2, 3]) == [l3]
    assert l1._deleted and l2._deleted
    assert other.labels.ids() == [3]
    assert rom_redis.keys("MmNote:1:*") == [] and rom_redis.keys("MmLabel:1:*") == []
    other.labels.clear()
    l3.delete()  # no notes left: allowed
    assert MmLabel.get(3) is None


def test_query_delete_of_a_side(rom_redis: redis.Redis) -> None:
    posts = [MmPost(title=f"p{i}") for i in range(3)]
    tag = MmTag(name="x")
    saved(*posts, tag)
    tag.posts.set(posts)
    MmPost.query.filter(tags=tag).delete()
    assert tag.posts.ids() == []
    assert MmPost.query.count() == 0


def test_racing_changes_keep_both_sides_equal(rom_redis: redis.Redis) -> None:
    posts = [MmPost(title=f"p{i}") for i in range(4)]
    tags = [MmTag(name=f"t{i}") for i in range(4)]
    saved(*posts, *tags)
    post_ids = [p.id for p in posts]
    tag_ids = [t.id for t in tags]
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        try:
            mine = MmPost.get(post_ids)
            for step in range(60):
                post = mine[(seed + step) % len(mine)]
                chosen = tag_ids[(step * (seed + 1)) % 4 :][:2]
                [post.tags.add, post.tags.remove, post.tags.set][step % 3](
                    *([chosen] if step % 3 == 2 else chosen)
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    forward = {(p, t) for p in post_ids for t in members(rom_redis, f"MmPost:{p}:tags")}
    backward = {(p, t) for t in tag_ids for p in members(rom_redis, f"MmTag:{t}:posts")}
    assert forward == backward


def test_delete_racing_an_add_leaves_no_dangling_member(rom_redis: redis.Redis) -> None:
    # A tag deleted by another process: add() refuses it instead of
    # relating a row that is gone.
    post, tag = MmPost(title="a"), MmTag(name="x")
    saved(post, tag)
    rom_redis.delete("MmTag:1")
    with pytest.raises(InvalidOperation, match="no MmTag with id 1 exists"):
        post.tags.add(tag)
    assert not rom_redis.exists("MmPost:1:tags", "MmTag:1:posts")


def test_member_sets_are_known_to_the_consistency_checker(
    rom_redis: redis.Redis,
) -> None:
    from rom.consistency import check

    post, tag = MmPost(title="a"), MmTag(name="x")
    saved(post, tag)
    post.tags.add(tag)
    assert check(MmPost, MmTag) == []
    rom_redis.sadd("MmPost:1:nope", "1")
    assert [p.kind for p in check(MmPost)] == ["unknown-key"]


def test_self_relation(rom_redis: redis.Redis, fresh_models: None) -> None:
    class MmUser(rom.Model):
        name = rom.Text()
        follows = rom.ManyToMany("MmUser", related_name="followers")

    ann, bob, cy = MmUser(name="ann"), MmUser(name="bob"), MmUser(name="cy")
    saved(ann, bob, cy)
    ann.follows.add(bob, cy)
    bob.follows.add(cy)
    assert cy.followers.ids() == [1, 2]  # type: ignore[attr-defined]
    assert MmUser.query.filter(followers=cy).all() == []
    assert MmUser.query.filter(follows=cy).all() == [ann, bob]
    bob.delete()
    assert ann.follows.ids() == [3]
    assert cy.followers.ids() == [1]  # type: ignore[attr-defined]


def test_clean_unsafe_cols_drops_sets_of_gone_rows(rom_redis: redis.Redis) -> None:
    post, tag = MmPost(title="a"), MmTag(name="x")
    saved(post, tag)
    post.tags.add(tag)
    rom_redis.delete("MmPost:1")  # deleted by a writer that knows no relations
    assert rom.util.clean_unsafe_cols(MmPost) == (1, 1)
    assert not rom_redis.exists("MmPost:1:tags")
    assert tag.posts.all() == []  # the stale id names no row: skipped
    assert tag.posts.ids() == [1]
