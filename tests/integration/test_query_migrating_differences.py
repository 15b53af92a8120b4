"""Query bugs of rom 1.1.2, each shown fixed (see docs/migrating.rst)."""

from __future__ import annotations

import uuid

import pytest
import redis

import rom
from rom.exceptions import QueryError
from rom.exceptions import UniqueKeyViolation
from rom.testing import CallCounter
from rom.testing import is_write_record


class QfWord(rom.Model):
    w = rom.Text(index=True, keygen=rom.IDENTITY, prefix=True, suffix=True)
    n = rom.Integer(index=True)
    f = rom.Float(index=True)
    note = rom.Text()
    size = rom.Integer()


class QfCase(rom.Model):
    code = rom.String(index=True, keygen=rom.IDENTITY_STRING_CI)
    text = rom.Text()
    lower = rom.IndexOnly("text", rom.IDENTITY_CI)
    handle = rom.IndexOnly("text", rom.IDENTITY, unique=True)


class QfBytes(rom.Model):
    exact = rom.String(index=True, keygen=rom.IDENTITY_STRING)
    sorted = rom.String(index=True, keygen=rom.SIMPLE, prefix=True, suffix=True)


class QfPair(rom.Model):
    name = rom.Text()
    number = rom.Integer()
    unique_together = [("name", "number")]  # noqa: RUF012


def words(*values: str) -> list[QfWord]:
    """Save one QfWord per value of ``w``."""
    items = [QfWord(w=value) for value in values]
    rom.session.commit()
    return items


def like(pattern: str) -> list[str]:
    """The sorted ``w`` of the QfWords matching ``like(w=pattern)``."""
    return sorted(e.w for e in QfWord.query.like(w=pattern).all())


def leftovers(conn: redis.Redis) -> list[bytes]:
    """Keys with a uuid4 part: query temporaries."""
    found = []
    for key in conn.scan_iter(count=1000):
        if is_write_record(key):
            continue
        for part in key.decode("utf-8", "replace").split(":"):
            try:
                uuid.UUID(part)
            except ValueError:
                continue
            found.append(key)
    return found


def test_like_escapes_lua_magic_characters(rom_redis: redis.Redis) -> None:
    """Item 8: like() patterns with - ( ) . % [ ^ $ match those characters."""
    words("a.c", "abc", "x-y", "xy", "(p)", "50%", "[q]", "^r$", "r")
    assert like("a.c") == ["a.c"]
    assert like("x-y") == ["x-y"]
    assert like("(p)") == ["(p)"]
    assert like("50%") == ["50%"]
    assert like("[q]") == ["[q]"]
    assert like("^r$") == ["^r$"]
    assert like("a.!") == ["a.c"]


def test_like_finds_exact_words(rom_redis: redis.Redis) -> None:
    """Item 9: a pattern whose literal prefix is a whole token matches that token."""
    words("ABC", "ABCD", "AB")
    assert like("ABC*") == ["ABC", "ABCD"]
    assert like("ABC") == ["ABC", "ABCD"]
    assert like("AB?") == ["AB", "ABC", "ABCD"]
    assert like("ABC!") == ["ABCD"]


def test_does_not_startwith_is_exact(rom_redis: redis.Redis) -> None:
    """Item 10: exclusions with scores of any format give exact, unique results."""
    words("ab", "ABC", "abc", "a.c", "ABD")
    found = [e.w for e in QfWord.does_not_startwith("w", ["ab", "ABC"])]
    assert sorted(found) == ["ABD", "a.c"]
    found = [e.w for e in QfWord.does_not_endwith("w", ["c", "D"])]
    assert sorted(found) == ["ABC", "ab"]


def test_get_by_numeric(rom_redis: redis.Redis) -> None:
    """Item 11: get_by(..., _numeric=True) reads the numeric index."""
    for n in range(5):
        QfWord(n=n)
    rom.session.commit()
    assert [e.n for e in QfWord.get_by(n=(1, 3), _numeric=True)] == [1, 2, 3]
    assert [e.n for e in QfWord.get_by(n=4, _numeric=True)] == [4]


def test_count_and_limits(rom_redis: redis.Redis) -> None:
    """Item 12: count() counts saved entities, honours limit; limit(x, 0) is empty."""
    items = [QfWord(n=n) for n in range(6)]
    rom.session.commit()
    items[0].delete()
    QfWord(n=99)  # takes no id until saved, and is not counted
    assert QfWord.query.count() == 5
    assert QfWord.query.filter(n=(0, 10)).limit(1, 2).count() == 2
    assert QfWord.query.filter(n=(0, 10)).limit(4, 10).count() == 1
    assert QfWord.query.filter(n=(0, 10)).limit(1, 0).all() == []
    assert QfWord.query.filter(n=(0, 10)).limit(1, 0).count() == 0
    assert list(QfWord.query.filter(n=(0, 10)).limit(1, 0)) == []


