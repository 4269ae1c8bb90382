"""INDEPENDENT reference formulations for the core tests.

The references are written the slow, obvious way (explicit window gathers, dense
solves) so that the fast batched code in fesgui.core is checked against something
that shares none of its tricks.
"""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114])


def naive_window(img: np.ndarray, i: int, j: int, size: int, dilation: int) -> np.ndarray:
    """Row-major window values of a 2-D image around (i, j), zero outside the image."""
    h = size // 2
    vals = []
    for dy in range(-h, h + 1):
        for dx in range(-h, h + 1):
            y, x = i + dy * dilation, j + dx * dilation
            inside = 0 <= y < img.shape[0] and 0 <= x < img.shape[1]
            vals.append(img[y, x] if inside else 0.0)
    return np.array(vals, dtype=np.float64)


def design_matrix(S: np.ndarray, i: int, j: int, size: int, dilation: int) -> np.ndarray:
    """F_p: one row per sample, the window then a 1."""
    rows = [np.append(naive_window(s, i, j, size, dilation), 1.0) for s in S]
    return np.array(rows)


def dense_ridge(F: np.ndarray, t: np.ndarray, lam: float) -> np.ndarray:
    """Ridge with the bias column regularised, via least squares on the augmented system
    [F; sqrt(lam) I] [w; b] = [t; 0] (a different route from the normal equations)."""
    m = F.shape[1]
    A = np.vstack([F, np.sqrt(lam) * np.eye(m)])
    rhs = np.concatenate([t, np.zeros(m)])
    return np.linalg.lstsq(A, rhs, rcond=None)[0]


def reference_sets(X: np.ndarray, T: np.ndarray, color: str):
    """The (inputs, targets) per weight set, stacked the way the MR paper describes."""
    X = np.asarray(X, np.float64)
    T = np.asarray(T, np.float64)
    if X.ndim == 3:
        return [(X, T)]
    if color == "per-channel":
        return [(X[..., c], T[..., c]) for c in range(3)]
    if color == "gray":
        return [(X @ LUMA, T @ LUMA)]
    return [(np.concatenate([X[..., c] for c in range(3)]),
             np.concatenate([T[..., c] for c in range(3)]))]


def naive_fit(X, T, size, dilation, lam, color):
    """(weights (K, H, W, r*r), bias (K, H, W)) by one dense solve per pixel."""
    ws, bs = [], []
    for S, Tk in reference_sets(X, T, color):
        _, H, W = S.shape
        w = np.zeros((H, W, size * size))
        b = np.zeros((H, W))
        for i in range(H):
            for j in range(W):
                sol = dense_ridge(design_matrix(S, i, j, size, dilation), Tk[:, i, j], lam)
                w[i, j], b[i, j] = sol[:-1], sol[-1]
        ws.append(w)
        bs.append(b)
    return np.stack(ws), np.stack(bs)


def naive_predict(weights, bias, x, size, dilation):
    """One image (H, W[, 3]) through explicit per-pixel window dot products."""
    x = np.asarray(x, np.float64)
    planes = [x] if x.ndim == 2 else [x[..., c] for c in range(3)]
    K = weights.shape[0]
    out = []
    for c, plane in enumerate(planes):
        k = c if K == 3 else 0
        H, W = plane.shape
        y = np.empty((H, W))
        for i in range(H):
            for j in range(W):
                y[i, j] = naive_window(plane, i, j, size, dilation) @ weights[k, i, j] + bias[k, i, j]
        out.append(y)
    return out[0] if x.ndim == 2 else np.stack(out, axis=-1)


def assert_one_line(exc_info) -> None:
    """A user-facing error: one line, names a way out (has a ':')."""
    message = str(exc_info.value)
    assert "\n" not in message and message.strip() == message and ":" in message, message
