"""Regressions for fixes made after the first review of the whole package."""

from __future__ import annotations

import io

import pytest
import redis

import rom
import rom.model
import rom.util
from rom.query import _namedtuple_data_factory
from rom.testing import data_keys


class LateItem(rom.Model):
    name = rom.Text(unique=True)
    n = rom.Integer(index=True)


class TestSelectFactory:
    def test_namedtuple_rows_share_one_class(self, rom_redis: redis.Redis) -> None:
        """A select() factory is made once per query, so rows share one type."""
        for i in range(3):
            LateItem(name=f"n{i}", n=i).save()
        rows = (
            LateItem.query.filter(n=(0, 9))
            .select("n", ff=_namedtuple_data_factory)
            .all()
        )
        assert [row.n for row in rows] == [0, 1, 2]
        assert len({type(row) for row in rows}) == 1


class TestShowProgress:
    def test_prints_to_stdout_by_default(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """show_progress(job) prints its progress when given no file or callback."""
        rom.util.show_progress(iter([(1, 2), (2, 2)]), interval=0)
        assert "100.0%" in capsys.readouterr().out

    def test_callback_alone_prints_nothing(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With only a callback, the steps go to the callback and not to stdout."""
        seen: list[tuple[int, int]] = []
        rom.util.show_progress(
            iter([(1, 2), (2, 2)]), callback=lambda d, t: seen.append((d, t))
        )
        assert seen == [(1, 2), (2, 2)]
        assert capsys.readouterr().out == ""

    def test_file_gets_the_lines(self) -> None:
        """An explicit file receives the progress lines."""
        out = io.StringIO()
        rom.util.show_progress(iter([(2, 2)]), file=out, interval=0)
        assert "100.0%" in out.getvalue()


class TestLifecycle:
    def test_deleting_a_never_saved_entity_costs_nothing(
        self, rom_redis: redis.Redis
    ) -> None:
        """Deleting an entity that was never saved burns no id and sends nothing."""
        item = LateItem(name="ghost")
        item.delete()
        assert data_keys(rom_redis) == []
        assert item._deleted

    def test_saving_an_entity_deleted_here_says_so(
        self, rom_redis: redis.Redis
    ) -> None:
        """save() after our own delete() names that, not another writer."""
        item = LateItem(name="gone")
        item.save()
        item.delete()
        with pytest.raises(rom.EntityDeletedError, match="deleted by this program"):
            item.save()
        item.save(force=True)
        assert LateItem.get_by(name="gone") is item

    def test_get_by_unique_none_matches_nothing(self, rom_redis: redis.Redis) -> None:
        """get_by(unique=None) is None (a list of Nones finds nothing)."""
        LateItem(name="None").save()
        assert LateItem.get_by(name=None) is None
        assert LateItem.get_by(name=[None]) == []


class TestCompatNames:
    def test_rom_1_1_2_private_names_resolve(self) -> None:
        """rom 1.1.2's private helpers imported by user code still resolve."""
        assert rom._prefix_score("a") == "2.0189796653424533e-306"
        assert rom._encode_unique_constraint(["42", "x"]) == "\0\x0042\0\0\0x"
        assert rom._connect is rom.util._connect
        assert rom.util._numeric_keygen(3) == {"": "3"}
        assert rom.util._boolean_keygen(0) == ["False"]
        assert rom.model.AttrDict(a=1).a == 1


class AffixItem(rom.Model):
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, suffix=True, prefix=True)


class TestAffixLimitZero:
    def test_limit_zero_gives_nothing_on_one_affix_filter(
        self, rom_redis: redis.Redis
    ) -> None:
        """limit(x, 0) returns nothing on a lone startswith/endswith/like filter."""
        AffixItem(words="bab").save()
        AffixItem(words="cab").save()
        query = AffixItem.query.endswith(words="ab")
        assert len(query.all()) == 2
        assert query.limit(0, 0).all() == []
        assert AffixItem.query.startswith(words="b").limit(0, 0).all() == []
        assert AffixItem.query.like(words="?ab").limit(1, 0).all() == []
        assert query.limit(0, 0).count() == 0
