"""The exact keys, types and bytes rom writes to Redis (docs/data_layout.rst).

Expected values are copied from the spec's observed dumps (section 7.2) and
its encoding tables, not from our own output. Two deliberate differences from
rom 1.1.2 are asserted as ours and marked where they occur:

- geo index names are recorded in slot 5 of ``-index-data-`` (rom put them in
  slot 4 and so never removed geo entries);
- a Float given an int is written in canonical float form (``3.0``, not
  ``3``), and String (bytes) prefix/suffix scores and
  suffix members are computed from the stored text.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
from typing import Any

import pytest
import redis

import rom
from rom import GeoIndex
from tests.integration.dump import INDEX_DATA
from tests.integration.dump import dump
from tests.integration.dump import prefix_score
from tests.integration.dump import record
from tests.integration.dump import slots

EMPTY_RECORD = b"[{},{},{},{},{}]"

pytestmark = pytest.mark.usefixtures("fresh_models")


def _declare_team_user() -> tuple[Any, Any]:
    # The models of the reference dump, verbatim.
    class Team(rom.Model):
        name = rom.Text(required=True, unique=True)
        members = rom.OneToMany("User")

    class User(rom.Model):
        email = rom.String(required=True, unique=True)
        age = rom.Integer(index=True)
        score = rom.Float(index=True)
        joined = rom.DateTime(index=True)
        bio = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
        active = rom.Boolean(index=True)
        prefs = rom.Json()
        team = rom.ManyToOne("Team", on_delete="set null")

    return Team, User


def _save_team_user() -> Any:
    Team, User = _declare_team_user()
    t = Team(name="Red")
    t.save()
    u = User(
        email=b"ann@example.com",
        age=30,
        score=4.5,
        joined=datetime.datetime(2024, 5, 6, 7, 8, 9, 250000),
        bio="Likes Redis, and Python!",
        active=True,
        prefs={"theme": "dark", "n": 1},
        team=t,
    )
    u.save()
    return u


def _split_record(db: dict[bytes, tuple[str, Any]], key: bytes) -> Any:
    """Take the ``-index-data-`` field out of a row hash of a dump."""
    kind, fields = db[key]
    assert kind == "hash"
    raw = fields.pop(INDEX_DATA)
    return raw


TEAM_KEYS = {
    b"Team:1": ("hash", {b"id": b"1", b"name": b"Red"}),
    b"Team:id:": ("string", b"1"),
    b"Team:name:uidx": ("hash", {b"Red": b"1"}),
}

USER_AFTER_SAVE = {
    b"User:1": (
        "hash",
        {
            b"active": b"1",
            b"age": b"30",
            b"bio": b"Likes Redis, and Python!",
            b"email": b"ann@example.com",
            b"id": b"1",
            b"joined": b"1714979289.25",
            b"prefs": b'{"n": 1, "theme": "dark"}',
            b"score": b"4.5",
            b"team": b"1",
        },
    ),
    b"User:active:True:idx": ("set", [b"1"]),
    b"User:age:idx": ("zset", [(b"1", 30.0)]),
    b"User:bio:and:idx": ("set", [b"1"]),
    b"User:bio:likes:idx": ("set", [b"1"]),
    b"User:bio:python:idx": ("set", [b"1"]),
    b"User:bio:redis:idx": ("set", [b"1"]),
    b"User:bio:pre": (
        "zset",
        [
            (b"and\x001", 2.0592434975090592e-306),
            (b"likes\x001", 3.318459296274635e-306),
            (b"python\x001", 4.0761097946948906e-306),
            (b"redis\x001", 4.43463570106618e-306),
        ],
    ),
    b"User:bio:suf": (
        "zset",
        [
            (b"dna\x001", 2.3390112132095837e-306),
            (b"nohtyp\x001", 3.695817827482267e-306),
            (b"sekil\x001", 4.621169927513092e-306),
            (b"sider\x001", 4.624041969501654e-306),
        ],
    ),
    b"User:email:uidx": ("hash", {b"ann@example.com": b"1"}),
    b"User:id:": ("string", b"1"),
    b"User:joined:idx": ("zset", [(b"1", 1714979289.25)]),
    b"User:score:idx": ("zset", [(b"1", 4.5)]),
    b"User:team:idx": ("zset", [(b"1", 1.0)]),
}

USER_RECORD_AFTER_SAVE = slots(
    ["bio:likes", "bio:python", "bio:redis", "active:True", "bio:and"],
    ["team", "joined", "score", "age"],
    [["bio", "and"], ["bio", "likes"], ["bio", "python"], ["bio", "redis"]],
    [["bio", "dna"], ["bio", "sekil"], ["bio", "nohtyp"], ["bio", "sider"]],
    [],
)


def test_team_user_after_save(rom_redis: redis.Redis) -> None:
    """Saving Team and User writes exactly the keys and bytes rom 1.1.2 writes."""
    _save_team_user()
    db = dump(rom_redis)
    assert _split_record(db, b"Team:1") == EMPTY_RECORD
    assert record(_split_record(db, b"User:1")) == USER_RECORD_AFTER_SAVE
    assert db == {**TEAM_KEYS, **USER_AFTER_SAVE}


def test_team_user_after_update(rom_redis: redis.Redis) -> None:
    """The update rewrites fields, HDELs a cleared one, swaps index entries."""
    u = _save_team_user()
    u.age = 31
    u.bio = "Likes Lua"
    u.active = False
    del u.prefs
    u.save()
    db = dump(rom_redis)
    assert _split_record(db, b"Team:1") == EMPTY_RECORD
    assert record(_split_record(db, b"User:1")) == slots(
        ["bio:likes", "active:False", "bio:lua"],
        ["team", "joined", "score", "age"],
        [["bio", "likes"], ["bio", "lua"]],
        [["bio", "sekil"], ["bio", "aul"]],
        [],
    )
    expected = dict(USER_AFTER_SAVE)
    for gone in (b"and", b"python", b"redis"):
        del expected[b"User:bio:" + gone + b":idx"]
    del expected[b"User:active:True:idx"]
    row = dict(expected[b"User:1"][1])
    row.update({b"active": b"", b"age": b"31", b"bio": b"Likes Lua"})
    del row[b"prefs"]
    expected.update(
        {
            b"User:1": ("hash", row),
            b"User:active:False:idx": ("set", [b"1"]),
            b"User:age:idx": ("zset", [(b"1", 31.0)]),
            b"User:bio:lua:idx": ("set", [b"1"]),
            b"User:bio:pre": (
                "zset",
                [
                    (b"likes\x001", 3.318459296274635e-306),
                    (b"lua\x001", 3.3271052615232375e-306),
                ],
            ),
            b"User:bio:suf": (
                "zset",
                [
                    (b"aul\x001", 2.061784942637638e-306),
                    (b"sekil\x001", 4.621169927513092e-306),
                ],
            ),
        }
    )
    assert db == {**TEAM_KEYS, **expected}


def test_team_user_after_delete(rom_redis: redis.Redis) -> None:
    """Deleting the User removes all User keys but the counter; Team is untouched."""
    u = _save_team_user()
    u.age = 31
    u.save()
    u.delete()
    db = dump(rom_redis)
    assert _split_record(db, b"Team:1") == EMPTY_RECORD
    assert db == {**TEAM_KEYS, b"User:id:": ("string", b"1")}


def test_all_empty_record_is_exact(rom_redis: redis.Redis) -> None:
    """A row without index entries stores exactly ``[{},{},{},{},{}]``."""
    Team, _ = _declare_team_user()
    t = Team(name="Blue")
    t.save()
    assert rom_redis.hget("Team:1", "-index-data-") == EMPTY_RECORD
    t.name = "Green"
    t.save()
    assert rom_redis.hget("Team:1", "-index-data-") == EMPTY_RECORD
    assert rom_redis.hgetall("Team:name:uidx") == {b"Green": b"1"}


def test_spec_prefix_scores_match_the_spec_examples() -> None:
    """The test's own prefix-score helper reproduces the documented example scores."""
    assert prefix_score("") == 2.2250738585072014e-308
    assert prefix_score("a") == 2.0189796653424533e-306
    assert prefix_score("abc") == 2.054904547363961e-306
    assert prefix_score("Alice Smith") == 4.805972154468807e-307
    assert prefix_score("mixed c") == 3.505010334596154e-306
    assert prefix_score("htimS ecilA") == 2.714221020017134e-306


