"""The app's state and rules, without Qt: what is open, the model, the parameters, live.

A :class:`Session` is the one source of truth the window shows (in the spirit of napari's
evented models): what is open (a photo, a folder and its index, a video, a camera), the
model list and the chosen model, the frozen, validated :class:`~fesgui.params.RefineParams`,
the live state (running, which stream, the frame-rate meter), the recording, and the
checks ("can I save / record / place landmarks / process the folder now?"), each a one-line
:class:`~fesgui.errors.FesguiError` with the way out.

It computes nothing and owns no thread. Work goes to a :class:`Backend` (in the app: the
worker thread, through :class:`fesgui.gui.controller.Controller`; in tests: a recorder);
answers come back through the ``on_*`` methods. Every change is announced on
:attr:`Session.events` (plain-Python :class:`Event` objects, named like the controller's Qt
signals, which only forward them). Runs and is tested without Qt or a display.

Data flow::

    panels -> Controller (Qt) -> Session (state, rules) -> Backend -> Worker (thread)
    Worker signals -> Controller -> Session.on_* -> Session.events -> Controller signals -> views
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from fesgui.catalog import ModelInfo as ModelEntry  # a model the user can choose
from fesgui.errors import FesguiError
from fesgui.params import RefineParams

# opened as videos by open_path (everything else that is not a folder or .npz is a photo)
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
#: the per-stage timings the stats line shows, in order (ms)
STAGES = ("capture", "landmarks", "align", "shape", "synthesize", "refine", "paste", "draw")
#: live frames the fps meter averages over
FPS_WINDOW = 30
#: seconds of a live stream left out of :meth:`Session.steady_fps` (the first frames wait
#: for MediaPipe and the model's first run)
SETTLE_S = 2.0


class Event:
    """A plain-Python signal: ``connect(callback)``, ``emit(*args)`` calls every callback in
    the order connected, on the emitting thread (the session is used from one thread)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._callbacks)} connected)"


class SessionEvents:
    """The events a :class:`Session` emits (arguments in brackets)."""

    NAMES = (
        "result_ready",  # (FrameResult, FrameInfo): draw it
        "status",  # (str): a transient message for the status bar
        "status_outdated",  # (str): a frame's message that a later frame disproved
        "stats",  # (str): fps and per-stage milliseconds
        "models_listed",  # ([ModelEntry])
        "model_changed",  # (model, ModelEntry | None)
        "params_changed",  # (RefineParams)
        "live_changed",  # (running: bool, description: str)
        "source_lost",  # (message: str): a camera stopped; Retry is offered
        "source_opened",  # (kind: "image" | "folder" | "video" | "camera", path: str)
        "folder_listed",  # ([Path]) of the open folder ([] when none)
        "folder_index",  # (int)
        "recording_changed",  # (recording: bool, path: str)
        "error",  # (BaseException): to be reported (one bad photo of a folder, ...)
    )

    def __init__(self) -> None:
        for name in self.NAMES:
            setattr(self, name, Event(name))

    def __iter__(self):
        return (getattr(self, name) for name in self.NAMES)


@dataclass
class LiveSpec:
    """What to stream: a camera index, or a video file (``loop`` makes it a camera stand-in).
    Each stream gets its own object: events of an older stream are recognised by identity."""

    target: int | str
    loop: bool = False
    mirror: bool = False

    @property
    def is_camera(self) -> bool:
        return isinstance(self.target, int)

    def describe(self) -> str:
        return f"camera {self.target}" if self.is_camera else Path(str(self.target)).name


def camera_spec(value: int | str) -> LiveSpec:
    """A camera index (int or digits) or a video file standing in for a camera (looped)."""
    if isinstance(value, int) or str(value).strip().isdigit():
        return LiveSpec(int(value))
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise FesguiError(f"camera {value!r} is neither a camera number nor a video file: "
                          "give an index like 0 or the path of a video")
    return LiveSpec(str(path), loop=True)


