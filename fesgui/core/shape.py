"""The shape half of an expression: a displacement field over the aligned crop.

A smile is mostly a *motion* (the mouth corners move up and out by a few pixels), which a
per-pixel linear model cannot make: it can only cross-fade intensities. The shape model
moves pixels instead. It is learned in closed form from landmark correspondences of the
training pairs:

1. Every pair gives the FaceMesh points of its source face ``P_n`` and of its target face
   ``Q_n`` in the source's aligned crop (the target photo is registered to the source
   photo on the eyes and the nose tip, which a smile does not move).
2. At the mean target position of each point, the *backward* displacement
   ``mean(P - Q)`` says where an output pixel there must fetch its value in the input.
3. A thin-plate-spline interpolation (:class:`scipy.interpolate.RBFInterpolator`) of those
   468 vectors, held at zero on a ring outside the face, gives a smooth dense field
   ``(H, W, 2)`` (dx, dy in crop pixels), which is then multiplied by the face mask so
   nothing outside the face can move.

Applying it is a warp: output(u) = input(u + field(u)). :mod:`fesgui.align.warp` applies it
at the frame's full resolution (the crop's field is mapped into the frame), so the moved
face keeps every pixel of detail.

Pure numpy + scipy, like the rest of :mod:`fesgui.core`.
"""

from __future__ import annotations

import numpy as np

from fesgui.errors import FesguiError

#: number of zero anchors on the ring outside the face
_RING = 48
#: thin-plate-spline smoothing (in crop pixels squared, per point): absorbs landmark noise
DEFAULT_SMOOTHING = 1.0


def check_field(field: object, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """A displacement field as a read-only C-contiguous float32 ``(H, W, 2)`` array.

    Raises :class:`FesguiError` when it has another shape, disagrees with ``image_size``
    or holds NaN/Inf.
    """
    arr = np.asarray(field)
    if arr.ndim != 3 or arr.shape[2] != 2 or arr.dtype.kind != "f":
        raise FesguiError(f"a shape field must be a float (H, W, 2) array, got {arr.dtype} "
                          f"{arr.shape}: fit it with fesgui.core.shape.fit_mean_field")
    if image_size is not None and tuple(arr.shape[:2]) != tuple(image_size):
        raise FesguiError(f"the shape field is {arr.shape[1]}x{arr.shape[0]} but the model "
                          f"is {image_size[1]}x{image_size[0]}: fit both on one crop size")
    if not np.isfinite(arr).all():
        raise FesguiError("the shape field contains NaN or Inf: refit the model")
    out = np.array(arr, dtype=np.float32, order="C")
    out.flags.writeable = False
    return out


def ellipse_ring(centre: tuple[float, float], axes: tuple[float, float], scale: float = 1.0,
                 n: int = _RING) -> np.ndarray:
    """``(n, 2)`` points (x, y) on the ellipse ``centre``/``axes`` scaled by ``scale``."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([centre[0] + scale * axes[0] * np.cos(t),
                            centre[1] + scale * axes[1] * np.sin(t)])


def interpolate_field(points: np.ndarray, vectors: np.ndarray, image_size: tuple[int, int],
                      anchors: np.ndarray, mask: np.ndarray,
                      smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """Dense ``(H, W, 2)`` float32 field through ``vectors`` ``(M, 2)`` at ``points``
    ``(M, 2)`` (x, y crop pixels), zero at ``anchors`` ``(A, 2)``, times ``mask`` (H, W).

    Thin-plate spline with ``smoothing``; the anchors are exact zeros (no smoothing).
    """
    from scipy.interpolate import RBFInterpolator

    h, w = image_size
    pts = np.asarray(points, np.float64)
    vec = np.asarray(vectors, np.float64)
    anc = np.asarray(anchors, np.float64).reshape(-1, 2)
    if pts.ndim != 2 or pts.shape[1] != 2 or vec.shape != pts.shape:
        raise FesguiError(f"shape points {pts.shape} and vectors {vec.shape} must both be "
                          "(M, 2): give one vector per point")
    centres = np.vstack([pts, anc])
    values = np.vstack([vec, np.zeros_like(anc)])
    smooth = np.concatenate([np.full(len(pts), float(smoothing)), np.zeros(len(anc))])
    rbf = RBFInterpolator(centres, values, kernel="thin_plate_spline", smoothing=smooth)
    yy, xx = np.mgrid[0:h, 0:w]
    grid = np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float64)
    field = rbf(grid).reshape(h, w, 2) * np.asarray(mask, np.float64)[:, :, None]
    return check_field(field.astype(np.float32))


def mean_backward_vectors(src: np.ndarray, tgt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean target positions (M, 2), mean backward vectors (M, 2))`` of corresponding
    points ``src``, ``tgt`` ``(N, M, 2)``: at ``mean(tgt)`` an output pixel fetches the
    input ``mean(src - tgt)`` away."""
    src = np.asarray(src, np.float64)
    tgt = np.asarray(tgt, np.float64)
    if src.ndim != 3 or src.shape != tgt.shape or src.shape[2] != 2 or len(src) < 1:
        raise FesguiError(f"landmark sets {src.shape} and {tgt.shape} must both be (N, M, 2) "
                          "with N >= 1: give the mesh of both faces of every pair")
    return tgt.mean(axis=0), (src - tgt).mean(axis=0)


def fit_mean_field(src: np.ndarray, tgt: np.ndarray, image_size: tuple[int, int],
                   mask: np.ndarray, anchors: np.ndarray,
                   smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """The mean displacement field of training pairs (see the module docstring).

    ``src``/``tgt``: ``(N, M, 2)`` corresponding points (x, y crop pixels) of the source
    and target faces; ``mask``: ``(H, W)`` in [0, 1], the region allowed to move;
    ``anchors``: ``(A, 2)`` points held still. Returns ``(H, W, 2)`` float32 (dx, dy).
    """
    points, vectors = mean_backward_vectors(src, tgt)
    return interpolate_field(points, vectors, image_size, anchors, mask, smoothing)


def field_stats(field: np.ndarray) -> dict[str, float]:
    """Largest and mean displacement length (crop pixels) where the field moves anything."""
    length = np.hypot(field[..., 0], field[..., 1])
    moving = length[length > 1e-6]
    return {"max_px": round(float(length.max()), 4),
            "mean_px": round(float(moving.mean()) if moving.size else 0.0, 4)}
