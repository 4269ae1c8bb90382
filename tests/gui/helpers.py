"""Helpers shared by the app's tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fesgui.align import FaceLandmarks, box_of
from fesgui.synthetic import make_face

FRAME_H, FRAME_W = 160, 200


class FakeLandmarks:
    """A landmark source that "finds" the synthetic face at known points (or none)."""

    def __init__(self, points: np.ndarray | None) -> None:
        self.points = points
        self.calls = 0
        self.closed = False

    def detect(self, image: np.ndarray) -> list[FaceLandmarks]:
        self.calls += 1
        if self.points is None:
            return []
        return [FaceLandmarks(self.points.copy(), None, box_of(self.points, pad=0.5))]

    def close(self) -> None:
        self.closed = True


def load_model(qtbot, win, key_or_path) -> None:
    """Select a model and wait until the worker has loaded it."""
    c = win.controller
    c.refresh_models()
    with qtbot.waitSignal(c.model_changed, timeout=10000):
        c.select_model(key_or_path)


def next_result(qtbot, win, action):
    """Do ``action`` and return the next (FrameResult, FrameInfo) drawn."""
    with qtbot.waitSignal(win.controller.result_ready, timeout=10000) as blocker:
        action()
    return blocker.args


def open_and_wait(qtbot, win, path) -> object:
    """Open a still image and return the first FrameResult drawn for it."""
    return next_result(qtbot, win, lambda: win.controller.open_path(path))[0]


def write_video(path: Path, n: int = 12, fps: float = 20.0) -> Path:
    """A short video of the synthetic face (the same face moving 1 px per frame)."""
    from fesgui.video import VideoWriter

    img, _ = make_face(FRAME_H, FRAME_W, smile=0.0, seed=3)
    with VideoWriter(path, fps) as writer:
        for i in range(n):
            writer.write(np.roll(img, i % 3, axis=1))
    return path
