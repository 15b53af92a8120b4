"""Dropped connections during writes: the async path reports and settles them
as the sync path does (each entity written exactly once)."""

from __future__ import annotations

import pytest
import redis

import rom
from rom.testing import DroppingProxy
from rom.testing import use_connection

from .async_api import Api


class AfPlain(rom.Model):
    n = rom.Integer(index=True)
    code = rom.Text(unique=True)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, rom_redis: redis.Redis) -> Api:
    return Api(request.param)


def test_dropped_connections_write_each_entity_once(
    api: Api, rom_redis: redis.Redis, write_path: str
) -> None:
    port = rom_redis.connection_pool.connection_kwargs["port"]
    made: list[AfPlain] = []
    errors: list[str] = []

    async def body(api: Api) -> None:
        for i in range(150):
            entity = AfPlain(n=i, code=f"c{i}")
            for _ in range(20):
                try:
                    await api.call(entity, "save")
                    break
                except (
                    redis.exceptions.ConnectionError,
                    redis.exceptions.TimeoutError,
                ) as exc:
                    errors.append(type(exc).__name__)  # outcome unknown: save again
            made.append(entity)

    with DroppingProxy(port, drop_requests=0.05, drop_replies=0.05, seed=3) as proxy:
        client = proxy.client(socket_timeout=2, socket_connect_timeout=2)
        with use_connection(client):
            api.run(body)
        client.close()
        dropped = proxy.dropped
    assert dropped > 5
    assert all(not e._new and not e._modified for e in made)
    ids = {int(e.id) for e in made}
    assert len(ids) == 150
    rows = {int(k.split(b":")[1]) for k in rom_redis.keys("AfPlain:[0-9]*")}
    assert rows == ids
    assert rom.util.check(AfPlain) == []
