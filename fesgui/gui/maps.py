"""Whole-image maps of a model: where it changes the face and how.

:class:`ModelMapsPanel` draws, as images:

* ``x`` the aligned input and ``y`` the model output (for orientation and clicking);
* ``W x`` the weights-only part and ``b`` the bias-only part of the output for the current
  input (MR paper Fig. 6; ``b`` alone is the bias map of Fig. 7) from ``model.decompose``;
* ``s`` the L1 norm of every receptive field including its bias (``l1_map``), ``|z|`` its
  standardised magnitude and the alpha map at each stage: dilated, stepped (logistic
  threshold), blurred (Fig. 15) from ``alpha_stages`` under the current slider values;
* the weight of one tap at every pixel (``interpret.tap_map``), with a tap selector laid
  out like the receptive field: where the model trusts the input;
* the relative importance of weights and bias, mean ``|W x|`` against mean ``|b|``
  (Fig. 8, ``interpret.importance``);
* the shape field (how the face moves before the appearance model; ``interpret.flow_image``:
  hue = the direction a pixel's content comes from, brightness = how far); hovering or
  clicking a pixel reads its vector.
* ``reach``: the distance to the farthest input pixel each output pixel reads
  (``interpret.tap_reach_map``): a sparse model's (LSRF, OMP) far-reaching taps. A sparse
  model's tap selector is one row of tap slots (slot k is a different pixel for each
  output pixel).

Every array is computed by the worker (:mod:`fesgui.views`: ``ModelViews`` per model and
refinement numbers, ``FaceViews`` per face) and drawn exactly as it arrives
(``MapItem.data``); this panel computes nothing. Every map can be exported as a PNG
(rendered with its colormap) and a ``.npy`` (raw values).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from fesgui.errors import FesguiError
from fesgui.gui import inspect_views as views

if TYPE_CHECKING:
    from fesgui.pipeline import FaceResult, RefineParams
    from fesgui.views import ModelViews

# name, title, kind: the order is the order on screen (three per row)
MAPS = (
    ("x", "input x", "image"),
    ("wx", "W x (weights)", "signed"),
    ("b", "b (bias)", "signed"),
    ("y", "output y", "image"),
    ("s", "L1 norm s", "positive"),
    ("z", "|z|", "positive"),
    ("dilated", "α dilated", "positive"),
    ("stepped", "α stepped", "positive"),
    ("alpha", "α blurred", "positive"),
    ("tap", "tap weights", "signed"),
    ("field", "shape field", "image"),
    ("reach", "farthest tap (px)", "positive"),
)
STAGES = ("z", "dilated", "stepped", "alpha")  # the alpha stages drawn (s is the L1 map)
CELL_WIDTH = 170  # screen pixels per map column: narrow docks get fewer columns
MAX_COLUMNS = 4
ROW_HEIGHT = 150  # the least height of a row of maps (a dock scrolls rather than squeeze)
DISPLAY = ("RGB", "R", "G", "B")


class ModelMapsPanel(QtWidgets.QWidget):
    """Model maps: bias, ``W x``, L1 norm, ``|z|``, alpha stages, tap maps, importance.

    Public API (the main window depends on it): :meth:`set_model`, :meth:`set_face` (a
    face with its views), :meth:`set_views` (the model's maps and alpha stages without a
    face). Extras: :meth:`select_pixel` outlines a pixel on every map,
    :attr:`pixel_clicked` ``(row, col)`` is emitted when a map is clicked,
    :meth:`export_map` writes one map as PNG + ``.npy``.
    """

    pixel_clicked = QtCore.Signal(int, int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: Any = None
        self._face: FaceResult | None = None
        self._views: ModelViews | None = None  # the worker's maps of the model, drawn
        self._drawn: tuple = (None, None, None)  # (maps, alpha, enabled) on screen
        self._pixel: tuple[int, int] | None = None
        self._tap = 0
        self.importance: tuple[float, float] | None = None
        self._build()
        self._refresh_model()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("show"))
        self.display_combo = QtWidgets.QComboBox()
        self.display_combo.addItems(list(DISPLAY))
        self.display_combo.setToolTip(
            "RGB: colour maps as images; R/G/B: one channel with a colormap")
        self.display_combo.currentIndexChanged.connect(lambda _i: self._redraw())
        bar.addWidget(self.display_combo)
        self.hover_label = QtWidgets.QLabel("")
        self.hover_label.setToolTip("the value of the map under the mouse")
        bar.addWidget(self.hover_label)
        bar.addStretch(1)
        # a push button with a menu leaves room for its arrow (a tool button drew it over
        # the text)
        self.export_button = QtWidgets.QPushButton("Export map…")
        menu = QtWidgets.QMenu(self.export_button)
        for name, title, _kind in MAPS:
            menu.addAction(title).triggered.connect(
                lambda _checked=False, n=name: self._ask_export(n))
        self.export_button.setMenu(menu)
        bar.addWidget(self.export_button)
        outer.addLayout(bar)

        self.graphics = views.CompactGraphics((480, 480))
        outer.addWidget(self.graphics, stretch=1)
        self.maps: dict[str, views.MapItem] = {}
        self._cells: list[Any] = []  # the grid cells in screen order (maps, importance)
        self._columns = 3
        for index, (name, title, kind) in enumerate(MAPS):
            cell = self.graphics.addLayout(row=index // self._columns,
                                           col=index % self._columns)
            self._cells.append(cell)
            self.maps[name] = views.MapItem(cell, name, title, kind,
                                            on_click=self._clicked,
                                            on_export=self._ask_export,
                                            on_hover=self._hovered)
        index = len(MAPS)
        # titled like the maps (a wrapping title: a plot title would widen its column)
        cell = self.graphics.addLayout(row=index // self._columns, col=index % self._columns)
        self._cells.append(cell)
        self.importance_title = views.TitleItem("importance (mean |·|)", size="9pt")
        cell.addItem(self.importance_title, row=0, col=0)
        self.importance_plot = cell.addPlot(row=1, col=0)
        self._fit_height()
        self.importance_plot.setMouseEnabled(x=False, y=False)
        self.importance_plot.hideButtons()
        self.importance_plot.getAxis("bottom").setTicks([[(0, "|W x|"), (1, "|b|")]])
        self.importance_bars = pg.BarGraphItem(x=[0, 1], height=[0, 0], width=0.6,
                                               brushes=[pg.mkBrush(60, 140, 255),
                                                        pg.mkBrush(230, 90, 60)])
        self.importance_plot.addItem(self.importance_bars)
        self.importance_plot.setXRange(-0.6, 1.6, padding=0)

        taps_row = QtWidgets.QHBoxLayout()
        self.tap_label = QtWidgets.QLabel("tap")
        taps_row.addWidget(self.tap_label)
        self.tap_box = QtWidgets.QWidget()
        self.tap_grid = QtWidgets.QGridLayout(self.tap_box)
        self.tap_grid.setSpacing(1)
        self.tap_grid.setContentsMargins(0, 0, 0, 0)
        self.tap_box.setStyleSheet(
            "QToolButton { background: #ddd; border: 1px solid #999; }"
            "QToolButton:checked { background: #f0b400; border: 1px solid #805000; }")
        self.tap_buttons = QtWidgets.QButtonGroup(self)
        self.tap_buttons.setExclusive(True)
        self.tap_buttons.idClicked.connect(self.set_tap)
        taps_row.addWidget(self.tap_box)
        taps_row.addStretch(1)
        outer.addLayout(taps_row)

        self.status_label = QtWidgets.QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setStyleSheet("color: #c0392b")
        outer.addWidget(self.status_label)
        self._exporter = views.MapExporter(self, self.maps, self.status_label)

    # ------------------------------------------------------------------ public API
    def set_model(self, model: Any) -> None:
        """Show ``model`` (any fitted ``fesgui.core`` model, or ``None``): its tap selector
        now, its maps when the worker's views for it arrive (:meth:`set_views`)."""
        self._model = model
        if not views.face_fits(model, self._face):
            self._face = None  # made for another model; the window sends a new one
        if self._views is not None and self._views.model is not model:
            self._views = None
        self._drawn = (None, None, None)
        self._tap = self._centre_tap() if model is not None else 0
        self._build_tap_buttons()
        self._refresh_model()

    def set_views(self, model_views: ModelViews | None) -> None:
        """Draw the model's maps and alpha stages (``fesgui.views.ModelViews``, computed
        by the worker). Views of another model than the one shown are ignored; views
        already on screen (the same arrays, e.g. a new video frame) redraw nothing."""
        if model_views is None or model_views.model is not self._model:
            return
        self._views = model_views
        self._refresh_views()

    def set_face(self, face: FaceResult | None, params: RefineParams | None = None) -> None:
        """Draw the input-dependent maps for ``face`` (a ``FaceResult`` with its views) and
        the model's maps and alpha stages it was made with. ``params``: unused (the face's
        views carry the params it was made with)."""
        self._face = face
        face_views = None if face is None else face.views
        if face_views is not None and face_views.model.model is self._model:
            self._views = face_views.model
            self._refresh_views()
        self._refresh_face()

    def select_pixel(self, row: int, col: int) -> None:
        """Outline pixel ``(row, col)`` on every map (does not emit :attr:`pixel_clicked`)."""
        self._pixel = (int(row), int(col))
        for item in self.maps.values():
            item.set_marker(*self._pixel)

    def selected_pixel(self) -> tuple[int, int] | None:
        """The pixel outlined on the maps (set by :meth:`select_pixel` or a click)."""
        return self._pixel

    def set_tap(self, tap: int) -> None:
        """Show the weights of tap number ``tap`` (row-major in the r x r window)."""
        if self._model is None:
            return
        n = len(self._model.taps())
        if not 0 <= tap < n:
            raise FesguiError(f"tap={tap} does not exist: use 0 to {n - 1}")
        self._tap = int(tap)
        button = self.tap_buttons.button(self._tap)
        if button is not None and not button.isChecked():
            button.setChecked(True)
        self._refresh_tap()

    def tap(self) -> int:
        """The tap whose weights the tap map shows."""
        return self._tap

    def display_channel(self) -> int | None:
        """``None`` for RGB display, else the channel shown (0 = R, 1 = G, 2 = B)."""
        index = self.display_combo.currentIndex()
        return None if index <= 0 else index - 1

    def set_display_channel(self, channel: int | None) -> None:
        """Show colour maps as RGB (``None``) or one channel (0, 1, 2) with a colormap."""
        self.display_combo.setCurrentIndex(0 if channel is None else int(channel) + 1)

    def export_map(self, name: str, path: str | Path) -> tuple[Path, Path]:
        """Write map ``name`` to ``<path stem>.png`` (as drawn) and ``<path stem>.npy``
        (the raw float values); both atomically."""
        return self._exporter.export(name, path)

    def columns(self) -> int:
        """How many maps sit side by side (follows the panel's width)."""
        return self._columns

    # ------------------------------------------------------------------ events
    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        self._reflow(max(1, min(MAX_COLUMNS, event.size().width() // CELL_WIDTH)))

    def _reflow(self, columns: int) -> None:
        """Lay the map cells out on ``columns`` columns (row by row, in screen order)."""
        if columns == self._columns:
            return
        grid = self.graphics.ci
        for cell in self._cells:
            grid.removeItem(cell)
        for index, cell in enumerate(self._cells):
            grid.addItem(cell, row=index // columns, col=index % columns)
        self._columns = columns
        self._fit_height()

    def _fit_height(self) -> None:
        rows = -(-len(self._cells) // self._columns)
        self.graphics.setMinimumHeight(rows * ROW_HEIGHT)

    def _clicked(self, row: int, col: int) -> None:
        self.select_pixel(row, col)
        self.pixel_clicked.emit(row, col)

    def _hovered(self, name: str, row: int, col: int) -> None:
        image = self.maps[name].image
        if image is None or row < 0:
            self.hover_label.setText("")
            return
        if name == "field":
            dx, dy = self.field_vector(row, col)
            self.hover_label.setText(f"shape at ({row}, {col}): fetches from "
                                     f"dx {dx:+.2f}, dy {dy:+.2f} px")
            return
        value = np.atleast_1d(image[row, col])
        shown = ", ".join(f"{float(v):.4f}" for v in value)
        self.hover_label.setText(f"{name} at ({row}, {col}) = {shown}")

    def _ask_export(self, name: str) -> None:
        self._exporter.ask(name)

    # ------------------------------------------------------------------ drawing
    def _centre_tap(self) -> int:
        if not self._model.local_window:
            return 0
        taps = np.asarray(self._model.taps())
        centre = np.flatnonzero((taps == 0).all(axis=1))
        return int(centre[0]) if centre.size else 0

    def _build_tap_buttons(self) -> None:
        for button in self.tap_buttons.buttons():
            self.tap_buttons.removeButton(button)
            button.deleteLater()
        if self._model is None:
            return
        taps = np.asarray(self._model.taps())
        sparse = not self._model.local_window
        size = len(taps) if sparse else int(self._model.meta["size"])  # sparse: one row
        for index, (dy, dx) in enumerate(taps):
            button = QtWidgets.QToolButton()
            button.setCheckable(True)
            button.setFixedSize(16, 16)
            button.setToolTip(f"tap slot {index} (a different pixel for each output pixel)"
                              if sparse else f"tap {index}: offset (dy, dx) = ({dy}, {dx})")
            button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            self.tap_buttons.addButton(button, index)
            self.tap_grid.addWidget(button, index // size, index % size)
        self.tap_buttons.button(self._tap).setChecked(True)

    def _redraw(self) -> None:
        self._drawn = (None, None, None)
        self._refresh_model()

    def _guard(self, draw) -> None:
        try:
            draw()
        except FesguiError as exc:
            self.status_label.setText(str(exc))

    def _refresh_model(self) -> None:
        """Redraw every map from what the panel holds (model, views, face)."""
        self.status_label.setText("")
        if self._model is None:
            for item in self.maps.values():
                item.set_data(None)
            self.importance = None
            self.importance_bars.setOpts(height=[0, 0])
            self.tap_label.setText("tap")
            return
        if self._views is None:
            for name in ("s", "reach", "field", "tap", *STAGES):
                self.maps[name].set_data(None)
        self._refresh_views()
        self._refresh_face()

    def _refresh_views(self) -> None:
        """Draw the model's maps and alpha stages that are not on screen yet."""
        mv = self._views
        if mv is None or self._model is None:
            return
        maps, alpha, enabled = mv.maps, mv.alpha, mv.enabled
        if maps is not self._drawn[0]:
            self.maps["s"].set_data(maps.s)
            self.maps["reach"].set_data(maps.reach)
            if maps.field is None:
                self.maps["field"].set_data(None, title="shape field (none: moves nothing)")
            else:
                self.maps["field"].set_data(
                    maps.flow, title=f"shape field (up to {maps.field_top:.1f} px)")
            self._refresh_tap()
            if self._face is None:
                self._refresh_face()
        if alpha is not self._drawn[1] or enabled != self._drawn[2]:
            self.status_label.setText(alpha.error or "")
            for name in STAGES:
                self.maps[name].set_data(alpha.stages.get(name))
            k, tau = mv.params.k, mv.params.tau
            self.maps["alpha"].set_title(f"α blurred{'' if enabled else ' (off)'}")
            self.maps["stepped"].set_title(f"α stepped k={k:g} τ={tau:g}")
        self._drawn = (maps, alpha, enabled)
        self._reset_markers()

    def field_vector(self, row: int, col: int) -> tuple[float, float] | None:
        """``(dx, dy)`` of the model's shape field at a pixel (None without a field)."""
        return None if self._views is None else self._views.maps.field_vector(row, col)

    def _refresh_tap(self) -> None:
        if self._model is None:
            return
        wc = views.weight_set(self._model, self.display_channel())
        dy, dx = np.asarray(self._model.taps())[self._tap]
        shared = int(self._model.weights_.shape[0]) == 1
        name = (f"tap slot {self._tap}" if not self._model.local_window
                else f"tap ({dy}, {dx})")
        title = name + ("" if shared else f" · {'RGB'[wc]}")
        self.tap_label.setText(name)
        if self._views is not None:
            self._guard(lambda: self.maps["tap"].set_data(
                self._views.maps.tap_map(self._tap, channel=wc), title=title))
        self._reset_markers()

    def _refresh_face(self) -> None:
        if self._model is None:
            return
        shown = self.display_channel()
        face = self._face
        face_views = None if face is None else face.views
        if face_views is None:
            # the bias does not depend on the input: show it without a face
            bias = None if self._views is None else self._views.maps.bias
            self.maps["b"].set_data(bias, channel=shown)
            self.maps["wx"].set_data(None)
            for name in ("x", "y"):
                self.maps[name].set_data(None if face is None else getattr(
                    face, "crop" if name == "x" else "output"), channel=shown)
            self.importance = None
            self.importance_bars.setOpts(height=[0, 0])
            self._reset_markers()
            return
        self.maps["x"].set_data(face.crop, channel=shown)
        self.maps["wx"].set_data(face_views.wx, channel=shown)
        self.maps["b"].set_data(face_views.b, channel=shown)
        self.maps["y"].set_data(face.output, channel=shown)
        if face_views.importance != self.importance:  # unchanged on a still re-run
            self.importance = face_views.importance
            self.importance_bars.setOpts(height=list(self.importance))
            self.importance_plot.setYRange(0, max(max(self.importance), 1e-6) * 1.1)
            self.importance_title.setText(
                f"|W x| {self.importance[0]:.3f} vs |b| {self.importance[1]:.3f}")
        self._reset_markers()

    def _reset_markers(self) -> None:
        if self._pixel is not None:
            for item in self.maps.values():
                item.set_marker(*self._pixel)

