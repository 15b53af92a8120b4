"""rom models on a real Redis Cluster (3 masters, 1 replica each): placement
of every key of a model in one slot, saves, unique checks and queries."""

from __future__ import annotations

import pytest
import redis.cluster

import rom
from rom import Model
from rom import columns
from rom.exceptions import UniqueKeyViolation
from rom.testing import data_keys
from rom.testing import slot_of

pytestmark = pytest.mark.cluster


class ClUser(Model):
    email = columns.Text(unique=True)
    name = columns.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    age = columns.Integer(index=True)


def test_every_key_of_a_model_is_in_one_slot(
    rom_cluster: redis.cluster.RedisCluster,
) -> None:
    for i in range(20):
        ClUser(email=f"u{i}@x", name=f"name {i}", age=i).save()
    keys = [k.decode() for k in data_keys(rom_cluster)]
    assert keys and all(k.startswith("{ClUser}:") for k in keys)
    assert {slot_of(k) for k in keys} == {slot_of("ClUser")}
    assert "{ClUser}:1" in keys and "{ClUser}:email:uidx" in keys
    assert "{ClUser}:id:" in keys


def test_save_get_unique_query(rom_cluster: redis.cluster.RedisCluster) -> None:
    a = ClUser(email="a@x", name="alice smith", age=30)
    a.save()
    ClUser(email="b@x", name="bob jones", age=40).save()
    assert ClUser.get(a.id).email == "a@x"
    assert ClUser.get_by(email="b@x").age == 40
    with pytest.raises(UniqueKeyViolation):
        ClUser(email="a@x", name="other", age=1).save()
    assert [u.email for u in ClUser.query.filter(age=(35, 50)).all()] == ["b@x"]
    assert ClUser.query.filter(age=(0, 100)).count() == 2
    assert [u.email for u in ClUser.query.startswith(name="ali").all()] == ["a@x"]
    assert [u.email for u in ClUser.query.endswith(name="nes").all()] == ["b@x"]
    assert [u.email for u in ClUser.query.order_by("-age").all()] == ["b@x", "a@x"]
    assert len(ClUser.get([1, 2])) == 2
    a.delete()
    assert ClUser.get(1) is None
