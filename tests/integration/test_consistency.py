"""The consistency checker: each kind of damage is reported, and only it.

Each test saves entities through rom, damages one thing in Redis by hand
the way a crash, a bug or another client could, and asserts ``check``
reports exactly that problem; untouched data reports nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom
from rom.consistency import KINDS
from rom.consistency import Problem
from rom.consistency import check


def _where(d: Any) -> tuple[float, float] | None:
    return (d.lon, d.lat) if d.lon is not None else None


class CkPlace(rom.Model):
    _namespace = "ck:place"
    email = rom.Text(unique=True)
    name = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    age = rom.Integer(index=True)
    team = rom.Text()
    number = rom.Integer()
    lon = rom.Float()
    lat = rom.Float()
    log = rom.UnsafeColumn()
    unique_together = ("team", "number")
    geo_index = [rom.GeoIndex("home", _where)]  # noqa: RUF012


NS = "ck:place"


@pytest.fixture
def places(rom_redis: redis.Redis) -> list[CkPlace]:
    made = [
        CkPlace(
            email=f"p{i}@example.org",
            name=f"Ada Lovelace{i}",
            age=30 + i,
            team="red",
            number=i,
            lon=1.5 + i,
            lat=50.25,
        )
        for i in range(3)
    ]
    rom.session.commit()
    made[0].log.rpush("created")
    rom.session.rollback()
    return made


def kinds(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.kind, p.key) for p in problems]


def test_clean_data_reports_nothing(places: list[CkPlace]) -> None:
    assert check(CkPlace) == []


def test_empty_model_reports_nothing(rom_redis: redis.Redis) -> None:
    assert check(CkPlace) == []


def test_decode_responses_client_reads_the_same(
    places: list[CkPlace], rom_redis_url: str, rom_redis: redis.Redis
) -> None:
    rom_redis.srem(f"{NS}:name:ada:idx", "2")
    with redis.Redis.from_url(rom_redis_url, decode_responses=True) as conn:
        assert kinds(check(CkPlace, conn=conn)) == [
            ("missing-entry", f"{NS}:name:ada:idx")
        ]


def test_missing_token_entry(places: list[CkPlace], rom_redis: redis.Redis) -> None:
    rom_redis.srem(f"{NS}:name:ada:idx", "2")
    [problem] = check(CkPlace)
    assert (problem.model, problem.kind, problem.key) == (
        "CkPlace",
        "missing-entry",
        f"{NS}:name:ada:idx",
    )
    assert "'2'" in problem.detail and "refresh_indices" in problem.detail
    assert str(problem).startswith("CkPlace: missing-entry at 'ck:place:name:ada:idx'")


def test_missing_numeric_prefix_suffix_geo_entries(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.zrem(f"{NS}:age:idx", "1")
    rom_redis.zrem(f"{NS}:name:pre", "ada\x003")
    rom_redis.zrem(f"{NS}:name:suf", "ada\x002")
    rom_redis.zrem(f"{NS}:home:geo", "3")
    assert sorted(kinds(check(CkPlace))) == [
        ("missing-entry", f"{NS}:age:idx"),
        ("missing-entry", f"{NS}:home:geo"),
        ("missing-entry", f"{NS}:name:pre"),
        ("missing-entry", f"{NS}:name:suf"),
    ]


def test_wrong_score_and_geo_position(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.zadd(f"{NS}:age:idx", {"2": 99})
    rom_redis.geoadd(f"{NS}:home:geo", (10.0, 10.0, "1"))
    problems = check(CkPlace)
    assert kinds(problems) == [
        ("wrong-score", f"{NS}:age:idx"),
        ("wrong-score", f"{NS}:home:geo"),
    ]
    assert "99.0" in problems[0].detail and "31.0" in problems[0].detail


def test_extra_entry_for_a_live_row(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.sadd(f"{NS}:name:babbage:idx", "1")
    rom_redis.zadd(f"{NS}:name:pre", {"zz\x001": 1.0})
    assert kinds(check(CkPlace)) == [
        ("extra-entry", f"{NS}:name:babbage:idx"),
        ("extra-entry", f"{NS}:name:pre"),
    ]


def test_entries_naming_missing_rows(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.sadd(f"{NS}:name:ada:idx", "7")
    rom_redis.zadd(f"{NS}:name:suf", {"ada\x007": 1.0})
    rom_redis.hset(f"{NS}:email:uidx", "ghost@example.org", "7")
    assert kinds(check(CkPlace)) == [
        ("orphan-unique", f"{NS}:email:uidx"),
        ("orphan-entry", f"{NS}:name:ada:idx"),
        ("orphan-entry", f"{NS}:name:suf"),
    ]


def test_a_row_deleted_behind_rom_leaves_orphans(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.delete(f"{NS}:1")
    found = {p.kind for p in check(CkPlace)}
    assert found == {"orphan-entry", "orphan-unique", "orphan-unsafe"}


def test_missing_unique_entries(places: list[CkPlace], rom_redis: redis.Redis) -> None:
    rom_redis.hdel(f"{NS}:email:uidx", "p1@example.org")
    rom_redis.hdel(
        f"{NS}:number:team:uidx", rom.util.encode_unique_constraint(["2", "red"])
    )
    problems = check(CkPlace)
    assert kinds(problems) == [
        ("missing-unique", f"{NS}:email:uidx"),
        ("missing-unique", f"{NS}:number:team:uidx"),
    ]
    assert "row 2 holds 'p1@example.org'" in problems[0].detail


def test_unique_entry_disagreeing_with_rows(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.hset(f"{NS}:email:uidx", "p1@example.org", "3")
    rom_redis.hset(f"{NS}:email:uidx", "nobody@example.org", "1")
    problems = check(CkPlace)
    assert kinds(problems) == [
        ("unique-mismatch", f"{NS}:email:uidx"),
        ("unique-mismatch", f"{NS}:email:uidx"),
        ("unique-mismatch", f"{NS}:email:uidx"),
    ]
    details = " | ".join(p.detail for p in problems)
    assert "'p1@example.org' -> 3" in details
    assert "'nobody@example.org' -> 1" in details
    assert "row 2 holds 'p1@example.org'" in details


def test_stale_and_missing_records(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    record = rom_redis.hget(f"{NS}:1", "-index-data-")
    assert record is not None
    rom_redis.hset(f"{NS}:1", "-index-data-", record.replace(b"ada", b"bob"))
    rom_redis.hdel(f"{NS}:2", "-index-data-")
    problems = check(CkPlace)
    assert kinds(problems) == [
        ("stale-record", f"{NS}:1"),
        ("missing-record", f"{NS}:2"),
    ]
    assert "name:bob" in problems[0].detail and "name:ada" in problems[0].detail


def test_legacy_records(places: list[CkPlace], rom_redis: redis.Redis) -> None:
    # A pre-1.0 record is read in preference to -index-data-: a right one is
    # fine, a wrong one is stale, one without a row is an orphan.
    record = rom_redis.hget(f"{NS}:1", "-index-data-")
    assert record is not None
    rom_redis.hset(f"{NS}::", "1", record)
    assert check(CkPlace) == []
    rom_redis.hset(f"{NS}::", "2", record)
    rom_redis.hset(f"{NS}::", "9", record)
    assert kinds(check(CkPlace)) == [
        ("orphan-record", f"{NS}::"),
        ("stale-record", f"{NS}::"),
    ]


def test_id_above_counter(places: list[CkPlace], rom_redis: redis.Redis) -> None:
    rom_redis.set(f"{NS}:id:", 2)
    [problem] = check(CkPlace)
    assert (problem.kind, problem.key) == ("id-above-counter", f"{NS}:3")
    assert f"SET {NS}:id: 3" in problem.detail


def test_leftover_temporary_key(places: list[CkPlace], rom_redis: redis.Redis) -> None:
    rom_redis.zadd(f"{NS}:0b4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c", {"1": 1})
    rom_redis.zadd(f"{NS}:1c4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c:2", {"1": 1})
    rom_redis.zadd(f"{NS}:2d4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c", {"1": 1})
    rom_redis.expire(f"{NS}:2d4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c", 60)
    assert kinds(check(CkPlace)) == [
        ("temp-key", f"{NS}:0b4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c"),
        ("temp-key", f"{NS}:1c4e7a1c-2f0d-4a5e-9c1b-3d2e1f0a9b8c:2"),
    ]


def test_cached_query_result_is_not_a_problem(places: list[CkPlace]) -> None:
    key = CkPlace.query.filter(name="ada").order_by("age").cached_result(30)
    assert key.startswith(f"{NS}:")
    assert check(CkPlace) == []


def test_orphan_and_undeclared_unsafe_keys(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.rpush(f"{NS}:8:log", "x")
    rom_redis.rpush(f"{NS}:1:oldcol", "x")
    assert kinds(check(CkPlace)) == [
        ("unknown-key", f"{NS}:1:oldcol"),
        ("orphan-unsafe", f"{NS}:8:log"),
    ]


def test_wrong_types(places: list[CkPlace], rom_redis: redis.Redis) -> None:
    rom_redis.delete(f"{NS}:age:idx")
    rom_redis.sadd(f"{NS}:age:idx", "1", "2", "3")
    rom_redis.delete(f"{NS}:email:uidx")
    rom_redis.set(f"{NS}:email:uidx", "x")
    assert kinds(check(CkPlace)) == [
        ("wrong-type", f"{NS}:age:idx"),
        ("wrong-type", f"{NS}:email:uidx"),
    ]


def test_bad_rows(places: list[CkPlace], rom_redis: redis.Redis) -> None:
    rom_redis.hset(f"{NS}:1", "age", "not a number")
    rom_redis.hdel(f"{NS}:2", "id")
    found = [p for p in check(CkPlace) if p.kind == "bad-row"]
    assert [p.key for p in found] == [f"{NS}:1", f"{NS}:2"]
    assert "age" in found[0].detail
    assert "'id' field is None" in found[1].detail


def test_keys_of_undeclared_columns_are_unknown(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.zadd(f"{NS}:removed:idx", {"1": 1})
    assert kinds(check(CkPlace)) == [("unknown-key", f"{NS}:removed:idx")]


def test_every_kind_is_documented() -> None:
    assert set(KINDS) == {
        "bad-row",
        "missing-entry",
        "wrong-score",
        "extra-entry",
        "orphan-entry",
        "missing-unique",
        "unique-mismatch",
        "orphan-unique",
        "missing-record",
        "stale-record",
        "orphan-record",
        "id-above-counter",
        "wrong-partition",
        "temp-key",
        "orphan-unsafe",
        "missing-reference",
        "wrong-type",
        "unknown-key",
    }


def test_refresh_indices_repairs_what_check_reports(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.delete(f"{NS}:name:pre", f"{NS}:age:idx", f"{NS}:email:uidx")
    assert check(CkPlace)
    for _ in rom.util.refresh_indices(CkPlace):
        pass
    assert check(CkPlace) == []


def test_without_models_checks_every_registered_model(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.srem(f"{NS}:name:ada:idx", "2")
    assert ("missing-entry", f"{NS}:name:ada:idx") in kinds(check())


def _scored_keygen(attr: str, data: dict[str, Any]) -> dict[str, float]:
    value = data.get(attr) or ""
    return {"": len(value), "upper": sum(c.isupper() for c in value)}


class CkOwner(rom.Model):
    _namespace = "ck:owner"
    id = rom.PrimaryKey(index=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE_CI, prefix=True, suffix=True)


class CkPet(rom.Model):
    _namespace = "ck:pet"
    owner = rom.ManyToOne("CkOwner", on_delete="cascade")
    buddy = rom.OneToOne("CkOwner", on_delete="set null")
    alive = rom.Boolean(index=True)
    kind = rom.Text(index=True, keygen=rom.IDENTITY_CI, unique=True)
    motto = rom.Text(index=True, keygen2=_scored_keygen)
    born = rom.DateTime(index=True)
    weight = rom.Decimal(index=True)
    tags = rom.IndexOnly("kind", keygen=rom.FULL_TEXT)


def test_every_column_kind_checks_clean(rom_redis: redis.Redis) -> None:
    import datetime
    import decimal

    owners = [CkOwner(name=f"Owner {i}") for i in range(3)]
    rom.session.commit()
    for i in range(6):
        CkPet(
            owner=owners[i % 3],
            buddy=owners[i % 3] if i < 3 else None,
            alive=i % 2 == 0,
            kind=f"Kind{i}",
            motto="Live Long" if i else None,
            born=datetime.datetime(2020, 1, i + 1),
            weight=decimal.Decimal(i) / 4,
        )
    rom.session.commit()
    rom.session.rollback()
    pet = CkPet.get(2)
    assert pet is not None
    pet.motto = "Changed"
    pet.alive = None
    pet.save()
    CkPet.get(3).delete()
    owners[1].delete()
    rom.session.rollback()
    assert check(CkOwner, CkPet) == []
    rom_redis.zrem("ck:owner:id:idx", "1")
    rom_redis.zrem("ck:pet:motto:upper:idx", "4")
    assert kinds(check(CkOwner, CkPet)) == [
        ("missing-entry", "ck:owner:id:idx"),
        ("missing-entry", "ck:pet:motto:upper:idx"),
    ]


def test_a_counter_that_is_not_a_number(
    places: list[CkPlace], rom_redis: redis.Redis
) -> None:
    rom_redis.delete(f"{NS}:id:")
    rom_redis.hset(f"{NS}:id:", "x", "1")
    assert kinds(check(CkPlace)) == [("wrong-type", f"{NS}:id:")]
    rom_redis.delete(f"{NS}:id:")
    rom_redis.set(f"{NS}:id:", "many")
    assert kinds(check(CkPlace)) == [("wrong-type", f"{NS}:id:")]
