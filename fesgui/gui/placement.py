""""Place landmarks": the user clicks the two eyes and the mouth centre on the frame view.

For faces the detector misses. On-screen prompts say what to click next; after the third
click the points go to :meth:`Controller.set_manual_landmarks`
(``fesgui.align.manual_landmarks``), which re-runs the image with them. Escape cancels.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QAbstractButton, QLabel

PROMPTS = ("Click the LEFT eye (the one on the left of the picture)",
           "Click the RIGHT eye (the one on the right of the picture)",
           "Click the centre of the MOUTH")


class LandmarkPlacer(QObject):
    """Collects three clicks; ``button`` is the checkable "Place landmarks" toggle."""

    def __init__(self, controller: Any, prompt: QLabel, button: QAbstractButton,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.prompt = prompt
        self.button = button
        self.view: Any = None  # the FrameView, once it exists
        self.points: list[tuple[float, float]] | None = None  # None: not placing

    @property
    def active(self) -> bool:
        return self.points is not None

    def set_active(self, on: bool) -> None:
        """Enter or leave the mode (entering needs a still image on screen)."""
        self._show(False)
        if on:
            self.controller.check_can_place()  # a one-line error: the mode stays off
            self._show(True)

    def _show(self, on: bool) -> None:
        self.points = [] if on else None
        self.button.blockSignals(True)
        self.button.setChecked(on)
        self.button.blockSignals(False)
        if self.view is not None:
            self.view.set_manual_points([])
        self.prompt.setText(PROMPTS[0] if on else "")
        self.prompt.setVisible(on)

    def click(self, x: float, y: float) -> None:
        """A click on the frame at (x, y) frame pixels."""
        if self.points is None:
            return
        self.points.append((x, y))
        if self.view is not None:
            self.view.set_manual_points(self.points)
        if len(self.points) < 3:
            self.prompt.setText(PROMPTS[len(self.points)])
            return
        left, right, mouth = self.points
        self._show(False)
        self.controller.set_manual_landmarks(left, right, mouth)
