"""The worker: runs the pipeline off the UI thread.

A parentless :class:`Worker` is moved to a ``QThread`` by the controller. Requests arrive
as queued signals (or through the few thread-safe methods marked so); results leave as
signals carrying numpy arrays and dataclasses. Widgets are never touched here.

Live video: a :class:`FrameGrabber` thread reads the source as fast as it delivers (paced
to the file's frame rate for video files) and keeps only the newest :data:`KEEP_FRAMES`
frames; the worker takes the oldest of them when it is free, so a frame that took longer
than the frame period is made up by a quicker one after it, and a worker that falls
further behind drops stale frames instead of queueing them.
A result is emitted only when the GUI has drawn the previous one (:meth:`Worker.ack`);
otherwise it is dropped too, so the window can never fall behind.

Still images: :meth:`Worker.submit_still` keeps only the newest request (slider drags are
coalesced) and landmarks of the same frame are detected once (:class:`_SameFrameLandmarks`).

Views (issue 17): every result carries what the Inspector and Model maps draw
(:mod:`fesgui.views`: ``FrameResult.views`` and ``FaceResult.views``), computed here from one
:class:`fesgui.views.ViewCache` shared by the still and live pipelines. Without a frame (a
model just loaded, sliders moved with no image open) :attr:`Worker.views_ready` sends the
model's maps and alpha stages for the current params.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from fesgui.batch import BatchReport
from fesgui.errors import FesguiError
from fesgui.session import LiveSpec  # what to stream; the session makes them

# How long one live step waits for a new frame before giving the event loop a turn (s).
_FRAME_WAIT = 0.05
#: live frames the grabber keeps for the worker: 2 lets a frame that took longer than the
#: frame period (a FaceMesh frame while the window paints) be made up by the quicker
#: frame after it, at the cost of showing at most one frame late; with 1 it would be
#: dropped (measured on a 1280x720, 30 fps video: ~20 frames of 300 dropped with 1)
KEEP_FRAMES = 2


@dataclass
class StillRequest:
    """Process one still frame: ``frame`` (H, W, 3) uint8 RGB, optional manual landmarks."""

    frame: np.ndarray
    params: Any  # fesgui.pipeline.RefineParams
    manual: Any = None  # fesgui.align.FaceLandmarks | None
    token: int = 0  # identifies the image (changes when another image is opened)


@dataclass
class FrameInfo:
    """What came with a result: where it came from and how long each stage took (ms)."""

    kind: str  # "still" or "live"
    params: Any  # the RefineParams that produced it
    token: int = 0  # StillRequest.token, or the live frame number
    timings: dict[str, float] = field(default_factory=dict)
    dropped: int = 0  # live frames of this stream dropped so far (skipped or not drawn)
    model: Any = None  # the model that produced it (None: no model loaded)
    spec: LiveSpec | None = None  # the live source it came from


class FrameGrabber(threading.Thread):
    """Reads a frame source on its own thread and keeps only the newest
    :data:`KEEP_FRAMES` frames.

    ``pace_fps`` > 0 sleeps between reads to play a file at its own speed (a camera paces
    itself). ``mirror`` may be flipped at any time. After the source ends or fails,
    :attr:`ended` is set and :attr:`error` holds the exception, if any.
    """

    def __init__(self, source: Any, pace_fps: float = 0.0, mirror: bool = False) -> None:
        super().__init__(name="fesgui-grabber", daemon=True)
        self.source = source
        self.pace_fps = pace_fps
        self.mirror = mirror
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._stop_event = threading.Event()
        self._cond = threading.Condition()
        self._frames: collections.deque[tuple[np.ndarray, float, int, float]] = \
            collections.deque(maxlen=KEEP_FRAMES)
        self._count = 0
        self.overwritten = 0  # frames pushed out before the worker took them

    def run(self) -> None:
        period = 1.0 / self.pace_fps if self.pace_fps > 0 else 0.0
        next_time = time.perf_counter()
        try:
            while not self._stop_event.is_set():
                t0 = time.perf_counter()
                frame = self.source.read()
                captured = time.perf_counter()
                capture_ms = (captured - t0) * 1000.0
                if frame is None:
                    break
                if self.mirror:
                    frame = np.ascontiguousarray(frame[:, ::-1])
                with self._cond:
                    if len(self._frames) == KEEP_FRAMES:
                        self.overwritten += 1
                    self._count += 1
                    self._frames.append((frame, capture_ms, self._count, captured))
                    self._cond.notify_all()
                if period:
                    next_time += period
                    delay = next_time - time.perf_counter()
                    if delay > 0:
                        self._stop_event.wait(delay)
                    elif delay < -period:  # fell behind: do not try to catch up
                        next_time = time.perf_counter()
        except BaseException as exc:  # noqa: BLE001 - handed to the worker, which reports it
            self.error = exc
        finally:
            self.ended.set()
            with self._cond:
                self._cond.notify_all()

    def take(self, timeout: float) -> tuple[np.ndarray, float, int, float] | None:
        """The oldest frame kept and not taken yet ``(frame, capture_ms, number,
        captured)`` (``captured``: ``time.perf_counter()`` when it arrived), or None."""
        with self._cond:
            if not self._frames and not self.ended.is_set():
                self._cond.wait(timeout)
            return self._frames.popleft() if self._frames else None

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading and close the source (waits at most ``timeout`` s for the thread)."""
        self._stop_event.set()
        self.join(timeout)
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


