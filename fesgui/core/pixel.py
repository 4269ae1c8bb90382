"""Pixel-based regression (Pixel paper Section III): every output pixel sees only its
own input pixel.

* :class:`PixelRegression` (Pixel-RR, Eq. 6) is Masked Regression with a 1 x 1 window.
* :class:`PixelKernelRegression` (Pixel-KR, Eq. 12-16) fits, per pixel, a Gaussian
  kernel ridge regression on the scalar input: ``y(x) = t_p (K_p + lam I)^-1 kappa(x)``
  with ``k(a, b) = exp(-(a - b)^2 / (2 sigma^2))``, sigma in [0, 1]-intensity units and
  no separate bias. Since the input is one 8-bit value, the fitted function is tabulated
  exactly at the 256 levels ``v / 255`` (``table_``) and prediction is a table look-up.
"""

from __future__ import annotations

import math

import numpy as np

from fesgui.core.base import Model, check_is_fitted, check_pairs, sample_sets, solve_batched
from fesgui.core.masked import MaskedRegression
from fesgui.errors import FesguiError

LEVELS = np.arange(256) / 255.0
#: bound on the float64 kernel block solved at once during fit (bytes)
_BLOCK_BYTES = 64 * 2**20


class PixelRegression(MaskedRegression):
    """Pixel-RR: one weight and one bias per pixel (MR with ``size=1``)."""

    method = "pixel-rr"

    def __init__(self, lam: float = 0.4, color: str = "shared") -> None:
        super().__init__(size=1, dilation=1, lam=lam, color=color)

    def _check_params(self, fitting: bool = True) -> None:
        Model._check_params(self, fitting)  # the window is 1 x 1 whatever size says


def check_sigma(sigma: object) -> float:
    try:
        value = float(sigma)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FesguiError(f"sigma={sigma!r} must be a number > 0: e.g. 3.0") from None
    if not math.isfinite(value) or value <= 0:
        raise FesguiError(f"sigma={sigma!r} must be a finite number > 0 (intensity units "
                          "of [0, 1] images): e.g. 3.0")
    return value


def gaussian_kernel(a: np.ndarray, b: np.ndarray, sigma: float) -> np.ndarray:
    """``exp(-(a[..., :, None] - b[..., None, :])^2 / (2 sigma^2))``."""
    d = a[..., :, None] - b[..., None, :]
    return np.exp(d * d * (-0.5 / (sigma * sigma)))


def snap_to_levels(S: np.ndarray, tol: float = 1e-5) -> tuple[np.ndarray, np.ndarray | None]:
    """``(S, levels)``: when every value is within ``tol``/255 of an 8-bit level (data that
    came from 8-bit images), the values snapped exactly to ``v / 255`` and the int levels;
    otherwise ``(S, None)`` unchanged."""
    scaled = S * 255.0
    levels = np.rint(scaled)
    if np.abs(scaled - levels).max(initial=0.0) > tol or levels.min(initial=0) < 0 \
            or levels.max(initial=0) > 255:
        return S, None
    lv = levels.astype(np.intp)
    return LEVELS[lv], lv


