"""Masked Regression (MR paper Section 3): per-pixel ridge regression on a local window.

Output pixel p sees the r x r window of the input around p (taps spread by ``dilation``)
plus a bias: ``y_p = w_p . x[p + taps] + b_p``. Per pixel, in closed form,
``[w_p; b_p] = (F_p^T F_p + lam I)^-1 F_p^T t_p`` where row n of ``F_p`` is the window of
training input n around p followed by a 1 (the bias is regularised with the same lam,
MR paper Eq. 4-6). Taps outside the image do not exist: zero padding, weight exactly 0.

Fit never builds a D x D matrix. The Gram entry ``G_p[a, b] = sum_n x_n[p+o_a] x_n[p+o_b]``
only depends on the offset difference ``o_b - o_a``: the product image of each distinct
difference is summed over samples once and shifted copies of it are gathered into the
(r^2+1) x (r^2+1) systems of all pixels, which are then solved in one batched
``np.linalg.solve`` (float64, one BLAS thread: ``base.solve_batched``) per block of rows.

Predict runs a compiled kernel (``fesgui.core.kernels``, numba): per output row, the
bias, then one vectorised pass per tap adding the weighted, shifted input row of the
INTERLEAVED (H, W, 3) image, so the row stays in cache over all taps and a shared set's
weight is read once for all three channels. Size 1 (Pixel-RR form) is numpy elementwise.
"""

from __future__ import annotations

import numpy as np

from fesgui.core.base import Model, check_is_fitted, check_pairs, sample_sets, solve_batched
from fesgui.core.geometry import check_size_dilation, tap_offsets, valid_tap_mask_offsets

#: bound on the float64 system block built at once during fit (bytes)
_BLOCK_BYTES = 48 * 2**20


