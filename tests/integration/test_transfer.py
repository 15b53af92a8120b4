"""Model.transfer() against a real Redis.

One script moves an amount and marks the transaction, or writes nothing;
errors are ValueError with str messages; entities on two clients of the
same server and database are accepted.
"""

from __future__ import annotations

import decimal

import pytest
import redis

import rom
from rom.testing import CallCounter
from rom.testing import url_with_db
from tests.integration.dump import dump


class TrAccount(rom.Model):
    balance = rom.Float(index=True)
    coins = rom.Integer(index=True)


class TrTxn(rom.Model):
    _namespace = "tr:txn"
    sent = rom.Integer(index=True)


class TrOwnClient(rom.Model):
    balance = rom.Float()


def accounts(*balances: float | None) -> list[TrAccount]:
    """Saved accounts with these balances (None leaves it unset)."""
    made = [TrAccount(balance=b, coins=int(b or 0)) for b in balances]
    rom.session.commit()
    return made


def txn() -> TrTxn:
    """A saved, unsent transaction."""
    t = TrTxn()
    t.save()
    return t


class TestTransfer:
    def test_moves_the_amount_and_marks_the_transaction(
        self, rom_redis: redis.Redis
    ) -> None:
        """a.attr -= value, b.attr += value, txn.attr = 1; indexes rebuilt."""
        a, b = accounts(10, 5)
        t = txn()
        a.transfer(b, "coins", 3, t, "sent")
        assert rom_redis.hget(a._pk, "coins") == b"7"
        assert rom_redis.hget(b._pk, "coins") == b"8"
        assert rom_redis.hget(t._pk, "sent") == b"1"
        assert (a.coins, b.coins, t.sent) == (7, 8, 1)
        assert rom_redis.zscore("TrAccount:coins:idx", a.id) == 7.0
        assert rom_redis.zscore("tr:txn:sent:idx", t.id) == 1.0
        assert [x.id for x in TrAccount.query.filter(coins=(8, 8)).all()] == [b.id]

    def test_decimal_places_truncate(self, rom_redis: redis.Redis) -> None:
        """decimal_places=2 keeps two decimals, written as Lua prints them."""
        a, b = accounts(2.0, 1.1)
        a.transfer(b, "balance", 0.06, txn(), "sent", decimal_places=2)
        assert rom_redis.hget(a._pk, "balance") == b"1.94"
        assert rom_redis.hget(b._pk, "balance") == b"1.16"
        assert (a.balance, b.balance) == (1.94, 1.16)

    def test_truncation_is_not_fooled_by_binary_floats(
        self, rom_redis: redis.Redis
    ) -> None:
        """1.15 - 0.05 truncates to 1.1, not 1.09 (0.1 + 0.2 to 0.3)."""
        a, b = accounts(1.15, 0.1)
        a.transfer(b, "balance", 0.05, txn(), "sent", decimal_places=2)
        assert rom_redis.hget(a._pk, "balance") == b"1.1"
        c, d = accounts(1.0, 0.1)
        c.transfer(d, "balance", 0.2, txn(), "sent", decimal_places=1)
        assert rom_redis.hget(d._pk, "balance") == b"0.3"

    def test_missing_values_count_as_zero(self, rom_redis: redis.Redis) -> None:
        """An unset destination starts at 0; an unset source has no credit."""
        a, b = accounts(4, None)
        a.transfer(b, "balance", 4, txn(), "sent")
        assert (a.balance, b.balance) == (0.0, 4.0)
        with pytest.raises(ValueError, match="not enough credit"):
            accounts(None)[0].transfer(a, "balance", 1, txn(), "sent")

    def test_already_sent_writes_nothing(self, rom_redis: redis.Redis) -> None:
        """A transaction already marked is refused with 'already sent' (a str)."""
        a, b = accounts(10, 0)
        t = txn()
        a.transfer(b, "balance", 1, t, "sent")
        before = dump(rom_redis)
        with pytest.raises(ValueError) as info:
            a.transfer(b, "balance", 1, t, "sent")
        assert info.value.args == ("already sent",)
        assert dump(rom_redis) == before

    def test_not_enough_credit_writes_nothing(self, rom_redis: redis.Redis) -> None:
        """An amount above the source balance is refused, nothing written."""
        a, b = accounts(1, 0)
        t = txn()
        before = dump(rom_redis)
        with pytest.raises(ValueError) as info:
            a.transfer(b, "balance", 1.5, t, "sent")
        assert info.value.args == ("not enough credit",)
        assert isinstance(info.value.args[0], str)
        assert dump(rom_redis) == before

    def test_a_row_deleted_meanwhile_writes_nothing(
        self, rom_redis: redis.Redis
    ) -> None:
        """A row gone from Redis is refused ('entity deleted'), nothing written."""
        a, b = accounts(5, 0)
        t = txn()
        rom_redis.delete(b._pk)
        with pytest.raises(ValueError, match="entity deleted"):
            a.transfer(b, "balance", 1, t, "sent")
        assert rom_redis.hget(a._pk, "balance") == b"5.0"
        assert not rom_redis.exists(b._pk)

    def test_decimal_amount(self, rom_redis: redis.Redis) -> None:
        """A Decimal amount is sent as its decimal text."""
        a, b = accounts(3, 0)
        a.transfer(b, "balance", decimal.Decimal("1.25"), txn(), "sent", 2)
        assert rom_redis.hget(b._pk, "balance") == b"1.25"

    def test_without_refresh(
        self, rom_redis: redis.Redis, roundtrips: CallCounter
    ) -> None:
        """refresh_*=False: one script call; entities and indexes left stale."""
        a, b = accounts(10, 5)
        t = txn()
        a.transfer(
            b, "coins", 1, t, "sent", refresh_entities=False, refresh_index=False
        )
        with roundtrips.count() as calls:
            a.transfer(
                b,
                "coins",
                1,
                txn(),
                "sent",
                refresh_entities=False,
                refresh_index=False,
            )
        assert calls.names[-1] == "EVALSHA"
        assert calls.roundtrips == 2  # the new txn's save, then the transfer
        assert a.coins == 10
        assert rom_redis.hget(a._pk, "coins") == b"8"
        assert rom_redis.zscore("TrAccount:coins:idx", a.id) == 10.0

    def test_refresh_entities_only(self, rom_redis: redis.Redis) -> None:
        """refresh_entities=True reloads the values but leaves the indexes."""
        a, b = accounts(10, 5)
        a.transfer(b, "coins", 2, txn(), "sent", refresh_index=False)
        assert (a.coins, b.coins) == (8, 7)
        assert rom_redis.zscore("TrAccount:coins:idx", a.id) == 10.0


