"""What one measured phase cost: wall time, client CPU, server CPU, trips, commands.

Round trips and client-sent commands are counted by a thin
``redis.connection.Connection`` subclass (two integer increments per call,
cheap enough to leave on while timing; ``rom.testing``'s counting
connection records command names and takes a lock, which would tax a
100-entity raw pipeline by several percent). Server CPU and executed
commands come from ``INFO cpu`` and ``INFO commandstats`` deltas, so
commands run inside a Lua script are counted there too.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

import redis
from redis.connection import Connection


class _Counts:
    roundtrips = 0
    commands = 0


COUNTS = _Counts()


class MeteredConnection(Connection):
    """A TCP connection counting round trips and the commands it sends."""

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        COUNTS.roundtrips += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        COUNTS.commands += 1
        super().send_command(*args, **kwargs)  # type: ignore[no-untyped-call]

    def pack_command(self, *args: Any) -> Any:
        # Used by the floor (benchmarks.bench.Floor); send_command and
        # pack_commands pack without it, so nothing is counted twice.
        COUNTS.commands += 1
        return super().pack_command(*args)  # type: ignore[no-untyped-call]

    def pack_commands(self, commands: Any) -> Any:
        commands = list(commands)
        COUNTS.commands += len(commands)
        return super().pack_commands(commands)  # type: ignore[no-untyped-call]


def metered_client(host: str, port: int) -> redis.Redis:
    """A client whose traffic is counted in ``COUNTS``."""
    pool = redis.ConnectionPool(
        host=host, port=port, connection_class=MeteredConnection
    )
    client = redis.Redis(connection_pool=pool)
    client.ping()  # connect (and its handshake) before anything is counted
    return client


_IGNORED = frozenset({"info"})


def _server(admin: redis.Redis) -> tuple[float, int]:
    cpu = admin.info("cpu")
    stats = admin.info("commandstats")
    used = float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])
    calls = sum(
        int(v["calls"])
        for k, v in stats.items()
        if k.removeprefix("cmdstat_") not in _IGNORED
    )
    return used, calls


@dataclass(slots=True)
class Sample:
    """The cost of ``ops`` operations, totals and per op."""

    ops: int
    seconds: float
    client_cpu: float
    server_cpu: float
    roundtrips: int
    commands: int
    server_commands: int

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def per_op(self, total: float) -> float:
        return total / self.ops if self.ops else 0.0

    def __add__(self, other: Sample) -> Sample:
        return Sample(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            ops_per_s=self.ops_per_s,
            client_cpu_us_per_op=self.per_op(self.client_cpu) * 1e6,
            server_cpu_us_per_op=self.per_op(self.server_cpu) * 1e6,
            roundtrips_per_op=self.per_op(self.roundtrips),
            commands_per_op=self.per_op(self.commands),
            server_commands_per_op=self.per_op(self.server_commands),
        )
        return data


def measure(admin: redis.Redis, ops: int, work: Callable[[], object]) -> Sample:
    """Run ``work`` (which performs ``ops`` operations) and measure it."""
    gc.collect()
    cpu0, calls0 = _server(admin)
    trips0, cmds0 = COUNTS.roundtrips, COUNTS.commands
    proc0 = time.process_time()
    wall0 = time.perf_counter()
    work()
    wall1 = time.perf_counter()
    proc1 = time.process_time()
    trips1, cmds1 = COUNTS.roundtrips, COUNTS.commands
    cpu1, calls1 = _server(admin)
    return Sample(
        ops=ops,
        seconds=wall1 - wall0,
        client_cpu=proc1 - proc0,
        server_cpu=cpu1 - cpu0,
        roundtrips=trips1 - trips0,
        commands=cmds1 - cmds0,
        server_commands=calls1 - calls0,
    )
