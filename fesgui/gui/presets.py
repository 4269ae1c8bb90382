"""Named slider settings ("presets"): save the refinement sliders under a name, recall them.

Presets live in the settings file (:mod:`fesgui.gui.settings`), one INI group per preset,
one readable line per slider::

    [presets]
    Soft%20smile\\intensity=0.6
    Soft%20smile\\k=10
    ...

Every field of :class:`fesgui.pipeline.RefineParams` is stored, whatever fields it has
(a slider added later is saved too; a preset saved before it keeps that slider's default).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QPushButton,
    QWidget,
)

from fesgui.errors import FesguiError
from fesgui.gui.settings import open_settings
from fesgui.params import RefineParams

GROUP = "presets"


def check_name(name: str) -> str:
    """``name`` stripped; a FesguiError if it cannot name a preset."""
    name = str(name).strip()
    if not name:
        raise FesguiError("a preset needs a name: type one, e.g. 'soft smile'")
    if any(c in name for c in "/\\"):
        raise FesguiError(f"preset name {name!r} contains / or \\: use letters, digits and spaces")
    return name


def _to_text(value: Any) -> Any:
    """A field's value as stored (INI stores text; "" stands for None)."""
    return "" if value is None else value


def list_presets() -> list[str]:
    """The names of the saved presets, sorted."""
    s = open_settings()
    s.beginGroup(GROUP)
    names = sorted(s.childGroups(), key=str.lower)
    s.endGroup()
    return names


def save_preset(name: str, params: RefineParams) -> str:
    """Store ``params`` (RefineParams) as preset ``name`` (replacing one of that name)."""
    name = check_name(name)
    s = open_settings()
    s.remove(f"{GROUP}/{name}")
    for field in dataclasses.fields(params):
        s.setValue(f"{GROUP}/{name}/{field.name}", _to_text(getattr(params, field.name)))
    s.sync()
    return name


def load_preset(name: str) -> RefineParams:
    """The RefineParams saved as ``name`` (a FesguiError if there is none). A field the
    preset lacks, or whose value is out of range now, takes its default."""
    if name not in list_presets():
        raise FesguiError(f"no preset named {name!r}: choose one from the list")
    s = open_settings()
    return RefineParams.from_dict({field.name: s.value(f"{GROUP}/{name}/{field.name}", None)
                                   for field in dataclasses.fields(RefineParams)})


def delete_preset(name: str) -> None:
    s = open_settings()
    s.remove(f"{GROUP}/{name}")
    s.sync()


class PresetsBar(QWidget):
    """A presets list (choosing one applies it), "Save preset…" and "Delete" buttons.

    ``apply(params)`` is emitted with the chosen preset's RefineParams; ``current`` is a
    function returning the RefineParams on the sliders now (what "Save" stores).
    """

    apply = Signal(object)  # RefineParams
    saved = Signal(str)  # name

    def __init__(self, current: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current = current
        self.box = QComboBox()
        self.box.setPlaceholderText("Presets")
        self.box.setMinimumContentsLength(12)
        self.box.setToolTip("Recall named slider settings")
        self.save_button = QPushButton("Save preset…")
        self.save_button.setToolTip("Save the slider settings under a name")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the chosen preset")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.box)
        row.addWidget(self.save_button)
        row.addWidget(self.delete_button)
        self.box.activated.connect(self._chosen)
        self.save_button.clicked.connect(self.ask_save)
        self.delete_button.clicked.connect(self.delete_current)
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        names = list_presets()
        self.box.blockSignals(True)
        self.box.clear()
        self.box.addItems(names)
        self.box.setCurrentIndex(names.index(select) if select in names else -1)
        self.box.blockSignals(False)
        self.delete_button.setEnabled(bool(names))

    def save_as(self, name: str) -> str:
        name = save_preset(name, self.current())
        self.refresh(select=name)
        self.saved.emit(name)
        return name

    def ask_save(self) -> None:
        default = self.box.currentText() or ""
        name, ok = QInputDialog.getText(self, "Save preset", "Name of these slider settings:",
                                        text=default)
        if ok:
            self.save_as(name)

    def choose(self, name: str) -> Any:
        """Apply preset ``name`` (as picking it from the list does)."""
        params = load_preset(name)
        self.refresh(select=name)
        self.apply.emit(params)
        return params

    def _chosen(self, index: int) -> None:
        if index >= 0:
            self.choose(self.box.itemText(index))

    def delete_current(self) -> None:
        name = self.box.currentText()
        if name:
            delete_preset(name)
            self.refresh()
