"""Whole-process video throughput: what ``fesgui video`` does to a 1280x720 and a
1920x1080 H.264 file, against decoding and encoding alone in the same run.

The candidate is the command's own loop (:func:`fesgui.commands.video.convert`): PyAV
decode (reader thread) -> landmarks (full-range detector + FaceMesh on a crop, One-Euro
smoothing) -> model -> paste-back -> H.264 encode (writer thread), sound copied. The
baseline decodes the same file and encodes every frame unchanged through the same loop
and writer settings: the part of the work no face processing can remove. Both run with
the default x264 preset (ultrafast) and with ``--preset veryfast`` (smaller files). Rounds interleave all four, so
they see the same machine load. Frames per second are given on the wall clock (what a
user waits) and on the process's CPU time (frames per CPU-second, all threads: decoder,
x264, MediaPipe): on a shared machine the wall figure also holds the time other jobs had
the cores, and with two free cores the wall rate can reach up to twice the CPU rate where
the work runs in parallel (the reader, the face work and the writer overlap).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from fesgui.benchmarks import Config, Unavailable
from fesgui.benchmarks.harness import Row, Section, Summary

FPS_TARGET = 30.0
TARGET_SIZE = (1920, 1080)
#: face width as a fraction of the frame width in the test video (a person at a webcam)
FACE_FRAC = 0.2


def make_video(path: Path, width: int, height: int, frames: int, fps: float = 30.0) -> Path:
    """An H.264 .mp4 with an AAC sound track: the astronaut's face ``FACE_FRAC`` of the
    width wide, drifting slowly (:func:`fesgui.benchmarks.testvideo.face_scene`)."""
    from fesgui.benchmarks.testvideo import face_scene, write_av_video

    def frame(i: int) -> np.ndarray:
        t = 2 * np.pi * i / max(frames, 1)
        return face_scene(height, width, FACE_FRAC, 0.5 + 0.15 * np.sin(t),
                          0.5 + 0.08 * np.sin(2 * t))[0]

    return write_av_video(path, (frame(i) for i in range(frames)), fps=fps, audio=True)


class _Timed:
    """Wraps ``read`` of a source or ``write`` of a writer and sums its wall time."""

    def __init__(self, inner, method: str) -> None:
        self._inner, self._method, self.seconds = inner, method, 0.0
        setattr(self, method, self._call)

    def _call(self, *args):
        t0 = time.perf_counter()
        try:
            return getattr(self._inner, self._method)(*args)
        finally:
            self.seconds += time.perf_counter() - t0

    def __getattr__(self, name):
        return getattr(self._inner, name)


def run_once(video: Path, out: Path, model=None, preset: str | None = None) -> dict:
    """Convert ``video`` into ``out``: with ``model`` the whole ``fesgui video`` loop,
    without it decode + encode only. Returns wall and CPU seconds, frames, frames with a
    face and the wall seconds spent reading, writing (on their threads) and in each
    pipeline stage. ``preset``: x264's, default :data:`fesgui.video.DEFAULT_PRESET`."""
    from fesgui.commands.video import _VideoClock, convert
    from fesgui.video import DEFAULT_PRESET, VideoFileSource, VideoWriter

    preset = preset or DEFAULT_PRESET

    stages: dict[str, float] = {}
    with VideoFileSource(video, keep_audio=True) as src:
        clock = _VideoClock(src.fps)
        pipeline = finder = None
        if model is not None:
            from fesgui.align import LandmarkSmoother, SmoothedSource
            from fesgui.align.mediapipe_source import MediaPipeSource
            from fesgui.pipeline import Pipeline

            finder = SmoothedSource(MediaPipeSource(video=True, max_faces=1),
                                    LandmarkSmoother(), clock=clock)
            inner = Pipeline(model, landmarks=finder)
            inner.keep_aligned = False  # as fesgui video
            inner.in_place = True
            pipeline = _StageTotals(inner, stages)
        else:
            pipeline = _Unchanged()
        reader = _Timed(src, "read")
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            with VideoWriter(out, src.fps, preset=preset, rotation=src.rotation,
                             audio=src.audio_stream, color=src.color,
                             time_base=src.time_base) as raw_writer:
                writer = _Timed(raw_writer, "write")
                frames, no_face = convert(reader, pipeline, writer, clock)
        finally:
            if finder is not None:
                finder.close()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall": wall, "cpu": cpu, "frames": frames, "faces": frames - no_face,
            "read": reader.seconds, "write": writer.seconds, **stages}


class _Unchanged:
    """A pipeline stand-in that hands every frame on unchanged (the baseline)."""

    class _Result:
        message = None

        def __init__(self, frame):
            self.composite = frame

    def process(self, frame):
        return self._Result(frame)


