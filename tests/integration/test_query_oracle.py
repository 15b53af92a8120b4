"""Random queries against random data, checked by brute force in Python.

Entities of QoItem get random values (with ties, gaps and non-ASCII words),
then random updates and deletes; random queries (ranges, equality, words,
OR-lists, startswith, endswith, like, booleans, order_by, limit) must return
exactly the ids a plain Python evaluation of the documented query rules gives,
in the same order wherever an order is defined (which, with ties broken by id
as text, is always), from all(), count(), iteration, iter_result() and first().
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


class QoItem(rom.Model):
    i = rom.Integer(index=True)
    x = rom.Float(index=True)
    words = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True, suffix=True)
    ci = rom.Text(index=True, keygen=rom.IDENTITY_CI)
    flag = rom.Boolean(index=True)
    name = rom.Text(index=True, keygen=rom.SIMPLE)


VOCABULARY = [
    "ab",
    "abc",
    "Ab",
    "b",
    "ba",
    "bab",
    "café",
    "cafés",
    "ÜBER",
    "naïve",
    "x.y",
    "a%b",
    "(c)",
    "50%",
    "it's",
    "zz",
]
CI_VALUES = ["Red", "red", "RED", "blue", "Blüe", "BLÜE", "green"]
NAMES = ["a", "ab", "B", "abcdefgh", "abcdefgi", "abcdefg", "é", "Zed", "b"]
FLOATS = [-1.5, 0.0, 0.001, 0.25, 2.0, 2.5, 100.0]
# No shrink phase: each example costs dozens of Redis calls, and shrinking a
# failure took minutes; the failing query is in the assertion message.
SETTINGS = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
    max_examples=150,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)


# -- the data --------------------------------------------------------------------


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``values``, or None about one time in four."""
    return st.one_of(st.none(), values, values, values)


values_st = st.fixed_dictionaries(
    {
        "i": maybe(st.integers(-4, 4)),
        "x": maybe(st.sampled_from(FLOATS)),
        "words": maybe(
            st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4).map(" ".join)
        ),
        "ci": maybe(st.sampled_from(CI_VALUES)),
        "flag": maybe(st.booleans()),
        "name": maybe(st.sampled_from(NAMES)),
    }
)


@dataclass
class World:
    """The entities saved in Redis, as plain Python values by id."""

    rows: dict[int, dict[str, Any]] = field(default_factory=dict)


def build(conn: redis.Redis, created: list[dict[str, Any]], changes: Any) -> World:
    """Save ``created``, apply ``changes`` (updates and deletes); mirror them."""
    conn.flushdb()
    rom.session.rollback()
    world = World()
    entities = [QoItem(**values) for values in created]
    rom.session.commit()
    for entity, values in zip(entities, created, strict=True):
        world.rows[entity.id] = dict(values)
    rom.session.rollback()
    for kind, pick, values in changes:
        if not world.rows:
            break
        id = sorted(world.rows)[pick % len(world.rows)]
        entity = QoItem.get(id)
        if kind == "delete":
            entity.delete()
            del world.rows[id]
        else:
            entity.update(**values)
            entity.save()
            world.rows[id].update(values)
    rom.session.rollback()
    return world


changes_st = st.lists(
    st.tuples(
        st.sampled_from(["update", "delete"]),
        st.integers(0, 50),
        values_st.flatmap(
            lambda v: st.sets(st.sampled_from(sorted(v))).map(
                lambda keys: {k: v[k] for k in keys}
            )
        ),
    ),
    max_size=5,
)


# -- brute force -------------------------------------------------------------------


def tokens(text: str | None) -> set[str]:
    """FULL_TEXT words of ``text``."""
    if not text:
        return set()
    return {w.lower().strip(string.punctuation) for w in text.split()} - {""}


def bound_ok(value: float, bound: Any, low: bool) -> bool:
    """True if ``value`` is within one end of a range."""
    if bound is None:
        return True
    if isinstance(bound, str):
        limit = float(bound[1:])
        return value > limit if low else value < limit
    return value >= bound if low else value <= bound


