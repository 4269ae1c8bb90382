"""Soak test of the live pipeline: ``python -m fesgui.benchmarks.soak --frames 10000``.

A looping video of a real face (``skimage.data.astronaut()`` drifting a few pixels per
frame over a 640 x 480 canvas, written to a temporary folder) goes through the same path as
the app's live view: :class:`fesgui.video.VideoFileSource` (looping) -> MediaPipe FaceMesh
in tracking mode, smoothed (:class:`fesgui.align.SmoothedSource`) ->
:class:`fesgui.pipeline.Pipeline` (align, synthesize, refine, paste back). The model is the
shipped ``neutral2happy_mr3_128`` if this installation has it, else MR r=3 fitted on
synthetic pairs.

After a warm-up, one line per interval reports frames per second (wall clock and
process-CPU based) and the resident memory (``VmRSS`` of ``/proc/self/status``, or
``ru_maxrss`` where there is no ``/proc``). Pass criteria:

* memory: RSS at the end minus RSS after the warm-up < ``max_growth_mib`` (20 MiB);
* speed: fps of the last interval >= 0.8 x fps of the first interval after the warm-up.
  By default fps is counted against the process's CPU time (``--clock cpu``): on a shared
  machine the wall clock mostly measures what other processes do (a load of 9 on 2 cores
  turns 150 wall fps into 50 within seconds while the CPU time per frame stays put);
  ``--clock wall`` judges by the wall clock (a quiet machine). Both are printed.

Exit status 0 when both criteria hold, 1 otherwise, 2 for a user error.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from fesgui.benchmarks.child import status_kib
from fesgui.errors import FesguiError

#: default pass bounds
MAX_GROWTH_MIB = 20.0
MIN_SPEED_RATIO = 0.8
FRAME_W, FRAME_H = 640, 480


def rss_mib() -> float:
    """Resident set size of this process in MiB (``VmRSS``; peak RSS without /proc)."""
    kib = status_kib("VmRSS")
    if not math.isnan(kib):
        return kib / 1024.0
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def make_video(folder: str | os.PathLike, frames: int = 90, width: int = FRAME_W,
               height: int = FRAME_H, fps: float = 30.0) -> Path:
    """Write ``folder/astronaut_soak.avi``: the astronaut's portrait (scaled to 0.8 x the
    frame height) drifting slightly (a few pixels per frame, a closed path, so the loop has
    no jump) over a gray canvas. Frames are made and written one at a time (no big buffer).
    """
    import cv2
    from skimage.data import astronaut

    from fesgui.video import VideoWriter

    src = np.ascontiguousarray(astronaut())  # (512, 512, 3) uint8 RGB
    side = int(round(0.8 * height))
    face = cv2.resize(src, (side, side), interpolation=cv2.INTER_AREA)
    path = Path(folder) / "astronaut_soak.avi"
    with VideoWriter(path, fps=fps, size=(height, width)) as writer:
        for t in range(frames):
            phase = 2 * math.pi * t / frames
            dx = 12 * math.sin(phase)
            dy = 6 * math.sin(2 * phase)
            m = np.array([[1, 0, (width - side) / 2 + dx], [0, 1, (height - side) / 2 + dy]])
            canvas = np.full((height, width, 3), 70, np.uint8)
            cv2.warpAffine(face, m, (width, height), dst=canvas, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_TRANSPARENT)
            writer.write(canvas)
    return path


def default_model(size: int = 128):
    """``(model, description)``: the shipped MR 3x3 model of ``size``, else MR r=3 fitted
    on synthetic pairs (the live benchmark's choice)."""
    from fesgui.benchmarks.live import live_model

    return live_model(size)


@dataclass
class Interval:
    """One reporting interval of the soak."""

    end_frame: int
    fps: float          # frames per wall-clock second
    cpu_fps: float      # frames per second of process CPU time (all threads)
    rss_mib: float      # resident memory at the end of the interval
    faces: int          # frames of the interval in which a face was found


@dataclass
class SoakReport:
    """What a soak measured and whether it passed."""

    frames: int
    warmup_frames: int
    baseline_rss_mib: float                    # after the warm-up
    intervals: list[Interval] = field(default_factory=list)
    max_growth_mib: float = MAX_GROWTH_MIB
    min_speed_ratio: float = MIN_SPEED_RATIO
    clock: str = "cpu"                         # which fps the speed criterion uses

    @property
    def growth_mib(self) -> float:
        """RSS at the end minus RSS after the warm-up (MiB)."""
        end = self.intervals[-1].rss_mib if self.intervals else self.baseline_rss_mib
        return end - self.baseline_rss_mib

    def _fps(self, iv: Interval) -> float:
        return iv.cpu_fps if self.clock == "cpu" else iv.fps

    @property
    def speed_ratio(self) -> float:
        """fps of the last interval / fps of the first, on :attr:`clock` (1.0 with fewer
        than 2 intervals)."""
        if len(self.intervals) < 2 or self._fps(self.intervals[0]) <= 0:
            return 1.0
        return self._fps(self.intervals[-1]) / self._fps(self.intervals[0])

    @property
    def memory_ok(self) -> bool:
        return self.growth_mib < self.max_growth_mib

    @property
    def speed_ok(self) -> bool:
        return self.speed_ratio >= self.min_speed_ratio

    @property
    def passed(self) -> bool:
        return self.memory_ok and self.speed_ok

    def summary(self) -> str:
        """Two lines: the verdict on memory and on speed."""
        first = self.intervals[0] if self.intervals else None
        last = self.intervals[-1] if self.intervals else None
        mem = (f"memory: {self.baseline_rss_mib:.1f} MiB after warm-up -> "
               f"{self.baseline_rss_mib + self.growth_mib:.1f} MiB at the end, growth "
               f"{self.growth_mib:+.1f} MiB (limit {self.max_growth_mib:g}): "
               f"{'PASS' if self.memory_ok else 'FAIL'}")
        if first is None or last is None:
            return mem + "\nspeed: no interval measured"
        speed = (f"speed: first interval {first.fps:.1f} fps (CPU {first.cpu_fps:.1f}), last "
                 f"{last.fps:.1f} fps (CPU {last.cpu_fps:.1f}), ratio {self.speed_ratio:.2f} "
                 f"on the {self.clock} clock (limit {self.min_speed_ratio:g}): "
                 f"{'PASS' if self.speed_ok else 'FAIL'}")
        return mem + "\n" + speed


def run_soak(frames: int, every: int | None = None, warmup: int | None = None,
             video: str | os.PathLike | None = None, model=None,
             landmarks=None, out: TextIO | None = None,
             on_frame: Callable[[int], None] | None = None, clock: str = "cpu"
             ) -> SoakReport:
    """Run ``frames`` frames (after ``warmup`` more) of a looping video through the live
    pipeline and measure speed and memory every ``every`` frames.

    ``video``: a file (default: :func:`make_video` in a temporary folder). ``model``:
    default :func:`default_model`. ``landmarks``: a landmark source (default MediaPipe
    tracking mode, smoothed, like the app's live view); it is closed at the end only if
    made here. ``out``: where the interval lines go (None: silent). ``on_frame(i)`` is
    called after each measured frame (tests use it). ``clock``: "cpu" or "wall", the fps
    the speed criterion compares.
    """
    from fesgui.pipeline import Pipeline
    from fesgui.video import VideoFileSource

    if clock not in ("cpu", "wall"):
        raise FesguiError(f"--clock {clock} is not known: use cpu or wall")
    if frames < 1:
        raise FesguiError(f"--frames {frames} must be at least 1: e.g. --frames 10000")
    every = every or max(1, min(1000, frames // 10))
    if every < 1:
        raise FesguiError(f"--every {every} must be at least 1: e.g. --every 1000")
    warmup = max(1, min(300, frames // 10)) if warmup is None else int(warmup)
    if warmup < 0:
        raise FesguiError(f"--warmup {warmup} must be >= 0: e.g. --warmup 300")

    def say(text: str) -> None:
        if out is not None:
            print(text, file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="fesgui-soak-") as tmp:
        if video is None:
            video = make_video(tmp)
        if model is None:
            model, description = default_model()
            say(f"model: {description}")
        owned = landmarks is None
        if owned:
            from fesgui.align import SmoothedSource
            from fesgui.align.mediapipe_source import MediaPipeSource

            landmarks = SmoothedSource(MediaPipeSource(video=True, max_faces=1))
        try:
            with VideoFileSource(video, loop=True) as src:
                pipeline = Pipeline(model, landmarks=landmarks)

                def step() -> bool:
                    frame = src.read()
                    if frame is None:
                        raise FesguiError(f"the soak video stopped: {src.error or 'no frame'}"
                                          "; check the video file")
                    return not pipeline.process(frame).message

                say(f"video: {Path(video).name} {src.size[1]}x{src.size[0]} looped; "
                    f"warm-up {warmup} frames, then {frames} frames")
                for _ in range(warmup):
                    step()
                report = SoakReport(frames, warmup, rss_mib(), clock=clock)
                say(f"after warm-up: RSS {report.baseline_rss_mib:.1f} MiB")
                say(f"{'frames':>8} {'fps':>7} {'cpu fps':>8} {'RSS MiB':>8} "
                    f"{'growth':>7} {'faces':>6}")
                done, faces = 0, 0
                t0, c0 = time.perf_counter(), time.process_time()
                while done < frames:
                    faces += step()
                    done += 1
                    if on_frame is not None:
                        on_frame(done)
                    if done % every == 0 or done == frames:
                        t1, c1 = time.perf_counter(), time.process_time()
                        n = (done - 1) % every + 1
                        iv = Interval(done, n / max(t1 - t0, 1e-9), n / max(c1 - c0, 1e-9),
                                      rss_mib(), faces)
                        report.intervals.append(iv)
                        say(f"{done:>8} {iv.fps:>7.1f} {iv.cpu_fps:>8.1f} {iv.rss_mib:>8.1f} "
                            f"{iv.rss_mib - report.baseline_rss_mib:>+7.1f} {faces:>6}")
                        faces = 0
                        t0, c0 = time.perf_counter(), time.process_time()
        finally:
            if owned:
                landmarks.close()
    say(report.summary())
    return report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fesgui.benchmarks.soak",
        description="Run the live pipeline (real MediaPipe) on a looping astronaut video and "
        "report fps and memory at intervals. Passes when memory grows less than 20 MiB after "
        "the warm-up and the last interval is at least 0.8 x as fast as the first (fps per "
        "CPU second by default, see --clock).")
    p.add_argument("--frames", type=int, default=10000, help="frames to measure (10000)")
    p.add_argument("--every", type=int, default=None,
                   help="frames per reported interval (default: frames/10, at most 1000)")
    p.add_argument("--warmup", type=int, default=None,
                   help="frames before measuring (default: frames/10, at most 300)")
    p.add_argument("--video", default=None, help="a video file instead of the astronaut")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                   help="fps for the speed criterion: per CPU second of this process (default; "
                   "robust on a shared machine) or per wall-clock second")
    p.add_argument("--model", default=None,
                   help="model name or .npz file (default: neutral2happy_mr3_128)")
    return p


def main(argv: list[str] | None = None) -> int:
    from fesgui.cli import report_errors

    args = build_parser().parse_args(argv)

    def run() -> int:
        model = None
        if args.model:
            from fesgui.commands.synth import load_model_arg

            model = load_model_arg(args.model)
        report = run_soak(args.frames, every=args.every, warmup=args.warmup,
                          video=args.video, model=model, out=sys.stdout, clock=args.clock)
        return 0 if report.passed else 1

    return report_errors(run)

if __name__ == "__main__":
    raise SystemExit(main())
