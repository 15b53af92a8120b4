"""One startswith/endswith/like filter: ids sorted in the script, no temp key.

An entity matching through several of its tokens comes back once; limits,
descending order by id and count() agree with the general path's SORT.
"""

from __future__ import annotations

import pytest
import redis

import rom
from rom.testing import data_keys


class AffixDoc(rom.Model):
    body = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    n = rom.Integer(index=True)


@pytest.fixture
def docs(rom_redis: redis.Redis) -> list[AffixDoc]:
    """Twelve docs; the even ones have two words starting with "ab"."""
    found = [
        AffixDoc(body=f"abc{i} abd{i} zz" if i % 2 == 0 else f"abx{i} qq", n=i)
        for i in range(12)
    ]
    rom.session.commit()
    rom.session.rollback()
    return found


def test_a_doc_matching_twice_comes_back_once(docs: list[AffixDoc]) -> None:
    """Every doc starts with "ab" once or twice; each is returned once, by id."""
    found = AffixDoc.query.startswith(body="ab").all()
    assert [d.id for d in found] == [d.id for d in docs]
    assert AffixDoc.query.startswith(body="ab").count() == 12


def test_limits_page_through_the_ids(docs: list[AffixDoc]) -> None:
    """Offset and count cut the id-ordered list, as SORT ... LIMIT does."""
    ids = [d.id for d in docs]
    query = AffixDoc.query.startswith(body="ab")
    assert [d.id for d in query.limit(3, 4).all()] == ids[3:7]
    assert [d.id for d in query.limit(10, 5).all()] == ids[10:]
    assert query.limit(12, 5).all() == []
    assert query.limit(2, 0).all() == []
    assert query.limit(3, 4).count() == 4


def test_descending_by_id(docs: list[AffixDoc]) -> None:
    """order_by('-id') returns the highest ids first."""
    ids = [d.id for d in docs]
    query = AffixDoc.query.startswith(body="abd").order_by("-id")
    assert [d.id for d in query.all()] == sorted(ids[::2], reverse=True)
    assert [d.id for d in query.limit(1, 2).all()] == sorted(ids[::2])[::-1][1:3]


def test_suffix_and_pattern(docs: list[AffixDoc]) -> None:
    """endswith and like use the same path."""
    ids = [d.id for d in docs]
    assert [d.id for d in AffixDoc.query.endswith(body="q").all()] == ids[1::2]
    assert [d.id for d in AffixDoc.query.like(body="ab?1*").all()] == [
        d.id for d in docs if str(d.n).startswith("1")
    ]


def test_select_rows(docs: list[AffixDoc]) -> None:
    """select() reads the chosen columns of the same ids."""
    rows = AffixDoc.query.startswith(body="abx").select("n").limit(0, 3).all()
    assert rows == [{"n": 1}, {"n": 3}, {"n": 5}]


def test_no_key_is_left(docs: list[AffixDoc], rom_redis: redis.Redis) -> None:
    """The query writes no temporary key."""
    before = set(data_keys(rom_redis, "*"))
    AffixDoc.query.startswith(body="ab").limit(0, 3).all()
    AffixDoc.query.like(body="a*").count()
    assert set(data_keys(rom_redis, "*")) == before
