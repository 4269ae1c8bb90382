"""What every fesgui model shares: parameter checks, training-data layout, metadata,
receptive fields and the public surface the rest of the app relies on.

Shapes (see docs/architecture.md): images are ``(H, W)`` or ``(H, W, 3)`` float in [0, 1],
batches ``(N, H, W[, 3])``. A model holds ``K`` weight sets: ``K = 1`` for colour
"shared"/"gray" or grayscale data, ``K = 3`` for "per-channel" RGB models.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from fesgui.core.geometry import tap_offsets
from fesgui.errors import FesguiError

COLORS = ("shared", "per-channel", "gray")
METHODS = ("mr", "pixel-rr", "pixel-kr", "sparse")
#: the newest model file format this fesgui reads. Version 2 added the method "sparse",
#: the optional shape field (``shape.npy``) and the ``alignment`` meta key; each model
#: writes the oldest version that holds it, so older fesgui still read plain MR files
FORMAT_VERSION = 2
#: meta keys a caller may set; they are kept through save/load. ``alignment``: how the
#: training crops were aligned (:data:`fesgui.align.template.ALIGNMENTS`; None = format 1's
#: eyes + nose); ``shape``: provenance of the shape field (None when there is none)
USER_META_KEYS = ("source", "target", "training_data", "metrics", "name", "alignment",
                  "shape")
LUMA = np.array([0.299, 0.587, 0.114])


def check_lam(lam: object) -> float:
    """Ridge strength: a finite number > 0 (the bias is regularised with it too)."""
    try:
        value = float(lam)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FesguiError(f"lam={lam!r} must be a number > 0: e.g. 0.4") from None
    if not math.isfinite(value) or value <= 0:
        raise FesguiError(f"lam={lam!r} must be a finite number > 0: e.g. 0.4")
    return value


def check_color(color: object) -> str:
    if color not in COLORS:
        raise FesguiError(f"color={color!r} is unknown: use one of {', '.join(COLORS)}")
    return str(color)


def as_float_images(X: object, what: str = "input") -> np.ndarray:
    """``X`` as a float array; uint8 is read as 8-bit levels (divided by 255)."""
    arr = np.asarray(X)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if arr.dtype.kind not in "fiub":
        raise FesguiError(f"{what} has dtype {arr.dtype}: give float images in [0, 1]")
    return arr


def check_pairs(X: object, T: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate training pairs: float ``(N, H, W)`` or ``(N, H, W, 3)``, same shapes, finite."""
    Xa, Ta = as_float_images(X, "X"), as_float_images(T, "T")
    if Xa.ndim not in (3, 4) or (Xa.ndim == 4 and Xa.shape[-1] != 3):
        raise FesguiError(f"training inputs have shape {Xa.shape}: give a batch (N, H, W) "
                          "or (N, H, W, 3)")
    if Xa.shape != Ta.shape:
        raise FesguiError(f"inputs {Xa.shape} and targets {Ta.shape} differ in shape: "
                          "give one target per input, same size")
    if Xa.shape[0] < 1 or Xa.shape[1] < 1 or Xa.shape[2] < 1:
        raise FesguiError(f"training set of shape {Xa.shape} is empty: give at least one pair")
    if not (np.isfinite(Xa).all() and np.isfinite(Ta).all()):
        raise FesguiError("training images contain NaN or Inf: clean the data first")
    return Xa, Ta


def sample_sets(X: np.ndarray, T: np.ndarray, color: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (inputs, targets) each weight set is fitted on, float64 ``(M, H, W)`` each.

    Grayscale data: one set. RGB: "shared" stacks the three channels' samples (M = 3N,
    MR paper Eq. 16); "gray" uses luminance 0.299 R + 0.587 G + 0.114 B (M = N);
    "per-channel" gives three sets, channel c -> weight set c.
    """
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    if X.ndim == 3:
        return [(X, T)]
    if color == "per-channel":
        return [(np.ascontiguousarray(X[..., c]), np.ascontiguousarray(T[..., c]))
                for c in range(3)]
    if color == "gray":
        return [(X @ LUMA, T @ LUMA)]
    n, h, w, _ = X.shape
    # channel-major stacking: samples 0..N-1 are R, N..2N-1 G, 2N..3N-1 B
    S, St = (np.ascontiguousarray(np.moveaxis(A, -1, 0)).reshape(3 * n, h, w) for A in (X, T))
    return [(S, St)]


def solve_batched(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve`` of a stack of small systems ``A`` ``(..., n, n)``, ``b``
    ``(..., n, k)`` with BLAS held to ONE thread. Every system is small (MR: (r^2+1)^2,
    Pixel-KR: N x N), so OpenBLAS threads only wait on each other: one thread solves a
    128 px r = 5 fit's 16 384 systems 2.4x faster, and the result no longer depends on
    how many cores the machine has (OpenBLAS splits, and rounds, differently per thread
    count), so a model rebuilt on another machine is the same to the bit."""
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.solve(A, b)


