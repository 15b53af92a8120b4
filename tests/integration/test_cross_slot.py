"""Writes and reads across slot groups, on a standalone server.

Models whose namespaces carry different hash tags (``{xa}...``, ``{xb}...``)
are in different slot groups: a write touching both is one script call per
group, in an order that leaves no reference to a missing entity when a
later call fails. A standalone server does not enforce slots, so the order
is observed through failures: a key of the wrong type in one group makes
that group's call fail (nothing of that entity is written).
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom
from rom import _scripts
from rom._io import Script
from rom._keys import hash_tag
from rom.exceptions import UniqueKeyViolation
from rom.testing import CallCounter


class XsUser(rom.Model):
    _namespace = "{xa}user"
    name = rom.Text(unique=True)


class XsPost(rom.Model):
    _namespace = "{xb}post"
    title = rom.Text(unique=True)
    n = rom.Integer(index=True)
    author = rom.ManyToOne("XsUser", on_delete="cascade")
    editor = rom.ManyToOne("XsUser", on_delete="set null")
    tags = rom.ManyToMany("XsTag", related_name="posts")


class XsTag(rom.Model):
    _namespace = "{xa}tag"
    name = rom.Text()


class XsNote(rom.Model):
    _namespace = "{xa}note"
    body = rom.Text()
    user = rom.ManyToOne("XsUser", on_delete="cascade")


class XsPlainA(rom.Model):
    body = rom.Text()


class XsPlainB(rom.Model):
    body = rom.Text()
    a = rom.ManyToOne("XsPlainA", on_delete="cascade")


class XsAccount(rom.Model):
    _namespace = "{xa}account"
    coins = rom.Integer()


class XsTxn(rom.Model):
    _namespace = "{xb}txn"
    sent = rom.Integer(default=0)


@pytest.fixture
def warm(rom_redis: redis.Redis, roundtrips: CallCounter) -> CallCounter:
    """The scripts loaded, an empty database, counting from zero."""
    user = XsUser(name="warm")
    post = XsPost(title="warm", n=1, author=user)
    rom.session.commit()
    post.tags.set([])
    XsPost.query.filter(n=1).prefetch("tags").all()
    user.delete()
    rom_redis.flushdb()
    rom.session.rollback()
    roundtrips.reset()
    return roundtrips


def records(rom_redis: redis.Redis, namespace: str) -> int:
    return len(list(rom_redis.scan_iter(match=f"{namespace}::write:*")))


def break_group(rom_redis: redis.Redis, namespace: str) -> None:
    # The legacy record key of a namespace holding a string: every write of
    # that model fails its checks (WRONGTYPE) and writes nothing.
    rom_redis.set(f"{namespace}::", "not a hash")


# -- saving ---------------------------------------------------------------------


def test_untagged_models_share_one_call(warm: CallCounter) -> None:
    """No tags (a standalone server's usual models): one script call."""
    with warm.count() as c:
        a = XsPlainA(body="a")
        XsPlainB(body="b", a=a)
        rom.session.commit()
    # The new target's id first (as always), then one call.
    assert c.names == ["INCRBY", "EVALSHA"]


def test_a_commit_takes_one_call_per_slot_group(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """Two groups, interleaved: two calls, each with its own write record
    in its own slot."""
    with warm.count() as c:
        for i in range(3):
            user = XsUser(name=f"u{i}")
            XsPost(title=f"p{i}", author=user)
            XsNote(body=f"n{i}", user=user)
        rom.session.commit()
    assert c.names == ["INCRBY"] * 3 + ["EVALSHA", "EVALSHA"]
    assert records(rom_redis, "{xa}user") == 1
    assert records(rom_redis, "{xb}post") == 1
    rom.session.rollback()
    posts = sorted(XsPost.query.all(), key=lambda p: p.title)
    assert [(p.title, p.author.name) for p in posts] == [
        ("p0", "u0"),
        ("p1", "u1"),
        ("p2", "u2"),
    ]


def test_a_referenced_entity_is_written_before_its_referrer(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """The referrer given first still goes after the new user it references:
    when the referrer's call fails, the user is saved (no reference to a
    missing entity either way)."""
    XsPost(title="taken").save()
    rom.session.rollback()
    user = XsUser(name="first")
    post = XsPost(title="taken", author=user)
    with warm.count() as c, pytest.raises(UniqueKeyViolation):
        rom.session.save(post, user)
    assert c.names == ["INCRBY", "EVALSHA", "EVALSHA"]
    assert rom_redis.hget(f"{{xa}}user:{user.id}", "name") == b"first"
    assert XsPost.query.count() == 1


def test_a_failed_first_call_writes_no_referrer(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """The users' call fails: the posts' call, after it, is not sent."""
    break_group(rom_redis, "{xa}user")
    user = XsUser(name="u")
    XsPost(title="p", author=user)
    with warm.count() as c, pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rom.session.commit()
    assert c.names == ["INCRBY", "EVALSHA"]
    assert XsPost.query.count() == 0


def test_a_referrer_after_its_target_takes_a_call_of_its_own(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """Posts before and after a new user: the one referencing it cannot
    share the first posts' call, which runs before the user's."""
    with warm.count() as c:
        XsPost(title="p0")
        XsPost(title="p1", author=XsUser(name="u"))
        rom.session.commit()
    assert c.names == ["INCRBY"] + ["EVALSHA"] * 3
    rom.session.rollback()
    assert XsPost.get_by(title="p1").author.name == "u"


def test_a_failed_target_call_stops_the_referrer_after_it(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    break_group(rom_redis, "{xa}user")
    XsPost(title="p0")
    XsPost(title="p1", author=XsUser(name="u"))
    with warm.count() as c, pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rom.session.commit()
    assert c.names == ["INCRBY", "EVALSHA", "EVALSHA"]
    rom.session.rollback()
    assert [p.title for p in XsPost.query.all()] == ["p0"]


# -- deleting ---------------------------------------------------------------------


def blog() -> XsUser:
    user = XsUser(name="u")
    editor = XsUser(name="e")
    for i in range(2):
        XsPost(title=f"p{i}", author=user, editor=editor)
    XsNote(body="n", user=user)
    rom.session.commit()
    rom.session.rollback()
    return user


def test_cascade_deletes_referrers_before_the_referenced(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    blog()
    user = XsUser.get_by(name="u")
    with warm.count() as c:
        user.delete()
    # The posts' call (group xb), then the user and its notes (group xa),
    # then the posts' ManyToMany memberships dropped.
    assert c.names.count("EVALSHA") == 3
    assert XsPost.query.count() == 0
    assert XsNote.query.count() == 0
    assert XsUser.query.count() == 1


def test_a_failed_cascade_leaves_the_referenced_entity(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """The posts cannot be deleted: the user they reference stays too."""
    blog()
    user = XsUser.get_by(name="u")
    break_group(rom_redis, "{xb}post")
    with warm.count() as c, pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        user.delete()
    assert c.names.count("EVALSHA") == 1
    rom.session.rollback()
    assert XsUser.get_by(name="u") is not None
    assert XsNote.query.count() == 1
    assert {p.author.name for p in XsPost.query.all()} == {"u"}


def test_a_failed_set_null_leaves_the_referenced_entity(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    blog()
    editor = XsUser.get_by(name="e")
    break_group(rom_redis, "{xb}post")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        editor.delete()
    rom.session.rollback()
    assert XsUser.get_by(name="e") is not None
    assert {p.editor.name for p in XsPost.query.all()} == {"e"}
    rom_redis.delete("{xb}post::")
    rom.session.rollback()
    XsUser.get_by(name="e").delete()
    rom.session.rollback()
    assert {p.editor for p in XsPost.query.all()} == {None}


# -- reading ----------------------------------------------------------------------


def test_prefetch_across_groups_reads_rows_in_their_slot(
    warm: CallCounter,
) -> None:
    """A ManyToMany between groups: the member SETs in the posts' slot, the
    tags' rows in theirs, by a second call."""
    tags = [XsTag(name=f"t{i}") for i in range(2)]
    posts = [XsPost(title=f"p{i}", n=i) for i in range(3)]
    rom.session.commit()
    posts[1].tags.set(tags)
    posts[2].tags.set(tags[:1])
    rom.session.rollback()
    with warm.count() as c:
        found = XsPost.query.filter(n=(0, 9)).order_by("n").prefetch("tags").all()
        names = [[t.name for t in p.tags.all()] for p in found]
    assert c.names == ["EVALSHA", "EVALSHA", "EVALSHA"]  # query, sets, rows
    assert names == [[], ["t0", "t1"], ["t0"]]


def test_transfer_across_groups_is_refused(warm: CallCounter) -> None:
    a, b, t = XsAccount(coins=5), XsAccount(coins=0), XsTxn()
    rom.session.commit()
    with warm.count() as c, pytest.raises(ValueError, match="one hash slot group"):
        a.transfer(b, "coins", 3, t, "sent")
    assert c.roundtrips == 0
    rom.session.rollback()
    assert XsAccount.get(a.id).coins == 5


# -- every script declares a key of its slot ------------------------------------


def test_every_script_declares_keys_of_one_slot(
    warm: CallCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call names a key in KEYS (a cluster client routes by it), and
    all its KEYS are in one slot group."""
    calls: list[tuple[str, tuple[str, ...]]] = []
    request = _scripts.LuaScript.request

    def spy(
        self: _scripts.LuaScript, conn: Any, keys: list[str], args: list[Any]
    ) -> Script:
        calls.append((self.name, tuple(keys)))
        return request(self, conn, keys, args)

    monkeypatch.setattr(_scripts.LuaScript, "request", spy)
    tags = [XsTag(name="t")]
    user = XsUser(name="u")
    post = XsPost(title="p", n=1, author=user)
    rom.session.commit()
    post.tags.set(tags)
    rom.session.rollback()
    XsPost.query.filter(n=1).prefetch("tags", "author").all()
    XsPost.query.filter(n=1).count()
    assert XsUser.get_by(name="u") is not None
    XsUser.get_by(name="u").delete()
    names = {name for name, _ in calls}
    assert {"write_entity", "search", "prefetch", "many_to_many"} <= names
    for name, keys in calls:
        assert keys, name
        assert len({hash_tag(k) for k in keys}) == 1, (name, keys)
        assert hash_tag(keys[0]) in {"xa", "xb"}, (name, keys)


# -- ManyToMany across groups ------------------------------------------------------


def test_many_to_many_across_groups_changes_each_side_in_its_slot(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    """Other rows checked, this side changed, then the other side: three
    calls, each in one slot; both sides end as on one group."""
    tags = [XsTag(name=f"t{i}") for i in range(3)]
    post = XsPost(title="p")
    rom.session.commit()
    with warm.count() as c:
        assert post.tags.add(tags[0], tags[1]) == 2
    assert c.names == ["EVALSHA"] * 3
    assert post.tags.set([tags[1], tags[2]]) == 2
    assert post.tags.remove(tags[2]) == 1
    assert rom_redis.smembers(f"{{xb}}post:{post.id}:tags") == {
        str(tags[1].id).encode()
    }
    for tag in tags:
        want = {str(post.id).encode()} if tag is tags[1] else set()
        assert rom_redis.smembers(f"{{xa}}tag:{tag.id}:posts") == want


def test_many_to_many_across_groups_refuses_a_missing_row(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    post = XsPost(title="p")
    tag = XsTag(name="t")
    rom.session.commit()
    with warm.count() as c, pytest.raises(rom.exceptions.InvalidOperation, match="99"):
        post.tags.add(tag, 99)
    assert c.names == ["EVALSHA"]  # the check only: nothing written
    assert rom_redis.exists(f"{{xb}}post:{post.id}:tags") == 0
    assert rom_redis.exists(f"{{xa}}tag:{tag.id}:posts") == 0


def test_deleting_across_groups_drops_both_sides(
    warm: CallCounter, rom_redis: redis.Redis
) -> None:
    tags = [XsTag(name=f"t{i}") for i in range(2)]
    posts = [XsPost(title=f"p{i}") for i in range(2)]
    rom.session.commit()
    for post in posts:
        post.tags.set(tags)
    posts[0].delete()
    assert rom_redis.exists(f"{{xb}}post:{posts[0].id}:tags") == 0
    for tag in tags:
        assert rom_redis.smembers(f"{{xa}}tag:{tag.id}:posts") == {
            str(posts[1].id).encode()
        }
    tags[0].delete()
    assert rom_redis.smembers(f"{{xb}}post:{posts[1].id}:tags") == {
        str(tags[1].id).encode()
    }
