"""Model panel: choose the mapping and the method, see the model card, load a model file.

The panel lists :class:`~fesgui.gui.controller.ModelEntry` objects and reports the chosen
file as ``model_chosen(path)``; a file picked with "Load model file…" is reported as
``file_loaded(path)``. It holds no model itself.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from fesgui import names


def mapping_label(meta: dict) -> str:
    """'neutral → happy' from a model's metadata."""
    return f"{meta.get('source') or '?'} → {meta.get('target') or '?'}"


def method_label(meta: dict) -> str:
    """'MR 5×5', 'Pixel-RR', 'Pixel-KR' (plus dilation): :func:`fesgui.names.method_label`
    with the multiplication sign."""
    return names.method_label(meta, times="×")


def detail_label(meta: dict) -> str:
    """'128×128, shared colour': what tells two models of one method apart."""
    h, w = (meta.get("image_size") or ["?", "?"])[:2]
    return f"{h}×{w}, {meta.get('color', '?')} colour"


def _disambiguate(labels: list[str], extras: list[str]) -> list[str]:
    """Append the extra text to labels that occur more than once."""
    return [f"{lb} — {x}" if labels.count(lb) > 1 else lb
            for lb, x in zip(labels, extras, strict=True)]


def _test_mse(meta: dict) -> str:
    metrics = meta.get("metrics") or {}
    for key in ("test_mse", "mse_test", "mse"):
        if key in metrics:
            return f"{float(metrics[key]):.5f}"
    test = metrics.get("test") if isinstance(metrics.get("test"), dict) else None
    if test and "mse" in test:
        return f"{float(test['mse']):.5f}"
    return "not recorded"


def _training_rows(data: Any) -> list[tuple[str, str]]:
    """Readable rows from ``meta["training_data"]`` (a dict from fesgui training, or text)."""
    if not data:
        return [("Training data", "not recorded")]
    if not isinstance(data, dict):
        return [("Training data", str(data))]
    rows = [("Training data", str(data.get("name", "?")))]
    if all(k in data for k in ("n_train", "n_val", "n_test")):
        rows.append(("People (train / val / test)",
                     f"{data['n_train']} / {data['n_val']} / {data['n_test']}"))
    for key, label in (("attribution", "Attribution"), ("license", "Licence"),
                       ("alignment", "Alignment")):
        if data.get(key):
            rows.append((label, str(data[key])))
    return rows


def _metric_rows(metrics: dict) -> list[tuple[str, str]]:
    rows = [("Test MSE", _test_mse({"metrics": metrics}))]
    if isinstance(metrics.get("ssim"), int | float):
        rows.append(("Test SSIM", f"{float(metrics['ssim']):.4f}"))
    identity = (metrics.get("baselines") or {}).get("identity") or {}
    if isinstance(identity.get("mse"), int | float):
        rows.append(("MSE of no change", f"{float(identity['mse']):.5f} (input as output)"))
    return rows