# -- more observed encodings of rom 1.1.2 ----------------------------------------------


def _declare_person() -> Any:
    class Person(rom.Model):
        money = rom.Decimal()
        day = rom.Date()
        tod = rom.Time()
        born = rom.DateTime()
        ustr = rom.String(unique=True)
        raw = rom.String()
        data = rom.Json()
        email = rom.Text(unique=True)
        active = rom.Boolean()
        age = rom.Integer()
        name = rom.Text(index=True, keygen=rom.SIMPLE, prefix=True, suffix=True)
        nameci = rom.Text(index=True, keygen=rom.SIMPLE_CI)
        tag = rom.Text(index=True, keygen=rom.IDENTITY_CI, prefix=True)
        bio = rom.Text(index=True, keygen=rom.FULL_TEXT)
        plain = rom.Text()
        unique_together = [("age", "email")]  # noqa: RUF012

    return Person


def _save_person() -> Any:
    Person = _declare_person()
    p = Person(
        money=decimal.Decimal("12.50"),
        day=datetime.date(2020, 1, 2),
        tod=datetime.time(13, 14, 15, 500000),
        born=datetime.datetime(2020, 1, 2, 3, 4, 5, 678900),
        ustr=b"u\xffstr",
        raw=b"\x00\x01bin\xff",
        data={"b": [1, 2], "a": None},
        email="Bob@Example.com",
        active=True,
        age=42,
        name="Alice Smith",
        nameci="MiXeD Case",
        tag="Some Tag",
        bio="Hello, World! hello again.",
        plain="x",
    )
    p.save()
    return p


