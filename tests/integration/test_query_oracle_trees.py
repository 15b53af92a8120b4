"""Random Q trees, lookups, exclude and multi-column orders against brute force.

Random entities (with missing values, then random updates and deletes) are
queried with random conditions: every lookup (exact, gt, gte, lt, lte,
range, in, isnull, startswith, endswith, like), Q trees of depth up to 3
built with ``&``, ``|`` and ``~``, ``exclude()``, orders of two or three
columns (ties broken by the next column, then by id as a number) and
slices. Every terminal operation must give exactly what a plain Python
evaluation gives. Two models are queried: one whose primary key has no
index (a negation reads ids 1..counter) and one with ``PrimaryKey(index=True)``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import redis
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import rom
from rom import Q
from rom.testing import is_write_record


class OtItem(rom.Model):
    i = rom.Integer(index=True)
    x = rom.Float(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    flag = rom.Boolean(index=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE)


class OtKeyed(rom.Model):
    id = rom.PrimaryKey(index=True)
    i = rom.Integer(index=True)
    x = rom.Float(index=True)
    tag = rom.Text(index=True, keygen=rom.IDENTITY)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    flag = rom.Boolean(index=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE)


MODELS: dict[bool, Any] = {False: OtItem, True: OtKeyed}
VOCABULARY = ["ab", "abc", "Ab", "b", "ba", "café", "ÜBER", "x.y", "50%", "zz"]
TAGS = ["red", "Red", "blue", "vert"]
NAMES = ["a", "ab", "B", "abcdefgh", "abcdefgi", "é", "Zed"]
FLOATS = [-1.5, 0.0, 0.25, 2.0, 2.5, 100.0]
SETTINGS = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
    max_examples=300,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``values``, or None about one time in four."""
    return st.one_of(st.none(), values, values, values)


values_st = st.fixed_dictionaries(
    {
        "i": maybe(st.integers(-3, 3)),
        "x": maybe(st.sampled_from(FLOATS)),
        "tag": maybe(st.sampled_from(TAGS)),
        "words": maybe(
            st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=3).map(" ".join)
        ),
        "flag": maybe(st.booleans()),
        "name": maybe(st.sampled_from(NAMES)),
    }
)
changes_st = st.lists(
    st.tuples(st.sampled_from(["update", "delete"]), st.integers(0, 40), values_st),
    max_size=4,
)


@dataclass
class World:
    """The entities saved in Redis, as plain Python values by id."""

    model: Any
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)


def build(
    conn: redis.Redis, keyed: bool, created: list[dict[str, Any]], changes: Any
) -> World:
    """Save ``created``, apply ``changes`` (updates and deletes); mirror them."""
    conn.flushdb()
    rom.session.rollback()
    world = World(MODELS[keyed])
    entities = [world.model(**values) for values in created]
    rom.session.commit()
    for entity, values in zip(entities, created, strict=True):
        world.rows[entity.id] = dict(values)
    rom.session.rollback()
    for kind, pick, values in changes:
        if not world.rows:
            break
        id = sorted(world.rows)[pick % len(world.rows)]
        entity = world.model.get(id)
        if kind == "delete":
            entity.delete()
            del world.rows[id]
        else:
            entity.update(**values)
            entity.save()
            world.rows[id] = dict(values)
    rom.session.rollback()
    return world


# -- brute force -------------------------------------------------------------------


def tokens(text: str | None) -> set[str]:
    """FULL_TEXT words of ``text``: lowercased, punctuation stripped."""
    if not text:
        return set()
    return {w.lower().strip(string.punctuation) for w in text.split()} - {""}


def like_regex(pattern: str) -> re.Pattern[str]:
    """The Python meaning of a like() pattern, per character."""
    parts = {"?": ".?", "*": ".*?", "+": ".+", "!": "."}
    body = "".join(parts.get(ch) or re.escape(ch) for ch in pattern)
    return re.compile(body, re.DOTALL)


