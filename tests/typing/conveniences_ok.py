"""Typed use of create/get_or_create/update_or_create, ManyToMany, prefetch."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

import rom
from rom._many_to_many import RelatedSet


class ConvTag(rom.Model):
    name = rom.Text(unique=True)


class ConvPost(rom.Model):
    title = rom.Text(index=True, keygen=rom.IDENTITY)
    author = rom.ManyToOne("ConvTag", on_delete="no action")
    tags = rom.ManyToMany("ConvTag", related_name="posts")


def use() -> None:
    post = ConvPost.create(title="a")
    assert_type(post, ConvPost)
    assert_type(ConvTag.get_or_create(name="x"), tuple[ConvTag, bool])
    assert_type(
        ConvTag.update_or_create(defaults={"name": "y"}, name="x"),
        tuple[ConvTag, bool],
    )
    assert_type(post.tags, RelatedSet)
    assert_type(ConvPost.tags, rom.ManyToMany)
    added: int = post.tags.add(1, 2)
    ids: list[int] = post.tags.ids()
    related: list[Any] = post.tags.all()
    updated: int = ConvPost.query.filter(title="a").update(title="b")
    deleted: int = ConvPost.query.filter(title="b").delete()
    first = ConvPost.query.prefetch("author", "tags").first()
    print(added, ids, related, updated, deleted, first)
