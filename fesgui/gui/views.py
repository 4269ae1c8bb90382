"""Image views (pyqtgraph): the full frame with overlays, and three linked crop views.

Images are numpy arrays shown with ``axisOrder='row-major'`` and fixed levels (no
per-frame level computation): frames are uint8 with levels (0, 255), crops float32 in
[0, 1] with levels (0, 1). Views only draw; clicks are reported as signals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from fesgui.gui.inspect_views import ARROWS, TitleItem

pg.setConfigOptions(imageAxisOrder="row-major")

_LANDMARK_BRUSH = pg.mkBrush(60, 230, 90, 220)
#: the mesh's dots: each a line :data:`_DOT` frame pixels long with round caps 2 px wide (a
#: PlotCurveItem redraws 468 of them in 0.04 ms; a ScatterPlotItem takes 1.5 ms per frame,
#: holding the interpreter while the worker needs it)
_DOT = 0.01
_MESH_PEN = pg.mkPen(80, 200, 255, 110, width=2)
_MESH_PEN.setCapStyle(Qt.PenCapStyle.RoundCap)
_MANUAL_BRUSH = pg.mkBrush(255, 200, 40, 240)
_BOX_PEN = pg.mkPen(255, 210, 60, width=2)
_CROSS_PEN = pg.mkPen(QColor(255, 60, 60, 200), width=1, style=Qt.PenStyle.DashLine)


def _image_view_box() -> pg.ViewBox:
    box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
    box.setBackgroundColor(QColor(24, 24, 24))
    return box


def _report_left_click(event: Any, locate: Any, signal: Any) -> None:
    """A left click whose scene position ``locate`` maps to a hit: ``signal.emit(*hit)``."""
    if event.button() == Qt.MouseButton.LeftButton:
        hit = locate(event.scenePos())
        if hit is not None:
            signal.emit(*hit)


class _RefitOnResize(QObject):
    """Fit ``image`` into the views again when ``widget`` is resized (a window made larger
    or maximised), unless the user has zoomed or panned since the last fit."""

    def __init__(self, widget: QWidget, views: list, image: Any) -> None:
        super().__init__(widget)
        self.views, self.image = views, image
        self.fitted = True
        for view in views:
            view.sigRangeChangedManually.connect(self._moved)
        widget.installEventFilter(self)

    def _moved(self, *_args: Any) -> None:
        self.fitted = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        if event.type() == QEvent.Type.Resize and self.fitted:
            QTimer.singleShot(0, self._fit)  # after the layout has sized the views
        return False

    def _fit(self) -> None:
        try:
            if self.fitted and self.image.image is not None:
                self.views[0].autoRange(padding=0.01, items=[self.image])
        except RuntimeError:  # the window closed meanwhile (its views are gone)
            pass


def crop_box_corners(matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(5, 2) frame coordinates (x, y) of the crop rectangle's outline (closed).

    ``matrix`` (2, 3) maps frame -> crop, ``size`` is the crop's (h, w) in pixels.
    """
    from fesgui.align.template import apply_matrix, invert_matrix

    h, w = size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h], [0, 0]], np.float64)
    return apply_matrix(invert_matrix(matrix), corners)


class FrameView(pg.GraphicsLayoutWidget):
    """The full frame (the result pasted back), with landmark and crop-box overlays.

    ``clicked(x, y)`` reports a left click inside the image in frame pixels.
    """

    clicked = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ci.setContentsMargins(0, 0, 0, 0)
        self.view = _image_view_box()
        self.addItem(self.view)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.mesh = pg.PlotCurveItem(pen=_MESH_PEN)
        self.points = pg.ScatterPlotItem(size=8, pen=pg.mkPen("k"), brush=_LANDMARK_BRUSH)
        self.manual = pg.ScatterPlotItem(size=12, pen=pg.mkPen("k"), brush=_MANUAL_BRUSH,
                                         symbol="x")
        self.box = pg.PlotCurveItem(pen=_BOX_PEN)
        for item in (self.mesh, self.box, self.points, self.manual):
            item.setZValue(10)
            self.view.addItem(item)
        self.show_overlay = True
        self._shape: tuple[int, ...] | None = None
        self._refit = _RefitOnResize(self, [self.view], self.image)
        self.scene().sigMouseClicked.connect(
            lambda event: _report_left_click(event, self.map_to_frame, self.clicked))

    def set_frame(self, frame: np.ndarray) -> None:
        """Show ``frame`` (H, W, 3) uint8 RGB; the view fits it when its size changes."""
        # uint8 without levels: pyqtgraph shows the bytes as they are (a QImage of them);
        # levels (0, 255) would mean the same picture through a rescale pass (7 ms at 720p)
        self.image.setImage(frame, autoLevels=False, levels=None)
        if frame.shape != self._shape:
            self._shape = frame.shape
            self.view.autoRange(padding=0.01)
            self._refit.fitted = True

    def set_faces(self, faces: list, crop_size: tuple[int, int] | None) -> None:
        """Draw the landmarks (and mesh) and crop outline of ``faces`` (FaceResult list)."""
        empty = np.zeros((0, 2), np.float32)
        points = np.concatenate([empty] + [np.asarray(f.landmarks.points, np.float32)
                                           for f in faces])
        mesh = np.concatenate([empty] + [np.asarray(f.landmarks.mesh, np.float32)
                                         for f in faces
                                         if getattr(f.landmarks, "mesh", None) is not None])
        gap = np.full((1, 2), np.nan)
        box = np.concatenate([np.zeros((0, 2))] + [
            np.concatenate([crop_box_corners(f.matrix, crop_size), gap])
            for f in faces if crop_size is not None])
        self.points.setData(points[:, 0], points[:, 1])
        dots = np.repeat(mesh, 2, axis=0)  # each point twice: a tiny line, a dot (Qt draws
        dots[1::2, 0] += _DOT  # nothing for a line of length 0)
        self.mesh.setData(dots[:, 0], dots[:, 1], connect="pairs")
        self.box.setData(box[:, 0], box[:, 1], connect="finite")
        self._apply_visibility()

    def set_manual_points(self, points: list[tuple[float, float]]) -> None:
        """Mark hand-placed points (x, y) while the user places landmarks."""
        self.manual.setData([p[0] for p in points], [p[1] for p in points])

    def set_overlay_visible(self, visible: bool) -> None:
        self.show_overlay = bool(visible)
        self._apply_visibility()

    def _apply_visibility(self) -> None:
        for item in (self.mesh, self.box, self.points):
            item.setVisible(self.show_overlay)

    def map_to_frame(self, scene_pos: QPointF) -> tuple[float, float] | None:
        """Frame pixel (x, y) under a scene position, or None outside the image."""
        if self._shape is None:
            return None
        p = self.view.mapSceneToView(scene_pos)
        h, w = self._shape[:2]
        if 0 <= p.x() < w and 0 <= p.y() < h:
            return float(p.x()), float(p.y())
        return None

