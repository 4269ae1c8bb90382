"""Independent reference implementations the benchmarks time fesgui against.

* :func:`csr_predict` - the authors' storage and inference: a ``scipy.sparse`` CSR
  matrix ``(D, D + 1)`` per weight set, applied as ``csr @ [x; 1]`` to each channel.
* :func:`ridge_loop` - masked regression the slow, obvious way: one scikit-learn
  ``Ridge`` per output pixel and channel on its window (bias as a regularised column of
  ones, like MR paper Eq. 4-5).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from fesgui.core.geometry import tap_offsets


def csr_predict(mats: Sequence[sp.csr_matrix], x: np.ndarray) -> np.ndarray:
    """``csr @ [x_c; 1]`` for every channel ``c`` of one image.

    ``mats`` holds one ``(D, D + 1)`` CSR matrix (shared by all channels) or three (one
    per channel); ``x`` is ``(H, W)`` or ``(H, W, 3)`` float32. Returns float32 of x's shape.
    """
    if x.ndim == 2:
        return (mats[0] @ np.append(x.ravel(), np.float32(1))).reshape(x.shape).astype(
            np.float32, copy=False)
    out = np.empty(x.shape, np.float32)
    for c in range(x.shape[2]):
        m = mats[c if len(mats) == 3 else 0]
        out[..., c] = (m @ np.append(x[..., c].ravel(), np.float32(1))).reshape(x.shape[:2])
    return out


def window_features(X: np.ndarray, i: int, j: int, size: int, dilation: int = 1) -> np.ndarray:
    """Design matrix ``(N, size*size + 1)`` of pixel ``(i, j)``: its taps, then a 1.

    ``X`` is ``(N, H, W)``; taps outside the image are 0 (zero padding), taps in
    row-major order of the window, exactly as in docs/architecture.md.
    """
    n, h, w = X.shape
    offs = tap_offsets(size, dilation)
    ii, jj = i + offs[:, 0], j + offs[:, 1]
    inside = (ii >= 0) & (ii < h) & (jj >= 0) & (jj < w)
    F = np.zeros((n, size * size + 1), np.float64)
    F[:, np.flatnonzero(inside)] = X[:, ii[inside], jj[inside]]
    F[:, -1] = 1.0
    return F


def ridge_loop(X: np.ndarray, T: np.ndarray, pixels: np.ndarray, size: int, lam: float,
               dilation: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel scikit-learn ``Ridge`` fits of masked regression.

    ``X``, ``T``: ``(N, H, W)`` (one weight set) float; ``pixels``: ``(P, 2)`` int rows
    ``(i, j)``. Minimises ``|F w - t|^2 + lam |w|^2`` with the bias inside ``w`` (a
    column of ones, no separate intercept). Returns ``weights (P, size*size)`` and
    ``bias (P,)`` float64.
    """
    from sklearn.linear_model import Ridge

    P = len(pixels)
    weights = np.empty((P, size * size), np.float64)
    bias = np.empty(P, np.float64)
    for p, (i, j) in enumerate(pixels):
        F = window_features(X, int(i), int(j), size, dilation)
        est = Ridge(alpha=lam, fit_intercept=False).fit(F, T[:, i, j])
        weights[p] = est.coef_[:-1]
        bias[p] = est.coef_[-1]
    return weights, bias
