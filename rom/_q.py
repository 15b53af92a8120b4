"""Q: a condition tree for ``filter()`` and ``exclude()`` (pure data).

``Q(a=1, b__gt=2)`` is "a is 1 AND b > 2"; ``q1 | q2``, ``q1 & q2`` and
``~q`` build OR, AND and NOT. A Q holds no model: the query that receives
it checks every column and value (``rom._lookups.resolve``).
"""

from __future__ import annotations

from typing import Any

from .exceptions import QueryError

__all__ = ["Q"]

AND = "AND"
OR = "OR"


class Q:
    """Conditions combined with ``&`` (AND), ``|`` (OR) and ``~`` (NOT).

    Keyword conditions take the same names and lookups as ``filter()``
    (``col=value``, ``col__gt=5``, ``col__in=[...]``, ``col__isnull=True``,
    ...); several are AND-ed. ``Q()`` with no condition matches everything.
    """

    __slots__ = ("children", "connector", "negated")

    def __init__(self, *args: Q, **kwargs: Any) -> None:
        for arg in args:
            if not isinstance(arg, Q):
                raise QueryError(
                    f"Q() takes Q objects as positional arguments and conditions "
                    f"as keywords, got {type(arg).__name__}: {arg!r}"
                )
        self.children: tuple[Q | tuple[str, Any], ...] = (*args, *kwargs.items())
        self.connector = AND
        self.negated = False

    @classmethod
    def _make(
        cls, children: tuple[Q | tuple[str, Any], ...], connector: str, negated: bool
    ) -> Q:
        q = cls()
        q.children = children
        q.connector = connector
        q.negated = negated
        return q

    def _combine(self, other: object, connector: str) -> Q:
        if not isinstance(other, Q):
            sign = "&" if connector == AND else "|"
            raise QueryError(
                f"Q objects combine only with Q objects: Q {sign} "
                f"{type(other).__name__} ({other!r}); wrap conditions in Q(...)"
            )
        children: list[Q | tuple[str, Any]] = []
        for q in (self, other):
            same = q.connector == connector and not q.negated
            children += q.children if same else (q,)
        return Q._make(tuple(children), connector, False)

    def __and__(self, other: object) -> Q:
        return self._combine(other, AND)

    def __or__(self, other: object) -> Q:
        return self._combine(other, OR)

    def __invert__(self) -> Q:
        return Q._make(self.children, self.connector, not self.negated)

    def __bool__(self) -> bool:
        return bool(self.children)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Q) and (
            self.children,
            self.connector,
            self.negated,
        ) == (other.children, other.connector, other.negated)

    def __hash__(self) -> int:
        return hash((self.connector, self.negated, len(self.children)))

    def __repr__(self) -> str:
        inner = f" {self.connector} ".join(
            repr(c) if isinstance(c, Q) else f"{c[0]}={c[1]!r}" for c in self.children
        )
        text = f"({inner})" if len(self.children) > 1 else inner
        return f"~Q{text}" if self.negated else f"Q({text.strip('()')})"
