"""Drawing pieces shared by the model inspector and the model-maps panel.

Nothing here computes a model quantity: the arrays come from the worker (``fesgui.views``,
``fesgui.core.interpret``) and are only given a colormap, a view and an export. Three kinds
of map are drawn, each in one consistent way:

* ``"image"``: an image in [0, 1] (input crop, output), grey or RGB, levels fixed at 0..1;
* ``"signed"``: weights, ``W x``, bias, tap maps: a diverging colormap with SYMMETRIC
  levels ``±max|v|`` so that white always means exactly 0 (RGB data: the same levels on
  every channel, 0 is mid grey);
* ``"positive"``: L1 norm, ``|z|``, the alpha stages: a sequential colormap from 0 to max.

All image items use row-major order, so a numpy ``(H, W[, 3])`` array shows with row 0 at
the top and the pixel ``(row, col)`` covering the square ``[col, col+1) x [row, row+1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from fesgui.atomic import atomic_write
from fesgui.errors import FesguiError
from fesgui.imageio import to_uint8, write_image

KINDS = ("image", "signed", "positive")
SIGNED_CMAP = "CET-D1"  # blue - white - red
POSITIVE_CMAP = "viridis"
MARKER_PEN = pg.mkPen((255, 200, 0), width=2)  # cosmetic: 2 screen pixels at any zoom


def colormap(kind: str) -> pg.ColorMap:
    """The colormap used for single-channel maps of ``kind``."""
    if kind == "signed":
        return pg.colormap.get(SIGNED_CMAP)
    if kind == "positive":
        return pg.colormap.get(POSITIVE_CMAP)
    if kind == "image":
        return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)], name="gray")
    raise ValueError(f"unknown map kind {kind!r}: use one of {KINDS}")


def levels(data: np.ndarray, kind: str) -> tuple[float, float]:
    """Display levels of ``data``: 0..1 for images, ±max|v| for signed, 0..max for positive.

    A map that is all zero (or all NaN) gets the unit range so that it still draws.
    """
    if kind == "image":
        return 0.0, 1.0
    finite = np.asarray(data)[np.isfinite(data)]
    if kind == "signed":
        m = float(np.max(np.abs(finite))) if finite.size else 0.0
        m = m if m > 0 else 1.0
        return -m, m
    top = float(np.max(finite)) if finite.size else 0.0
    return 0.0, (top if top > 0 else 1.0)


def render(data: np.ndarray, kind: str) -> np.ndarray:
    """The map as it is drawn: ``(H, W, 3) uint8`` RGB (what is written to a PNG).

    ``data``: ``(H, W)`` (drawn through the colormap of ``kind``) or ``(H, W, 3)`` (drawn
    as RGB with the same levels on every channel).
    """
    data = np.asarray(data, dtype=np.float64)
    lo, hi = levels(data, kind)
    unit = np.nan_to_num(np.clip((data - lo) / (hi - lo), 0.0, 1.0), nan=0.0)
    if data.ndim == 3:
        return np.round(unit * 255).astype(np.uint8)
    return np.ascontiguousarray(colormap(kind).map(unit, mode="byte")[..., :3])


def export_map(path: str | Path, data: np.ndarray | None, kind: str) -> tuple[Path, Path]:
    """Write ``data`` as ``<stem>.png`` (rendered with its colormap) and ``<stem>.npy``.

    ``path`` may end in ``.png``, ``.npy`` or have no suffix; both files go beside it.
    The ``.npy`` holds the raw float values, exactly as the core returned them. Both files
    are written atomically. Returns ``(png_path, npy_path)``.
    """
    if data is None:
        raise FesguiError("nothing to export yet: load a model (and a face) first")
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() in (".png", ".npy") else path
    png, npy = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".npy")
    if not stem.parent.is_dir():
        raise FesguiError(f"cannot export to {stem.parent}: the folder does not exist")
    write_image(png, render(data, kind))
    with atomic_write(npy) as tmp:
        np.save(tmp, np.asarray(data))
    return png, npy


def weight_set(model, channel: int | None) -> int:
    """Which of ``model``'s weight sets (one shared by the colours, or one per colour)
    belongs to colour ``channel`` (``None``: the first)."""
    return min(channel or 0, int(model.weights_.shape[0]) - 1)


def face_fits(model, face) -> bool:
    """True when ``face`` (a ``FaceResult`` or None) was aligned at ``model``'s image size.

    A face made for another model (the window switches models, then reprocesses) is not
    drawn with this one."""
    if face is None or model is None:
        return face is None
    return tuple(np.shape(face.crop)[:2]) == tuple(model.image_size)


def ask_export_path(parent: QtWidgets.QWidget, name: str, folder: Path | None = None
                    ) -> Path | None:
    """Ask where to export map ``name`` (a PNG name; the .npy goes beside it)."""
    default = str((folder or Path.cwd()) / f"{name}.png")
    path, _ = QtWidgets.QFileDialog.getSaveFileName(
        parent, f"Export {name} (PNG + .npy)", default, "PNG image (*.png)")
    return Path(path) if path else None


# An arrow key moves the selected pixel by (drow, dcol) (inspector, crop views).
ARROWS = {
    QtCore.Qt.Key.Key_Up: (-1, 0),
    QtCore.Qt.Key.Key_Down: (1, 0),
    QtCore.Qt.Key.Key_Left: (0, -1),
    QtCore.Qt.Key.Key_Right: (0, 1),
}


class CompactGraphics(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that asks for a modest size (``hint``), so that in a
    scrolling dock the views do not push the text below them out of sight; it still
    grows with the window."""

    def __init__(self, hint: tuple[int, int]) -> None:
        super().__init__()
        self._hint = QtCore.QSize(*hint)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 (Qt naming)
        return self._hint


