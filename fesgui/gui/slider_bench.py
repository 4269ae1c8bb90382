"""Slider-to-redraw latency of the refinement sliders, in the real app (``fesgui bench
--only slider`` runs this as a child process; see :mod:`fesgui.benchmarks.gui_slider`).

    python -m fesgui.gui.slider_bench MODEL SIZE STEPS RADIUS [RADIUS ...]

The main window (offscreen Qt), its real controller, worker thread and panels, a model
file and a still image: one aligned synthetic face of the model's size, its landmarks
given (no face finder runs, so the figure is the refinement path's alone). Refinement is
switched on; then for each dilation RADIUS ("auto": the model's default) the Blur σ slider
is moved STEPS times, to a value not used before (every step is new work for the worker:
no cached alpha map), and each step is timed from the slider's value change until the
window has drawn the result made with it and Qt has run the paint events it queued. One
JSON line on stdout: per radius, the step latencies and the UI thread's time in the
window's draw (ms).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np


class _GivenFace:
    """A landmark source that finds the same face (given landmarks) in every frame."""

    def __init__(self, landmarks: Any) -> None:
        self.landmarks = landmarks

    def detect(self, _image: np.ndarray) -> list:
        return [self.landmarks]

    def close(self) -> None:
        pass


def _face(size: int) -> tuple[np.ndarray, Any]:
    """A ``(size, size, 3)`` uint8 synthetic face and its landmarks (the template's)."""
    from fesgui.align import FaceLandmarks, Template
    from fesgui.synthetic import make_pairs

    X, _ = make_pairs(1, size, size, color=True, seed=11)
    frame = np.clip(X[0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    points = Template.load().in_crop((size, size)).astype(np.float32)
    return frame, FaceLandmarks(points, None, (0.0, 0.0, float(size), float(size)))


def measure(model_path: str, size: int, steps: int, radii: list[int | None],
            timeout_s: float = 60.0) -> dict:
    """The latencies (see the module docstring); needs a QApplication."""
    from PySide6.QtWidgets import QApplication

    from fesgui.gui.main_window import MainWindow

    app = QApplication.instance()
    frame, landmarks = _face(size)
    window = MainWindow(landmarks_factory=lambda _video: _GivenFace(landmarks))
    window.resize(1280, 800)
    window.show()
    c = window.controller
    drawn: list[tuple[Any, float, float]] = []  # (params, time drawn, draw ms)

    def on_result(_result: Any, info: Any) -> None:  # runs after the window's draw
        drawn.append((info.params, time.perf_counter(), 0.0))

    def wait(done, what: str) -> None:
        end = time.perf_counter() + timeout_s
        while not done():
            if time.perf_counter() > end:
                raise TimeoutError(f"no {what} within {timeout_s:g} s")
            app.processEvents()
            time.sleep(0.0005)

    try:
        window._build_heavy()  # the views and panels, as the app builds them once shown
        c.select_model(model_path)
        wait(lambda: c.model is not None, "model")
        c.result_ready.connect(on_result)
        c.show_frame(frame)
        wait(lambda: drawn, "first result")
        panel = window.refine_panel
        panel.enabled.setChecked(True)
        wait(lambda: drawn[-1][0].enabled and not c.still_pending, "refined result")
        out = {}
        sigma = 1.0
        for radius in radii:
            radius = c.defaults[0] if radius is None else radius  # None: the default
            if radius != drawn[-1][0].dilation_radius:
                panel.radius.set_value(radius, emit=True)
                wait(lambda r=radius: drawn[-1][0].dilation_radius == r
                     and not c.still_pending, f"radius {radius}")
            latencies, stalls = [], []
            for _ in range(steps):
                sigma = round(sigma + 0.07, 2)  # a value not used before
                start = len(drawn)
                t0 = time.perf_counter()
                panel.sigma.set_value(sigma, emit=True)
                wait(lambda s=sigma, n=start: len(drawn) > n
                     and abs(float(drawn[-1][0].blur_sigma or 0.0) - s) < 1e-6,
                     f"sigma {sigma}")
                app.processEvents()  # the paint events the draw queued
                latencies.append((time.perf_counter() - t0) * 1e3)
                stalls.append(float(c.last_info.timings.get("draw", 0.0)))
            used = drawn[-1][0].dilation_radius
            out["auto" if radius == c.defaults[0] else str(radius)] = {
                "radius": used, "latency_ms": latencies, "draw_ms": stalls,
                "worker_ms": dict(c.last_info.timings)}
        return out
    finally:
        window.close()
        c.shutdown()


def main(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication

    model, size, steps, *radii = argv
    app = QApplication.instance() or QApplication(sys.argv[:1])
    # the drag leaves refinement on at radius 40: never in the user's own settings
    with tempfile.TemporaryDirectory(prefix="fesgui-slider-") as tmp:
        os.environ.setdefault("FESGUI_SETTINGS_DIR", tmp)
        res = measure(model, int(size), int(steps),
                      [None if r == "auto" else int(r) for r in radii])
    print(json.dumps(res))
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
