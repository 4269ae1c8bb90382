"""What every fesgui model shares: parameter checks, training-data layout, metadata,
receptive fields and the public surface the rest of the app relies on.

Shapes (see docs/architecture.md): images are ``(H, W)`` or ``(H, W, 3)`` float in [0, 1],
batches ``(N, H, W[, 3])``. A model holds ``K`` weight sets: ``K = 1`` for colour
"shared"/"gray" or grayscale data, ``K = 3`` for "per-channel" RGB models.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from threadpoolctl import ThreadpoolController

from fesgui.core.geometry import tap_offsets
from fesgui.errors import FesguiError

COLORS = ("shared", "per-channel", "gray")
METHODS = ("mr", "pixel-rr", "pixel-kr", "sparse")
#: the newest model file format this fesgui reads. Version 2 added the method "sparse",
#: the optional shape field (``shape.npy``) and the ``alignment`` meta key; each model
#: writes the oldest version that holds it, so older fesgui still read plain MR files
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Provenance:
    """Where a model comes from and how it scored: plain data, kept through save/load
    (the file's meta keys of the same names). ``model.provenance``; change it with
    :meth:`Model.set_provenance`.

    ``source``/``target``: the expressions mapped (text); ``training_data``: text or a dict;
    ``metrics``: a dict of scores; ``name``: display name; ``alignment``: how the training
    crops were aligned (:data:`fesgui.align.template.ALIGNMENTS`; None = format 1's eyes +
    nose); ``shape``: provenance of the shape field (None when there is none; set with
    :meth:`Model.set_shape`).
    """

    source: str | None = None
    target: str | None = None
    training_data: str | dict | None = None
    metrics: dict | None = None
    name: str | None = None
    alignment: str | None = None
    shape: dict | None = None


#: the provenance fields, which are also the file's meta keys they are saved under
USER_META_KEYS = tuple(f.name for f in dataclasses.fields(Provenance))
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


@functools.cache
def _blas_threads() -> ThreadpoolController:
    return ThreadpoolController()  # scans the loaded libraries once (~1 ms)


def one_blas_thread():
    """A context holding BLAS (OpenBLAS) to one thread; entering it costs ~15 us.

    fesgui's linear algebra is many small problems: a fit's batched solves, a frame's
    2x3 matrices and 5-point fits. OpenBLAS threads gain nothing there, and after each
    call they spin for milliseconds waiting for more work, taking a core from the video
    decoder, the encoder and the window (measured at 1080p: 31 ms of CPU per frame for
    the face work held to one thread, 75 ms without). The setting is process-wide, as
    OpenBLAS keeps it: two threads inside such blocks at once may leave it at one thread
    afterwards, which nothing in fesgui minds. The BLAS libraries are those loaded at the
    first call (numpy's, scipy's once ``scipy.linalg`` is imported)."""
    return _blas_threads().limit(limits=1, user_api="blas")


def solve_batched(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve`` of a stack of small systems ``A`` ``(..., n, n)``, ``b``
    ``(..., n, k)`` with BLAS held to ONE thread. Every system is small (MR: (r^2+1)^2,
    Pixel-KR: N x N), so OpenBLAS threads only wait on each other: one thread solves a
    128 px r = 5 fit's 16 384 systems 2.4x faster, and the result no longer depends on
    how many cores the machine has (OpenBLAS splits, and rounds, differently per thread
    count), so a model rebuilt on another machine is the same to the bit."""
    with one_blas_thread():
        return np.linalg.solve(A, b)


def check_is_fitted(model: Model) -> None:
    """Raise a one-line FesguiError unless ``model`` has learned state (``fit``, a model
    file or a CSR import); the public form of scikit-learn's ``check_is_fitted``."""
    if not model.fitted:
        raise FesguiError(f"this {type(model).__name__} is not fitted: call fit(X, T) "
                          "or load a model file first")


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
    """Base of all estimators, with scikit-learn's conventions: the ``__init__`` arguments
    are the hyper-parameters, stored unchanged as attributes of the same name
    (:meth:`get_params` / :meth:`set_params`; ``type(m)(**m.get_params())`` is an unfitted
    copy); ``fit`` validates them and leaves them as they are, writing what it learned and
    the effective hyper-parameters to trailing-underscore attributes. Subclasses set the
    class attributes below and implement ``fit``/``predict``.

    Learned state (after ``fit``, ``load_model`` or a CSR import):
    ``weights_`` float32 ``(K, H, W, T)``, ``bias_`` float32 ``(K, H, W)``,
    ``n_channels_in_`` (1 or 3), ``image_size`` ``(H, W)``; the effective hyper-parameters
    ``color_``, ``lam_`` (None for an imported model), ``size_``, ``dilation_`` (the
    window; 1 and 1 outside MR), ``sigma_`` (Pixel-KR, else None); ``storage_`` ("full",
    or "compact" for a model loaded from a compact file).
    """

    #: the method name written to model files (one of METHODS)
    method: ClassVar[str] = "mr"
    #: the oldest model file format a model of this class can be written in
    format_version: ClassVar[int] = 1
    #: the output is a per-pixel 256-level look-up table (``table_``), not the linear
    #: ``weights_``/``bias_`` (those are then a least-squares summary of the table)
    has_table: ClassVar[bool] = False
    #: every output pixel reads a fixed window of taps around itself (``taps()`` holds
    #: for every pixel); False: each pixel reads its own positions (``tap_positions``)
    local_window: ClassVar[bool] = True

    def __init__(self, lam: float = 0.4, color: str = "shared") -> None:
        self.lam = lam
        self.color = color
        self.provenance = Provenance()
        #: (H, W, 2) float32 backward displacement (dx, dy) in crop pixels, or None: the
        #: shape half of the expression (:mod:`fesgui.core.shape`), applied before predict
        self.shape_field_: np.ndarray | None = None

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The hyper-parameter names: the keyword arguments of ``__init__`` (as in
        scikit-learn's ``BaseEstimator``; ``*args``/``**kwargs`` are not allowed)."""
        params = [p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name != "self"]
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ takes *args/**kwargs: estimators "
                                "name every hyper-parameter")
        return sorted(p.name for p in params)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyper-parameters ``{name: value}``, the very objects given (scikit-learn's
        contract; ``deep`` is accepted for it and changes nothing: no parameter of a fesgui
        model is an estimator)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> Model:
        """Set hyper-parameters by name (checked by the next ``fit``); returns self. An
        unknown name sets nothing. A fitted model keeps what it learned (and the
        effective values it learned it with) until it is fitted again."""
        valid = self._get_param_names()
        for name in params:
            if name not in valid:
                raise FesguiError(f"{name!r} is not a parameter of {type(self).__name__}: "
                                  f"use one of {', '.join(valid)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def _check_params(self, fitting: bool = True) -> None:
        """Validate the hyper-parameters and install their effective values as the fitted
        attributes (``color_``, ``lam_``, ``size_``, ...). Called by ``fit`` and by whatever
        else makes a fitted model (``load_model``, a CSR import: ``fitting=False``, where
        an MR model may have no ``lam``). Subclasses extend it."""
        self.color_ = check_color(self.color)
        self.lam_ = None if self.lam is None and not fitting else check_lam(self.lam)
        self.size_, self.dilation_, self.sigma_ = 1, 1, None

    def _format_version(self) -> int:
        """The oldest file format that holds this model: 2 for a sparse model or one with a
        shape field or an alignment (which a format-1 reader would ignore), else 1."""
        needs_2 = self.shape_field_ is not None or self.provenance.alignment
        return max(int(self.format_version), 2 if needs_2 else 1)

    def set_shape(self, field: np.ndarray | None, info: dict | None = None) -> Model:
        """Attach (or with None remove) the model's shape field, which must match its
        image size, with its provenance ``info`` (kept in ``provenance.shape``)."""
        if field is None:
            self.shape_field_ = None
            self.provenance = dataclasses.replace(self.provenance, shape=None)
            return self
        from fesgui.core.shape import check_field, field_stats

        check_is_fitted(self)
        self.shape_field_ = check_field(field, self._image_size)
        self.provenance = dataclasses.replace(
            self.provenance, shape={**field_stats(self.shape_field_), **copy.deepcopy(info or {})})
        return self

    # ------------------------------------------------------------------ state
    @property
    def fitted(self) -> bool:
        return getattr(self, "weights_", None) is not None

    @property
    def image_size(self) -> tuple[int, int] | None:
        """``(H, W)`` of the images the model works on (None before fitting)."""
        return self._image_size if self.fitted else None

    @property
    def K(self) -> int:  # noqa: N802 - the number of weight sets, as in the docs
        check_is_fitted(self)
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
        self.storage_ = "full"
        self._image_size = (int(bias.shape[1]), int(bias.shape[2]))
        self._cache: dict[Any, Any] = {}

    def warm_up(self) -> None:
        """Predict one blank RGB image of the model's size once (RGB is what the pipeline
        gives every model, grey-fitted ones included). The first predict lays the weights
        out for the kernel and, for MR, loads the compiled kernel (compiling it on a
        machine's very first run): call this where waiting is cheap, such as right after
        loading, so that the first real frame is not the slow one."""
        check_is_fitted(self)
        h, w = self._image_size
        self.predict(np.zeros((h, w, 3), np.float32))

    # ------------------------------------------------------------------ files
    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The learned arrays a model file stores, by member name, full precision."""
        return {"weights": self.weights_, "bias": self.bias_}

    @classmethod
    def _state_shapes(cls, meta: dict[str, Any], k: int, h: int, w: int
                      ) -> dict[str, tuple[int, ...]]:
        """The shape of each stored array of a model file whose (checked) meta is ``meta``."""
        return {"weights": (k, h, w, meta["size"] ** 2), "bias": (k, h, w)}

    def _set_state(self, arrays: dict[str, np.ndarray], n_in: int) -> None:
        """Make this a fitted model without ``fit`` (a model file, a CSR import): check the
        hyper-parameters (``fitting=False``) and install the arrays of
        :meth:`_state_arrays`."""
        self._check_params(fitting=False)
        self._install(arrays, n_in)

    def _install(self, arrays: dict[str, np.ndarray], n_in: int) -> None:
        self._set_linear_state(arrays["weights"], arrays["bias"], n_in)

    def _meta_extras(self) -> dict[str, Any]:
        """Meta keys this method adds to the common ones (see :func:`modelio.file_meta`)."""
        return {}

    # ------------------------------------------------------------------ provenance
    def set_provenance(self, **values: Any) -> Model:
        """Replace provenance fields (:class:`Provenance`: source, target, training_data,
        metrics, name, alignment, shape); values are copied; returns self."""
        for key in values:
            if key not in USER_META_KEYS:
                raise FesguiError(f"provenance field {key!r} does not exist: use "
                                  f"{', '.join(USER_META_KEYS)}")
        self.provenance = dataclasses.replace(
            self.provenance, **{k: copy.deepcopy(v) for k, v in values.items()})
        return self

    @property
    def meta(self) -> MappingProxyType:
        """A read-only snapshot of the model's file meta (:func:`modelio.file_meta`): the
        method, the effective hyper-parameters, the image size and the provenance. New
        code reads :meth:`get_params` / the fitted attributes / :attr:`provenance`; change
        the provenance with :meth:`set_provenance` (assigning a key here raises)."""
        from fesgui.core.modelio import file_meta

        return MappingProxyType(copy.deepcopy(file_meta(self)))


    # ------------------------------------------------------------------ maps
    def taps(self) -> np.ndarray:
        """``(size*size, 2)`` int offsets ``(dy, dx)`` of each tap, dilation included."""
        check_is_fitted(self)
        return tap_offsets(self.size_, self.dilation_)

    def _weight_set(self, channel: int) -> int:
        check_is_fitted(self)
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
        r = self.size_
        return self.weights_[k, i, j].reshape(r, r).copy(), float(self.bias_[k, i, j])

    def bias_image(self, shape: tuple[int, ...]) -> np.ndarray:
        """The bias broadcast to an image of ``shape`` ``(H, W[, 3])`` float32."""
        check_is_fitted(self)
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
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({params}; {'fitted' if self.fitted else 'not fitted'})"

    # ------------------------------------------------------------------ input checks
    def _check_input(self, X: object) -> tuple[np.ndarray, bool]:
        """``(batch (N, H, W[, 3]) float32, was_single)`` after shape checks."""
        check_is_fitted(self)
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
