"""Running a model's class statement again replaces its registration.

A reloaded module or a re-run notebook cell defines the same model again
(same module, same qualified name): the new class takes the place of the
old one. Two different classes with one name are still refused.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import rom
from rom import ORMError

SOURCE = """
import rom


class RdOwner(rom.Model):
    name = rom.Text()


class RdWidget(rom.Model):
    _namespace = {namespace!r}
    owner = rom.ManyToOne("RdOwner", on_delete={action!r})
    size = rom.Integer(index=True)
"""


@pytest.fixture
def module_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_models: None
) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "rd_widgets.py"
    path.write_text(SOURCE.format(namespace="rd:widget", action="cascade"))
    try:
        yield path
    finally:
        sys.modules.pop("rd_widgets", None)


def _import() -> ModuleType:
    importlib.invalidate_caches()
    return importlib.import_module("rd_widgets")


def test_reloading_a_module_replaces_its_models(module_file: Path) -> None:
    first = _import()
    old_widget = first.RdWidget
    again = importlib.reload(first)
    assert again.RdWidget is not old_widget
    assert rom.MODELS["RdWidget"] is again.RdWidget
    assert rom.MODELS["rd:widget"] is again.RdWidget
    assert rom.MODELS["RdOwner"] is again.RdOwner
    # The reference was recorded once, not once per run.
    assert rom.MODELS_REFERENCED["RdOwner"] == [("rd:widget", "owner", "cascade")]


def test_a_changed_definition_drops_the_old_namespace(module_file: Path) -> None:
    module = _import()
    module_file.write_text(SOURCE.format(namespace="rd:gadget", action="restrict"))
    # A fresh mtime-independent load: drop the cached bytecode's module.
    sys.modules.pop("rd_widgets")
    changed = _import()
    assert changed.RdWidget is not module.RdWidget
    assert "rd:widget" not in rom.MODELS
    assert rom.MODELS["rd:gadget"] is changed.RdWidget
    assert rom.MODELS["RdWidget"] is changed.RdWidget
    assert rom.MODELS_REFERENCED["RdOwner"] == [("rd:gadget", "owner", "restrict")]


def test_re_executing_a_class_body(fresh_models: None) -> None:
    code = textwrap.dedent(
        """
        import rom

        class RdCell(rom.Model):
            value = rom.Integer(index=True)
        """
    )
    first: dict[str, object] = {"__name__": "notebook_cell"}
    second: dict[str, object] = {"__name__": "notebook_cell"}
    exec(code, first)
    exec(code, second)
    assert first["RdCell"] is not second["RdCell"]
    assert rom.MODELS["RdCell"] is second["RdCell"]
    assert [m for m in rom.MODELS.values() if m is first["RdCell"]] == []


def test_the_same_name_in_another_module_is_refused(module_file: Path) -> None:
    _import()
    code = "import rom\n\nclass RdWidget(rom.Model):\n    size = rom.Integer()\n"
    with pytest.raises(ORMError, match=r"Cannot have two models.*rd_widgets\.RdWidget"):
        exec(code, {"__name__": "other_module"})
    assert rom.MODELS["RdWidget"].__module__ == "rd_widgets"


def test_the_same_name_in_another_scope_is_refused(fresh_models: None) -> None:
    class RdScoped(rom.Model):
        size = rom.Integer()

    def define() -> None:
        class RdScoped(rom.Model):  # another qualified name: define.<locals>
            size = rom.Integer()

    with pytest.raises(ORMError, match="Cannot have two models"):
        define()
    assert rom.MODELS["RdScoped"] is RdScoped


def test_a_redefinition_cannot_take_another_models_namespace(
    module_file: Path,
) -> None:
    _import()
    module_file.write_text(SOURCE.format(namespace="RdOwner", action="cascade"))
    sys.modules.pop("rd_widgets")
    with pytest.raises(ORMError, match="Cannot have two models"):
        _import()


def test_a_dropped_reference_is_forgotten(module_file: Path) -> None:
    _import()
    assert "RdOwner" in rom.MODELS_REFERENCED
    module_file.write_text(
        "import rom\n\n\nclass RdOwner(rom.Model):\n    name = rom.Text()\n\n\n"
        "class RdWidget(rom.Model):\n    _namespace = 'rd:widget'\n"
        "    size = rom.Integer(index=True)\n"
    )
    sys.modules.pop("rd_widgets")
    _import()
    assert "RdOwner" not in rom.MODELS_REFERENCED
