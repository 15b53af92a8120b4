"""Run one test body against the sync API and the async API.

A body is an ``async def body(api)``; ``api.call(obj, "save", ...)`` is
``obj.save(...)`` for the sync runner and ``await obj.asave(...)`` for the
async one, so the same assertions check both. Bodies run inside
``asyncio.run`` in both modes (the sync API just blocks the loop), so the
session of both is the one of the running task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import rom.connection

Body = Callable[["Api"], Awaitable[None]]


class Api:
    """The sync or the async face of rom, behind one awaitable interface."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    async def call(self, obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        """``obj.<name>(...)`` or ``await obj.a<name>(...)``."""
        if self.is_async:
            return await getattr(obj, "a" + name)(*args, **kwargs)
        return getattr(obj, name)(*args, **kwargs)

    async def iterate(self, query: Any) -> list[Any]:
        """``list(query)`` or ``[e async for e in query]``."""
        if self.is_async:
            return [entity async for entity in query]
        return list(query)

    def run(self, body: Body) -> None:
        """Run ``body(self)`` on a fresh event loop, closing rom's clients after."""

        async def main() -> None:
            try:
                await body(self)
            finally:
                await rom.connection.close_async_connections()

        asyncio.run(main())
