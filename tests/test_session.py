"""fesgui.session without Qt: state transitions, parameter checks, events, the rules.

Nothing here imports PySide6 (the first test proves the session does not either); the
worker is a recorder of the requests the session makes (:class:`Recorder`).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fesgui.catalog import ModelInfo
from fesgui.errors import FesguiError
from fesgui.imageio import read_image, write_image
from fesgui.params import RefineParams
from fesgui.session import STAGES, LiveSpec, Session, camera_spec


def test_the_session_runs_without_qt():
    code = ("import sys, fesgui.session, fesgui.params; s = fesgui.session.Session(None); "
            "print(','.join(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6', 'pyqtgraph', 'mediapipe', 'cv2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
    tree = ast.parse(Path(__file__).read_text())  # and this file imports no Qt either
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.split(".")[0] in ("PySide6", "pytestqt")}


class Recorder:
    """A :class:`fesgui.session.Backend` that records every request as (name, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, *args))

    def named(self, name: str) -> list[tuple]:
        return [c[1:] for c in self.calls if c[0] == name]


@dataclass
class Info:
    """Stands in for fesgui.gui.worker.FrameInfo (the fields the session reads)."""

    kind: str
    token: int = 0
    spec: LiveSpec | None = None
    timings: dict = field(default_factory=dict)
    dropped: int = 0


def result(frame=None, faces=(1,), message=None):
    frame = np.zeros((4, 4, 3), np.uint8) if frame is None else frame
    return SimpleNamespace(frame=frame, composite=frame + 1, faces=list(faces), message=message)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def session():
    s = Session(Recorder(), clock=Clock())
    s.seen = []  # every event, in order: (name, *args)
    for event in s.events:
        event.connect(lambda *args, name=event.name: s.seen.append((name, *args)))
    return s


def events(s, name):
    return [e[1:] for e in s.seen if e[0] == name]


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(3):
        write_image(folder / f"p{n}.png", np.full((8, 8, 3), 10 * n, np.uint8))
    return folder


def test_a_photo_is_processed_once_and_slider_moves_are_coalesced(session, photos):
    s, backend = session, session.backend
    s.open_path(photos / "p1.png")
    assert events(s, "source_opened") == [("image", str(photos / "p1.png"))]
    (frame, params, manual, token), = backend.named("submit_still")
    assert np.array_equal(frame, read_image(photos / "p1.png")) and manual is None
    assert params == RefineParams() and s.still_pending
    # three moves while the worker is busy: one more request, with the last values
    for k in (11.0, 12.0, 13.0):
        s.update_params(k=k)
    assert len(backend.named("submit_still")) == 1
    assert backend.named("set_params")[-1] == (RefineParams(k=13.0),)
    assert [p.k for (p,) in events(s, "params_changed")] == [11.0, 12.0, 13.0]
    first = result(frame)
    s.on_result(first, Info("still", token))
    assert events(s, "result_ready") == [(first, Info("still", token, timings={"draw": 0.0}))]
    assert s.last_result is first and s.frames_shown == 1 and s.faces_shown == 1
    assert backend.named("submit_still")[-1][1] == RefineParams(k=13.0)
    s.on_result(result(frame), Info("still", token))
    assert not s.still_pending and len(backend.named("submit_still")) == 2


def test_a_result_for_an_image_no_longer_on_screen_is_not_drawn(session, photos):
    s = session
    s.open_image(photos / "p0.png")
    old_token = s.backend.named("submit_still")[0][3]
    s.update_params(intensity=0.5)  # waits for the busy request
    s.open_image(photos / "p1.png")  # still busy: waits too
    s.on_result(result(), Info("still", old_token))
    assert events(s, "result_ready") == []
    frame, params, _, token = s.backend.named("submit_still")[-1]
    assert token != old_token and params.intensity == 0.5
    assert np.array_equal(frame, read_image(photos / "p1.png"))


