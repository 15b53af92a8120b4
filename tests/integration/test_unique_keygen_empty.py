"""A unique keygen that returns None or nothing means "no keygen value".

The entity then has the column's own value as unique entry, or, when there
is none (an IndexOnly, an empty source column), no unique entry at all:
not an error. The stock keygens return None for empty values.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom
from rom.exceptions import UniqueKeyViolation


@pytest.fixture
def users(fresh_models: None) -> type[rom.Model]:
    class UkUser(rom.Model):
        email = rom.Text()
        nick = rom.Text()
        email_ci = rom.IndexOnly("email", keygen=rom.IDENTITY_CI, unique=True)
        pair = rom.IndexOnly(
            keygen2=lambda attr, d: (
                [f"{d['nick']}/{d['email']}"]
                if d.get("nick") and d.get("email")
                else None
            ),
            unique=True,
        )

    return UkUser


@pytest.mark.parametrize("email", [None, ""])
def test_empty_source_has_no_unique_entry(
    rom_redis: redis.Redis, users: Any, email: Any
) -> None:
    """Entities whose keygens give None save, and take no unique entry."""
    first = users(email=email, nick="a")
    first.save()
    second = users(email=email)
    second.save()
    assert not rom_redis.exists("UkUser:email_ci:uidx")
    assert not rom_redis.exists("UkUser:pair:uidx")


def test_unique_entries_come_and_go(rom_redis: redis.Redis, users: Any) -> None:
    """A value takes the entry; emptying it frees the entry for others."""
    owner = users(email="Ann@X.org", nick="ann")
    owner.save()
    assert rom_redis.hgetall("UkUser:email_ci:uidx") == {b"ann@x.org": b"1"}
    assert rom_redis.hgetall("UkUser:pair:uidx") == {b"ann/Ann@X.org": b"1"}
    with pytest.raises(UniqueKeyViolation):
        users(email="ANN@x.org").save()
    owner.email = None
    owner.save()
    assert not rom_redis.exists("UkUser:email_ci:uidx")
    assert not rom_redis.exists("UkUser:pair:uidx")
    other = users(email="ANN@x.org")
    other.save()
    entry = {b"ann@x.org": str(other.id).encode()}
    assert rom_redis.hgetall("UkUser:email_ci:uidx") == entry
    owner.delete()


def test_unique_column_with_empty_keygen_uses_its_value(
    rom_redis: redis.Redis, fresh_models: None
) -> None:
    """A unique column whose keygen gives nothing is unique on its own value."""

    class UkCode(rom.Model):
        code = rom.Text(unique=True, keygen=lambda v: None)

    UkCode(code="A1").save()
    assert rom_redis.hgetall("UkCode:code:uidx") == {b"A1": b"1"}
    with pytest.raises(UniqueKeyViolation):
        UkCode(code="A1").save()
