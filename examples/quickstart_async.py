"""The bookshop of quickstart.py on asyncio: the same models, ``a`` methods.

Run it with ``python examples/quickstart_async.py``. It talks to the Redis
server named by ``REDIS_URL`` or ``ROM_REDIS_URI`` when one is set;
otherwise it starts a throwaway ``redis-server`` and stops it at the end.
On a server it did not start it only touches keys under the
``quickstart_async:`` prefix and deletes those keys when done.

rom is configured with a blocking client as usual; the async methods make
a ``redis.asyncio`` client from its settings on first use (one per event
loop). Round trips are counted on both, by one counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import redis

import rom
import rom.util
from rom.testing import RedisServer
from rom.testing import counter_of
from rom.testing import counting_client

PREFIX = "quickstart_async:"


class Author(rom.Model):
    _namespace = PREFIX + "author"

    name = rom.Text(required=True, unique=True)
    born = rom.Integer(index=True)
    books = rom.OneToMany("Book")


class Book(rom.Model):
    _namespace = PREFIX + "book"

    isbn = rom.Text(required=True, unique=True)
    title = rom.Text(required=True, index=True, keygen=rom.FULL_TEXT)
    author = rom.ManyToOne("Author", on_delete="restrict")
    year = rom.Integer(index=True)
    price = rom.Float(index=True)

    def __str__(self) -> str:
        return f"{self.title!r} ({self.year}, {self.price:.2f})"


BOOKS = [
    ("978-0-441-47812-5", "The Left Hand of Darkness", 1969, 9.99),
    ("978-0-06-051275-0", "The Dispossessed", 1974, 12.50),
    ("978-0-553-26250-3", "A Wizard of Earthsea", 1968, 7.99),
    ("978-0-689-84532-2", "The Tombs of Atuan", 1971, 8.49),
]


async def tour(conn: redis.Redis) -> None:
    trips = counter_of(conn)

    print("1. Save an author with await author.asave().")
    le_guin = Author(name="Ursula K. Le Guin", born=1929)
    with trips.count() as n:
        changed = await le_guin.asave()
    print(f"   {le_guin!r}: {changed} columns written; commands {n.names}")

    print("2. Create four books and commit them with await session.acommit().")
    for isbn, title, year, price in BOOKS:
        Book(isbn=isbn, title=title, author=le_guin, year=year, price=price)
    with trips.count() as n:
        changed = await rom.session.acommit()
    print(f"   {changed} columns, {n.roundtrips} round trip")

    print("3. Look up by unique column and by id, from a fresh session.")
    rom.session.rollback()
    earthsea = await Book.aget_by(isbn="978-0-553-26250-3")
    assert isinstance(earthsea, Book)
    print(f"   aget_by(isbn=...): {earthsea}")
    print(f"   aget([1, 2]): {[str(b) for b in await Book.aget([1, 2])]}")

    print("4. Queries: aall(), afirst(), acount() and async for.")
    cheap = Book.query.filter(price=(None, 9.0)).order_by("price")
    print(f"   under 9.00: {[str(b) for b in await cheap.aall()]}")
    print(f"   cheapest: {await cheap.afirst()}; count: {await cheap.acount()}")
    async for book in Book.query.filter(title="earthsea"):
        print(f"   async for, title has 'earthsea': {book}")

    print("5. Relationships load explicitly: await entity.aload(attr).")
    author = await earthsea.aload("author")
    books = await author.aload("books")
    print(f"   {earthsea.title} -> {author.name}, who wrote {len(books)} books")

    print("6. 50 tasks race for one unique isbn: exactly one wins.")

    async def claim(i: int) -> bool:
        book = Book(isbn="978-0-00-000000-0", title=f"Copy {i}", year=2000, price=1.0)
        try:
            await book.asave()
        except rom.UniqueKeyViolation:
            return False
        return True

    won = await asyncio.gather(*(claim(i) for i in range(50)))
    print(f"   winners: {sum(won)} of {len(won)}")

    print("7. Delete with await entity.adelete(); on_delete policies apply.")
    try:
        await le_guin.adelete()
    except rom.RestrictError as exc:
        print(f"   refused: {str(exc)[:70]}...")
    await rom.session.adelete(await Book.query.filter(year=(1960, 1980)).aall())
    await le_guin.adelete()
    print(f"   books left: {await Book.query.acount()}")


async def run(conn: redis.Redis) -> None:
    try:
        await tour(conn)
    finally:
        await rom.util.close_async_connections()


def main() -> None:
    url = os.environ.get("REDIS_URL") or os.environ.get("ROM_REDIS_URI")
    with contextlib.ExitStack() as stack:
        if not url:  # a throwaway redis-server, stopped at the end
            url = stack.enter_context(RedisServer()).url
        conn, _ = counting_client(url)
        rom.util.CONNECTION = conn  # the async client is made from it
        stack.callback(conn.close)
        for key in conn.scan_iter(match=PREFIX + "*"):  # an interrupted run's
            conn.delete(key)
        stack.callback(lambda: [conn.delete(k) for k in conn.scan_iter(PREFIX + "*")])
        print(f"Redis at {url}; this tour's keys are under {PREFIX!r}")
        asyncio.run(run(conn))


if __name__ == "__main__":
    main()
