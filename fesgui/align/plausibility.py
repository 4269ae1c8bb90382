"""Is a detected "face" a face, and which way up is it? Pure numpy, on the five key points.

A face detector answers on anything: MediaPipe FaceMesh fits a face to a cat's eye, and on
an upside-down face it fits an upright face somewhere near it. Two checks stop fesgui from
editing those:

* :func:`assess` -- the geometry of the five key points (left eye, right eye, nose tip,
  left and right mouth corner, image left/right of an upright face): the eyes at least
  :data:`MIN_EYE_DISTANCE` px apart; the mouth below the eyes and the nose between them
  along the face's own axis (eye centre -> mouth centre); the eye line across that axis
  with the handedness of a real (not mirrored) face; the proportions of a face
  (eye-to-mouth distance and mouth width against the eye distance). It also says how far
  the face is turned from upright (``tilt``).
* :func:`upright_detect` -- runs a detector on a photo; when a face is implausible or
  turned more than :data:`UPRIGHT_TILT` degrees, or nothing is found, it runs the detector
  again on the photo turned by a quarter, half and three quarters, keeps the faces that are
  plausible *and* upright in their turned photo (detectors are trained on upright faces)
  and maps their points back. A "face" that is upright in none of the four is not a face.

Points are ``(x, y)`` pixel coordinates with ``y`` down; a pixel's centre is at
``(col + 0.5, row + 0.5)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fesgui.align.landmarks import FaceLandmarks, box_of

#: eyes closer than this (pixels) are not a face fesgui can change
MIN_EYE_DISTANCE = 8.0
#: a face turned more than this (degrees) from upright is looked for in a turned photo
UPRIGHT_TILT = 20.0
#: a face turned more than this (and upright in no turned photo) is not accepted
MAX_TILT = 45.0
#: eye-to-mouth distance / eye distance of a face (frontal ~0.9; turned heads shrink the
#: eye distance, tilted ones the eye-to-mouth distance)
EYE_MOUTH_RANGE = (0.45, 2.5)
#: mouth width / eye distance (frontal ~0.8-1.0; a smile widens it)
MOUTH_WIDTH_RANGE = (0.3, 2.0)
#: where the nose tip lies from the eyes (0) to the mouth (1) along the face's axis
NOSE_RANGE = (0.05, 1.05)
#: cosine of the angle between the mouth line and the eye line (they run alike)
MIN_PARALLEL = 0.7
#: how far the nose tip may lie off the face's axis, in eye distances (turned heads)
MAX_NOSE_ACROSS = 1.0
#: sine of the angle from the eye line to the face's axis: a face's is near 1; negative
#: is a mirror image of a face (a fit that went wrong)
MIN_HANDEDNESS = 0.5


@dataclass(frozen=True)
class Verdict:
    """What :func:`assess` found.

    ``plausible``: the points look like a face; ``reason``: why not ("" if plausible);
    ``tilt``: degrees the face is turned from upright (0 upright, +-180 upside down;
    positive when its top leans to the image right).
    """

    plausible: bool
    reason: str
    tilt: float


def assess(points: np.ndarray) -> Verdict:
    """Judge five key points ``(5, 2)``: left eye, right eye, nose tip, left and right
    mouth corner (image left/right of the upright face)."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (5, 2) or not np.isfinite(p).all():
        return Verdict(False, "the landmarks are not five finite points", 0.0)
    left_eye, right_eye, nose, left_mouth, right_mouth = p
    eye_line = right_eye - left_eye
    eyes = float(np.hypot(*eye_line))
    eye_mid = (left_eye + right_eye) / 2
    axis = (left_mouth + right_mouth) / 2 - eye_mid
    eye_mouth = float(np.hypot(*axis))
    if eyes < MIN_EYE_DISTANCE or eye_mouth < 1e-6:
        return Verdict(False, f"too small (eyes {eyes:.0f} px apart, at least "
                       f"{MIN_EYE_DISTANCE:.0f})", 0.0)
    down = axis / eye_mouth
    tilt = math.degrees(math.atan2(-down[0], down[1]))
    handedness = float(eye_line[0] * down[1] - eye_line[1] * down[0]) / eyes
    if handedness < MIN_HANDEDNESS:
        return Verdict(False, "the eyes do not line up across the face", tilt)
    ratio = eye_mouth / eyes
    if not EYE_MOUTH_RANGE[0] <= ratio <= EYE_MOUTH_RANGE[1]:
        return Verdict(False, f"eye-to-mouth distance {ratio:.2f} x the eye distance", tilt)
    mouth_line = right_mouth - left_mouth
    width = float(np.hypot(*mouth_line)) / eyes
    if not MOUTH_WIDTH_RANGE[0] <= width <= MOUTH_WIDTH_RANGE[1]:
        return Verdict(False, f"mouth width {width:.2f} x the eye distance", tilt)
    if float(np.dot(mouth_line, eye_line)) / (width * eyes * eyes) < MIN_PARALLEL:
        return Verdict(False, "the mouth does not run along the eyes", tilt)
    along = float(np.dot(nose - eye_mid, down)) / eye_mouth
    across = float(np.dot(nose - eye_mid, eye_line)) / (eyes * eyes)
    if not NOSE_RANGE[0] <= along <= NOSE_RANGE[1] or abs(across) > MAX_NOSE_ACROSS:
        return Verdict(False, "the nose is not between the eyes and the mouth", tilt)
    corners = (np.array([left_mouth, right_mouth]) - eye_mid) @ down / eye_mouth
    if (corners < 0.5).any():
        return Verdict(False, "the mouth is not below the eyes", tilt)
    return Verdict(True, "", tilt)