PERSON_ROW = {
    b"active": b"1",
    b"age": b"42",
    b"bio": b"Hello, World! hello again.",
    b"born": b"1577934245.6789",
    b"data": b'{"a": null, "b": [1, 2]}',
    b"day": b"1577923200.0",
    b"email": b"Bob@Example.com",
    b"id": b"1",
    b"money": b"12.50",
    b"name": b"Alice Smith",
    b"nameci": b"MiXeD Case",
    b"plain": b"x",
    b"raw": b"\x00\x01bin\xc3\xbf",
    b"tag": b"Some Tag",
    b"tod": b"47655.5",
    b"ustr": b"u\xc3\xbfstr",
}


def _person_expected(row: dict[bytes, bytes], age: bytes, words: list[bytes]) -> Any:
    expected = {
        b"Person:1": ("hash", row),
        b"Person:id:": ("string", b"1"),
        b"Person:name:idx": ("zset", [(b"1", 4.805972154468807e-307)]),
        b"Person:name:pre": ("zset", [(b"Alice Smith\x001", 4.805972154468807e-307)]),
        b"Person:name:suf": ("zset", [(b"htimS ecilA\x001", 2.714221020017134e-306)]),
        b"Person:nameci:idx": ("zset", [(b"1", 3.505010334596154e-306)]),
        b"Person:tag:some tag:idx": ("set", [b"1"]),
        b"Person:tag:pre": ("zset", [(b"some tag\x001", prefix_score("some tag"))]),
        b"Person:ustr:uidx": ("hash", {b"u\xc3\xbfstr": b"1"}),
        b"Person:email:uidx": ("hash", {b"Bob@Example.com": b"1"}),
        b"Person:age:email:uidx": (
            "hash",
            {b"\x00\x00" + age + b"\x00\x00\x00Bob@Example.com": b"1"},
        ),
    }
    for word in words:
        expected[b"Person:bio:" + word + b":idx"] = ("set", [b"1"])
    return expected


def test_person_encodings(rom_redis: redis.Redis) -> None:
    """Each column type, keygen and unique_together writes rom 1.1.2's Person bytes."""
    _save_person()
    db = dump(rom_redis)
    assert record(_split_record(db, b"Person:1")) == slots(
        ["tag:some tag", "bio:hello", "bio:world", "bio:again"],
        ["name", "nameci"],
        [["name", "Alice Smith"], ["tag", "some tag"]],
        [["name", "htimS ecilA"]],
        [],
    )
    assert db == _person_expected(
        dict(PERSON_ROW), b"42", [b"again", b"hello", b"world"]
    )


