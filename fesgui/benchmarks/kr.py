"""Pixel-KR: fit time, and inference from the 256-level tables against direct evaluation
of the kernel expansion ``sum_n c_n k(x, x_n)`` (:meth:`PixelKernelRegression.predict_direct`).

The test input is quantised to 8-bit levels, where the table is exact, so both ways must
give the same output (checked to 1e-4 before timing).
"""

from __future__ import annotations

import numpy as np

from fesgui.benchmarks import Config
from fesgui.benchmarks.harness import Row, Section, compare, once

SPEEDUP_TARGET = 50.0
AGREE = 1e-4
SIGMA = 3.0  # Pixel paper, neutral -> happy
LAM = 0.4
#: "per-channel": N samples per system. "shared" stacks the channels (3N samples) and
#: its O(H W (3N)^3) fit takes minutes at N = 80.
COLOR = "per-channel"


def run(cfg: Config) -> Section:
    from fesgui.core import PixelKernelRegression
    from fesgui.synthetic import make_face, make_pairs

    section = Section("kr")
    s, n = cfg.kr_size, cfg.kr_pairs
    X, T = make_pairs(n, s, s, color=True, seed=11)
    case = f"Pixel-KR {s}px RGB per-channel, N={n}"
    model = PixelKernelRegression(sigma=SIGMA, lam=LAM, color=COLOR)
    fit_ms = once(lambda: model.fit(X, T))
    section.rows.append(Row("kr", case, "CPU time / fit", fit_ms, "ms",
                            note="one run (a fit solves H W 3 systems of N x N)"))
    img, _ = make_face(s, s, smile=0.0, seed=12345)
    x = img.astype(np.float32) / np.float32(255)  # exactly on the 8-bit levels
    diff = float(np.abs(model.predict(x) - model.predict_direct(x)).max())
    if not diff <= AGREE:
        raise AssertionError(f"{case}: table and direct kernel outputs differ by {diff:.3g}")
    cand, base, ratio = compare(lambda: model.predict(x), lambda: model.predict_direct(x),
                                repeats=cfg.repeats, min_sample_s=cfg.min_sample_s)
    section.rows.append(Row(
        "kr", case, "CPU time / image", cand, "ms", base, "direct kernel", ratio,
        f">= {SPEEDUP_TARGET:g}x vs direct", ratio.median >= SPEEDUP_TARGET,
        f"table and direct outputs agree to {diff:.1e} on an 8-bit input; direct "
        "evaluation costs H W 3 N kernel values per image, the table one look-up per "
        "value"))
    params = model.table_.size
    section.rows.append(Row("kr", case, "table entries", float(params), "",
                            note="K x H x W x 256 float32"))
    return section
