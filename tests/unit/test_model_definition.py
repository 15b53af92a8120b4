"""Model class creation and column declaration checks.

No Redis is needed: declaring models and constructing entities never talks
to the server. Models declared inside a test use ``fresh_models`` and names
starting with ``Mdef`` so they are unique in the whole test session.
"""

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest

import rom
from rom import columns
from rom import keygen
from rom.exceptions import ColumnError
from rom.exceptions import ORMError


class MdefBase(rom.Model):
    name = rom.Text()
    size = rom.Integer(index=True)


class MdefChild(MdefBase):
    extra = rom.Float()


class MdefRenamed(rom.Model):
    _namespace = "mdef_renamed_ns"
    value = rom.Integer()


@pytest.fixture(autouse=True)
def empty_session() -> Iterator[None]:
    """Keep entities built here out of other tests' sessions."""
    rom.session.rollback()
    yield
    rom.session.rollback()


def keygen_name(column: Any) -> str | None:
    """The name of the keygen a column ended up with (None if none)."""
    return column._keygen_name if column.keygen is not None else None


class TestNamespace:
    def test_namespace_defaults_to_class_name(self) -> None:
        """Without _namespace the namespace is the class name."""
        assert MdefBase._namespace == "MdefBase"

    def test_namespace_attribute_overrides(self) -> None:
        """A str _namespace becomes the model's namespace."""
        assert MdefRenamed._namespace == "mdef_renamed_ns"

    def test_model_registered_under_name_and_namespace(self) -> None:
        """MODELS maps both the class name and the namespace to the class."""
        assert rom.MODELS["MdefRenamed"] is MdefRenamed
        assert rom.MODELS["mdef_renamed_ns"] is MdefRenamed
        assert rom.columns.MODELS is rom.MODELS

    def test_base_model_is_registered(self) -> None:
        """MODELS contains 'Model' itself."""
        assert rom.MODELS["Model"] is rom.Model

    def test_non_string_namespace_is_refused(self, fresh_models: None) -> None:
        """A _namespace that is not a str raises ORMError."""
        with pytest.raises(ORMError, match="_namespace must be a str"):

            class MdefBadNs(rom.Model):
                _namespace = 42
                value = rom.Integer()

        assert "MdefBadNs" not in rom.MODELS

    def test_duplicate_class_name_is_refused(self, fresh_models: None) -> None:
        """A second model with an existing class name raises ORMError."""
        with pytest.raises(ORMError, match="Cannot have two models"):

            class MdefBase(rom.Model):  # type: ignore[no-redef]
                value = rom.Integer()

        assert rom.MODELS["MdefBase"].__module__ == __name__

    def test_duplicate_namespace_is_refused(self, fresh_models: None) -> None:
        """A namespace already used by another model raises ORMError."""
        with pytest.raises(ORMError, match="mdef_renamed_ns"):

            class MdefOtherName(rom.Model):
                _namespace = "mdef_renamed_ns"
                value = rom.Integer()

        assert "MdefOtherName" not in rom.MODELS

    def test_namespace_equal_to_another_class_name_is_refused(
        self, fresh_models: None
    ) -> None:
        """A namespace equal to an existing class name raises ORMError."""
        with pytest.raises(ORMError, match="Cannot have two models"):

            class MdefSteals(rom.Model):
                _namespace = "MdefBase"
                value = rom.Integer()

    def test_model_name_is_reserved(self, fresh_models: None) -> None:
        """No user model may be named Model."""
        with pytest.raises(ORMError, match="Cannot have two models"):

            class Model(rom.Model):
                value = rom.Integer()

        assert rom.MODELS["Model"] is rom.Model


class TestInheritance:
    def test_subclass_inherits_columns(self) -> None:
        """A subclass has its base's columns followed by its own."""
        assert list(MdefChild._columns) == ["name", "size", "extra", "id"]

    def test_subclass_has_its_own_namespace(self) -> None:
        """A subclass stores its data under its own class name."""
        assert MdefChild._namespace == "MdefChild"
        assert rom.MODELS["MdefChild"] is MdefChild

    def test_subclass_keeps_index_declarations(self) -> None:
        """An inherited indexed column is indexed on the subclass too."""
        assert MdefChild._index == {"size"}

    def test_subclass_entity_accepts_inherited_columns(self) -> None:
        """Constructing a subclass entity takes the inherited columns."""
        entity = MdefChild(name="n", size=3, extra=1.5)
        assert (entity.name, entity.size, entity.extra) == ("n", 3, 1.5)