def test_a_failed_still_lets_the_next_one_run(session, photos):
    s = session
    s.open_image(photos / "p0.png")
    s.update_params(tau=0.4)
    s.on_still_failed(1)
    assert s.backend.named("submit_still")[-1][1].tau == 0.4


def test_bad_params_are_refused_and_change_nothing(session):
    s = session
    with pytest.raises(FesguiError, match="intensity 3 is out of range: use 0 to 2"):
        s.update_params(intensity=3)
    with pytest.raises(TypeError):
        s.set_params({"k": 3.0})
    assert s.params == RefineParams() and s.seen == [] and s.backend.calls == []
    s.update_params(enabled=True, dilation_radius=5)
    s.reset_params()
    assert events(s, "params_changed") == [(RefineParams(enabled=True, dilation_radius=5),),
                                           (RefineParams(),)]


def test_a_folder_steps_and_keeps_going_past_a_bad_photo(session, photos, tmp_path):
    s = session
    (photos / "p1.png").write_bytes(b"not an image")
    s.open_folder(photos)
    assert events(s, "folder_listed") == [([photos / "p0.png", photos / "p1.png",
                                             photos / "p2.png"],)]
    assert events(s, "folder_index") == [(0,)] and s.index == 0
    s.step(1)  # the bad one: reported, the folder stays open
    (error,), = events(s, "error")
    assert isinstance(error, FesguiError) and "p1.png" in str(error)
    assert s.index == 1 and len(s.folder) == 3
    s.step(5)  # clamped to the last
    assert s.index == 2 and s.frame_path == photos / "p2.png"
    # another folder: its first photo is shown even though the index was 0 before
    other = tmp_path / "other"
    other.mkdir()
    write_image(other / "q.png", np.full((8, 8, 3), 200, np.uint8))
    s.go_to(0)
    s.open_folder(other)
    assert s.frame_path == other / "q.png" and s.folder == [other / "q.png"]
    with pytest.raises(FesguiError, match="no images in"):
        s.open_folder(tmp_path / "photos" / "..")  # a folder of folders


def test_a_stream_is_started_drawn_acknowledged_and_stopped(session, photos):
    s, backend = session, session.backend
    s.set_mirror(True)
    s.start_camera(2)
    (spec,), = backend.named("start_live")
    assert (spec.target, spec.mirror, s.live) == (2, True, True)
    assert events(s, "source_opened") == [("camera", "camera 2")]
    s.on_live_started(LiveSpec(2), 30.0)  # an equal spec, not this stream's: ignored
    assert events(s, "live_changed") == []
    s.on_live_started(spec, 30.0)
    assert events(s, "live_changed") == [(True, "camera 2")]
    assert events(s, "status")[-1] == ("live: camera 2 at 30 fps",)
    # frames arriving every 0.1 s: 10 fps over the window
    frames = []
    for n in range(5):
        s.clock.now = n * 0.1
        frames.append(result(np.full((4, 4, 3), n, np.uint8)))
        s.on_result(frames[-1], Info("live", n, spec, {"capture": 1.25}, dropped=2))
    assert backend.named("ack") == [()] * 5
    assert s.fps() == pytest.approx(10.0)
    assert events(s, "stats")[-1] == ("10.0 fps · dropped 2 · capture 1.2 · draw 0.0 ms",)
    # a frame of an older stream is acknowledged but not drawn
    s.on_result(result(), Info("live", 9, LiveSpec(2)))
    assert len(events(s, "result_ready")) == 5 and len(backend.named("ack")) == 6
    s.stop_live()
    assert backend.named("stop_live") == [()] and not s.live
    s.on_live_stopped(spec, "stopped")
    assert events(s, "live_changed")[-1] == (False, "stopped")
    assert events(s, "status")[-1] == ("live stopped",)
    # the last frame drawn becomes the still image
    assert s.frame is frames[-1].frame and s.frame_path is None
    s.check_can_place()