class _SameFrameLandmarks:
    """A landmark source that remembers the faces of the last frame it saw.

    Slider moves on a still image re-run the pipeline on the same frame object; detecting
    its landmarks again would only cost time.
    """

    def __init__(self, source: Any) -> None:
        self.source = source
        self._frame: np.ndarray | None = None
        self._faces: list = []

    def detect(self, image: np.ndarray) -> list:
        if image is not self._frame:
            self._faces = self.source.detect(image)
            self._frame = image
        return self._faces

    def close(self) -> None:
        self._frame = None
        self.source.close()


def _file_stamp(target: int | str) -> tuple[int, int] | None:
    """(size, mtime) of a video file standing in for a camera; None if it is gone."""
    try:
        st = Path(str(target)).stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _changed_while_playing(spec: LiveSpec) -> str:
    return f"lost {spec.describe()}: the file changed or was cut short while playing"


def _one_line(exc: BaseException) -> str:
    """``exc`` as one line: a FesguiError's message, else ``Type: message`` (first line)."""
    text = str(exc) if isinstance(exc, FesguiError) else f"{type(exc).__name__}: {exc}"
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def default_landmarks(video: bool) -> Any:
    """MediaPipe FaceMesh (imported on first use, on the worker thread); smoothed over time
    (One-Euro filter) for live video."""
    from fesgui.align import SmoothedSource
    from fesgui.align.mediapipe_source import MediaPipeSource

    source = MediaPipeSource(video=video)
    return SmoothedSource(source) if video else source


