"""Typed use of rom that mypy must accept (checked by test_typing.py)."""

from __future__ import annotations

import datetime
import decimal

from typing_extensions import assert_type

import rom


class TypedUser(rom.Model):
    email = rom.Text(required=True, unique=True)
    age = rom.Integer(index=True)
    score = rom.Float()
    money = rom.Decimal()
    active = rom.Boolean()
    born = rom.DateTime()
    day = rom.Date()
    at = rom.Time()
    raw = rom.String()
    prefs = rom.Json()


class AnnotatedUser(rom.Model):
    # Annotating a column with its own type also types the constructor.
    email: rom.Text = rom.Text(required=True, unique=True)
    age: rom.Integer = rom.Integer(index=True)


def use() -> None:
    annotated = AnnotatedUser(email="ann@example.com", age=3)
    assert_type(annotated.age, int | None)
    assert_type(TypedUser.email, rom.Text)
    assert_type(TypedUser.age, rom.Integer)
    user = TypedUser(email="ann@example.com", age=3)
    assert_type(user.email, str | None)
    assert_type(user.age, int | None)
    assert_type(user.score, float | None)
    assert_type(user.money, decimal.Decimal | None)
    assert_type(user.active, bool | None)
    assert_type(user.born, datetime.datetime | None)
    assert_type(user.day, datetime.date | None)
    assert_type(user.at, datetime.time | None)
    assert_type(user.raw, bytes | None)
    user.email = "bob@example.com"
    user.age = None
    changed: int = user.save()
    print(changed)
    assert_type(TypedUser.get(1), TypedUser | None)
    assert_type(TypedUser.get("1"), TypedUser | None)
    assert_type(TypedUser.get([1, 2]), list[TypedUser])