def test_a_lost_camera_stops_the_recording_and_offers_retry(session):
    s, backend = session, session.backend
    with pytest.raises(FesguiError, match="recording needs a live source"):
        s.start_recording("out.mp4")
    s.start_camera(0)
    (spec,), = backend.named("start_live")
    with pytest.raises(FesguiError, match=r"cannot record to out.gif: use a file name ending in \.mp4, \.mov, \.mkv or \.avi$"):
        s.start_recording("out.gif")
    s.start_recording("out.mp4")
    assert backend.named("start_recording") == [("out.mp4",)]
    assert events(s, "recording_changed") == [(True, "out.mp4")]
    s.on_source_lost(spec, "lost camera 0: unplugged")
    assert backend.named("stop_recording") == [()]
    assert events(s, "source_lost") == [("lost camera 0: unplugged",)]
    assert events(s, "live_changed") == [(False, "lost")] and events(s, "stats") == [("",)]
    s.on_recording_finished("")  # it failed: nothing written, nothing announced
    assert events(s, "recording_changed")[-1] == (False, "") and s.recording is None
    s.retry_live()
    (again,) = backend.named("start_live")[-1]
    assert again == spec and again is not spec and s.live_spec is again


def test_a_source_that_does_not_open_leaves_the_error_to_the_error_channel(session, tmp_path):
    s = session
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    s.open_path(clip)
    (spec,), = s.backend.named("start_live")
    assert (spec.target, spec.loop) == (str(clip), False)
    s.on_live_stopped(spec, "could not open clip.mp4")
    assert events(s, "live_changed") == [(False, "could not open clip.mp4")]
    assert events(s, "status") == []
    s.toggle_live()  # space restarts the open video
    assert s.backend.named("start_live")[-1][0].target == str(clip)


def test_models_fall_back_in_turn_and_the_status_names_the_skipped(session, tmp_path):
    s, backend = session, session.backend
    entries = [ModelInfo(name, tmp_path / f"{name}.npz", meta, 1) for name, meta in (
        ("big", {"source": "neutral", "target": "happy", "method": "mr", "size": 5,
                 "image_size": [256, 256]}),
        ("small", {"source": "neutral", "target": "happy", "method": "mr", "size": 3,
                   "image_size": [128, 128]}),
        ("sad", {"source": "neutral", "target": "sad", "method": "mr", "size": 3,
                 "image_size": [64, 64]}))]
    s.entries = list(entries)
    assert s.default_entry().name == "small"
    assert [e.name for e in s.ranked_entries()] == ["small", "big", "sad"]
    s.select_model(entries[0].path, [e.path for e in entries])
    assert backend.named("load_model") == [(str(entries[0].path),)]
    s.on_model_failed(str(entries[0].path), "broken")
    assert backend.named("load_model")[-1] == (str(entries[1].path),)
    model = SimpleNamespace(meta={"image_size": [128, 128]})
    s.on_model_ready(model, str(entries[1].path))
    assert events(s, "model_changed") == [(model, entries[1])]
    assert events(s, "status")[-1] == ("model small ready (skipped unusable big.npz: broken)",)
    # the defaults scale with the image: round(0.025 * 128), 0.02 * 128
    assert s.defaults == (3, pytest.approx(2.56))
    with pytest.raises(FesguiError, match="does not exist"):
        s.select_model(tmp_path / "missing.npz")


def test_save_needs_a_result_and_never_overwrites_the_photo(session, photos, tmp_path):
    s = session
    with pytest.raises(FesguiError, match="nothing to save yet"):
        s.save_result(tmp_path / "out.png")
    s.open_image(photos / "p2.png")
    frame = s.frame
    s.on_result(result(frame, faces=()), Info("still", 1))
    with pytest.raises(FesguiError):
        s.save_result(photos / "p2.png")
    with pytest.raises(FesguiError, match="use a .png or .jpg"):
        s.save_result(tmp_path / "out.bmp")
    with pytest.raises(FesguiError, match="no face in the current result"):
        s.save_result(tmp_path / "crop.png", what="crop")
    written = s.save_result(tmp_path / "out.png")
    assert np.array_equal(read_image(written), frame + 1)
    assert events(s, "status")[-1] == (f"saved {written}",)


