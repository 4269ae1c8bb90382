"""Where the time goes, for a target that ``fesgui bench`` reports as missed.

    python benchmarks/profile_targets.py predict    # MR r=3, 128 px RGB: cProfile + step breakdown
    python benchmarks/profile_targets.py pipeline   # live pipeline, crop 128: cProfile by own time
    python benchmarks/profile_targets.py kr         # Pixel-KR fit, 128 px: cProfile

cProfile cannot see inside a numpy call (its time is charged to the Python function
that made it), so ``predict`` also times, one by one, the steps that
``fesgui.core.masked.MaskedRegression.predict`` performs, on CPU time.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile

import numpy as np

from fesgui.benchmarks.harness import measure


def _top(prof: cProfile.Profile, n: int = 15) -> None:
    pstats.Stats(prof).strip_dirs().sort_stats("tottime").print_stats(n)


def profile_predict() -> None:
    from fesgui.benchmarks.predict import face_image, random_local_csr
    from fesgui.core import from_csr

    model = from_csr(random_local_csr(128, 128, 3))
    x = face_image(128)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(2000):
        model.predict(x)
    prof.disable()
    _top(prof, 10)

    # the steps of MaskedRegression.predict (input checks and layout, then the compiled
    # kernel of fesgui.core.kernels), timed one by one on CPU time, for r = 3 and 5
    from fesgui.core import kernels

    print(f"{'step':28s} CPU ms (median [p25-p75])")
    for r in (3, 5):
        model = from_csr(random_local_csr(128, 128, r, seed=r))
        model.predict(x)  # compiles (or loads) the kernel and fills the weight cache
        w, b, dy, dx = model._kernel_weights(3)
        xf = np.ascontiguousarray(x, np.float32).reshape(1, 128, -1)
        y = np.empty_like(xf)
        steps = {
            "whole predict": lambda model=model: model.predict(x),
            "input checks": lambda model=model: model._check_input(x),
            "kernel (shared RGB)": lambda w=w, b=b, dy=dy, dx=dx, xf=xf, y=y:
                kernels.masked_shared_rgb(xf, w, b, dy, dx, y),
        }
        for name, fn in steps.items():
            print(f"r={r} {name:24s} {measure(fn, repeats=15, min_sample_s=0.02).fmt()}")


def profile_pipeline() -> None:
    from fesgui.benchmarks import Config
    from fesgui.benchmarks.live import live_model, make_video, run_stream

    cfg = Config.full()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(tmp, cfg)
        model, _ = live_model(128)
        prof = cProfile.Profile()
        prof.enable()
        run_stream(video, model, 300)
        prof.disable()
    _top(prof, 25)


def profile_kr() -> None:
    from fesgui.core import PixelKernelRegression
    from fesgui.synthetic import make_pairs

    X, T = make_pairs(80, 128, 128, color=True, seed=11)
    prof = cProfile.Profile()
    prof.enable()
    PixelKernelRegression(sigma=3.0, color="per-channel").fit(X, T)
    prof.disable()
    _top(prof, 12)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "predict"
    {"predict": profile_predict, "pipeline": profile_pipeline, "kr": profile_kr}[what]()
