"""The controller: the Qt adapter between the panels, the session and the worker thread.

The app's state and rules live in a Qt-free :class:`fesgui.session.Session`; this class
owns the worker thread, hands the session's requests to the worker (queued signals, or
the worker's thread-safe methods), feeds the worker's answers back to the session, and
re-emits the session's events as the Qt signals below, which the main window connects to
the views. Panels call the same methods as before (``open_path``, ``set_params``, ...):
they are the session's, forwarded. It computes nothing.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from fesgui.catalog import ModelInfo as ModelEntry  # noqa: F401 - a model the user can choose
from fesgui.gui.notify import Notifier
from fesgui.gui.worker import StillRequest, Worker
from fesgui.params import RefineParams
from fesgui.session import (  # noqa: F401 - the panels import these from here
    STAGES,
    VIDEO_SUFFIXES,
    LiveSpec,
    Session,
    SessionEvents,
    camera_spec,
)

log = logging.getLogger(__name__)


class _WorkerBackend(QObject):
    """The session's :class:`~fesgui.session.Backend`: requests to the worker, queued onto
    its thread (slots) or passed to its thread-safe methods."""

    _load_model = Signal(str)
    _start_live = Signal(object)
    _stop_live = Signal()
    _start_recording = Signal(str)
    _stop_recording = Signal()
    _run_batch = Signal(object, str)

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker
        self._load_model.connect(worker.load_model)
        self._start_live.connect(worker.start_live)
        self._stop_live.connect(worker.stop_live)
        self._start_recording.connect(worker.start_recording)
        self._stop_recording.connect(worker.stop_recording)
        self._run_batch.connect(worker.run_batch)
        # thread-safe: called directly
        self.set_params = worker.set_params
        self.set_face_choice = worker.set_face_choice
        self.set_mirror = worker.set_mirror
        self.ack = worker.ack
        self.cancel_batch = worker.cancel_batch

    def load_model(self, path: str) -> None:
        self._load_model.emit(path)

    def start_live(self, spec: LiveSpec) -> None:
        self._start_live.emit(spec)

    def stop_live(self) -> None:
        self._stop_live.emit()

    def submit_still(self, frame: Any, params: RefineParams, manual: Any, token: int) -> None:
        self.worker.submit_still(StillRequest(frame, params, manual, token))

    def start_recording(self, path: str) -> None:
        self._start_recording.emit(path)

    def stop_recording(self) -> None:
        self._stop_recording.emit()

    def run_batch(self, files: list[Path], out_dir: str) -> None:
        self._run_batch.emit(files, out_dir)


def _forward(name: str) -> Any:
    """A controller method that calls the session's method ``name``."""
    method = getattr(Session, name)

    @functools.wraps(method)
    def call(self: Controller, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.session, name)(*args, **kwargs)

    return call


def _state(name: str, writable: bool = False) -> property:
    """The session's attribute ``name``, read (and written) through the controller."""
    def get(self: Controller) -> Any:
        return getattr(self.session, name)

    def put(self: Controller, value: Any) -> None:
        setattr(self.session, name, value)

    return property(get, put if writable else None, doc=f"``session.{name}``")


