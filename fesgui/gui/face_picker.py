"""Several faces in a frame: outline them all, click one to edit it, or edit all of them.

The choice travels to the worker as a plain value (:meth:`Controller.set_face_choice`):
``None`` (the largest face, the default), ``"all"``, or the ``(x, y)`` frame point the user
clicked. :func:`face_pick` turns it into the pipeline's ``pick`` function; a clicked point
keeps following the face nearest to it, so it also works on live video. The view part,
:class:`FacePicker`, only draws the boxes the pipeline found (``FrameResult.found``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QColor

Choice = Any  # None | "all" | (x, y)


def _box(face: Any) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in face.box)


def face_at(faces: Sequence[Any], x: float, y: float) -> int | None:
    """Index of the face whose box holds (x, y) (the smallest such box), else None."""
    hits = []
    for n, face in enumerate(faces):
        x0, y0, x1, y1 = _box(face)
        if x0 <= x <= x1 and y0 <= y <= y1:
            hits.append(((x1 - x0) * (y1 - y0), n))
    return min(hits)[1] if hits else None


def nearest_face(faces: Sequence[Any], x: float, y: float) -> int | None:
    """Index of the face under (x, y), else of the face whose box centre is nearest."""
    if not faces:
        return None
    hit = face_at(faces, x, y)
    if hit is not None:
        return hit
    centres = np.array([[(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] for b in map(_box, faces)])
    return int(np.argmin(((centres - [x, y]) ** 2).sum(axis=1)))


def face_pick(choice: Choice) -> Callable[[list], list] | None:
    """The pipeline's ``pick`` for a choice (None: the pipeline's own rule, the largest)."""
    if choice is None:
        return None
    if choice == "all":
        from fesgui.pipeline import MAX_FACES

        return lambda faces: list(faces)[:MAX_FACES]
    x, y = (float(v) for v in choice)

    def pick(faces: list) -> list:
        n = nearest_face(faces, x, y)
        return [] if n is None else [faces[n]]

    return pick


def outline(faces: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the closed box outlines of ``faces``, NaN between boxes (for drawing)."""
    xs: list[float] = []
    ys: list[float] = []
    for face in faces:
        x0, y0, x1, y1 = _box(face)
        xs += [x0, x1, x1, x0, x0, np.nan]
        ys += [y0, y0, y1, y1, y0, np.nan]
    return np.asarray(xs, float), np.asarray(ys, float)


class FacePicker(QObject):
    """Outlines every face of a frame with more than one; a click on one edits that face;
    the "All faces" action edits every face. Talks to the controller only."""

    HINT = "{n} faces: click one to edit it, or choose All faces"
    HINT_ALL = "{n} faces, all changed: click one to change only that face"

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.all_action = QAction("All faces", window)
        self.all_action.setCheckable(True)
        self.all_action.setToolTip("Change every face in the frame (else click the face to "
                                   "change)")
        self.all_action.toggled.connect(self._all_toggled)
        self.found: list = []  # faces of the frame on screen
        self.edited: list = []  # the ones changed
        self._others: Any = None
        self._chosen: Any = None
        self._hinted = 0

    def attach(self, frame_view: Any) -> None:
        import pyqtgraph as pg

        self._others = pg.PlotCurveItem(pen=pg.mkPen(QColor(255, 255, 255, 200), width=1.5,
                                                     style=Qt.PenStyle.DashLine))
        self._chosen = pg.PlotCurveItem(pen=pg.mkPen(QColor(255, 200, 40), width=2.5))
        for item in (self._others, self._chosen):
            item.setZValue(15)
            frame_view.view.addItem(item)

    # ---- from the window ----
    def set_result(self, result: Any) -> None:
        """Outline the faces of ``result`` (a FrameResult) when there are several."""
        self.found = list(getattr(result, "found", None) or [])
        self.edited = [face.landmarks for face in result.faces]
        if self._others is None:
            return
        several = len(self.found) > 1
        edited_ids = {id(lm) for lm in self.edited}
        others = [f for f in self.found if id(f) not in edited_ids] if several else []
        chosen = [f for f in self.found if id(f) in edited_ids] if several else []
        self._others.setData(*outline(others), connect="finite")
        self._chosen.setData(*outline(chosen), connect="finite")
        if several and self._hinted != len(self.found):
            self._hinted = len(self.found)
            hint = self.HINT_ALL if self.all_action.isChecked() else self.HINT
            self.window.show_status(hint.format(n=len(self.found)))
        elif not several:
            self._hinted = 0

    def click(self, x: float, y: float) -> bool:
        """A click on the frame at (x, y): edit the face there. True if it picked one."""
        if getattr(self.window.placer, "active", False) or len(self.found) < 2:
            return False
        if face_at(self.found, x, y) is None:
            return False
        self.all_action.blockSignals(True)
        self.all_action.setChecked(False)
        self.all_action.blockSignals(False)
        self.controller.set_face_choice((float(x), float(y)))
        return True

    def _all_toggled(self, on: bool) -> None:
        self.controller.set_face_choice("all" if on else None)
