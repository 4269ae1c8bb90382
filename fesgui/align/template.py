"""The reference face: where the key points sit in an aligned crop, and the similarity.

The template stores the mean key points of the London neutral faces in *normalised*
coordinates of a unit square (x right, y down, 0..1). A crop of any size (h, w) shows that
square scaled to ``min(h, w)`` pixels and centred, so 128, 256, 512 and non-square crops
all frame the face the same way (a non-square crop only adds margin on its long side).
The file is made by :mod:`fesgui.align.derive_template` and read by :meth:`Template.load`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fesgui.errors import FesguiError
from fesgui.paths import resources_dir

TEMPLATE_FILE = "face_template.json"
_KEYS = ("left_eye", "right_eye", "nose_tip", "left_mouth", "right_mouth")
#: how a face is aligned to the template: the points fitted (see :meth:`Template.matrix`)
ALIGNMENTS = ("eyes-mouth", "eyes-nose")
#: the alignment of models whose file does not name one (format 1)
LEGACY_ALIGNMENT = "eyes-nose"


def register_pair(source_points: np.ndarray, target_points: np.ndarray) -> np.ndarray:
    """(2, 3) similarity taking a target photo's frame onto its source photo's frame, fitted
    on the eye centres and the nose tip (which an expression does not move), so the two
    photos of one person share one crop and their difference is the expression alone."""
    src = np.asarray(source_points, np.float64)[:3]
    tgt = np.asarray(target_points, np.float64)[:3]
    return similarity_lstsq(tgt, src)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(2, 3) affine ``outer`` after ``inner``."""
    full = np.vstack([np.asarray(inner, np.float64), [0.0, 0.0, 1.0]])
    return np.asarray(outer, np.float64) @ full


