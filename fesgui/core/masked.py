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
``np.linalg.solve`` (float64) per block of rows.

Predict applies the weights as one ``scipy.sparse`` DIA matrix (one diagonal per tap) to
the INTERLEAVED (H, W, 3) image read as a flat vector: tap (dy, dx) is diagonal
3 (dy W + dx), whose entries hold the tap's weight for every (pixel, channel). One fused
multiply-add pass per tap in C (float32), split into cache-sized bands; no channel copies.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from fesgui.core.base import Model, check_color, check_lam, check_pairs, sample_sets
from fesgui.core.geometry import check_size_dilation, tap_offsets, valid_tap_mask_offsets

#: bound on the float64 system block built at once during fit (bytes)
_BLOCK_BYTES = 48 * 2**20
#: output values per predict band (192 KiB of float32: a band's input, output and one
#: diagonal stay in the per-core cache while the taps stream over them)
_BAND = 3 * 16384
#: a SHARED weight set on RGB input is applied plane by plane (bands of ``_PLANAR_BAND``
#: pixels, one copy of the diagonals) instead of interleaved (the diagonals repeated for
#: the three channels) when the interleaved diagonals would exceed this many bytes: then
#: they no longer stay in cache from one call to the next, and reading them from memory
#: three times over costs more than gathering and scattering the channel planes
#: (measured: 128-256 px r <= 5 and 512 px r = 3 are faster interleaved, 256 px r = 9 and
#: 512 px r = 5 planar)
_INTERLEAVED_MAX_BYTES = 32 * 2**20
_PLANAR_BAND = 16384

try:  # the C kernel behind dia_matrix @ vector: y += A x, without scipy's per-call checks
    from scipy.sparse._sparsetools import dia_matvec as _dia_matvec_kernel
except ImportError:  # private module: fall back to the public product
    _dia_matvec_kernel = None