class Worker(QObject):
    """Runs the pipeline for stills, live video, batches and recordings on its own thread.

    ``landmarks_factory(video: bool)`` makes a landmark source (default: MediaPipe), called
    lazily on the worker thread the first time faces must be found.
    """

    result = Signal(object, object)  # FrameResult, FrameInfo
    error = Signal(object)  # BaseException
    still_failed = Signal(int)  # token of a still request that raised (reported via error)
    model_ready = Signal(object, str)  # model, path
    model_failed = Signal(str, str)  # path, one line: why it cannot be used
    live_started = Signal(object, float)  # LiveSpec, source fps
    live_stopped = Signal(object, str)  # LiveSpec, why ("stopped", "video ended", ...)
    source_lost = Signal(object, str)  # LiveSpec, message: a camera stopped, or a frame failed
    batch_progress = Signal(int, int, str)  # done, total, current file name
    batch_finished = Signal(object)  # BatchReport
    recording_finished = Signal(str)  # path of the finished video
    views_ready = Signal(object)  # fesgui.views.ModelViews of the current model and params
    _wake = Signal()
    _views_wake = Signal()

    def __init__(self, landmarks_factory: Callable[[bool], Any] | None = None) -> None:
        super().__init__()
        self._landmarks_factory = landmarks_factory or default_landmarks
        self._landmarks: dict[bool, Any] = {}
        self._pipelines: dict[bool, Any] = {}
        self._model: Any = None
        self._lock = threading.Lock()
        self._params: Any = None
        self._face_choice: Any = None  # which faces to change: see face_picker.face_pick
        self._still: StillRequest | None = None
        self._gui_ready = threading.Event()
        self._gui_ready.set()
        self._cancel_batch = threading.Event()
        self._grabber: FrameGrabber | None = None
        self._live_spec: LiveSpec | None = None
        self._live_stamp: tuple[int, int] | None = None
        self._recorder: Any = None
        self._record_start = 0.0  # perf_counter() of the first recorded frame
        self._record_path: str | None = None
        self.frames_processed = 0  # live frames run through the pipeline (read by the app)
        from fesgui.views import ViewCache

        self._views = ViewCache()  # the maps and alpha stages of every pipeline here
        self._views_due = False  # a views_ready is queued (slider drags are coalesced)
        self._wake.connect(self._on_wake)
        self._views_wake.connect(self._send_views)

    # ---- thread-safe entry points (called directly from the main thread) ----
    def submit_still(self, request: StillRequest) -> None:
        """Queue a still frame; an older request not started yet is replaced. Thread-safe."""
        with self._lock:
            self._still = request
        self._wake.emit()

    def set_params(self, params: Any) -> None:
        """New refinement parameters for the next frame (and for :attr:`views_ready`).
        Thread-safe."""
        with self._lock:
            self._params = params
        self._queue_views()

    def _queue_views(self) -> None:
        with self._lock:
            due, self._views_due = self._views_due, True
        if not due:
            self._views_wake.emit()

    def set_face_choice(self, choice: Any) -> None:
        """Which faces to change from the next frame on: None (the largest), "all", or the
        (x, y) frame point of the face the user clicked. Thread-safe."""
        with self._lock:
            self._face_choice = choice

    def set_mirror(self, mirror: bool) -> None:
        """Mirror live frames left-right from the next frame on. Thread-safe."""
        grabber = self._grabber
        if grabber is not None:
            grabber.mirror = mirror
        if self._live_spec is not None:
            self._live_spec.mirror = mirror

    def ack(self) -> None:
        """The GUI has drawn the last live result and can take another. Thread-safe."""
        self._gui_ready.set()

    def cancel_batch(self) -> None:
        """Stop a running batch after the current file (written files stay complete)."""
        self._cancel_batch.set()

    # ---- slots (queued: run on the worker thread) ----
    @Slot(str)
    def load_model(self, path: str) -> None:
        try:
            from fesgui.core import load_model

            model = load_model(path)
            model.warm_up()  # here, not on the first frame of a live preview
        except BaseException as exc:  # noqa: BLE001 - every error reaches the user
            self.error.emit(exc)
            self.model_failed.emit(str(path), _one_line(exc))
            return
        self._set_model(model)
        self.model_ready.emit(model, str(path))
        self._queue_views()

    @Slot(object)
    def start_live(self, spec: LiveSpec) -> None:
        self._end_live("switched")
        try:
            from fesgui.video import open_source

            source = open_source(spec.target, loop=spec.loop)
            # a camera paces itself; a file is played at its own frame rate
            pace = 0.0 if spec.is_camera else float(getattr(source, "fps", 0.0) or 25.0)
        except BaseException as exc:  # noqa: BLE001
            self.error.emit(exc)
            self.live_stopped.emit(spec, "could not open " + spec.describe())
            return
        self._live_spec = spec
        # a file standing in for a camera that changes on disk (truncated, replaced) is lost
        self._live_stamp = _file_stamp(spec.target) if spec.loop else None
        self._gui_ready.set()
        self._grabber = FrameGrabber(source, pace_fps=pace, mirror=spec.mirror)
        self._grabber.start()
        self.live_started.emit(spec, float(getattr(source, "fps", 0.0) or 0.0))
        QTimer.singleShot(0, self._live_step)

    @Slot()
    def stop_live(self) -> None:
        self._end_live("stopped")

    @Slot(str)
    def start_recording(self, path: str) -> None:
        self._finish_recording()
        self._record_path = path

    @Slot()
    def stop_recording(self) -> None:
        self._finish_recording()

    @Slot(object, str)
    def run_batch(self, files: list, out_dir: str) -> None:
        """Process ``files`` into ``out_dir`` with :func:`fesgui.batch.run_batch` (the loop
        of ``fesgui batch``): progress and the :class:`BatchReport` as signals. A batch
        that cannot start (no model, a read-only folder) is reported through ``error``
        and an empty report."""
        from fesgui.batch import run_batch

        self._cancel_batch.clear()
        report = BatchReport(len(files), Path(out_dir))
        try:
            pipeline = self._pipeline(video=False)
            if pipeline is None:
                raise FesguiError("no model loaded: choose a model before processing a folder")
            with self._lock:
                params = self._params
            if params is not None:
                pipeline.params = params
            report = run_batch(pipeline, files, out_dir, progress=self.batch_progress.emit,
                               cancel=self._cancel_batch)
        except BaseException as exc:  # noqa: BLE001 - every error reaches the user
            self.error.emit(exc)
        self.batch_finished.emit(report)

    # ---- internals ----
    def shutdown(self) -> None:
        """Release sources, writers and landmark detectors.

        Call after the thread has finished (then nothing else runs on this object).
        """
        self._end_live("closed")
        for source in self._landmarks.values():
            try:
                source.close()
            except Exception:  # noqa: BLE001, S110 - closing on exit must not raise
                pass
        self._landmarks.clear()
        self._pipelines.clear()

    def _set_model(self, model: Any) -> None:
        self._model = model
        for pipeline in self._pipelines.values():
            pipeline.model = model

    def _pipeline(self, video: bool) -> Any:
        """The pipeline for stills (``video=False``) or live frames, made on first use."""
        if self._model is None:
            return None
        pipeline = self._pipelines.get(video)
        if pipeline is None:
            from fesgui.pipeline import Pipeline

            source = self._landmarks.get(video)
            if source is None:
                source = self._landmarks_factory(video)
                if not video:
                    source = _SameFrameLandmarks(source)
                self._landmarks[video] = source
            pipeline = Pipeline(self._model, landmarks=source, cache=self._views,
                                with_views=True)
            pipeline.reuse_same_frame = not video  # a still whose sliders move
            pipeline.keep_aligned = not video  # live: one crop less per frame
            self._pipelines[video] = pipeline
        return pipeline

    def _process(self, frame: np.ndarray, video: bool, manual: Any = None) -> tuple[Any, Any]:
        """Run the pipeline (or pass the frame through when no model is loaded)."""
        from fesgui.pipeline import FrameResult

        with self._lock:
            params = self._params
            choice = self._face_choice
        pipeline = self._pipeline(video)
        if pipeline is None:
            result = FrameResult(frame=frame, composite=frame, faces=[], timings={},
                                 message="no model loaded: choose one or use Load model file…")
            return result, params
        if params is not None and pipeline.params != params:
            pipeline.params = params
        from fesgui.gui.face_picker import face_pick

        return pipeline.process(frame, manual=manual, pick=face_pick(choice)), params

    @Slot()
    def _send_views(self) -> None:
        """Emit :attr:`views_ready` for the current model and params (computed once per
        model and params: a frame processed with them reuses the same arrays)."""
        with self._lock:
            self._views_due = False
            params = self._params
        if self._model is None:
            return
        if params is None:
            from fesgui.pipeline import RefineParams

            params = RefineParams()
        try:
            views = self._views.model_views(self._model, params)
        except BaseException as exc:  # noqa: BLE001 - every error reaches the user
            self.error.emit(exc)
            return
        self.views_ready.emit(views)

    @Slot()
    def _on_wake(self) -> None:
        with self._lock:
            request, self._still = self._still, None
        if request is None:
            return
        try:
            with self._lock:
                self._params = request.params
            result, params = self._process(request.frame, video=False, manual=request.manual)
        except BaseException as exc:  # noqa: BLE001
            self.error.emit(exc)
            self.still_failed.emit(request.token)
            return
        info = FrameInfo("still", params, request.token, dict(result.timings), 0, self._model)
        self.result.emit(result, info)

    def _live_step(self) -> None:
        grabber = self._grabber
        if grabber is None:
            return
        item = grabber.take(_FRAME_WAIT)
        if item is None:
            if grabber.ended.is_set():
                self._source_ended(grabber)
            else:
                QTimer.singleShot(0, self._live_step)
            return
        frame, capture_ms, number, captured = item
        spec = self._live_spec
        if self._file_changed(spec):
            self._end_live("ended")  # its frames would loop the part still there, silently
            self.source_lost.emit(spec, _changed_while_playing(spec))
            return
        try:
            result, params = self._process(frame, video=True)
        except BaseException as exc:  # noqa: BLE001 - reported; the user may retry
            self.error.emit(exc)  # the one error channel: status line, or the bug dialog
            spec = self._live_spec
            self._end_live("ended")
            if spec is not None:  # offered Retry, as a lost camera is
                self.source_lost.emit(spec, f"{spec.describe()} stopped: {_one_line(exc)}")
            return
        self._record(result.composite, captured)
        self.frames_processed += 1
        if self._gui_ready.is_set():
            self._gui_ready.clear()
            timings = {"capture": capture_ms, **result.timings}
            info = FrameInfo("live", params, number, timings, grabber.overwritten, self._model,
                             self._live_spec)
            self.result.emit(result, info)
        else:
            grabber.overwritten += 1  # processed but not drawn: counts as dropped on screen
        QTimer.singleShot(0, self._live_step)

    def _file_changed(self, spec: LiveSpec | None) -> bool:
        """A looping file (the camera stand-in) was changed or cut short while playing."""
        return spec is not None and spec.loop and _file_stamp(spec.target) != self._live_stamp

    def _source_ended(self, grabber: FrameGrabber) -> None:
        spec = self._live_spec
        error = grabber.error
        self._end_live("ended")
        if self._file_changed(spec):  # the cause, whatever the decoder ran into after it
            self.source_lost.emit(spec, _changed_while_playing(spec))
            return
        if spec is not None and (spec.is_camera or spec.loop):  # a camera or its stand-in
            why = str(error or getattr(grabber.source, "error", None)
                      or "it stopped delivering frames")
            self.source_lost.emit(spec, f"lost {spec.describe()}: {why}")
            return
        if error is not None:
            self.error.emit(error)
            self.live_stopped.emit(spec, "video failed")
            return
        note = getattr(grabber.source, "error", None)  # skipped corrupt frames, early end
        self.live_stopped.emit(spec, f"video ended ({note})" if note else "video ended")

    def _end_live(self, why: str) -> None:
        grabber, self._grabber = self._grabber, None
        if grabber is None:
            return
        spec, self._live_spec = self._live_spec, None
        grabber.stop()
        self._finish_recording()
        if why not in ("ended", "closed"):
            self.live_stopped.emit(spec, why)

    def _record(self, composite: np.ndarray, captured: float) -> None:
        """Append a live composite to the recording, if one is running, at the time its
        frame arrived (the frames dropped while the worker was busy do not speed the
        recording up: before, a 30 fps camera processed at 15 fps played back twice as
        fast)."""
        if self._record_path is None:
            return
        try:
            if self._recorder is None:
                from fesgui.video import VideoWriter

                fps = float(getattr(self._grabber.source, "fps", 0.0) or 25.0)
                self._recorder = VideoWriter(self._record_path, fps,
                                             time_base=Fraction(1, 1000))
                self._record_start = captured
            self._recorder.write(composite, captured - self._record_start)
        except BaseException as exc:  # noqa: BLE001 - the stream goes on, the recording stops
            self.error.emit(exc)
            recorder, self._recorder, self._record_path = self._recorder, None, None
            if recorder is not None:
                recorder.abort()
            self.recording_finished.emit("")

    def _finish_recording(self) -> None:
        recorder, path = self._recorder, self._record_path
        self._recorder = None
        self._record_path = None
        if recorder is not None:
            try:
                recorder.close()
            except BaseException as exc:  # noqa: BLE001
                self.error.emit(exc)
                return
            self.recording_finished.emit(str(path))