def leaf_ok(row: dict[str, Any], column: str, op: str, value: Any) -> bool:
    """Whether one entity satisfies one lookup."""
    own = row.get(column)
    if op == "isnull":
        return (own is None) is value
    if own is None:
        return False
    if column == "words":
        words = tokens(own)
        if op == "exact":
            return bool(tokens(value)) and tokens(value) <= words
        if op == "startswith":
            return any(w.startswith(value.lower()) for w in words)
        if op == "endswith":
            return any(w.endswith(value.lower()) for w in words)
        return any(like_regex(value.lower()).match(w) for w in words)
    if op == "exact":
        return own is value if column == "flag" else own == value
    if op == "in":
        return own in value
    if op == "range":
        return value[0] <= own <= value[1]
    return {
        "gt": own > value,
        "gte": own >= value,
        "lt": own < value,
        "lte": own <= value,
    }[op]


def tree_ok(row: dict[str, Any], tree: Any) -> bool:
    """Whether one entity satisfies a condition tree."""
    kind = tree[0]
    if kind == "leaf":
        return leaf_ok(row, *tree[1:])
    if kind == "not":
        return not tree_ok(row, tree[1])
    parts = [tree_ok(row, t) for t in tree[1]]
    return all(parts) if kind == "and" else any(parts)


def sort_key(column: str, value: Any) -> Any:
    """What an index orders by: numbers, or SIMPLE's first 7 UTF-8 bytes."""
    return value.encode("utf-8")[:7] if column == "name" else value


def expected_ids(world: World, query: dict[str, Any]) -> list[int]:
    """The ids a query must return, in order, by brute force."""
    rows = world.rows
    ids = sorted(
        i
        for i, row in rows.items()
        if all(tree_ok(row, t) for t in query["filters"])
        and not any(tree_ok(row, t) for t in query["excludes"])
    )
    order = query["order"]
    if len(order) == 1:
        ids.sort(reverse=order[0] == "-id")
    else:
        columns = [o.lstrip("-") for o in order]
        ids = [i for i in ids if all(rows[i][c] is not None for c in columns)]
        # Stable sorts from the last key to the first: ties keep id order.
        for name in reversed(order):
            column = name.lstrip("-")
            ids.sort(
                key=lambda i, c=column: sort_key(c, rows[i][c]),
                reverse=name.startswith("-"),
            )
    start, stop = query["slice"]
    return ids[start:stop]


# -- the queries ---------------------------------------------------------------------


def leaf_st() -> st.SearchStrategy[tuple[Any, ...]]:
    """One lookup: ("leaf", column, op, value)."""
    ints = st.integers(-4, 4)
    word_st = st.sampled_from(VOCABULARY)
    cut = st.tuples(word_st, st.integers(1, 4))
    like = st.tuples(word_st, st.integers(0, 3), st.sampled_from("?*+!")).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
    )
    return st.one_of(
        st.tuples(
            st.just("i"), st.sampled_from(["exact", "gt", "gte", "lt", "lte"]), ints
        ),
        st.tuples(
            st.just("x"),
            st.sampled_from(["gt", "gte", "lt", "lte"]),
            st.sampled_from(FLOATS),
        ),
        st.tuples(st.just("i"), st.just("in"), st.lists(ints, max_size=3)),
        st.tuples(st.just("i"), st.just("range"), st.tuples(ints, ints)),
        st.tuples(
            st.sampled_from(["i", "x", "flag", "name"]),
            st.just("isnull"),
            st.booleans(),
        ),
        st.tuples(st.just("tag"), st.just("exact"), st.sampled_from(TAGS)),
        st.tuples(
            st.just("tag"), st.just("in"), st.lists(st.sampled_from(TAGS), max_size=2)
        ),
        st.tuples(st.just("flag"), st.just("exact"), st.booleans()),
        st.tuples(st.just("words"), st.just("exact"), word_st),
        st.tuples(
            st.just("words"),
            st.just("startswith"),
            cut.map(lambda c: c[0][: c[1]]),
        ),
        st.tuples(
            st.just("words"),
            st.just("endswith"),
            cut.map(lambda c: c[0][-c[1] :]),
        ),
        st.tuples(st.just("words"), st.just("like"), like),
    ).map(lambda t: ("leaf", *t))