class MapExporter:
    """Export of a panel's named maps: the file dialog, the last folder used, and problems
    shown in the panel's status label (a FesguiError from a dialog is never raised)."""

    def __init__(self, parent: QtWidgets.QWidget, items: dict[str, MapItem],
                 status: QtWidgets.QLabel) -> None:
        self.parent, self.items, self.status = parent, items, status
        self.folder: Path | None = None
        self.last: tuple[Path, Path] | None = None

    def export(self, name: str, path: str | Path) -> tuple[Path, Path]:
        """Write map ``name`` to ``<stem>.png`` (as drawn) and ``<stem>.npy`` (raw values)."""
        if name not in self.items:
            raise FesguiError(f"no map called {name!r}: use one of {', '.join(self.items)}")
        item = self.items[name]
        self.last = export_map(path, item.data, item.kind)
        return self.last

    def ask(self, name: str) -> None:
        """Ask for a file name (starting in the folder of the app's last export), then
        export map ``name``; the folder is remembered and the export confirmed."""
        from fesgui.gui.file_actions import export_folder, remember_export

        path = ask_export_path(self.parent, name, self.folder or export_folder())
        if path is None:
            return
        self.folder = path.parent
        try:
            png, npy = self.export(name, path)
        except FesguiError as exc:
            self.status.setText(str(exc))
        else:
            remember_export(png)
            self.status.setText(f"<span style='color:#2e7d32'>exported {png.name} and "
                                f"{npy.name} to {png.parent}</span>")
            self.status.setToolTip(f"last export: {png} and {npy}")


class PixelImageItem(pg.ImageItem):
    """An ImageItem in row-major order that reports left clicks as ``(row, col)`` and the
    pixel under the mouse as ``sigPixelHovered(row, col)`` (``(-1, -1)`` when it leaves)."""

    sigPixelClicked = QtCore.Signal(int, int)
    sigPixelHovered = QtCore.Signal(int, int)

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.setAcceptHoverEvents(True)

    def _pixel(self, pos) -> tuple[int, int] | None:
        if self.image is None:
            return None
        row, col = int(math.floor(pos.y())), int(math.floor(pos.x()))
        h, w = self.image.shape[:2]
        return (row, col) if 0 <= row < h and 0 <= col < w else None

    def hoverEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph naming)
        hit = None if ev.isExit() else self._pixel(ev.pos())
        self.sigPixelHovered.emit(*(hit or (-1, -1)))

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (Qt naming)
        hit = self._pixel(ev.pos())
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or hit is None:
            ev.ignore()
            return
        ev.accept()
        self.sigPixelClicked.emit(*hit)


class TitleItem(pg.LabelItem):
    """A LabelItem that does not force its column to the width of its text: a title
    longer than its column wraps onto more lines (centred) instead of pushing the views
    out of sight or being clipped; a single word longer than the column is clipped."""

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt naming)
        self._wrap()
        super().resizeEvent(ev)

    def setText(self, text: str, **args) -> None:  # noqa: N802 (pyqtgraph naming)
        self.item.setTextWidth(-1)  # measure the new text on one line
        super().setText(text, **args)
        self._wrap()
        super().resizeEvent(None)

    def _wrap(self) -> None:
        width = self.size().width()
        self.item.setTextWidth(-1)
        if width > 1 and self.item.boundingRect().width() > width:
            self.item.setTextWidth(width)
            option = self.item.document().defaultTextOption()
            option.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
            self.item.document().setDefaultTextOption(option)

    def updateMin(self) -> None:  # noqa: N802 (pyqtgraph naming)
        super().updateMin()
        self.setMinimumWidth(0)
        height = self._sizeHint[QtCore.Qt.SizeHint.MinimumSize][1]
        self._sizeHint[QtCore.Qt.SizeHint.MinimumSize] = (0, height)
        self._sizeHint[QtCore.Qt.SizeHint.PreferredSize] = (0, height)
        self.updateGeometry()