class Backend(Protocol):
    """What a session asks of the worker. Each call returns at once; the answers come back
    through the session's ``on_*`` methods (on the session's thread)."""

    def load_model(self, path: str) -> None: ...  # -> on_model_ready / on_model_failed
    def start_live(self, spec: LiveSpec) -> None: ...  # -> on_live_started / on_live_stopped
    def stop_live(self) -> None: ...  # -> on_live_stopped
    def submit_still(self, frame: Any, params: RefineParams, manual: Any,
                     token: int) -> None: ...  # -> on_result / on_still_failed
    def set_params(self, params: RefineParams) -> None: ...
    def set_face_choice(self, choice: Any) -> None: ...
    def set_mirror(self, mirror: bool) -> None: ...
    def ack(self) -> None: ...  # the last live result is drawn: send the next one
    def start_recording(self, path: str) -> None: ...
    def stop_recording(self) -> None: ...  # -> on_recording_finished
    def run_batch(self, files: list[Path], out_dir: str) -> None: ...
    def cancel_batch(self) -> None: ...


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


class Session:
    """What is open and what may be done with it; see the module docstring.

    State (read freely; change it through the methods): ``params``, ``model``,
    ``model_entry``, ``entries``, ``defaults`` ((dilation_radius, blur_sigma) of the model's
    size), ``frame`` / ``frame_path`` / ``manual`` / ``face_choice`` (the still image),
    ``folder`` / ``index``, ``video_path``, ``camera``, ``mirror``, ``live`` / ``live_spec``,
    ``last_result`` / ``last_info``, ``recording``, ``frames_shown`` / ``faces_shown``.
    ``clock`` (seconds) times the fps meter and the draw stage.
    """

    def __init__(self, backend: Backend, clock: Callable[[], float] = time.perf_counter
                 ) -> None:
        self.backend = backend
        self.clock = clock
        self.events = SessionEvents()
        self.params = RefineParams()
        self.defaults: tuple[int | None, float | None] = (None, None)
        self.model: Any = None
        self.model_entry: ModelEntry | None = None
        self.entries: list[ModelEntry] = []
        self.frame: Any = None  # the still image on screen, (H, W, 3) uint8 RGB
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
        self.last_info: Any = None
        self.recording: str | None = None
        self.frames_shown = 0  # results drawn
        self.faces_shown = 0  # results drawn that had a face
        self.closed = False  # after shutdown: results are ignored
        self._frame_message: str | None = None  # the last frame message sent to `status`
        self._token = 0  # names the still image on screen; changes when another is shown
        self._live_token = 0  # _token when the stream started
        self._still_busy = False  # a still request is on the worker
        self._still_dirty = False  # ... and another one waits for it
        self._arrivals: collections.deque[float] = collections.deque(maxlen=FPS_WINDOW)
        # the stream's live results drawn: (time, count) of the first, of the first after
        # SETTLE_S, of the last (steady_fps)
        self._live_marks: list[tuple[float, int]] = []
        self._fallbacks: list[Path] = []  # models to try if the one loading fails
        self._skipped: list[str] = []  # "name: why" of models that failed on the way

    # ---- models ----
    def refresh_models(self, extra: Sequence[Path] = ()) -> list[ModelEntry]:
        """List the installed models, the user's trained ones (plus loaded files still present)."""
        from fesgui.catalog import list_all_models

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
        self.events.models_listed.emit(entries)
        return entries

    def default_entry(self) -> ModelEntry | None:
        """The model to start with: the shipped default (:data:`fesgui.catalog.DEFAULT_MODEL`,
        the best-measured neutral -> happy model), else neutral -> happy first, then MR, then
        the smallest window, then the smallest image (the fastest for live video)."""
        return min(self.entries, key=_rank, default=None)

    def ranked_entries(self) -> list[ModelEntry]:
        """The listed models in the order :meth:`default_entry` prefers them."""
        return sorted(self.entries, key=_rank)

    def entry_for_path(self, path: str | Path) -> ModelEntry | None:
        path = Path(path)
        return next((e for e in self.entries if e.path == path), None)

    @staticmethod
    def _entry_for(path: Path) -> ModelEntry:
        from fesgui.core import read_meta

        path = Path(path)
        if not path.is_file():
            raise FesguiError(f"model file {path} does not exist: check the path")
        meta = read_meta(path)
        return ModelEntry(str(meta.get("name") or path.stem), path, dict(meta),
                          path.stat().st_size)

    def select_model(self, path: str | Path, fallbacks: Sequence[str | Path] = ()) -> None:
        """Load the model at ``path`` (on the worker); ``model_changed`` follows. If it
        cannot be used, the ``fallbacks`` are tried in turn (at start-up: the next usable
        installed model), and the status line names the ones skipped."""
        self._fallbacks = [Path(p) for p in fallbacks if Path(p) != Path(path)]
        path = Path(path)
        if all(e.path != path for e in self.entries):
            entry = self._entry_for(path)  # FesguiError here for a file that is not a model
            self.entries.append(entry)
            self.events.models_listed.emit(self.entries)
        self.events.status.emit(f"loading model {path.name}…")
        self.backend.load_model(str(path))

    def on_model_ready(self, model: Any, path: str) -> None:
        self.model = model
        self.model_entry = self.entry_for_path(path) if path else None
        self.defaults = self._defaults_for(model)
        self.events.model_changed.emit(model, self.model_entry)
        name = self.model_entry.name if self.model_entry else "model"
        skipped, self._skipped, self._fallbacks = self._skipped, [], []
        self.events.status.emit(f"model {name} ready" + (
            f" (skipped unusable {'; '.join(skipped)})" if skipped else ""))
        self.reprocess()

    def on_model_failed(self, path: str, why: str) -> None:
        """A model did not load: try the next fallback, if any (the error is on screen)."""
        if not self._fallbacks:
            self._skipped = []
            return
        self._skipped.append(f"{Path(path).name}: {why}")
        following, *rest = self._fallbacks
        try:
            self.select_model(following, rest)
        except FesguiError:  # not even its metadata reads: the next one
            self.on_model_failed(str(following), "not a model file")

    @staticmethod
    def _defaults_for(model: Any) -> tuple[int | None, float | None]:
        if model is None:
            return (None, None)
        from fesgui.core import default_blur_sigma, default_dilation_radius
        from fesgui.pipeline import model_size

        h, w = model_size(model)
        return int(default_dilation_radius(h, w)), float(default_blur_sigma(h, w))

    # ---- refinement ----
    def set_params(self, params: RefineParams) -> None:
        """New slider values (a validated, frozen value): re-run the current still image
        (coalesced) or the next live frame."""
        if not isinstance(params, RefineParams):
            raise TypeError(f"params must be RefineParams, not {type(params).__name__}")
        self.params = params
        self.backend.set_params(params)
        self.events.params_changed.emit(params)
        if not self.live:
            self.reprocess()

    def update_params(self, **changes: Any) -> RefineParams:
        """Change some fields (checked: a FesguiError names a bad one); returns the new value."""
        params = replace(self.params, **changes)
        self.set_params(params)
        return params

    def reset_params(self) -> None:
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
            self.events.folder_listed.emit([])
        self.video_path = None
        self.show_frame(frame, path)
        self.events.source_opened.emit("image", str(path))

    def show_frame(self, frame: Any, path: Path | None = None) -> None:
        """Make ``frame`` (H, W, 3) uint8 RGB the current still image and process it."""
        self.frame = frame
        self.frame_path = path
        self.manual = None
        if isinstance(self.face_choice, tuple):  # a face clicked on the previous image
            self.face_choice = None
            self.backend.set_face_choice(None)
        self._token += 1
        self.reprocess()

    def open_folder(self, folder: str | Path) -> None:
        from fesgui.batch import list_photos

        folder = Path(folder)
        files = list_photos(folder)  # "no images in ...": the line of `fesgui batch`
        self.stop_live()
        self.folder = files
        self.index = -1
        self.events.folder_listed.emit(files)
        self.events.source_opened.emit("folder", str(folder))
        self.go_to(0)

    def go_to(self, index: int) -> None:
        """Show image ``index`` of the open folder (clamped)."""
        if not self.folder:
            return
        index = max(0, min(index, len(self.folder) - 1))
        if index == self.index and self.frame is not None:
            return
        self.index = index
        self.events.folder_index.emit(index)
        try:
            self.open_image(self.folder[index], keep_folder=True)
        except FesguiError as exc:  # one bad photo: say so, keep the folder open
            self.events.error.emit(exc)

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
        """Run the current still image again (at most one request in flight; moves made
        meanwhile are coalesced into one more request)."""
        if self.frame is None or self.live:
            return
        if self._still_busy:
            self._still_dirty = True
            return
        self._still_busy = True
        self._still_dirty = False
        self.backend.submit_still(self.frame, self.params, self.manual, self._token)

    @property
    def still_pending(self) -> bool:
        """A still image is being processed or waits to be processed again."""
        return self._still_busy or self._still_dirty

    def set_face_choice(self, choice: Any) -> None:
        """Which faces to change: None (the largest), "all", or the (x, y) frame point of
        the face the user clicked (see :mod:`fesgui.gui.face_picker`)."""
        self.face_choice = choice
        self.backend.set_face_choice(choice)
        self.reprocess()

    # ---- live ----
    def open_video(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise FesguiError(f"video {path} does not exist: check the path")
        self.video_path = path
        self.folder, self.index = [], -1
        self.events.folder_listed.emit([])
        self.events.source_opened.emit("video", str(path))
        self.start_live(LiveSpec(str(path), loop=False, mirror=self.mirror))

    def start_camera(self, camera: int | str | None = None) -> None:
        """Start camera ``camera`` (index, or a video file standing in for one)."""
        if camera is not None:
            self.camera = camera
        spec = camera_spec(self.camera)
        spec.mirror = self.mirror
        self.events.source_opened.emit("camera", spec.describe())
        self.start_live(spec)

    def start_live(self, spec: LiveSpec) -> None:
        spec = replace(spec)  # a new object per stream: events of older streams are ignored
        self.live_spec = spec
        self._live_token = self._token
        self.live = True
        self._arrivals.clear()
        self._live_marks = []
        self.backend.start_live(spec)

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
        self.backend.stop_live()

    def set_mirror(self, mirror: bool) -> None:
        self.mirror = bool(mirror)
        self.backend.set_mirror(self.mirror)

    def on_live_started(self, spec: LiveSpec, fps: float) -> None:
        if spec is not self.live_spec:
            return
        rate = f" at {fps:.0f} fps" if fps else ""
        self.events.live_changed.emit(True, spec.describe())
        self.events.status.emit(f"live: {spec.describe()}{rate}")

    def on_live_stopped(self, spec: LiveSpec, why: str) -> None:
        if spec is not self.live_spec:
            return  # an older stream, replaced by the current one
        self.live = False
        self._live_ended()
        self.events.live_changed.emit(False, why)
        if not why.startswith("could not open"):  # then the error itself is on screen
            self.events.status.emit("live stopped" if why == "stopped" else why)

    def on_source_lost(self, spec: LiveSpec, message: str) -> None:
        if spec is not self.live_spec:
            return
        self.live = False
        self._live_ended()
        self.events.live_changed.emit(False, "lost")
        self.events.stats.emit("")  # no frame rate of a stream that stopped
        self.events.source_lost.emit(message)

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
    def on_result(self, result: Any, info: Any) -> None:
        """A result from the worker (``info``: :class:`fesgui.gui.worker.FrameInfo`). Drawn
        unless it is stale: a still of an image no longer on screen, a frame of a stream
        that was stopped or replaced."""
        if self.closed:
            return
        if info.kind == "still":
            self._still_busy = False
            if info.token != self._token or self.live:
                self._continue_still()
                return  # a result for an image no longer on screen
        elif not self.live or info.spec is not self.live_spec:
            self.backend.ack()
            return
        self.last_result = result
        self.last_info = info
        t0 = self.clock()
        self.events.result_ready.emit(result, info)
        info.timings["draw"] = (self.clock() - t0) * 1000.0
        self.frames_shown += 1
        self.faces_shown += bool(result.faces)
        self._arrivals.append(self.clock())
        if info.kind == "live":
            self._mark_live(self._arrivals[-1])
        self.events.stats.emit(self.stats_text(info))
        if result.message:
            self.events.status.emit(result.message)
            self._frame_message = result.message
        elif self._frame_message:  # e.g. "no face found" from a frame or two ago
            self.events.status_outdated.emit(self._frame_message)
            self._frame_message = None
        if info.kind == "live":
            self.backend.ack()
        else:
            self._continue_still()

    def on_still_failed(self, _token: int) -> None:
        self._still_busy = False
        self._continue_still()

    def _continue_still(self) -> None:
        if self._still_dirty:
            self.reprocess()

    def _mark_live(self, now: float) -> None:
        marks = self._live_marks
        count = marks[-1][1] + 1 if marks else 1
        if len(marks) < 2:
            marks.append((now, count))
        elif marks[1][0] - marks[0][0] < SETTLE_S:
            marks[1] = (now, count)  # still settling: the settled mark moves on
        else:
            marks[2:] = [(now, count)]

    def steady_fps(self) -> tuple[float, int, float]:
        """(frames drawn per second, frames, seconds) of the live stream after its first
        :data:`SETTLE_S` seconds (start-up left out); (0, 0, 0) before there are two
        frames after those."""
        if len(self._live_marks) < 3:
            return 0.0, 0, 0.0
        (t0, n0), (t1, n1) = self._live_marks[1], self._live_marks[2]
        return ((n1 - n0) / (t1 - t0) if t1 > t0 else 0.0), n1 - n0, t1 - t0

    def fps(self) -> float:
        """Frames drawn per second over the last :data:`FPS_WINDOW` live frames (0 when
        fewer than two arrived since the stream started)."""
        if len(self._arrivals) < 2:
            return 0.0
        span = self._arrivals[-1] - self._arrivals[0]
        return (len(self._arrivals) - 1) / span if span > 0 else 0.0

    def stats_text(self, info: Any) -> str:
        """'24.8 fps · dropped 3 · capture 1.2 · landmarks 4.0 · … ms' for a result."""
        parts = [f"{k} {info.timings[k]:.1f}" for k in STAGES if k in info.timings]
        text = " · ".join(parts) + " ms" if parts else ""
        if info.kind == "live":
            text = f"{self.fps():.1f} fps · dropped {info.dropped} · " + text
        return text

    # ---- saving, recording, batches ----
    def check_can_save(self) -> None:
        """A one-line error unless there is a result to save."""
        if self.last_result is None:
            raise FesguiError("nothing to save yet: open a photo or start the camera first")

    def save_result(self, path: str | Path, what: str = "frame") -> Path:
        """Write the current result: ``what`` = "frame" (pasted back) or "crop" (final crop)."""
        from fesgui.imageio import to_uint8, write_image
        from fesgui.outputs import check_output

        self.check_can_save()
        result = self.last_result
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
        self.events.status.emit(f"saved {path}")
        return path

    def check_can_record(self) -> None:
        """A one-line error unless a live source is running (recording needs one)."""
        if not self.live:
            raise FesguiError("recording needs a live source: start the camera or a video first")

    def start_recording(self, path: str | Path) -> None:
        from fesgui.video import CODECS, video_suffixes  # what the recorder can write

        self.check_can_record()
        path = Path(path)
        if path.suffix.lower() not in CODECS:
            raise FesguiError(f"cannot record to {path.name}: use a file name ending in "
                              f"{video_suffixes()}")
        self.recording = str(path)
        self.backend.start_recording(str(path))
        self.events.recording_changed.emit(True, str(path))

    def stop_recording(self) -> None:
        if self.recording is None:
            return
        self.backend.stop_recording()

    def on_recording_finished(self, path: str) -> None:
        """The worker closed the recording (``path`` is empty if it failed: nothing written)."""
        self.recording = None
        self.events.recording_changed.emit(False, path)
        if path:
            self.events.status.emit(f"recorded {path}")

    def check_can_batch(self) -> None:
        """A one-line error unless a folder is open and a model loaded."""
        if not self.folder:
            raise FesguiError("no folder open: open a folder of photos first")
        if self.model is None:
            raise FesguiError("no model loaded: choose a model before processing a folder")

    def batch_folder(self, out_dir: str | Path) -> int:
        """Process the open folder into ``out_dir`` (created if needed) on the worker, with
        the loop of ``fesgui batch``; returns the file count."""
        from fesgui.batch import check_batch

        self.check_can_batch()
        out = check_batch(self.folder, out_dir)  # the refusals of `fesgui batch`, word for word
        self.stop_live()
        self.backend.run_batch(list(self.folder), str(out))
        return len(self.folder)

    def cancel_batch(self) -> None:
        self.backend.cancel_batch()

    def close(self) -> None:
        """Stop live and any batch; later results are ignored."""
        if self.closed:
            return
        self.closed = True
        self.backend.cancel_batch()
        self.live = False
        self.backend.stop_live()
