"""rom.session_scope(): a session per request or job (``with``/``async with``)."""

from __future__ import annotations

import pytest
import redis

import rom

from .async_api import Api


class ScItem(rom.Model):
    code = rom.Text(unique=True)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, rom_redis: redis.Redis) -> Api:
    return Api(request.param)


async def enter(api: Api, scope: rom.session_scope) -> None:
    if api.is_async:
        await scope.__aenter__()
    else:
        scope.__enter__()


async def leave(api: Api, scope: rom.session_scope) -> None:
    if api.is_async:
        await scope.__aexit__(None, None, None)
    else:
        scope.__exit__(None, None, None)


def test_what_a_request_leaves_uncommitted_is_not_written_later(api: Api) -> None:
    async def body(api: Api) -> None:
        scope = rom.session_scope()
        await enter(api, scope)
        ScItem(code="abandoned")  # the request fails before its commit
        await leave(api, scope)
        scope = rom.session_scope()
        await enter(api, scope)
        ScItem(code="next")
        assert await api.call(rom.session, "commit") > 0
        await leave(api, scope)
        assert [e.code for e in ScItem.query.all()] == ["next"]

    api.run(body)


def test_a_scope_leaves_the_outer_session_untouched(api: Api) -> None:
    async def body(api: Api) -> None:
        outer = ScItem(code="outer")
        scope = rom.session_scope()
        await enter(api, scope)
        ScItem(code="inner")
        await api.call(rom.session, "commit")
        assert outer._new  # the inner commit did not save it
        await leave(api, scope)
        await api.call(rom.session, "commit")
        assert not outer._new
        assert sorted(e.code for e in ScItem.query.all()) == ["inner", "outer"]

    api.run(body)


def test_both_forms_are_context_managers(rom_redis: redis.Redis) -> None:
    with pytest.raises(RuntimeError), rom.session_scope():
        ScItem(code="lost")
        raise RuntimeError("request failed")
    rom.session.commit()

    async def body(api: Api) -> None:
        async with rom.session_scope() as session:
            assert session is rom.session
            ScItem(code="kept")
            await session.acommit()
            ScItem(code="dropped")
        await rom.session.acommit()

    Api("async").run(body)
    assert [e.code for e in ScItem.query.all()] == ["kept"]