def like_regex(pattern: str) -> re.Pattern[str]:
    """The Python meaning of a like() pattern, per character."""
    parts = {"?": ".?", "*": ".*?", "+": ".+", "!": "."}
    body = "".join(parts.get(ch) or re.escape(ch) for ch in pattern)
    return re.compile(body, re.DOTALL)


def matches(row: dict[str, Any], clause: tuple[Any, ...]) -> bool:
    """Whether one entity's values satisfy one query clause."""
    kind, column, value = clause
    own = row.get(column)
    if kind == "range":
        return own is not None and (
            bound_ok(own, value[0], True) and bound_ok(own, value[1], False)
        )
    if kind == "eq":
        return own is not None and own == value
    if kind == "words":
        wanted = tokens(value)
        return bool(wanted) and wanted <= tokens(own)
    if kind == "any_words":
        return bool(tokens(own) & {w.lower().strip(string.punctuation) for w in value})
    if kind == "ci":
        return bool(own) and own.lower() in {v.lower() for v in value}
    if kind == "flag":
        return own is not None and own is value
    words = tokens(own)
    if kind == "startswith":
        return any(w.startswith(value.lower()) for w in words)
    if kind == "endswith":
        return any(w.endswith(value.lower()) for w in words)
    regex = like_regex(value.lower())
    return any(regex.match(w) for w in words)


def sort_key(column: str, value: Any) -> Any:
    """What an index orders by: numbers, or SIMPLE's first 7 UTF-8 bytes."""
    return value.encode("utf-8")[:7] if column == "name" else value


def expected_ids(world: World, query: dict[str, Any]) -> list[int]:
    """The ids a query must return, in order, by brute force."""
    rows = world.rows
    ids = [i for i in rows if all(matches(rows[i], c) for c in query["clauses"])]
    order = query["order"]
    if order is None:
        ranges = [c for c in query["clauses"] if c[0] in ("range", "eq")]
        order = ranges[0][1] if ranges else "id"
    column = order.lstrip("-")
    desc = order.startswith("-")
    if column == "id":
        ids.sort(reverse=desc)
    else:
        ids = [i for i in ids if rows[i].get(column) is not None]
        ids.sort(key=str)
        ids.sort(key=lambda i: sort_key(column, rows[i][column]), reverse=desc)
    offset, count = query["limit"] or (0, None)
    return ids[offset:] if count is None else ids[offset : offset + count]


# -- the queries ---------------------------------------------------------------------

bound_st = st.none() | st.integers(-5, 5) | st.integers(-5, 5).map(lambda v: f"({v}")
float_bound_st = st.none() | st.sampled_from(FLOATS) | st.sampled_from(["(0", "(2.0"])
WILDCARDS = ["?", "*", "+", "!"]


def present_words(world: World) -> list[str]:
    """The words of the saved texts (as written), or the vocabulary if none."""
    found = {w for row in world.rows.values() for w in (row["words"] or "").split()}
    return sorted(found) or VOCABULARY


@st.composite
def pattern_st(draw: st.DrawFn, words: list[str]) -> str:
    """A like() pattern: a word with some characters turned into wildcards."""
    word = list(draw(st.sampled_from(words)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(word)))
        if draw(st.booleans()) and at < len(word):
            word[at] = draw(st.sampled_from(WILDCARDS))
        else:
            word.insert(at, draw(st.sampled_from(WILDCARDS)))
    return "".join(word[: draw(st.integers(1, len(word)))])


