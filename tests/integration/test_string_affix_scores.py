"""Prefix and suffix scores of String (bytes) values, as rom 1.1.2 writes them.

A SIMPLE* index on a String column stores the bytes decoded as latin-1 as
its :pre/:suf member, and rom 1.1.2 scores that member by the raw bytes,
not by its UTF-8. Saves now write that score; queries find entries scored
either way (earlier releases of this library scored the UTF-8), for
non-ASCII values too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

import rom
from tests.integration.dump import dump
from tests.integration.dump import prefix_score

pytestmark = pytest.mark.usefixtures("fresh_models")

VALUE = b"\xe9t\xe9 \xff!"  # "été ÿ!" in latin-1, not valid UTF-8
TEXT = VALUE.decode("latin-1")


def _declare() -> Any:
    class SaBin(rom.Model):
        simple = rom.String(index=True, keygen=rom.SIMPLE, prefix=True, suffix=True)
        ci = rom.String(index=True, keygen=rom.SIMPLE_CI, prefix=True)

    return SaBin


def test_save_scores_the_raw_bytes(rom_redis: redis.Redis) -> None:
    """:pre and :suf scores are those of the bytes (reversed for :suf)."""
    SaBin = _declare()
    SaBin(simple=VALUE, ci=b"AB\xc9").save()
    db = dump(rom_redis)
    member = TEXT.encode() + b"\x001"
    assert db[b"SaBin:simple:pre"] == ("zset", [(member, prefix_score(VALUE))])
    assert db[b"SaBin:simple:suf"] == (
        "zset",
        [(TEXT[::-1].encode() + b"\x001", prefix_score(VALUE[::-1]))],
    )
    # The scores differ from those of the member's UTF-8 (what this test is about).
    assert prefix_score(VALUE) != prefix_score(TEXT)
    # The SIMPLE score of the value itself (for order_by) is unchanged.
    assert db[b"SaBin:simple:idx"] == ("zset", [(b"1", prefix_score(TEXT))])
    ((ci_member, ci_score),) = db[b"SaBin:ci:pre"][1]
    token = ci_member.split(b"\0")[0].decode()
    assert ci_score == prefix_score(token.encode("latin-1"))


def _write_112_row(conn: redis.Redis, *, utf8_scores: bool) -> None:
    """SaBin 1 with simple=VALUE, by hand, as rom 1.1.2 writes it.

    With ``utf8_scores`` the :pre/:suf scores are those that earlier releases
    of this library wrote (the UTF-8 of the member).
    """
    rev = TEXT[::-1]
    pre = prefix_score(TEXT) if utf8_scores else prefix_score(VALUE)
    suf = prefix_score(rev) if utf8_scores else prefix_score(VALUE[::-1])
    record = [[], ["simple"], [["simple", TEXT]], [["simple", rev]], []]
    conn.set("SaBin:id:", 1)
    conn.hset(
        "SaBin:1",
        mapping={"id": "1", "simple": TEXT, "-index-data-": json.dumps(record)},
    )
    conn.zadd("SaBin:simple:idx", {"1": prefix_score(TEXT)})
    conn.zadd("SaBin:simple:pre", {f"{TEXT}\x001": pre})
    conn.zadd("SaBin:simple:suf", {f"{rev}\x001": suf})


@pytest.mark.parametrize("utf8_scores", [False, True], ids=["rom-1.1.2", "utf8"])
def test_queries_find_entries_scored_either_way(
    rom_redis: redis.Redis, utf8_scores: bool
) -> None:
    """startswith, endswith and like find the hand-written row, non-ASCII too."""
    SaBin = _declare()
    _write_112_row(rom_redis, utf8_scores=utf8_scores)
    for query in (
        SaBin.query.startswith(simple=b"\xe9t"),
        SaBin.query.startswith(simple="\xe9t\xe9 \xff"),
        SaBin.query.startswith(simple=VALUE),
        SaBin.query.endswith(simple=b"\xff!"),
        SaBin.query.endswith(simple=b"\xe9 \xff!"),
        SaBin.query.like(simple=b"\xe9t!"),
        SaBin.query.like(simple=b"\xe9t\xe9 ?\xff"),
    ):
        assert [e.id for e in query.all()] == [1], query
        assert query.count() == 1
        assert [e.id for e in query.iter_result()] == [1]
    # Near misses still miss.
    assert SaBin.query.startswith(simple=b"\xe9x").count() == 0
    assert SaBin.query.endswith(simple=b"\xe9!").count() == 0
    # Together with another filter (the general search path).
    both = SaBin.query.startswith(simple=b"\xe9").endswith(simple=b"!")
    assert [e.id for e in both.all()] == [1]


def test_ascii_needs_one_window(rom_redis: redis.Redis) -> None:
    """Both scorings agree on ASCII: one score window is scanned."""
    SaBin = _declare()
    SaBin(simple=b"abc").save()
    f = SaBin.query.startswith(simple=b"ab")._filters[0]
    assert f.extra == ()  # type: ignore[union-attr]
    assert [e.simple for e in SaBin.query.startswith(simple=b"ab").all()] == [b"abc"]


def test_rewritten_row_gets_the_raw_scores(rom_redis: redis.Redis) -> None:
    """Saving a row written with UTF-8 scores rewrites them the rom 1.1.2 way."""
    SaBin = _declare()
    _write_112_row(rom_redis, utf8_scores=True)
    entity = SaBin.get(1)
    entity.simple = VALUE + b"x"
    entity.save()
    ((member, score),) = dump(rom_redis)[b"SaBin:simple:pre"][1]
    assert member == (TEXT + "x").encode() + b"\x001"
    assert score == prefix_score(VALUE + b"x")
    assert [e.id for e in SaBin.query.startswith(simple=VALUE).all()] == [1]