# ------------------------------------------------------------------ turned photos
def rotate_points(points: np.ndarray, k: int, shape: tuple[int, ...]) -> np.ndarray:
    """Where ``points`` of an image of ``shape`` (H, W, ...) land in ``np.rot90(image, k)``."""
    p = np.asarray(points, dtype=np.float64).copy()
    h, w = shape[:2]
    for _ in range(k % 4):  # one counter-clockwise quarter: (x, y) -> (y, W - x)
        p = np.stack([p[..., 1], w - p[..., 0]], axis=-1)
        h, w = w, h
    return p


def unrotate_points(points: np.ndarray, k: int, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`rotate_points`: points of ``np.rot90(image, k)`` in ``image``
    (of ``shape``)."""
    p = np.asarray(points, dtype=np.float64).copy()
    h, w = shape[:2]
    sizes = []
    for _ in range(k % 4):
        sizes.append(w)
        h, w = w, h
    for w_before in reversed(sizes):  # (x', y') -> (W - y', x')
        p = np.stack([w_before - p[..., 1], p[..., 0]], axis=-1)
    return p


def _back(face: FaceLandmarks, k: int, shape: tuple[int, ...]) -> FaceLandmarks:
    points = unrotate_points(face.points, k, shape).astype(np.float32)
    mesh = None if face.mesh is None else unrotate_points(face.mesh, k, shape).astype(
        np.float32)
    box = box_of(mesh) if mesh is not None else _box_back(face.box, k, shape)
    return FaceLandmarks(points, mesh, box, manual=face.manual)


def _box_back(box: tuple, k: int, shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    corners = unrotate_points(np.array([[x0, y0], [x1, y1]]), k, shape)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def _overlap(a: tuple, b: tuple) -> float:
    """Intersection over the smaller of two boxes (x0, y0, x1, y1)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def plausible_faces(faces: list[FaceLandmarks]) -> list[FaceLandmarks]:
    """The faces whose key points pass :func:`assess` (any tilt)."""
    return [f for f in faces if assess(f.points).plausible]


def upright_crop(image: np.ndarray, centre: tuple[float, float], tilt: float,
                 side: int) -> np.ndarray:
    """A ``side`` x ``side`` crop of ``image`` around ``centre`` (x, y), turned by ``tilt``
    degrees so that a face with that tilt stands upright in it (nearest-neighbour
    sampling, edges repeated)."""
    a = math.radians(tilt)
    grid = np.arange(side, dtype=np.float64) + 0.5 - side / 2
    u, v = np.meshgrid(grid, grid)  # crop coordinates about its centre
    # the crop's "down" (0, 1) is the face's down (-sin a, cos a) in the image
    x = centre[0] + u * math.cos(a) - v * math.sin(a)
    y = centre[1] + u * math.sin(a) + v * math.cos(a)
    h, w = image.shape[:2]
    cols = np.clip(np.floor(x), 0, w - 1).astype(np.intp)
    rows = np.clip(np.floor(y), 0, h - 1).astype(np.intp)
    return np.ascontiguousarray(image[rows, cols])


def _confirmed(detect: Callable[[np.ndarray], list[FaceLandmarks]], image: np.ndarray,
               face: FaceLandmarks, tilt: float) -> bool:
    """A tilted face is a face if the detector finds it again, upright and in the middle,
    in a crop turned so that it stands upright (a real face does; a chin or a pattern that
    happened to fit a face at an angle does not)."""
    x0, y0, x1, y1 = face.box
    side = int(max(32, min(2048, 2.5 * max(x1 - x0, y1 - y0))))
    crop = upright_crop(image, ((x0 + x1) / 2, (y0 + y1) / 2), tilt, side)
    for again in detect(crop):
        verdict = assess(again.points)
        middle = np.asarray(again.points[:2], np.float64).mean(axis=0)
        if (verdict.plausible and abs(verdict.tilt) <= UPRIGHT_TILT
                and np.abs(middle - side / 2).max() < side / 4):
            return True
    return False


def upright_detect(detect: Callable[[np.ndarray], list[FaceLandmarks]], image: np.ndarray,
                   retry: bool = True, found: list[FaceLandmarks] | None = None
                   ) -> list[FaceLandmarks]:
    """The plausible faces ``detect`` finds in ``image`` (H, W, 3), upside-down and
    sideways faces included, with points in ``image``'s coordinates.

    ``retry=False`` (live video: one detection per frame, tracking state) only drops
    implausible faces. With ``retry`` (photos): faces found upright (within
    :data:`UPRIGHT_TILT`) are kept as found, and if that is all, nothing else is done.
    Otherwise the photo is also searched turned by 90, 180 and 270 degrees; a face upright
    in a turned photo is added where no upright face was found (upside down, a detector
    fits an upright "face" to a face, so a face found upright as the photo is always
    wins). A face tilted up to :data:`MAX_TILT` and found in no turn is kept if the
    detector finds it again in a crop turned upright. ``found``: what ``detect(image)``
    already returned (it is not run again).
    """
    found = detect(image) if found is None else found
    verdicts = [assess(f.points) for f in found]
    if not retry:
        return [f for f, v in zip(found, verdicts, strict=True) if v.plausible]
    kept = [f for f, v in zip(found, verdicts, strict=True)
            if v.plausible and abs(v.tilt) <= UPRIGHT_TILT]
    if found and len(kept) == len(found):
        return found
    turned: list[tuple[float, FaceLandmarks]] = []
    for k in (1, 2, 3):
        for face in detect(np.ascontiguousarray(np.rot90(image, k))):
            verdict = assess(face.points)
            if verdict.plausible and abs(verdict.tilt) <= UPRIGHT_TILT:
                turned.append((abs(verdict.tilt), _back(face, k, image.shape)))
    tilted = [(abs(v.tilt), f, v.tilt) for f, v in zip(found, verdicts, strict=True)
              if v.plausible and UPRIGHT_TILT < abs(v.tilt) <= MAX_TILT]

    def free(face: FaceLandmarks) -> bool:
        return not any(_overlap(face.box, other.box) > 0.3 for other in kept)

    for _, face in sorted(turned, key=lambda c: c[0]):
        if free(face):
            kept.append(face)
    for _, face, tilt in sorted(tilted, key=lambda c: c[0]):
        if free(face) and _confirmed(detect, image, face, tilt):
            kept.append(face)
    return kept