def _dia_matvec(A: sp.dia_matrix, x: np.ndarray, y: np.ndarray) -> None:
    """``y += A @ x`` in place for a float32 ``dia_matrix`` ``A`` ``(m, k)``, contiguous
    float32 ``x`` ``(k,)`` and ``y`` ``(m,)``."""
    global _dia_matvec_kernel
    if _dia_matvec_kernel is not None:
        try:
            m, k = A.shape
            _dia_matvec_kernel(m, k, len(A.offsets), A.data.shape[1], A.offsets, A.data, x, y)
            return
        except (TypeError, ValueError):  # kernel signature changed: use the public path
            _dia_matvec_kernel = None
    y += A @ x


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
    rows = max(1, min(H, _BLOCK_BYTES // max(1, W * (m + 1) * (m + 1) * 8)))
    for y0 in range(0, H, rows):
        y1 = min(H, y0 + rows)
        A = np.empty((y1 - y0, W, m + 1, m + 1))
        for a, (dya, dxa) in enumerate(offsets):
            for b in range(a, m):
                P = product(int(offsets[b, 0] - dya), int(offsets[b, 1] - dxa))
                A[:, :, a, b] = P[p + dya + y0:p + dya + y1, p + dxa:p + dxa + W]
                A[:, :, b, a] = A[:, :, a, b]
            A[:, :, a, m] = sums[3 * p + dya + y0:3 * p + dya + y1, 3 * p + dxa:3 * p + dxa + W]
            A[:, :, m, a] = A[:, :, a, m]
        A[:, :, m, m] = M
        idx = np.arange(m + 1)
        A[:, :, idx, idx] += lam
        rhs = np.concatenate([rhs_taps[y0:y1], t_sum[y0:y1, :, None]], axis=2)
        sol = np.linalg.solve(A, rhs[..., None])[..., 0]
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

    def fit(self, X: np.ndarray, T: np.ndarray) -> MaskedRegression:
        """Fit on ``X``, ``T`` float in [0, 1], ``(N, H, W)`` or ``(N, H, W, 3)``."""
        size, dilation = check_size_dilation(self.size, self.dilation)
        lam = check_lam(self.lam)
        color = check_color(self.color)
        X, T = check_pairs(X, T)
        offsets = tap_offsets(size, dilation)
        ws, bs = [], []
        for S, Tk in sample_sets(X, T, color):
            w, b = fit_local_ridge(S, Tk, offsets, lam)
            ws.append(w)
            bs.append(b)
        self.size, self.dilation, self.lam = size, dilation, lam
        self._set_linear_state(np.stack(ws), np.stack(bs), 1 if X.ndim == 3 else 3)
        return self

    # ------------------------------------------------------------------ predict
    # Sizes > 1: an image with C channels (C = 1 or 3) is read in its own interleaved
    # layout as one flat vector of n = C H W values; output value i = C (y W + x) + c sees
    # input value i + C (dy W + dx) through tap (dy, dx). So every weight set acts as ONE
    # n x n DIA matrix with one diagonal per tap, offset C (dy W + dx), whose entries are
    # the tap's weights of channel c's set at position i (a shared set repeated per
    # channel, per-channel sets interleaved). Entries that would wrap to the next image
    # row or channel are padded taps, whose weights are exactly 0. One pass per tap of
    # the C kernel ``dia_matvec`` (y += A x, float32) then gives the (H, W, C) output in
    # place: no channel copies, no padding. The rows are split into bands of ``_BAND``
    # output values, each with its own slice of the diagonals, so that a band's input and
    # output stay in cache while all taps stream over them (this matters from 256 px
    # on). Size 1 (Pixel-RR) is y = w x + b elementwise.
    def _bands(self, C: int, band: int
               ) -> tuple[np.ndarray, list[tuple[int, int, int, sp.dia_matrix]]]:
        """Interleaved bias ``(C H W,)`` float32 and the bands ``(i0, i1, base, A)`` of at
        most ``band`` output values for ``C`` channels: ``y[i0:i1] += A @ x[base:base +
        A.shape[1]]`` on the flat interleaved input ``x`` and output ``y``; ``A`` is a
        float32 ``dia_matrix``. ``C = 1`` with a shared set also serves each RGB plane.
        """
        key = ("dia", C, band)
        if key not in self._cache:
            K, H, W, T = self.weights_.shape
            n = C * H * W
            taps = self.taps()
            # on narrow images two taps can share a diagonal; at every pixel at most one
            # of them is inside the image (the other's weight is 0), so they are summed
            offsets, which = np.unique(C * (taps[:, 0] * W + taps[:, 1]), return_inverse=True)
            # weights and bias by output value i (interleaved over channels)
            sets = [min(c, K - 1) for c in range(C)]
            w = np.stack([self.weights_[k] for k in sets], axis=2).reshape(n, T)
            bias = np.ascontiguousarray(
                np.stack([self.bias_[k] for k in sets], axis=2).reshape(n))
            pad = int(np.abs(offsets).max())
            bands = []
            for i0 in range(0, n, band):
                i1 = min(n, i0 + band)
                base, end = max(0, i0 - pad), min(n, i1 + pad)
                local = offsets + (i0 - base)  # diagonal offsets within the band
                data = np.zeros((len(offsets), end - base), np.float32)
                for t in range(T):  # data[d, j] = A[j - local_d, j], row j - local_d + i0
                    d = which[t]
                    lo = max(0, int(local[d]))  # first column with an output row >= i0
                    hi = min(end - base, int(local[d]) + i1 - i0)  # ... row < i1
                    if hi > lo:
                        r0 = lo - int(local[d]) + i0
                        data[d, lo:hi] += w[r0:r0 + hi - lo, t]
                bands.append((i0, i1, base, sp.dia_matrix((data, local), shape=(i1 - i0, end - base))))
            self._cache[key] = (bias, bands)
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
        if int(self.size) == 1:
            w1, b1 = self._pixel_weights(batch.ndim == 4)
            result = np.multiply(w1, batch)
            result += b1
            return result[0] if single else result
        C = 1 if batch.ndim == 3 else 3
        K, H, W, T = self.weights_.shape
        result = np.empty(batch.shape, np.float32)
        if C == 3 and K == 1 and 3 * H * W * T * 4 > _INTERLEAVED_MAX_BYTES:
            self._predict_planar(batch, result)
            return result[0] if single else result
        bias, bands = self._bands(C, _BAND)
        for n in range(batch.shape[0]):
            x = np.ascontiguousarray(batch[n]).reshape(-1)
            y = result[n].reshape(-1)  # a view: result is C-contiguous
            y[:] = bias
            for i0, i1, base, A in bands:
                _dia_matvec(A, x[base:base + A.shape[1]], y[i0:i1])
        return result[0] if single else result

    def _predict_planar(self, batch: np.ndarray, result: np.ndarray) -> None:
        """Shared weight set, RGB ``batch`` ``(N, H, W, 3)`` float32 -> ``result`` (same
        shape, written in place), band by band: the band's three channel planes are
        gathered into a small ``(3, L)`` buffer, the band's diagonals (one copy, read
        once from memory, then from cache) applied to each, and the planes scattered back.
        """
        bias, bands = self._bands(1, _PLANAR_BAND)
        D = bias.shape[0]
        for n in range(batch.shape[0]):
            x3 = np.ascontiguousarray(batch[n]).reshape(D, 3)
            y3 = result[n].reshape(D, 3)  # a view: result is C-contiguous
            for i0, i1, base, A in bands:
                xb = np.ascontiguousarray(x3[base:base + A.shape[1]].T)
                yb = np.empty((3, i1 - i0), np.float32)
                yb[:] = bias[i0:i1]
                for c in range(3):
                    _dia_matvec(A, xb[c], yb[c])
                y3[i0:i1] = yb.T
