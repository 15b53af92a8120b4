"""One session per request with rom.session_scope(), for WSGI and ASGI apps.

Run it with ``python examples/request_scope.py``. It needs no web
framework: it defines a plain WSGI app and a plain ASGI app, wraps each in
a ten-line middleware that opens ``rom.session_scope()`` around the
request, and calls them directly as a server would. It talks to the Redis
server named by ``REDIS_URL`` or ``ROM_REDIS_URI`` when one is set
(touching only keys under ``request_scope:``), else to a throwaway
``redis-server`` it starts.

Each request that fails before its commit leaves an unsaved entity
behind; without the scope, the next request's commit in the same worker
would write it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import redis

import rom
import rom.util
from rom.testing import RedisServer

PREFIX = "request_scope:"


class Order(rom.Model):
    _namespace = PREFIX + "order"

    item = rom.Text(required=True, index=True, keygen=rom.IDENTITY)


# -- WSGI ---------------------------------------------------------------------

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_app(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    Order(item=environ["PATH_INFO"].strip("/"))
    if environ.get("QUERY_STRING") == "fail":
        raise RuntimeError("the request failed before its commit")
    rom.session.commit()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ordered\n"]


def wsgi_scoped(app: WsgiApp) -> WsgiApp:
    """WSGI middleware: every request runs in its own rom session."""

    def middleware(
        environ: dict[str, Any], start: Callable[..., Any]
    ) -> Iterable[bytes]:
        with rom.session_scope():
            return list(app(environ, start))

    return middleware


# -- ASGI ---------------------------------------------------------------------

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
AsgiApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


async def asgi_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    Order(item=scope["path"].strip("/"))
    if scope.get("query_string") == b"fail":
        raise RuntimeError("the request failed before its commit")
    await rom.session.acommit()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ordered\n"})


def asgi_scoped(app: AsgiApp) -> AsgiApp:
    """ASGI middleware: every request runs in its own rom session."""

    async def middleware(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        async with rom.session_scope():
            await app(scope, receive, send)

    return middleware


# -- a pretend server ------------------------------------------------------------


def serve_wsgi(app: WsgiApp, path: str, query: str = "") -> None:
    try:
        app({"PATH_INFO": path, "QUERY_STRING": query}, lambda *a: None)
    except RuntimeError as exc:
        print(f"   WSGI {path}?{query}: 500 ({exc})")
    else:
        print(f"   WSGI {path}?{query}: 200")


async def serve_asgi(app: AsgiApp, path: str, query: bytes = b"") -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        pass

    try:
        await app({"type": "http", "path": path, "query_string": query}, receive, send)
    except RuntimeError as exc:
        print(f"   ASGI {path}?{query.decode()}: 500 ({exc})")
    else:
        print(f"   ASGI {path}?{query.decode()}: 200")


def ordered() -> list[str]:
    return sorted(o.item for o in Order.query.all())


async def asgi_tour() -> None:
    app = asgi_scoped(asgi_app)
    await serve_asgi(app, "/pear", b"fail")
    await serve_asgi(app, "/plum")
    await rom.util.close_async_connections()


def tour() -> None:
    print("1. WSGI: a failed request, then a good one, in one worker thread.")
    app = wsgi_scoped(wsgi_app)
    serve_wsgi(app, "/apple", "fail")
    serve_wsgi(app, "/banana")
    print(f"   orders in Redis: {ordered()}")
    print("2. ASGI: the same on an event loop.")
    asyncio.run(asgi_tour())
    print(f"   orders in Redis: {ordered()}")
    assert ordered() == ["banana", "plum"], ordered()


def clean(conn: redis.Redis) -> None:
    keys = list(conn.scan_iter(match=PREFIX + "*", count=500))
    if keys:
        conn.delete(*keys)


def run(url: str) -> None:
    conn = redis.Redis.from_url(url)
    rom.util.CONNECTION = conn
    clean(conn)
    try:
        tour()
    finally:
        clean(conn)
        conn.close()


def main() -> None:
    url = os.environ.get("REDIS_URL") or os.environ.get("ROM_REDIS_URI")
    if url:
        run(url)
        return
    with RedisServer() as server:
        run(server.url)


if __name__ == "__main__":
    main()
