"""The error tree: names, bases, args and messages, as in rom 1.1.2.

Everything here runs without Redis: constructing an entity allocates no id,
so value errors raised by the constructor and by assignment need no server.
"""

import datetime
from collections.abc import Iterator

import pytest

import rom
from rom import exceptions

ALL_NAMES = [
    "BulkError",
    "ColumnError",
    "DataRaceError",
    "EntityDeletedError",
    "InvalidColumnValue",
    "InvalidOperation",
    "MissingColumn",
    "ORMError",
    "QueryError",
    "RestrictError",
    "UniqueKeyViolation",
    "UnsafeError",
    "WriteOutcomeUnknown",
    "WrongClientError",
]

# Each public rom exception and its public rom ancestors, nearest first.
ANCESTRY = {
    "ORMError": [],
    "UniqueKeyViolation": ["ORMError"],
    "InvalidOperation": ["ORMError"],
    "QueryError": ["InvalidOperation", "ORMError"],
    "RestrictError": ["InvalidOperation", "ORMError"],
    "DataRaceError": ["InvalidOperation", "ORMError"],
    "EntityDeletedError": ["InvalidOperation", "ORMError"],
    "ColumnError": ["ORMError"],
    "MissingColumn": ["ColumnError", "ORMError"],
    "InvalidColumnValue": ["ColumnError", "ORMError"],
    "UnsafeError": ["ColumnError", "ORMError"],
    "BulkError": ["ORMError"],
    "WriteOutcomeUnknown": ["ORMError"],
    "WrongClientError": ["ORMError"],
}

ENTITY_ERRORS = ["UniqueKeyViolation", "DataRaceError", "EntityDeletedError"]


def public_ancestors(cls: type) -> list[str]:
    """The public rom.exceptions classes above ``cls`` in its MRO."""
    return [
        base.__name__
        for base in cls.__mro__[1:]
        if base.__module__ == "rom.exceptions" and not base.__name__.startswith("_")
    ]


class ExcValues(rom.Model):
    count = rom.Integer(required=True)
    name = rom.Text()
    born = rom.DateTime()
    data = rom.Json()
    tags = rom.IndexOnly(column="name", keygen=rom.FULL_TEXT)


@pytest.fixture(autouse=True)
def empty_session() -> Iterator[None]:
    """Keep entities built here out of other tests' sessions."""
    rom.session.rollback()
    yield
    rom.session.rollback()


class TestNames:
    def test_module_defines_every_name(self) -> None:
        """rom.exceptions defines rom 1.1.2's twelve names and rom's own two."""
        for name in ALL_NAMES:
            assert isinstance(getattr(exceptions, name), type)

    def test_module_all_lists_the_names(self) -> None:
        """rom.exceptions.__all__ is exactly those fourteen names."""
        assert sorted(exceptions.__all__) == ALL_NAMES

    def test_top_level_reexports_all_but_bulk_and_unsafe(self) -> None:
        """rom re-exports every exception except BulkError and UnsafeError."""
        exported = set(ALL_NAMES) - {"BulkError", "UnsafeError"}
        for name in exported:
            assert getattr(rom, name) is getattr(exceptions, name)
            assert name in rom.__all__
        assert "BulkError" not in rom.__all__
        assert not hasattr(rom, "BulkError")


class TestHierarchy:
    @pytest.mark.parametrize("name", ALL_NAMES)
    def test_public_ancestry_matches_spec(self, name: str) -> None:
        """Each exception descends from exactly the rom classes rom 1.1.2 gives it."""
        cls = getattr(exceptions, name)
        assert public_ancestors(cls) == ANCESTRY[name]

    def test_orm_error_is_a_plain_exception(self) -> None:
        """ORMError derives directly from Exception."""
        assert exceptions.ORMError.__bases__ == (Exception,)

    def test_entity_deleted_is_not_a_data_race(self) -> None:
        """EntityDeletedError is deliberately not a DataRaceError subclass."""
        assert not issubclass(exceptions.EntityDeletedError, exceptions.DataRaceError)
        assert not issubclass(exceptions.DataRaceError, exceptions.EntityDeletedError)

    def test_every_error_is_caught_by_orm_error(self) -> None:
        """An ``except ORMError`` clause catches every rom exception."""
        for name in ALL_NAMES:
            with pytest.raises(exceptions.ORMError):
                raise getattr(exceptions, name)("boom")