class MapItem:
    """One titled map inside a ``pg.GraphicsLayout``: a view box, an image, a pixel marker.

    ``data`` is the array exactly as given (never modified); ``image`` the array handed to
    the ImageItem (``data`` itself, or one channel of it).
    """

    def __init__(self, layout: pg.GraphicsLayout, name: str, title: str, kind: str,
                 on_click: Callable[[int, int], None] | None = None,
                 on_export: Callable[[str], None] | None = None,
                 on_hover: Callable[[str, int, int], None] | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown map kind {kind!r}: use one of {KINDS}")
        self.name, self.title, self.kind = name, title, kind
        self.data: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self._range: str | None = None  # the display levels, shown after the title
        self._lut: tuple[str, np.ndarray] | None = None  # (kind, its colormap's table)
        self._shape: tuple[int, int] | None = None  # the view range set for this size
        self.label = TitleItem(title, size="9pt")
        self._title_text = title  # what the label shows
        self._drawn: tuple | None = None  # (channel, kind) of the data drawn
        self._marked: tuple[int, int] | None = None  # the pixel outlined
        layout.addItem(self.label)
        layout.nextRow()
        self.view = layout.addViewBox(lockAspect=True, invertY=True, enableMenu=True)
        self.view.setMouseEnabled(x=False, y=False)
        self.view.disableAutoRange()  # the range is the image's, set in set_data
        self.item = PixelImageItem()
        self.view.addItem(self.item)
        self.marker = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.marker.setPen(MARKER_PEN)
        self.marker.setZValue(10)
        self.marker.setVisible(False)
        self.view.addItem(self.marker)
        # a ring of fixed screen size, so the pixel is found even when it is tiny on screen
        self.ring = pg.ScatterPlotItem(size=13, symbol="o", pen=MARKER_PEN, brush=None)
        self.ring.setZValue(10)
        self.ring.setEnabled(False)  # clicks go through to the image underneath
        self.view.addItem(self.ring)
        if on_click is not None:
            self.item.sigPixelClicked.connect(on_click)
        if on_hover is not None:
            self.item.sigPixelHovered.connect(lambda r, c: on_hover(name, r, c))
        if on_export is not None and self.view.menu is not None:
            action = self.view.menu.addAction(f"Export {name} (PNG + .npy)…")
            action.triggered.connect(lambda: on_export(name))

    def set_data(self, data: np.ndarray | None, channel: int | None = None,
                 title: str | None = None) -> None:
        """Show ``data`` (``(H, W)`` or ``(H, W, C)``); ``channel`` picks one of C to show.

        The very array already shown (the worker sends the same read-only arrays while
        their inputs do not change) is not drawn again."""
        drawn = (channel, self.kind)
        if (data is not None and data is self.data and drawn == self._drawn
                and (title is None or title == self.title)):
            return
        self._drawn = drawn if data is not None else None
        self.data = data
        if title is not None:
            self.title = title
        if data is None:
            self.image = None
            self._range = None
            self._shape = None
            self.item.clear()
            self.show_title()
            return
        image = data
        if data.ndim == 3:
            if data.shape[2] == 1:
                image = data[..., 0]
            elif channel is not None:
                image = data[..., min(channel, data.shape[2] - 1)]
        self.image = image
        lo, hi = levels(image, self.kind)
        self._range = {"signed": f"±{hi:.3g}", "positive": f"0…{hi:.3g}"}.get(self.kind)
        self.show_title()
        shown: np.ndarray = image
        if self.kind == "image":
            # images (re-set on every live frame) go to the item as 8-bit levels with fixed
            # levels 0..255, so pyqtgraph draws them without rescaling each time; the float
            # data stays in self.image (hover, export)
            shown, (lo, hi) = to_uint8(image), (0, 255)
        if image.ndim == 2:
            if self._lut is None or self._lut[0] != self.kind:  # the kind may be switched
                self._lut = (self.kind, colormap(self.kind).getLookupTable(nPts=256))
            self.item.setImage(shown, autoLevels=False, levels=(lo, hi), lut=self._lut[1])
        else:
            self.item.setImage(shown, autoLevels=False, levels=(lo, hi), lut=None)
        h, w = image.shape[:2]
        if (h, w) != self._shape:
            self.view.setRange(QtCore.QRectF(0, 0, w, h), padding=0.0)
            self._shape = (h, w)

    def set_title(self, title: str) -> None:
        """Change the title (the display range stays appended to it)."""
        self.title = title
        self.show_title()

    def show_title(self) -> None:
        """Draw the title, followed by the colour range of the map in grey."""
        text = self.title if self._range is None else (
            f"{self.title} <span style='color:#999'>[{self._range}]</span>")
        if text != self._title_text:  # re-laying out a title costs more than the map
            self._title_text = text
            self.label.setText(text, size="9pt")

    def set_marker(self, row: int | None, col: int | None) -> None:
        """Outline pixel ``(row, col)`` (``None`` hides the marker). The marker already
        there is left alone (the panels re-mark after every redraw)."""
        at = None if row is None or col is None or self.image is None else (row, col)
        if at == self._marked:
            return
        self._marked = at
        if at is None:
            self.marker.setVisible(False)
            self.ring.clear()
            return
        self.marker.setRect(QtCore.QRectF(col, row, 1, 1))
        self.marker.setVisible(True)
        self.ring.setData(x=[col + 0.5], y=[row + 0.5])
