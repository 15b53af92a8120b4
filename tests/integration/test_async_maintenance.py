"""rom.util.arefresh_indices: the same job as refresh_indices, on asyncio."""

from __future__ import annotations

from typing import Any

import pytest
import redis

import rom
from rom.maintenance import arefresh_indices
from rom.maintenance import refresh_indices
from rom.testing import CallCounter

from .async_api import Api


class AmItem(rom.Model):
    n = rom.Integer(index=True)
    code = rom.Text(unique=True)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, rom_redis: redis.Redis) -> Api:
    return Api(request.param)


async def progress(api: Api, *args: Any, **kwargs: Any) -> list[Any]:
    if api.is_async:
        return [p async for p in arefresh_indices(*args, **kwargs)]
    return list(refresh_indices(*args, **kwargs))


@pytest.mark.parametrize("scan", [True, False])
def test_refresh_rebuilds_wiped_indexes(
    api: Api, rom_redis: redis.Redis, roundtrips: CallCounter, scan: bool
) -> None:
    rom.session.save([AmItem(n=i, code=f"c{i}") for i in range(250)])
    rom.session.rollback()
    rom_redis.delete("AmItem:n:idx", "AmItem:code:uidx")

    async def body(api: Api) -> None:
        with roundtrips.count() as counted:
            steps = await progress(api, AmItem, block_size=100, scan=scan)
        assert steps[-1] == (250, 250) and steps[-1].resume is None
        if not scan:  # probing ids: counter read, then read + write per block
            done = [(p.done, p.total) for p in steps]
            assert done == [(100, 250), (200, 250), (250, 250), (250, 250)]
            assert counted.roundtrips == 1 + 3 * 2

    api.run(body)
    assert rom_redis.zcard("AmItem:n:idx") == 250
    assert rom_redis.hlen("AmItem:code:uidx") == 250
    assert rom.util.check(AmItem) == []