class CropViews(QWidget):
    """Aligned input, raw model output and refined output side by side, zoom/pan linked.

    ``pixel_clicked(row, col)`` reports a click in crop coordinates in any of the three;
    :meth:`set_crosshair` marks a pixel in all three. A click gives the views the keyboard
    focus: arrow keys are then reported as ``arrow_pressed(drow, dcol)`` (the window moves
    the inspector's selection) instead of scrolling the views.
    """

    pixel_clicked = Signal(int, int)
    arrow_pressed = Signal(int, int)  # (drow, dcol) of an arrow key pressed over the views
    TITLES = ("Aligned input", "Model output", "Refined (RMR)")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.ci.setContentsMargins(2, 2, 2, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.views: list[pg.ViewBox] = []
        self.images: list[pg.ImageItem] = []
        self.titles: list[TitleItem] = []  # wrap (not widen the row) when the views are narrow
        self.cross: list[tuple[pg.InfiniteLine, pg.InfiniteLine]] = []
        for col, title in enumerate(self.TITLES):
            label = TitleItem(title, size="9pt")
            self.canvas.addItem(label, row=0, col=col)
            self.titles.append(label)
            view = _image_view_box()
            self.canvas.addItem(view, row=1, col=col)
            image = pg.ImageItem(axisOrder="row-major")
            view.addItem(image)
            lines = (pg.InfiniteLine(angle=90, pen=_CROSS_PEN, movable=False),
                     pg.InfiniteLine(angle=0, pen=_CROSS_PEN, movable=False))
            for line in lines:
                line.setZValue(10)
                line.setVisible(False)
                view.addItem(line)
            if self.views:
                view.setXLink(self.views[0])
                view.setYLink(self.views[0])
            self.views.append(view)
            self.images.append(image)
            self.cross.append(lines)
        self._shape: tuple[int, ...] | None = None
        self._shown: tuple = (None, None, None)  # the arrays on screen
        self._refit = _RefitOnResize(self.canvas, self.views, self.images[0])
        self.crosshair: tuple[int, int] | None = None
        self.canvas.scene().sigMouseClicked.connect(
            lambda event: _report_left_click(event, self.pixel_at, self.pixel_clicked))
        self.canvas.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        """Arrow keys on the canvas become ``arrow_pressed`` (no modifier: plain arrows)."""
        if watched is self.canvas and event.type() == QEvent.Type.KeyPress:
            step = ARROWS.get(Qt.Key(event.key()))
            if step is not None and event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                                          Qt.KeyboardModifier.KeypadModifier):
                self.arrow_pressed.emit(*step)
                return True
        return super().eventFilter(watched, event)

    def set_images(self, crop: np.ndarray | None, output: np.ndarray | None,
                   refined: np.ndarray | None) -> None:
        """Show three float32 images in [0, 1] ((h, w) or (h, w, 3)); None clears a view.
        An array already shown (the same object: a still re-run whose input did not
        change) is not drawn again."""
        for image, data, was in zip(self.images, (crop, output, refined), self._shown,
                                    strict=True):
            if data is None:
                image.clear()
            elif data is not was:
                image.setImage(data, autoLevels=False, levels=(0.0, 1.0))
        self._shown = (crop, output, refined)
        if crop is not None and crop.shape[:2] != (self._shape or (None,))[:2]:
            self._shape = crop.shape
            self.views[0].autoRange(padding=0.01)
            self._refit.fitted = True

    def set_crosshair(self, row: int, col: int) -> None:
        """Draw a crosshair on pixel (row, col) in all three views."""
        self.crosshair = (int(row), int(col))
        for vline, hline in self.cross:
            vline.setPos(col + 0.5)
            hline.setPos(row + 0.5)
            vline.setVisible(True)
            hline.setVisible(True)

    def pixel_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """(row, col) of the crop pixel under a scene position, or None."""
        if self._shape is None:
            return None
        h, w = self._shape[:2]
        for view in self.views:
            if view.sceneBoundingRect().contains(scene_pos):
                p = view.mapSceneToView(scene_pos)
                row, col = int(np.floor(p.y())), int(np.floor(p.x()))
                if 0 <= row < h and 0 <= col < w:
                    return row, col
        return None

    def scene_pos_of(self, row: int, col: int, view: int = 0) -> QPointF:
        """Scene position of the centre of pixel (row, col) in view ``view`` (for tests)."""
        return self.views[view].mapViewToScene(QPointF(col + 0.5, row + 0.5))

__all__ = ["CropViews", "FrameView", "crop_box_corners"]