class TestEntityErrorArgs:
    @pytest.mark.parametrize("name", ENTITY_ERRORS)
    def test_args_are_message_namespace_id(self, name: str) -> None:
        """args is (message, namespace, id), as rom 1.1.2 builds them."""
        error = getattr(exceptions, name)("it failed", "Ns", "7")
        assert error.args == ("it failed", "Ns", "7")

    @pytest.mark.parametrize("name", ENTITY_ERRORS)
    def test_str_is_the_message(self, name: str) -> None:
        """str() of the error is the message alone, not the args tuple."""
        assert str(getattr(exceptions, name)("it failed", "Ns", "7")) == "it failed"

    @pytest.mark.parametrize("name", ENTITY_ERRORS)
    def test_namespace_and_id_are_attributes(self, name: str) -> None:
        """The namespace and id are also readable as attributes."""
        error = getattr(exceptions, name)("it failed", "Ns", "7")
        assert (error.namespace, error.id) == ("Ns", "7")


class TestValueErrorMessages:
    def test_wrong_type_names_model_column_and_value(self) -> None:
        """A refused constructor value names the model, the column and the value."""
        with pytest.raises(exceptions.InvalidColumnValue) as info:
            ExcValues(count=1, name=12345)
        message = str(info.value)
        assert "ExcValues.name" in message
        assert "12345" in message
        assert (info.value.model, info.value.column, info.value.value) == (
            "ExcValues",
            "name",
            12345,
        )

    def test_assignment_error_names_model_column_and_value(self) -> None:
        """A refused assignment names the model, the column and the value."""
        entity = ExcValues(count=1)
        with pytest.raises(exceptions.InvalidColumnValue) as info:
            entity.count = "many"
        message = str(info.value)
        assert "ExcValues.count" in message
        assert "'many'" in message

    def test_refused_assignment_keeps_the_old_value(self) -> None:
        """A refused assignment leaves the attribute unchanged."""
        entity = ExcValues(count=1)
        with pytest.raises(exceptions.InvalidColumnValue):
            entity.count = "many"
        assert entity.count == 1

    def test_missing_required_names_namespace_and_column(self) -> None:
        """MissingColumn says '<ns>.<attr> cannot be missing'."""
        with pytest.raises(exceptions.MissingColumn, match=r"ExcValues\.count"):
            ExcValues()
        with pytest.raises(exceptions.MissingColumn, match="cannot be missing"):
            ExcValues(name="x")

    def test_nulling_required_is_invalid_operation(self) -> None:
        """Setting a required column to None says it cannot be null."""
        entity = ExcValues(count=1)
        with pytest.raises(exceptions.InvalidOperation, match="cannot be null"):
            entity.count = None
        with pytest.raises(exceptions.InvalidOperation, match=r"ExcValues\.count"):
            del entity.count

    def test_extra_columns_are_named(self) -> None:
        """Unknown constructor keywords are listed in the message."""
        with pytest.raises(exceptions.InvalidColumnValue) as info:
            ExcValues(count=1, colour="red")
        assert "Extra columns passed but not valid" in str(info.value)
        assert "colour" in str(info.value)

    def test_primary_key_on_creation_is_refused(self) -> None:
        """Passing the primary key says it cannot be passed on creation."""
        with pytest.raises(
            exceptions.InvalidColumnValue,
            match="Cannot pass primary key on object creation",
        ):
            ExcValues(count=1, id=5)

    def test_assigning_primary_key_is_invalid_operation(self) -> None:
        """Assigning the primary key says it cannot be updated."""
        entity = ExcValues(count=1)
        with pytest.raises(
            exceptions.InvalidOperation, match="Cannot update primary key value"
        ):
            entity.id = 3

    def test_assigning_index_only_is_invalid_value(self) -> None:
        """Assigning an IndexOnly column raises InvalidColumnValue naming it."""
        entity = ExcValues(count=1)
        with pytest.raises(exceptions.InvalidColumnValue, match=r"ExcValues\.tags"):
            entity.tags = "x"

    def test_datetime_from_a_date_is_invalid_value(self) -> None:
        """A date given to a DateTime column raises InvalidColumnValue."""
        with pytest.raises(exceptions.InvalidColumnValue, match=r"ExcValues\.born"):
            ExcValues(count=1, born=datetime.date(2020, 1, 2))

    def test_json_from_an_int_is_invalid_value(self) -> None:
        """An int given to a Json column raises InvalidColumnValue."""
        with pytest.raises(exceptions.InvalidColumnValue, match=r"ExcValues\.data"):
            ExcValues(count=1, data=5)