class TestPrimaryKey:
    def test_default_primary_key_is_id_added_last(self) -> None:
        """Without a PrimaryKey column, ``id`` is added as the last column."""
        assert MdefBase._pkey == "id"
        assert list(MdefBase._columns)[-1] == "id"
        assert isinstance(MdefBase._columns["id"], rom.PrimaryKey)

    def test_custom_primary_key_name(self, fresh_models: None) -> None:
        """A PrimaryKey column under another name becomes _pkey; no id is added."""

        class MdefCustomPk(rom.Model):
            key = rom.PrimaryKey()
            value = rom.Integer()

        assert MdefCustomPk._pkey == "key"
        assert list(MdefCustomPk._columns) == ["key", "value"]

    def test_non_primary_key_named_id_is_refused(self, fresh_models: None) -> None:
        """A column named id that is not the PrimaryKey raises ColumnError."""
        with pytest.raises(ColumnError, match="Cannot have non-primary key named 'id'"):

            class MdefIdColumn(rom.Model):
                id = rom.Integer()

    def test_id_column_allowed_beside_custom_primary_key(
        self, fresh_models: None
    ) -> None:
        """With another PrimaryKey, a plain column may be named id."""

        class MdefIdBeside(rom.Model):
            key = rom.PrimaryKey()
            id = rom.Integer()

        assert MdefIdBeside._pkey == "key"
        assert isinstance(MdefIdBeside._columns["id"], rom.Integer)

    def test_two_primary_keys_are_refused(self, fresh_models: None) -> None:
        """Two PrimaryKey columns raise ColumnError."""
        with pytest.raises(ColumnError, match="PrimaryKey"):

            class MdefTwoPks(rom.Model):
                one = rom.PrimaryKey()
                two = rom.PrimaryKey()

    def test_indexed_primary_key_is_in_index_set(self, fresh_models: None) -> None:
        """PrimaryKey(index=True) puts the pk in _index."""

        class MdefIndexedPk(rom.Model):
            id = rom.PrimaryKey(index=True)
            value = rom.Integer()

        assert MdefIndexedPk._index == {"id"}


class TestBookkeeping:
    def test_columns_in_definition_order(self, fresh_models: None) -> None:
        """_columns maps attribute names to columns in definition order."""

        class MdefOrder(rom.Model):
            zeta = rom.Integer()
            alpha = rom.Text()
            mid = rom.UnsafeColumn()

        assert list(MdefOrder._columns) == ["zeta", "alpha", "mid", "id"]
        assert MdefOrder._columns["alpha"] is MdefOrder.__dict__["alpha"]

    def test_sets_of_required_index_unique_prefix_suffix(
        self, fresh_models: None
    ) -> None:
        """_required, _index, _unique, _prefix and _suffix list the columns."""

        class MdefSets(rom.Model):
            a = rom.Integer(required=True, index=True)
            b = rom.Text(unique=True)
            c = rom.Text(prefix=True, suffix=True, keygen=rom.SIMPLE)
            d = rom.Text(index=True, keygen=rom.FULL_TEXT)
            e = rom.Float()

        assert MdefSets._required == {"a"}
        assert MdefSets._index == {"a", "d"}
        assert MdefSets._unique == {"b"}
        assert MdefSets._prefix == {"c"}
        assert MdefSets._suffix == {"c"}

    def test_references_are_always_indexed(self, fresh_models: None) -> None:
        """ManyToOne, OneToOne and ForeignModel columns are in _index."""

        class MdefRefTarget(rom.Model):
            value = rom.Integer()

        class MdefReferrer(rom.Model):
            one = rom.ManyToOne("MdefRefTarget", "no action")
            two = rom.OneToOne("MdefRefTarget", "no action")
            three = rom.ForeignModel(MdefRefTarget)

        assert MdefReferrer._index == {"one", "two", "three"}
        assert MdefReferrer._no_fk is False
        assert MdefRefTarget._no_fk is True

    def test_column_knows_its_attribute_name(self) -> None:
        """Each column object is bound to its attribute name."""
        assert MdefBase._columns["size"].attr == "size"


