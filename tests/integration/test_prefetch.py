"""prefetch(): the related entities of a whole result in one more round trip."""

from __future__ import annotations

import pytest
import redis

import rom
from rom.exceptions import QueryError
from rom.testing import CallCounter


class PfAuthor(rom.Model):
    name = rom.Text()


class PfPost(rom.Model):
    n = rom.Integer(index=True)
    author = rom.ManyToOne("PfAuthor", on_delete="cascade")
    editor = rom.ManyToOne("PfAuthor", on_delete="set null")
    tags = rom.ManyToMany("PfTag", related_name="posts")
    comments = rom.OneToMany("PfComment")


class PfTag(rom.Model):
    name = rom.Text()


class PfComment(rom.Model):
    body = rom.Text()
    post = rom.ManyToOne("PfPost", on_delete="cascade")


def blog(rom_redis: redis.Redis) -> None:
    """50 posts by 5 authors, each with 0-2 of 3 tags and 0-3 comments."""
    authors = [PfAuthor(name=f"a{i}") for i in range(5)]
    tags = [PfTag(name=f"t{i}") for i in range(3)]
    posts = [PfPost(n=i, author=authors[i % 5]) for i in range(50)]
    rom.session.commit()
    for i, post in enumerate(posts):
        post.tags.set(tags[: i % 3])
        for j in range(i % 4):
            PfComment(body=f"c{i}.{j}", post=post)
    rom.session.commit()
    rom.session.rollback()


def related(post: PfPost) -> tuple[str, list[str], list[str]]:
    tags = [t.name for t in post.tags.all()]
    return post.author.name, tags, [c.body for c in post.comments]


def test_one_more_round_trip(rom_redis: redis.Redis, roundtrips: CallCounter) -> None:
    blog(rom_redis)
    query = PfPost.query.filter(n=(0, 49)).prefetch("author", "tags", "comments")
    query.limit(0, 1).all()  # loads the scripts on the server
    rom.session.rollback()
    roundtrips.reset()
    posts = query.all()
    assert roundtrips.roundtrips == 2  # the query, then the prefetch
    assert len(posts) == 50
    seen = [related(p) for p in posts]
    assert roundtrips.roundtrips == 2  # every access answered from memory
    assert seen[7] == ("a2", ["t0"], ["c7.0", "c7.1", "c7.2"])
    assert seen[5] == ("a0", ["t0", "t1"], ["c5.0"])
    assert seen[3] == ("a3", [], ["c3.0", "c3.1", "c3.2"])
    rom.session.rollback()
    # Without prefetch: one round trip per post and relation.
    expected = []
    for p in PfPost.query.filter(n=(0, 49)).all():
        expected.append(
            (
                p.author.name,
                [t.name for t in p.tags.all()],
                [c.body for c in p.comments],
            )
        )
    assert expected == seen


def test_entities_join_the_identity_map(rom_redis: redis.Redis) -> None:
    blog(rom_redis)
    author = PfAuthor.get(1)
    posts = PfPost.query.filter(n=(0, 9)).prefetch("author", "tags").all()
    assert posts[0].author is author  # the session's entity is reused
    assert posts[5].author is author
    assert PfTag.get(1) is posts[1].tags.all()[0]
    assert posts[2].tags.all()[0] is posts[1].tags.all()[0]


def test_changes_drop_the_snapshot(rom_redis: redis.Redis) -> None:
    blog(rom_redis)
    post = PfPost.query.filter(n=1).prefetch("tags").first()
    assert [t.name for t in post.tags.all()] == ["t0"]
    post.tags.add(PfTag.get(3))
    assert [t.name for t in post.tags.all()] == ["t0", "t2"]


def test_missing_and_unset(rom_redis: redis.Redis, roundtrips: CallCounter) -> None:
    blog(rom_redis)
    rom_redis.delete("PfAuthor:2")  # gone, its posts still point at it
    posts = PfPost.query.filter(n=(0, 4)).prefetch("author", "editor").all()
    assert posts[1].author is None
    assert posts[0].author.name == "a0"
    assert posts[0].editor is None
    # Everything already in the session: nothing to read.
    roundtrips.reset()
    assert PfPost.query.filter(n=(0, 4)).prefetch("author").all() == posts
    assert roundtrips.roundtrips == 1


def test_iteration_prefetches_per_page(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    blog(rom_redis)
    query = PfPost.query.filter(n=(0, 49)).prefetch("comments")
    list(query.limit(0, 1).iter_result())  # loads the scripts on the server
    rom.session.rollback()
    roundtrips.reset()
    total = sum(len(p.comments) for p in query.iter_result(pagesize=20))
    assert total == sum(i % 4 for i in range(50))
    # cache, 3 pages each with one prefetch, DEL of the cached result
    assert roundtrips.roundtrips == 1 + 3 * 2 + 1


def test_bad_names(rom_redis: redis.Redis) -> None:
    with pytest.raises(QueryError, match=r"prefetch\('n'\): not a ManyToOne"):
        PfPost.query.prefetch("n")
    with pytest.raises(QueryError, match="cannot be combined with select"):
        PfPost.query.select("n").prefetch("author")
    with pytest.raises(QueryError, match=r"choose from.*'tags'"):
        PfPost.query.prefetch("nope")