def test_no_temp_keys_pile_up(rom_redis: redis.Redis) -> None:
    """Item 13: all(), count(), iteration and iter_result() leave no temp key."""
    for n in range(30):
        QfWord(w=f"w{n % 3}", n=n)
    rom.session.commit()
    query = QfWord.query.filter(w="w1", n=(0, 20))
    assert len(query.all()) == 7
    assert query.count() == 7
    assert len(list(query)) == 7
    assert len(list(query.iter_result(pagesize=2))) == 7
    assert query.first() is not None
    assert leftovers(rom_redis) == []


def test_default_order_is_the_first_range_written(
    rom_redis: redis.Redis,
) -> None:
    """Item 14: without order_by, the first range written orders, not the cheapest."""
    for n in range(12):
        QfWord(n=n, f=(11 - n) / 2)
    rom.session.commit()
    # f's range is much smaller, which rom 1.1.2 would have run (and sorted by) last.
    by_n = QfWord.query.filter(n=(0, 11)).filter(f=(0, 1.5))
    assert [e.n for e in by_n.all()] == [8, 9, 10, 11]
    by_f = QfWord.query.filter(f=(0, 1.5)).filter(n=(0, 11))
    assert [e.n for e in by_f.all()] == [11, 10, 9, 8]


def test_order_by_an_unindexed_column_is_an_error(
    rom_redis: redis.Redis,
) -> None:
    """Item 15: order_by on an unindexed column raises QueryError at once."""
    with pytest.raises(QueryError, match="no index"):
        QfWord.query.order_by("size")
    with pytest.raises(QueryError, match="no index"):
        QfWord.query.order_by("-note")


def test_lowercasing_gaps(rom_redis: redis.Redis) -> None:
    """Item 16: IDENTITY_STRING_CI and IndexOnly values lowercase; uniques are UTF-8."""
    entity = QfCase(code=b"MiXeD", text="Ünïcode Name")
    entity.save()
    assert QfCase.query.filter(code=b"mixed").all() == [entity]
    assert QfCase.query.filter(code="MIXED").all() == [entity]
    assert QfCase.query.filter(lower="ÜNÏCODE NAME").all() == [entity]
    assert QfCase.get_by(handle="Ünïcode Name") is entity


def test_string_columns_and_non_ascii(rom_redis: redis.Redis) -> None:
    """Item 17: bytes values match consistently, non-ASCII included."""
    entity = QfBytes(exact="café".encode(), sorted="crème".encode())
    other = QfBytes(exact=b"plain", sorted=b"plain")
    rom.session.commit()
    assert QfBytes.query.filter(exact="café".encode()).all() == [entity]
    assert QfBytes.query.filter(exact=["café".encode(), b"x"]).all() == [entity]
    assert QfBytes.query.filter(exact=[b"plain", "café".encode()]).count() == 2
    assert QfBytes.query.startswith(sorted="crè".encode()).all() == [entity]
    assert QfBytes.query.endswith(sorted="ème".encode()).all() == [entity]
    assert QfBytes.query.endswith(sorted=b"in").all() == [other]


def test_composite_unique_non_ascii(rom_redis: redis.Redis) -> None:
    """Item 18: composite unique fields keep rom's double encoding and still work."""
    QfPair(name="café", number=1).save()
    QfPair(name="café", number=2).save()
    with pytest.raises(UniqueKeyViolation):
        QfPair(name="café", number=1).save()
    raw = b"\0".join(b"\0\0" + w.encode() for w in ["café", "1"])
    field = raw.decode("latin-1").encode("utf-8")
    assert rom_redis.hget("QfPair:name:number:uidx", field) == b"1"


def test_select_without_columns_and_no_info(
    rom_redis: redis.Redis, roundtrips: CallCounter
) -> None:
    """Item 19: select() is a QueryError; no_hscan is accepted; no INFO is sent."""
    with pytest.raises(QueryError):
        QfWord.query.select()
    for n in range(3):
        QfWord(n=n)
    rom.session.commit()
    rom.session.rollback()
    with roundtrips.count() as calls:
        assert [e.n for e in QfWord.query] == [0, 1, 2]
        found = QfWord.query.filter(n=(1, 2)).iter_result(no_hscan=True)
        assert [e.n for e in found] == [1, 2]
    assert "INFO" not in calls.names