class Controller(QObject):
    """The session's Qt face; see the module docstring."""

    # the session's events, as Qt signals (same names and arguments: fesgui.session)
    result_ready = Signal(object, object)  # FrameResult, FrameInfo (draw it)
    views_ready = Signal(object)  # fesgui.views.ModelViews without a frame (draw it)
    status = Signal(str)  # a transient message for the status bar
    status_outdated = Signal(str)  # a frame's message (no face) that a later frame disproved
    stats = Signal(str)  # fps and per-stage milliseconds
    models_listed = Signal(list)  # [ModelEntry]
    model_changed = Signal(object, object)  # model, ModelEntry | None
    params_changed = Signal(object)  # RefineParams
    live_changed = Signal(bool, str)  # running, description
    source_lost = Signal(str)
    source_opened = Signal(str, str)  # kind ("image", "folder", "video", "camera"), path
    folder_listed = Signal(list)  # [Path] of the open folder
    folder_index = Signal(int)
    recording_changed = Signal(bool, str)  # recording, path
    # from the controller itself or straight from the worker
    cameras_found = Signal(list)  # [(index, width, height)]
    batch_progress = Signal(int, int, str)
    batch_finished = Signal(object)  # BatchReport

    def __init__(self, notifier: Notifier, landmarks_factory: Any = None) -> None:
        super().__init__()
        self.notifier = notifier
        self.worker = Worker(landmarks_factory)
        self.thread = QThread()
        self.thread.setObjectName("fesgui-worker")
        self.worker.moveToThread(self.thread)
        self.backend = _WorkerBackend(self.worker)
        self.session = Session(self.backend)
        for event in self.session.events:  # same thread: plain calls
            if event.name == "error":
                event.connect(notifier.report)
            else:
                event.connect(getattr(self, event.name).emit)
        self._connect_worker()
        self.thread.start()

    def _connect_worker(self) -> None:
        # The receivers are this QObject's slots (not the session's plain methods), so
        # the answers run on the main thread, where the session lives.
        w = self.worker
        w.result.connect(self._on_result)
        w.views_ready.connect(self.views_ready)
        w.error.connect(self._on_error)
        w.still_failed.connect(self._on_still_failed)
        w.model_ready.connect(self._on_model_ready)
        w.model_failed.connect(self._on_model_failed)
        w.live_started.connect(self._on_live_started)
        w.live_stopped.connect(self._on_live_stopped)
        w.source_lost.connect(self._on_source_lost)
        w.recording_finished.connect(self._on_recording_finished)
        w.batch_progress.connect(self.batch_progress)
        w.batch_finished.connect(self.batch_finished)

    # ---- the worker's answers, handed to the session (on the main thread) ----
    @Slot(object, object)
    def _on_result(self, result: Any, info: Any) -> None:
        self.session.on_result(result, info)

    @Slot(object)
    def _on_error(self, exc: BaseException) -> None:
        self.notifier.report(exc)

    @Slot(int)
    def _on_still_failed(self, token: int) -> None:
        self.session.on_still_failed(token)

    @Slot(object, str)
    def _on_model_ready(self, model: Any, path: str) -> None:
        self.session.on_model_ready(model, path)

    @Slot(str, str)
    def _on_model_failed(self, path: str, why: str) -> None:
        self.session.on_model_failed(path, why)

    @Slot(object, float)
    def _on_live_started(self, spec: LiveSpec, fps: float) -> None:
        self.session.on_live_started(spec, fps)

    @Slot(object, str)
    def _on_live_stopped(self, spec: LiveSpec, why: str) -> None:
        self.session.on_live_stopped(spec, why)

    @Slot(object, str)
    def _on_source_lost(self, spec: LiveSpec, message: str) -> None:
        self.session.on_source_lost(spec, message)

    @Slot(str)
    def _on_recording_finished(self, path: str) -> None:
        self.session.on_recording_finished(path)

    # ---- the session's state and methods, for the panels and the window ----
    params = _state("params")
    defaults = _state("defaults")
    model = _state("model")
    model_entry = _state("model_entry")
    entries = _state("entries")
    frame = _state("frame")
    frame_path = _state("frame_path")
    folder = _state("folder")
    index = _state("index")
    video_path = _state("video_path")
    camera = _state("camera", writable=True)  # the camera the next start uses
    mirror = _state("mirror")
    live = _state("live")
    live_spec = _state("live_spec")
    last_result = _state("last_result", writable=True)  # None: the screenshots' clean slate
    last_info = _state("last_info")
    recording = _state("recording")
    frames_shown = _state("frames_shown")
    faces_shown = _state("faces_shown")
    still_pending = _state("still_pending")

    refresh_models = _forward("refresh_models")
    default_entry = _forward("default_entry")
    ranked_entries = _forward("ranked_entries")
    entry_for_path = _forward("entry_for_path")
    select_model = _forward("select_model")
    set_params = _forward("set_params")
    update_params = _forward("update_params")
    reset_params = _forward("reset_params")
    open_path = _forward("open_path")
    open_image = _forward("open_image")
    show_frame = _forward("show_frame")
    open_folder = _forward("open_folder")
    go_to = _forward("go_to")
    step = _forward("step")
    check_can_place = _forward("check_can_place")
    set_manual_landmarks = _forward("set_manual_landmarks")
    reprocess = _forward("reprocess")
    set_face_choice = _forward("set_face_choice")
    open_video = _forward("open_video")
    start_camera = _forward("start_camera")
    start_live = _forward("start_live")
    toggle_live = _forward("toggle_live")
    retry_live = _forward("retry_live")
    stop_live = _forward("stop_live")
    set_mirror = _forward("set_mirror")
    fps = _forward("fps")
    steady_fps = _forward("steady_fps")
    stats_text = _forward("stats_text")
    check_can_save = _forward("check_can_save")
    save_result = _forward("save_result")
    check_can_record = _forward("check_can_record")
    start_recording = _forward("start_recording")
    stop_recording = _forward("stop_recording")
    check_can_batch = _forward("check_can_batch")
    batch_folder = _forward("batch_folder")
    cancel_batch = _forward("cancel_batch")

    def probe_cameras(self) -> None:
        """Find cameras that open, off the UI thread; ``cameras_found`` follows."""
        from fesgui.gui.tasks import run_in_thread

        def probe() -> list[tuple[int, int, int]]:
            from fesgui.video import probe_cameras

            return probe_cameras()

        run_in_thread(probe, self.cameras_found.emit, self.notifier.report)

    # ---- shutdown ----
    def shutdown(self, timeout_ms: int = 5000, patience_ms: int = 60000) -> bool:
        """Stop the worker thread and release everything it holds; True once it stopped.

        Live and any batch are stopped first, so the worker only finishes the step it is
        in (one frame, one batch photo, a model load, opening a source: all bounded). If
        that takes longer than ``timeout_ms``, a log line says so and the wait goes on up to
        ``patience_ms``; a thread still running then (a stuck camera driver) is left alone,
        with an error in the log. No ``QThread.terminate()``: it cannot stop a thread that
        runs Python (measured: the thread kept running and Qt aborted the app on exit).
        """
        if self.session.closed:
            return not self.thread.isRunning()
        self.session.close()
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            log.warning("the worker is still busy %.1f s after the app asked it to stop; "
                        "waiting up to %.0f s for its current step to end",
                        timeout_ms / 1000, patience_ms / 1000)
            if not self.thread.wait(patience_ms):
                log.error("the worker thread did not stop: its resources are not released "
                          "(a camera or file may stay open until the process ends)")
                return False
        self.worker.shutdown()
        return True
