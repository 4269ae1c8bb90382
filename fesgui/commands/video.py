"""``fesgui video``: change the expression of the face in every frame of a video.

The face is found at any resolution and tracked from frame to frame
(:class:`fesgui.align.mediapipe_source.MediaPipeSource` in video mode) and its landmarks
are smoothed (One-Euro filter on the video's own clock) so the face does not jitter.
``.mp4`` output is H.264 (plays in browsers and QuickTime) with the input's sound copied
unchanged; the frame rate and rotation are kept. The output appears only when complete
and checked; Ctrl+C, SIGTERM and SIGHUP leave no temporary file.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fesgui.commands.batch import ProgressBar
from fesgui.commands.synth import (
    add_synthesis_options,
    load_model_arg,
    make_face_finder,
    make_pipeline,
)
from fesgui.errors import FesguiError
from fesgui.outputs import check_output

DEFAULT_CRF = 20  # = fesgui.video.DEFAULT_CRF (not imported here: keeps --help fast)
#: x264's presets, fastest first
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "video", help="change the expression of the face in a video",
        description="Process every frame of IN and write OUT (.mp4: H.264 with the sound "
        "of IN copied; .avi: Motion-JPEG). Frames without a face are copied unchanged.")
    p.add_argument("input", metavar="IN", help="input video file")
    p.add_argument("output", metavar="OUT", help="output video (.mp4 or .avi)")
    add_synthesis_options(p)
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True,
                   help="smooth the landmarks over time (default on)")
    p.add_argument("--crf", type=int, default=DEFAULT_CRF, metavar="Q",
                   help=f"H.264 quality: 0 (best, biggest) to 51 (smallest); 18 looks "
                   f"lossless (default {DEFAULT_CRF})")
    p.add_argument("--preset", default="veryfast", choices=PRESETS,
                   help="H.264 encoder speed: faster presets make bigger files at the same "
                   "--crf (default veryfast)")
    p.add_argument("--no-audio", action="store_true", help="do not copy the sound")
    p.set_defaults(run=run)


class _VideoClock:
    """Time stamps of the video frames (seconds), for the landmark smoother."""

    def __init__(self, fps: float) -> None:
        self.fps, self.frame = fps, 0

    def __call__(self) -> float:
        return self.frame / self.fps


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, like Ctrl+C, so the partial output is
    removed on the way out (their default action kills the process on the spot, leaving
    the temporary file behind). Main thread only; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    wanted = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    saved = {name: signal.signal(getattr(signal, name), stop) for name in wanted}
    try:
        yield
    finally:
        for name, handler in saved.items():
            signal.signal(getattr(signal, name), handler)


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def check_crf(value: int) -> int:
    if not 0 <= value <= 51:
        raise FesguiError(f"--crf {value} is out of range: use 0 (best) to 51 (smallest), "
                          f"e.g. {DEFAULT_CRF}")
    return value


def convert(src, pipeline, writer, clock: _VideoClock | None = None,
            progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Every frame of ``src`` through ``pipeline`` into ``writer``, with the sound (if
    ``src`` keeps it). ``clock.frame`` follows the frame index (for the landmark smoother).
    Returns ``(frames, frames without a face)``."""
    frames = no_face = 0
    while (frame := src.read()) is not None:
        result = pipeline.process(frame)
        no_face += result.message is not None
        writer.write(result.composite)
        writer.write_audio(src.take_audio())
        frames += 1
        if clock is not None:
            clock.frame = frames
        if progress is not None:
            progress(frames)
    writer.write_audio(src.take_audio())  # sound after the last frame
    return frames, no_face


def run(args: argparse.Namespace) -> int:
    from fesgui.align import LandmarkSmoother, SmoothedSource
    from fesgui.video import VideoFileSource, VideoWriter, video_codec

    out = Path(args.output)
    check_output(out, [args.input], what="OUT")  # issue 14: the shared output check
    video_codec(out)
    check_crf(args.crf)
    model = load_model_arg(args.model)
    with stop_signals_as_interrupt(), \
            VideoFileSource(args.input, keep_audio=not args.no_audio) as src:
        clock = _VideoClock(src.fps)
        source = make_face_finder(args, video=True)
        finder = SmoothedSource(source, LandmarkSmoother(), clock=clock) if args.smooth \
            else source
        total = src.frame_count
        bar = ProgressBar(total)
        start = time.perf_counter()

        def progress(done: int) -> None:
            spent = time.perf_counter() - start
            fps = done / spent if spent > 0 else 0.0
            label = f"{fps:.1f} fps"
            if total and fps > 0:
                label += f", {_clock(max(0, total - done) / fps)} left"
            bar.update(done, label)

        try:
            with make_pipeline(args, model, landmarks=finder) as pipeline, \
                    VideoWriter(out, src.fps, crf=args.crf, preset=args.preset,
                                rotation=src.rotation, audio=src.audio_stream,
                                color=src.color) as writer:
                frames, no_face = convert(src, pipeline, writer, clock, progress)
        finally:
            bar.finish()
            finder.close()
        damage = src.error
        audio_note = writer.audio_note
    spent = time.perf_counter() - start
    if damage:
        print(f"warning: {damage}", file=sys.stderr)
    if audio_note:
        print(f"warning: {audio_note}", file=sys.stderr)
    if no_face == frames:
        print(f"warning: no face found in any of the {frames} frames: the video is unchanged",
              file=sys.stderr)
    else:
        print(f"no face in {no_face} of {frames} frames"
              f"{' (copied unchanged)' if no_face else ''}", file=sys.stderr)
    sound = f", sound copied ({writer.audio_packets} packets)" if writer.audio_packets else ""
    print(f"wrote {out} ({frames} frames, {frames / spent if spent > 0 else 0:.1f} fps"
          f"{sound})", file=sys.stderr)
    return 0