class TestUniqueTogether:
    def test_groups_are_sorted_and_deduplicated(self, fresh_models: None) -> None:
        """Each group becomes a sorted tuple of distinct names in _cunique."""

        class MdefPair(rom.Model):
            b = rom.Text()
            a = rom.Integer()
            c = rom.Text()
            unique_together = [("b", "a", "b"), ("c", "a")]  # noqa: RUF012

        assert tuple(MdefPair._cunique) == (("a", "b"), ("a", "c"))

    def test_single_flat_tuple_is_one_group(self, fresh_models: None) -> None:
        """A flat tuple of names is accepted as a single group."""

        class MdefFlat(rom.Model):
            x = rom.Text()
            y = rom.Text()
            unique_together = ("y", "x")

        assert tuple(MdefFlat._cunique) == (("x", "y"),)

    @pytest.mark.parametrize(
        "groups",
        [
            [("x",)],
            [("x", "x")],
            [("x", "y"), ("y", "x")],
            [("x", "nope")],
            [("x", "id")],
        ],
        ids=["one-column", "one-distinct", "duplicate", "unknown", "primary-key"],
    )
    def test_bad_groups_are_refused(
        self, fresh_models: None, groups: list[tuple[str, ...]]
    ) -> None:
        """Groups of one, repeated groups, unknown columns and the pk are refused."""
        with pytest.raises(ColumnError):

            class MdefBadGroup(rom.Model):
                x = rom.Text()
                y = rom.Text()
                unique_together = groups

        assert "MdefBadGroup" not in rom.MODELS


class TestGeoIndexDeclaration:
    def test_geo_index_must_be_a_list(self, fresh_models: None) -> None:
        """A geo_index that is not a list of GeoIndex raises ORMError."""
        with pytest.raises(ORMError, match="geo_index"):

            class MdefGeoBad(rom.Model):
                lon = rom.Float()
                geo_index = rom.GeoIndex("here", lambda e: None)

    def test_duplicate_geo_names_are_refused(self, fresh_models: None) -> None:
        """Two geo indexes with one name raise ColumnError."""
        with pytest.raises(ColumnError, match="here"):

            class MdefGeoTwice(rom.Model):
                lon = rom.Float()
                geo_index = [  # noqa: RUF012
                    rom.GeoIndex("here", lambda e: None),
                    rom.GeoIndex("here", lambda e: None),
                ]

    def test_geo_indexes_are_recorded_by_name(self, fresh_models: None) -> None:
        """_geo maps each geo index name to its GeoIndex."""
        index = rom.GeoIndex("here", lambda e: None)

        class MdefGeoOk(rom.Model):
            lon = rom.Float()
            geo_index = [index]  # noqa: RUF012

        assert MdefGeoOk._geo == {"here": index}


