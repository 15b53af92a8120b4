"""The commands a private test server ran, from INFO commandstats (the
commands a script runs included), for tests that pin a write's cost."""

from __future__ import annotations

from collections.abc import Callable

import redis

# Runs an action; returns the commands the server ran meanwhile, by name.
Ran = Callable[[Callable[[], object]], dict[str, int]]


def command_calls(conn: redis.Redis) -> dict[str, int]:
    """Calls per command name on the server so far (INFO commandstats)."""
    stats = conn.info("commandstats")
    return {name[len("cmdstat_") :]: value["calls"] for name, value in stats.items()}


def commands_ran(conn: redis.Redis) -> Ran:
    """A ``Ran`` on ``conn``'s server (the INFO calls themselves left out)."""

    def run(action: Callable[[], object]) -> dict[str, int]:
        before = command_calls(conn)
        action()
        after = command_calls(conn)
        return {
            name: after[name] - before.get(name, 0)
            for name in after
            if after[name] != before.get(name, 0) and name != "info"
        }

    return run
