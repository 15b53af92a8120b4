"""How rom finds its Redis connection.

The four ways to configure one: ``set_connection_settings``, a per-model
``_conn``/``CONN``, assigning ``rom.util.CONNECTION`` and replacing
``rom.util.get_connection``; plus ``ROM_REDIS_URI`` read at import time.
Every client here points at the private test server; the ``rom_redis``
fixture restores rom's global connection after each test.
"""

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rom
import rom.util
from rom.testing import CallCounter
from rom.testing import data_keys


class ConnItem(rom.Model):
    num = rom.Integer(index=True)
    code = rom.Text(unique=True)


@pytest.fixture
def other_client(rom_redis_url: str) -> Iterator[redis.Redis]:
    """A second client on the test database, not the counting one."""
    client = redis.Redis.from_url(rom_redis_url)
    yield client
    client.close()


@pytest.fixture
def decoding_client(rom_redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test database that decodes replies to str."""
    client = redis.Redis.from_url(rom_redis_url, decode_responses=True)
    yield client
    client.close()


def model_with(name: str, **attrs: Any) -> Any:
    """Declare a one-column model with extra class attributes (e.g. _conn)."""
    return type(name, (rom.Model,), {"num": rom.Integer(), **attrs})


class TestGlobalConnection:
    def test_fixture_installs_rom_connection(self, rom_redis: redis.Redis) -> None:
        """rom.util.CONNECTION and get_connection() are the test client."""
        assert rom.util.CONNECTION is rom_redis
        assert rom.util.get_connection() is rom_redis
        assert ConnItem._connection is rom_redis

    def test_assigned_connection_is_used_at_call_time(
        self,
        rom_redis: redis.Redis,
        roundtrips: CallCounter,
        other_client: redis.Redis,
    ) -> None:
        """Assigning rom.util.CONNECTION switches every later call to it."""
        rom.util.CONNECTION = other_client
        assert rom.util.get_connection() is other_client
        assert ConnItem._connection is other_client
        with roundtrips.count() as calls:
            entity = ConnItem(num=1)
            entity.save()
            rom.session.rollback()
            assert ConnItem.get(entity.id).num == 1
        assert calls.roundtrips == 0
        assert rom_redis.hget(entity._pk, "num") == b"1"

    def test_set_connection_settings_builds_a_client(
        self, rom_redis: redis.Redis, roundtrips: CallCounter, rom_redis_url: str
    ) -> None:
        """set_connection_settings(**kw) replaces the global with Redis(**kw)."""
        kwargs = rom_redis.connection_pool.connection_kwargs
        rom.util.set_connection_settings(
            host=kwargs["host"],
            port=kwargs["port"],
            db=kwargs["db"],
            password=kwargs.get("password"),
        )
        try:
            client = rom.util.CONNECTION
            assert client is not rom_redis
            assert isinstance(client, redis.Redis)
            assert rom.util.get_connection() is client
            with roundtrips.count() as calls:
                ConnItem(num=2).save()
            assert calls.roundtrips == 0
            assert rom_redis.hget("ConnItem:1", "num") == b"2"
        finally:
            rom.util.CONNECTION.close()

    def test_set_connection_settings_positional(self, rom_redis: redis.Redis) -> None:
        """Positional arguments are passed to redis.Redis too."""
        kwargs = rom_redis.connection_pool.connection_kwargs
        rom.util.set_connection_settings(
            kwargs["host"], kwargs["port"], kwargs["db"], kwargs.get("password")
        )
        try:
            pool = rom.util.CONNECTION.connection_pool.connection_kwargs
            assert (pool["host"], pool["port"], pool["db"]) == (
                kwargs["host"],
                kwargs["port"],
                kwargs["db"],
            )
        finally:
            rom.util.CONNECTION.close()

    def test_replaced_get_connection_is_honoured(
        self,
        rom_redis: redis.Redis,
        roundtrips: CallCounter,
        other_client: redis.Redis,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Replacing rom.util.get_connection changes the connection models use."""
        monkeypatch.setattr(rom.util, "get_connection", lambda: other_client)
        assert ConnItem._connection is other_client
        with roundtrips.count() as calls:
            ConnItem(num=3, code="c").save()
            rom.session.rollback()
            assert ConnItem.get_by(code="c").num == 3
        assert calls.roundtrips == 0
        monkeypatch.undo()
        assert rom.util.get_connection() is rom_redis

    def test_redis_uri_is_exposed(self) -> None:
        """rom.util.REDIS_URI is the URL the default connection was built from."""
        assert isinstance(rom.util.REDIS_URI, str)
        assert rom.util.REDIS_URI.startswith(("redis://", "rediss://", "unix://"))


class TestModelConnection:
    def test_conn_attribute_wins(
        self,
        rom_redis: redis.Redis,
        roundtrips: CallCounter,
        other_client: redis.Redis,
        fresh_models: None,
    ) -> None:
        """A model's _conn is used instead of the global connection."""
        model = model_with("ConnOwn", _conn=other_client)
        assert model._connection is other_client
        with roundtrips.count() as calls:
            entity = model(num=1)
            entity.save()
            assert entity._connection is other_client
            rom.session.rollback()
            assert model.get(entity.id).num == 1
            model.get(entity.id).delete()
        assert calls.roundtrips == 0
        assert rom_redis.get("ConnOwn:id:") == b"1"

    def test_capital_conn_attribute(
        self,
        rom_redis: redis.Redis,
        other_client: redis.Redis,
        fresh_models: None,
    ) -> None:
        """CONN is honoured when _conn is not set."""
        model = model_with("ConnCapital", CONN=other_client)
        assert model._connection is other_client

    def test_conn_beats_capital_conn(
        self,
        rom_redis: redis.Redis,
        other_client: redis.Redis,
        decoding_client: redis.Redis,
        fresh_models: None,
    ) -> None:
        """With both set, _conn is used."""
        model = model_with("ConnBoth", _conn=other_client, CONN=decoding_client)
        assert model._connection is other_client

    def test_models_without_conn_use_global(
        self, rom_redis: redis.Redis, other_client: redis.Redis, fresh_models: None
    ) -> None:
        """A model without its own connection follows rom.util.CONNECTION."""
        model = model_with("ConnPlain")
        assert model._connection is rom_redis
        rom.util.CONNECTION = other_client
        assert model._connection is other_client

    def test_session_commit_uses_each_models_connection(
        self,
        rom_redis: redis.Redis,
        roundtrips: CallCounter,
        other_client: redis.Redis,
        fresh_models: None,
    ) -> None:
        """commit() writes each entity through its own model's connection."""
        model = model_with("ConnMixed", _conn=other_client)
        ConnItem(num=1)
        model(num=2)
        with roundtrips.count() as calls:
            rom.session.commit()
        assert calls.roundtrips == 1
        assert rom_redis.hget("ConnItem:1", "num") == b"1"
        assert rom_redis.hget("ConnMixed:1", "num") == b"2"


class TestDecodedResponses:
    def test_main_paths_work_with_decode_responses(
        self, rom_redis: redis.Redis, decoding_client: redis.Redis
    ) -> None:
        """save, get, get_by, refresh and delete work on a decoding client."""
        rom.util.CONNECTION = decoding_client
        entity = ConnItem(num=5, code="\u20ac")
        entity.save()
        rom.session.rollback()
        loaded = ConnItem.get(entity.id)
        assert (loaded.num, loaded.code) == (5, "\u20ac")
        assert ConnItem.get_by(code="\u20ac") is loaded
        assert ConnItem.get_by(num=(5, 5)) == [loaded]
        decoding_client.hset(loaded._pk, "num", "6")
        loaded.refresh()
        assert loaded.num == 6
        loaded.num = 7
        loaded.save()
        loaded.delete()
        assert data_keys(rom_redis, "ConnItem:[0-9]*") == []


class TestEnvironment:
    def run_python(self, code: str, env: dict[str, str]) -> str:
        """Run ``code`` in a fresh interpreter and return its stdout."""
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def test_rom_redis_uri_is_read_at_import(
        self, rom_redis: redis.Redis, rom_redis_url: str
    ) -> None:
        """ROM_REDIS_URI set before import becomes rom's connection."""
        env = {**os.environ, "ROM_REDIS_URI": rom_redis_url}
        output = self.run_python(
            """
            import rom, rom.util

            class ConnFromEnv(rom.Model):
                num = rom.Integer()

            ConnFromEnv(num=11).save()
            print(rom.util.REDIS_URI)
            """,
            env,
        )
        assert output == rom_redis_url
        assert rom_redis.hget("ConnFromEnv:1", "num") == b"11"

    def test_default_uri_without_environment(self) -> None:
        """Without ROM_REDIS_URI the default is redis://localhost:6379/0."""
        env = {k: v for k, v in os.environ.items() if k != "ROM_REDIS_URI"}
        output = self.run_python(
            """
            import rom.util

            kwargs = rom.util.CONNECTION.connection_pool.connection_kwargs
            print(rom.util.REDIS_URI, kwargs["host"], kwargs["port"], kwargs["db"])
            """,
            env,
        )
        assert output == "redis://localhost:6379/0 localhost 6379 0"