def test_batch_checks(session, photos, tmp_path):
    s = session
    with pytest.raises(FesguiError, match="no folder open"):
        s.batch_folder(tmp_path)
    s.open_folder(photos)
    with pytest.raises(FesguiError, match="no model loaded"):
        s.batch_folder(tmp_path)
    s.model = SimpleNamespace(meta={"image_size": [64, 64]})
    with pytest.raises(FesguiError, match="is the input folder"):
        s.batch_folder(photos)
    assert s.backend.named("run_batch") == []
    assert s.batch_folder(tmp_path / "new") == 3  # created, as fesgui batch does
    assert s.backend.named("run_batch") == [(sorted(photos.glob("*.png")),
                                             str(tmp_path / "new"))]
    assert (tmp_path / "new").is_dir()


def test_landmarks_need_a_still_image(session, photos):
    s = session
    with pytest.raises(FesguiError, match="place landmarks on a still image"):
        s.set_manual_landmarks((2, 3), (6, 3), (4, 6))
    s.open_image(photos / "p0.png")
    s.set_manual_landmarks((2, 3), (6, 3), (4, 6))
    assert s.manual is not None
    s.on_result(result(), Info("still", 1))
    assert s.backend.named("submit_still")[-1][2] is s.manual


def test_a_clicked_face_is_forgotten_on_the_next_photo(session, photos):
    s = session
    s.open_image(photos / "p0.png")
    s.set_face_choice((3.0, 4.0))
    s.open_image(photos / "p1.png")
    assert s.face_choice is None
    assert s.backend.named("set_face_choice") == [((3.0, 4.0),), (None,)]
    s.set_face_choice("all")
    s.open_image(photos / "p2.png")
    assert s.face_choice == "all"  # "all faces" is a mode, not a click


def test_after_close_results_are_ignored(session, photos):
    s = session
    s.open_image(photos / "p0.png")
    s.close()
    s.close()
    assert s.backend.named("cancel_batch") == [()] and s.backend.named("stop_live") == [()]
    s.on_result(result(), Info("still", 1))
    assert events(s, "result_ready") == []


def test_camera_spec_and_stages():
    assert camera_spec("3") == LiveSpec(3)
    assert camera_spec(1).describe() == "camera 1"
    with pytest.raises(FesguiError, match="neither a camera number nor a video file"):
        camera_spec("/no/such/clip.mp4")
    assert STAGES[0] == "capture" and STAGES[-1] == "draw"
    assert replace(LiveSpec("a/b.mp4")).describe() == "b.mp4"


def test_the_steady_rate_leaves_the_streams_first_seconds_out(session):
    """steady_fps(): frames drawn per second after the stream's first SETTLE_S seconds
    (start-up: MediaPipe and the model's first run), the figure the issue-19 benchmark
    reads; the window's rolling fps() is unaffected."""
    from fesgui.session import SETTLE_S

    s = session
    s.start_camera(0)
    (spec,), = s.backend.named("start_live")
    assert s.steady_fps() == (0.0, 0, 0.0)
    t = 0.0
    for n in range(int(SETTLE_S * 5)):  # a slow start: 5 fps for SETTLE_S seconds
        s.clock.now = t = n * 0.2
        s.on_result(result(), Info("live", n, spec))
    for n in range(91):  # then 30 fps for 3 s
        s.clock.now = t + 0.2 + n / 30
        s.on_result(result(), Info("live", n, spec))
    fps, frames, seconds = s.steady_fps()
    assert fps == pytest.approx(30.0) and frames == 90 and seconds == pytest.approx(3.0)
    s.stop_live()
    s.start_camera(0)  # a new stream starts from nothing
    assert s.steady_fps() == (0.0, 0, 0.0)
