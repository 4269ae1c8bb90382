"""Compiled Masked Regression predict kernels (numba, float32, GIL released).

Both kernels compute, for every output value of every image in a batch,

    y[n, i, C j + c] = b[i, C j + c] + sum_t w[t, i, C j + c] * x[n, i + dy_t, C (j + dx_t) + c]

over the taps ``t`` whose input pixel ``(i + dy_t, j + dx_t)`` lies inside the image (zero
padding, without padding: each tap only visits the output columns it can reach, so no
tap ever reads outside its input row). Images are interleaved: ``x`` and ``y`` are
``(N, H, C W)`` float32, ``C`` = 1 (grey) or 3 (RGB).

The loops are ordered for speed, not for the formula: for each output row the row is
first set to the bias, then each tap adds its weighted, shifted input row in one
contiguous pass that LLVM vectorises. The output row stays in the L1 cache over all
taps, and each weight is read from memory once per image.

* ``masked_shared_rgb``: one weight set shared by R, G and B (CMR). Weights ``(T, H, W)``
  and bias ``(H, W)`` are per pixel; each weight is applied to three channels, so it is
  read once, not three times as a per-value kernel would.
* ``masked_per_value``: weights ``(T, H, C W)`` and bias ``(H, C W)`` per output value:
  grey images (``C`` = 1) and per-channel RGB sets interleaved (``C`` = 3).
* ``sparse_gather``: sparse receptive fields (``fesgui.core.sparse``): each output pixel
  reads F input pixels anywhere in the image, given as flat indices, plus a bias.

Compiled on first use and cached on disk by numba (``cache=True``: next to this file, or in
the user's cache folder when the package folder is read-only), so only the very first call
on a machine pays the compile time (about a second). Where numba finds no writable cache
location at all, the kernels are compiled in memory on every run instead. This is the only
module of the package that imports numba, and ``fesgui.core.masked`` imports it lazily:
loading the core or the CLI costs nothing until a model with a receptive field predicts.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["masked_per_value", "masked_shared_rgb", "sparse_gather"]


def _compiled(fn):
    """``fn`` compiled with the GIL released, cached on disk where numba can."""
    try:
        return njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(nogil=True)(fn)


@_compiled
def _overlap(d: int, n: int) -> tuple[int, int, int]:  # pragma: no cover - compiled
    """Where a row of ``n`` values read ``d`` values further on overlaps itself: the first
    output value, the first input value and how many values (<= 0: none)."""
    if d >= 0:
        return 0, d, n - d
    return -d, 0, n + d


@_compiled
def masked_shared_rgb(x: np.ndarray, w: np.ndarray, b: np.ndarray, dy: np.ndarray,
                      dx: np.ndarray, y: np.ndarray) -> None:  # pragma: no cover - compiled
    """``y`` ``(N, H, 3W)`` = shared-set MR of ``x`` ``(N, H, 3W)``; ``w`` ``(T, H, W)``,
    ``b`` ``(H, W)``, tap offsets ``dy``, ``dx`` ``(T,)`` int64."""
    N, H, W3 = x.shape
    W = W3 // 3
    T = w.shape[0]
    for n in range(N):
        for i in range(H):
            yrow = y[n, i]
            brow = b[i]
            for j in range(W):
                v = brow[j]
                yrow[3 * j] = v
                yrow[3 * j + 1] = v
                yrow[3 * j + 2] = v
            for t in range(T):
                ii = i + dy[t]
                o, q, m = _overlap(dx[t], W)  # output pixels whose tap pixel is inside
                if ii < 0 or ii >= H or m <= 0:
                    continue
                ys, ws, xs = yrow[3 * o:], w[t, i, o:], x[n, ii, 3 * q:]
                for j in range(m):
                    wt = ws[j]
                    ys[3 * j] += wt * xs[3 * j]
                    ys[3 * j + 1] += wt * xs[3 * j + 1]
                    ys[3 * j + 2] += wt * xs[3 * j + 2]


@_compiled
def masked_per_value(x: np.ndarray, w: np.ndarray, b: np.ndarray, dy: np.ndarray,
                     dx: np.ndarray, y: np.ndarray, C: int) -> None:  # pragma: no cover
    """``y`` ``(N, H, C W)`` = MR of ``x`` ``(N, H, C W)`` with a weight per output value:
    ``w`` ``(T, H, C W)``, ``b`` ``(H, C W)``, tap offsets ``dy``, ``dx`` ``(T,)`` int64."""
    N, H, WC = x.shape
    T = w.shape[0]
    for n in range(N):
        for i in range(H):
            yrow = y[n, i]
            brow = b[i]
            for k in range(WC):
                yrow[k] = brow[k]
            for t in range(T):
                ii = i + dy[t]
                o, q, m = _overlap(C * dx[t], WC)
                if ii < 0 or ii >= H or m <= 0:
                    continue
                ys, ws, xs = yrow[o:], w[t, i, o:], x[n, ii, q:]
                for k in range(m):
                    ys[k] += ws[k] * xs[k]


@_compiled
def sparse_gather(x: np.ndarray, idx: np.ndarray, w: np.ndarray, b: np.ndarray,
                  y: np.ndarray) -> None:  # pragma: no cover - compiled
    """``y[n, p, c] = b[k, p] + sum_f w[k, p, f] * x[n, idx[k, p, f], c]`` with ``k = c``
    for per-channel sets (``K`` = ``C``) or ``k = 0`` for one set shared by every channel.

    ``x``, ``y``: ``(N, D, C)`` float32 (images flattened row-major, channels interleaved);
    ``idx`` ``(K, D, F)`` int32 flat input pixels (checked in range by the caller),
    ``w`` ``(K, D, F)`` and ``b`` ``(K, D)`` float32. Padded taps carry weight 0."""
    N, D, C = x.shape
    K, _, F = idx.shape
    for n in range(N):
        xn = x[n]
        yn = y[n]
        if K == 1 and C == 3:  # one set shared by R, G and B: each tap read once
            ip, wp, bp = idx[0], w[0], b[0]
            for p in range(D):
                a0 = bp[p]
                a1 = a0
                a2 = a0
                for f in range(F):
                    q = ip[p, f]
                    wt = wp[p, f]
                    a0 += wt * xn[q, 0]
                    a1 += wt * xn[q, 1]
                    a2 += wt * xn[q, 2]
                yn[p, 0] = a0
                yn[p, 1] = a1
                yn[p, 2] = a2
        else:  # grey images (C = 1), or one set per channel (K = C = 3)
            for p in range(D):
                for c in range(C):
                    k = c if K > 1 else 0
                    acc = b[k, p]
                    for f in range(F):
                        acc += w[k, p, f] * xn[idx[k, p, f], c]
                    yn[p, c] = acc
