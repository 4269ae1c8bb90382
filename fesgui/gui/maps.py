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

Every array is drawn exactly as the core returns it (``MapItem.data``); every map can be
exported as a PNG (rendered with its colormap) and a ``.npy`` (raw values).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from fesgui.core import alpha_stages, interpret, l1_map
from fesgui.errors import FesguiError
from fesgui.gui import inspect_views as views
from fesgui.pipeline import RefineParams

if TYPE_CHECKING:
    from fesgui.pipeline import FaceResult

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
STAGES = ("z", "dilated", "stepped", "alpha")
CELL_WIDTH = 170  # screen pixels per map column: narrow docks get fewer columns
MAX_COLUMNS = 4
ROW_HEIGHT = 150  # the least height of a row of maps (a dock scrolls rather than squeeze)
DISPLAY = ("RGB", "R", "G", "B")


class ModelMapsPanel(QtWidgets.QWidget):
    """Model maps: bias, ``W x``, L1 norm, ``|z|``, alpha stages, tap maps, importance.

    Public API (the main window depends on it): :meth:`set_model`, :meth:`set_face`,
    :meth:`set_params`. Extras: :meth:`select_pixel` outlines a pixel on every map,
    :attr:`pixel_clicked` ``(row, col)`` is emitted when a map is clicked,
    :meth:`export_map` writes one map as PNG + ``.npy``.
    """

    pixel_clicked = QtCore.Signal(int, int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: Any = None
        self._face: FaceResult | None = None
        self._params = RefineParams()  # until the window sends its slider values
        self._pixel: tuple[int, int] | None = None
        self._tap = 0
        self._alpha_key: tuple | None = None  # params the alpha views were drawn for
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
        """Draw the maps of ``model`` (any fitted ``fesgui.core`` model, or ``None``)."""
        self._model = model
        if not views.face_fits(model, self._face):
            self._face = None  # made for another model; the window sends a new one
        self._alpha_key = None
        self._tap = self._centre_tap() if model is not None else 0
        self._build_tap_buttons()
        self._refresh_model()

    def set_face(self, face: FaceResult | None, params: RefineParams) -> None:
        """Draw the input-dependent maps for ``face`` and the alpha stages for ``params``."""
        self.status_label.setText("")
        self._face = face
        self._refresh_face()
        self._update_params(params)

    def set_params(self, params: RefineParams) -> None:
        """Redraw the alpha stages for new refinement ``params`` (live slider values).

        The stages depend on the model and on k, tau, dilation radius and blur sigma only:
        unchanged values (e.g. a new video frame) redraw nothing."""
        self.status_label.setText("")
        self._update_params(params)

    def _update_params(self, params: RefineParams) -> None:
        self._params = params
        key = _alpha_key(params)
        if key != self._alpha_key:
            self._refresh_alpha()

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
        if self._model.method == "sparse":
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
        sparse = self._model.method == "sparse"
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
        self._alpha_key = None
        self._refresh_model()

    def _guard(self, draw) -> None:
        try:
            draw()
        except FesguiError as exc:
            self.status_label.setText(str(exc))

    def _refresh_model(self) -> None:
        self.status_label.setText("")
        if self._model is None:
            for item in self.maps.values():
                item.set_data(None)
            self.importance = None
            self.importance_bars.setOpts(height=[0, 0])
            self.tap_label.setText("tap")
            return
        self._guard(lambda: self.maps["s"].set_data(l1_map(self._model)))
        self._refresh_field()
        self._guard(lambda: self.maps["reach"].set_data(interpret.tap_reach_map(self._model)))
        self._refresh_tap()
        self._refresh_face()
        self._refresh_alpha()

    def _refresh_field(self) -> None:
        field = getattr(self._model, "shape_field_", None)
        if field is None:
            self.maps["field"].set_data(None, title="shape field (none: moves nothing)")
            return
        top = float(np.hypot(field[..., 0], field[..., 1]).max())
        self._guard(lambda: self.maps["field"].set_data(
            interpret.flow_image(field), title=f"shape field (up to {top:.1f} px)"))

    def field_vector(self, row: int, col: int) -> tuple[float, float] | None:
        """``(dx, dy)`` of the model's shape field at a pixel (None without a field)."""
        field = getattr(self._model, "shape_field_", None)
        return None if field is None else interpret.field_vector(field, row, col)

    def _refresh_tap(self) -> None:
        if self._model is None:
            return
        wc = views.weight_set(self._model, self.display_channel())
        dy, dx = np.asarray(self._model.taps())[self._tap]
        shared = int(self._model.weights_.shape[0]) == 1
        name = (f"tap slot {self._tap}" if self._model.method == "sparse"
                else f"tap ({dy}, {dx})")
        title = name + ("" if shared else f" · {'RGB'[wc]}")
        self.tap_label.setText(name)
        self._guard(lambda: self.maps["tap"].set_data(
            interpret.tap_map(self._model, self._tap, channel=wc), title=title))
        self._reset_markers()

    def _refresh_face(self) -> None:
        if self._model is None:
            return
        shown = self.display_channel()
        face = self._face
        if face is None:
            # the bias does not depend on the input: show it without a face
            bias = np.moveaxis(np.asarray(self._model.bias_), 0, -1)
            self.maps["b"].set_data(bias, channel=shown)
            for name in ("x", "wx", "y"):
                self.maps[name].set_data(None)
            self.importance = None
            self.importance_bars.setOpts(height=[0, 0])
            self._reset_markers()
            return

        def draw() -> None:
            wx, b = self._model.decompose(face.crop)
            self.maps["x"].set_data(face.crop, channel=shown)
            self.maps["wx"].set_data(wx, channel=shown)
            self.maps["b"].set_data(b, channel=shown)
            self.maps["y"].set_data(face.output, channel=shown)
            self.importance = interpret.importance(self._model, face.crop, parts=(wx, b))
            self.importance_bars.setOpts(height=list(self.importance))
            self.importance_plot.setYRange(0, max(max(self.importance), 1e-6) * 1.1)
            self.importance_title.setText(
                f"|W x| {self.importance[0]:.3f} vs |b| {self.importance[1]:.3f}")

        self._guard(draw)
        self._reset_markers()

    def _refresh_alpha(self) -> None:
        if self._model is None:
            return
        params = self._params

        def draw() -> None:
            self._alpha_key = None
            stages = alpha_stages(self._model, k=params.k, tau=params.tau,
                                  dilation_radius=params.dilation_radius,
                                  blur_sigma=params.blur_sigma, source=params.alpha_source)
            for name in STAGES:
                self.maps[name].set_data(stages[name])
            off = "" if params.enabled else " (off)"
            self.maps["alpha"].set_title(f"α blurred{off}")
            self.maps["stepped"].set_title(f"α stepped k={params.k:g} τ={params.tau:g}")
            self._alpha_key = _alpha_key(params)

        self._guard(draw)
        self._reset_markers()

    def _reset_markers(self) -> None:
        if self._pixel is not None:
            for item in self.maps.values():
                item.set_marker(*self._pixel)


def _alpha_key(params: RefineParams) -> tuple:
    """What the alpha stages depend on (besides the model)."""
    return (params.enabled, params.k, params.tau, params.dilation_radius, params.blur_sigma,
            params.alpha_source)
