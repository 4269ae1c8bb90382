"""The pixel inspector: click a pixel, see the weights, the bias and the arithmetic behind it.

:class:`InspectorPanel` shows, for the selected output pixel ``(row, col)`` and channel:

* the receptive field: the ``r x r`` weights as a heat map (diverging colormap, symmetric
  levels ``±max|w|``), the input patch under the taps, and the footprint of the taps in
  the image (with dilation ``d`` the taps sit on a ``(d(r-1)+1)^2`` window with gaps);
* the arithmetic: ``sum w*x``, ``+ b``, ``= y`` (the model output), the alpha of the
  refinement and the refined value ``(1 - alpha) x + alpha y``, and the final value after
  the intensity blend (read from the pipeline's ``FaceResult``);
* the pixel's transfer curve (output against its own input over 0..255): the Pixel-KR
  table, the Pixel-RR line, for MR the centre-tap line.

A sparse receptive field model (the MR authors' LSRF / OMP, method "sparse") reads its
F taps anywhere in the image: the weights view shows its F tap slots in one row, the
overview marks the F input pixels on the aligned input with a line from the selected
pixel to each (:attr:`InspectorPanel.tap_marks`), the footprint plots their offsets, and
the arithmetic notes its min-max scaling (``Σ w·x + b`` is the matrix output ``z`` on the
scaled input; ``y`` is ``z`` scaled back).

Every number is the worker's (issue 17): the face's views (:class:`fesgui.views.FaceViews`,
with the alpha map the output was refined with) give the arithmetic and the transfer curve
of a pixel by indexing into the model's weights and the face's arrays; without a face the
receptive field and the bias are read from the model (``receptive_field``,
``tap_positions``: indexing). This module only draws. Arrow keys move the selection; :attr:`InspectorPanel.pixel_selected` is emitted
whenever the selection changes.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from fesgui.errors import FesguiError
from fesgui.gui import inspect_views as views
from fesgui.gui.model_panel import detail_label, mapping_label, method_label
from fesgui.views import pixel_curve

if TYPE_CHECKING:
    from fesgui.pipeline import FaceResult, RefineParams

CHANNEL_NAMES = ("R", "G", "B")
ARITHMETIC_ROWS = (
    ("input", "x", "input value at the pixel"),
    ("wx", "Σ w·x", "weights times the input patch, summed over the taps"),
    ("bias", "+ b", "the pixel's bias"),
    ("output", "= y", "model output (what predict gives at this pixel)"),
    ("alpha", "α", "refinement weight of this pixel (alpha map)"),
    ("refined", "y′ = (1−α)x + αy", "value after the blur refinement (RMR)"),
    ("final", "final", "value after the intensity blend: what is pasted back"),
)
ARROWS = views.ARROWS  # arrow key -> (drow, dcol); the crop views share it


def fmt(value: float | None) -> str:
    """How every number of the arithmetic is displayed (6 decimals)."""
    return "—" if value is None else f"{float(value):.6f}"


class InspectorPanel(QtWidgets.QWidget):
    """Receptive field, bias and arithmetic of one selected output pixel.

    Public API (the main window depends on it): :meth:`set_model`, :meth:`set_face`,
    :meth:`select_pixel` and the signal :attr:`pixel_selected` ``(row, col)``.
    """

    pixel_selected = QtCore.Signal(int, int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: Any = None
        self._face: FaceResult | None = None
        self._params: RefineParams | None = None
        self._pixel: tuple[int, int] | None = None
        self._crop_source: tuple | None = None  # what the overview image shows
        self._static_key: tuple | None = None  # what the face-independent views show
        self._static_refs: tuple = (None, None)  # (model, weights_) they were drawn from
        self._method = "?"  # the model's method, read from its meta with the header
        self._sparse = False  # the model's class: taps anywhere (not a local window)
        self._table = False   # the model's class: outputs read from per-pixel tables
        self._preprocess: dict = {}  # a sparse model's min-max steps (meta "preprocess")
        self.arithmetic: Any = None  # the last PixelArithmetic drawn (None without a face)
        self.curve: tuple[np.ndarray, np.ndarray] | None = None  # last transfer curve
        self._curve_key: tuple | None = None  # what the curve was drawn for
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self._build()
        self._refresh()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)

        self.model_label = QtWidgets.QLabel("no model loaded")
        self.model_label.setWordWrap(True)
        outer.addWidget(self.model_label)

        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("pixel row"))
        self.row_spin = QtWidgets.QSpinBox()
        bar.addWidget(self.row_spin)
        bar.addWidget(QtWidgets.QLabel("col"))
        self.col_spin = QtWidgets.QSpinBox()
        bar.addWidget(self.col_spin)
        bar.addWidget(QtWidgets.QLabel("channel"))
        self.channel_combo = QtWidgets.QComboBox()
        self.channel_combo.addItems(list(CHANNEL_NAMES))
        self.channel_combo.setToolTip("colour channel whose weights and patch are shown")
        bar.addWidget(self.channel_combo)
        bar.addStretch(1)
        outer.addLayout(bar)
        for spin in (self.row_spin, self.col_spin):
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._spin_changed)
        self.channel_combo.currentIndexChanged.connect(lambda _i: self._refresh())

        self.graphics = views.CompactGraphics((320, 330))
        self.graphics.setMinimumHeight(300)
        outer.addWidget(self.graphics, stretch=3)
        top = self.graphics.addLayout(row=0, col=0)
        self.crop_map = views.MapItem(top, "overview", "input x (click)", "image",
                                      on_click=self.select_pixel, on_export=self._ask_export)
        # sparse models: the input pixels the selected pixel reads, and a line to each
        self.tap_lines = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen((0, 220, 255), width=1))
        self.tap_marks = pg.ScatterPlotItem(size=7, symbol="o", pen=pg.mkPen(0, 0, 0),
                                            brush=pg.mkBrush(0, 220, 255))
        for item in (self.tap_lines, self.tap_marks):
            item.setZValue(9)
            item.setEnabled(False)  # clicks go through to the image underneath
            self.crop_map.view.addItem(item)
        self.tap_points: np.ndarray | None = None  # (n, 3): row, col, weight as drawn
        weights = self.graphics.addLayout(row=0, col=1)
        self.weights_map = views.MapItem(weights, "weights", "weights w", "signed",
                                         on_export=self._ask_export)
        self.weights_map.item.sigPixelHovered.connect(self._hover_tap)
        self.weights_bar = pg.ColorBarItem(
            values=(-1, 1), colorMap=views.colormap("signed"), interactive=False, width=12)
        self.weights_bar.setImageItem(self.weights_map.item)
        self.weights_bar.axis.setWidth(44)  # tick labels change per pixel: keep the layout still
        weights.addItem(self.weights_bar, row=1, col=1)
        self._weight_texts: list[pg.TextItem] = []  # one label per tap, made once per size
        self._weight_strings: list[str] | None = None  # what the labels show now
        bottom = self.graphics.addLayout(row=1, col=0)
        self.patch_map = views.MapItem(bottom, "patch", "patch x", "image",
                                       on_export=self._ask_export)
        self.footprint = self.graphics.addPlot(row=1, col=1)
        self.footprint.setTitle("taps (dy, dx)", size="9pt")
        self.footprint.setAspectLocked(True)
        self.footprint.invertY(True)
        self.footprint.setMouseEnabled(x=False, y=False)
        self.footprint.setLabel("bottom", "dx")
        self.footprint.setLabel("left", "dy")
        self.footprint.hideButtons()
        self.window_cells = pg.ScatterPlotItem(pxMode=False, symbol="s", size=0.92,
                                               pen=pg.mkPen(90, 90, 90), brush=None)
        self.tap_cells = pg.ScatterPlotItem(pxMode=False, symbol="s", size=0.92)
        self.centre_cell = pg.ScatterPlotItem(pxMode=False, symbol="s", size=1.0,
                                              pen=views.MARKER_PEN, brush=None)
        for item in (self.window_cells, self.tap_cells, self.centre_cell):
            self.footprint.addItem(item)

        self.hover_label = QtWidgets.QLabel("")
        self.hover_label.setToolTip("the tap under the mouse in the weights view")
        outer.addWidget(self.hover_label)

        self.geometry_label = QtWidgets.QLabel("")
        self.geometry_label.setWordWrap(True)
        outer.addWidget(self.geometry_label)

        box = QtWidgets.QGroupBox("arithmetic of the selected pixel")
        grid = QtWidgets.QGridLayout(box)
        grid.setVerticalSpacing(1)
        mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.labels: dict[str, QtWidgets.QLabel] = {}
        for row, (key, name, tip) in enumerate(ARITHMETIC_ROWS):
            name_label = QtWidgets.QLabel(name)
            value = QtWidgets.QLabel("—")
            value.setFont(mono)
            value.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                               | QtCore.Qt.AlignmentFlag.AlignVCenter)
            name_label.setToolTip(tip)
            value.setToolTip(tip)
            grid.addWidget(name_label, row, 0)
            grid.addWidget(value, row, 1)
            self.labels[key] = value
        self.note_label = QtWidgets.QLabel("")
        self.note_label.setWordWrap(True)
        grid.addWidget(self.note_label, len(ARITHMETIC_ROWS), 0, 1, 2)
        outer.addWidget(box)

        self.curve_view = views.CompactGraphics((320, 170))
        self.curve_view.setMinimumHeight(140)
        # the title is a wrapping item of its own (a plot title is one clipped line)
        self.curve_title = views.TitleItem("transfer curve", size="9pt")
        self.curve_view.addItem(self.curve_title, row=0, col=0)
        self.curve_plot = self.curve_view.addPlot(row=1, col=0)
        self.curve_plot.setLabel("bottom", "input level (0..255)")
        # the core gives levels as v / 255: the axis shows them as 8-bit levels
        self.curve_plot.getAxis("bottom").setScale(255.0)
        self.curve_plot.setLabel("left", "output")
        self.curve_plot.getAxis("left").enableAutoSIPrefix(False)
        self.curve_plot.setMouseEnabled(x=False, y=False)
        self.curve_plot.hideButtons()
        self.curve_item = self.curve_plot.plot(pen=pg.mkPen((60, 140, 255), width=2))
        self.curve_marker_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 200, 0)))
        self.curve_marker = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(255, 200, 0))
        self.curve_plot.addItem(self.curve_marker_line)
        self.curve_plot.addItem(self.curve_marker)
        outer.addWidget(self.curve_view, stretch=1)

        self.status_label = QtWidgets.QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setStyleSheet("color: #c0392b")
        outer.addWidget(self.status_label)
        self._exporter = views.MapExporter(
            self, {item.name: item for item in (self.crop_map, self.weights_map,
                                                self.patch_map)}, self.status_label)

    # ------------------------------------------------------------------ public API
    def set_model(self, model: Any) -> None:
        """Inspect ``model`` (any fitted ``fesgui.core`` model, or ``None``).

        The selection is kept when it fits the new model, else it moves to the centre
        (clamped selections and the first selection emit :attr:`pixel_selected`)."""
        self._model = model
        self._static_key = None
        if not views.face_fits(model, self._face):
            self._face = None  # made for another model; the window sends a new one
        moved = None
        if model is not None:
            h, w = self._size()
            for spin, n in ((self.row_spin, h), (self.col_spin, w)):
                spin.blockSignals(True)
                spin.setRange(0, n - 1)
                spin.blockSignals(False)
            if self._pixel is None or not (self._pixel[0] < h and self._pixel[1] < w):
                moved = (h // 2, w // 2)
                self._set_pixel(*moved)
        self._sync_channels()
        self._refresh()
        if moved is not None:
            self.pixel_selected.emit(*moved)

    def set_face(self, face: FaceResult | None, params: RefineParams) -> None:
        """Show the arithmetic for ``face`` (a pipeline ``FaceResult``) under ``params``."""
        self._face = face
        self._params = params
        self._sync_channels()
        self._refresh()

    def select_pixel(self, row: int, col: int) -> None:
        """Select output pixel ``(row, col)`` (clamped to the image); emits on change."""
        row, col = int(row), int(col)
        if self._model is not None:
            h, w = self._size()
            row, col = min(max(row, 0), h - 1), min(max(col, 0), w - 1)
        if self._pixel == (row, col):
            return
        self._set_pixel(row, col)
        self._refresh()
        self.pixel_selected.emit(row, col)

    def selected_pixel(self) -> tuple[int, int] | None:
        """The selected ``(row, col)``, or ``None`` before a model is set."""
        return self._pixel

    def move_selection(self, drow: int, dcol: int) -> None:
        """Move the selection by ``(drow, dcol)`` pixels (what the arrow keys do)."""
        if self._pixel is not None:
            self.select_pixel(self._pixel[0] + drow, self._pixel[1] + dcol)

    def channel(self) -> int:
        """The selected colour channel (0 = R, 1 = G, 2 = B; 0 for grey data)."""
        return max(self.channel_combo.currentIndex(), 0)

    def set_channel(self, channel: int) -> None:
        """Select colour channel ``channel`` (0, 1 or 2)."""
        n = self.channel_combo.count()
        if channel not in range(n):
            way = "0 (grey data has one channel)" if n == 1 else "0 (R), 1 (G) or 2 (B)"
            raise FesguiError(f"channel={channel} does not exist: use {way}")
        self.channel_combo.setCurrentIndex(channel)

    def export_map(self, name: str, path: str | Path) -> tuple[Path, Path]:
        """Write ``"weights"`` (r x r), ``"patch"`` (r x r) or ``"overview"`` (the input
        crop, or the bias before a face) to ``<stem>.png`` and ``<stem>.npy``, atomically."""
        return self._exporter.export(name, path)

    # ------------------------------------------------------------------ events
    def _ask_export(self, name: str) -> None:
        self._exporter.ask(name)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt naming)
        step = ARROWS.get(QtCore.Qt.Key(event.key()))
        if step is None or self._pixel is None:
            super().keyPressEvent(event)
            return
        event.accept()
        self.move_selection(*step)

    def _hover_tap(self, row: int, col: int) -> None:
        """Name the tap under the mouse with its weight (and input) below the views."""
        weights = self.weights_map.image
        if weights is None or row < 0:
            self.hover_label.setText("")
            return
        r = weights.shape[0]
        if self._sparse:
            py, px = self._model.tap_positions(*self._pixel, channel=self.channel())[col]
            text = f"tap {col} at pixel ({py}, {px}): w = {fmt(weights[row, col])}"
        else:
            dy, dx = np.asarray(self._model.taps())[row * r + col]
            text = f"tap ({dy:+d}, {dx:+d}): w = {fmt(weights[row, col])}"
        if self.patch_map.image is not None:
            text += f", x = {fmt(self.patch_map.image[row, col])}"
        self.hover_label.setText(text)

    def _spin_changed(self, _value: int) -> None:
        self.select_pixel(self.row_spin.value(), self.col_spin.value())

    # ------------------------------------------------------------------ drawing
    def _size(self) -> tuple[int, int]:
        h, w = self._model.image_size
        return int(h), int(w)

    def _set_pixel(self, row: int, col: int) -> None:
        self._pixel = (row, col)
        for spin, v in ((self.row_spin, row), (self.col_spin, col)):
            spin.blockSignals(True)
            spin.setValue(v)
            spin.blockSignals(False)

    def _face_views(self) -> Any:
        """The shown face's views (``fesgui.views.FaceViews``), if it has them."""
        face = self._face
        views_ = None if face is None else face.views
        return views_ if views_ is not None and views_.model.model is self._model else None

    def _refresh(self) -> None:
        self.status_label.setText("")
        if self._model is None:
            self._clear()
            return
        try:
            self._draw()
        except FesguiError as exc:
            self.status_label.setText(str(exc))

    def _clear(self) -> None:
        self._crop_source = None
        self._static_key = None
        self.model_label.setText("no model loaded")
        self.geometry_label.setText("")
        for item in (self.crop_map, self.weights_map, self.patch_map):
            item.set_data(None)
            item.set_marker(None, None)
        self._set_weight_texts(None)
        self._draw_tap_marks(None)
        for scatter in (self.window_cells, self.tap_cells, self.centre_cell):
            scatter.clear()
        for label in self.labels.values():
            label.setText("—")
        self.note_label.setText("")
        self.curve_item.setData([], [])
        self._curve_key = None
        self.curve_marker.clear()
        self.curve_marker_line.setVisible(False)
        self.arithmetic = None
        self.curve = None

    def _draw(self) -> None:
        model = self._model
        row, col = self._pixel
        channel = self.channel()
        wc = views.weight_set(model, channel)
        # the weights, the header and the footprint depend on the model, the pixel and the
        # channel only: on live frames (same selection, new face) they are left as drawn
        # (objects compared by identity: a refitted model has new weight arrays)
        static_key = (id(model), id(model.weights_), row, col, channel, self._is_gray())
        static = (static_key != self._static_key or self._static_refs[0] is not model
                  or self._static_refs[1] is not model.weights_)
        if static:
            meta = model.meta
            self._method = meta.get("method", "?")
            self._sparse, self._table = not model.local_window, model.has_table
            self._preprocess = meta.get("preprocess") or {}
            mapping = (mapping_label(meta) if meta.get("source") or meta.get("target")
                       else str(meta.get("name") or "model"))
            self.model_label.setText(f"<b>{html.escape(mapping)}</b> · "
                                     f"{html.escape(method_label(meta))} · "
                                     f"{html.escape(detail_label(meta))}")

        if self._face is not None and not views.face_fits(model, self._face):
            (fh, fw), (h, w) = np.shape(self._face.crop)[:2], self._size()
            raise FesguiError(f"the face ({fw}x{fh}) does not fit this {w}x{h} model: "
                              "process the image again with this model")
        face_views = self._face_views()
        if face_views is not None:
            arith = face_views.pixel(row, col, channel)
            weights, bias, patch = arith.weights, float(arith.bias), arith.patch
        else:
            weights, bias = model.receptive_field(row, col, channel=channel)
            patch = arith = None
        self.arithmetic = arith
        self._draw_crop(wc)
        self.crop_map.set_marker(row, col)
        if self._sparse:
            positions = (arith.positions if arith is not None
                         else model.tap_positions(row, col, channel=channel))
            self._draw_tap_marks(positions, np.asarray(weights).ravel(), (row, col))
        else:
            self._draw_tap_marks(None)

        weights = np.asarray(weights)
        if static:
            shared = int(model.weights_.shape[0]) == 1
            self.weights_map.set_data(weights, title=f"w of ({row}, {col})"
                                      + ("" if shared else f" · {CHANNEL_NAMES[wc]}"))
            lo, hi = views.levels(weights, "signed")
            self.weights_bar.setLevels((lo, hi))
            self._set_weight_texts(weights)
            if self._sparse:
                self._draw_sparse_footprint(weights, row, col, channel)
            else:
                self._draw_footprint(weights)
            self._static_key = static_key
            self._static_refs = (model, model.weights_)
        self.patch_map.set_data(None if patch is None else np.asarray(patch),
                                title="patch x"
                                + ("" if patch is None or self._is_gray()
                                   else f" · {CHANNEL_NAMES[channel]}"))
        self._draw_numbers(arith, bias)
        self._draw_curve(row, col, channel, arith)

    def _draw_crop(self, weight_channel: int) -> None:
        """The clickable overview: the input crop, or the bias map before a face arrives.

        Redrawn only when its source changes, not on every pixel move."""
        if self._face is not None:
            source = (self._face.crop, None)
        else:
            source = (self._model, weight_channel)
        if (self._crop_source is not None and self._crop_source[0] is source[0]
                and self._crop_source[1] == source[1]):
            return
        self._crop_source = source
        if self._face is not None:
            self.crop_map.kind = "image"
            self.crop_map.set_data(self._face.crop, title="input x (click)")
        else:
            self.crop_map.kind = "signed"
            self.crop_map.set_data(np.moveaxis(np.asarray(self._model.bias_), 0, -1),
                                   channel=weight_channel, title="bias b (click)")

    def _is_gray(self) -> bool:
        """True when the data shown has one channel (grey crop, or grey model without one)."""
        if self._face is not None:
            return np.ndim(self._face.crop) == 2
        return self._model is not None and int(self._model.n_channels_in_) == 1

    def _sync_channels(self) -> None:
        """Offer R/G/B for colour data and a single "grey" entry for grey data."""
        names = ["grey"] if self._is_gray() else list(CHANNEL_NAMES)
        current = [self.channel_combo.itemText(i) for i in range(self.channel_combo.count())]
        if current == names:
            return
        index = self.channel_combo.currentIndex()
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        self.channel_combo.addItems(names)
        self.channel_combo.setCurrentIndex(index if 0 <= index < len(names) else 0)
        self.channel_combo.setEnabled(len(names) > 1)
        self.channel_combo.blockSignals(False)

    def _set_weight_texts(self, weights: np.ndarray | None) -> None:
        """Write each weight (3 decimals) on its cell of the weights view (r <= 3 only).

        The labels are made once per window size and then only re-texted (plain text, no
        HTML), and only when a shown value changes: a live frame costs nothing here."""
        if (weights is None or weights.shape[0] > 3  # larger windows: hover shows values
                or self._sparse):  # a row of slots: listed below the views
            for text in self._weight_texts:
                text.setVisible(False)
            self._weight_strings = None
            return
        if len(self._weight_texts) != weights.size:
            for text in self._weight_texts:
                self.weights_map.view.removeItem(text)
            self._weight_texts = []
            self._weight_strings = None
            for r, c in np.ndindex(weights.shape):
                text = pg.TextItem("", color=(20, 20, 20), anchor=(0.5, 0.5))
                text.setPos(c + 0.5, r + 0.5)
                self.weights_map.view.addItem(text)
                self._weight_texts.append(text)
        strings = [f"{v:.3f}" for v in weights.ravel()]
        if strings != self._weight_strings:
            old = self._weight_strings or [None] * len(strings)
            for text, new, was in zip(self._weight_texts, strings, old, strict=True):
                if new != was:
                    text.setText(new)
            self._weight_strings = strings
        for text in self._weight_texts:
            text.setVisible(True)

    def _draw_footprint(self, weights: np.ndarray) -> None:
        model = self._model
        taps = np.asarray(model.taps())
        size = int(model.meta.get("size", weights.shape[0]))
        dilation = int(model.meta.get("dilation", 1))
        half = int(np.abs(taps).max(initial=0))  # dilation * (size // 2)
        span = 2 * half + 1
        grid = np.arange(-half, half + 1)
        gy, gx = np.meshgrid(grid, grid, indexing="ij")
        self.window_cells.setData(x=gx.ravel(), y=gy.ravel())
        self._draw_cells(taps, weights.ravel(), half)
        ticks = [(int(v), str(int(v))) for v in np.unique(taps)]
        for axis in ("bottom", "left"):
            self.footprint.getAxis(axis).setTicks([ticks])
        self.geometry_label.setText(
            f"receptive field: {size}x{size} taps, dilation {dilation} → spread over a "
            f"{span}x{span} window; offsets dy, dx ∈ "
            f"{{{', '.join(str(int(v)) for v in np.unique(taps[:, 0]))}}} "
            "(taps outside the image read 0)")

    def _draw_cells(self, offsets: np.ndarray, weights: np.ndarray, half: int,
                    levels_of: np.ndarray | None = None) -> None:
        """The footprint's tap cells at ``offsets`` (dy, dx), coloured by ``weights`` on
        symmetric levels (of ``levels_of``, default the weights), the centre marked."""
        lo, hi = views.levels(weights if levels_of is None else levels_of, "signed")
        colours = views.colormap("signed").map((weights - lo) / (hi - lo), mode="qcolor")
        self.tap_cells.setData(x=offsets[:, 1], y=offsets[:, 0], brush=colours,
                               pen=pg.mkPen(40, 40, 40),
                               data=[f"({dy}, {dx})" for dy, dx in offsets])
        self.centre_cell.setData(x=[0], y=[0])
        self.footprint.setRange(xRange=(-half - 0.5, half + 0.5),
                                yRange=(-half - 0.5, half + 0.5), padding=0.05)

    def _draw_tap_marks(self, positions: np.ndarray | None, weights: np.ndarray | None = None,
                        pixel: tuple[int, int] | None = None) -> None:
        """Mark the input pixels ``positions`` ``(F, 2)`` (row, col) with a non-zero weight
        on the overview, each joined to ``pixel`` by a line (``None`` clears them)."""
        if positions is None:
            self.tap_points = None
            self.tap_marks.clear()
            self.tap_lines.setData([], [])
            return
        keep = np.asarray(weights) != 0  # padded slots (weight 0) read nothing
        pos = np.asarray(positions)[keep]
        self.tap_points = np.column_stack([pos, np.asarray(weights)[keep]])
        xs, ys = pos[:, 1] + 0.5, pos[:, 0] + 0.5  # pixel centres
        tips = [f"({r}, {c}): w = {fmt(w)}" for (r, c), w in zip(pos, weights[keep], strict=True)]
        self.tap_marks.setData(x=xs, y=ys, data=tips)
        lines = np.empty((2 * len(pos), 2))
        lines[0::2] = (pixel[1] + 0.5, pixel[0] + 0.5)
        lines[1::2] = np.column_stack([xs, ys])
        self.tap_lines.setData(lines[:, 0], lines[:, 1])

    def _draw_sparse_footprint(self, weights: np.ndarray, row: int, col: int,
                               channel: int) -> None:
        """The offsets of a sparse model's taps from the selected pixel, coloured by weight."""
        positions = self._model.tap_positions(row, col, channel=channel)
        w = np.asarray(weights).ravel()
        keep = w != 0
        offs = positions[keep] - np.array([row, col])
        half = int(np.abs(offs).max(initial=1))
        self.window_cells.clear()
        self._draw_cells(offs, w[keep], half, levels_of=w)
        for axis in ("bottom", "left"):
            self.footprint.getAxis(axis).setTicks(None)
        far = float(np.hypot(offs[:, 0], offs[:, 1]).max(initial=0.0))
        listed = ", ".join(f"({r}, {c}) {fmt(v)}" for (r, c), v in
                           zip(positions[keep][:8], w[keep][:8], strict=True))
        self.geometry_label.setText(
            f"sparse receptive field: {int(keep.sum())} of {w.size} tap slots used, "
            f"anywhere in the image; the farthest {far:.1f} px away "
            f"(marked on the input, left). Taps (row, col) w: {listed}"
            + (" …" if keep.sum() > 8 else ""))

    def _draw_numbers(self, arith: Any, bias: float) -> None:
        values: dict[str, float | None] = dict.fromkeys(self.labels)
        values["bias"] = bias
        notes = []
        if arith is not None:
            values.update(input=arith.input_value, wx=arith.wx, output=arith.output,
                          alpha=arith.alpha, refined=arith.refined)
            row, col = self._pixel
            final = np.asarray(self._face.final)
            values["final"] = float(final[row, col, self.channel()] if final.ndim == 3
                                    else final[row, col])
            if arith.alpha is None:
                notes.append("refinement off: y′ = y")
                values["refined"] = arith.output
            if self._params is not None:
                notes.append(f"intensity {self._params.intensity:g}")
            vector = self._face_views().model.maps.field_vector(row, col)
            if vector is not None:
                dx, dy = vector
                notes.append(f"shape: x here was fetched from dx {dx:+.2f}, dy {dy:+.2f} px "
                             "(times shape × intensity) before the model")
        else:
            notes.append("load a face to see Σ w·x and the output")
        if self._sparse and arith is not None:
            scaled_in = self._preprocess.get("input") == "minmax"
            note = ("sparse: Σ w·x over the face min-max scaled to [0, 1]" if scaled_in
                    else "sparse: Σ w·x over the input as it is")
            note += f"; Σ w·x + b = z = {fmt(arith.raw)}"
            if self._preprocess.get("output") == "minmax":
                note += (f"; y = {arith.out_scale:.6g}·z {arith.out_offset:+.6g} (z min-max "
                         "scaled back to the face's range)")
            notes.append(note)
        if self._table:
            notes.append("Pixel-KR: y is read from the pixel's table (see the curve); w and b "
                         "are the least-squares line through it, so Σ w·x shows y − b")
        for key, label in self.labels.items():
            label.setText(fmt(values[key]))
        self.note_label.setText("; ".join(notes))

    def _draw_curve(self, row: int, col: int, channel: int, arith: Any) -> None:
        face_views = self._face_views()
        x = None if face_views is None else face_views.crop
        # the curve and its marker depend on the pixel and the face's input only: a still
        # re-run with new slider values (the same crop object) leaves them as drawn
        key = (self._model, row, col, channel, x, arith is None)
        if self._curve_key is not None and all(
                a is b or (type(a) is int and a == b) for a, b in zip(key, self._curve_key,
                                                                      strict=True)):
            return
        self._curve_key = key
        levels, values = pixel_curve(self._model, row, col, channel, face_views)
        self.curve = (np.asarray(levels), np.asarray(values))
        self.curve_item.setData(self.curve[0], self.curve[1])
        method = self._method
        what = {"pixel-kr": "table", "pixel-rr": "line w·x + b",
                "sparse": "z (before output scaling), own-pixel taps; others "
                + ("held at x" if x is not None else "at 0")}.get(
            method, "centre tap, other taps " + ("held at x" if x is not None else "at 0"))
        self.curve_title.setText(f"output of ({row}, {col}) vs its input: {what}")
        if arith is None:
            self.curve_marker.clear()
            self.curve_marker_line.setVisible(False)
            return
        if self._sparse:  # the curve is in the matrix's own units
            at, value = float(arith.scaled_input), float(arith.raw)
        else:
            at, value = float(arith.input_value), float(arith.output)
        self.curve_marker_line.setPos(at)
        self.curve_marker_line.setVisible(True)
        self.curve_marker.setData(x=[at], y=[value])
