"""A face's landmarks carried from one video frame to the next by optical flow.

FaceMesh costs ~9 ms of CPU per face and frame at any resolution; following its points
into the next frame with pyramidal Lucas-Kanade (OpenCV) costs ~1 ms. Video mode
(:class:`fesgui.align.mediapipe_source.MediaPipeSource`) runs FaceMesh on every
:data:`fesgui.align.mediapipe_source.MESH_EVERY`-th frame and follows the face in
between with :class:`FlowFollower`.

The face is followed as a whole: a spread of its mesh points is tracked in a small grey
picture of the face (:data:`SIDE` pixels square, the same square of both frames), points
that do not track back to where they started are dropped, and the similarity (shift,
turn, scale) that best maps the rest (least median of squares) moves every landmark. A
head moves rigidly over a frame's 33 ms; the expression's own motion (a mouth opening)
waits for the next FaceMesh frame. Measured on a face drifting 14 px per frame across a
1920x1080 video: the points move within 0.3 px of the true motion, where FaceMesh's own
frame-to-frame motion is off by 5 px on average (its jitter, which the One-Euro smoother
then removes).

Following fails (returns None) when too few points track both ways or the similarity
does not explain them: a cut, the face leaving the picture, a hand over it. The caller
runs FaceMesh then.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from fesgui.align.landmarks import FaceLandmarks, box_of
from fesgui.align.warp import square_crop

#: side (pixels) of the grey picture of the face the points are followed in
SIDE = 128
#: the square followed is this many times the face's size (the larger side of its box)
SCALE = 1.6
#: every this-many-th mesh point is followed (39 of FaceMesh's 468)
POINT_STEP = 12
#: a point counts when it tracks back to within this many pixels (of the SIDE picture)
#: of where it started
BACK_ERROR = 0.5
#: ... and lies within this of where the fitted similarity puts it
FIT_ERROR = 1.0
#: the fraction of the followed points that must count, else following fails
MIN_GOOD = 0.5
_LK = {"winSize": (11, 11), "maxLevel": 2,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}


def _square(face: FaceLandmarks) -> tuple[float, float, float]:
    x0, y0, x1, y1 = face.box
    return (x0 + x1) / 2, (y0 + y1) / 2, SCALE * max(x1 - x0, y1 - y0)


def _grey(image: np.ndarray, square: tuple[float, float, float]
          ) -> tuple[np.ndarray, float, float, float]:
    crop, x0, y0, scale = square_crop(image, *square, SIDE)
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), x0, y0, scale


def follow_similarity(before: np.ndarray, after: np.ndarray, points: np.ndarray
                      ) -> np.ndarray | None:
    """The (2, 3) similarity that moves ``points`` ((n, 2) pixels of the grey picture
    ``before``) to where they are in ``after`` (same size), or None when fewer than
    :data:`MIN_GOOD` of them track there and back and agree on it."""
    pts = np.ascontiguousarray(points, np.float32).reshape(-1, 1, 2)
    there, ok1, _ = cv2.calcOpticalFlowPyrLK(before, after, pts, None, **_LK)
    back, ok2, _ = cv2.calcOpticalFlowPyrLK(after, before, there, None, **_LK)
    pts, there, back = pts[:, 0], there[:, 0], back[:, 0]
    good = (ok1[:, 0] == 1) & (ok2[:, 0] == 1) & \
        (np.hypot(*(back - pts).T) < BACK_ERROR)
    need = max(3, int(np.ceil(MIN_GOOD * len(pts))))
    if good.sum() < need:
        return None
    m, _ = cv2.estimateAffinePartial2D(pts[good], there[good], method=cv2.LMEDS)
    if m is None or not np.all(np.isfinite(m)):
        return None
    moved = pts[good] @ m[:, :2].T + m[:, 2]
    if (np.hypot(*(moved - there[good]).T) < FIT_ERROR).sum() < need:
        return None
    return m


class FlowFollower:
    """Follows one face from frame to frame: :meth:`remember` a frame and the face found
    in it, then :meth:`follow` it into the next frame (which is remembered in turn)."""

    def __init__(self) -> None:
        self._grey: np.ndarray | None = None
        self._at: tuple[float, float, float, float] | None = None  # x0, y0, scale of _grey
        self._square: tuple[float, float, float] | None = None
        self._face: FaceLandmarks | None = None

    def remember(self, image: np.ndarray, face: FaceLandmarks) -> None:
        """``face`` as found in ``image`` (an (H, W, 3) uint8 RGB frame)."""
        self._square = _square(face)
        grey, x0, y0, scale = _grey(image, self._square)
        self._grey, self._at, self._face = grey, (x0, y0, scale), face

    def forget(self) -> None:
        self._grey = self._at = self._square = self._face = None

    def follow(self, image: np.ndarray) -> FaceLandmarks | None:
        """The remembered face moved into ``image`` (the next frame), which becomes the
        remembered one (the same square of it: a face moves a few pixels per frame); None,
        and nothing remembered, when it cannot be followed."""
        face, before = self._face, self._grey
        if face is None or before is None:
            return None
        x0, y0, scale = self._at
        after = _grey(image, self._square)[0]
        origin = np.array([x0, y0], np.float32)
        mesh = face.mesh if face.mesh is not None else face.points
        m = follow_similarity(before, after, (mesh[::POINT_STEP] - origin) * scale)
        if m is None:
            self.forget()
            return None

        def move(xy) -> np.ndarray:
            u = (np.asarray(xy, np.float32) - origin) * scale
            return ((u @ m[:, :2].T + m[:, 2]) / scale + origin).astype(np.float32)

        if face.mesh is not None:
            moved_mesh = move(face.mesh)
            box = box_of(moved_mesh)
        else:
            bx0, by0, bx1, by1 = face.box
            moved_mesh, box = None, box_of(move([[bx0, by0], [bx1, by0], [bx1, by1],
                                                 [bx0, by1]]))
        moved = dataclasses.replace(face, points=move(face.points), mesh=moved_mesh, box=box)
        self._grey, self._face = after, moved
        return moved
