"""Refinement sliders in the desktop app: slider-to-redraw latency (issue 17).

The app's real window, controller, worker thread and panels run offscreen in a child
process (:mod:`fesgui.gui.slider_bench`; this module never imports Qt) on a still image
of a model's crop size with refinement on. The Blur σ slider is moved step by step, each
step to a new value (new work for the worker every time), at the dilation slider's
largest radius and, as the baseline of the same run, at the model's default radius. A
step is timed from the slider's value change to the window having drawn the result made
with it (paint events included); target: p95 <= 33 ms at crop 256 with the largest
dilation (one frame at 30 fps). The UI thread's own share (the window's draw) is reported
beside it.

The alpha map's dilation with the largest disk is also timed alone against the
formulation it replaced (``scipy.ndimage.grey_dilation`` with the disk footprint; same
values, see tests/core/test_core_refine.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from fesgui.benchmarks import Config, Unavailable
from fesgui.benchmarks.harness import Row, Section, Summary, compare

TARGET_MS = 33.0
#: the dilation slider's top value (fesgui.gui.refine_panel: FloatSlider(0, 40, 1))
LARGEST_RADIUS = 40


def _model(folder: Path, cfg: Config) -> tuple[Path, str]:
    from fesgui.benchmarks.gui_worker import model_file

    return model_file(folder, cfg, cfg.slider_size)


def _child(model: Path, cfg: Config, settings_dir: Path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FESGUI_SETTINGS_DIR=str(settings_dir))
    cmd = [sys.executable, "-m", "fesgui.gui.slider_bench", str(model),
           str(cfg.slider_size), str(cfg.slider_steps), str(LARGEST_RADIUS), "auto"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-8:])
        raise AssertionError(f"the slider benchmark app exited with {res.returncode}:\n{tail}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(cfg: Config) -> Section:
    try:
        import fesgui.gui.slider_bench  # noqa: F401  (Qt is imported inside its functions)
    except ImportError as exc:
        raise Unavailable(f"the desktop app is not importable: {exc}") from None
    section = Section("slider")
    size = cfg.slider_size
    with tempfile.TemporaryDirectory(prefix="fesgui-bench-slider-") as tmp:
        tmp = Path(tmp)
        model, desc = _model(tmp, cfg)
        got = _child(model, cfg, tmp)
    for key, label in ((str(LARGEST_RADIUS), "largest dilation"), ("auto", "default dilation")):
        data = got[key]
        case = f"app, crop {size}, refinement on, {label} (radius {data['radius']})"
        latency = Summary.of(data["latency_ms"])
        judged = key != "auto"
        section.rows.append(Row(
            "slider", case, "slider-to-redraw latency", latency, "ms",
            target=f"p95 <= {TARGET_MS:g} ms" if judged else "",
            met=(latency.p95 <= TARGET_MS) if judged else None,
            note=f"{len(data['latency_ms'])} Blur σ steps, each a new value; the p95 is "
                 "judged" if judged else "the baseline: the same drag at the default radius"))
        section.rows.append(Row(
            "slider", case, "UI thread per step (window draw)", Summary.of(data["draw_ms"]),
            "ms", note="the controller's draw timing: the panels draw what the worker sent"))
        stages = " · ".join(f"{k} {v:.1f}" for k, v in data["worker_ms"].items())
        section.notes.append(f"{label}: the worker's timings (ms) of the last step: {stages}")
    section.rows.append(_dilation_row(cfg))
    section.notes.append(f"model: {desc}")
    return section


def _dilation_row(cfg: Config) -> Row:
    from scipy import ndimage

    from fesgui.core.refine import dilate_disk, disk

    size = cfg.slider_size
    z = np.random.default_rng(0).random((size, size)) ** 3
    footprint = disk(LARGEST_RADIUS)
    cand, base, ratio = compare(
        lambda: dilate_disk(z, LARGEST_RADIUS),
        lambda: ndimage.grey_dilation(z, footprint=footprint, mode="nearest"),
        repeats=max(3, cfg.repeats // 3), min_sample_s=cfg.min_sample_s)
    return Row("slider", f"alpha map dilation, {size}x{size}, disk radius {LARGEST_RADIUS}",
               "time per map", cand, "ms", baseline=base,
               baseline_name="scipy grey_dilation, disk footprint", ratio=ratio,
               note="the same values (tests/core/test_core_refine.py)")
