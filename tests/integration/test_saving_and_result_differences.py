"""The deliberate differences from rom 1.1.2 that docs/migrating.rst lists
under "Saving and change tracking" and "Queries", one test each.

Each test pins the new behaviour against a real private Redis; the
docstring says what rom 1.1.2 did instead.
"""

from __future__ import annotations

import decimal

import redis

import rom

from .dump import dump


class MdAuthor(rom.Model):
    name = rom.Text()


class MdBook(rom.Model):
    author = rom.ManyToOne("MdAuthor", on_delete="set null")
    title = rom.Text()


class MdPaged(rom.Model):
    id = rom.PrimaryKey(index=True)
    n = rom.Integer(index=True)


class MdPrice(rom.Model):
    amount = rom.Decimal(index=True)
    note = rom.Text()


def test_set_null_removes_the_reference_from_the_row(rom_redis: redis.Redis) -> None:
    """rom 1.1.2 left the deleted entity's id in the referrer's row."""
    author = MdAuthor(name="a")
    book = MdBook(author=author, title="t")
    book.save()
    author.delete()
    assert rom_redis.hget(f"MdBook:{book.id}", "author") is None
    assert rom_redis.hget(f"MdBook:{book.id}", "title") == b"t"
    rom.session.rollback()
    loaded = MdBook.get(book.id)
    assert loaded is not None and loaded.author is None


def test_select_first_returns_the_selected_columns(rom_redis: redis.Redis) -> None:
    """first() of a select() query gives the selected columns, like all()."""
    for n in range(3):
        MdPaged(n=n).save()
    query = MdPaged.query.select("n").order_by("n")
    assert query.first() == {"n": 0}
    assert query.first() == query.all()[0]
    assert MdPaged.query.select("n").filter(n=(2, 2)).first() == {"n": 2}


def test_save_counts_no_unchanged_reference(rom_redis: redis.Redis) -> None:
    """Assigning the entity (or id) a reference already holds changes
    nothing: save() returns 0 and writes nothing."""
    author = MdAuthor(name="a")
    author.save()
    book = MdBook(author=author, title="t")
    assert book.save() == 3  # id, author, title
    before = dump(rom_redis)
    book.author = author
    assert book.save() == 0
    book.author = author.id
    assert book.save() == 0
    rom.session.rollback()
    again = MdBook.get(book.id)
    assert again is not None
    again.author = MdAuthor.get(author.id)
    assert again.save() == 0
    assert dump(rom_redis) == before
    again.title = "u"
    assert again.save() == 1


def test_limit_on_a_bare_query_with_an_indexed_primary_key_pages(
    rom_redis: redis.Redis,
) -> None:
    """Pages of limit() over all entities are disjoint and complete, and
    count() agrees with len(all())."""
    for n in range(10):
        MdPaged(n=n).save()
    MdPaged.get(4).delete()
    rom.session.rollback()
    pages = [[e.id for e in MdPaged.query.limit(start, 3).all()] for start in (0, 3, 6)]
    assert pages == [[1, 2, 3], [5, 6, 7], [8, 9, 10]]
    assert MdPaged.query.limit(8, 3).count() == 1
    assert [e.id for e in MdPaged.query.limit(2, 3)] == [3, 5, 6]


def test_forced_save_removes_columns_set_to_none(rom_redis: redis.Redis) -> None:
    """save(force=True) makes the row exactly the object: a column set to
    None is removed from the row (and from the indexes)."""
    price = MdPrice(amount=decimal.Decimal("2.5"), note="keep?")
    price.save()
    price.note = None
    price.amount = None
    price.save(force=True)
    row = rom_redis.hgetall(f"MdPrice:{price.id}")
    assert b"note" not in row and b"amount" not in row
    assert rom_redis.zcard("MdPrice:amount:idx") == 0
    rom.session.rollback()
    loaded = MdPrice.get(price.id)
    assert loaded is not None and loaded.note is None and loaded.amount is None


def test_decimal_values_are_written_in_canonical_form(rom_redis: redis.Redis) -> None:
    """The row holds str() of the Decimal the column holds; a float becomes
    its shortest decimal (rom 1.1.2 wrote the float's binary expansion,
    0.1000000000000000055511151231257827021181583404541015625); the index
    holds the double Redis reads."""
    cases = [
        (0.1, b"0.1"),
        (2.5, b"2.5"),
        (3, b"3"),
        ("1.50", b"1.50"),
        (decimal.Decimal("1E+2"), b"1E+2"),
    ]
    for given, stored in cases:
        price = MdPrice(amount=given)
        price.save()
        assert rom_redis.hget(f"MdPrice:{price.id}", "amount") == stored
        assert rom_redis.zscore("MdPrice:amount:idx", str(price.id)) == float(stored)
        rom.session.rollback()
        loaded = MdPrice.get(price.id)
        assert loaded is not None
        assert str(loaded.amount) == stored.decode()
