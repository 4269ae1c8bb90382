"""The controller: the app's behaviour, between the panels and the worker.

It lives on the main thread, owns the worker thread and the state of what is open
(an image, a folder, a video, a camera), the model and the refinement parameters.
Panels call its methods; it answers with signals the main window connects to views.
It computes nothing: frames go to the worker and results come back.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from fesgui.catalog import ModelInfo as ModelEntry  # a model the user can choose
from fesgui.catalog import list_all_models
from fesgui.errors import FesguiError
from fesgui.gui.notify import Notifier
from fesgui.gui.worker import FrameInfo, LiveSpec, StillRequest, Worker

# opened as videos by open_path (everything else that is not a folder or .npz is a photo)
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
STAGES = ("capture", "landmarks", "align", "shape", "synthesize", "refine", "paste", "draw")


def camera_spec(value: int | str) -> LiveSpec:
    """A camera index (int or digits) or a video file standing in for a camera (looped)."""
    if isinstance(value, int) or str(value).strip().isdigit():
        return LiveSpec(int(value))
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise FesguiError(f"camera {value!r} is neither a camera number nor a video file: "
                          "give an index like 0 or the path of a video")
    return LiveSpec(str(path), loop=True)


def _rank(e: ModelEntry) -> tuple:
    """Start-up preference: the shipped default (:data:`fesgui.catalog.DEFAULT_MODEL`, the
    best-measured neutral -> happy model), then neutral -> happy, MR, the smallest window,
    the smallest image."""
    from fesgui.catalog import DEFAULT_MODEL

    m = e.meta
    return (e.path.stem != DEFAULT_MODEL,
            (m.get("source"), m.get("target")) != ("neutral", "happy"),
            m.get("method") != "mr", int(m.get("size") or 0),
            min(m.get("image_size") or [0]), e.name)


class Controller(QObject):
    """What the app does; see the module docstring."""

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
    cameras_found = Signal(list)  # [(index, width, height)]
    batch_progress = Signal(int, int, str)
    batch_finished = Signal(object)  # BatchReport
    recording_changed = Signal(bool, str)  # recording, path

    # requests to the worker (queued: they run on the worker thread)
    _req_load_model = Signal(str)
    _req_start_live = Signal(object)
    _req_stop_live = Signal()
    _req_start_recording = Signal(str)
    _req_stop_recording = Signal()
    _req_batch = Signal(object, str)

    def __init__(self, notifier: Notifier, landmarks_factory: Any = None) -> None:
        super().__init__()
        self.notifier = notifier
        self.worker = Worker(landmarks_factory)
        self.thread = QThread()
        self.thread.setObjectName("fesgui-worker")
        self.worker.moveToThread(self.thread)
        self._connect_worker()
        self.thread.start()

        from fesgui.pipeline import RefineParams

        self.params = RefineParams()
        self.defaults = (None, None)  # (dilation_radius, blur_sigma) of the model's size
        self.model: Any = None
        self.model_entry: ModelEntry | None = None
        self.entries: list[ModelEntry] = []
        self.frame: np.ndarray | None = None  # the still image on screen (RGB uint8)
        self.frame_path: Path | None = None
        self.manual: Any = None  # FaceLandmarks placed by hand for the current image
        self.face_choice: Any = None  # None (largest face), "all", or (x, y) of a clicked face
        self.folder: list[Path] = []
        self.index = -1
        self.video_path: Path | None = None
        self.camera: int | str = 0
        self.mirror = False
        self.live = False
        self.live_spec: LiveSpec | None = None
        self.last_result: Any = None
        self._frame_message: str | None = None  # the last frame message sent to `status`
        self.last_info: FrameInfo | None = None
        self.recording: str | None = None
        self.frames_shown = 0  # results drawn
        self.faces_shown = 0  # results drawn that had a face
        self._token = 0
        self._live_token = 0
        self._still_busy = False
        self._still_dirty = False
        self._arrivals: collections.deque[float] = collections.deque(maxlen=30)
        self._closed = False
        self._fallbacks: list[Path] = []  # models to try if the one loading fails
        self._skipped: list[str] = []  # "name: why" of models that failed on the way

    def _connect_worker(self) -> None:
        w = self.worker
        self._req_load_model.connect(w.load_model)
        self._req_start_live.connect(w.start_live)
        self._req_stop_live.connect(w.stop_live)
        self._req_start_recording.connect(w.start_recording)
        self._req_stop_recording.connect(w.stop_recording)
        self._req_batch.connect(w.run_batch)
        w.result.connect(self._on_result)
        w.views_ready.connect(self.views_ready)
        w.error.connect(self._on_error)
        w.still_failed.connect(self._on_still_failed)
        w.model_ready.connect(self._on_model_ready)
        w.model_failed.connect(self._on_model_failed)
        w.live_started.connect(self._on_live_started)
        w.live_stopped.connect(self._on_live_stopped)
        w.source_lost.connect(self._on_source_lost)
        w.batch_progress.connect(self.batch_progress)
        w.batch_finished.connect(self.batch_finished)
        w.recording_finished.connect(self._on_recording_finished)

    # ---- models ----
    def refresh_models(self, extra: list[Path] = ()) -> list[ModelEntry]:
        """List the installed models, the user's trained ones (plus loaded files still present)."""
        entries = list_all_models()
        known = {e.path.resolve() for e in entries}
        for e in self.entries:
            if e.path.resolve() not in known and e.path.exists():
                entries.append(e)
                known.add(e.path.resolve())
        for path in extra:
            if Path(path).resolve() not in known:
                entries.append(self._entry_for(Path(path)))
        self.entries = entries
        self.models_listed.emit(entries)
        return entries

    def default_entry(self) -> ModelEntry | None:
        """The model to start with: the shipped default (:data:`fesgui.catalog.DEFAULT_MODEL`,
        the best-measured neutral -> happy model), else neutral -> happy first, then MR, then
        the smallest window, then the smallest image (the fastest for live video)."""
        return min(self.entries, key=_rank, default=None)

    def _entry_for(self, path: Path) -> ModelEntry:
        from fesgui.core import read_meta

        path = Path(path)
        if not path.is_file():
            raise FesguiError(f"model file {path} does not exist: check the path")
        meta = read_meta(path)
        return ModelEntry(str(meta.get("name") or path.stem), path, dict(meta),
                          path.stat().st_size)

    def ranked_entries(self) -> list[ModelEntry]:
        """The listed models in the order :meth:`default_entry` prefers them."""
        return sorted(self.entries, key=_rank)

    def select_model(self, path: str | Path, fallbacks: Sequence[str | Path] = ()) -> None:
        """Load the model at ``path`` (on the worker); ``model_changed`` follows. If it
        cannot be used, the ``fallbacks`` are tried in turn (at start-up: the next usable
        installed model), and the status line names the ones skipped."""
        self._fallbacks = [Path(p) for p in fallbacks if Path(p) != Path(path)]
        path = Path(path)
        if all(e.path != path for e in self.entries):
            entry = self._entry_for(path)  # FesguiError here for a file that is not a model
            self.entries.append(entry)
            self.models_listed.emit(self.entries)
        self.status.emit(f"loading model {path.name}…")
        self._req_load_model.emit(str(path))

    def entry_for_path(self, path: str | Path) -> ModelEntry | None:
        path = Path(path)
        return next((e for e in self.entries if e.path == path), None)

    def _on_model_ready(self, model: Any, path: str) -> None:
        self.model = model
        self.model_entry = self.entry_for_path(path) if path else None
        self.defaults = self._defaults_for(model)
        self.model_changed.emit(model, self.model_entry)
        name = self.model_entry.name if self.model_entry else "model"
        skipped, self._skipped, self._fallbacks = self._skipped, [], []
        self.status.emit(f"model {name} ready" + (
            f" (skipped unusable {'; '.join(skipped)})" if skipped else ""))
        self.reprocess()

    def _on_model_failed(self, path: str, why: str) -> None:
        """A model did not load: try the next fallback, if any (the error is on screen)."""
        if not self._fallbacks:
            self._skipped = []
            return
        self._skipped.append(f"{Path(path).name}: {why}")
        following, *rest = self._fallbacks
        try:
            self.select_model(following, rest)
        except FesguiError:  # not even its metadata reads: the next one
            self._on_model_failed(str(following), "not a model file")

    @staticmethod
    def _defaults_for(model: Any) -> tuple[int | None, float | None]:
        if model is None:
            return (None, None)
        from fesgui.core import default_blur_sigma, default_dilation_radius

        h, w = (int(v) for v in model.meta["image_size"])
        return int(default_dilation_radius(h, w)), float(default_blur_sigma(h, w))

    # ---- refinement ----
    def set_params(self, params: Any) -> None:
        """New slider values: re-run the current still image (coalesced) or the next live frame."""
        self.params = params
        self.worker.set_params(params)
        self.params_changed.emit(params)
        if not self.live:
            self.reprocess()

    def reset_params(self) -> None:
        from fesgui.pipeline import RefineParams

        self.set_params(RefineParams())

    # ---- still images ----
    def open_path(self, path: str | Path) -> None:
        """Open a photo, a folder of photos, a video file, or a model file (.npz)."""
        path = Path(path).expanduser()
        if path.is_dir():
            self.open_folder(path)
        elif not path.exists():
            raise FesguiError(f"{path} does not exist: check the path")
        elif path.suffix.lower() == ".npz":
            self.select_model(path)
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            self.open_video(path)
        else:
            self.open_image(path)

    def open_image(self, path: str | Path, keep_folder: bool = False) -> None:
        from fesgui.imageio import read_image

        path = Path(path)
        frame = read_image(path)
        self.stop_live()
        if not keep_folder:
            self.folder, self.index = [], -1
            self.folder_listed.emit([])
        self.video_path = None
        self.show_frame(frame, path)
        self.source_opened.emit("image", str(path))

    def show_frame(self, frame: np.ndarray, path: Path | None = None) -> None:
        """Make ``frame`` (H, W, 3) uint8 RGB the current still image and process it."""
        self.frame = frame
        self.frame_path = path
        self.manual = None
        if isinstance(self.face_choice, tuple):  # a face clicked on the previous image
            self.face_choice = None
            self.worker.set_face_choice(None)
        self._token += 1
        self.reprocess()

    def open_folder(self, folder: str | Path) -> None:
        from fesgui.imageio import list_images

        folder = Path(folder)
        files = [Path(p) for p in list_images(folder)]
        if not files:
            raise FesguiError(f"no images in {folder}: choose a folder with .jpg or .png files")
        self.stop_live()
        self.folder = files
        self.folder_listed.emit(files)
        self.source_opened.emit("folder", str(folder))
        self.go_to(0)

    def go_to(self, index: int) -> None:
        """Show image ``index`` of the open folder (clamped)."""
        if not self.folder:
            return
        index = max(0, min(index, len(self.folder) - 1))
        if index == self.index and self.frame is not None:
            return
        self.index = index
        self.folder_index.emit(index)
        try:
            self.open_image(self.folder[index], keep_folder=True)
        except FesguiError as exc:  # one bad photo: say so, keep the folder open
            self.notifier.report(exc)

    def step(self, delta: int) -> None:
        self.go_to(self.index + delta)

    def check_can_place(self) -> None:
        """A one-line error unless a still image is on screen (placing landmarks needs one)."""
        if self.frame is None or self.live:
            raise FesguiError("place landmarks on a still image: open a photo (or stop live) first")

    def set_manual_landmarks(self, left_eye: tuple[float, float], right_eye: tuple[float, float],
                             mouth_centre: tuple[float, float]) -> None:
        """Use hand-placed points (x, y in frame pixels) for the current still image."""
        from fesgui.align import manual_landmarks

        self.check_can_place()
        self.manual = manual_landmarks(left_eye, right_eye, mouth_centre)
        self.reprocess()

    def reprocess(self) -> None:
        """Run the current still image again (at most one request in flight)."""
        if self.frame is None or self.live:
            return
        if self._still_busy:
            self._still_dirty = True
            return
        self._still_busy = True
        self._still_dirty = False
        self.worker.submit_still(StillRequest(self.frame, self.params, self.manual, self._token))

    def set_face_choice(self, choice: Any) -> None:
        """Which faces to change: None (the largest), "all", or the (x, y) frame point of
        the face the user clicked (see :mod:`fesgui.gui.face_picker`)."""
        self.face_choice = choice
        self.worker.set_face_choice(choice)
        self.reprocess()

    # ---- live ----
    def open_video(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise FesguiError(f"video {path} does not exist: check the path")
        self.video_path = path
        self.folder, self.index = [], -1
        self.folder_listed.emit([])
        self.source_opened.emit("video", str(path))
        self.start_live(LiveSpec(str(path), loop=False, mirror=self.mirror))

    def start_camera(self, camera: int | str | None = None) -> None:
        """Start camera ``camera`` (index, or a video file standing in for one)."""
        if camera is not None:
            self.camera = camera
        spec = camera_spec(self.camera)
        spec.mirror = self.mirror
        self.source_opened.emit("camera", spec.describe())
        self.start_live(spec)

    def start_live(self, spec: LiveSpec) -> None:
        spec = replace(spec)  # a new object per stream: events of older streams are ignored
        self.live_spec = spec
        self._live_token = self._token
        self.live = True
        self._arrivals.clear()
        self._req_start_live.emit(spec)

    def toggle_live(self) -> None:
        """Space: stop a running stream, or (re)start the open video or the camera."""
        if self.live:
            self.stop_live()
        elif self.video_path is not None:
            self.start_live(LiveSpec(str(self.video_path), loop=False, mirror=self.mirror))
        else:
            self.start_camera()

    def retry_live(self) -> None:
        if self.live_spec is not None:
            self.start_live(self.live_spec)
        else:
            self.start_camera()

    def stop_live(self) -> None:
        if not self.live:
            return
        self.live = False
        self._req_stop_live.emit()

    def set_mirror(self, mirror: bool) -> None:
        self.mirror = bool(mirror)
        self.worker.set_mirror(self.mirror)

    def probe_cameras(self) -> None:
        """Find cameras that open, off the UI thread; ``cameras_found`` follows."""
        from fesgui.gui.tasks import run_in_thread

        def probe() -> list[tuple[int, int, int]]:
            from fesgui.video import probe_cameras

            return probe_cameras()

        run_in_thread(probe, self.cameras_found.emit, self.notifier.report)

    def _on_live_started(self, spec: LiveSpec, fps: float) -> None:
        if spec is not self.live_spec:
            return
        rate = f" at {fps:.0f} fps" if fps else ""
        self.live_changed.emit(True, spec.describe())
        self.status.emit(f"live: {spec.describe()}{rate}")

    def _on_live_stopped(self, spec: LiveSpec, why: str) -> None:
        if spec is not self.live_spec:
            return  # an older stream, replaced by the current one
        self.live = False
        self._live_ended()
        self.live_changed.emit(False, why)
        if not why.startswith("could not open"):  # then the error itself is on screen
            self.status.emit("live stopped" if why == "stopped" else why)

    def _on_source_lost(self, spec: LiveSpec, message: str) -> None:
        if spec is not self.live_spec:
            return
        self.live = False
        self._live_ended()
        self.live_changed.emit(False, "lost")
        self.stats.emit("")  # no frame rate of a stream that stopped
        self.source_lost.emit(message)

    def _live_ended(self) -> None:
        """After a stream ends: stop recording; its last frame becomes the still image."""
        if self.recording:
            self.stop_recording()
        opened_since = self._token != self._live_token  # a photo was opened meanwhile
        if not opened_since and self.last_info is not None and self.last_info.kind == "live":
            self.frame = self.last_result.frame
            self.frame_path = None
            self.manual = None
            self._token += 1

    # ---- results ----
    def _on_result(self, result: Any, info: FrameInfo) -> None:
        if self._closed:
            return
        if info.kind == "still":
            self._still_busy = False
            if info.token != self._token or self.live:
                self._continue_still()
                return  # a result for an image no longer on screen
        elif not self.live or info.spec is not self.live_spec:
            self.worker.ack()
            return
        self.last_result = result
        self.last_info = info
        t0 = time.perf_counter()
        self.result_ready.emit(result, info)
        info.timings["draw"] = (time.perf_counter() - t0) * 1000.0
        self.frames_shown += 1
        self.faces_shown += bool(result.faces)
        self._arrivals.append(time.perf_counter())
        self.stats.emit(self.stats_text(info))
        if result.message:
            self.status.emit(result.message)
            self._frame_message = result.message
        elif self._frame_message:  # e.g. "no face found" from a frame or two ago
            self.status_outdated.emit(self._frame_message)
            self._frame_message = None
        if info.kind == "live":
            self.worker.ack()
        else:
            self._continue_still()

    @property
    def still_pending(self) -> bool:
        """A still image is being processed or waits to be processed again."""
        return self._still_busy or self._still_dirty

    def _continue_still(self) -> None:
        if self._still_dirty:
            self.reprocess()

    def fps(self) -> float:
        """Frames drawn per second over the last 30 live frames (0 when not live)."""
        if len(self._arrivals) < 2:
            return 0.0
        span = self._arrivals[-1] - self._arrivals[0]
        return (len(self._arrivals) - 1) / span if span > 0 else 0.0

    def stats_text(self, info: FrameInfo) -> str:
        """'24.8 fps · dropped 3 · capture 1.2 · landmarks 4.0 · … ms' for a result."""
        parts = [f"{k} {info.timings[k]:.1f}" for k in STAGES if k in info.timings]
        text = " · ".join(parts) + " ms" if parts else ""
        if info.kind == "live":
            text = f"{self.fps():.1f} fps · dropped {info.dropped} · " + text
        return text

    def _on_error(self, exc: BaseException) -> None:
        self.notifier.report(exc)

    def _on_still_failed(self, _token: int) -> None:
        self._still_busy = False
        self._continue_still()

    # ---- saving ----
    def save_result(self, path: str | Path, what: str = "frame") -> Path:
        """Write the current result: ``what`` = "frame" (pasted back) or "crop" (final crop)."""
        from fesgui.imageio import to_uint8, write_image
        from fesgui.outputs import check_output

        result = self.last_result
        if result is None:
            raise FesguiError("nothing to save yet: open a photo or start the camera first")
        path = check_output(path, [self.frame_path] if self.frame_path else [],
                            what="the file")  # never over the open photo
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise FesguiError(f"cannot save {path.name}: use a .png or .jpg file name")
        if what == "crop":
            if not result.faces:
                raise FesguiError("no face in the current result: save the full frame instead")
            image = to_uint8(result.faces[0].final)
        else:
            image = result.composite
        write_image(path, image)
        self.status.emit(f"saved {path}")
        return path

    def check_can_record(self) -> None:
        """A one-line error unless a live source is running (recording needs one)."""
        if not self.live:
            raise FesguiError("recording needs a live source: start the camera or a video first")

    def start_recording(self, path: str | Path) -> None:
        from fesgui.video import CODECS  # the formats the recorder can write

        self.check_can_record()
        path = Path(path)
        if path.suffix.lower() not in CODECS:
            raise FesguiError(f"cannot record to {path.name}: use a .avi or .mp4 file name")
        self.recording = str(path)
        self._req_start_recording.emit(str(path))
        self.recording_changed.emit(True, str(path))

    def stop_recording(self) -> None:
        if self.recording is None:
            return
        self._req_stop_recording.emit()

    def _on_recording_finished(self, path: str) -> None:
        """The worker closed the recording (``path`` is empty if it failed: nothing written)."""
        self.recording = None
        self.recording_changed.emit(False, path)
        if path:
            self.status.emit(f"recorded {path}")

    def batch_folder(self, out_dir: str | Path) -> int:
        """Process the open folder into ``out_dir`` on the worker; returns the file count."""
        if not self.folder:
            raise FesguiError("no folder open: open a folder of photos first")
        if self.model is None:
            raise FesguiError("no model loaded: choose a model before processing a folder")
        out = Path(out_dir)
        if not out.is_dir():
            raise FesguiError(f"output folder {out} does not exist: create it or choose another")
        if any(out.resolve() == p.parent.resolve() for p in self.folder[:1]):
            raise FesguiError("the output folder is the input folder: choose another folder")
        self.stop_live()
        self._req_batch.emit(list(self.folder), str(out))
        return len(self.folder)

    def cancel_batch(self) -> None:
        self.worker.cancel_batch()

    # ---- shutdown ----
    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop the worker thread and release everything it holds."""
        if self._closed:
            return
        self._closed = True
        self.worker.cancel_batch()
        self.live = False
        self._req_stop_live.emit()
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            self.thread.terminate()
            self.thread.wait(1000)
        self.worker.shutdown()
