"""Typed use of rom that mypy must refuse: each line marked BAD is an error."""

from __future__ import annotations

import rom


class BadUser(rom.Model):
    # Annotated columns also give a typed constructor (dataclass_transform).
    email: rom.Text = rom.Text(required=True)
    age: rom.Integer = rom.Integer()


def use() -> None:
    user = BadUser(email="ann@example.com")
    user.age = "three"  # BAD: a str assigned to an Integer column
    name: int = user.email  # BAD: a Text column read as int
    print(name)
    BadUser(emial="typo@example.com")  # BAD: no such column
    BadUser(email=3)  # BAD: a Text column given an int
