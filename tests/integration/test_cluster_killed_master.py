"""rom writing while its model's master is dead and its replica not yet
elected: writes fail or end unknown, and saving again settles them with
nothing lost or doubled (the scenario of benchmarks/cluster_faults.py,
without its timing).

Its own cluster: the test kills one of its nodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import rom
from rom import Model
from rom import columns
from rom.consistency import check
from rom.testing import RedisCluster
from rom.testing import use_connection

pytestmark = pytest.mark.cluster


class ClKilled(Model):
    email = columns.Text(unique=True)
    score = columns.Integer(index=True)
    words = columns.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)


@pytest.fixture
def cluster() -> Iterator[RedisCluster]:
    # Three masters: a killed one is voted failed by a majority of the others.
    with RedisCluster(masters=3, replicas_per_master=1) as started:
        yield started


def _until_done(write: Callable[[], object], outcomes: list[str]) -> None:
    """Run ``write`` until it is acknowledged, noting how each try ended."""
    for _ in range(600):
        try:
            write()
        except rom.WriteOutcomeUnknown:
            outcomes.append("unknown")
        except redis.RedisError as exc:  # refused or unreachable: not sent
            outcomes.append(type(exc).__name__)
        else:
            outcomes.append("ok")
            return
        time.sleep(0.05)
    raise AssertionError(f"no write got through: {outcomes[-5:]}")


def test_writes_across_a_killed_master(cluster: RedisCluster) -> None:
    # Few retries, no backoff: the client gives up while the slot has no
    # master, so rom sees the failures (redis-py 8.2's default retries of a
    # cluster client would outlast the election).
    client = cluster.client(retry=Retry(NoBackoff(), 1))
    with use_connection(client):  # type: ignore[arg-type]
        kept = [ClKilled(email=f"k{i}@x", score=i, words=f"kept {i}") for i in range(5)]
        rom.session.commit()
        cluster.wait_replicated()
        master = cluster.node_for_key("{ClKilled}")
        master.server.stop()  # no election yet: the slot has no master

        outcomes: list[str] = []
        new = ClKilled(email="new@x", score=50, words="new one")
        _until_done(new.save, outcomes)
        kept[0].score = 60
        kept[0].words = "changed words"
        _until_done(kept[0].save, outcomes)
        _until_done(kept[1].delete, outcomes)
        assert outcomes[-1] == "ok" and len(outcomes) > 3  # some tries failed

        cluster.wait_stable()
        assert cluster.node_for_key("{ClKilled}").id != master.id
        rom.session.rollback()
        assert ClKilled.query.filter(score=(0, 100)).count() == 5
        assert ClKilled.get_by(email="new@x").id == new.id
        assert ClKilled.get(kept[0].id).words == "changed words"
        assert ClKilled.query.filter(words="changed").count() == 1
        assert ClKilled.get(kept[1].id) is None
        assert ClKilled.query.startswith(words="ne").count() == 1
        assert check(ClKilled) == []
    client.close()
