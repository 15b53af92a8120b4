"""A throwaway local Redis Cluster for tests (re-exported by ``rom.testing``).

Plain Python and redis-py: no ``redis-cli`` needed. Each node is a
:class:`~rom.testing.RedisServer` started with ``--cluster-enabled yes``;
slots are assigned with CLUSTER ADDSLOTS (Redis 6.2 and 7), the nodes are
joined with CLUSTER MEET and replicas attached with CLUSTER REPLICATE.
Helpers for fault tests reshard a slot live and fail a master over.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import redis
import redis.cluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS
from redis.crc import key_slot

from .testing import RedisServer
from .testing import find_redis_server

__all__ = ["ClusterNode", "RedisCluster", "slot_of"]

SLOTS = REDIS_CLUSTER_HASH_SLOTS


def slot_of(key: str | bytes) -> int:
    """The hash slot of ``key`` (hash tags honoured)."""
    return int(key_slot(key.encode("utf-8") if isinstance(key, str) else key))


# A cluster node also listens on its port + 10000 (the cluster bus).
BUS_OFFSET = 10000
MAX_PORT = 65535 - BUS_OFFSET


def _free_pair(host: str) -> int:
    """A port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, MAX_PORT)
        try:
            for candidate in (port, port + BUS_OFFSET):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind((host, candidate))
        except OSError:
            continue
        return port
    raise RuntimeError(f"found no free port pair (p, p + {BUS_OFFSET}) on {host}")


class _NodeServer(RedisServer):
    """A RedisServer on a port whose cluster bus port is free as well."""

    def _pick_port(self) -> int:
        return _free_pair(self.host)


@dataclass
class ClusterNode:
    """One node of a :class:`RedisCluster`: its server and cluster node id."""

    server: RedisServer
    id: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def running(self) -> bool:
        return self.server.running

    def client(self, **kwargs: Any) -> redis.Redis:
        """A plain ``redis.Redis`` on this node alone (no redirections)."""
        kwargs.setdefault("decode_responses", True)
        return self.server.client(**kwargs)

    def command(self, *args: Any) -> Any:
        """Send one command to this node and return the (decoded) reply."""
        with self.client(socket_timeout=10) as client:
            return client.execute_command(*args)

    def __repr__(self) -> str:
        return f"<ClusterNode {self.id[:8]} {self.host}:{self.server._port}>"


