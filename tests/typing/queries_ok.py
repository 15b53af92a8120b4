"""Typed queries that mypy must accept (checked by test_query_typing.py)."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

import rom


class TypedPost(rom.Model):
    title = rom.Text(required=True, unique=True)
    votes = rom.Integer(index=True)


def use() -> None:
    assert_type(TypedPost.query, rom.Query[TypedPost])
    query = TypedPost.query.filter(votes__gt=3).exclude(rom.Q(votes=5))
    assert_type(query, rom.Query[TypedPost])
    assert_type(query.all(), list[TypedPost])
    assert_type(query.first(), TypedPost | None)
    assert_type(query.last(), TypedPost | None)
    assert_type(query.order_by("votes", "-id")[0], TypedPost)
    assert_type(query[2:5], rom.Query[TypedPost])
    assert_type(query.exists(), bool)
    for post in query:
        assert_type(post, TypedPost)
    for post in query.iter_result(pagesize=10):
        assert_type(post, TypedPost)
    # select() returns rows, not entities: a differently typed query.
    rows = query.select("votes")
    assert_type(rows, rom.Query[Any])
    assert_type(TypedPost.get(1), TypedPost | None)
    assert_type(TypedPost.get([1, 2]), list[TypedPost])
    assert_type(TypedPost.get_by(title="x"), TypedPost | list[TypedPost] | None)
    tree = (rom.Q(votes__lt=1) | ~rom.Q(votes__in=[3, 4])) & rom.Q(votes__isnull=False)
    assert_type(tree, rom.Q)
    first = query.first()
    if first is not None:
        assert_type(first.votes, int | None)
