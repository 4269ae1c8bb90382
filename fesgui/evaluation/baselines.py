"""Global baselines of the MR paper (Section 4, Tables 2-3), for comparison with MR.

Every baseline is an affine map per colour channel, ``y = x W + b`` on the flattened
image (each channel of the output sees the same channel of the whole input: a *global*
receptive field), so the weights-versus-bias split of the MR paper (Fig. 8) is defined
for all of them:

========================  ====================================================  =========
class                     fit                                                   parameter
========================  ====================================================  =========
:class:`Identity`         output = input (W = I, b = 0)                          -
:class:`MeanTarget`       output = mean training target (W = 0)                  -
:class:`PCAProjection`    project onto the PCA basis of the *target* images     components
:class:`GlobalRidge`      l2: ridge with an unpenalised intercept (dual form)   lam
:class:`Lasso`            l1: ``sklearn.linear_model.Lasso`` per output pixel    alpha
:class:`OMP`              l0: ``sklearn.linear_model.OrthogonalMatchingPursuit`` nonzeros
========================  ====================================================  =========

Shapes: fit on ``X, T`` of ``(N, H, W)`` or ``(N, H, W, 3)`` float in [0, 1];
``predict(X)`` returns float32 of X's shape; ``decompose(X) -> (wx, b)`` with
``wx + b == predict(X)`` (``b`` broadcast to X's shape).
Ridge, Lasso and OMP fit an unpenalised intercept (sklearn's ``fit_intercept=True``), as
the usual l2/l1/l0 regressions the MR paper compares against. Lasso/OMP cost one fit per output pixel: run them on
small crops (the evaluation uses 32 x 32).

The global ridge solve (:func:`ridge_dual_fit`, :func:`ridge_dual_predict`) and the
baselines a trained model records beside its test scores (:func:`ridge_baseline` over
:data:`RIDGE_GRID`, :func:`baseline_scores`) live here too, for :mod:`fesgui.training`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from fesgui.errors import FesguiError
from fesgui.evaluation.metrics import mse, scores

#: ridge strengths tried for the global l2 baseline, relative to the mean diagonal of X X^T
RIDGE_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-3, 1, 9))


def channels_first(images: np.ndarray) -> np.ndarray:
    """``(N, H, W[, C])`` -> ``(C, N, H*W)`` float64 (C = 1 for gray)."""
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise FesguiError(f"images of shape {a.shape} are not (N, H, W[, 3]): pass a batch")
    n, h, w, c = a.shape
    return np.ascontiguousarray(a.transpose(3, 0, 1, 2).reshape(c, n, h * w))


def channels_last(mats: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`channels_first`: ``(C, N, P)`` -> ``shape`` = ``(N, H, W[, C])``."""
    c, n, _ = mats.shape
    h, w = shape[1], shape[2]
    out = mats.reshape(c, n, h, w).transpose(1, 2, 3, 0)
    return out[..., 0] if len(shape) == 3 else out


