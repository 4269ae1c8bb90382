"""Sparse receptive fields (the MR authors' LSRF and OMP models): every output pixel reads a
few input pixels anywhere in the image, plus a bias.

Output pixel ``p`` (row-major) of channel ``c`` is

    z[p] = b[k, p] + sum_f w[k, p, f] * x_c[idx[k, p, f]]

with ``k = c`` for per-channel sets and ``k = 0`` for one set shared by R, G and B, i.e.
exactly ``csr_k @ [x_c.ravel(); 1]`` of the authors' ``(D, D + 1)`` CSR matrix. Every pixel
has the same number ``F`` of tap slots (the largest row of the matrix); a pixel with fewer
taps is padded with weight 0 on its own position.

Preprocessing (``meta["preprocess"]``), as the authors apply their matrices:

* ``input == "minmax"``: each image is scaled to [0, 1] by its own minimum and maximum over
  all pixels and channels, ``x' = (x - lo) / (hi - lo)`` (a constant image gives 0);
* ``output == "minmax"``: the matrix output is scaled by its own minimum and maximum back
  to the INPUT's range, ``y = lo + (hi - lo) (z - zmin) / (zmax - zmin)`` (a constant ``z``
  gives the middle of that range). The authors scale to the full 0..255 range; for the
  full-range faces they work on that is the same, and on a real photo's crop it leaves
  what the model did not change where it was, so only the change is pasted back.

``"none"`` skips a step. :meth:`SparseReceptiveField.predict_raw` is always the bare matrix.

Framing (``meta["template"]``): where the eyes and the mouth centre sat in the authors'
crops, in the normalised coordinates of :mod:`fesgui.align.template`; the pipeline aligns
faces for this model with it (``fesgui.align.Template.for_model``).

Predict runs the compiled gather ``fesgui.core.kernels.sparse_gather`` (numba, float32).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fesgui.core.base import Model, check_color, check_is_fitted
from fesgui.errors import FesguiError

PREPROCESS_STEPS = ("none", "minmax")
#: the authors' framing of their 128 / 80 px crops, in normalised template coordinates
AUTHORS_EYE_DISTANCE = 0.43
AUTHORS_EYE_Y = 0.36
AUTHORS_MOUTH_Y = 0.72
TEMPLATE_KEYS = ("left_eye", "right_eye", "mouth_centre")
#: more taps per pixel than this is not a sparse receptive field (a dense matrix)
MAX_TAPS = 256


def authors_template(eye_distance: float = AUTHORS_EYE_DISTANCE, eye_y: float = AUTHORS_EYE_Y,
                     mouth_y: float = AUTHORS_MOUTH_Y) -> dict[str, list[float]]:
    """A framing dict: eyes level at ``eye_y`` of the height, ``eye_distance`` of the width
    apart, centred; mouth centre at ``mouth_y``. Checked by :func:`check_template`."""
    half = float(eye_distance) / 2
    return check_template({"left_eye": [0.5 - half, float(eye_y)],
                           "right_eye": [0.5 + half, float(eye_y)],
                           "mouth_centre": [0.5, float(mouth_y)]})


def check_template(template: object) -> dict[str, list[float]] | None:
    """``None`` or a framing dict with ``left_eye``, ``right_eye``, ``mouth_centre`` as
    ``[x, y]`` normalised points (eyes left to right, mouth below them)."""
    if template is None:
        return None
    if not isinstance(template, dict) or set(template) != set(TEMPLATE_KEYS):
        raise FesguiError(f"template {template!r} must give exactly {', '.join(TEMPLATE_KEYS)} "
                          "as [x, y] in 0..1")
    out: dict[str, list[float]] = {}
    for key in TEMPLATE_KEYS:
        point = template[key]
        ok = isinstance(point, (list, tuple)) and len(point) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and -1.0 <= v <= 2.0 for v in point)
        if not ok:
            raise FesguiError(f"template point {key}={point!r} must be [x, y] with numbers "
                              "near 0..1 (fractions of the crop)")
        out[key] = [float(point[0]), float(point[1])]
    (lx, ly), (rx, ry), (mx, my) = (out[k] for k in TEMPLATE_KEYS)
    if not (rx - lx > 0.02 and my - max(ly, ry) > 0.02):
        raise FesguiError(f"template {out} is not a face: the right eye must lie right of "
                          "the left eye and the mouth below the eyes")
    return out


def check_preprocess(preprocess: object) -> dict[str, str]:
    """``{"input": step, "output": step}`` (steps: "none", "minmax"); ``None`` = none."""
    if preprocess is None:
        return {"input": "none", "output": "none"}
    if isinstance(preprocess, str):
        preprocess = {"input": preprocess, "output": preprocess}
    if not (isinstance(preprocess, dict) and set(preprocess) == {"input", "output"}
            and all(v in PREPROCESS_STEPS for v in preprocess.values())):
        raise FesguiError(f"preprocess={preprocess!r} is unknown: use {{'input': s, "
                          f"'output': s}} with s one of {', '.join(PREPROCESS_STEPS)}")
    return {"input": str(preprocess["input"]), "output": str(preprocess["output"])}


def _minmax(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image of a batch ``(N, ...)``: ``(lo, hi)`` float64 ``(N,)``."""
    flat = batch.reshape(batch.shape[0], -1)
    return flat.min(axis=1).astype(np.float64), flat.max(axis=1).astype(np.float64)


