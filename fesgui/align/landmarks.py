"""Face key points: the :class:`FaceLandmarks` record, the source protocol, manual points.

Every landmark source (MediaPipe, clicks in the GUI, ``--landmarks`` on the command line)
produces :class:`FaceLandmarks`; alignment (:mod:`fesgui.align.template`) only reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from fesgui.errors import FesguiError

#: names of the rows of :attr:`FaceLandmarks.points`
POINT_NAMES = ("left_eye", "right_eye", "nose_tip", "left_mouth", "right_mouth")


@dataclass
class FaceLandmarks:
    """Key points of one face in frame pixel coordinates.

    ``points``: (5, 2) float32 (x, y) pixels: left eye centre, right eye centre (as seen
    in the image: left = smaller x), nose tip, left mouth corner, right mouth corner.
    ``mesh``: (468, 2) float32 all FaceMesh points, or ``None``.
    ``box``: (x0, y0, x1, y1) pixels of the face.
    ``manual``: True when only the two eyes and the mouth centre are known (given by hand);
    the nose tip and mouth corners are then estimates placed by the template and
    alignment uses eyes + mouth centre instead of eyes + nose tip.
    """

    points: np.ndarray
    mesh: np.ndarray | None = None
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    manual: bool = False

    @property
    def eyes(self) -> np.ndarray:
        """(2, 2) float32: left and right eye centres."""
        return self.points[:2]

    @property
    def mouth_centre(self) -> np.ndarray:
        """(2,) float32: the midpoint of the mouth corners."""
        return (self.points[3] + self.points[4]) / 2

    @property
    def area(self) -> float:
        """Area of :attr:`box` in square pixels (faces are ordered largest first)."""
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


@runtime_checkable
class LandmarkSource(Protocol):
    """Anything that finds faces: ``detect`` returns them largest first."""

    def detect(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Faces in an (H, W, 3) uint8 RGB image, largest first ([] if none)."""
        ...

    def close(self) -> None:
        """Release the detector."""
        ...


def box_of(points: np.ndarray, pad: float = 0.0) -> tuple[float, float, float, float]:
    """Bounding box (x0, y0, x1, y1) of (N, 2) points, grown by ``pad`` times its size."""
    pts = np.asarray(points, np.float64)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    dx, dy = (x1 - x0) * pad, (y1 - y0) * pad
    return (float(x0 - dx), float(y0 - dy), float(x1 + dx), float(y1 + dy))


def manual_landmarks(left_eye, right_eye, mouth_centre) -> FaceLandmarks:
    """Landmarks from three clicked points (x, y) in frame pixels.

    The nose tip and the mouth corners are filled in from the reference template (mapped
    by the similarity that the three given points define), so every consumer finds five
    points; ``manual=True`` tells alignment to use only the three given ones.
    The eyes may be given in either order: they are sorted by x.
    """
    from fesgui.align.template import Template

    given = np.array([left_eye, right_eye, mouth_centre], np.float64).reshape(3, 2)
    if not np.all(np.isfinite(given)):
        raise FesguiError("landmarks must be finite numbers: give x1,y1,x2,y2,x3,y3 in pixels")
    if given[0, 0] > given[1, 0]:
        given[[0, 1]] = given[[1, 0]]
    if math.dist(given[0], given[1]) < 1.0:
        raise FesguiError("the two eye points are the same: click the centre of each eye")
    eye_mid = (given[0] + given[1]) / 2
    if math.dist(eye_mid, given[2]) < 1.0:
        raise FesguiError("the mouth point lies between the eyes: click the centre of the mouth")
    template = Template.load()
    points = template.place(given)
    points[:2] = given[:2]
    points[3:] += given[2] - (points[3] + points[4]) / 2  # corners centred on the click
    return FaceLandmarks(points.astype(np.float32), None, box_of(points, pad=0.6), manual=True)


def parse_landmarks(text: str) -> FaceLandmarks:
    """Parse ``"x1,y1,x2,y2,x3,y3"`` (left eye, right eye, mouth centre; pixels)."""
    parts = [p for p in str(text).replace(";", ",").replace(" ", ",").split(",") if p]
    way_out = "give six numbers x1,y1,x2,y2,x3,y3 (left eye, right eye, mouth centre in pixels)"
    if len(parts) != 6:
        raise FesguiError(f"landmarks {text!r} has {len(parts)} numbers: {way_out}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise FesguiError(f"landmarks {text!r} contains something that is not a number: "
                          f"{way_out}") from None
    if not all(math.isfinite(v) for v in values):
        raise FesguiError(f"landmarks {text!r} contains inf or nan: {way_out}")
    return manual_landmarks(values[0:2], values[2:4], values[4:6])
