"""Before / after on the main frame view.

The frame view shows the result (``FrameResult.composite``). :class:`CompareOverlay` lays
the original frame (``FrameResult.frame``) over it: over the whole frame while the user
holds the compare key (``\\`` or ``B``) or while "Show original" is on, or left of a
draggable divider in split view. It only draws the two arrays the worker sent (the left
part of the original is a slice, no pixel is computed here).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QTextEdit

#: keys that show the original while held (no modifier)
HOLD_KEYS = (Qt.Key.Key_Backslash, Qt.Key.Key_B)


class CompareOverlay(QObject):
    """The original frame over the result on a :class:`fesgui.gui.views.FrameView`.

    ``showing_original`` (held key or toggle) covers the whole frame; ``split`` shows the
    original left of the divider at ``fraction`` of the width (dragging it emits
    ``fraction_changed``). Neither: the result alone.
    """

    fraction_changed = Signal(float)

    def __init__(self, frame_view: Any) -> None:
        import pyqtgraph as pg  # with the views (built after the window shows)

        super().__init__(frame_view)
        self.frame_view = frame_view
        view = frame_view.view
        self.before = pg.ImageItem(axisOrder="row-major")
        self.before.setZValue(5)  # above the result (0), below the overlays (10)
        self.before.setVisible(False)
        view.addItem(self.before)
        self.divider = pg.InfiniteLine(angle=90, movable=True,
                                       pen=pg.mkPen(QColor(255, 255, 255, 230), width=2),
                                       hoverPen=pg.mkPen(QColor(255, 210, 60), width=4))
        self.divider.setZValue(20)
        self.divider.setVisible(False)
        view.addItem(self.divider)
        self.labels = (pg.TextItem("before", color="w", fill=QColor(0, 0, 0, 140), anchor=(1, 0)),
                       pg.TextItem("after", color="w", fill=QColor(0, 0, 0, 140), anchor=(0, 0)))
        for label in self.labels:
            label.setZValue(21)
            label.setVisible(False)
            view.addItem(label)
        self.frame: np.ndarray | None = None  # the original of the result on screen
        self.holding = False  # the compare key is down
        self.original = False  # "Show original" is on
        self.split = False
        self.fraction = 0.5
        self._placing = False
        self.divider.sigPositionChanged.connect(self._dragged)

    @property
    def showing_original(self) -> bool:
        return self.holding or self.original

    def set_frame(self, frame: np.ndarray | None) -> None:
        """The original (H, W, 3) uint8 of the result now on screen (None: nothing)."""
        resized = frame is not None and (self.frame is None or frame.shape != self.frame.shape)
        self.frame = frame
        if resized:
            self._place_divider()
        self._draw()

    def set_holding(self, on: bool) -> None:
        self.holding = bool(on)
        self._draw()

    def set_original(self, on: bool) -> None:
        self.original = bool(on)
        self._draw()

    def set_split(self, on: bool) -> None:
        self.split = bool(on)
        self._place_divider()
        self._draw()

    def set_fraction(self, fraction: float) -> None:
        """Put the divider at ``fraction`` (0 = left edge, 1 = right edge) of the width."""
        self.fraction = float(np.clip(fraction, 0.0, 1.0))
        self._place_divider()
        self._draw()

    def split_column(self) -> int:
        """The first column of the result in split view (columns left of it: the original)."""
        if self.frame is None:
            return 0
        return int(np.clip(round(self.fraction * self.frame.shape[1]), 0, self.frame.shape[1]))

    # ---- drawing ----
    def _place_divider(self) -> None:
        if self.frame is None:
            return
        w = self.frame.shape[1]
        self._placing = True
        self.divider.setBounds((0, w))
        self.divider.setValue(self.fraction * w)
        self._placing = False

    def _dragged(self) -> None:
        if self._placing or self.frame is None:
            return
        self.fraction = float(np.clip(self.divider.value() / self.frame.shape[1], 0.0, 1.0))
        self._draw()
        self.fraction_changed.emit(self.fraction)

    def _draw(self) -> None:
        frame = self.frame
        split = self.split and not self.showing_original and frame is not None
        self.divider.setVisible(split)
        for label in self.labels:
            label.setVisible(split)
        if frame is None or not (self.showing_original or self.split):
            self.before.setVisible(False)
            return
        h, w = frame.shape[:2]
        x = w if self.showing_original else self.split_column()
        if x == 0:
            self.before.setVisible(False)
        else:
            self.before.setImage(frame[:, :x], autoLevels=False, levels=None)  # bytes as they are
            self.before.setRect(0, 0, x, h)
            self.before.setVisible(True)
        if split:
            self.labels[0].setPos(x - 4, 4)
            self.labels[1].setPos(x + 4, 4)


def _typing_into(widget: Any) -> bool:
    """True when ``widget`` takes text (then the compare keys are letters, not commands)."""
    if isinstance(widget, QLineEdit | QTextEdit | QAbstractSpinBox):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


class HoldKey(QObject):
    """Reports ``held(True)`` when a :data:`HOLD_KEYS` key goes down in ``window`` and
    ``held(False)`` when it comes up (or the window loses focus). Installed on the app, so it
    works whichever child has the focus; auto-repeat is ignored."""

    held = Signal(bool)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.down = False
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        window.destroyed.connect(self._uninstall)

    def _uninstall(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            if event.key() not in HOLD_KEYS or event.isAutoRepeat():
                return False
            if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                return False
            if not self._ours(watched) or _typing_into(QApplication.focusWidget()):
                return False
            pressed = kind == QEvent.Type.KeyPress
            if pressed != self.down:
                self.down = pressed
                self.held.emit(pressed)
            return True
        if kind == QEvent.Type.WindowDeactivate and watched is self.window and self.down:
            self.down = False
            self.held.emit(False)
        return False

    def _ours(self, watched: QObject) -> bool:
        """The event goes to the main window or one of its children (not to a dialog)."""
        widget = watched if hasattr(watched, "window") else None
        try:
            return widget is not None and widget.window() is self.window
        except (RuntimeError, TypeError):  # a deleted widget, or a QWindow
            return False


class CompareControls(QObject):
    """The window's before/after controls: "Original" and "Split" actions (toolbar and View
    menu) and the hold key; :meth:`attach` gives them the frame view once it exists."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.overlay: CompareOverlay | None = None
        self.original_action = QAction("Original", window)
        self.original_action.setCheckable(True)
        self.original_action.setToolTip("Show the original frame (or hold \\ or B)")
        self.split_action = QAction("Split", window)
        self.split_action.setCheckable(True)
        self.split_action.setToolTip("Before | after with a divider to drag")
        self.actions = [self.original_action, self.split_action]
        self.hold = HoldKey(window)
        self._fraction = 0.5
        self.original_action.toggled.connect(lambda on: self._apply())
        self.split_action.toggled.connect(lambda on: self._apply())
        self.hold.held.connect(lambda on: self._apply())

    def attach(self, frame_view: Any) -> CompareOverlay:
        self.overlay = CompareOverlay(frame_view)
        self.overlay.fraction_changed.connect(self._remember)
        self._apply()
        return self.overlay

    def set_result(self, result: Any) -> None:
        """The FrameResult now on screen (its ``frame`` is the original)."""
        if self.overlay is not None:
            self.overlay.set_frame(None if result is None else result.frame)

    def _remember(self, fraction: float) -> None:
        self._fraction = fraction

    def _apply(self) -> None:
        overlay = self.overlay
        if overlay is None:
            return
        overlay.fraction = self._fraction
        overlay.holding = self.hold.down
        overlay.original = self.original_action.isChecked()
        overlay.set_split(self.split_action.isChecked())
