"""Fitting models the way the shipped ones are fitted, and the release build of ``fesgui/models/``.

Protocol (MR paper, Section 5): people are split by identity 80/10/10 (seeded,
:func:`fesgui.data.split_ids`); ``lam`` is chosen on validation over 10 equally spaced
values in [0.1, 10] (:data:`LAM_GRID`; Pixel-KR also over :data:`SIGMA_GRID`); the final
model is fitted on train + validation with the best value and scored on the test people:
MSE and SSIM (:mod:`fesgui.evaluation.metrics`) beside two baselines (output = input;
output = mean training target) and global ridge regression (:func:`ridge_dual_predict`).

Where fesgui departs from the papers (each measured, see ``fesgui/models/EVALUATION.md``):

* **Shape + appearance.** When the pairs come with FaceMesh points, a displacement field
  (:mod:`fesgui.core.shape`) is fitted first and the inputs are warped by it, so the
  appearance model learns only what a warp cannot do (``shape=True``).
* **The change, not the image** (``residual=True``): the appearance model is fitted to
  ``T - X`` and the input added back (:func:`fesgui.core.fit_change`), so ridge shrinks
  toward "no change" instead of toward the mean face; ``lam`` runs over
  :data:`CHANGE_LAM_GRID` and is the one with the least validation MSE among those that
  keep the mouth's colour and detail (:data:`KEEP_CHROMA`, :data:`KEEP_DETAIL`), since
  validation MSE alone rewards blur.

Everything here is deterministic: the same data and seed give byte-identical files.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fesgui.errors import FesguiError

#: the MR paper's lam grid: 10 equally spaced values in [0.1, 10]
LAM_GRID: tuple[float, ...] = tuple(float(v) for v in np.round(np.linspace(0.1, 10.0, 10), 6))
#: Gaussian kernel widths tried for Pixel-KR, in [0, 1]-intensity units
SIGMA_GRID: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
#: ridge strengths tried for the global l2 baseline, relative to the mean diagonal of X X^T
RIDGE_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-3, 1, 9))

#: lam values tried for a fit of the change (``residual=True``): the prior is "no change",
#: so larger values keep more of the input
CHANGE_LAM_GRID: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
#: a change fit's lam must keep at least this much of the mouth region's LAB chroma and of
#: its Laplacian variance (model output over model input, mean over validation faces)
KEEP_CHROMA = 0.97
KEEP_DETAIL = 0.8

METHOD_NAMES = {"mr": "MR", "pixel-rr": "Pixel-RR", "pixel-kr": "Pixel-KR",
                "sparse": "Sparse RF"}  # sparse: imported LSRF / OMP (fesgui.core.sparse)

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# --------------------------------------------------------------------------- models
def make_model(method: str, size: int = 3, dilation: int = 1, color: str = "shared",
               lam: float = 0.4, sigma: float | None = None):
    """An unfitted estimator of :mod:`fesgui.core` for ``method``.

    ``method``: "mr" (uses ``size``/``dilation``), "pixel-rr" or "pixel-kr" (uses
    ``sigma``, default 1.0). Raises :class:`FesguiError` for an unknown method.
    """
    from fesgui.core import MaskedRegression, PixelKernelRegression, PixelRegression

    if method == "mr":
        return MaskedRegression(size=size, dilation=dilation, lam=lam, color=color)
    if method == "pixel-rr":
        return PixelRegression(lam=lam, color=color)
    if method == "pixel-kr":
        return PixelKernelRegression(lam=lam, sigma=1.0 if sigma is None else sigma,
                                     color=color)
    raise FesguiError(f"method {method!r} is unknown: use mr, pixel-rr or pixel-kr")


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1]; float images pass through as float32."""
    from fesgui.imageio import to_float as uint8_to_float

    images = np.asarray(images)
    return uint8_to_float(images) if images.dtype == np.uint8 else images.astype(np.float32)