class _StageTotals:
    """Sums the per-stage timings (ms) of a :class:`fesgui.pipeline.Pipeline` into
    ``totals`` (seconds)."""

    def __init__(self, pipeline, totals: dict[str, float]) -> None:
        self.pipeline, self.totals = pipeline, totals

    def process(self, frame):
        result = self.pipeline.process(frame)
        for stage, ms in result.timings.items():
            if stage != "total":
                self.totals[stage] = self.totals.get(stage, 0.0) + ms / 1e3
        return result


def run(cfg: Config) -> Section:
    try:
        import av  # noqa: F401

        import fesgui.align.mediapipe_source  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"video benchmark needs PyAV and MediaPipe: {exc}") from None
    from fesgui.benchmarks.live import default_model_file, live_model
    from fesgui.core import load_model
    from fesgui.video import DEFAULT_PRESET

    section = Section("video")
    path, desc = default_model_file()  # what fesgui video uses when no model is named
    if path is not None:
        model = load_model(path)
    else:
        model, desc = live_model(128, cfg.live_train_pairs)
    load0 = os.getloadavg()[0]
    presets = (DEFAULT_PRESET, SMALL_PRESET)
    with tempfile.TemporaryDirectory(prefix="fesgui-bench-video-") as tmp:
        folder = Path(tmp)
        for w, h in cfg.video_sizes:
            video = make_video(folder / f"in_{w}x{h}.mp4", w, h, cfg.video_frames)
            run_once(video, folder / "warm.mp4", model)  # graphs, JIT, caches
            runs: dict[tuple[str, bool], list[dict]] = {}
            sizes: dict[str, int] = {}
            for r in range(cfg.video_rounds):  # rounds interleave every variant
                for preset in presets:
                    for with_model in (False, True):
                        out = folder / f"{preset}_{with_model}_{r}.mp4"
                        runs.setdefault((preset, with_model), []).append(
                            run_once(video, out, model if with_model else None, preset))
                        if with_model:
                            sizes[preset] = out.stat().st_size
            for preset in presets:
                _rows(section, f"{w}x{h} H.264", runs[preset, False], runs[preset, True],
                      target=(w, h) == TARGET_SIZE and preset == DEFAULT_PRESET, preset=preset,
                      default=preset == DEFAULT_PRESET, size=sizes[preset])
    section.notes.append(
        f"model: {desc}; test video: {cfg.video_frames} frames, the astronaut's face "
        f"{FACE_FRAC:.0%} of the width, drifting, with an AAC sound track (copied); output "
        f"H.264 crf 20 with the default preset ({DEFAULT_PRESET}) and with --preset "
        f"{SMALL_PRESET}; decoding and encoding run on their own threads, overlapping the "
        "face work; per-frame read / write are the wall time of those threads' calls")
    section.notes.append(
        f"load average (1 min) {load0:.1f} before, {os.getloadavg()[0]:.1f} after, on "
        f"{os.cpu_count()} CPUs: wall-clock figures include time the other jobs held the "
        "cores; CPU fps = frames per CPU-second of this process (all its threads); with "
        "the cores to itself the wall rate is at most cores x the CPU rate")
    return section


#: the preset for smaller files, measured beside the default
SMALL_PRESET = "veryfast"


def _rows(section: Section, case: str, base: list[dict], full: list[dict], target: bool,
          preset: str, default: bool, size: int) -> None:
    def fps(runs, key):
        return Summary.of([r["frames"] / r[key] for r in runs])

    label = "" if default else f", --preset {preset}"
    ratio = Summary.of([b["frames"] / b["wall"] / (f["frames"] / f["wall"])
                        for b, f in zip(base, full, strict=True)])
    wall = fps(full, "wall")
    faces, frames = full[-1]["faces"], full[-1]["frames"]
    section.rows.append(Row(
        "video", case, f"whole process fps{label} (wall)", wall, "fps",
        baseline=fps(base, "wall"), baseline_name="decode + encode only", ratio=ratio,
        target=f">= {FPS_TARGET:g} fps" if target else "",
        met=(wall.median >= FPS_TARGET) if target else None,
        note=f"x264 preset {preset}{' (the default)' if default else ''}; {faces} of "
             f"{frames} frames had a face; ratio = how many times slower than decode + "
             f"encode alone; output {size / 1e6:.2f} MB"))
    section.rows.append(Row(
        "video", case, f"whole process fps{label} (CPU time)", fps(full, "cpu"), "fps",
        baseline=fps(base, "cpu"), baseline_name="decode + encode only",
        note="frames per CPU-second of the process (all threads)"))
    if not default:
        return
    per_frame = {k: Summary.of([r[k] / r["frames"] * 1e3 for r in full])
                 for k in ("read", "landmarks", "align", "shape", "synthesize", "paste",
                           "write") if all(k in r for r in full)}
    for stage, summary in per_frame.items():
        if summary.median > 0:
            section.rows.append(Row("video", case, f"per frame {stage} (wall)", summary,
                                    "ms"))
