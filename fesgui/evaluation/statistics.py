"""The statistics the evaluation report states, and how it prints numbers.

Comparisons of two methods on the same test images use the standard error of the paired
per-image MSE difference (:func:`paired_se`), which is much smaller than either row's own
standard error; :func:`z_score` is rounded as the report prints it, so a claim's wording
("within noise" below 2 s.e.) agrees with the number beside it. The number formats live here
too, so the claims, the tables and the figures print a value alike.
"""

from __future__ import annotations

import math

import numpy as np

from fesgui.evaluation.runner import DirectionResult, MethodResult


# --------------------------------------------------------------------------- formatting
def num(v: float | None, digits: int = 3) -> str:
    """``v`` with ``digits`` decimals; "-" for None or a non-finite value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{digits}f}"


def mse_text(r: MethodResult) -> str:
    """"1.234 ± 0.056": test MSE x10^2 and its standard error."""
    return f"{100 * r.mse:.3f} ± {100 * r.mse_se:.3f}"


def secs(v: float | None) -> str:
    """Seconds: 3 decimals below 10 s, 1 above; "-" for None."""
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def ratio(v: float | None) -> str:
    """A ratio: 2 decimals below 100, none above; "-" for None."""
    return "-" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def direction_title(d: DirectionResult) -> str:
    """"neutral → happy"."""
    return f"{d.source} → {d.target}"


# --------------------------------------------------------------------------- comparisons
def val_best(rows: list[MethodResult]) -> MethodResult:
    """The row whose best validation MSE is lowest (test MSE if none recorded one)."""
    def key(r: MethodResult) -> float:
        return min(r.val_errors.values()) if r.val_errors else r.mse

    return min(rows, key=key)


def paired_se(a: MethodResult, b: MethodResult) -> float:
    """Standard error of the mean per-image MSE difference (same test images), x100."""
    if len(a.per_image) == len(b.per_image) > 1:
        d = np.asarray(b.per_image) - np.asarray(a.per_image)
        return 100 * float(d.std(ddof=1) / np.sqrt(len(d)))
    return 100 * math.hypot(a.mse_se, b.mse_se)


def z_score(a: MethodResult, b: MethodResult) -> float:
    """How many paired standard errors b's MSE exceeds a's, rounded as printed."""
    se = paired_se(a, b)
    return round(100 * (b.mse - a.mse) / se, 1) if se > 0 else float("inf")


def compare(a: MethodResult, b: MethodResult) -> str:
    """'lower by 0.123 (2.1 s.e.)' comparison of a's MSE against b's; the standard error
    is that of the paired per-image difference."""
    diff = 100 * (b.mse - a.mse)
    z = abs(z_score(a, b))
    word = "lower" if diff > 0 else "higher"
    sure = "" if z >= 2 else ", within noise"
    return f"{word} by {abs(diff):.3f} ({z:.1f} s.e.{sure})"