class RedisCluster:
    """A private Redis Cluster on 127.0.0.1: ``masters`` masters, each with
    ``replicas_per_master`` replicas, every node in its own temp dir on a
    free port. Use it as a context manager, or call :meth:`start` and
    :meth:`stop`::

        with RedisCluster(masters=3, replicas_per_master=1) as cluster:
            client = cluster.client()   # a redis.cluster.RedisCluster

    ``node_timeout`` (milliseconds) is the cluster-node-timeout: how long a
    master must be unreachable before its replica takes over.
    """

    def __init__(
        self,
        masters: int = 3,
        replicas_per_master: int = 0,
        *,
        binary: str | None = None,
        node_timeout: int = 1000,
        startup_timeout: float = 30.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        if masters < 1 or replicas_per_master < 0:
            raise ValueError(
                f"a cluster needs at least 1 master and 0 or more replicas per "
                f"master, got masters={masters}, "
                f"replicas_per_master={replicas_per_master}"
            )
        self.masters_wanted = masters
        self.replicas_per_master = replicas_per_master
        self.binary = binary
        self.node_timeout = node_timeout
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self.nodes: list[ClusterNode] = []

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> RedisCluster:
        """Start every node, form the cluster, wait until it is ok; return self."""
        if self.nodes:
            raise RuntimeError("this RedisCluster is already started")
        binary = self.binary or find_redis_server()
        args = (
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(self.node_timeout),
            *self.extra_args,
        )
        count = self.masters_wanted * (1 + self.replicas_per_master)
        try:
            for _ in range(count):
                server = _NodeServer(binary, extra_args=args).start()
                node = ClusterNode(server, "")
                self.nodes.append(node)
                node.id = str(node.command("CLUSTER", "MYID"))
            self._form()
        except BaseException:
            self.stop()
            raise
        return self

    def _form(self) -> None:
        masters = self.nodes[: self.masters_wanted]
        per = SLOTS // len(masters)
        for i, node in enumerate(masters):
            last = SLOTS if i == len(masters) - 1 else (i + 1) * per
            node.command("CLUSTER", "ADDSLOTS", *range(i * per, last))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            first.command("CLUSTER", "MEET", node.host, node.port)
        self._wait(
            lambda: all(self._known(n) == len(self.nodes) for n in self.nodes),
            "every node to know every other",
        )
        replicas = self.nodes[self.masters_wanted :]
        for i, node in enumerate(replicas):
            node.command("CLUSTER", "REPLICATE", masters[i % len(masters)].id)
        self.wait_stable()

    def _known(self, node: ClusterNode) -> int:
        lines = str(node.command("CLUSTER", "NODES")).strip().splitlines()
        return sum(1 for line in lines if "handshake" not in line.split()[2])

    def stop(self) -> None:
        """Stop every node's process (by pid) and remove their temp dirs."""
        nodes, self.nodes = self.nodes, []
        for node in nodes:
            node.server.stop()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- waiting ---------------------------------------------------------------

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                if done():
                    return
            except (redis.RedisError, OSError) as exc:
                last = exc
            time.sleep(0.05)
        raise RuntimeError(
            f"the Redis Cluster did not get {what} within "
            f"{self.startup_timeout}s (last error: {last!r}); nodes: {self.nodes}"
        )

    def wait_stable(self) -> None:
        """Wait until every live node says ``cluster_state:ok`` and all agree
        on who serves each slot and on every node's role."""
        self._wait(self._stable, "to cluster_state:ok with every node agreeing")

    def _stable(self) -> bool:
        live = self.live_nodes()
        views = set()
        for node in live:
            info = str(node.command("CLUSTER", "INFO"))
            if "cluster_state:ok" not in info:
                return False
            views.add(self._view(node))
        return len(views) == 1

    def _view(self, node: ClusterNode) -> tuple[Any, ...]:
        """(slot owner ranges, node roles) as ``node`` sees them."""
        view = []
        for line in str(node.command("CLUSTER", "NODES")).strip().splitlines():
            parts = line.split()
            flags = set(parts[2].split(","))
            if "fail" in flags or "handshake" in flags:
                continue
            if "fail?" in flags or "noaddr" in flags:
                return ("unsettled", line)
            role = "master" if "master" in flags else f"replica-of-{parts[3]}"
            # Only committed slot ownership ([slot->-id] marks a migration).
            slots = tuple(p for p in parts[8:] if not p.startswith("["))
            view.append((parts[0], role, slots))
        return tuple(sorted(view))

    # -- what a running cluster exposes --------------------------------------

    def live_nodes(self) -> list[ClusterNode]:
        """The nodes whose process is running."""
        return [n for n in self.nodes if n.running]

    def _by_id(self, node_id: str) -> ClusterNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(f"no node {node_id!r} in this cluster")

    def _roles(self) -> dict[str, str]:
        """node id -> 'master' or the id of its master, as a live node sees it."""
        roles: dict[str, str] = {}
        node = self.live_nodes()[0]
        for line in str(node.command("CLUSTER", "NODES")).strip().splitlines():
            parts = line.split()
            if "fail" in parts[2].split(","):
                continue
            roles[parts[0]] = "master" if "master" in parts[2] else parts[3]
        return roles

    def masters(self) -> list[ClusterNode]:
        """The live masters that serve at least one slot, in start order."""
        owners = {self._owner_id(slot) for slot in self._slot_starts()}
        return [n for n in self.live_nodes() if n.id in owners]

    def replicas_of(self, master: ClusterNode) -> list[ClusterNode]:
        """The live replicas of ``master``."""
        roles = self._roles()
        return [n for n in self.live_nodes() if roles.get(n.id) == master.id]

    def _slot_starts(self) -> list[int]:
        node = self.live_nodes()[0]
        return [int(r[0]) for r in node.command("CLUSTER", "SLOTS")]

    def _owner_id(self, slot: int) -> str:
        node = self.live_nodes()[0]
        for start, end, primary, *_ in node.command("CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return str(primary[2])
        raise KeyError(f"slot {slot} is served by no node")

    def node_for_slot(self, slot: int) -> ClusterNode:
        """The master serving ``slot``."""
        return self._by_id(self._owner_id(slot))

    def node_for_key(self, key: str | bytes) -> ClusterNode:
        """The master serving the slot of ``key``."""
        return self.node_for_slot(slot_of(key))

    @property
    def url(self) -> str:
        """``redis://host:port/0`` of a live master (any node will do)."""
        node = self.masters()[0]
        return f"redis://{node.host}:{node.port}/0"

    @property
    def startup_nodes(self) -> list[redis.cluster.ClusterNode]:
        """redis-py ``ClusterNode``\\ s of every live node."""
        make = redis.cluster.ClusterNode
        return [make(n.host, n.port) for n in self.live_nodes()]  # type: ignore[no-untyped-call]

    def client(self, **kwargs: Any) -> redis.cluster.RedisCluster:
        """A new ``redis.cluster.RedisCluster`` for this cluster."""
        return redis.cluster.RedisCluster(startup_nodes=self.startup_nodes, **kwargs)

    def flush(self) -> None:
        """Empty every live master this harness started (replicas follow).

        Only nodes whose redis-server process this object started (and
        still owns) are flushed: never a server it did not start.
        """
        for node in self.masters():
            if node not in self.nodes:
                raise RuntimeError(f"{node!r} was not started by this cluster")
            node.server.empty()

    def wait_replicated(self) -> None:
        """WAIT until every master's replicas acknowledged its writes."""
        for node in self.masters():
            want = len(self.replicas_of(node))
            if want:
                node.command("WAIT", want, int(self.startup_timeout * 1000))

    # -- faults ----------------------------------------------------------------

    def migrate_slot(
        self,
        slot: int,
        target: ClusterNode,
        *,
        batch: int = 100,
        between_batches: Callable[[], object] | None = None,
    ) -> int:
        """Move ``slot`` to ``target`` live, as ``redis-cli --cluster reshard``
        does: SETSLOT IMPORTING/MIGRATING, MIGRATE the keys ``batch`` at a
        time (calling ``between_batches`` after each, while clients see
        ASK redirections), then SETSLOT NODE on every master. Returns the
        number of keys moved.
        """
        source = self.node_for_slot(slot)
        if source.id == target.id:
            return 0
        target.command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.id)
        source.command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.id)
        moved = 0
        while True:
            keys = source.command("CLUSTER", "GETKEYSINSLOT", slot, batch)
            if not keys:
                break
            source.command(
                "MIGRATE", target.host, target.port, "", 0, 10000, "KEYS", *keys
            )
            moved += len(keys)
            if between_batches is not None:
                between_batches()
        # The target first: from then on it owns the slot, whoever asks.
        for node in [target, source, *self.masters()]:
            node.command("CLUSTER", "SETSLOT", slot, "NODE", target.id)
        self.wait_stable()
        return moved

    def failover(self, master: ClusterNode, *, kill: bool = False) -> ClusterNode:
        """Make a replica of ``master`` take over; return the new master.

        By default a coordinated CLUSTER FAILOVER on the replica (no write
        is lost). With ``kill=True`` the master's process is killed and
        the replica is elected once the cluster sees the master fail
        (after ``node_timeout``); the killed node stays down.
        """
        replicas = self.replicas_of(master)
        if not replicas:
            raise RuntimeError(f"{master!r} has no replica to fail over to")
        replica = replicas[0]
        if kill:
            master.server.stop()
        else:
            replica.command("CLUSTER", "FAILOVER")
        self._wait(
            lambda: (
                self._roles().get(replica.id) == "master"
                and "cluster_state:ok" in str(replica.command("CLUSTER", "INFO"))
            ),
            f"{replica!r} promoted",
        )
        self.wait_stable()
        return replica

    def __repr__(self) -> str:
        state = f"{len(self.live_nodes())} nodes" if self.nodes else "stopped"
        return f"<RedisCluster {state}>"
