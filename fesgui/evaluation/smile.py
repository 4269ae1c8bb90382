"""A smile measure from face-mesh landmarks: no downloaded classifier needed.

From the 468 MediaPipe FaceMesh points of a face, in a frame rotated so the line
through the eye centres is horizontal and scaled by the inter-ocular distance (IOD):

* ``width``   distance between the mouth corners (points 61 and 291) / IOD.
  Smiling stretches the mouth: larger.
* ``lift``    height of the mouth corners above the centre of the lips (mean of the
  inner-lip centre points 13 and 14), / IOD. A smile curves the corners up: larger
  (negative for a frown). Image y grows downwards; the measure is signed "up".
* ``opening`` gap between the inner lips (13 above 14) / IOD: teeth show in a smile.

The eye centres are the midpoints of the eye corners (33, 133) and (362, 263).
:func:`smile_gain` turns the three numbers into "how much of the way from the input's
expression to the target's expression did the output go" (0 = unchanged, 1 = as much
as the real photo of the target expression).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fesgui.errors import FesguiError

MOUTH_CORNERS = (61, 291)
LIP_CENTRE = (13, 14)        # inner upper lip, inner lower lip
EYE_CORNERS = ((33, 133), (362, 263))
MESH_POINTS = 468


@dataclass(frozen=True)
class SmileMeasure:
    """Mouth geometry of one face in units of the inter-ocular distance."""

    width: float
    lift: float
    opening: float


def smile_measure(mesh: np.ndarray) -> SmileMeasure:
    """Measure the mouth of one face from its ``(468, 2)`` mesh points (x, y in pixels).

    Invariant to translation, rotation and scale of the face in the image.
    """
    pts = np.asarray(mesh, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < MESH_POINTS:
        raise FesguiError(f"mesh of shape {pts.shape} is not (468, 2): "
                          "use FaceMesh landmarks (MediaPipeSource) for the smile measure")
    eye_a = pts[list(EYE_CORNERS[0])].mean(axis=0)
    eye_b = pts[list(EYE_CORNERS[1])].mean(axis=0)
    axis = eye_b - eye_a
    iod = float(np.hypot(*axis))
    if not np.isfinite(iod) or iod <= 1e-9:
        raise FesguiError("the eyes coincide in this mesh: it is not a face")
    u = axis / iod                      # along the eyes
    v = np.array([-u[1], u[0]])         # perpendicular, pointing down the face (image y)
    mouth_mid = (pts[LIP_CENTRE[0]] + pts[LIP_CENTRE[1]]) / 2
    # a face upside down in the image: keep v pointing from the eyes towards the mouth
    if np.dot(mouth_mid - (eye_a + eye_b) / 2, v) < 0:
        v = -v
    corners = pts[list(MOUTH_CORNERS)]
    width = float(np.linalg.norm(corners[1] - corners[0])) / iod
    lift = float(np.dot(mouth_mid - corners.mean(axis=0), v)) / iod
    opening = float(np.dot(pts[LIP_CENTRE[1]] - pts[LIP_CENTRE[0]], v)) / iod
    return SmileMeasure(width, lift, opening)


def measure_images(images: np.ndarray, source, upscale: int = 4, pad: float = 0.25
                   ) -> list[SmileMeasure | None]:
    """Detect the face in each aligned crop and measure its smile.

    ``images``: ``(N, H, W, 3)`` float in [0, 1] (or uint8) aligned face crops.
    ``source``: a landmark source (``detect(rgb uint8) -> [FaceLandmarks]`` with ``mesh``),
    normally :class:`fesgui.align.mediapipe_source.MediaPipeSource`.
    Small crops are enlarged ``upscale`` times (bicubic) and given a ``pad`` (fraction of
    the side) of replicated border, because face detectors miss faces that fill the whole
    frame. Returns one measure per image, ``None`` where no face mesh was found.
    """
    import cv2

    out: list[SmileMeasure | None] = []
    for img in np.asarray(images):
        if img.dtype != np.uint8:
            img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        big = cv2.resize(img, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        border = int(round(pad * max(big.shape[:2])))
        big = cv2.copyMakeBorder(big, border, border, border, border, cv2.BORDER_REPLICATE)
        faces = source.detect(np.ascontiguousarray(big))
        mesh = faces[0].mesh if faces else None
        out.append(None if mesh is None else smile_measure(mesh))
    return out


def mean_measure(measures: list[SmileMeasure | None]) -> SmileMeasure | None:
    """Mean of the measures that exist (``None`` if none do)."""
    found = [m for m in measures if m is not None]
    if not found:
        return None
    arr = np.array([[m.width, m.lift, m.opening] for m in found])
    return SmileMeasure(*(float(v) for v in arr.mean(axis=0)))


def smile_gain(inputs: SmileMeasure, outputs: SmileMeasure, targets: SmileMeasure
               ) -> SmileMeasure:
    """Fraction of the input -> target change reached by the outputs, per quantity.

    ``(output - input) / (target - input)``: 0 = the output kept the input's mouth,
    1 = it moved as far as the real target photos. NaN where input and target agree.
    """
    def frac(i: float, o: float, t: float) -> float:
        d = t - i
        return float((o - i) / d) if abs(d) > 1e-12 else float("nan")

    return SmileMeasure(frac(inputs.width, outputs.width, targets.width),
                        frac(inputs.lift, outputs.lift, targets.lift),
                        frac(inputs.opening, outputs.opening, targets.opening))