def test_person_update_moves_unique_together_and_tokens(
    rom_redis: redis.Redis,
) -> None:
    """The Person update moves the composite unique and tokens, HDELs plain."""
    p = _save_person()
    p.age = 43
    p.bio = "Goodbye world"
    p.plain = None
    p.save()
    db = dump(rom_redis)
    assert record(_split_record(db, b"Person:1")) == slots(
        ["tag:some tag", "bio:goodbye", "bio:world"],
        ["name", "nameci"],
        [["name", "Alice Smith"], ["tag", "some tag"]],
        [["name", "htimS ecilA"]],
        [],
    )
    row = dict(PERSON_ROW)
    del row[b"plain"]
    row.update({b"age": b"43", b"bio": b"Goodbye world"})
    assert db == _person_expected(row, b"43", [b"goodbye", b"world"])
    p.delete()
    assert dump(rom_redis) == {b"Person:id:": ("string", b"1")}


def test_composite_unique_double_encodes_non_ascii(rom_redis: redis.Redis) -> None:
    """A unique_together field double-encodes non-ASCII text."""

    class Triple(rom.Model):
        n = rom.Integer()
        s = rom.String()
        t = rom.Text()
        unique_together = [("t", "s", "n")]  # noqa: RUF012

    Triple(n=5, s=b"\xc3\xbfab", t="café Über").save()
    field = (
        b"\x00\x005"
        + b"\x00\x00\x00"
        + bytes.fromhex("c3 83 c2 83 c3 82 c2 bf")
        + b"ab"
        + b"\x00\x00\x00"
        + b"caf"
        + bytes.fromhex("c3 83 c2 a9 20 c3 83 c2 9c")
        + b"ber"
    )
    assert rom_redis.hgetall("Triple:n:s:t:uidx") == {field: b"1"}
    assert rom_redis.hget("Triple:1", "s") == bytes.fromhex("c3 83 c2 bf") + b"ab"


def test_co_indexed_primary_key_namespace_and_unsafe_column(
    rom_redis: redis.Redis,
) -> None:
    """PrimaryKey(index=True) writes ``co:id:idx``; an UnsafeColumn is ``co:1:lst``."""

    class Company(rom.Model):
        _namespace = "co"
        id = rom.PrimaryKey(index=True)
        name = rom.Text()
        lst = rom.UnsafeColumn()

    c = Company(name="Acme")
    c.save()
    c.lst.rpush("x", "y")
    db = dump(rom_redis)
    assert record(_split_record(db, b"co:1")) == slots([], ["id"])
    assert db == {
        b"co:1": ("hash", {b"id": b"1", b"name": b"Acme"}),
        b"co:id:": ("string", b"1"),
        b"co:id:idx": ("zset", [(b"1", 1.0)]),
        b"co:1:lst": ("list", [b"x", b"y"]),
    }
    c.delete()
    assert dump(rom_redis) == {b"co:id:": ("string", b"1")}


def test_employee_two_many_to_one(rom_redis: redis.Redis) -> None:
    """Two ManyToOne columns each keep a ZSET scored by the referenced id."""

    class Firm(rom.Model):
        name = rom.Text()

    class Employee(rom.Model):
        name = rom.Text()
        company = rom.ManyToOne("Firm", on_delete="cascade")
        boss = rom.ManyToOne("Employee", on_delete="set null")

    firm = Firm(name="f")
    firm.save()
    e1 = Employee(name="e1", company=firm)
    e1.save()
    Employee(name="e2", company=firm, boss=e1).save()
    db = dump(rom_redis)
    assert record(_split_record(db, b"Employee:1")) == slots([], ["company"])
    assert record(_split_record(db, b"Employee:2")) == slots([], ["company", "boss"])
    employees = {k: v for k, v in db.items() if k.startswith(b"Employee:")}
    assert employees == {
        b"Employee:1": ("hash", {b"company": b"1", b"id": b"1", b"name": b"e1"}),
        b"Employee:2": (
            "hash",
            {b"boss": b"1", b"company": b"1", b"id": b"2", b"name": b"e2"},
        ),
        b"Employee:boss:idx": ("zset", [(b"2", 1.0)]),
        b"Employee:company:idx": ("zset", [(b"1", 1.0), (b"2", 1.0)]),
        b"Employee:id:": ("string", b"2"),
    }