# --------------------------------------------------------------------------- metrics
def scores(outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``{"mse": ..., "ssim": ...}`` of a batch; MSE unscaled (values in [0, 1])."""
    from fesgui.evaluation.metrics import mse, ssim

    outputs = np.clip(to_float(outputs), 0.0, 1.0)
    targets = to_float(targets)
    return {"mse": _sig(mse(outputs, targets)), "ssim": round(ssim(outputs, targets), 6)}


def _sig(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant digits (short, stable JSON)."""
    return float(f"{value:.{digits}g}")


def ridge_dual_predict(X_train: np.ndarray, T_train: np.ndarray, X_test: np.ndarray,
                       lam: float) -> np.ndarray:
    """Global l2 ridge regression (with an unregularised intercept) in dual form.

    Every output pixel sees every input pixel (MR paper Eq. 2). With ``N`` training pairs
    of ``D`` values the primal ``W = T^T X (X^T X + lam I)^-1`` is ``D x D``; the dual
    ``W = T^T (X X^T + lam I)^-1 X`` needs only the ``N x N`` Gram matrix. Data are
    centred on the training means first (the intercept).
    Shapes: ``(N, ...)``, ``(N, ...)``, ``(M, ...)`` -> ``(M, ...)`` float32.
    """
    n = len(X_train)
    mx, mt, Xc, coef = ridge_dual_fit(np.asarray(X_train, np.float64).reshape(n, -1),
                                      np.asarray(T_train, np.float64).reshape(n, -1), lam)
    Xq = np.asarray(X_test, np.float64).reshape(len(X_test), -1) - mx
    Y = mt + (Xq @ Xc.T) @ coef
    return Y.reshape(np.shape(X_test)).astype(np.float32)


def ridge_dual_fit(X: np.ndarray, T: np.ndarray, lam: float, relative: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The dual ridge solve on float64 matrices ``X (N, P)``, ``T (N, K)``: ``(mx, mt, Xc, coef)``.

    ``mx``, ``mt`` are the column means, ``Xc = X - mx`` and ``coef`` the ``(N, K)`` dual
    coefficients, so rows ``Q`` map to ``mt + ((Q - mx) @ Xc.T) @ coef``. ``relative``:
    ``lam`` is taken relative to the mean squared norm of the centred rows
    (``trace(Xc Xc^T) / N``, at least 1e-12). Shared by :func:`ridge_dual_predict` and
    :class:`fesgui.evaluation.baselines.GlobalRidge`.
    """
    n = len(X)
    mx, mt = X.mean(axis=0), T.mean(axis=0)
    Xc = X - mx
    gram = Xc @ Xc.T
    if relative:
        lam = lam * max(float(np.trace(gram)) / n, 1e-12)
    return mx, mt, Xc, np.linalg.solve(gram + lam * np.eye(n), T - mt)


def ridge_baseline(X_train, T_train, X_val, T_val, X_test, T_test,
                   grid: Sequence[float] = RIDGE_GRID) -> dict:
    """Global ridge: lam (relative to mean diag of the Gram) chosen on validation MSE."""
    from fesgui.evaluation.metrics import mse

    n = len(X_train)
    Xc = X_train.reshape(n, -1).astype(np.float64)
    Xc = Xc - Xc.mean(axis=0)
    scale = float(np.einsum("ij,ij->", Xc, Xc) / n)
    val = [mse(np.clip(ridge_dual_predict(X_train, T_train, X_val, g * scale), 0, 1), T_val)
           for g in grid]
    best = int(np.argmin(val))
    X_fit = np.concatenate([X_train, X_val])
    T_fit = np.concatenate([T_train, T_val])
    Y = ridge_dual_predict(X_fit, T_fit, X_test, grid[best] * scale)
    return {**scores(Y, T_test), "lam_relative": grid[best]}


def baseline_scores(T_fit: np.ndarray, X_test: np.ndarray, T_test: np.ndarray) -> dict:
    """Test scores of output = input ("identity") and output = mean training target."""
    mean_face = np.broadcast_to(T_fit.mean(axis=0), T_test.shape)
    return {"identity": scores(X_test, T_test), "mean_target": scores(mean_face, T_test)}


# --------------------------------------------------------------------------- selection
@dataclass
class Selection:
    """The hyper-parameter search: every tried ``(lam, sigma)`` and its validation MSE."""

    grid: list[tuple[float, float | None, float]]       # (lam, sigma, validation MSE)
    lam: float
    sigma: float | None
    criterion: str = "validation MSE"
    kept: list[list[float]] | None = None   # per grid point: mouth (chroma, detail) kept

    def as_meta(self) -> dict:
        meta = {"criterion": self.criterion, "lam": self.lam, "sigma": self.sigma,
                "tried": [[lam, sigma, _sig(v)] for lam, sigma, v in self.grid]}
        if self.kept is not None:
            meta["mouth_kept"] = self.kept
        return meta


def fit_model(model, X: np.ndarray, T: np.ndarray, residual: bool = False):
    """``model.fit(X, T)``, or with ``residual`` :func:`fesgui.core.fit_change`."""
    if residual:
        from fesgui.core import fit_change

        return fit_change(model, X, T)
    return model.fit(X, T)


def select_hyperparameters(method: str, X_train, T_train, X_val, T_val,
                           lams: Sequence[float] | None = None,
                           sigmas: Sequence[float] | None = None, log: Log = _quiet,
                           pixel_stride: int = 1, residual: bool = False,
                           **model_kw) -> Selection:
    """Fit one model per grid point on train, keep the one with the least validation MSE.

    ``lams`` defaults to :data:`LAM_GRID` (:data:`CHANGE_LAM_GRID` with ``residual``).
    ``sigmas`` defaults to :data:`SIGMA_GRID` for Pixel-KR and is ignored otherwise. Ties
    go to the first grid point (smallest lam, then smallest sigma).

    ``residual``: fit the change (:func:`fit_model`), and choose among the grid points
    that keep :data:`KEEP_CHROMA` of the mouth's colour and :data:`KEEP_DETAIL` of its
    detail on validation (all of them when none does: then the one keeping the most).

    ``pixel_stride`` (Pixel-RR/KR only): score on every ``s``-th row and column. A pixel
    model fits each pixel on its own data only, so the sub-grid pixels get exactly the fit
    they would get in the full image: the validation MSE is that of the full model on those
    pixels, at ``1/s^2`` of the cost (the mouth measures are then taken on the sub-grid
    image, a smaller copy of the face).
    """
    from fesgui.evaluation.expression import mouth_kept
    from fesgui.evaluation.metrics import mse

    if len(X_val) == 0:
        raise FesguiError("no validation pairs to choose lam on: add pairs or give --lam")
    if lams is None:
        lams = CHANGE_LAM_GRID if residual else LAM_GRID
    if method == "pixel-kr":
        sigma_list: list[float | None] = list(SIGMA_GRID if sigmas is None else sigmas)
    else:
        sigma_list = [None]
    s = pixel_stride if method in ("pixel-rr", "pixel-kr") else 1
    sub = (slice(None), slice(None, None, s), slice(None, None, s))
    Xt, Tt = to_float(X_train)[sub], to_float(T_train)[sub]
    Xv, Tv = to_float(X_val)[sub], to_float(T_val)[sub]
    grid = []
    kept = []
    for sigma in sigma_list:
        for lam in lams:
            model = fit_model(make_model(method, lam=lam, sigma=sigma, **model_kw), Xt, Tt,
                              residual)
            out = model.predict(Xv)
            val = mse(np.clip(out, 0, 1), Tv)
            grid.append((float(lam), None if sigma is None else float(sigma), float(val)))
            note = ""
            if residual and Xv.ndim == 4:
                kept.append(mouth_kept(out, Xv))
                note = f", mouth colour kept {kept[-1][0]:.3f}, detail {kept[-1][1]:.3f}"
            log(f"  lam={lam:g}{'' if sigma is None else f' sigma={sigma:g}'}: "
                f"validation MSE x10^2 = {100 * val:.4f}{note}")
    candidates = list(range(len(grid)))
    if kept:
        ok = [k for k in candidates if kept[k][0] >= KEEP_CHROMA and kept[k][1] >= KEEP_DETAIL]
        candidates = ok or [max(candidates, key=lambda k: min(kept[k][0] / KEEP_CHROMA,
                                                              kept[k][1] / KEEP_DETAIL))]
    best = min(candidates, key=lambda k: grid[k][2])
    criterion = ("validation MSE among lam keeping the mouth's colour and detail" if kept
                 else "validation MSE")
    return Selection(grid, grid[best][0], grid[best][1], criterion,
                     [[round(c, 4), round(d, 4)] for c, d in kept] or None)


# --------------------------------------------------------------------------- training
@dataclass
class TrainingData:
    """Aligned pairs with their identities and the provenance written into the model."""

    ids: list[str]
    X: np.ndarray                      # (N, H, W, 3) uint8 or float in [0, 1]
    T: np.ndarray
    name: str = "custom"
    attribution: str | None = None
    license: str | None = None
    extra: dict = field(default_factory=dict)
    #: (N, M, 2) corresponding landmark points of the source / target face in the crop
    #: (FaceMesh, :func:`fesgui.data.load_aligned`): what the shape field is fitted on
    mesh_X: np.ndarray | None = None
    mesh_T: np.ndarray | None = None
    #: how the crops were aligned (kept in the model so the pipeline aligns faces alike)
    alignment: str | None = None

    @classmethod
    def from_aligned(cls, aligned, **kw) -> TrainingData:
        """From a :class:`fesgui.data.AlignedSet` (its crops, meshes and alignment)."""
        return cls(aligned.ids, aligned.X, aligned.T, mesh_X=aligned.mesh_X,
                   mesh_T=aligned.mesh_T, alignment=aligned.alignment, **kw)

    def swapped(self) -> TrainingData:
        """The reverse mapping: targets become inputs (and their meshes too)."""
        return TrainingData(self.ids, self.T, self.X, self.name, self.attribution,
                            self.license, dict(self.extra), self.mesh_T, self.mesh_X,
                            self.alignment)


def fit_shape_field(mesh_X: np.ndarray, mesh_T: np.ndarray, image_size: tuple[int, int],
                    template=None) -> np.ndarray:
    """The mean displacement field (:func:`fesgui.core.shape.fit_mean_field`) of landmark
    pairs in crops of ``image_size``, allowed to move inside the template's face mask and
    held still on a ring at 1.15 times the mask ellipse."""
    from fesgui.align import Template, face_mask
    from fesgui.core.shape import ellipse_ring, fit_mean_field

    template = Template.load() if template is None else template
    mask = face_mask(image_size, template=template)
    ring = template.in_crop(image_size, ellipse_ring(template.mask_centre, template.mask_axes,
                                                     1.15))
    return fit_mean_field(mesh_X, mesh_T, image_size, mask, ring)


def warp_batch(X: np.ndarray, field_: np.ndarray | None) -> np.ndarray:
    """Every image of ``X`` (N, H, W[, 3]) warped by a shape field (None: unchanged)."""
    if field_ is None:
        return X
    from fesgui.align import warp_crop

    return np.stack([warp_crop(x, field_) for x in X]) if len(X) else X


def split_data(data: TrainingData, seed: int = 0) -> list[tuple[list[str], np.ndarray,
                                                                 np.ndarray]]:
    """``[(ids, X, T)]`` of the train, validation and test people (:func:`split_ids`)."""
    from fesgui.data import split_ids

    index = {ident: k for k, ident in enumerate(data.ids)}
    if len(index) != len(data.ids):
        raise FesguiError("the same identity appears twice in the training data: "
                          "give one pair per person")
    parts = []
    for ids in split_ids(data.ids, seed=seed):
        rows = [index[i] for i in ids]
        parts.append((ids, data.X[rows], data.T[rows]))
    return parts


def train(data: TrainingData, method: str = "mr", size: int = 3, dilation: int = 1,
          color: str = "shared", lam: float | None = None, sigma: float | None = None,
          seed: int = 0, source: str = "neutral", target: str = "happy",
          ridge: bool | dict = True, pixel_stride: int = 1, sigmas: Sequence[float] | None = None,
          shape: bool = True, residual: bool = True, log: Log = _quiet):
    """Split ``data`` by identity, choose hyper-parameters, fit, score on the test people.

    ``shape`` (when ``data`` has meshes): fit the shape field on the train + validation
    people first (:func:`fit_shape_field`) and fit the appearance model on inputs warped by
    it; the field goes into the model. ``residual``: fit the change (see the module
    docstring). ``lam=None`` chooses lam on validation (:func:`select_hyperparameters`;
    sigma too for Pixel-KR when ``sigma`` is None); otherwise the given values are used.
    The returned model is fitted on train + validation and carries ``meta["metrics"]``
    (test MSE/SSIM of shape + appearance on the test crops, baselines) and
    ``meta["training_data"]``. ``ridge``: True scores the global ridge baseline here, a
    dict is a precomputed :func:`ridge_baseline` result, False leaves it out.
    ``pixel_stride`` and ``sigmas`` are passed to :func:`select_hyperparameters`.
    """
    parts = split_data(data, seed)
    (train_ids, Xtr, Ttr), (val_ids, Xva, Tva), (test_ids, Xte, Tte) = parts
    shape_field = None
    Xte_input = to_float(Xte)
    if shape and data.mesh_X is not None and data.mesh_T is not None:
        index = {ident: k for k, ident in enumerate(data.ids)}
        rows = [index[i] for i in train_ids + val_ids]
        shape_field = fit_shape_field(data.mesh_X[rows], data.mesh_T[rows], Xtr.shape[1:3])
        log(f"shape field fitted on {len(rows)} landmark pairs: moves up to "
            f"{np.hypot(shape_field[..., 0], shape_field[..., 1]).max():.2f} px")
        Xtr, Xva, Xte = (warp_batch(to_float(a), shape_field) for a in (Xtr, Xva, Xte))
    Xte, Tte = to_float(Xte), to_float(Tte)
    model_kw = {"size": size, "dilation": dilation, "color": color}
    started = time.perf_counter()
    selection = None
    if lam is None or (method == "pixel-kr" and sigma is None):
        lams = None if lam is None else (lam,)
        sigmas = sigmas if sigma is None else (sigma,)
        log(f"choosing hyper-parameters on {len(val_ids)} validation people")
        selection = select_hyperparameters(method, Xtr, Ttr, Xva, Tva, lams, sigmas,
                                           log=log, pixel_stride=pixel_stride,
                                           residual=residual, **model_kw)
        lam, sigma = selection.lam, selection.sigma
    X_fit = to_float(np.concatenate([Xtr, Xva]))
    T_fit = to_float(np.concatenate([Ttr, Tva]))
    model = fit_model(make_model(method, lam=lam, sigma=sigma, **model_kw), X_fit, T_fit,
                      residual)
    if shape_field is not None:
        model.set_shape(shape_field, {"kind": "mean displacement field",
                                      "fitted_on": "train+val", "points": "FaceMesh 468",
                                      "n_pairs": len(train_ids) + len(val_ids)})
    model.set_provenance(alignment=data.alignment)
    fit_seconds = time.perf_counter() - started
    metrics = {"split": "test", "n_test": len(test_ids), **scores(model.predict(Xte), Tte),
               "baselines": baseline_scores(T_fit, Xte_input, Tte)}
    if shape_field is not None:
        metrics["baselines"]["shape_only"] = scores(Xte, Tte)
    if isinstance(ridge, dict):
        metrics["baselines"]["ridge_l2"] = ridge
    elif ridge:
        metrics["baselines"]["ridge_l2"] = ridge_baseline(
            to_float(Xtr), to_float(Ttr), to_float(Xva), to_float(Tva), Xte, Tte)
    if selection is not None:
        metrics["selection"] = {**selection.as_meta(), "pixel_stride": (
            pixel_stride if method in ("pixel-rr", "pixel-kr") else 1)}
    training_data = {
        "name": data.name, "attribution": data.attribution, "license": data.license,
        "n_train": len(train_ids), "n_val": len(val_ids), "n_test": len(test_ids),
        "fitted_on": "train+val", "split_seed": seed, "split_fractions": [0.8, 0.1, 0.1],
        "test_ids": test_ids, "val_ids": val_ids,
        "fit": "change (T - X), prior: no change" if residual else "target (T), as in the papers",
        **data.extra,
    }
    model.set_provenance(source=source, target=target, metrics=metrics,
                         training_data=training_data, name=display_name(model.meta, source, target))
    log(f"fitted {model.meta['name']} in {fit_seconds:.1f} s: test MSE x10^2 = "
        f"{100 * metrics['mse']:.4f} (input {100 * metrics['baselines']['identity']['mse']:.4f}, "
        f"mean face {100 * metrics['baselines']['mean_target']['mse']:.4f}), "
        f"SSIM {metrics['ssim']:.4f}")
    return model


def display_name(meta: dict, source: str, target: str) -> str:
    """``"neutral -> happy, MR 3x3 (shared colour), 128 px"``."""
    method = METHOD_NAMES.get(meta["method"], meta["method"])
    if meta["method"] == "mr":
        method += f" {meta['size']}x{meta['size']}"
        if meta.get("dilation", 1) != 1:
            method += f" dilation {meta['dilation']}"
    h, w = meta["image_size"]
    crop = f"{h} px" if h == w else f"{h}x{w} px"
    return f"{source} -> {target}, {method} ({meta['color']} colour), {crop}"


def compact_difference(model, X: np.ndarray) -> dict:
    """How much ``save(compact=True)`` changes the outputs of ``model`` on ``X``.

    Saves a compact copy to a temporary folder, loads it and compares predictions.
    Returns the largest absolute difference over all pixels in 8-bit levels
    (``max_abs_255``) and the RMS difference (``rms_255``), both after clipping to [0, 1].
    """
    from fesgui.core import load_model

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compact.npz"
        model.save(path, compact=True)
        compact = load_model(path)
    a = np.clip(model.predict(X), 0, 1).astype(np.float64) * 255.0
    b = np.clip(compact.predict(X), 0, 1).astype(np.float64) * 255.0
    d = np.abs(a - b)
    return {"max_abs_255": round(float(d.max()), 4),
            "rms_255": round(float(np.sqrt((d**2).mean())), 5)}


# --------------------------------------------------------------------------- release
DATASET_NAME = "Face Research Lab London Set (neutral and smiling, front view)"
DATASET_ATTRIBUTION = ("DeBruine, L., & Jones, B. (2017). Face Research Lab London Set "
                       "(Version 5). figshare. https://doi.org/10.6084/m9.figshare.5047666.v5")
DATASET_LICENSE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
RELEASE_SEED = 0
#: Pixel-KR hyper-parameters are scored on a 32 x 32 sub-grid of pixels (every 4th row and
#: column at 128 px, every 8th at 256 px; exact, see :func:`select_hyperparameters`); its
#: sigma grid spans the paper's range around 1
RELEASE_KR_GRID_PIXELS = 32
RELEASE_KR_SIGMAS = (0.3, 1.0, 3.0)
DIRECTIONS = (("neutral", "happy"), ("happy", "neutral"))


@dataclass(frozen=True)
class ReleaseSpec:
    """One shipped model: mapping, method, window size, crop size and colour mode."""

    source: str
    target: str
    method: str
    crop: int
    size: int = 1
    color: str = "shared"

    @property
    def tag(self) -> str:
        return f"mr{self.size}" if self.method == "mr" else self.method.replace("-", "")

    @property
    def filename(self) -> str:
        """``neutral2happy_mr3_128.npz``."""
        return f"{self.source}2{self.target}_{self.tag}_{self.crop}.npz"


def release_specs() -> list[ReleaseSpec]:
    """Every shipped model, in build order.

    Both mappings; CMR (MR with shared colour) 3x3 and 5x5, Pixel-RR (shared colour) and
    Pixel-KR (per-channel: its fit costs N^3 per pixel and weight set, so shared colour,
    which stacks the 3 channels' samples, would cost 9 times more; gray-replicated tables,
    fitted on luminance, turn lips and teeth gray because a kernel model has no output far
    from its training levels) at 128 and 256 px.
    """
    specs = []
    for source, target in DIRECTIONS:
        for crop in (128, 256):
            specs += [ReleaseSpec(source, target, "mr", crop, 3),
                      ReleaseSpec(source, target, "mr", crop, 5),
                      ReleaseSpec(source, target, "pixel-rr", crop),
                      ReleaseSpec(source, target, "pixel-kr", crop, color="per-channel")]
    return specs


def _build_group(dataset: TrainingData, specs: list[ReleaseSpec], out_dir: Path,
                 cases: list | None = None, log: Log | None = None
                 ) -> tuple[list[Path], list[str]]:
    """Fit and save the release models of one mapping and crop size (one process).

    ``dataset``: the aligned pairs of the mapping (inputs, targets, meshes). ``cases``: the
    test people's photos (:func:`fesgui.evaluation.expression.load_cases`): each saved
    model is also run through the pipeline on them and scored as a user sees it
    (``metrics["expression"]``). Returns the written files and the log lines (also sent to
    ``log`` as they happen, if given).
    """
    lines: list[str] = []

    def say(message: str) -> None:
        lines.append(message)
        if log is not None:
            log(message)

    started = time.perf_counter()
    source, target, crop = specs[0].source, specs[0].target, specs[0].crop
    (_, Xtr, Ttr), (_, Xva, Tva), (_, Xte, Tte) = split_data(dataset, RELEASE_SEED)
    Xte = to_float(Xte)
    ridge = ridge_baseline(to_float(Xtr), to_float(Ttr), to_float(Xva), to_float(Tva), Xte,
                           to_float(Tte))
    scorer = smile = None
    if cases:
        from fesgui.align.mediapipe_source import MediaPipeSource
        from fesgui.evaluation.expression import Scorer

        smile = MediaPipeSource(video=False, max_faces=1)
        scorer = Scorer(cases, smile)
    written = []
    for spec in specs:
        say(f"{spec.filename}:")
        model = train(dataset, method=spec.method, size=spec.size, color=spec.color,
                      seed=RELEASE_SEED, source=source, target=target, ridge=ridge,
                      pixel_stride=max(1, crop // RELEASE_KR_GRID_PIXELS),
                      sigmas=RELEASE_KR_SIGMAS, log=lambda m: say("  " + m))
        metrics = dict(model.meta["metrics"])
        metrics["compact"] = compact_difference(model, warp_batch(Xte, model.shape_field_))
        model.set_provenance(metrics=metrics)
        path = model.save(out_dir / spec.filename, compact=True)
        say(f"  compact storage changes outputs by at most "
            f"{metrics['compact']['max_abs_255']:g}/255 "
            f"({time.perf_counter() - started:.0f} s into {source} -> {target}, {crop} px)")
        if scorer is not None:
            from fesgui.core import load_model
            from fesgui.evaluation.expression import run_pipeline

            shipped = load_model(path)   # what ships: the compact file
            result = scorer.score(spec.filename, run_pipeline(shipped, scorer.cases))
            metrics["expression"] = result.as_dict()
            model.set_provenance(metrics=metrics)
            path = model.save(path, compact=True)
            say(f"  as a user sees it: {describe_expression(result.as_dict())}")
        written.append(path)
    if smile is not None:
        smile.close()
    return written, lines


def describe_expression(e: dict) -> str:
    """One line of :class:`fesgui.evaluation.expression.ExpressionScores` numbers."""
    smile = "-" if e.get("smile") is None else f"{e['smile']:.2f}"
    return (f"smile {smile} of the real change, mouth colour kept {e['chroma']:.3f}, "
            f"detail kept {e['sharpness']:.3f}, MSE x10^2 {100 * e['mse']:.4f}, "
            f"SSIM {e['ssim']:.4f} ({e['n']} people)")


def build_release(dataset_dir: str | Path, out_dir: str | Path, only: str | None = None,
                  cache_dir: str | Path | None = None, use_cache: bool = True,
                  landmarks=None, jobs: int = 2, score: bool = True,
                  log: Log = _quiet) -> list[Path]:
    """Rebuild the shipped models from the London set into ``out_dir``, deterministically.

    ``only``: rebuild just the models whose file name contains this text (the model card
    and figures are then left alone). ``landmarks``: a landmark source (default
    MediaPipe). ``score``: also score every model through the pipeline on the test
    people's photos (``metrics["expression"]``; needs MediaPipe for the smile measure). ``jobs``: processes fitting (mapping, crop) groups side by side (the fits
    are single-threaded numpy; every model is computed the same way in any process, so the
    files do not depend on ``jobs``). Returns the written model files. Raises
    :class:`FesguiError` (one line) when the dataset folder is missing or holds no pairs.
    """
    from fesgui import data as fdata

    dataset_dir = Path(dataset_dir).expanduser()
    out_dir = Path(out_dir).expanduser()
    if not dataset_dir.is_dir():
        raise FesguiError(f"dataset folder {dataset_dir} does not exist: give the London set "
                          "folder (with neutral/ and smiling/)")
    if not out_dir.is_dir():
        raise FesguiError(f"output folder {out_dir} does not exist: create it first")
    specs = [s for s in release_specs() if only is None or only in s.filename]
    if not specs:
        raise FesguiError(f"--only {only!r} matches no shipped model: try e.g. mr3 or 128")
    pairs, problems = fdata.find_pairs(dataset_dir, "neutral", "happy")
    for problem in problems:
        log(f"warning: {problem}")
    if not pairs:
        raise FesguiError(f"no neutral/smiling pairs found in {dataset_dir}: expected "
                          "neutral/NNN_03.jpg and smiling/NNN_08.jpg")
    started = time.perf_counter()
    groups = []  # (dataset, specs), largest crop first so parallel jobs finish together
    for crop in sorted({s.crop for s in specs}, reverse=True):
        aligned = fdata.load_aligned(pairs, crop, cache_dir=cache_dir, use_cache=use_cache,
                                     landmarks=landmarks)
        data = TrainingData.from_aligned(
            aligned, name=DATASET_NAME, attribution=DATASET_ATTRIBUTION,
            license=DATASET_LICENSE,
            extra={"alignment": "fesgui.align reference template, MediaPipe FaceMesh: the "
                   "source photo on its eye centres + mouth centre, the target photo "
                   "registered to it on the eye centres + nose tip"})
        for path, reason in aligned.skipped:
            log(f"skipped {path}: {reason}")
        log(f"{len(aligned.ids)} pairs aligned at {crop} px "
            f"({time.perf_counter() - started:.0f} s)")
        for source, target in DIRECTIONS:
            todo = [s for s in specs if s.crop == crop and (s.source, s.target) == (source, target)]
            if todo:
                dataset = data if source == "neutral" else data.swapped()
                groups.append((dataset, todo))
    written: list[Path] = []
    from fesgui.evaluation.expression import load_cases

    test_ids = split_data(groups[0][0], RELEASE_SEED)[2][0] if groups else []
    cases = {}
    if score:
        log(f"loading the photos of the {len(test_ids)} test people")
        forward = load_cases(pairs, test_ids, cache_dir=cache_dir, landmarks=landmarks)
        reverse = load_cases([fdata.PairFiles(p.id, p.target, p.source) for p in pairs],
                             test_ids, cache_dir=cache_dir, landmarks=landmarks)
        cases = {("neutral", "happy"): forward, ("happy", "neutral"): reverse}
    groups = [(d, todo, cases.get((todo[0].source, todo[0].target))) for d, todo in groups]
    if jobs <= 1 or len(groups) == 1:
        for dataset, todo, group_cases in groups:
            written += _build_group(dataset, todo, out_dir, group_cases, log)[0]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        log(f"fitting {len(groups)} groups of models in {jobs} processes")
        context = multiprocessing.get_context("spawn")  # no fork of MediaPipe's threads
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(_build_group, dataset, todo, out_dir, group_cases)
                       for dataset, todo, group_cases in groups]
            for future in futures:
                paths, lines = future.result()
                written += paths
                for line in lines:
                    log(line)
        log(f"models written ({time.perf_counter() - started:.0f} s)")
    written.sort(key=lambda p: [s.filename for s in specs].index(p.name))
    if only is None:
        from fesgui import modelcard

        modelcard.render_figures(out_dir, landmarks=landmarks, log=log)
        modelcard.write_card(out_dir)
        log(f"wrote {out_dir / 'README.md'} ({time.perf_counter() - started:.0f} s in all)")
    return written
