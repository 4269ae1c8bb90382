"""The live pipeline on a 640 x 480 video: frames per second and per-stage latency.

A test video of a real face (:mod:`fesgui.benchmarks.testvideo`) is decoded by
:class:`fesgui.video.VideoFileSource` and every frame goes through
:class:`fesgui.pipeline.Pipeline` with MediaPipe FaceMesh in tracking mode: landmarks,
align, synthesize, refine, paste-back. Latencies are wall-clock (this is a real-time
figure); the CPU time of the process per frame is reported beside them, because on a
shared machine wall time also contains the time other jobs held the cores.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fesgui.benchmarks import Config, Unavailable
from fesgui.benchmarks.harness import Row, Section, Summary

if TYPE_CHECKING:
    from fesgui.core import Model

FPS_TARGET = 60.0
#: the shape warp's budget per frame at crop SHAPE_CROP (median, wall)
SHAPE_TARGET_MS = 1.0
SHAPE_CROP = 256
P95_TARGET_MS = 33.0
TARGET_CROP = 128
WARMUP = 10
MODEL_NAME = "neutral2happy_mr3_{size}"


def shipped_model(size: int) -> Path:
    """The file of the shipped ``neutral2happy_mr3_<size>`` model (it may not exist)."""
    from fesgui.paths import models_dir

    return models_dir() / f"{MODEL_NAME.format(size=size)}.npz"


def default_model_file() -> tuple[Path | None, str]:
    """``(path, description)`` of the model ``fesgui video`` and the app use when none is
    named (:data:`fesgui.catalog.DEFAULT_MODEL`); ``(None, why)`` when this installation
    does not have it (then :func:`live_model` stands in)."""
    from fesgui.catalog import DEFAULT_MODEL, find_model
    from fesgui.errors import FesguiError

    try:
        path = find_model(DEFAULT_MODEL)
    except FesguiError as exc:
        return None, str(exc)
    return path, f"the default model {path.name}"


def live_model(size: int, train_pairs: int = 12) -> tuple[Model, str]:
    """``(model, description)``: the shipped ``neutral2happy_mr3_<size>`` model if this
    installation has it, else MR r=3 (colour "shared") fitted on synthetic pairs."""
    from fesgui.core import MaskedRegression, load_model

    path = shipped_model(size)
    if path.is_file():
        return load_model(path), f"shipped model {path.name}"
    from fesgui.synthetic import make_pairs

    X, T = make_pairs(train_pairs, size, size, color=True, seed=5)
    return (MaskedRegression(size=3, lam=1.0, color="shared").fit(X, T),
            f"MR r=3 shared fitted on {train_pairs} synthetic pairs (no shipped {path.name})")


def make_video(folder: str | os.PathLike, cfg: Config) -> Path:
    """Write the astronaut test video (``cfg.frame_size``, 120 frames, looped by readers)."""
    from fesgui.benchmarks.testvideo import astronaut_frames, write_video

    w, h = cfg.frame_size
    n = min(120, max(cfg.live_frames + WARMUP, 2))
    return write_video(Path(folder) / "astronaut.avi", astronaut_frames(n, w, h))


def run_stream(video: Path, model: Model, frames: int) -> dict:
    """Process ``frames`` frames (after a warm-up) of ``video``, looping it.

    Returns per-frame arrays (milliseconds): ``"read"``, each pipeline stage, ``"frame"``
    (wall time of read + process), ``"cpu"`` (process CPU time per frame), plus
    ``"elapsed_s"``, ``"frames"`` and ``"faces"`` (frames where a face was found).
    """
    from fesgui.align.mediapipe_source import MediaPipeSource
    from fesgui.pipeline import STAGES, Pipeline
    from fesgui.video import VideoFileSource

    out: dict = {k: [] for k in ("read", *STAGES, "frame", "cpu")}
    faces = 0
    with VideoFileSource(video, loop=True) as src, MediaPipeSource(video=True) as mp:
        pipe = Pipeline(model, landmarks=mp)
        for _ in range(WARMUP):  # graph start-up, alpha map, buffers
            pipe.process(src.read())
        t_start = time.perf_counter()
        for _ in range(frames):
            t0, c0 = time.perf_counter(), time.process_time()
            frame = src.read()
            t1 = time.perf_counter()
            res = pipe.process(frame)
            t2, c2 = time.perf_counter(), time.process_time()
            out["read"].append((t1 - t0) * 1e3)
            for s in STAGES:
                out[s].append(res.timings.get(s, 0.0))
            out["frame"].append((t2 - t0) * 1e3)
            out["cpu"].append((c2 - c0) * 1e3)
            faces += bool(res.faces)
        out["elapsed_s"] = time.perf_counter() - t_start
    out["frames"] = frames
    out["faces"] = faces
    return out


def _rows(section: Section, case: str, res: dict, crop: int) -> None:
    fps = res["frames"] / res["elapsed_s"]
    frame = Summary.of(res["frame"])
    at_target = crop == TARGET_CROP
    section.rows.append(Row(
        "pipeline", case, "frames per second (wall)", fps, "fps",
        target=f">= {FPS_TARGET:g} fps" if at_target else "",
        met=(fps >= FPS_TARGET) if at_target else None,
        note=f"{res['faces']} of {res['frames']} frames had a face"))
    section.rows.append(Row(
        "pipeline", case, "latency frame (wall)", frame, "ms",
        target=f"p95 < {P95_TARGET_MS:g} ms" if at_target else "",
        met=(frame.p95 < P95_TARGET_MS) if at_target else None))
    cpu = Summary.of(res["cpu"])
    section.rows.append(Row(
        "pipeline", case, "latency frame (CPU)", cpu, "ms",
        note=f"CPU time of the process per frame (MediaPipe threads included): "
             f"{1e3 / cpu.median:.0f} fps of CPU work, reachable when the process has the cores"))
    from fesgui.pipeline import STAGES

    for stage in ("read", *STAGES):
        section.rows.append(Row("pipeline", case, f"latency {stage} (wall)",
                                Summary.of(res[stage]), "ms"))
    shape, appearance = Summary.of(res["shape"]), Summary.of(res["synthesize"])
    if shape.median > 0:
        ratio = shape.median / max(appearance.median, 1e-9)
        section.rows.append(Row(
            "pipeline", case, "shape warp (wall)", shape, "ms",
            target=f"median <= {SHAPE_TARGET_MS:g} ms" if crop == SHAPE_CROP else "",
            met=(shape.median <= SHAPE_TARGET_MS) if crop == SHAPE_CROP else None,
            note=f"{ratio:.2f}x the appearance stage (synthesize) in the same frames"))


def run(cfg: Config) -> Section:
    try:
        import fesgui.align.mediapipe_source  # noqa: F401
        import fesgui.pipeline  # noqa: F401
        import fesgui.video  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"the live pipeline is not importable here: {exc}") from None
    section = Section("pipeline")
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fesgui-bench-") as tmp:
        video = make_video(tmp, cfg)
        for crop in cfg.live_crops:
            model, desc = live_model(crop, cfg.live_train_pairs)
            w, h = cfg.frame_size
            res = run_stream(video, model, cfg.live_frames)
            _rows(section, f"{w}x{h} video, crop {crop}", res, crop)
            section.notes.append(f"crop {crop}: {desc}")
    section.notes.append(
        f"load average (1 min) {load0:.1f} before, {os.getloadavg()[0]:.1f} after, on "
        f"{os.cpu_count()} CPUs: wall-clock figures include time the other jobs held the "
        "cores")
    section.notes.append("test video: skimage.data.astronaut() moving and scaling across "
                         "the frame (Motion-JPEG, decoded by fesgui.video.VideoFileSource); "
                         f"{WARMUP} warm-up frames not counted")
    return section