def _email_words(value: Any) -> list[str] | None:
    return re.split(r"[@.]", value.lower()) if value else None


def test_contact_index_only_and_geo(rom_redis: redis.Redis) -> None:
    """IndexOnly indexes, a unique-only IndexOnly and a geo index: 1.1.2's bytes."""

    class Contact(rom.Model):
        email = rom.Text()
        elookup = rom.IndexOnly("email", keygen=_email_words, prefix=True)
        uniq = rom.IndexOnly(
            keygen2=lambda attr, d: [d["email"].upper()] if d.get("email") else [],
            unique=True,
        )
        geo_index = [GeoIndex("loc", lambda d: (0.5, 50.0))]  # noqa: RUF012

    c = Contact(email="Joe.Bloggs@mail.example.com")
    c.save()
    words = ["bloggs", "com", "example", "joe", "mail"]
    db = dump(rom_redis)
    # Deliberate fix (rom 1.1.2 never removed geo entries): the geo name
    # goes to slot 5, where rom 1.1.2 also looks when removing; rom 1.1.2
    # itself wrote it to slot 4.
    assert record(_split_record(db, b"Contact:1")) == slots(
        [f"elookup:{w}" for w in words],
        [],
        [["elookup", w] for w in words],
        [],
        ["loc"],
    )
    expected: dict[bytes, Any] = {
        b"Contact:1": (
            "hash",
            {b"email": b"Joe.Bloggs@mail.example.com", b"id": b"1"},
        ),
        b"Contact:id:": ("string", b"1"),
        b"Contact:elookup:pre": (
            "zset",
            sorted(
                [(w.encode() + b"\x001", prefix_score(w)) for w in words],
                key=lambda e: e[1],
            ),
        ),
        b"Contact:uniq:uidx": ("hash", {b"JOE.BLOGGS@MAIL.EXAMPLE.COM": b"1"}),
        b"Contact:loc:geo": ("zset", [(b"1", 3663927044231981.0)]),
    }
    for w in words:
        expected[f"Contact:elookup:{w}:idx".encode()] = ("set", [b"1"])
    assert db == expected
    c.delete()
    # The geo entry goes with the entity (rom 1.1.2 left it behind).
    assert dump(rom_redis) == {b"Contact:id:": ("string", b"1")}


def _multi_keygen(value: Any) -> dict[Any, Any]:
    return {"": 15, "v:123": 123, "hello": None, "world": "", 123: None}


def test_multi_dict_keygen(rom_redis: redis.Redis) -> None:
    """A dict keygen gives ``<attr>:idx``, scored ZSETs and SETs for None/''."""

    class Multi(rom.Model):
        a = rom.Text(index=True, keygen=_multi_keygen)

    Multi(a="anything").save()
    db = dump(rom_redis)
    assert record(_split_record(db, b"Multi:1")) == slots(
        ["a:world", "a:123", "a:hello"], ["a:v:123", "a"]
    )
    assert db == {
        b"Multi:1": ("hash", {b"a": b"anything", b"id": b"1"}),
        b"Multi:id:": ("string", b"1"),
        b"Multi:a:idx": ("zset", [(b"1", 15.0)]),
        b"Multi:a:v:123:idx": ("zset", [(b"1", 123.0)]),
        b"Multi:a:hello:idx": ("set", [b"1"]),
        b"Multi:a:world:idx": ("set", [b"1"]),
        b"Multi:a:123:idx": ("set", [b"1"]),
    }