def tree_st(depth: int) -> st.SearchStrategy[Any]:
    """A condition tree of at most ``depth`` levels of AND/OR/NOT."""
    if depth == 0:
        return leaf_st()
    sub = tree_st(depth - 1)
    return st.one_of(
        leaf_st(),
        st.tuples(
            st.sampled_from(["and", "or"]), st.lists(sub, min_size=2, max_size=3)
        ),
        st.tuples(st.just("not"), sub),
    )


ORDER_COLUMNS = ["i", "-i", "x", "-x", "name", "-name"]
query_st = st.fixed_dictionaries(
    {
        "filters": st.lists(tree_st(3), max_size=2),
        "excludes": st.lists(tree_st(1), max_size=1),
        "order": st.one_of(
            st.sampled_from([["id"], ["-id"]]),
            st.lists(
                st.sampled_from(ORDER_COLUMNS), min_size=2, max_size=3, unique=True
            ),
        ),
        "slice": st.one_of(
            st.just((0, None)),
            st.tuples(st.integers(0, 3), st.none() | st.integers(0, 8)),
        ),
    }
)


def to_q(tree: Any) -> Q:
    """The rom Q of a condition tree."""
    kind = tree[0]
    if kind == "leaf":
        _, column, op, value = tree
        return Q(**{f"{column}__{op}": value})
    if kind == "not":
        return ~to_q(tree[1])
    parts = [to_q(t) for t in tree[1]]
    found = parts[0]
    for part in parts[1:]:
        found = found & part if kind == "and" else found | part
    return found


def to_query(world: World, query: dict[str, Any]) -> Any:
    """The rom Query of a generated query description."""
    built = world.model.query
    for tree in query["filters"]:
        if tree[0] == "leaf":  # a keyword lookup, not wrapped in Q
            _, column, op, value = tree
            built = built.filter(**{f"{column}__{op}": value})
        else:
            built = built.filter(to_q(tree))
    for tree in query["excludes"]:
        built = built.exclude(to_q(tree))
    built = built.order_by(*query["order"])
    start, stop = query["slice"]
    if (start, stop) != (0, None):
        built = built[start:stop]
    return built


def check(world: World, query: dict[str, Any], pagesize: int) -> None:
    """Every terminal operation of ``query`` agrees with brute force."""
    built = to_query(world, query)
    expected = expected_ids(world, query)
    assert [e.id for e in built.all()] == expected, query
    assert built.count() == len(expected), query
    assert [e.id for e in built.iter_result(pagesize=pagesize)] == expected, query
    first = built.first()
    assert (first.id if first else None) == (expected[0] if expected else None)
    assert built.exists() is bool(expected), query
    if query["slice"] == (0, None):
        last = built.last()
        assert (last.id if last else None) == (expected[-1] if expected else None)


@SETTINGS
@given(
    keyed=st.booleans(),
    created=st.lists(values_st, min_size=3, max_size=12),
    changes=changes_st,
    pagesize=st.integers(1, 4),
    queries=st.lists(query_st, min_size=2, max_size=4),
)
def test_trees_match_brute_force(
    rom_redis: redis.Redis,
    keyed: bool,
    created: list[dict[str, Any]],
    changes: Any,
    pagesize: int,
    queries: list[dict[str, Any]],
) -> None:
    """Random Q trees, lookups, excludes, orders and slices match Python."""
    world = build(rom_redis, keyed, created, changes)
    for query in queries:
        check(world, query, pagesize)
    # No query leaves a key that is not a row, counter or index behind.
    prefix = world.model.__name__.encode()
    known = re.compile(rb"^" + prefix + rb":(\d+|id:|.+:(idx|pre|suf))$")
    keys = rom_redis.scan_iter(count=1000)
    assert [k for k in keys if not (known.match(k) or is_write_record(k))] == []