def fit_pixel_kernel_ridge(S: np.ndarray, T: np.ndarray, sigma: float, lam: float
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel coefficients ``c_p = (K_p + lam I)^-1 t_p`` and the 256-level table.

    ``S``, ``T``: float64 ``(M, H, W)``. Returns ``coef (M, H, W)`` float64 and
    ``table (H, W, 256)`` float32. The M x M systems of a block of pixels are solved in
    one batched call; blocks keep the working memory near ``_BLOCK_BYTES``.

    8-bit data (every value a level v/255, see :func:`snap_to_levels`) take a faster exact
    route: kernel entries (for K_p and for the table) are looked up in the 256 x 256 level
    kernel ``G`` instead of recomputed.
    """
    M, H, W = S.shape
    P = H * W
    S, levels = snap_to_levels(S)
    xs_all, ts_all = S.reshape(M, P), T.reshape(M, P)
    lv_all = None if levels is None else levels.reshape(M, P)
    G = gaussian_kernel(LEVELS, LEVELS, sigma)  # (256, 256) level kernel, symmetric
    coef = np.empty((M, P))
    table = np.empty((P, 256), np.float32)
    block = max(1, _BLOCK_BYTES // (8 * (2 * M * M + 256 * M)))
    eye = lam * np.eye(M)
    for s in range(0, P, block):
        e = min(P, s + block)
        xs = np.ascontiguousarray(xs_all[:, s:e].T)  # (B, M)
        if lv_all is None:
            Kp = gaussian_kernel(xs, xs, sigma)
        else:
            lv = np.ascontiguousarray(lv_all[:, s:e].T)  # (B, M)
            Kp = G[lv[:, :, None], lv[:, None, :]]
        Kp += eye
        c = solve_batched(Kp, ts_all[:, s:e].T[..., None])[..., 0]  # (B, M)
        coef[:, s:e] = c.T
        if lv_all is None:
            kap = gaussian_kernel(np.broadcast_to(LEVELS, (e - s, 256)), xs, sigma)
            table[s:e] = np.matmul(kap, c[..., None])[..., 0]
        else:
            table[s:e] = np.matmul(c[:, None, :], G[lv])[:, 0]  # G[lv]: (B, M, 256)
    return coef.reshape(M, H, W), table.reshape(H, W, 256)


def linearise_tables(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line ``w * v/255 + b`` through each table ``(..., 256)``."""
    lv = LEVELS - LEVELS.mean()
    w = (table @ lv.astype(table.dtype)) / (lv @ lv)
    b = table.mean(axis=-1, dtype=np.float64) - w * LEVELS.mean()
    return w, b


class PixelKernelRegression(Model):
    """Pixel-KR: per-pixel Gaussian kernel ridge regression, served from 8-bit tables.

    Learned state: ``table_`` float32 ``(K, H, W, 256)`` (output at input level v/255),
    plus ``weights_`` ``(K, H, W, 1)`` / ``bias_`` ``(K, H, W)``: the least-squares line
    through each table, so that every map of a linear model also works here.
    The training samples and kernel coefficients are kept in memory after ``fit`` only
    (for :meth:`predict_direct`); they are not saved.
    """

    method = "pixel-kr"
    has_table = True

    def __init__(self, sigma: float = 3.0, lam: float = 0.4, color: str = "shared") -> None:
        super().__init__(lam=lam, color=color)
        self.sigma = sigma

    def fit(self, X: np.ndarray, T: np.ndarray) -> PixelKernelRegression:
        """Fit on ``X``, ``T`` float in [0, 1], ``(N, H, W)`` or ``(N, H, W, 3)``."""
        self._check_params()
        X, T = check_pairs(X, T)
        samples, coefs, tables = [], [], []
        for S, Tk in sample_sets(X, T, self.color_):
            coef, table = fit_pixel_kernel_ridge(S, Tk, self.sigma_, self.lam_)
            samples.append(snap_to_levels(S)[0])
            coefs.append(coef)
            tables.append(table)
        self._set_table(np.stack(tables), 1 if X.ndim == 3 else 3)
        self._train_x = samples  # per weight set (M, H, W) float64, memory only
        self._coef = coefs  # per weight set (M, H, W) float64, memory only
        return self

    def _check_params(self, fitting: bool = True) -> None:
        super()._check_params(fitting)
        self.sigma_ = check_sigma(self.sigma)

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"table": self.table_}

    @classmethod
    def _state_shapes(cls, meta: dict, k: int, h: int, w: int) -> dict[str, tuple[int, ...]]:
        return {"table": (k, h, w, 256)}

    def _install(self, arrays: dict[str, np.ndarray], n_in: int) -> None:
        self._set_table(arrays["table"], n_in)

    def _set_table(self, table: np.ndarray, n_in: int) -> None:
        table = np.array(table, dtype=np.float32, order="C")
        w, b = linearise_tables(table)
        self._set_linear_state(w[..., None], b, n_in)
        table.flags.writeable = False
        self.table_ = table
        self._train_x = self._coef = None

    def add_identity(self) -> PixelKernelRegression:
        """Add the input level to every table entry (see :meth:`MaskedRegression.add_identity`)."""
        check_is_fitted(self)
        levels = np.arange(256, dtype=np.float32) / np.float32(255.0)
        self._set_table(self.table_ + levels, self.n_channels_in_)
        return self

    def _base(self, shape: tuple[int, ...]) -> np.ndarray:
        """Flat table offset of each pixel (and channel) for a batch item ``shape``."""
        key = ("base", shape)
        if key not in self._cache:
            K, H, W, _ = self.table_.shape
            pix = (np.arange(H)[:, None] * W + np.arange(W)[None, :]) * 256
            if len(shape) == 3:  # (H, W, 3): channel c -> set c (per-channel) or 0
                ch = np.arange(3) if K == 3 else np.zeros(3, np.int64)
                base = pix[:, :, None] + ch[None, None, :] * (H * W * 256)
            else:
                base = pix
            self._cache[key] = np.ascontiguousarray(base, dtype=np.intp)
        return self._cache[key]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Table look-up at ``round(x * 255)`` (x clipped to [0, 1]); float32, X's shape."""
        batch, single = self._check_input(X)
        idx = np.clip(batch, 0.0, 1.0)
        idx *= 255.0
        idx += 0.5
        levels = idx.astype(np.intp)
        levels += self._base(batch.shape[1:])
        out = self.table_.reshape(-1).take(levels, mode="clip")  # NaN input: no crash
        return out[0] if single else out

    def predict_direct(self, X: np.ndarray) -> np.ndarray:
        """Evaluate the kernel expansion ``sum_n c_n k(x, x_n)`` directly (no table, no
        rounding). Needs the training samples, so only right after ``fit``."""
        batch, single = self._check_input(X)
        if self._coef is None:
            raise FesguiError("predict_direct needs the training samples, which are kept "
                              "only after fit: refit the model (loaded models use predict)")
        K = len(self._coef)
        scale = -0.5 / self.sigma_ ** 2
        chans = [batch] if batch.ndim == 3 else [batch[..., c] for c in range(3)]
        outs = []
        for c, xc in enumerate(chans):
            k = c if K == 3 else 0
            out = np.zeros(xc.shape)
            for xm, cm in zip(self._train_x[k], self._coef[k], strict=True):  # sum over M
                d = xc - xm
                out += cm * np.exp(d * d * scale)
            outs.append(out)
        out = (outs[0] if batch.ndim == 3 else np.stack(outs, axis=-1)).astype(np.float32)
        return out[0] if single else out

    def decompose(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(wx, b)`` with ``b`` the bias of the least-squares line and ``wx = y - b``
        (Pixel-KR has no separate bias; this keeps ``wx + b == predict(x)``)."""
        return super().decompose(x)