class TestColumnDeclaration:
    def test_keygen_without_index_is_refused(self) -> None:
        """A keygen with none of index/prefix/suffix/unique raises ColumnError."""
        with pytest.raises(ColumnError):
            rom.Text(keygen=rom.FULL_TEXT)
        with pytest.raises(ColumnError):
            rom.Text(keygen2=lambda attr, data: [])

    def test_bare_column_is_refused(self) -> None:
        """Column() has no value type and raises ColumnError."""
        with pytest.raises(ColumnError):
            rom.Column()

    @pytest.mark.parametrize(
        "make",
        [rom.Float, rom.Decimal, rom.DateTime, rom.Date, rom.Time, rom.Json],
        ids=lambda f: f.__name__,
    )
    def test_unique_needs_string_or_integer(self, make: Callable[..., Any]) -> None:
        """unique=True on a non-string, non-integer column raises ColumnError."""
        with pytest.raises(
            ColumnError, match="Unique columns can only be strings or integers"
        ):
            make(unique=True)

    @pytest.mark.parametrize(
        "make",
        [rom.Integer, rom.Text, rom.String, rom.Boolean],
        ids=lambda f: f.__name__,
    )
    def test_unique_allowed_on_string_integer_and_bool(
        self, make: Callable[..., Any]
    ) -> None:
        """unique=True is accepted on Integer, Text, String and Boolean."""
        assert make(unique=True).unique is True

    def test_keygen_and_keygen2_together_are_refused(self) -> None:
        """Passing both keygen and keygen2 raises ColumnError."""
        with pytest.raises(ColumnError):
            rom.Text(index=True, keygen=rom.FULL_TEXT, keygen2=lambda a, d: [])

    def test_keygen2_is_used_as_is(self) -> None:
        """A keygen2 becomes the column's keygen unchanged."""

        def both(attr: str, data: Any) -> list[str]:
            return [attr]

        column = rom.Text(index=True, keygen2=both)
        assert column.keygen is both

    def test_index_on_json_needs_keygen(self) -> None:
        """Json(index=True) without a keygen raises ColumnError."""
        with pytest.raises(ColumnError, match="must provide keygen"):
            rom.Json(index=True)

    def test_index_on_json_with_keygen_is_fine(self) -> None:
        """Json(index=True, keygen=...) is accepted."""
        column = rom.Json(index=True, keygen=lambda v: list(v))
        assert column.index is True

    def test_boolean_index_gets_boolean_keygen(self) -> None:
        """Boolean(index=True) is indexed by the internal boolean keygen."""
        column = rom.Boolean(index=True)
        assert keygen_name(column) == keygen.boolean_keygen.__name__

    @pytest.mark.parametrize("flag", ["index", "prefix", "suffix"])
    @pytest.mark.parametrize("make", [rom.Text, rom.String], ids=lambda f: f.__name__)
    def test_indexed_string_needs_explicit_keygen(
        self, make: Callable[..., Any], flag: str
    ) -> None:
        """An indexed, prefix or suffix string column without keygen is refused."""
        with pytest.raises(ColumnError) as info:
            make(**{flag: True})
        assert rom.util.STRING_INDEX_KEYGENS_STR in str(info.value)
        for name in ("FULL_TEXT", "SIMPLE", "SIMPLE_CI", "IDENTITY", "IDENTITY_CI"):
            assert name in str(info.value)

    @pytest.mark.parametrize(
        "make",
        [rom.Integer, rom.Float, rom.Decimal, rom.DateTime, rom.Date, rom.Time],
        ids=lambda f: f.__name__,
    )
    def test_numeric_index_gets_numeric_keygen(self, make: Callable[..., Any]) -> None:
        """index=True on a numeric column uses the numeric keygen."""
        assert keygen_name(make(index=True)) == "_numeric_keygen"

    def test_prefix_on_number_gets_full_text(self) -> None:
        """Integer(prefix=True) without index indexes its digits with FULL_TEXT."""
        column = rom.Integer(prefix=True)
        assert keygen_name(column) == rom.FULL_TEXT.__name__

    def test_one_argument_keygen_keeps_its_name(self) -> None:
        """The wrapper around a one-argument keygen keeps its __name__."""
        assert keygen_name(rom.Text(index=True, keygen=rom.SIMPLE_CI)) == "SIMPLE_CI"

    def test_none_default_means_no_default(self) -> None:
        """default=None is the same as no default."""
        assert rom.Integer(default=None).default is columns.NULL

    def test_unindexed_column_has_no_keygen(self) -> None:
        """A plain column has no keygen."""
        assert rom.Integer().keygen is None


class TestIndexOnlyDeclaration:
    def test_needs_column_and_keygen_or_keygen2(self) -> None:
        """IndexOnly without (column and keygen) or keygen2 raises ValueError."""
        with pytest.raises(ValueError):
            rom.IndexOnly()
        with pytest.raises(ValueError):
            rom.IndexOnly(column="name")
        with pytest.raises(ValueError):
            rom.IndexOnly(keygen=rom.FULL_TEXT)

    def test_is_indexed_unless_unique_only(self) -> None:
        """The effective index is index or prefix or suffix or not unique."""
        assert rom.IndexOnly("name", rom.FULL_TEXT).index is True
        assert rom.IndexOnly("name", rom.FULL_TEXT, unique=True).index is False
        assert rom.IndexOnly("name", rom.FULL_TEXT, unique=True, prefix=True).index

    def test_never_stored(self, fresh_models: None) -> None:
        """An IndexOnly column is a column but holds no value."""

        class MdefIndexOnly(rom.Model):
            name = rom.Text()
            words = rom.IndexOnly("name", rom.FULL_TEXT)

        entity = MdefIndexOnly(name="a b")
        assert entity.words is None
        assert MdefIndexOnly._index == {"words"}


