"""Where the time goes, for a target that ``fesgui bench`` reports as missed.

    python benchmarks/profile.py predict    # MR r=3, 128 px RGB: cProfile + step breakdown
    python benchmarks/profile.py pipeline   # live pipeline, crop 128: cProfile by own time
    python benchmarks/profile.py kr         # Pixel-KR fit, 128 px: cProfile

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
    from fesgui.benchmarks.predict import random_local_csr, test_image
    from fesgui.core import from_csr
    from fesgui.core.geometry import reach

    model = from_csr(random_local_csr(128, 128, 3))
    x = test_image(128)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(2000):
        model.predict(x)
    prof.disable()
    _top(prof, 10)

    # the same steps as MaskedRegression.predict, timed one by one (CPU ms)
    batch = x[None]
    w, b = model._taps_for(3)
    padded, scratch = model._buffers(batch.shape)
    p = reach(3, 1)
    out = np.empty(batch.shape, np.float32)
    view = padded[:, p - 1:p - 1 + 128, p - 1:p - 1 + 128]
    steps = {
        "whole predict": lambda: model.predict(x),
        "_check_input": lambda: model._check_input(x),
        "taps() (tap_offsets)": model.taps,
        "copy into padded": lambda: padded.__setitem__((slice(None), slice(p, p + 128),
                                                        slice(p, p + 128)), batch),
        "one np.multiply (tap)": lambda: np.multiply(w[0], view, out=scratch),
        "one out += scratch": lambda: np.add(out, scratch, out=out),
        "out += bias": lambda: np.add(out, b, out=out),
    }
    print(f"{'step':28s} CPU ms (median [p25-p75])")
    for name, fn in steps.items():
        print(f"{name:28s} {measure(fn, repeats=15, min_sample_s=0.02).fmt()}")
    print("predict = check + taps() + copy + 9 multiplies + 8 adds + bias add")


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