class GlobalBaseline:
    """Affine per-channel map ``y = x W + b``; subclasses provide the matrix-level fit."""

    name = "baseline"

    def __init__(self, param: float | int | None = None):
        self.param = param

    # matrix level: X (N, P), T (N, K) -> state; apply(state, X) -> (wx (N, K), b (K,))
    def fit_matrix(self, X: np.ndarray, T: np.ndarray):
        raise NotImplementedError

    def apply_matrix(self, state, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, X: np.ndarray, T: np.ndarray) -> GlobalBaseline:
        Xm, Tm = channels_first(X), channels_first(T)
        if Xm.shape != Tm.shape:
            raise FesguiError(f"inputs {np.shape(X)} and targets {np.shape(T)} differ in "
                              "shape: give pairs of equal-size images")
        self.shape_ = np.shape(X)[1:]
        self.states_ = [self.fit_matrix(x, t) for x, t in zip(Xm, Tm, strict=True)]
        return self

    def _check(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "states_"):
            raise FesguiError(f"{self.name} is not fitted: call fit(X, T) first")
        if np.shape(X)[1:] != self.shape_:
            raise FesguiError(f"images of shape {np.shape(X)[1:]} do not match the fitted "
                              f"shape {self.shape_}: use images of the training size")
        return channels_first(X)

    def decompose(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(wx, b)``, both float32 of X's shape, with ``wx + b == predict(X)``."""
        Xm = self._check(X)
        parts = [self.apply_matrix(s, x) for s, x in zip(self.states_, Xm, strict=True)]
        wx = np.stack([p[0] for p in parts])
        b = np.stack([np.broadcast_to(p[1], p[0].shape) for p in parts])
        shape = np.shape(X)
        return (channels_last(wx, shape).astype(np.float32),
                channels_last(b, shape).astype(np.float32))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """float32 output of X's shape."""
        wx, b = self.decompose(X)
        return wx + b


class Identity(GlobalBaseline):
    """Output = input: the error of doing nothing."""

    name = "identity"

    def fit_matrix(self, X, T):
        return None

    def apply_matrix(self, state, X):
        return X, np.zeros(X.shape[1])


class MeanTarget(GlobalBaseline):
    """Output = mean training target, whatever the input."""

    name = "mean target"

    def fit_matrix(self, X, T):
        return T.mean(axis=0)

    def apply_matrix(self, state, X):
        return np.zeros_like(X), state


class PCAProjection(GlobalBaseline):
    """Project the input onto the first ``param`` principal components of the targets.

    ``y = mu + (x - mu) U^T U`` (MR paper 5.1: "a test face is mapped to a target
    expression by projection onto the target expression basis").
    """

    name = "PCA"

    def fit_matrix(self, X, T):
        k = int(self.param)
        if not 1 <= k <= min(T.shape):
            raise FesguiError(f"PCA components={k} must be in 1..{min(T.shape)}: "
                              "use fewer components or more training pairs")
        mu = T.mean(axis=0)
        # principal axes = right singular vectors of the centred targets (economy SVD)
        _, _, vt = np.linalg.svd(T - mu, full_matrices=False)
        return mu, vt[:k]

    def apply_matrix(self, state, X):
        mu, U = state
        wx = (X @ U.T) @ U
        return wx, mu - (mu @ U.T) @ U


class GlobalRidge(GlobalBaseline):
    """l2-regression (MR paper Eq. 2) with an unpenalised intercept, solved in the dual.

    On centred data ``Xc = X - mean_x``, ``Tc = T - mean_t`` (N << H*W, so the ``N x N``
    system is the cheap one): ``W = Xc^T (Xc Xc^T + lam I)^-1 Tc`` and
    ``b = mean_t - mean_x W``. ``param`` is lam relative to the mean squared norm of the
    centred training inputs (``lam = param * trace(Xc Xc^T) / N``), so one grid suits
    every image size. The solve is :func:`ridge_dual_fit`, as in
    :func:`ridge_dual_predict`, plus the weights/bias split.
    """

    name = "l2 ridge"

    def fit_matrix(self, X, T):
        rel = float(self.param)
        if rel <= 0:
            raise FesguiError(f"ridge lam={rel} must be > 0: use e.g. 0.001 .. 10")
        mx, mt, Xc, dual = ridge_dual_fit(X, T, rel, relative=True)
        return Xc, dual, mt - (mx @ Xc.T) @ dual

    def apply_matrix(self, state, X):
        Xc, dual, b = state
        return (X @ Xc.T) @ dual, b


class _SklearnLinear(GlobalBaseline):
    def _estimator(self):
        raise NotImplementedError

    def fit_matrix(self, X, T):
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # OMP stops early on collinear pixels: the fit is still the best it can be
            warnings.filterwarnings("ignore", message="Orthogonal matching pursuit ended",
                                    category=RuntimeWarning)
            est = self._estimator().fit(X, T)
        coef = np.atleast_2d(est.coef_)               # (K, P)
        return coef, np.atleast_1d(est.intercept_)

    def apply_matrix(self, state, X):
        coef, intercept = state
        return X @ coef.T, intercept


class Lasso(_SklearnLinear):
    """l1-regression (MR paper Eq. 14): one ``sklearn.linear_model.Lasso`` per output
    pixel, sharing the precomputed Gram matrix; ``param`` is sklearn's ``alpha``."""

    name = "l1 lasso"

    def _estimator(self):
        from sklearn.linear_model import Lasso as SkLasso

        return SkLasso(alpha=float(self.param), precompute=True, max_iter=2000, tol=1e-3)


class OMP(_SklearnLinear):
    """l0-regression (MR paper Eq. 15) by orthogonal matching pursuit: at most ``param``
    non-zero weights per output pixel."""

    name = "l0 OMP"

    def _estimator(self):
        from sklearn.linear_model import OrthogonalMatchingPursuit

        return OrthogonalMatchingPursuit(n_nonzero_coefs=int(self.param), precompute=True)


# --------------------------------------------------------------------------- training
# the global ridge solve, and the baselines a trained model records beside its own test
# scores (fesgui.training)
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
    :class:`GlobalRidge`.
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


def choose_on_validation(make: Callable[[float], GlobalBaseline], grid: Sequence[float],
                         X: np.ndarray, T: np.ndarray, Xv: np.ndarray, Tv: np.ndarray,
                         pixels: int | None = None, seed: int = 0
                         ) -> tuple[float, dict[float, float]]:
    """The grid value with the lowest validation MSE, and the MSE of every value.

    ``pixels``: fit and score only this many randomly chosen output pixels per channel
    (same pixels for every grid value) - for the per-pixel Lasso/OMP, whose cost grows
    with the number of outputs. ``None`` uses all of them.
    """
    Xm, Tm, Xvm, Tvm = (channels_first(a) for a in (X, T, Xv, Tv))
    cols = np.arange(Tm.shape[2])
    if pixels is not None and pixels < len(cols):
        cols = np.sort(np.random.default_rng(seed).choice(len(cols), pixels, replace=False))
    errors: dict[float, float] = {}
    for value in grid:
        model = make(value)
        sq = 0.0
        for c in range(len(Xm)):
            state = model.fit_matrix(Xm[c], Tm[c][:, cols])
            wx, b = model.apply_matrix(state, Xvm[c])
            sq += float(((wx + b - Tvm[c][:, cols]) ** 2).mean())
        errors[value] = sq / len(Xm)
    best = min(errors, key=errors.get)
    return best, errors