class TestPreconditions:
    def test_refused_states(self, rom_redis: redis.Redis) -> None:
        """New, modified and deleted entities raise ValueError, nothing written."""
        a, b = accounts(10, 5)
        t = txn()
        with pytest.raises(ValueError, match="new"):
            a.transfer(TrAccount(balance=1), "balance", 1, t, "sent")
        a.balance = 9
        with pytest.raises(ValueError, match="modified"):
            a.transfer(b, "balance", 1, t, "sent")
        a.refresh(force=True)
        b.delete()
        with pytest.raises(ValueError, match="deleted"):
            a.transfer(b, "balance", 1, t, "sent")
        assert rom_redis.hget(a._pk, "balance") == b"10.0"

    @pytest.mark.parametrize("value", [0, -1, "1", True, None])
    def test_value_must_be_a_positive_number(
        self, rom_redis: redis.Redis, value: object
    ) -> None:
        """value must be a number > 0."""
        a, b = accounts(10, 5)
        with pytest.raises(ValueError, match="value"):
            a.transfer(b, "balance", value, txn(), "sent")

    def test_decimal_places_must_be_non_negative(self, rom_redis: redis.Redis) -> None:
        """decimal_places < 0 raises ValueError."""
        a, b = accounts(10, 5)
        with pytest.raises(ValueError, match="decimal_places"):
            a.transfer(b, "balance", 1, txn(), "sent", decimal_places=-1)

    def test_same_server_is_enough(
        self, rom_redis: redis.Redis, rom_redis_url: str
    ) -> None:
        """Two client objects on one server and db are accepted (bug 30)."""
        other = redis.Redis.from_url(rom_redis_url)
        TrOwnClient._conn = other
        try:
            own = TrOwnClient(balance=3)
            own.save()
            a = accounts(10)[0]
            a.transfer(own, "balance", 2, txn(), "sent")
            assert own.balance == 5.0
        finally:
            del TrOwnClient._conn
            other.close()

    def test_another_database_is_refused(
        self, rom_redis: redis.Redis, rom_redis_url: str
    ) -> None:
        """Entities in another database raise ValueError (before any write)."""
        other = redis.Redis.from_url(url_with_db(rom_redis_url, 14))
        TrOwnClient._conn = other
        try:
            a = accounts(10)[0]
            with pytest.raises(ValueError, match="same Redis server"):
                a.transfer(TrOwnClient(balance=3), "balance", 2, txn(), "sent")
        finally:
            del TrOwnClient._conn
            other.close()