def test_t_without_indexes(rom_redis: redis.Redis) -> None:
    """Negative times, tiny Times, non-ASCII text and False: 1.1.2's T:26 row."""

    class T(rom.Model):
        dt = rom.DateTime()
        da = rom.Date()
        tm = rom.Time()
        x = rom.Text()
        s = rom.String()
        b = rom.Boolean()

    rom_redis.set("T:id:", 25)
    T(
        dt=datetime.datetime(1969, 12, 31, 23, 59, 59, 500000),
        da=datetime.date(1960, 1, 1),
        tm=datetime.time(0, 0, 0, 1),
        x="€",
        s=b"\x00\xff",
        b=False,
    ).save()
    db = dump(rom_redis)
    assert _split_record(db, b"T:26") == EMPTY_RECORD
    assert db == {
        b"T:26": (
            "hash",
            {
                b"b": b"",
                b"da": b"-315619200.0",
                b"dt": b"-0.5",
                b"id": b"26",
                b"s": b"\x00\xc3\xbf",
                b"tm": b"1e-06",
                b"x": b"\xe2\x82\xac",
            },
        ),
        b"T:id:": ("string", b"26"),
    }


def test_wire_strings_of_section_2_3(rom_redis: redis.Redis) -> None:
    """The documented example values are stored as the documented bytes."""

    class Wire(rom.Model):
        i = rom.Integer()
        f1 = rom.Float()
        f2 = rom.Float()
        f3 = rom.Float()
        f4 = rom.Float()
        f5 = rom.Float()
        f6 = rom.Float()
        d = rom.Decimal()
        j = rom.Json()
        j2 = rom.Json()

    Wire(
        i=1 << 128,
        f1=3.25,
        f2=2.0,
        f3=-1.5,
        f4=1e-06,
        f5=float("inf"),
        # Deliberate fix: an int given to a Float is
        # written as the float it stands for, "3.0"; rom 1.1.2 wrote "3",
        # which caused spurious DataRaceErrors. Both read back as 3.0.
        f6=3,
        d=decimal.Decimal("1E+2"),
        j={"é": ["ü", (1, 2)]},
        j2=[],
    ).save()
    assert rom_redis.hgetall("Wire:1") == {
        b"-index-data-": EMPTY_RECORD,
        b"id": b"1",
        b"i": str(1 << 128).encode(),
        b"f1": b"3.25",
        b"f2": b"2.0",
        b"f3": b"-1.5",
        b"f4": b"1e-06",
        b"f5": b"inf",
        b"f6": b"3.0",
        b"d": b"1E+2",
        b"j": b'{"\\u00e9": ["\\u00fc", [1, 2]]}',
        b"j2": b"[]",
    }


def test_numeric_scores_of_section_7_7(rom_redis: redis.Redis) -> None:
    """Indexed Decimal, Date and Time columns are scored as rom 1.1.2 scores them."""

    class Scored(rom.Model):
        d = rom.Decimal(index=True)
        da = rom.Date(index=True)
        tm = rom.Time(index=True)
        f = rom.Float(index=True)

    Scored(
        d=decimal.Decimal("12.50"),
        da=datetime.date(2020, 1, 2),
        tm=datetime.time(13, 14, 15, 500000),
        f=3,
    ).save()
    db = dump(rom_redis)
    assert record(_split_record(db, b"Scored:1")) == slots([], ["d", "da", "tm", "f"])
    assert {k: v for k, v in db.items() if k.endswith(b":idx")} == {
        b"Scored:d:idx": ("zset", [(b"1", 12.5)]),
        b"Scored:da:idx": ("zset", [(b"1", 1577923200.0)]),
        b"Scored:tm:idx": ("zset", [(b"1", 47655.5)]),
        b"Scored:f:idx": ("zset", [(b"1", 3.0)]),
    }