def model_card_html(entry: Any) -> str:
    """The model card of a :class:`ModelEntry`: mapping, size, parameters, test MSE."""
    meta = entry.meta
    rows = [
        ("File name", entry.name),
        ("Mapping", mapping_label(meta)),
        ("Method", method_label(meta)),
        ("Colour", str(meta.get("color", "?"))),
        ("Image size", detail_label(meta).split(",")[0] + " px"),
        ("Regularisation λ", str(meta.get("lam", "?"))),
    ]
    if meta.get("method") == "pixel-kr":
        rows.append(("Kernel σ", str(meta.get("sigma", "?"))))
    n_params = meta.get("n_parameters")
    if n_params:
        rows.append(("Parameters", f"{int(n_params):,}"))
    rows += _metric_rows(meta.get("metrics") or {})
    rows += _training_rows(meta.get("training_data"))
    rows.append(("File", f"{entry.path} ({entry.size_bytes / 1e6:.2f} MB)"))
    body = "".join(f"<tr><th align='left' valign='top'>{html.escape(k)}</th>"
                   f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
    title = str(meta.get("name") or entry.name)
    return f"<h3>{html.escape(title)}</h3><table cellspacing='4'>{body}</table>"


class ModelCardDialog(QDialog):
    """A small window showing one model card."""

    def __init__(self, entry: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model card — {entry.name}")
        self.text = QTextBrowser()
        self.text.setHtml(model_card_html(entry))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(480, 380)


class ModelPanel(QWidget):
    """Mapping and method pickers, the model card button and "Load model file…"."""

    model_chosen = Signal(str)  # path of the chosen model file
    file_loaded = Signal(str)  # path picked with "Load model file…"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mapping = QComboBox()
        self.method = QComboBox()
        self.method.setPlaceholderText("no model loaded")
        self.card_button = QPushButton("Model card…")
        self.load_button = QPushButton("Load model file…")
        self.empty = QLabel("No models installed. Train one with <b>fesgui train</b> or "
                            "use <b>Load model file…</b>.")
        self.empty.setWordWrap(True)
        self.empty.setTextFormat(Qt.TextFormat.RichText)
        form = QFormLayout()
        form.addRow("Mapping", self.mapping)
        form.addRow("Method", self.method)
        buttons = QHBoxLayout()
        buttons.addWidget(self.card_button)
        buttons.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.entries: list[Any] = []
        self.current: Path | None = None
        self.last_folder = ""
        self._dialog: ModelCardDialog | None = None
        self.mapping.currentIndexChanged.connect(self._mapping_changed)
        self.method.activated.connect(self._method_activated)
        self.card_button.clicked.connect(self.show_card)
        self.load_button.clicked.connect(self.ask_for_file)
        self.set_entries([])

    def set_entries(self, entries: list[Any]) -> None:
        """Show these models (the current one stays selected if still listed)."""
        self.entries = list(entries)
        self.empty.setVisible(not self.entries)
        for box in (self.mapping, self.method):
            box.setEnabled(bool(self.entries))
        self.card_button.setEnabled(False)
        mappings = sorted({mapping_label(e.meta) for e in self.entries})
        self.mapping.blockSignals(True)
        self.mapping.clear()
        self.mapping.addItems(mappings)
        self.mapping.blockSignals(False)
        if self.current is not None and self.entry(self.current) is not None:
            self.set_current(self.current)
        else:
            self._fill_methods()
            self.method.setCurrentIndex(-1)  # listed, none loaded yet

    def entry(self, path: str | Path) -> Any:
        return next((e for e in self.entries if e.path == Path(path)), None)

    def set_current(self, path: str | Path | None) -> None:
        """Select the model at ``path`` in both combo boxes (no signal)."""
        self.current = None if path is None else Path(path)
        entry = None if path is None else self.entry(path)
        self.card_button.setEnabled(entry is not None)
        if entry is None:  # nothing loaded: the method box names no model
            self.method.setCurrentIndex(-1)
            return
        self.mapping.blockSignals(True)
        self.mapping.setCurrentText(mapping_label(entry.meta))
        self.mapping.blockSignals(False)
        self._fill_methods()
        index = self.method.findData(str(entry.path))
        self.method.setCurrentIndex(index)

    def _fill_methods(self) -> None:
        mapping = self.mapping.currentText()
        chosen = [e for e in self.entries if mapping_label(e.meta) == mapping]
        labels = [method_label(e.meta) for e in chosen]
        labels = _disambiguate(labels, [detail_label(e.meta) for e in chosen])
        labels = _disambiguate(labels, [e.name for e in chosen])
        labels = [f"{e.name} (yours: {lb})" if getattr(e, "user", False) else lb
                  for e, lb in zip(chosen, labels, strict=True)]
        self.method.clear()
        for entry, label in zip(chosen, labels, strict=True):
            self.method.addItem(label, str(entry.path))
            self.method.setItemData(self.method.count() - 1, str(entry.path),
                                    Qt.ItemDataRole.ToolTipRole)

    def _mapping_changed(self, _index: int) -> None:
        """Another mapping: the same method (and crop) if that mapping has it, else the first."""
        previous = self.entry(self.current) if self.current is not None else None
        self._fill_methods()
        if self.method.count():
            index = self._same_method_index(previous)
            self.method.setCurrentIndex(index)
            self._method_activated(index)

    def _same_method_index(self, previous: Any) -> int:
        """Row of the method box whose model is most like ``previous``: same method, window,
        dilation, colour and crop (and both shipped or both the user's), then the same method
        and window; 0 if none is."""
        if previous is None:
            return 0

        def key(entry: Any, fields: tuple[str, ...]) -> list:
            return [entry.meta.get(k) for k in fields] + [bool(getattr(entry, "user", False))]

        full = ("method", "size", "dilation", "color", "image_size")
        for fields in (full, full[:2]):
            for row in range(self.method.count()):
                entry = self.entry(self.method.itemData(row))
                if entry is not None and key(entry, fields) == key(previous, fields):
                    return row
        return 0

    def _method_activated(self, index: int) -> None:
        path = self.method.itemData(index)
        if path and Path(path) != self.current:
            self.current = Path(path)
            self.model_chosen.emit(path)

    def choose(self, path: str | Path) -> None:
        """Select and request the model at ``path`` (as a user click would)."""
        self.set_current(path)
        self.model_chosen.emit(str(path))

    def show_card(self) -> ModelCardDialog | None:
        entry = None if self.current is None else self.entry(self.current)
        if entry is None:
            return None
        self._dialog = ModelCardDialog(entry, self)
        self._dialog.show()
        return self._dialog

    def ask_for_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model file", self.last_folder,
                                              "fesgui models (*.npz);;All files (*)")
        if path:
            self.file_loaded.emit(path)