def _image_view(values: np.ndarray, ndim: int) -> np.ndarray:
    """Per-image numbers ``(N,)`` shaped to broadcast over a batch of ``ndim`` dims."""
    return values.reshape((-1,) + (1,) * (ndim - 1))


class SparseReceptiveField(Model):
    """Per output pixel: ``F`` input positions (flat row-major indices), their weights and
    a bias; one set shared by the channels (color "shared") or one per channel.

    Learned state: ``index_`` int32 ``(K, H, W, F)``, ``weights_`` float32 ``(K, H, W, F)``
    (0 on padded slots), ``bias_`` float32 ``(K, H, W)``. ``from_csr`` orders each pixel's
    slots by decreasing ``|weight|`` (slot 0: its strongest tap; padding last);
    ``preprocess_`` / ``template_``: the checked form of the ``preprocess`` / ``template``
    parameters (:func:`check_preprocess`, :func:`check_template`), which predict and the
    pipeline's framing use. Made by :func:`fesgui.core.from_csr` or
    :func:`fesgui.core.load_model`, never fitted.
    """

    method = "sparse"
    format_version = 2
    local_window = False

    def __init__(self, color: str = "shared", preprocess: object = None,
                 template: object = None) -> None:
        super().__init__(lam=None, color=color)
        self.preprocess = preprocess
        self.template = template

    def _check_params(self, fitting: bool = True) -> None:
        """Effective ``preprocess_`` (:func:`check_preprocess`) and ``template_``
        (:func:`check_template`); a sparse model has no ``lam``."""
        self.color_ = check_color(self.color)
        self.lam_, self.size_, self.dilation_, self.sigma_ = None, 1, 1, None
        self.preprocess_ = check_preprocess(self.preprocess)
        self.template_ = check_template(self.template)

    def fit(self, X: np.ndarray, T: np.ndarray) -> SparseReceptiveField:
        raise FesguiError("a sparse receptive field model is imported, not fitted: convert "
                          "the authors' CSR file with `fesgui convert`")

    # ------------------------------------------------------------------ state
    def _set_sparse_state(self, index: np.ndarray, weights: np.ndarray, bias: np.ndarray,
                          n_in: int) -> None:
        """Install ``index`` ``(K, H, W, F)`` (every value in ``0..H*W-1``), ``weights``
        of the same shape and ``bias`` ``(K, H, W)``."""
        index = np.array(index, dtype=np.int32, order="C")
        K, H, W, F = index.shape
        if np.shape(weights) != index.shape or np.shape(bias) != (K, H, W):
            raise FesguiError(f"sparse model arrays disagree: index {index.shape}, weights "
                              f"{np.shape(weights)}, bias {np.shape(bias)}")
        if index.size and (index.min() < 0 or index.max() >= H * W):
            raise FesguiError(f"sparse model reads input positions outside its {H}x{W} "
                              "image: rebuild it from a valid CSR matrix")
        self._set_linear_state(weights, bias, n_in)
        index.flags.writeable = False
        self.index_ = index

    @property
    def n_taps(self) -> int:
        """``F``: tap slots per output pixel."""
        check_is_fitted(self)
        return int(self.index_.shape[-1])

    # ------------------------------------------------------------------ files
    def _meta_extras(self) -> dict[str, Any]:
        if not self.fitted:
            return {"taps": None, "preprocess": self.preprocess, "template": self.template}
        return {"taps": self.n_taps, "preprocess": self.preprocess_,
                "template": self.template_}

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"index": self.index_, "weights": self.weights_, "bias": self.bias_}

    @classmethod
    def _state_shapes(cls, meta: dict[str, Any], k: int, h: int, w: int
                      ) -> dict[str, tuple[int, ...]]:
        f = meta["taps"]
        return {"index": (k, h, w, f), "weights": (k, h, w, f), "bias": (k, h, w)}

    def _install(self, arrays: dict[str, np.ndarray], n_in: int) -> None:
        self._set_sparse_state(arrays["index"], arrays["weights"], arrays["bias"], n_in)

    # ------------------------------------------------------------------ geometry
    def tap_positions(self, i: int, j: int, channel: int = 0) -> np.ndarray:
        """``(F, 2)`` int ``(row, col)`` of the input pixels output pixel ``(i, j)`` reads
        (padded slots: its own position, with weight 0)."""
        k = self._weight_set(channel)
        self._check_pixel(i, j)
        W = self._image_size[1]
        flat = self.index_[k, i, j].astype(np.int64)
        return np.stack([flat // W, flat % W], axis=1)

    def taps(self) -> np.ndarray:
        """``(F, 2)`` offsets ``(dy, dx)`` of the taps of the centre pixel (tap slots differ
        from pixel to pixel: use :meth:`tap_positions` for any other pixel)."""
        h, w = self._image_size
        return self.tap_positions(h // 2, w // 2) - np.array([h // 2, w // 2])

    def _check_pixel(self, i: int, j: int) -> None:
        h, w = self._image_size
        if not (0 <= i < h and 0 <= j < w):
            raise FesguiError(f"pixel ({i}, {j}) is outside the {h}x{w} image: "
                              f"use 0 <= i < {h}, 0 <= j < {w}")

    def receptive_field(self, i: int, j: int, channel: int = 0) -> tuple[np.ndarray, float]:
        """Weights ``(1, F)`` float32 of output pixel ``(i, j)`` (one row of tap slots, in
        the order of :meth:`tap_positions`) and its bias."""
        k = self._weight_set(channel)
        self._check_pixel(i, j)
        return self.weights_[k, i, j][None].copy(), float(self.bias_[k, i, j])

    # ------------------------------------------------------------------ predict
    def _flat_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = "flat"
        if key not in self._cache:
            K, H, W, F = self.index_.shape
            self._cache[key] = (self.index_.reshape(K, H * W, F),
                                self.weights_.reshape(K, H * W, F),
                                self.bias_.reshape(K, H * W))
        return self._cache[key]

    def _gather(self, batch: np.ndarray) -> np.ndarray:
        """``csr @ [x_c; 1]`` for every channel of a float32 batch ``(N, H, W[, 3])``."""
        from fesgui.core import kernels  # numba: loaded on the first predict only

        N, H, W = batch.shape[:3]
        C = 1 if batch.ndim == 3 else 3
        x = np.ascontiguousarray(batch, dtype=np.float32).reshape(N, H * W, C)
        result = np.empty(batch.shape, np.float32)
        idx, w, b = self._flat_state()
        kernels.sparse_gather(x, idx, w, b, result.reshape(N, H * W, C))
        return result

    def predict_raw(self, X: np.ndarray) -> np.ndarray:
        """``csr @ [x_c; 1]`` per channel, without the preprocessing: float32, X's shape."""
        batch, single = self._check_input(X)
        out = self._gather(batch)
        return out[0] if single else out

    def _forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(y, scale)``: the output with the preprocessing applied and, per image, the
        factor the output scaling multiplies the matrix output by (1 without it)."""
        N, nd = batch.shape[0], batch.ndim
        x, lo, hi = self._scale_input(batch)
        z = self._gather(x)
        scale = np.ones(N)
        if self.preprocess_["output"] == "minmax":
            zlo, zhi = _minmax(z)
            span = zhi - zlo
            scale = np.divide(hi - lo, span, out=np.zeros_like(span), where=span > 0)
            # a constant z gives the middle of the input's range
            offset = np.where(span > 0, lo - zlo * scale, (lo + hi) / 2)
            z *= _image_view(scale, nd).astype(np.float32)
            z += _image_view(offset, nd).astype(np.float32)
        return z, scale

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Output for ``X`` ``(H, W[, 3])`` or ``(N, H, W[, 3])`` in [0, 1]: the matrix with
        the model's preprocessing (``meta["preprocess"]``); float32, X's shape."""
        batch, single = self._check_input(X)
        out, _ = self._forward(batch)
        return out[0] if single else out

    def decompose(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(wx, b)`` with ``wx + b == predict(x)``: ``b`` is the bias as it reaches the
        output (times the output scaling of this image), ``wx`` the rest."""
        batch, single = self._check_input(x)
        if not single:
            raise FesguiError("decompose got a batch: give one image (H, W[, 3])")
        y, scale = self._forward(batch)
        b = self.bias_image(y[0].shape) * np.float32(scale[0])
        return y[0] - b, b

    def _scale_input(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x', lo, hi)``: the float32 batch as the matrix sees it, and each image's
        minimum and maximum (float64 ``(N,)``)."""
        lo, hi = _minmax(batch)
        if self.preprocess_["input"] != "minmax":
            return batch, lo, hi
        span = hi - lo
        inv = np.divide(1.0, span, out=np.zeros_like(span), where=span > 0)
        nd = batch.ndim
        x = (batch - _image_view(lo, nd).astype(np.float32)) * _image_view(
            inv, nd).astype(np.float32)
        return x, lo, hi

    def scaled_input(self, x: np.ndarray) -> np.ndarray:
        """The image as the matrix sees it (after the input step), float32, x's shape."""
        batch, single = self._check_input(x)
        scaled = self._scale_input(batch)[0]
        return scaled[0] if single else scaled

    def output_scaling(self, x: np.ndarray) -> tuple[float, float]:
        """``(scale, offset)`` with ``predict(x) == scale * z + offset`` for one image
        (``z`` = the matrix output of the scaled input); ``(1, 0)`` without output step."""
        batch, single = self._check_input(x)
        if not single:
            raise FesguiError("output_scaling got a batch: give one image (H, W[, 3])")
        if self.preprocess_["output"] != "minmax":
            return 1.0, 0.0
        scaled, lo, hi = self._scale_input(batch)
        zlo, zhi = _minmax(self._gather(scaled))
        span = float(zhi[0] - zlo[0])
        if span > 0:
            s = float(hi[0] - lo[0]) / span
            return s, float(lo[0]) - float(zlo[0]) * s
        return 0.0, float(lo[0] + hi[0]) / 2

    def __repr__(self) -> str:
        state = f"F={self.n_taps}" if self.fitted else "not fitted"
        return (f"SparseReceptiveField(color={self.color!r}, preprocess={self.preprocess!r}, "
                f"template={self.template!r}; {state})")