def fit_change(model: Model, X: object, T: object) -> Model:
    """Fit ``model`` to the *change* ``T - X``, then add the input back (``add_identity``).

    Same estimator, same closed form; only the prior moves. Ridge shrinks the weights
    toward zero, and for a model of ``T`` zero means "output the mean face" (blur); for a
    model of the change it means "leave the input as it is", so weakly supported pixels
    keep the input's sharpness instead of fading to the average face.
    """
    Xa, Ta = check_pairs(X, T)
    model.fit(Xa, Ta - Xa)
    return model.add_identity()


class Model:
    """Base of all estimators. Subclasses set ``method`` and implement ``fit``/``predict``.

    Learned state (after ``fit`` or ``load_model``):
    ``weights_`` float32 ``(K, H, W, size*size)``, ``bias_`` float32 ``(K, H, W)``,
    ``n_channels_in_`` (1 or 3), ``image_size`` ``(H, W)``.
    """

    method = "mr"
    size = 1
    dilation = 1
    sigma: float | None = None
    format_version = 1  # written to the model file (see FORMAT_VERSION)

    def __init__(self, lam: float = 0.4, color: str = "shared") -> None:
        self.lam = lam
        self.color = color
        self._user_meta: dict[str, Any] = {}
        #: (H, W, 2) float32 backward displacement (dx, dy) in crop pixels, or None: the
        #: shape half of the expression (:mod:`fesgui.core.shape`), applied before predict
        self.shape_field_: np.ndarray | None = None

    def _format_version(self) -> int:
        """The oldest file format that holds this model: 2 for a sparse model or one with a
        shape field or an alignment (which a format-1 reader would ignore), else 1."""
        needs_2 = self.shape_field_ is not None or self._user_meta.get("alignment")
        return max(int(self.format_version), 2 if needs_2 else 1)

    def set_shape(self, field: np.ndarray | None, info: dict | None = None) -> Model:
        """Attach (or with None remove) the model's shape field, which must match its
        image size, with its provenance ``info`` (kept in ``meta["shape"]``)."""
        if field is None:
            self.shape_field_ = None
            self._user_meta["shape"] = None
            return self
        from fesgui.core.shape import check_field, field_stats

        self._check_fitted()
        self.shape_field_ = check_field(field, self._image_size)
        self._user_meta["shape"] = {**field_stats(self.shape_field_),
                                    **copy.deepcopy(info or {})}
        return self

    # ------------------------------------------------------------------ state
    @property
    def fitted(self) -> bool:
        return getattr(self, "weights_", None) is not None

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise FesguiError(f"this {type(self).__name__} is not fitted: call fit(X, T) "
                              "or load a model file first")

    @property
    def image_size(self) -> tuple[int, int] | None:
        """``(H, W)`` of the images the model works on (None before fitting)."""
        return self._image_size if self.fitted else None

    @property
    def K(self) -> int:  # noqa: N802 - the number of weight sets, as in the docs
        self._check_fitted()
        return int(self.weights_.shape[0])

    def _set_linear_state(self, weights: np.ndarray, bias: np.ndarray, n_in: int) -> None:
        """Install weights ``(K, H, W, T)`` and bias ``(K, H, W)`` (read-only float32)."""
        weights = np.array(weights, dtype=np.float32, order="C")
        bias = np.array(bias, dtype=np.float32, order="C")
        weights.flags.writeable = False
        bias.flags.writeable = False
        self.weights_ = weights
        self.bias_ = bias
        self.n_channels_in_ = int(n_in)
        self._image_size = (int(bias.shape[1]), int(bias.shape[2]))
        self._cache: dict[Any, Any] = {}

    def warm_up(self) -> None:
        """Predict one blank RGB image of the model's size once (RGB is what the pipeline
        gives every model, grey-fitted ones included). The first predict lays the weights
        out for the kernel and, for MR, loads the compiled kernel (compiling it on a
        machine's very first run): call this where waiting is cheap, such as right after
        loading, so that the first real frame is not the slow one."""
        self._check_fitted()
        h, w = self._image_size
        self.predict(np.zeros((h, w, 3), np.float32))

    # ------------------------------------------------------------------ meta
    @property
    def meta(self) -> dict[str, Any]:
        """Model description (contract keys). Settable keys: source, target,
        training_data, metrics, name - assign through ``model.meta[key] = value`` or
        :meth:`set_meta`; the other keys always reflect the model itself."""
        return _MetaDict(self)

    def set_meta(self, **values: Any) -> Model:
        for key, value in values.items():
            if key not in USER_META_KEYS:
                raise FesguiError(f"meta key {key!r} cannot be set: settable keys are "
                                  f"{', '.join(USER_META_KEYS)}")
            self._user_meta[key] = copy.deepcopy(value)
        return self

    def _meta_dict(self) -> dict[str, Any]:
        h_w = list(self._image_size) if self.fitted else None
        meta: dict[str, Any] = {
            "method": self.method,
            "size": int(self.size),
            "dilation": int(self.dilation),
            "lam": float(self.lam) if is_number(self.lam) else self.lam,
            "sigma": None if self.sigma is None else float(self.sigma),
            "color": self.color,
            "image_size": h_w,
            "channels_in": getattr(self, "n_channels_in_", None) if self.fitted else None,
            "format_version": int(self._format_version()),
            "storage": getattr(self, "_storage", "full"),
        }
        for key in USER_META_KEYS:
            meta[key] = copy.deepcopy(self._user_meta.get(key))
        return meta

    # ------------------------------------------------------------------ maps
    def taps(self) -> np.ndarray:
        """``(size*size, 2)`` int offsets ``(dy, dx)`` of each tap, dilation included."""
        return tap_offsets(int(self.size), int(self.dilation))

    def _weight_set(self, channel: int) -> int:
        self._check_fitted()
        if channel not in (0, 1, 2):
            raise FesguiError(f"channel={channel!r} is not a colour channel: use 0, 1 or 2 (R, G, B)")
        return channel if self.K == 3 else 0

    def receptive_field(self, i: int, j: int, channel: int = 0) -> tuple[np.ndarray, float]:
        """Weights ``(size, size)`` float32 of output pixel ``(i, j)`` and its bias."""
        k = self._weight_set(channel)
        h, w = self._image_size
        if not (0 <= i < h and 0 <= j < w):
            raise FesguiError(f"pixel ({i}, {j}) is outside the {h}x{w} image: "
                              f"use 0 <= i < {h}, 0 <= j < {w}")
        r = int(self.size)
        return self.weights_[k, i, j].reshape(r, r).copy(), float(self.bias_[k, i, j])

    def bias_image(self, shape: tuple[int, ...]) -> np.ndarray:
        """The bias broadcast to an image of ``shape`` ``(H, W[, 3])`` float32."""
        self._check_fitted()
        b = self.bias_
        if len(shape) == 3:
            b = np.moveaxis(b, 0, -1)  # (H, W, K)
            return np.ascontiguousarray(np.broadcast_to(b, shape), dtype=np.float32)
        return b[0].copy()

    def decompose(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(wx, b)`` for one image ``x`` ``(H, W[, 3])``: the weights-only part and the
        bias-only part of the output (MR paper Fig. 6); ``wx + b == predict(x)``."""
        y = self.predict(x)
        if y.ndim == 4 or (y.ndim == 3 and y.shape[-1] != 3):
            raise FesguiError("decompose got a batch: give one image (H, W[, 3])")
        b = self.bias_image(y.shape)
        return y - b, b

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path, compact: bool = False) -> Path:
        """Write the model as one ``.npz`` file (see :mod:`fesgui.core.modelio`)."""
        from fesgui.core.modelio import save_model

        return save_model(self, path, compact=compact)

    def __repr__(self) -> str:
        state = "fitted" if self.fitted else "not fitted"
        return (f"{type(self).__name__}(method={self.method}, size={self.size}, "
                f"dilation={self.dilation}, lam={self.lam}, color={self.color!r}; {state})")

    # ------------------------------------------------------------------ input checks
    def _check_input(self, X: object) -> tuple[np.ndarray, bool]:
        """``(batch (N, H, W[, 3]) float32, was_single)`` after shape checks."""
        self._check_fitted()
        arr = as_float_images(X)
        h, w = self._image_size
        single = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3 and arr.shape[:2] == (h, w))
        batch = arr[None] if single else arr
        if batch.ndim == 3:
            ok = batch.shape[1:] == (h, w)
        else:
            ok = batch.ndim == 4 and batch.shape[1:3] == (h, w) and batch.shape[3] == 3
        if not ok:
            raise FesguiError(f"image of shape {arr.shape} does not fit this {h}x{w} model: "
                              f"align/resize the face to {h}x{w} first")
        if batch.ndim == 3 and self.weights_.shape[0] == 3:
            raise FesguiError("this per-channel model needs RGB images (H, W, 3): "
                              "give a colour image")
        return np.asarray(batch, dtype=np.float32), single


def is_number(v: object) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


class _MetaDict(dict):
    """A dict view of a model's meta whose settable keys write through to the model."""

    def __init__(self, model: Model) -> None:
        super().__init__(model._meta_dict())
        self._model = model

    def __setitem__(self, key: str, value: Any) -> None:
        self._model.set_meta(**{key: value})
        super().__setitem__(key, copy.deepcopy(value))

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