class TestUnsafeColumnDeclaration:
    @pytest.mark.parametrize("name", ["idx", "uidx", "pre", "suf", "geo"])
    def test_reserved_names_are_refused(self, fresh_models: None, name: str) -> None:
        """An UnsafeColumn may not be named like an index key suffix."""
        with pytest.raises(ColumnError, match="UnsafeColumn"):
            type(f"MdefUnsafe_{name}", (rom.Model,), {name: rom.UnsafeColumn()})

    def test_other_names_are_fine(self, fresh_models: None) -> None:
        """An UnsafeColumn with an ordinary name is accepted."""

        class MdefUnsafeOk(rom.Model):
            blob = rom.UnsafeColumn()

        assert "blob" in MdefUnsafeOk._columns


class TestRelationshipDeclaration:
    def test_on_delete_is_mandatory(self) -> None:
        """ManyToOne and OneToOne without on_delete raise ColumnError."""
        with pytest.raises(ColumnError, match="No on_delete action specified"):
            rom.ManyToOne("MdefBase")
        with pytest.raises(ColumnError, match="No on_delete action specified"):
            rom.OneToOne("MdefBase")

    def test_unknown_on_delete_is_refused(self) -> None:
        """An on_delete value outside ON_DELETE raises ColumnError."""
        with pytest.raises(ColumnError):
            rom.ManyToOne("MdefBase", "explode")

    def test_set_null_on_required_is_refused(self) -> None:
        """on_delete='set null' on a required column raises ColumnError."""
        with pytest.raises(ColumnError):
            rom.ManyToOne("MdefBase", "set null", required=True)

    def test_set_default_on_required_needs_default(self) -> None:
        """'set default' on a required column without a default is refused."""
        with pytest.raises(ColumnError):
            rom.ManyToOne("MdefBase", "set default", required=True)
        with pytest.raises(ColumnError):
            rom.ManyToOne("MdefBase", "set default", required=True, default=None)

    def test_one_to_many_second_argument_is_a_column(self) -> None:
        """OneToMany(ftable, <an on_delete value>) raises ColumnError."""
        with pytest.raises(ColumnError):
            rom.OneToMany("MdefBase", "cascade")

    def test_one_to_many_needs_column_when_ambiguous(self, fresh_models: None) -> None:
        """A column-less OneToMany to a model with two references is refused."""

        class MdefKid(rom.Model):
            mother = rom.ManyToOne("MdefParent", "no action")
            father = rom.ManyToOne("MdefParent", "no action")

        with pytest.raises(ColumnError):

            class MdefParent(rom.Model):
                kids = rom.OneToMany("MdefKid")

    def test_one_to_many_checked_when_referrer_comes_later(
        self, fresh_models: None
    ) -> None:
        """A later model with two references to a column-less OneToMany is refused."""

        class MdefHub(rom.Model):
            spokes = rom.OneToMany("MdefSpoke")

        with pytest.raises(ColumnError):

            class MdefSpoke(rom.Model):
                a = rom.ManyToOne("MdefHub", "no action")
                b = rom.ManyToOne("MdefHub", "no action")

    def test_one_to_many_with_column_is_fine(self, fresh_models: None) -> None:
        """Naming the column resolves the ambiguity."""

        class MdefKid3(rom.Model):
            mother = rom.ManyToOne("MdefParent3", "no action")
            father = rom.ManyToOne("MdefParent3", "no action")

        class MdefParent3(rom.Model):
            kids = rom.OneToMany("MdefKid3", "mother")

        assert MdefParent3._columns["kids"].column == "mother"

    def test_get_related_model(self, fresh_models: None) -> None:
        """get_related_model() returns MODELS[ftable], or None if undefined."""

        class MdefTarget(rom.Model):
            value = rom.Integer()

        class MdefPointer(rom.Model):
            to = rom.ManyToOne("MdefTarget", "no action")
            nowhere = rom.ManyToOne("MdefNotDefined", "no action")

        assert MdefPointer._columns["to"].get_related_model() is MdefTarget
        assert MdefPointer._columns["nowhere"].get_related_model() is None

    def test_references_are_recorded(self, fresh_models: None) -> None:
        """Each ManyToOne/OneToOne appends to MODELS_REFERENCED[ftable]."""

        class MdefRecorded(rom.Model):
            value = rom.Integer()

        class MdefRecorder(rom.Model):
            to = rom.ManyToOne("MdefRecorded", "cascade")

        assert rom.MODELS_REFERENCED["MdefRecorded"] == [
            ("MdefRecorder", "to", "cascade")
        ]
