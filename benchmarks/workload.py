"""The benchmark model, its data, and every operation done by rom and by raw redis-py.

Each operation comes as a pair of functions taking one argument (an op's
input): ``orm_*`` does it through rom, ``raw_*`` does the minimal Redis work
that gives the same result with plain redis-py calls. README.rst defines
each raw baseline; keep the two in step with it.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

import rom
from rom.keygen import FULL_TEXT
from rom.keygen import prefix_score

RAW_NS = "RawItem"
VOCABULARY = 2000
WORDS_PER_BODY = 5
BATCH = 100
LIMIT = 10
AGES = 100


class BenchItem(rom.Model):
    """The benchmarked model: one of each index kind the issue asks for."""

    email = rom.Text(unique=True)
    age = rom.Integer(index=True)
    score = rom.Float(index=True)
    body = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)
    active = rom.Boolean(index=True)
    meta = rom.Json()


# -- data ---------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    """One entity: its Python values (for rom) and its wire form (for raw)."""

    id: int
    values: dict[str, Any]
    wire: dict[str, str]
    tokens: list[str]
    prefixes: dict[str, str]  # member "<token>\0<id>" -> prefix score
    flag: str  # "True" or "False": the Boolean index token


def _vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        size = rng.randint(4, 9)
        words.add("".join(rng.choice(string.ascii_lowercase) for _ in range(size)))
    return sorted(words)


def _values(i: int, rng: random.Random, vocabulary: Sequence[str]) -> dict[str, Any]:
    words = rng.sample(vocabulary, WORDS_PER_BODY)
    return {
        "email": f"user{i}@example.com",
        "age": rng.randrange(AGES),
        "score": round(rng.uniform(0, 1000), 3),
        "body": f"{words[0].capitalize()} {' '.join(words[1:])}.",
        "active": rng.random() < 0.5,
        "meta": {"n": i, "tags": words[:2], "ok": True},
    }


def _row(id: int, values: dict[str, Any]) -> Row:
    tokens = FULL_TEXT(values["body"]) or []
    wire = {
        "id": str(id),
        "email": values["email"],
        "age": str(values["age"]),
        "score": repr(values["score"]),
        "body": values["body"],
        "active": "1" if values["active"] else "",
        "meta": json.dumps(values["meta"], sort_keys=True),
    }
    prefixes = {f"{token}\0{id}": prefix_score(token) for token in tokens}
    return Row(id, values, wire, tokens, prefixes, str(values["active"]))


@dataclass(slots=True)
class Dataset:
    """N rows (ids 1..N) and the inputs of every read and write measured."""

    rows: list[Row]
    vocabulary: list[str]
    rng: random.Random

    def shuffled_ids(self) -> list[int]:
        ids = [row.id for row in self.rows]
        self.rng.shuffle(ids)
        return ids

    def ranges(self, count: int, width: int) -> list[tuple[int, int]]:
        starts = (self.rng.randrange(AGES - width) for _ in range(count))
        return [(lo, lo + width - 1) for lo in starts]

    def words(self, count: int) -> list[str]:
        used = sorted({t for row in self.rows for t in row.tokens})
        return [self.rng.choice(used) for _ in range(count)]

    def prefixes(self, count: int, size: int = 3) -> list[str]:
        return [word[:size] for word in self.words(count)]

    def new_scores(self) -> list[float]:
        return [round(self.rng.uniform(0, 1000), 3) for _ in self.rows]


def make_dataset(n: int, seed: int) -> Dataset:
    """Build ``n`` deterministic rows, ids 1..n in insertion order."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    rows = [_row(i, _values(i, rng, vocabulary)) for i in range(1, n + 1)]
    return Dataset(rows, vocabulary, rng)


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` cut into lists of ``size`` (the last one may be shorter)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


# -- rom ------------------------------------------------------------------------


def orm_insert(row: Row) -> None:
    BenchItem(**row.values).save()


def orm_insert_batch(rows: list[Row]) -> None:
    for row in rows:
        BenchItem(**row.values)
    rom.session.commit()


def orm_get(id: int) -> Any:
    return BenchItem.get(id)


def orm_get_many(ids: list[int]) -> Any:
    return BenchItem.get(ids)


def orm_get_by(email: str) -> Any:
    return BenchItem.get_by(email=email)


def orm_range(bounds: tuple[int, int]) -> list[Any]:
    return BenchItem.query.filter(age=bounds).limit(0, LIMIT).all()


def orm_word(word: str) -> list[Any]:
    return BenchItem.query.filter(body=word).limit(0, LIMIT).all()


def orm_prefix(prefix: str) -> list[Any]:
    return BenchItem.query.startswith(body=prefix).limit(0, LIMIT).all()


def orm_count(bounds: tuple[int, int]) -> int:
    return BenchItem.query.filter(age=bounds).count()


def orm_update(change: tuple[BenchItem, float]) -> None:
    entity, score = change
    entity.score = score
    entity.save()


def orm_delete(entity: BenchItem) -> None:
    entity.delete()


# -- raw redis-py ----------------------------------------------------------------


class Raw:
    """The minimal redis-py work of each operation, on namespace ``RawItem``.

    Everything a caller would know already (wire strings, tokens, prefix
    scores) is computed before timing; the timed part builds key names,
    sends the commands and reads the replies.
    """

    def __init__(self, client: redis.Redis, ns: str = RAW_NS) -> None:
        self.r = client
        self.ns = ns

    def _write(self, pipe: Any, row: Row) -> None:
        ns, id = self.ns, row.id
        pipe.hset(f"{ns}:{id}", mapping=row.wire)
        pipe.hset(f"{ns}:email:uidx", row.wire["email"], id)
        pipe.zadd(f"{ns}:age:idx", {id: row.wire["age"]})
        pipe.zadd(f"{ns}:score:idx", {id: row.wire["score"]})
        for token in row.tokens:
            pipe.sadd(f"{ns}:body:{token}:idx", id)
        pipe.zadd(f"{ns}:body:pre", row.prefixes)
        pipe.sadd(f"{ns}:active:{row.flag}:idx", id)

    def insert(self, row: Row) -> None:
        pipe = self.r.pipeline(transaction=True)
        self._write(pipe, row)
        pipe.execute()

    def insert_batch(self, rows: list[Row]) -> None:
        pipe = self.r.pipeline(transaction=True)
        for row in rows:
            self._write(pipe, row)
        pipe.execute()

    def get(self, id: int) -> Any:
        return self.r.hgetall(f"{self.ns}:{id}")

    def _rows(self, ids: Sequence[Any]) -> list[Any]:
        pipe = self.r.pipeline(transaction=False)
        for id in ids:
            pipe.hgetall(f"{self.ns}:{id.decode() if isinstance(id, bytes) else id}")
        return pipe.execute()  # type: ignore[no-any-return]

    def get_many(self, ids: list[int]) -> list[Any]:
        return self._rows(ids)

    def get_by(self, email: str) -> Any:
        id = self.r.hget(f"{self.ns}:email:uidx", email)
        return None if id is None else self.r.hgetall(f"{self.ns}:{id.decode()}")

    def range(self, bounds: tuple[int, int]) -> list[Any]:
        key = f"{self.ns}:age:idx"
        return self._rows(self.r.zrangebyscore(key, bounds[0], bounds[1], 0, LIMIT))

    def word(self, word: str) -> list[Any]:
        return self._rows(self.r.sort(f"{self.ns}:body:{word}:idx", 0, LIMIT))

    def prefix(self, prefix: str) -> list[Any]:
        low, high = prefix_score(prefix), prefix_score(prefix, next=True)
        members = self.r.zrangebyscore(f"{self.ns}:body:pre", low, f"({high}")
        wanted = prefix.encode()
        ids = {int(m.rpartition(b"\0")[2]) for m in members if m.startswith(wanted)}
        return self._rows(sorted(ids)[:LIMIT])

    def count(self, bounds: tuple[int, int]) -> int:
        return self.r.zcount(f"{self.ns}:age:idx", bounds[0], bounds[1])  # type: ignore[no-any-return]

    def update(self, change: tuple[Row, float]) -> None:
        row, score = change
        wire = repr(score)
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(f"{self.ns}:{row.id}", "score", wire)
        pipe.zadd(f"{self.ns}:score:idx", {row.id: wire})
        pipe.execute()

    def delete(self, row: Row) -> None:
        ns, id = self.ns, row.id
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(f"{ns}:{id}")
        pipe.hdel(f"{ns}:email:uidx", row.wire["email"])
        pipe.zrem(f"{ns}:age:idx", id)
        pipe.zrem(f"{ns}:score:idx", id)
        for token in row.tokens:
            pipe.srem(f"{ns}:body:{token}:idx", id)
        pipe.zrem(f"{ns}:body:pre", *row.prefixes)
        pipe.srem(f"{ns}:active:{row.flag}:idx", id)
        pipe.execute()


def run_all(fn: Callable[[Any], Any], inputs: Sequence[Any]) -> None:
    """Call ``fn`` on every input; the loop both sides are timed with."""
    for item in inputs:
        fn(item)


def ids_of(found: Any) -> list[int]:
    """The ids of rom entities or of raw rows (for the result checks)."""
    if found is None:
        return []
    items = found if isinstance(found, list) else [found]
    out: list[int] = []
    for item in items:
        if isinstance(item, dict):
            if item:
                out.append(int(item[b"id"]))
        elif item is not None:
            out.append(int(item.id))
    return out


def pairs(
    entities: list[BenchItem], rows: list[Row], scores: list[float]
) -> Iterator[tuple[tuple[BenchItem, float], tuple[Row, float]]]:
    """Zip the update inputs of both sides."""
    for entity, row, score in zip(entities, rows, scores, strict=True):
        yield (entity, score), (row, score)
