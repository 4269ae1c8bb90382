"""Fit speed of MR against a per-pixel scikit-learn ``Ridge`` loop, and how fit time grows.

The loop fits one ``Ridge(alpha=lam, fit_intercept=False)`` per (pixel, channel) on the
window features plus a column of ones (the bias regularised like the weights, MR paper
Eq. 4-5). Refitting all ``H * W * 3`` pixels that way takes minutes, so the loop runs on
``loop_pixels`` (pixel, channel) triples drawn at random over the whole image, borders
included, and its time is *extrapolated linearly* to all of them (every pixel's problem
has the same size, so the per-pixel cost is constant). The fitted weights of those
pixels must agree with MR's to 1e-6.

Complexity of :func:`fesgui.core.masked.fit_local_ridge` per weight set (M samples,
D = H W pixels, m = r^2 taps): O(M D r^2) for the product images of the (2r-1)^2 tap
differences, O(D r^4) to gather the systems and O(D r^6) to solve them; colour
"per-channel" does this for each of the 3 channels. The scaling rows report the fitted
log-log exponent of each factor.
"""

from __future__ import annotations

import numpy as np

from fesgui.benchmarks import Config
from fesgui.benchmarks.baselines import ridge_loop
from fesgui.benchmarks.harness import Row, Section, Summary, compare, once

SPEEDUP_TARGET = 20.0
AGREE = 1e-6
LAM = 0.4


def _scaled(s: Summary, factor: float) -> Summary:
    return Summary(s.median * factor, s.p25 * factor, s.p75 * factor, s.p5 * factor,
                   s.p95 * factor, s.n)


def pixel_sample(h: int, w: int, count: int, seed: int = 0) -> np.ndarray:
    """``(count, 3)`` distinct ``(i, j, channel)`` triples, uniformly over the image."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(h * w * 3, size=min(count, h * w * 3), replace=False)
    i, rest = np.divmod(flat, w * 3)
    j, c = np.divmod(rest, 3)
    return np.stack([i, j, c], axis=1)


def loop_fit(X: np.ndarray, T: np.ndarray, triples: np.ndarray, size: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """The scikit-learn loop on the given ``(i, j, c)`` triples (channel by channel)."""
    weights = np.empty((len(triples), size * size))
    bias = np.empty(len(triples))
    for c in range(3):
        sel = np.flatnonzero(triples[:, 2] == c)
        if sel.size:
            w, b = ridge_loop(X[..., c], T[..., c], triples[sel, :2], size, LAM)
            weights[sel], bias[sel] = w, b
    return weights, bias


def _vs_loop(section: Section, cfg: Config, X: np.ndarray, T: np.ndarray, r: int) -> None:
    from fesgui.core import MaskedRegression

    n, h, w, _ = X.shape
    triples = pixel_sample(h, w, cfg.loop_pixels, seed=r)
    model = MaskedRegression(size=r, lam=LAM, color="per-channel").fit(X, T)
    lw, lb = loop_fit(X, T, triples, r)
    i, j, c = triples.T
    diff = max(float(np.abs(model.weights_[c, i, j] - lw).max()),
               float(np.abs(model.bias_[c, i, j] - lb).max()))
    if not diff <= AGREE:
        raise AssertionError(f"MR r={r}: weights differ from the scikit-learn loop by "
                             f"{diff:.3g} (> {AGREE})")
    fit = lambda: MaskedRegression(size=r, lam=LAM, color="per-channel").fit(X, T)  # noqa: E731
    cand, base, ratio = compare(fit, lambda: loop_fit(X, T, triples, r),
                                repeats=cfg.fit_repeats, min_sample_s=0.0)
    factor = h * w * 3 / len(triples)
    section.rows.append(Row(
        "fit", f"MR r={r} {h}px RGB per-channel, N={n}", "CPU time / fit", cand, "ms",
        _scaled(base, factor), "sklearn Ridge loop (extrapolated)", _scaled(ratio, factor),
        f">= {SPEEDUP_TARGET:g}x vs loop", ratio.median * factor >= SPEEDUP_TARGET,
        f"loop timed on {len(triples)} of {h * w * 3} (pixel, channel) fits and scaled "
        f"x{factor:.1f}; weights agree to {diff:.1e} on those pixels"))


def _exponent(xs: list[float], ts: list[float]) -> float:
    """Least-squares slope of log t against log x."""
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def _scaling(section: Section, cfg: Config) -> None:
    """Fit time against N, image side and r, one factor at a time. The cases of a series
    are timed round-robin (each round fits every case once), so a busy moment of the
    machine slows all of them alike instead of bending the curve."""
    from fesgui.core import MaskedRegression
    from fesgui.synthetic import make_pairs

    n0, s0, r0 = cfg.scaling_pairs[0], cfg.scaling_sizes[0], 3
    series = {
        "N (pairs)": [(n, s0, r0, n) for n in cfg.scaling_pairs],
        "image side (px)": [(n0, s, r0, s) for s in cfg.scaling_sizes],
        "window r": [(n0, s0, r, r) for r in cfg.scaling_rf],
    }
    expected = {"N (pairs)": "expected <= 1 (only the product images grow with N)",
                "image side (px)": "expected 2 (linear in H W)",
                "window r": "over r >= 3 (r = 1 has no window: fixed costs set its time); "
                            "expected between 2 and 6 (r^2 product images, r^4 gather, "
                            "r^6 solve)"}
    pairs: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for label, cases in series.items():
        fits = []
        for n, s, r, _ in cases:
            if (n, s) not in pairs:
                pairs[(n, s)] = make_pairs(n, s, s, color=True, seed=7)
            X, T = pairs[(n, s)]
            fits.append(lambda X=X, T=T, r=r: MaskedRegression(
                size=r, lam=LAM, color="per-channel").fit(X, T))
        samples: list[list[float]] = [[] for _ in cases]
        for _ in range(cfg.fit_repeats):
            for k, fit in enumerate(fits):
                samples[k].append(once(fit))
        medians = []
        for (n, s, r, _), ms in zip(cases, samples, strict=True):
            t = Summary.of(ms)
            medians.append(t.median)
            section.rows.append(Row("fit", f"growth in {label}: N={n} {s}px r={r}",
                                    "CPU time / fit", t, "ms"))
        xs = [c[3] for c in cases]
        if label == "window r" and sum(x >= 3 for x in xs) >= 2:
            medians = [t for x, t in zip(xs, medians, strict=True) if x >= 3]
            xs = [x for x in xs if x >= 3]
        section.rows.append(Row("fit", f"growth in {label}", "log-log exponent",
                                _exponent(xs, medians), "", note=expected[label]))


def run(cfg: Config) -> Section:
    from fesgui.synthetic import make_pairs

    section = Section("fit")
    X, T = make_pairs(cfg.fit_pairs, cfg.fit_size, cfg.fit_size, color=True, seed=3)
    for r in cfg.fit_rf:
        _vs_loop(section, cfg, X, T, r)
    del X, T
    _scaling(section, cfg)
    section.notes.append(
        "complexity of MR fit: O(c (N D r^2 + D r^4 + D r^6)) for N pairs, D = H W pixels, "
        "r x r window, c = 3 weight sets (per-channel) or 1 (shared/gray, with 3N samples "
        "for shared)")
    return section
