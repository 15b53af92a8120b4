"""Typed query misuse that mypy must reject (checked by test_query_typing.py).

Each line marked BAD must be a mypy error, and no other line.
"""

from __future__ import annotations

import rom


class BadPost(rom.Model):
    title = rom.Text(required=True, unique=True)
    votes = rom.Integer(index=True)


class Other(rom.Model):
    name = rom.Text()


def use() -> None:
    posts: list[Other] = BadPost.query.all()  # BAD
    one: BadPost = BadPost.query.first()  # BAD
    title: str = BadPost.query.order_by("votes")[0].title  # BAD
    last: Other | None = BadPost.query.last()  # BAD
    found: BadPost = BadPost.get_by(title="x")  # BAD
    ok: BadPost | None = BadPost.query.first()
    print(posts, one, title, last, found, ok)
