"""Fitting models the way the shipped ones are fitted (the release build that ships them is
:mod:`fesgui.release`).

Protocol (MR paper, Section 5): people are split by identity 80/10/10 (seeded,
:func:`fesgui.data.split_ids`); ``lam`` is chosen on validation over 10 equally spaced
values in [0.1, 10] (:data:`LAM_GRID`; Pixel-KR also over :data:`SIGMA_GRID`); the final
model is fitted on train + validation with the best value and scored on the test people:
MSE and SSIM (:func:`fesgui.evaluation.metrics.scores`) beside the baselines of
:mod:`fesgui.evaluation.baselines` (output = input; output = mean training target; global
ridge regression, :func:`~fesgui.evaluation.baselines.ridge_baseline`). The grids of the
protocol (:data:`LAM_GRID`, :data:`SIGMA_GRID`, :data:`CHANGE_LAM_GRID`) live here; model
names come from :mod:`fesgui.names`.

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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from fesgui.errors import FesguiError
from fesgui.evaluation.baselines import baseline_scores, ridge_baseline
from fesgui.evaluation.metrics import mse, round_sig, scores, to_float
from fesgui.names import model_name

#: the MR paper's lam grid: 10 equally spaced values in [0.1, 10]
LAM_GRID: tuple[float, ...] = tuple(float(v) for v in np.round(np.linspace(0.1, 10.0, 10), 6))
#: Gaussian kernel widths tried for Pixel-KR, in [0, 1]-intensity units
SIGMA_GRID: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)

#: lam values tried for a fit of the change (``residual=True``): the prior is "no change",
#: so larger values keep more of the input
CHANGE_LAM_GRID: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
#: a change fit's lam must keep at least this much of the mouth region's LAB chroma and of
#: its Laplacian variance (model output over model input, mean over validation faces)
KEEP_CHROMA = 0.97
KEEP_DETAIL = 0.8

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# --------------------------------------------------------------------------- models
#: the methods :func:`make_model` fits (a sparse model is imported, never fitted)
FITTED_METHODS = ("mr", "pixel-rr", "pixel-kr")


def make_model(method: str, size: int = 3, dilation: int = 1, color: str = "shared",
               lam: float = 0.4, sigma: float | None = None):
    """An unfitted estimator of :mod:`fesgui.core` for ``method``.

    ``method``: "mr" (uses ``size``/``dilation``), "pixel-rr" or "pixel-kr" (uses
    ``sigma``, default 1.0). Raises :class:`FesguiError` for an unknown method.
    """
    if method not in FITTED_METHODS:
        raise FesguiError(f"method {method!r} is unknown: use mr, pixel-rr or pixel-kr")
    from fesgui.core.modelio import model_class

    cls = model_class(method)
    given = {"size": size, "dilation": dilation, "color": color, "lam": lam,
             "sigma": 1.0 if sigma is None else sigma}
    return cls(**{name: given[name] for name in cls._get_param_names()})


def has_sigma(method: str) -> bool:
    """Whether ``method``'s estimator has a kernel width (Pixel-KR), read from its class."""
    from fesgui.core.modelio import model_class

    return "sigma" in model_class(method)._get_param_names()


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
                "tried": [[lam, sigma, round_sig(v)] for lam, sigma, v in self.grid]}
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

    if len(X_val) == 0:
        raise FesguiError("no validation pairs to choose lam on: add pairs or give --lam")
    if lams is None:
        lams = CHANGE_LAM_GRID if residual else LAM_GRID
    if has_sigma(method):
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


#: people needed at the least: the split gives training, validation and test one each
MIN_PEOPLE = 3


def find_photo_pairs(folder, source: str, target: str) -> tuple[list, list[str]]:
    """``(pairs, problems)`` of unaligned photo pairs in ``folder``
    (:func:`fesgui.data.find_pairs`), as ``fesgui train --pairs`` and the app's Train
    dialog take them; a FesguiError naming both layouts when there are none."""
    from fesgui.data import find_pairs

    pairs, problems = find_pairs(folder, source, target)
    if not pairs:
        raise FesguiError(
            f"no training pairs found in {folder}: expected {folder}/{source}/<id>.jpg with "
            f"{folder}/{target}/<id>.jpg, or {folder}/<id>/{source}.jpg with "
            f"{folder}/<id>/{target}.jpg")
    return pairs, problems


def train_aligned(aligned, name: str, log: Log = _quiet, **options):
    """:func:`train` on aligned pairs (:class:`fesgui.data.AlignedSet`) named ``name``,
    fitting the change (``ridge=False``), as ``fesgui train`` and the app's Train dialog
    do; a FesguiError when fewer than :data:`MIN_PEOPLE` people are usable. ``options``:
    :func:`train`'s."""
    if len(aligned.ids) < MIN_PEOPLE:
        raise FesguiError(f"only {len(aligned.ids)} usable pairs: at least {MIN_PEOPLE} people "
                          "are needed (one each for training, validation and test); add "
                          "more pairs")
    return train(TrainingData.from_aligned(aligned, name=name), ridge=False, log=log,
                 **options)


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
    if lam is None or (has_sigma(method) and sigma is None):
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
                         training_data=training_data, name=model_name(model.meta, source, target))
    log(f"fitted {model.meta['name']} in {fit_seconds:.1f} s: test MSE x10^2 = "
        f"{100 * metrics['mse']:.4f} (input {100 * metrics['baselines']['identity']['mse']:.4f}, "
        f"mean face {100 * metrics['baselines']['mean_target']['mse']:.4f}), "
        f"SSIM {metrics['ssim']:.4f}")
    return model

