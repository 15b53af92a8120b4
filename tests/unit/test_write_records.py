"""Write record keys: their name, and that nothing else reads them as its own."""

from __future__ import annotations

import uuid

import rom
from rom._key_shapes import OwnKeys
from rom._keys import KeySpace
from rom.testing import is_write_record


class WrItem(rom.Model):
    name = rom.Text(index=True, keygen=rom.FULL_TEXT, prefix=True)
    code = rom.Text(unique=True)
    n = rom.Integer(index=True)


TOKEN = uuid.uuid4().hex


def test_the_key_name() -> None:
    """<ns>::write:<32 hex digits>, under the model's namespace."""
    keys = KeySpace("WrItem")
    assert keys.write_record(TOKEN) == f"WrItem::write:{TOKEN}"
    assert keys.is_write_record(keys.write_record(TOKEN))
    assert is_write_record(keys.write_record(TOKEN).encode())


def test_no_rom_1_1_2_key_has_its_shape() -> None:
    """Rows, counters, legacy records, indexes, unsafe and temp keys are not
    write records, and a write record parses as none of them."""
    keys = KeySpace("WrItem")
    record = keys.write_record(TOKEN)
    assert keys.row_id(record) is None
    assert keys.unsafe_parts(record) is None
    assert keys.index_parts(record) is None
    others = [
        keys.entity(7),
        keys.counter,
        keys.legacy_index,
        keys.index("n"),
        keys.token("name", "write"),
        keys.prefix("name"),
        keys.unique("code"),
        keys.unsafe(7, "write"),
        keys.temp(),
        f"WrItem::write:{TOKEN[:31]}",
        f"WrItem::write:{TOKEN}x",
    ]
    for key in others:
        assert not keys.is_write_record(key), key
        assert not is_write_record(key), key


def test_maintenance_sees_it_as_a_write_record() -> None:
    """The key-shape census files it as "write": not unknown, not an index."""
    own = OwnKeys(WrItem._meta)
    shape = own.shape(WrItem._meta.keys.write_record(TOKEN))
    assert shape is not None and shape.kind == "write"
    assert own.nested_namespace(WrItem._meta.keys.write_record(TOKEN)) is None