def fit_local_ridge(S: np.ndarray, T: np.ndarray, offsets: np.ndarray, lam: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Solve every pixel's masked ridge system.

    ``S``, ``T``: float64 ``(M, H, W)`` inputs and targets; ``offsets``: ``(m, 2)`` int
    taps ``(dy, dx)``. Returns ``weights (H, W, m)`` and ``bias (H, W)`` float64, with
    weights of taps outside the image exactly 0.
    """
    M, H, W = S.shape
    m = len(offsets)
    p = int(np.abs(offsets).max()) if m else 0
    # Z: inputs zero-padded by 3p; window value of pixel (y, x), tap a is
    # Z[:, 3p + y + dy_a, 3p + x + dx_a]
    Z = np.zeros((M, H + 6 * p, W + 6 * p))
    Z[:, 3 * p:3 * p + H, 3 * p:3 * p + W] = S
    hp, wp = H + 2 * p, W + 2 * p  # product images cover every window position

    products: dict[tuple[int, int], np.ndarray] = {}

    def product(dy: int, dx: int) -> np.ndarray:
        # P[u, v] = sum_n Z[n, 2p+u, 2p+v] * Z[n, 2p+u+dy, 2p+v+dx], u in [0, H+2p)
        key = (dy, dx)
        if key not in products:
            a = Z[:, 2 * p:2 * p + hp, 2 * p:2 * p + wp]
            b = Z[:, 2 * p + dy:2 * p + dy + hp, 2 * p + dx:2 * p + dx + wp]
            products[key] = np.einsum("nij,nij->ij", a, b)
        return products[key]

    sums = Z.sum(axis=0)  # (H + 6p, W + 6p)
    t_sum = T.sum(axis=0)
    rhs_taps = np.empty((H, W, m))
    for a, (dy, dx) in enumerate(offsets):
        win = Z[:, 3 * p + dy:3 * p + dy + H, 3 * p + dx:3 * p + dx + W]
        rhs_taps[:, :, a] = np.einsum("nij,nij->ij", win, T)

    weights = np.empty((H, W, m))
    bias = np.empty((H, W))
    # the systems are assembled tap pair by tap pair as contiguous (rows, W) planes
    # At[a, b] (writing A[:, :, a, b] of a (rows, W, m+1, m+1) stack directly would touch
    # one cache line per pixel per entry); the solver takes the transposed view
    rows = max(1, min(H, _BLOCK_BYTES // max(1, W * (m + 1) * (m + 1) * 8)))
    for y0 in range(0, H, rows):
        y1 = min(H, y0 + rows)
        At = np.empty((m + 1, m + 1, y1 - y0, W))
        for a, (dya, dxa) in enumerate(offsets):
            for b in range(a, m):
                P = product(int(offsets[b, 0] - dya), int(offsets[b, 1] - dxa))
                At[a, b] = P[p + dya + y0:p + dya + y1, p + dxa:p + dxa + W]
                At[b, a] = At[a, b]
            At[a, m] = sums[3 * p + dya + y0:3 * p + dya + y1, 3 * p + dxa:3 * p + dxa + W]
            At[m, a] = At[a, m]
            At[a, a] += lam
        At[m, m] = M + lam
        rhs = np.concatenate([rhs_taps[y0:y1], t_sum[y0:y1, :, None]], axis=2)
        sol = solve_batched(At.transpose(2, 3, 0, 1), rhs[..., None])[..., 0]
        weights[y0:y1] = sol[..., :m]
        bias[y0:y1] = sol[..., m]
    # a tap outside the image has a decoupled equation lam * w = 0: make it exactly 0
    weights[~valid_tap_mask_offsets(H, W, offsets)] = 0.0
    return weights, bias


class MaskedRegression(Model):
    """MR / CMR: per-pixel ridge regression on an r x r (dilated) window plus a bias.

    Parameters: ``size`` odd >= 1, ``dilation`` >= 1, ``lam`` > 0, ``color`` one of
    "shared" (CMR, one weight set fitted on all channels' samples), "per-channel" (one
    set per channel) or "gray" (fitted on luminance, applied to each channel).
    """

    method = "mr"

    def __init__(self, size: int = 3, dilation: int = 1, lam: float = 0.4,
                 color: str = "shared") -> None:
        super().__init__(lam=lam, color=color)
        self.size = size
        self.dilation = dilation

    def _check_params(self, fitting: bool = True) -> None:
        super()._check_params(fitting)
        self.size_, self.dilation_ = check_size_dilation(self.size, self.dilation)

    def fit(self, X: np.ndarray, T: np.ndarray) -> MaskedRegression:
        """Fit on ``X``, ``T`` float in [0, 1], ``(N, H, W)`` or ``(N, H, W, 3)``."""
        self._check_params()
        X, T = check_pairs(X, T)
        offsets = tap_offsets(self.size_, self.dilation_)
        ws, bs = [], []
        for S, Tk in sample_sets(X, T, self.color_):
            w, b = fit_local_ridge(S, Tk, offsets, self.lam_)
            ws.append(w)
            bs.append(b)
        self._set_linear_state(np.stack(ws), np.stack(bs), 1 if X.ndim == 3 else 3)
        return self

    def add_identity(self) -> MaskedRegression:
        """Add the input to the output: 1 on every pixel's centre tap. A model fitted to the
        change ``T - X`` becomes, exactly, the model of ``T`` whose ridge prior is "no
        change" (see :func:`fesgui.core.base.fit_change`)."""
        check_is_fitted(self)
        weights = self.weights_.copy()
        weights[..., (self.size_ ** 2) // 2] += 1.0
        self._set_linear_state(weights, self.bias_, self.n_channels_in_)
        return self

    # ------------------------------------------------------------------ predict
    # Sizes > 1 run a compiled kernel on the image in its own interleaved layout, read as
    # (N, H, C W) rows (see fesgui.core.kernels): a shared set on RGB keeps its (T, H, W)
    # tap-major weights; otherwise (grey input, per-channel sets) the weights are laid out
    # per output value, (T, H, C W), channel sets interleaved. Size 1 (Pixel-RR) is
    # y = w x + b elementwise.
    def _kernel_weights(self, C: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Tap-major float32 weights and bias for ``C`` input channels (per pixel for a
        shared set on RGB, else per output value) and the int64 tap offsets dy, dx."""
        key = ("kernel", C)
        if key not in self._cache:
            K, H, W, T = self.weights_.shape
            sets = [0] if K == 1 else list(range(C))  # a per-channel model has C = 3
            w = np.stack([self.weights_[k] for k in sets], axis=2)  # (H, W, C', T)
            b = np.stack([self.bias_[k] for k in sets], axis=2)  # (H, W, C')
            w = np.ascontiguousarray(np.moveaxis(w.reshape(H, -1, T), -1, 0))
            b = np.ascontiguousarray(b.reshape(H, -1))
            taps = self.taps().astype(np.int64)
            self._cache[key] = (w, b, np.ascontiguousarray(taps[:, 0]),
                                np.ascontiguousarray(taps[:, 1]))
        return self._cache[key]

    def _pixel_weights(self, rgb: bool) -> tuple[np.ndarray, np.ndarray]:
        """Size-1 weights and bias ``(H, W[, 3])`` float32, expanded over channels."""
        key = ("pixel", rgb)
        if key not in self._cache:
            w, b = self.weights_[..., 0], self.bias_  # (K, H, W)
            if rgb:
                w = np.broadcast_to(np.moveaxis(w, 0, -1), w.shape[1:] + (3,))
                b = np.broadcast_to(np.moveaxis(b, 0, -1), b.shape[1:] + (3,))
            else:
                w, b = w[0], b[0]
            self._cache[key] = (np.ascontiguousarray(w), np.ascontiguousarray(b))
        return self._cache[key]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Output for ``X`` ``(H, W[, 3])`` or ``(N, H, W[, 3])`` in [0, 1]: float32, same shape."""
        batch, single = self._check_input(X)
        if self.size_ == 1:
            w1, b1 = self._pixel_weights(batch.ndim == 4)
            result = np.multiply(w1, batch)
            result += b1
            return result[0] if single else result
        from fesgui.core import kernels  # numba: loaded on the first predict only

        C = 1 if batch.ndim == 3 else 3
        N, H, W = batch.shape[:3]
        x = np.ascontiguousarray(batch).reshape(N, H, W * C)
        result = np.empty(batch.shape, np.float32)
        y = result.reshape(N, H, W * C)  # a view: result is C-contiguous
        w, b, dy, dx = self._kernel_weights(C)
        if C == 3 and self.weights_.shape[0] == 1:  # one set shared by R, G and B
            kernels.masked_shared_rgb(x, w, b, dy, dx, y)
        else:
            kernels.masked_per_value(x, w, b, dy, dx, y, C)
        return result[0] if single else result
