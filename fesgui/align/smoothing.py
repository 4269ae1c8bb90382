"""Temporal smoothing of landmarks for live video: the One-Euro filter.

Casiez, Roussel & Vogel (CHI 2012): a low-pass filter whose cut-off rises with the speed
of the signal, so a still face stops jittering while a moving face does not lag. Cheap: a
few numpy operations on the 5 key points (and the mesh) per frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from fesgui.align.landmarks import FaceLandmarks, LandmarkSource, box_of


def _alpha(cutoff: float | np.ndarray, dt: float) -> float | np.ndarray:
    """Smoothing factor of a low-pass with ``cutoff`` Hz (a number or elementwise array)
    over a step of ``dt`` seconds."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of an array signal (any shape), elementwise.

    ``min_cutoff`` (Hz): smoothing of a still signal (lower = smoother);
    ``beta``: how fast the cut-off rises with speed (higher = less lag);
    ``d_cutoff`` (Hz): smoothing of the speed estimate. Units of ``t``: seconds.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05,
                 d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next value passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filtered value of ``x`` (float64 array) at time ``t`` seconds."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._t is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        if dt <= 0:
            dt = 1.0 / 30.0  # repeated time stamp: assume a 30 fps frame step
        a_d = _alpha(self.d_cutoff, dt)
        dx = (x - self._x) / dt
        self._dx = a_d * dx + (1 - a_d) * self._dx
        a = _alpha(self.min_cutoff + self.beta * np.abs(self._dx), dt)
        self._x = a * x + (1 - a) * self._x
        self._t = t
        return self._x.copy()


class LandmarkSmoother:
    """Smooths the landmarks of the faces of a video, one One-Euro filter per face.

    Faces are matched to the previous frame's by the nearest eye midpoint. A face that is
    lost, or jumps by more than ``jump`` inter-ocular distances between frames, restarts
    its filter (no smoothing across a cut). ``min_cutoff`` and ``beta`` are in pixels
    and seconds as in :class:`OneEuroFilter`.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, jump: float = 0.5) -> None:
        self.min_cutoff, self.beta, self.jump = min_cutoff, beta, jump
        self._tracks: list[tuple[np.ndarray, OneEuroFilter, OneEuroFilter]] = []

    def reset(self) -> None:
        self._tracks = []

    def update(self, faces: list[FaceLandmarks], t: float | None = None
               ) -> list[FaceLandmarks]:
        """Smoothed copies of ``faces`` (same order) observed at time ``t`` seconds
        (default: now)."""
        t = time.monotonic() if t is None else t
        tracks, out = [], []
        free = list(self._tracks)
        for face in faces:
            centre = face.points[:2].mean(axis=0)
            iod = float(np.linalg.norm(face.points[1] - face.points[0])) or 1.0
            best = None
            if free:
                dists = [float(np.linalg.norm(c - centre)) for c, _, _ in free]
                i = int(np.argmin(dists))
                if dists[i] <= self.jump * iod:
                    best = free.pop(i)
            if best is None:
                best = (centre, OneEuroFilter(self.min_cutoff, self.beta),
                        OneEuroFilter(self.min_cutoff, self.beta))
            _, fp, fm = best
            points = fp(face.points, t).astype(np.float32)
            mesh = None if face.mesh is None else fm(face.mesh, t).astype(np.float32)
            if face.mesh is None:
                fm.reset()
            tracks.append((points[:2].mean(axis=0), fp, fm))
            box = box_of(mesh) if mesh is not None else face.box
            out.append(FaceLandmarks(points, mesh, box, face.manual))
        self._tracks = tracks
        return out


class SmoothedSource:
    """A :class:`LandmarkSource` that smooths another one's faces over time.

    ``clock`` gives the time of the current frame in seconds (default: the wall clock, for
    live video; a file being converted passes ``frame_index / fps``).
    """

    def __init__(self, source: LandmarkSource, smoother: LandmarkSmoother | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.source = source
        self.smoother = LandmarkSmoother() if smoother is None else smoother
        self.clock = time.monotonic if clock is None else clock  # seconds

    def detect(self, image: np.ndarray) -> list[FaceLandmarks]:
        return self.smoother.update(self.source.detect(image), self.clock())

    def close(self) -> None:
        self.source.close()
