"""``fesgui video``: change the expression of the face in every frame of a video.

The face is found at any resolution and tracked from frame to frame
(:class:`fesgui.align.mediapipe_source.MediaPipeSource` in video mode) and its landmarks
are smoothed (One-Euro filter on the video's own clock) so the face does not jitter.
``.mp4`` output is H.264 (plays in browsers and QuickTime) with the input's sound copied
unchanged; the frame rate and rotation are kept. Decoding and encoding run on their own
threads beside the face work (:func:`convert`). The output appears only when complete
and checked; Ctrl+C, SIGTERM and SIGHUP leave no temporary file.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
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

# = fesgui.video's (not imported here: keeps --help fast; tests/test_video.py compares)
DEFAULT_CRF = 20
DEFAULT_PRESET = "ultrafast"
#: x264's presets, fastest first
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "video", help="change the expression of the face in a video",
        description="Process every frame of IN and write OUT (.mp4: H.264 with the sound "
        "of IN copied; .avi: Motion-JPEG). Frames without a face are copied unchanged.")
    p.add_argument("input", metavar="IN", help="input video file")
    p.add_argument("output", metavar="OUT",
                   help="output video: .mp4, .mov or .mkv (H.264) or .avi (Motion-JPEG)")
    add_synthesis_options(p)
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True,
                   help="smooth the landmarks over time (default on)")
    p.add_argument("--crf", type=int, default=DEFAULT_CRF, metavar="Q",
                   help=f"H.264 quality: 0 (best, biggest) to 51 (smallest); 18 looks "
                   f"lossless (default {DEFAULT_CRF})")
    p.add_argument("--preset", default=DEFAULT_PRESET, choices=PRESETS,
                   help="H.264 encoder speed: slower presets make smaller files at the same "
                   f"--crf (default {DEFAULT_PRESET}: 1080p at 30 fps on two cores; "
                   "veryfast: files about 5x smaller, at about 2/3 of the speed)")
    p.add_argument("--no-audio", action="store_true", help="do not copy the sound")
    p.set_defaults(run=run)


class _VideoClock:
    """The time of the video frame being processed (seconds), for the landmark smoother:
    its time stamp, or ``frame / fps`` for a frame without one."""

    def __init__(self, fps: float) -> None:
        self.fps, self.frame, self.stamp = fps, 0, None

    def __call__(self) -> float:
        return float(self.stamp) if self.stamp is not None else self.frame / self.fps


#: the signals that stop ``fesgui video`` like Ctrl+C
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class StopRequest(threading.Event):
    """Set by the first stop signal, whose name ``signal`` then holds."""

    signal = ""


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[StopRequest]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, like Ctrl+C, so the partial output is
    removed on the way out (their default action kills the process on the spot, leaving
    the temporary file behind). Main thread only; elsewhere a no-op.

    Yields the :class:`StopRequest` the first signal sets. A KeyboardInterrupt raised
    where Python cannot pass it on - a weakref callback of the import system, a
    ``__del__``, a ctypes callback of numba's compiler - is lost (and, inside the block,
    not printed as "Exception ignored ... Traceback"); :func:`convert` checks the
    request every frame, so the stop still happens (before, the video was finished). One
    raised in an import can come out as another error (numba's C module prints it and
    raises ImportError): once a stop was asked for, any error leaving the block is that
    KeyboardInterrupt (before, a traceback and status 1).

    The first of these signals (Ctrl+C included) is the only one acted on: from then on
    all three are ignored until the block has been left, so a second signal (a user
    pressing Ctrl+C again, a service manager repeating SIGTERM) cannot break into the
    clean-up - stopping the encoder thread, deleting the temporary file - and turn the
    exit into a death by signal (status -2) with a file left behind. Leaving the block
    restores the handlers that were there before."""
    requested = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    wanted = [getattr(signal, s) for s in STOP_SIGNALS if hasattr(signal, s)]

    def stop(signum, frame):
        for sig in wanted:  # the clean-up that follows runs undisturbed
            signal.signal(sig, signal.SIG_IGN)
        requested.signal = signal.Signals(signum).name
        requested.set()
        raise KeyboardInterrupt(requested.signal)

    printing = sys.unraisablehook

    def quiet(unraisable) -> None:  # the lost interrupt is no bug: nothing to print
        if not (requested.is_set() and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            printing(unraisable)

    sys.unraisablehook = quiet
    saved = {}
    for sig in wanted:
        previous = signal.getsignal(sig)
        if sig == signal.SIGINT and previous is not signal.default_int_handler:
            continue  # Ctrl+C handled elsewhere (or ignored): leave it so
        saved[sig] = signal.signal(sig, stop)
    try:
        yield requested
    except Exception as exc:
        if requested.is_set():  # the interrupt became another error on its way out
            raise KeyboardInterrupt(requested.signal) from exc
        raise
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        sys.unraisablehook = printing


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def check_crf(value: int) -> int:
    if not 0 <= value <= 51:
        raise FesguiError(f"--crf {value} is out of range: use 0 (best) to 51 (smallest), "
                          f"e.g. {DEFAULT_CRF}")
    return value


#: frames waiting between the decoder thread and the face work, and between the face work
#: and the encoder thread (small: each 1080p frame is 6 MB)
QUEUE_FRAMES = 3
_POLL = 0.05  # seconds between checks of the other threads while waiting


def convert(src, pipeline, writer, clock: _VideoClock | None = None,
            progress: Callable[[int], None] | None = None,
            stopped: StopRequest | None = None) -> tuple[int, int]:
    """Every frame of ``src`` through ``pipeline`` into ``writer``, in order, each at its
    time stamp (``src.time``), with the sound (if ``src`` keeps it). ``clock`` tells the
    landmark smoother the time of the frame being processed. Returns ``(frames, frames
    without a face)``. A set ``stopped`` (from :func:`stop_signals_as_interrupt`) raises
    KeyboardInterrupt at the next frame.

    Three stages overlap on the machine's cores: ``src.read`` (decoding, YUV -> RGB) runs
    on a reader thread and ``writer.write`` (RGB -> YUV, encoding) on a writer thread,
    each :data:`QUEUE_FRAMES` frames away from the face work on the calling thread
    (FFmpeg, x264, OpenCV and MediaPipe release the GIL while they work). An error on
    either thread is raised here; an error or Ctrl+C here stops both threads, and they
    have stopped (no call into ``src`` or ``writer`` is running) when this returns or
    raises, so the caller can abort the writer safely.

    OpenCV works on one thread meanwhile (restored on return): the three stages are the
    parallelism, and OpenCV splitting each small warp over cores that the decoder and
    x264 are busy on costs more CPU than it saves (measured: 7 % fewer frames per
    CPU-second at 1080p with OpenCV's own threads)."""
    import cv2

    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return _convert(src, pipeline, writer, clock, progress, stopped)
    finally:
        cv2.setNumThreads(cv_threads)


def _convert(src, pipeline, writer, clock, progress, stopped) -> tuple[int, int]:
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
    finished: queue.Queue = queue.Queue(QUEUE_FRAMES)
    failed: list[BaseException] = []  # what stopped the writer thread

    def put(q: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                pass
        return False

    def read_all() -> None:
        try:
            while True:
                frame = src.read()
                if not put(decoded, (frame, src.take_audio(), src.time)) or frame is None:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            put(decoded, exc)

    def write_all() -> None:
        try:
            while not stop.is_set():
                try:
                    frame, audio, time = finished.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if frame is not None:
                    writer.write(frame, time)
                writer.write_audio(audio)
                if frame is None:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            failed.append(exc)
            stop.set()

    threads = [threading.Thread(target=read_all, name="video-reader", daemon=True),
               threading.Thread(target=write_all, name="video-writer", daemon=True)]
    for thread in threads:
        thread.start()
    frames = no_face = 0
    try:
        while True:
            item = None
            while item is None:
                if failed:
                    raise failed[0]
                if stopped is not None and stopped.is_set():  # its interrupt was lost
                    raise KeyboardInterrupt(stopped.signal)
                try:
                    item = decoded.get(timeout=_POLL)
                except queue.Empty:
                    pass
            if isinstance(item, BaseException):
                raise item
            frame, audio, time = item
            if frame is None:  # the end; the sound after the last frame goes last
                if not put(finished, (None, audio, None)):
                    raise failed[0]
                break
            if clock is not None:
                clock.frame, clock.stamp = frames, time
            result = pipeline.process(frame)
            no_face += result.message is not None
            if not put(finished, (result.composite, audio, time)):
                raise failed[0]
            frames += 1
            if progress is not None:
                progress(frames)
        while threads[1].is_alive():  # the encoder's last frames (Ctrl+C still works)
            threads[1].join(_POLL)
        if failed:
            raise failed[0]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return frames, no_face


def run(args: argparse.Namespace) -> int:
    from fesgui.align import LandmarkSmoother, SmoothedSource
    from fesgui.video import VideoFileSource, VideoWriter, video_codec

    out = Path(args.output)
    check_output(out, [args.input], what="OUT")  # issue 14: the shared output check
    video_codec(out)
    check_crf(args.crf)
    model = load_model_arg(args.model)
    with stop_signals_as_interrupt() as stopped, \
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
                                color=src.color, time_base=src.time_base) as writer:
                pipeline.keep_aligned = False  # no one looks at the crops
                pipeline.in_place = True  # each decoded frame is used once
                frames, no_face = convert(src, pipeline, writer, clock, progress, stopped)
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
