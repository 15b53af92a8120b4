"""Split writes into script calls by slot group, in an order that is safe.

Pure planning. One script call is atomic only over the keys of one Redis
Cluster hash slot (``rom._keys.slot_group``), and only on one connection.
A write touching several groups becomes one call per group, run in turn;
a failure (or a crash) between two calls leaves the earlier ones applied.
The order is chosen so that such a stop leaves no reference to a missing
entity that an on_delete policy promised away: an item runs after every
item it depends on (a referrer after the new entity it references; a
deleted entity after its referrers are detached or deleted).

On a standalone server every model is in one group: one call per
connection, in the order given, as before groups existed.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from collections.abc import Hashable
from collections.abc import Sequence

__all__ = ["dependency_order", "script_groups"]


def dependency_order(deps: Sequence[Collection[int]]) -> list[int]:
    """Indices ``0..n-1`` ordered so each comes after its ``deps[i]``.

    Among the items free to go, the lowest index goes first, so items
    without dependencies keep their order. A cycle (two entities that
    each reference the other, both new) cannot be ordered: its lowest
    index goes first, and the rest follow as they become free.
    """
    n = len(deps)
    waiting = [0] * n
    unblocks: list[list[int]] = [[] for _ in range(n)]
    for i, before in enumerate(deps):
        for d in set(before):
            if d != i and 0 <= d < n:
                waiting[i] += 1
                unblocks[d].append(i)
    ready = [i for i in range(n) if waiting[i] == 0]
    heapq.heapify(ready)
    placed = [False] * n
    order: list[int] = []
    while len(order) < n:
        if not ready:  # a cycle: break it at its lowest index
            heapq.heappush(ready, next(i for i in range(n) if not placed[i]))
        i = heapq.heappop(ready)
        if placed[i]:
            continue
        placed[i] = True
        order.append(i)
        for j in unblocks[i]:
            waiting[j] -= 1
            if waiting[j] == 0 and not placed[j]:
                heapq.heappush(ready, j)
    return order


def script_groups(
    keys: Sequence[Hashable], deps: Sequence[Collection[int]]
) -> list[list[int]]:
    """Group items into script calls, listed in the order they run.

    ``keys[i]`` says which call item ``i`` may share (its connection and
    slot group); ``deps[i]`` the items that must be applied before it. An
    item joins the first call of its key that runs no earlier than its
    dependencies allow (the same call as a dependency of its key, whose
    plans apply in order, or a later one), else opens a new call at the
    end. Items keep their order within a call.

    With a single key this is one call holding every item in the given
    order (dependencies are then met by the call's atomicity).
    """
    n = len(keys)
    if n == 0:
        return []
    if len(set(keys)) == 1:
        return [list(range(n))]
    group_of: dict[int, int] = {}
    groups: list[tuple[Hashable, list[int]]] = []
    for i in dependency_order(deps):
        lowest = 0
        for d in deps[i]:
            g = group_of.get(d)
            if g is None or d == i:
                continue  # not placed yet: a broken cycle
            lowest = max(lowest, g if groups[g][0] == keys[i] else g + 1)
        chosen = next(
            (g for g in range(lowest, len(groups)) if groups[g][0] == keys[i]),
            None,
        )
        if chosen is None:
            groups.append((keys[i], []))
            chosen = len(groups) - 1
        groups[chosen][1].append(i)
        group_of[i] = chosen
    return [items for _, items in groups]
