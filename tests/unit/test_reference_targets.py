"""A relation to a model that is not defined fails when an entity is built.

As in rom 1.1.2, the model class itself may be declared before its target
(the target may come later); constructing an entity checks every
ManyToOne, OneToOne and OneToMany target and raises ORMError, before
anything is added to the session.
"""

from __future__ import annotations

import pytest

import rom
from rom import ORMError


@pytest.mark.parametrize("kind", [rom.ManyToOne, rom.OneToOne])
def test_undefined_target_raises_on_construction(
    fresh_models: None, kind: type
) -> None:
    class RtDangling(rom.Model):
        other = kind("RtMissing", on_delete="no action")
        size = rom.Integer()

    with pytest.raises(ORMError) as raised:
        RtDangling(size=1)
    message = str(raised.value)
    assert f"RtDangling.other: {kind.__name__} target 'RtMissing'" in message
    assert "not a defined model" in message
    assert rom.session.known == {}


def test_a_target_defined_later_is_fine(fresh_models: None) -> None:
    class RtEarly(rom.Model):
        other = rom.ManyToOne("RtLate", on_delete="no action")

    with pytest.raises(ORMError):
        RtEarly()

    class RtLate(rom.Model):
        name = rom.Text()

    assert RtEarly(other=5)._data["other"].id == 5
    rom.session.rollback()


def test_one_to_many_still_raises(fresh_models: None) -> None:
    class RtParent(rom.Model):
        children = rom.OneToMany("RtNobody")

    with pytest.raises(ORMError, match="OneToMany target 'RtNobody'"):
        RtParent()


def test_loading_a_row_does_not_check(fresh_models: None) -> None:
    class RtLoaded(rom.Model):
        other = rom.ManyToOne("RtAbsent", on_delete="no action")

    entity = RtLoaded._from_row({"id": "1", "other": "3"})
    assert entity.id == 1