def test_string_column_index_encodings(rom_redis: redis.Redis) -> None:
    """String (bytes) values are indexed as rom 1.1.2 indexes them, per keygen."""

    class Bin(rom.Model):
        words = rom.String(index=True, keygen=rom.FULL_TEXT, prefix=True)
        ident = rom.String(index=True, keygen=rom.IDENTITY_STRING)
        plain = rom.String(index=True, keygen=rom.IDENTITY)
        simple = rom.String(index=True, keygen=rom.SIMPLE, prefix=True, suffix=True)
        tail = rom.String(index=True, keygen=rom.IDENTITY, suffix=True)

    Bin(
        words=b"Caf\xe9 OK",
        ident="caf\xe9".encode(),
        plain=b"Ab\xc3\xbf",
        simple=b"\xe9t\xe9",
        tail="café".encode(),
    ).save()
    db = dump(rom_redis)
    # FULL_TEXT reads bytes as latin-1: the token "café" is stored as UTF-8.
    assert db[b"Bin:words:caf\xc3\xa9:idx"] == ("set", [b"1"])
    assert db[b"Bin:words:ok:idx"] == ("set", [b"1"])
    words_pre = db[b"Bin:words:pre"]
    assert words_pre == (
        "zset",
        [
            (b"caf\xc3\xa9\x001", prefix_score("café")),
            (b"ok\x001", prefix_score("ok")),
        ],
    )
    # IDENTITY on bytes decodes them as UTF-8: utf8(utf8dec(b)).
    assert db[b"Bin:ident:caf\xc3\xa9:idx"] == ("set", [b"1"])
    assert db[b"Bin:plain:Ab\xc3\xbf:idx"] == ("set", [b"1"])
    # SIMPLE scores utf8(latin1dec(b)), the stored text.
    assert db[b"Bin:simple:idx"] == ("zset", [(b"1", prefix_score("\xe9t\xe9"))])
    # As in rom 1.1.2, the prefix and suffix scores of a String SIMPLE entry
    # come from the raw bytes, while the member is utf8(latin1dec(b)); the
    # query side scans the windows of both scorings.
    assert db[b"Bin:simple:pre"] == (
        "zset",
        [("\xe9t\xe9".encode() + b"\x001", prefix_score(b"\xe9t\xe9"))],
    )
    assert db[b"Bin:simple:suf"] == (
        "zset",
        [("\xe9t\xe9"[::-1].encode() + b"\x001", prefix_score(b"\xe9t\xe9"[::-1]))],
    )
    # Deliberate fix: a bytes token is reversed as the
    # text it indexes ("éfac"), so the suffix member is valid UTF-8 and its
    # score matches it; rom 1.1.2 reversed the raw bytes (splitting "é").
    assert db[b"Bin:tail:suf"] == (
        "zset",
        [("éfac".encode() + b"\x001", prefix_score("éfac"))],
    )
    assert db[b"Bin:1"][1][b"words"] == b"Caf\xc3\xa9 OK"
    idx = json.loads(db[b"Bin:1"][1][INDEX_DATA])
    assert ["tail", "éfac"] in idx[3]


def test_prefix_only_columns_also_write_token_sets(rom_redis: redis.Redis) -> None:
    """A prefix/suffix column without index=True still writes token SETs."""

    class Affix(rom.Model):
        digits = rom.Integer(prefix=True)  # FULL_TEXT of "1234"
        words = rom.Text(suffix=True, keygen=rom.FULL_TEXT)
        sortable = rom.Text(prefix=True, keygen=rom.SIMPLE)

    Affix(digits=1234, words="Hi there", sortable="Zed").save()
    db = dump(rom_redis)
    assert record(_split_record(db, b"Affix:1")) == slots(
        ["digits:1234", "words:hi", "words:there"],
        ["sortable"],
        [["digits", "1234"], ["sortable", "Zed"]],
        [["words", "ih"], ["words", "ereht"]],
    )
    assert db == {
        b"Affix:1": (
            "hash",
            {
                b"digits": b"1234",
                b"id": b"1",
                b"sortable": b"Zed",
                b"words": b"Hi there",
            },
        ),
        b"Affix:id:": ("string", b"1"),
        b"Affix:digits:1234:idx": ("set", [b"1"]),
        b"Affix:digits:pre": ("zset", [(b"1234\x001", prefix_score("1234"))]),
        b"Affix:words:hi:idx": ("set", [b"1"]),
        b"Affix:words:there:idx": ("set", [b"1"]),
        b"Affix:words:suf": (
            "zset",
            sorted(
                [
                    (b"ih\x001", prefix_score("ih")),
                    (b"ereht\x001", prefix_score("ereht")),
                ],
                key=lambda e: e[1],
            ),
        ),
        b"Affix:sortable:idx": ("zset", [(b"1", prefix_score("Zed"))]),
        b"Affix:sortable:pre": ("zset", [(b"Zed\x001", prefix_score("Zed"))]),
    }