def clause_st(words: list[str]) -> st.SearchStrategy[tuple[str, str, Any]]:
    """One query clause; word values are mostly taken from ``words``."""
    word_st = st.sampled_from(words + VOCABULARY[:2]).flatmap(
        lambda w: st.sampled_from([w, w.upper(), w.capitalize()])
    )
    cut_st = st.tuples(st.sampled_from(words), st.integers(0, 6))
    return st.one_of(
        st.tuples(st.just("range"), st.just("i"), st.tuples(bound_st, bound_st)),
        st.tuples(
            st.just("range"), st.just("x"), st.tuples(float_bound_st, float_bound_st)
        ),
        st.tuples(st.just("eq"), st.just("i"), st.integers(-4, 4)),
        st.tuples(st.just("eq"), st.just("x"), st.sampled_from(FLOATS)),
        st.tuples(
            st.just("words"),
            st.just("words"),
            st.lists(word_st, min_size=1, max_size=2).map(" ".join),
        ),
        st.tuples(
            st.just("any_words"),
            st.just("words"),
            st.lists(word_st, min_size=1, max_size=3),
        ),
        st.tuples(
            st.just("ci"),
            st.just("ci"),
            st.lists(st.sampled_from(CI_VALUES), min_size=1, max_size=3),
        ),
        st.tuples(st.just("flag"), st.just("flag"), st.booleans()),
        st.tuples(
            st.just("startswith"), st.just("words"), cut_st.map(lambda c: c[0][: c[1]])
        ),
        st.tuples(
            st.just("endswith"),
            st.just("words"),
            cut_st.map(lambda c: c[0][len(c[0]) - c[1] :]),
        ),
        st.tuples(st.just("like"), st.just("words"), pattern_st(words)),
    )


def query_st(world: World) -> st.SearchStrategy[dict[str, Any]]:
    """A query description: clauses, an order and a limit."""
    return st.fixed_dictionaries(
        {
            "clauses": st.lists(clause_st(present_words(world)), max_size=2),
            "order": st.one_of(
                st.none(),
                st.none(),
                st.sampled_from(["i", "-i", "x", "-x", "name", "-name", "id", "-id"]),
            ),
            "limit": st.one_of(
                st.none(),
                st.none(),
                st.tuples(st.integers(0, 3), st.none() | st.integers(0, 5)),
            ),
        }
    )


def to_query(query: dict[str, Any]) -> rom.Query[QoItem]:
    """The rom Query of a generated query description."""
    built = QoItem.query
    for kind, column, value in query["clauses"]:
        if kind in ("range", "eq", "words", "flag"):
            built = built.filter(**{column: value})
        elif kind == "any_words":
            built = built.filter(words=list(value))
        elif kind == "ci":
            one = len(value) == 1
            built = built.filter(ci=value[0] if one else list(value))
        else:
            built = getattr(built, kind)(**{column: value})
    if query["order"] is not None:
        built = built.order_by(query["order"])
    if query["limit"] is not None:
        built = built.limit(*query["limit"])
    return built


def check(world: World, query: dict[str, Any], pagesize: int) -> None:
    """Every terminal operation of ``query`` agrees with brute force."""
    built = to_query(query)
    expected = expected_ids(world, query)
    assert [e.id for e in built.all()] == expected, query
    assert built.count() == len(expected), query
    paged = [e.id for e in built.iter_result(pagesize=pagesize)]
    assert paged == expected, query
    first = built.first()
    assert (first.id if first else None) == (expected[0] if expected else None)


@SETTINGS
@given(
    created=st.lists(values_st, min_size=4, max_size=14),
    changes=changes_st,
    pagesize=st.integers(1, 4),
    data=st.data(),
)
def test_queries_match_brute_force(
    rom_redis: redis.Redis,
    created: list[dict[str, Any]],
    changes: Any,
    pagesize: int,
    data: st.DataObject,
) -> None:
    """Random queries over random (then updated and deleted) data match Python."""
    world = build(rom_redis, created, changes)
    for query in data.draw(st.lists(query_st(world), min_size=3, max_size=6)):
        check(world, query, pagesize)


@settings(SETTINGS, max_examples=60)
@given(
    values=st.lists(st.integers(0, 3), min_size=1, max_size=25),
    offset=st.integers(0, 26),
    count=st.none() | st.integers(0, 8),
    desc=st.booleans(),
    filtered=st.booleans(),
)
def test_ordered_windows_with_ties(
    rom_redis: redis.Redis,
    values: list[int],
    offset: int,
    count: int | None,
    desc: bool,
    filtered: bool,
) -> None:
    """Any limit window of an order with many ties is the brute-force slice."""
    created = [{"i": v, "flag": True} for v in values]
    world = build(rom_redis, created, [])
    clauses = [("flag", "flag", True)] if filtered else []
    query = {
        "clauses": clauses,
        "order": ("-i" if desc else "i"),
        "limit": (offset, count),
    }
    check(world, query, 3)
