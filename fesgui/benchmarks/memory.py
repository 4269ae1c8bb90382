"""Memory: peak RSS of the live pipeline and of the app, and model sizes vs the papers.

Peak RSS is measured in child processes (:mod:`fesgui.benchmarks.child`: ``VmHWM`` of
the child itself), so the benchmark process does not inflate it:

* the pipeline child imports fesgui, loads the model, runs MediaPipe tracking and the
  pipeline on the test video; it also reports its RSS after the imports and the model
  load, before MediaPipe starts;
* the app child is :func:`fesgui.benchmarks.gui_worker.run_app_child`.

Model sizes: the parameter count of every installed model (``weights_`` + ``bias_``, or
the Pixel-KR table) and its file size, beside the counts printed in the papers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from fesgui.benchmarks import Config
from fesgui.benchmarks.harness import Row, Section

#: parameter counts in the papers at 128 x 128 (MR paper Table 1: ~1.6e5 for MR; Pixel
#: paper Table I: 3.3e4 for Pixel-RR; StarGAN / GANimation 8.5e6)
PAPER_PARAMS = {("mr", 3): 1.6e5, ("pixel-rr", 1): 3.3e4}
GAN_PARAMS = 8.5e6


def pipeline_child(video: Path, model: Path, frames: int) -> dict:
    """Run the live pipeline in a child process; its JSON report (peak RSS in MiB)."""
    from fesgui.benchmarks.child import run_child, tail

    res = run_child(["pipeline", str(video), str(model), str(frames)])
    if res["returncode"] != 0:
        raise AssertionError(f"pipeline child exited with {res['returncode']}:\n"
                             f"{tail(res['stderr'])}")
    return json.loads(res["stdout"].strip().splitlines()[-1])


def param_count(model) -> int:
    """Parameters a model serves: the Pixel-KR table, else weights + bias (in-image taps
    only: weights of taps outside the image are structurally 0)."""
    if model.has_table:
        return int(model.table_.size)
    from fesgui.core.geometry import valid_tap_mask

    h, w = model.image_size
    inside = int(valid_tap_mask(h, w, model.size_, model.dilation_).sum())
    return inside * model.weights_.shape[0] + int(model.bias_.size)


def _installed_models(tmp: Path, cfg: Config) -> list[tuple[str, Path]]:
    from fesgui.catalog import list_models

    found = [(m.name, Path(m.path)) for m in list_models()]
    if found:
        return found
    from fesgui.core import MaskedRegression, PixelRegression
    from fesgui.synthetic import make_pairs

    X, T = make_pairs(cfg.live_train_pairs, 128, 128, color=True, seed=9)
    return [(f"synthetic {name}", est.fit(X, T).save(tmp / f"{name}.npz"))
            for name, est in (("mr3_128", MaskedRegression(size=3)),
                              ("pixelrr_128", PixelRegression()))]


def _model_rows(section: Section, tmp: Path, cfg: Config) -> None:
    from fesgui.core import load_model

    for name, path in _installed_models(tmp, cfg):
        model = load_model(path)
        n = param_count(model)
        meta = model.meta
        h, w = model.image_size
        case = f"{name} ({meta['method']} r={meta['size']} {h}px {meta['color']})"
        paper = PAPER_PARAMS.get((meta["method"], int(meta["size"]))) if (h, w) == (128, 128) \
            and meta["color"] in ("shared", "gray") else None
        section.rows.append(Row(
            "memory", case, "parameters", float(n), "", paper,
            "paper" if paper else "",
            note=f"{GAN_PARAMS / n:.0f}x fewer than StarGAN/GANimation ({GAN_PARAMS:.2g})"
            if n < GAN_PARAMS else f"{n / GAN_PARAMS:.1f}x MORE than the GANs "
                                   f"({GAN_PARAMS:.2g})"))
        size = path.stat().st_size
        section.rows.append(Row("memory", case, "file size", size / 1024, "KiB",
                                note=f"{size / n:.2f} bytes per parameter"))


def run(cfg: Config) -> Section:
    from fesgui.benchmarks.gui_worker import app_available, gui_video, model_file, run_app_child
    from fesgui.benchmarks.live import make_video

    section = Section("memory")
    with tempfile.TemporaryDirectory(prefix="fesgui-bench-mem-") as tmp:
        tmp = Path(tmp)
        _model_rows(section, tmp, cfg)
        model, desc = model_file(tmp, cfg)
        rep = pipeline_child(make_video(tmp, cfg), model, cfg.live_frames)
        case = f"live pipeline, {cfg.frame_size[0]}x{cfg.frame_size[1]}, crop 128"
        section.rows.append(Row(
            "memory", case, "peak RSS", rep["peak_rss_mib"], "MiB",
            note=f"{rep['rss_before_mib']:.0f} MiB after imports and model load, before "
                 f"MediaPipe; {rep['frames']} frames ({rep['faces']} with a face); {desc}"))
        why = app_available() if cfg.memory_app else "turned off in this configuration"
        if why:
            section.notes.append(f"app peak RSS not measured: {why}")
        else:
            app = run_app_child(gui_video(tmp, cfg), model, min(cfg.gui_seconds, 8.0), tmp)
            section.rows.append(Row(
                "memory", "app (offscreen Qt), live video", "peak RSS", app["peak_rss_mib"],
                "MiB", note=f"exit code {app['returncode']}; {app['command']}"))
    section.notes.append(
        "paper counts: MR r=3 at 128 px ~1.6e5 (128*128*(9+1)); MR paper Table 1 prints "
        "1.68 x 10^4, which is below the 16384 biases alone - read as ~1.6e5; "
        "Pixel-RR 3.3e4; GANs ~8.5e6")
    return section

