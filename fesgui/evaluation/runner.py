"""Run the evaluation: fit every method on the training identities, choose its
hyper-parameter on the validation identities, refit on train + validation (as the MR
paper does) and score it on the held-out test identities, in both directions.

Two settings, each one table per direction:

* **main** - RGB at ``crop`` (default 64 x 64): MR 3/5/7/9 (CMR, colour "shared"), MR 3
  dilated by 2, MR 5 "per-channel" and "gray", RMR (refined MR), Pixel-RR, Pixel-KR (sigma
  sweep), and the cheap global baselines (identity, mean target, PCA, l2 ridge).
* **baselines** - gray at ``baseline_crop`` (default 32 x 32, the grayscale setting of
  MR paper Table 2, where per-pixel Lasso/OMP are affordable): identity, mean target, PCA,
  l2, l1 (Lasso), l0 (OMP), MR 3/5/7/9 and Pixel-RR.

Numbers per method: MSE (and its standard error over test images), SSIM, sharpness
(variance of the Laplacian and gradient energy, as ratios to the real target photos),
the weights-versus-bias importance ``mean|W x| / mean|b|`` (MR paper Fig. 8), the time of
the final fit, and - for a few methods - the landmark smile measure.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fesgui.errors import FesguiError
from fesgui.evaluation import baselines as bl
from fesgui.evaluation import metrics
from fesgui.evaluation.smile import SmileMeasure, mean_measure, measure_images
from fesgui.training import LAM_GRID  # MR paper 5.1: 10 equally spaced values in [0.1, 10]

#: Pixel-KR kernel widths in [0, 1]-intensity units (the Pixel paper sweeps 0.1 .. 5 and
#: ships 3 and 10; with intensities in [0, 1] anything above ~1 is nearly linear)
KR_SIGMAS: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: Pixel-KR lam values tried with every sigma (0.4 is the Pixel paper's choice)
KR_LAMS: tuple[float, ...] = (0.1, 0.4, 1.6)
#: Pixel-KR colour option: as the shipped Pixel-KR model
KR_COLOR = "per-channel"
#: sklearn Lasso alpha (its loss is ||y - Xw||^2 / (2N) + alpha ||w||_1); below 1e-4
#: nearly every weight is non-zero already (with ~80 training faces) and the fit slows
LASSO_GRID: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
#: OMP non-zero weights per pixel; 9, 25, 49 match 3x3, 5x5, 7x7 receptive fields
OMP_GRID: tuple[int, ...] = (1, 2, 4, 9, 16, 25, 49)
PCA_GRID: tuple[int, ...] = (1, 2, 3, 5, 8, 12, 20, 30, 45, 60, 80, 100)
MR_SIZES: tuple[int, ...] = (3, 5, 7, 9)
COLOR_SIZE = 5

Log = Callable[[str], None]


@dataclass
class Settings:
    """What to run; defaults are the release evaluation."""

    crop: int = 64
    baseline_crop: int = 32
    seed: int = 0
    seed_origin: str = "default"
    lam_grid: Sequence[float] = LAM_GRID
    kr_sigmas: Sequence[float] = KR_SIGMAS
    kr_lams: Sequence[float] = KR_LAMS
    kr_stride: int = 4           # Pixel-KR selection on every 4th row and column
    lasso_grid: Sequence[float] = LASSO_GRID
    omp_grid: Sequence[int] = OMP_GRID
    pca_grid: Sequence[int] = PCA_GRID
    lasso_pixels: int = 128      # output pixels per channel used to choose Lasso/OMP params
    mr_sizes: Sequence[int] = MR_SIZES
    smile: bool = True
    shipped: bool = True          # also score the shipped models of models/
    expression: bool = True       # whole photos through the pipeline (needs MediaPipe)
    blas_threads: int | None = 1  # many small solves: one BLAS thread is faster on a busy box


@dataclass
class MethodResult:
    """Test-set scores of one method (MSE unscaled: x100 happens in the report)."""

    name: str
    family: str                  # "baseline" | "mr" | "rmr" | "pixel"
    param: str                   # chosen hyper-parameter(s), human readable
    mse: float
    mse_se: float                # standard error of the mean over test images
    ssim: float
    lap_var: float               # mean variance of the Laplacian (luminance)
    grad_energy: float
    wx: float | None = None      # mean |W x| over the test set
    b: float | None = None       # mean |b|
    train_seconds: float | None = None
    val_errors: dict[float, float] | None = None
    smile: SmileMeasure | None = None
    smile_found: int = 0
    per_image: list[float] = field(default_factory=list, repr=False)  # MSE of each test image

    @property
    def importance(self) -> float | None:
        """``mean|W x| / mean|b|`` (None where the method has no linear split)."""
        if self.wx is None or self.b is None or self.b <= 0:
            return None
        return self.wx / self.b


@dataclass
class SweepPoint:
    sigma: float
    lam: float
    val_mse: float
    test_mse: float


@dataclass
class DirectionResult:
    source: str
    target: str
    main: list[MethodResult]
    baselines: list[MethodResult]
    kr_sweep: list[SweepPoint]
    target_sharpness: tuple[float, float]          # (Laplacian variance, gradient energy)
    target_sharpness_small: tuple[float, float]
    smile_input: SmileMeasure | None = None
    smile_target: SmileMeasure | None = None
    smile_found: dict[str, int] = field(default_factory=dict)
    n_test: int = 0
    #: per RMR row: (mean alpha over the image, mean alpha on the 10% of pixels where the
    #: MR output differs most from the input) - does the alpha map cover the change?
    alpha_focus: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: (a, smile) of the uniform blend (1 - a) x + a y of MR 5x5 with a = its alpha on the
    #: most-changed pixels: how much smile survives a blend without any spatial structure
    blend_check: tuple[float, SmileMeasure | None] | None = None

    def method(self, name: str, table: str = "main") -> MethodResult | None:
        rows = self.main if table == "main" else self.baselines
        return next((r for r in rows if r.name == name), None)


@dataclass
class Evaluation:
    settings: Settings
    pairs_dir: str
    n_pairs: int
    skipped: list[tuple[str, str]]
    problems: list[str]
    split: tuple[list[str], list[str], list[str]]
    directions: list[DirectionResult]
    seconds: float = 0.0
    smile_note: str | None = None
    #: the shipped models of models/ scored on the same test people: (source, target, row)
    shipped: list[tuple[str, str, MethodResult]] = field(default_factory=list)
    shipped_note: str | None = None
    #: whole photos through the pipeline (fesgui.evaluation.expression): (source, target,
    #: what, scores) with what = "reference", "shipped" or "ablation"
    expression: list[tuple[str, str, str, object]] = field(default_factory=list)
    expression_note: str | None = None


# --------------------------------------------------------------------------- helpers
def shipped_split_seed() -> tuple[int, str]:
    """The identity-split seed of the shipped models (``meta["training_data"]``), else 0.

    Returns ``(seed, where it came from)``.
    """
    try:
        from fesgui.catalog import list_models

        infos = list_models()
    except (ImportError, FesguiError, OSError):
        return 0, "default (no shipped models readable)"
    for info in infos:
        data = info.meta.get("training_data")
        if isinstance(data, dict):
            for key in ("split_seed", "seed"):
                if isinstance(data.get(key), int | float):
                    return int(data[key]), f"shipped model {info.name}"
    return 0, "default (the shipped models record no split seed)"


def _fmt(v: float) -> str:
    return f"{v:g}"


def importance(model, X: np.ndarray) -> tuple[float, float]:
    """``(mean |W x|, mean |b|)`` over a batch ``X`` (MR paper Fig. 8).

    fesgui models: :func:`fesgui.core.interpret.importance` per image, averaged (every
    image has the same number of pixels); the global baselines split themselves.
    """
    if isinstance(model, bl.GlobalBaseline):
        wx, b = model.decompose(X)
        return float(np.abs(wx).mean()), float(np.abs(b).mean())
    from fesgui.core.interpret import importance as core_importance

    parts = np.array([core_importance(model, x) for x in X], dtype=np.float64)
    return float(parts[:, 0].mean()), float(parts[:, 1].mean())


class _Scorer:
    """Scores outputs against the test targets of one setting."""

    def __init__(self, X_test: np.ndarray, T_test: np.ndarray):
        self.X, self.T = X_test, T_test

    def __call__(self, name: str, family: str, param: str, Y: np.ndarray,
                 model=None, seconds: float | None = None,
                 val_errors: dict[float, float] | None = None) -> MethodResult:
        per = metrics.mse_per_image(Y, self.T)
        wx = b = None
        if model is not None:
            wx, b = importance(model, self.X)
        se = float(per.std(ddof=1) / np.sqrt(len(per))) if len(per) > 1 else float("nan")
        return MethodResult(
            name=name, family=family, param=param, mse=float(per.mean()), mse_se=se,
            ssim=metrics.ssim(Y, self.T),
            lap_var=float(metrics.laplacian_variance(Y).mean()),
            grad_energy=float(metrics.gradient_energy(Y).mean()),
            wx=wx, b=b, train_seconds=seconds, val_errors=val_errors,
            per_image=[float(v) for v in per])


# --------------------------------------------------------------------------- settings
def _global_baselines(data, score: _Scorer, settings: Settings, log: Log, sparse: bool,
                      keep: dict[str, tuple[object, np.ndarray]]) -> list[MethodResult]:
    X, T, Xv, Tv, Xte = data
    rows = []
    for cls in (bl.Identity, bl.MeanTarget):
        t0 = time.perf_counter()
        model = cls().fit(np.concatenate([X, Xv]), np.concatenate([T, Tv]))
        seconds = time.perf_counter() - t0
        keep[cls.name] = (model, model.predict(Xte))
        rows.append(score(cls.name, "baseline", "-", keep[cls.name][1], model, seconds))
    n_max = min(len(X), X[0].size if X.ndim == 3 else X[0, ..., 0].size)
    specs: list[tuple[type, Sequence[float], str, int | None]] = [
        (bl.PCAProjection, [k for k in settings.pca_grid if k <= n_max], "components", None),
        (bl.GlobalRidge, bl.RIDGE_GRID, "relative lam", None),
    ]
    if sparse:
        specs += [(bl.Lasso, settings.lasso_grid, "alpha", settings.lasso_pixels),
                  (bl.OMP, [k for k in settings.omp_grid if k <= X[0].size], "nonzeros",
                   settings.lasso_pixels)]
    for cls, grid, pname, pixels in specs:
        if not grid:
            continue
        log(f"  {cls.name}: choosing {pname} on validation over {len(grid)} values")
        best, errors = bl.choose_on_validation(cls, grid, X, T, Xv, Tv, pixels=pixels,
                                               seed=settings.seed)
        t0 = time.perf_counter()
        model = cls(best).fit(np.concatenate([X, Xv]), np.concatenate([T, Tv]))
        seconds = time.perf_counter() - t0
        keep[cls.name] = (model, model.predict(Xte))
        rows.append(score(cls.name, "baseline", f"{pname}={_fmt(best)}", keep[cls.name][1],
                          model, seconds, errors))
    return rows


def _mr_rows(data, score: _Scorer, settings: Settings, log: Log, color: bool,
             keep: dict[str, tuple[object, np.ndarray]]) -> list[MethodResult]:
    """MR sizes (CMR), the dilated field, the colour options and Pixel-RR: lam chosen on
    validation with :func:`fesgui.training.select_hyperparameters`, refit on train + val."""
    from fesgui.training import make_model, select_hyperparameters

    X, T, Xv, Tv, Xte = data
    specs: list[tuple[str, str, dict]] = [
        (f"MR {r}x{r}", "mr", {"method": "mr", "size": r}) for r in settings.mr_sizes]
    if color:
        specs.append(("MR 3x3 dil 2", "mr", {"method": "mr", "size": 3, "dilation": 2}))
        specs += [(f"MR {COLOR_SIZE}x{COLOR_SIZE} {c}", "mr",
                   {"method": "mr", "size": COLOR_SIZE, "color": c})
                  for c in ("per-channel", "gray")]
    specs.append(("Pixel-RR", "pixel", {"method": "pixel-rr"}))
    X_all, T_all = np.concatenate([X, Xv]), np.concatenate([T, Tv])
    rows = []
    for name, family, kw in specs:
        log(f"  {name}: choosing lam on validation")
        sel = select_hyperparameters(kw["method"], X, T, Xv, Tv, lams=settings.lam_grid,
                                     **{k: v for k, v in kw.items() if k != "method"})
        t0 = time.perf_counter()
        model = make_model(**kw, lam=sel.lam).fit(X_all, T_all)
        seconds = time.perf_counter() - t0
        Y = model.predict(Xte)
        keep[name] = (model, Y)
        rows.append(score(name, family, f"lam={_fmt(sel.lam)}", Y, model, seconds,
                          {lam: v for lam, _, v in sel.grid}))
    return rows


def _rmr_rows(score: _Scorer, keep: dict[str, tuple[object, np.ndarray]], X_test: np.ndarray,
              focus: dict[str, tuple[float, float]]) -> list[MethodResult]:
    """RMR of the CMR models of every size and of the dilated one, with the default alpha
    map; ``focus`` receives the alpha diagnostics (see ``DirectionResult.alpha_focus``)."""
    from fesgui.core import alpha_map, refine

    rows = []
    for name in [n for n in keep if n.startswith("MR ") and ("dil" in n or n.count(" ") == 1)]:
        model, Y = keep[name]
        alpha = alpha_map(model)
        R = np.stack([refine(x, y, alpha) for x, y in zip(X_test, Y, strict=True)])
        change = np.abs(Y - X_test).reshape(len(Y), *alpha.shape, -1).mean(axis=(0, 3))
        top = change >= np.quantile(change, 0.9)
        focus["R" + name] = (float(alpha.mean()), float(alpha[top].mean()))
        keep["R" + name] = (None, R)
        rows.append(score("R" + name, "rmr", "k=10, tau=0.2, defaults", R))
    return rows


def _kr_rows(data, score: _Scorer, settings: Settings, log: Log, T_test: np.ndarray,
             keep: dict[str, tuple[object, np.ndarray]]
             ) -> tuple[MethodResult, list[SweepPoint]]:
    """Pixel-KR ("per-channel", as shipped) over the (sigma, lam) grid.

    Selection on validation uses every ``kr_stride``-th row and column: a pixel model fits
    each pixel on its own data, so those pixels get exactly their full-image fit
    (:func:`fesgui.training.select_hyperparameters`). The sweep gives, per sigma, the
    validation MSE at its best lam and the test MSE of that model refit on train + val
    (same sub-grid). The overall best pair is refit at full resolution for the table.
    """
    from fesgui.training import make_model, select_hyperparameters

    X, T, Xv, Tv, Xte = data
    s = settings.kr_stride
    log(f"  Pixel-KR: {len(settings.kr_sigmas)} sigmas x {len(settings.kr_lams)} lams "
        f"on every {s}th pixel")
    sel = select_hyperparameters("pixel-kr", X, T, Xv, Tv, lams=settings.kr_lams,
                                 sigmas=settings.kr_sigmas, pixel_stride=s,
                                 color=KR_COLOR)
    X_all, T_all = np.concatenate([X, Xv]), np.concatenate([T, Tv])
    sub = (slice(None), slice(None, None, s), slice(None, None, s))
    sweep = []
    for sigma in settings.kr_sigmas:
        lam, _, val = min((g for g in sel.grid if g[1] == float(sigma)), key=lambda g: g[2])
        model = make_model("pixel-kr", lam=lam, sigma=sigma, color=KR_COLOR).fit(
            X_all[sub], T_all[sub])
        sweep.append(SweepPoint(float(sigma), lam, val,
                                metrics.mse(model.predict(Xte[sub]), T_test[sub])))
    log(f"  Pixel-KR sigma={_fmt(sel.sigma)} lam={_fmt(sel.lam)} at full resolution")
    t0 = time.perf_counter()
    model = make_model("pixel-kr", lam=sel.lam, sigma=sel.sigma, color=KR_COLOR).fit(
        X_all, T_all)
    seconds = time.perf_counter() - t0
    Y = model.predict(Xte)
    keep["Pixel-KR"] = (model, Y)
    row = score("Pixel-KR", "pixel", f"sigma={_fmt(sel.sigma)}, lam={_fmt(sel.lam)}", Y,
                model, seconds)
    return row, sweep


SMILE_METHODS = ("MR 3x3", "MR 5x5", "RMR 5x5", "Pixel-RR", "Pixel-KR", "l2 ridge")


def _smile(direction: DirectionResult, source, X_test, T_test,
           keep: dict[str, tuple[object, np.ndarray]], log: Log) -> None:
    log("  smile measure (MediaPipe FaceMesh on the test crops)")
    inputs = measure_images(X_test, source)
    targets = measure_images(T_test, source)
    direction.smile_input = mean_measure(inputs)
    direction.smile_target = mean_measure(targets)
    direction.smile_found = {"input": sum(m is not None for m in inputs),
                             "target": sum(m is not None for m in targets)}
    for name in SMILE_METHODS:
        row = direction.method(name)
        if row is None or name not in keep:
            continue
        found = measure_images(keep[name][1], source)
        row.smile = mean_measure(found)
        row.smile_found = sum(m is not None for m in found)
    if "MR 5x5" in keep and "RMR 5x5" in direction.alpha_focus:
        a = direction.alpha_focus["RMR 5x5"][1]
        blend = (1 - a) * X_test + a * keep["MR 5x5"][1]
        direction.blend_check = (a, mean_measure(measure_images(blend, source)))


# --------------------------------------------------------------------------- top level
def evaluate_direction(source: str, target: str,
                       main: tuple[np.ndarray, ...], small: tuple[np.ndarray, ...],
                       settings: Settings, smile_source=None, log: Log = print
                       ) -> DirectionResult:
    """Evaluate one direction.

    ``main`` = ``(X, T, Xv, Tv, Xte, Tte)`` float32 in [0, 1] RGB ``(N, H, W, 3)`` at the
    main crop; ``small`` the same at the baseline crop, gray ``(N, h, w)``.
    ``smile_source``: a landmark source with face meshes, or None to skip the smile measure.
    """
    X, T, Xv, Tv, Xte, Tte = main
    score = _Scorer(Xte, Tte)
    keep: dict[str, tuple[object, np.ndarray]] = {}
    data = (X, T, Xv, Tv, Xte)
    log(f"{source} -> {target}: RGB {X.shape[1]}x{X.shape[2]}")
    rows = _global_baselines(data, score, settings, log, sparse=False, keep=keep)
    rows += _mr_rows(data, score, settings, log, color=True, keep=keep)
    focus: dict[str, tuple[float, float]] = {}
    rows += _rmr_rows(score, keep, Xte, focus)
    kr_row, sweep = _kr_rows(data, score, settings, log, Tte, keep)
    rows.append(kr_row)

    sX, sT, sXv, sTv, sXte, sTte = small
    log(f"{source} -> {target}: gray {sX.shape[1]}x{sX.shape[2]} (MR paper baselines)")
    small_score = _Scorer(sXte, sTte)
    sdata = (sX, sT, sXv, sTv, sXte)
    small_rows = _global_baselines(sdata, small_score, settings, log, sparse=True, keep={})
    small_rows += _mr_rows(sdata, small_score, settings, log, color=False, keep={})

    result = DirectionResult(
        source=source, target=target, main=rows, baselines=small_rows, kr_sweep=sweep,
        target_sharpness=(float(metrics.laplacian_variance(Tte).mean()),
                          float(metrics.gradient_energy(Tte).mean())),
        target_sharpness_small=(float(metrics.laplacian_variance(sTte).mean()),
                                float(metrics.gradient_energy(sTte).mean())),
        n_test=len(Xte), alpha_focus=focus)
    if smile_source is not None:
        _smile(result, smile_source, Xte, Tte, keep, log)
    return result


def evaluate_shipped(pairs, split, cache_dir=None, landmarks=None, smile_source=None,
                     log: Log = print) -> tuple[list[tuple[str, str, MethodResult]], str | None]:
    """Score every shipped model (``models/*.npz``) on the test people at its own crop size.

    Returns ``([(source, target, row)], note)``. Per direction and crop size there are
    also reference rows "input" (output = input) and "target" (the real photos: MSE 0,
    their sharpness and smile are what the models aim at); MR models get an "R..." row
    (refined with the default alpha map). The note says when a model's recorded test
    identities differ from ``split``'s (its numbers then include people it saw).
    """
    from fesgui.catalog import list_models
    from fesgui.core import alpha_map, load_model, refine
    from fesgui.data import canonical_expression, load_aligned

    test = set(split[2])
    rows, notes, crops = [], [], {}

    def add(source, target, name, family, param, out, X, T, model=None):
        row = _Scorer(X, T)(name, family, param, out, model)
        if smile_source is not None:
            found = measure_images(out, smile_source, upscale=max(1, 256 // X.shape[1]))
            row.smile = mean_measure(found)
            row.smile_found = sum(f is not None for f in found)
        rows.append((source, target, row))

    # grouped by crop size, so each size's reference rows precede its models
    for info in sorted(list_models(), key=lambda i: (tuple(i.meta.get("image_size") or ()),
                                                     i.name)):
        meta = info.meta
        size = tuple(meta.get("image_size") or ())
        source = canonical_expression(str(meta.get("source") or ""))
        target = canonical_expression(str(meta.get("target") or ""))
        if len(size) != 2 or {source, target} != {"neutral", "happy"}:
            continue
        recorded = (meta.get("training_data") or {}).get("test_ids")
        if recorded is not None and set(recorded) != test:
            notes.append(info.name)
        if size not in crops:
            log(f"shipped models: aligning the test people at {size[0]}x{size[1]}")
            aligned = load_aligned([p for p in pairs if p.id in test], size,
                                   cache_dir=cache_dir, landmarks=landmarks)
            crops[size] = (aligned.X.astype(np.float32) / 255.0,
                           aligned.T.astype(np.float32) / 255.0)
        X, T = crops[size] if source == "neutral" else crops[size][::-1]
        if not any(r[0] == source and r[2].name == f"input {size[0]}" for r in rows):
            add(source, target, f"input {size[0]}", "reference", "output = input", X, X, T)
            add(source, target, f"target {size[0]}", "reference", "real photos", T, X, T)
        log(f"shipped models: {info.name}")
        model = load_model(info.path)
        from fesgui.training import warp_batch

        X = warp_batch(X, model.shape_field_)   # the shape half first (nothing without one)
        Y = model.predict(X)
        desc = f"{meta.get('method')} {meta.get('size')}x{meta.get('size')}, " \
               f"{meta.get('color')}, lam={_fmt(float(meta.get('lam')))}"
        if meta.get("sigma") is not None:
            desc += f", sigma={_fmt(float(meta['sigma']))}"
        add(source, target, info.name, "shipped", desc, Y, X, T, model)
        if meta.get("method") == "mr":
            alpha = alpha_map(model)
            R = np.stack([refine(x, y, alpha) for x, y in zip(X, Y, strict=True)])
            add(source, target, "R" + info.name, "shipped", "RMR, default alpha map", R, X, T)
    note = None
    if notes:
        note = (f"the recorded test identities of {', '.join(notes)} differ from this split: "
                "their rows may include people they were trained on")
    return rows, note


#: the ablation of the default model (and its counterpart in the other direction):
#: (label, pipeline params)
ABLATION = (
    ("shape only", {"appearance": 0.0}),
    ("appearance only", {"shape": 0.0}),
    ("shape + appearance", {}),
    ("shape + appearance, RMR (paper alpha)", {"enabled": True, "alpha_source": "l1"}),
    ("shape + appearance, RMR (change alpha)", {"enabled": True, "alpha_source": "change"}),
    ("shape + appearance, intensity 1.5", {"intensity": 1.5}),
)


def evaluate_expression(pairs, split, cache_dir=None, landmarks=None, smile_source=None,
                        log: Log = print) -> list[tuple[str, str, str, object]]:
    """Every shipped model, and an ablation of the default one, run on the test people's
    whole photos through the pipeline (:mod:`fesgui.evaluation.expression`).

    Returns ``[(source, target, what, ExpressionScores)]``; per direction the first row
    is the unchanged input and the second the real photos of the target expression."""
    from fesgui.catalog import DEFAULT_MODEL, list_models
    from fesgui.core import load_model
    from fesgui.data import PairFiles, canonical_expression
    from fesgui.evaluation.expression import Scorer, load_cases, run_pipeline

    default_tag = DEFAULT_MODEL.split("_", 1)[1]        # e.g. "mr5_128"
    rows = []
    for source, target in (("neutral", "happy"), ("happy", "neutral")):
        flipped = [PairFiles(p.id, p.target, p.source) for p in pairs] \
            if source == "happy" else list(pairs)
        cases = load_cases(flipped, split[2], cache_dir=cache_dir, landmarks=landmarks)
        log(f"as a user sees it, {source} -> {target}: {len(cases)} test photos")
        scorer = Scorer(cases, smile_source)
        rows.append((source, target, "reference",
                     scorer.score("input (unchanged)", [c.photo for c in cases])))
        rows.append((source, target, "reference",
                     scorer.score("target (real photos)", [
                         _registered_target(c) for c in cases])))
        for info in list_models():
            meta = info.meta
            if (canonical_expression(str(meta.get("source") or "")),
                    canonical_expression(str(meta.get("target") or ""))) != (source, target):
                continue
            model = load_model(info.path)
            log(f"  {info.name}")
            rows.append((source, target, "shipped",
                         scorer.score(info.name, run_pipeline(model, cases))))
            if info.name.endswith(default_tag):
                for label, params in ABLATION:
                    rows.append((source, target, "ablation", scorer.score(
                        f"{info.name}: {label}", run_pipeline(model, cases, **params))))
    return rows


def _registered_target(case) -> np.ndarray:
    """The target photo in the source photo's frame (so it is scored like a result)."""
    import cv2

    h, w = case.photo.shape[:2]
    return cv2.warpAffine(case.target, case.target_to_source, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _blas_limit(threads: int | None):
    """A context limiting BLAS threads (``None``: no limit). The fits are many small
    batched solves, for which OpenBLAS threads mostly wait on each other."""
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn; without it, no limit
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _split_arrays(aligned, split, gray: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    index = {ident: k for k, ident in enumerate(aligned.ids)}
    out = {}
    for part, ids in zip(("train", "val", "test"), split, strict=True):
        rows = [index[i] for i in ids]
        X = aligned.X[rows].astype(np.float32) / 255.0
        T = aligned.T[rows].astype(np.float32) / 255.0
        if gray:
            X, T = (metrics.to_gray(a).astype(np.float32) for a in (X, T))
        out[part] = (X, T)
    return out


def run_evaluation(pairs_dir: str | Path, settings: Settings | None = None,
                   landmarks=None, smile_source=None, cache_dir: str | Path | None = None,
                   log: Log = print) -> Evaluation:
    """Evaluate every method on the pairs in ``pairs_dir`` (any layout of
    :func:`fesgui.data.find_pairs`), neutral -> happy and happy -> neutral.

    ``landmarks``: the landmark source for alignment (default MediaPipe, see
    :func:`fesgui.data.load_aligned`); ``smile_source``: the source used by the smile
    measure (default: MediaPipe FaceMesh when ``settings.smile``; it needs face meshes).
    """
    from fesgui.data import find_pairs, load_aligned, split_ids

    settings = Settings() if settings is None else settings
    t_start = time.perf_counter()
    pairs, problems = find_pairs(pairs_dir, source="neutral", target="happy")
    if not pairs:
        raise FesguiError(f"no neutral/happy pairs found in {pairs_dir}: use DIR/neutral/<id>.jpg "
                          "+ DIR/smiling/<id>.jpg or DIR/<id>/neutral.jpg + DIR/<id>/happy.jpg")
    log(f"aligning {len(pairs)} pairs at {settings.crop} and {settings.baseline_crop} px")
    big = load_aligned(pairs, settings.crop, cache_dir=cache_dir, landmarks=landmarks)
    small = load_aligned(pairs, settings.baseline_crop, cache_dir=cache_dir, landmarks=landmarks)
    common = sorted(set(big.ids) & set(small.ids))
    split = split_ids(common, seed=settings.seed)  # raises for too few people
    rgb = _split_arrays(big, split, gray=False)
    gray = _split_arrays(small, split, gray=True)

    smile_note = None
    own_smile = None
    if settings.smile and smile_source is None:
        try:
            from fesgui.align.mediapipe_source import MediaPipeSource

            own_smile = smile_source = MediaPipeSource(video=False, max_faces=1)
        except (ImportError, FesguiError, RuntimeError, OSError) as exc:
            smile_note = f"smile measure skipped: MediaPipe could not start ({exc})"
            log(smile_note)
    if not settings.smile:
        smile_source = None
        smile_note = "smile measure not requested (--no-smile)"

    directions = []
    try:
        with _blas_limit(settings.blas_threads):
            for source, target, flip in (("neutral", "happy", False),
                                         ("happy", "neutral", True)):
                def arrays(parts, flip=flip):
                    out = []
                    for part in ("train", "val", "test"):
                        a, b = parts[part]
                        out += [b, a] if flip else [a, b]
                    return tuple(out)

                directions.append(evaluate_direction(source, target, arrays(rgb),
                                                     arrays(gray), settings, smile_source, log))
        shipped, shipped_note = [], None
        if settings.shipped:
            try:
                shipped, shipped_note = evaluate_shipped(pairs, split, cache_dir, landmarks,
                                                         smile_source, log)
            except FesguiError as exc:
                shipped_note = f"shipped models not scored: {exc}"
        expression, expression_note = [], None
        if settings.expression and settings.shipped:
            try:
                expression = evaluate_expression(pairs, split, cache_dir, landmarks,
                                                 smile_source, log)
            except FesguiError as exc:
                expression_note = f"whole photos not scored: {exc}"
    finally:
        if own_smile is not None:
            own_smile.close()
    return Evaluation(settings=settings, pairs_dir=str(pairs_dir), n_pairs=len(pairs),
                      skipped=big.skipped + [s for s in small.skipped if s not in big.skipped],
                      problems=problems, split=split, directions=directions,
                      seconds=time.perf_counter() - t_start, smile_note=smile_note,
                      shipped=shipped, shipped_note=shipped_note, expression=expression,
                      expression_note=expression_note)