def crop_shape(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``(h, w)`` from ``size`` (an int for a square crop, or ``(h, w)`` like a model's
    ``meta["image_size"]``)."""
    if isinstance(size, int | np.integer):
        h = w = int(size)
    else:
        try:
            h, w = (int(v) for v in size)
        except (TypeError, ValueError):
            raise FesguiError(f"crop size {size!r} is not a size: give an int or (h, w)") from None
    if h < 8 or w < 8:
        raise FesguiError(f"crop size {h}x{w} is too small: use at least 8x8 (e.g. 128)")
    return h, w


def similarity_lstsq(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no shear, no
    reflection) mapping (N, 2) ``src`` points onto ``dst``. Returns a (2, 3) float64 matrix
    ``M`` with ``dst ~= src @ M[:, :2].T + M[:, 2]``. Needs N >= 2 distinct points.

    Solves the linear system in (a, b, tx, ty) of ``x' = a x - b y + tx``,
    ``y' = b x + a y + ty`` (the closed form of Umeyama's estimate without reflection).
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n = len(src)
    if n < 2 or float(((src - src.mean(axis=0)) ** 2).sum()) < 1e-12:
        raise FesguiError("the face points are degenerate (all in one place): "
                          "check the landmarks")
    A = np.zeros((2 * n, 4))
    A[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)])
    A[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)])
    (a, b, tx, ty), *_ = np.linalg.lstsq(A, dst.reshape(-1), rcond=None)
    return np.array([[a, -b, tx], [b, a, ty]])


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points mapped by a (2, 3) affine matrix (float64)."""
    pts = np.asarray(points, np.float64)
    return pts @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def invert_matrix(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix, as (2, 3) float64."""
    full = np.vstack([np.asarray(matrix, np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


@dataclass(frozen=True)
class Template:
    """Reference key points in normalised unit-square coordinates.

    ``points``: (5, 2) float64 (left eye, right eye, nose tip, left/right mouth corner);
    ``mask_centre`` / ``mask_axes``: the face ellipse (normalised) that paste-back blends
    inside; ``info``: provenance from the JSON file. ``aspect``: how much taller than
    wide a face is drawn relative to fesgui's own framing (1: a plain similarity; a
    model whose authors resized non-square face boxes to a square, e.g. 0.77, is aligned
    with a similarity followed by this vertical scale).
    """

    points: np.ndarray
    mask_centre: tuple[float, float] = (0.5, 0.55)
    mask_axes: tuple[float, float] = (0.36, 0.44)
    info: str = ""
    aspect: float = 1.0

    @property
    def mouth_centre(self) -> np.ndarray:
        return (self.points[3] + self.points[4]) / 2

    @staticmethod
    def load(path: str | Path | None = None) -> Template:
        """Read a template JSON (default: ``resources/face_template.json``)."""
        if path is None:
            return _default_template()
        return _read(Path(path))

    @staticmethod
    def from_meta(framing: dict, base: Template | None = None) -> Template:
        """The template of a model's framing (``meta["template"]``: ``left_eye``,
        ``right_eye``, ``mouth_centre`` as normalised ``[x, y]``).

        The nose tip, mouth corners and paste-back ellipse are carried over from ``base``
        (default: fesgui's template) by the axis-aligned scale and shift that puts its eyes
        and mouth centre on the given ones; ``aspect`` is that map's vertical scale over
        its horizontal one."""
        base = _default_template() if base is None else base
        try:
            le, re_, mc = (np.asarray(framing[k], np.float64)
                           for k in ("left_eye", "right_eye", "mouth_centre"))
        except (KeyError, TypeError, ValueError):
            raise FesguiError(f"model framing {framing!r} is not eyes + mouth centre: "
                              "re-import the model with `fesgui convert`") from None
        b_le, b_re, b_mc = base.points[0], base.points[1], base.mouth_centre
        b_eye_y = (b_le[1] + b_re[1]) / 2
        eye_y = (le[1] + re_[1]) / 2
        sx = (re_[0] - le[0]) / (b_re[0] - b_le[0])
        sy = (mc[1] - eye_y) / (b_mc[1] - b_eye_y)
        if not (np.isfinite([sx, sy]).all() and sx > 0 and sy > 0):
            raise FesguiError(f"model framing {framing!r} is not a face (eyes left to right, "
                              "mouth below): re-import the model with `fesgui convert`")
        cx, bcx = (le[0] + re_[0]) / 2, (b_le[0] + b_re[0]) / 2

        def move(p: np.ndarray) -> np.ndarray:
            return np.column_stack([cx + (p[:, 0] - bcx) * sx, eye_y + (p[:, 1] - b_eye_y) * sy])

        points = move(base.points)
        points[0], points[1] = le, re_  # exactly as given; the mouth corners around mc
        points[3:5] += mc - (points[3] + points[4]) / 2
        centre = move(np.array([base.mask_centre]))[0]
        axes = (base.mask_axes[0] * sx, base.mask_axes[1] * sy)
        return Template(points, (float(centre[0]), float(centre[1])),
                        (float(axes[0]), float(axes[1])), "model framing",
                        float(sy / sx) * base.aspect)

    @staticmethod
    def for_model(model, default: Template) -> Template:
        """``model``'s own framing when it records one (``model.template_``, a sparse
        model's meta "template"), else ``default``. Cached per framing."""
        framing = getattr(model, "template_", None)
        if not isinstance(framing, dict):
            return default
        key = (tuple((k, tuple(v)) for k, v in sorted(framing.items())), id(default))
        hit = _FRAMINGS.get(key)
        if hit is None or hit[0] is not default:
            if len(_FRAMINGS) > 16:
                _FRAMINGS.clear()
            hit = _FRAMINGS[key] = (default, Template.from_meta(framing, default))
        return hit[1]

    def to_json(self) -> str:
        data = {
            "format": "fesgui-face-template",
            "version": 1,
            "coordinates": "normalised unit square, x right, y down; a crop of (h, w) "
                           "pixels maps it to min(h, w) pixels, centred",
            "points": {k: [round(float(v), 5) for v in p] for k, p in zip(_KEYS, self.points, strict=True)},
            "mouth_centre": [round(float(v), 5) for v in self.mouth_centre],
            "mask": {"centre": list(self.mask_centre), "axes": list(self.mask_axes)},
            "info": self.info,
        }
        return json.dumps(data, indent=2) + "\n"

    def in_crop(self, size: int | tuple[int, int], points: np.ndarray | None = None
                ) -> np.ndarray:
        """Normalised ``points`` (default: the 5 key points) in pixels of a crop of
        ``size``: (N, 2) float64 (x, y), pixel centres at integer coordinates."""
        h, w = crop_shape(size)
        s = min(h, w)
        pts = self.points if points is None else np.asarray(points, np.float64)
        return (pts - 0.5) * s + [w / 2 - 0.5, h / 2 - 0.5]

    def matrix(self, landmarks, size: int | tuple[int, int],
               alignment: str = "eyes-mouth") -> np.ndarray:
        """(2, 3) float64 similarity from frame pixels to crop pixels of ``size``.

        ``alignment`` (see :data:`ALIGNMENTS`): ``"eyes-mouth"`` (the default, used by every
        model trained since format 2) fits the two eye centres and the mouth centre, so
        every face's mouth lands on the template's mouth and a per-pixel model sees one
        mouth, not an average of several (the mouth's place in an eyes + nose alignment
        varies by about 2 px at 128 px). ``"eyes-nose"`` fits the eye centres and the nose
        tip (models of format 1, which were trained that way). Manual landmarks
        (``landmarks.manual``) always use the eyes and the mouth centre.
        """
        pts = np.asarray(landmarks.points, np.float64)
        if pts.shape != (5, 2) or not np.all(np.isfinite(pts)):
            raise FesguiError("face landmarks must be 5 finite (x, y) points: "
                              "check the landmark source")
        if alignment not in ALIGNMENTS:
            raise FesguiError(f"alignment {alignment!r} is unknown: use one of "
                              f"{', '.join(ALIGNMENTS)}")
        if getattr(landmarks, "manual", False) or alignment == "eyes-mouth":
            src = np.vstack([pts[:2], (pts[3] + pts[4]) / 2])
            ref = np.vstack([self.points[:2], self.mouth_centre])
        else:
            src = pts[:3]
            ref = self.points[:3]
        dst = self.in_crop(size, ref)
        if self.aspect == 1.0:
            return similarity_lstsq(src, dst)
        # a face drawn `aspect` times taller than wide: fit the similarity in the unscaled
        # space, then scale the crop rows about the crop centre
        cy = (crop_shape(size)[0] - 1) / 2
        dst = dst.copy()
        dst[:, 1] = cy + (dst[:, 1] - cy) / self.aspect
        m = similarity_lstsq(src, dst)
        m[1] *= self.aspect
        m[1, 2] += cy * (1 - self.aspect)
        return m

    def place(self, given: np.ndarray) -> np.ndarray:
        """The 5 template points placed on a face known only by (3, 2) float pixels
        (left eye, right eye, mouth centre): (5, 2) float64 frame pixels."""
        ref = np.vstack([self.points[:2], self.mouth_centre])
        ref[:, 1] /= self.aspect  # undo the model's vertical scale (1 for fesgui's own)
        m = similarity_lstsq(ref, np.asarray(given, np.float64))
        pts = self.points.copy()
        pts[:, 1] /= self.aspect
        return apply_matrix(m, pts)


def _read(path: Path) -> Template:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        points = np.array([data["points"][k] for k in _KEYS], np.float64)
        mask = data.get("mask", {})
        centre = tuple(float(v) for v in mask.get("centre", (0.5, 0.55)))
        axes = tuple(float(v) for v in mask.get("axes", (0.36, 0.44)))
    except FileNotFoundError:
        raise FesguiError(f"face template {path} is missing: reinstall fesgui") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FesguiError(f"face template {path} is unreadable ({exc}): "
                          "regenerate it with python -m fesgui.align.derive_template") from None
    if points.shape != (5, 2) or len(centre) != 2 or len(axes) != 2:
        raise FesguiError(f"face template {path} has the wrong shape: regenerate it with "
                          "python -m fesgui.align.derive_template")
    return Template(points, centre, axes, str(data.get("info", "")))


#: (framing, id(default)) -> (default, template made from them)
_FRAMINGS: dict[tuple, tuple[Template, Template]] = {}


@functools.lru_cache(maxsize=1)
def _default_template() -> Template:
    return _read(resources_dir() / TEMPLATE_FILE)
