"""Cameras and videos that misbehave: corrupt frames, damaged files, cameras that glitch,
fail to open or die. Reported, the good frames kept, nothing hangs.

(tests/test_video.py covers stalled/stopped cameras and missing/empty/undecodable files;
tests/gui/test_live.py the app's Retry banner.)
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import fesgui.align.mediapipe_source as mps
import fesgui.video as video
from fesgui.cli import main
from fesgui.core import MaskedRegression
from fesgui.errors import FesguiError
from fesgui.pipeline import Pipeline, RefineParams
from fesgui.synthetic import make_face, make_pairs
from fesgui.video import CameraSource, VideoFileSource, VideoWriter

from .corpus import KnownFace, open_app

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

N = 10


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    """A 10-frame MJPG .avi whose frames differ clearly (the smile grows)."""
    path = tmp_path_factory.mktemp("v") / "clip.avi"
    frames = [make_face(96, 128, smile=i / N, seed=0, cx=40 + 5 * i)[0] for i in range(N)]
    with VideoWriter(path, fps=10) as w:
        for f in frames:
            w.write(f)
    return path, frames


def _jpeg_starts(data: bytes) -> list[int]:
    return [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]


_GARBLED = 4  # the frame _damaged breaks


def _damaged(clip, tmp_path, how: str) -> Path:
    path, _ = clip
    data = bytearray(path.read_bytes())
    starts = _jpeg_starts(bytes(data))
    assert len(starts) == N
    s, e = starts[_GARBLED], starts[_GARBLED + 1]
    if how == "zeroed":
        data[s + 200:e - 50] = bytes(e - 50 - s - 200)
    elif how == "garbled":
        data[s:s + 300] = np.random.default_rng(0).integers(0, 256, 300, np.uint8).tobytes()
    elif how == "truncated":
        data = data[: s + (e - s) // 2]
    out = tmp_path / f"{how}.avi"
    out.write_bytes(bytes(data))
    return out


def _which(frame: np.ndarray, frames: list[np.ndarray]) -> int:
    return int(np.argmin([np.abs(frame.astype(int) - f).mean() for f in frames]))


@pytest.mark.parametrize("how", ["zeroed", "garbled"])
def test_a_corrupt_frame_is_skipped_and_reported(clip, tmp_path, how):
    bad = _damaged(clip, tmp_path, how)
    with VideoFileSource(bad) as src:
        got = list(src)
        assert [_which(f, clip[1]) for f in got] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
        assert src.skipped == 1 and not src.failed
        assert "skipped 1 corrupt frame" in src.error and "\n" not in src.error
        assert src.read() is None  # stays ended


def test_a_truncated_video_ends_at_the_damage_and_says_so(clip, tmp_path):
    with VideoFileSource(_damaged(clip, tmp_path, "truncated")) as src:
        got = list(src)
        # the good frames, then at most the half-decoded one the file ends in
        assert [_which(f, clip[1]) for f in got[:4]] == [0, 1, 2, 3] and len(got) <= 5
        assert not src.failed and "damaged" in src.error


def test_a_video_that_simply_ends(clip):
    with VideoFileSource(clip[0]) as src:
        assert len(list(src)) == N
        assert src.read() is None and src.read() is None
        assert not src.failed and src.error is None and src.skipped == 0


@pytest.mark.parametrize("how", ["zeroed", "truncated"])
def test_a_damaged_video_loops_forever(clip, tmp_path, how):
    src = VideoFileSource(_damaged(clip, tmp_path, how), loop=True)
    got = [src.read() for _ in range(3 * N)]
    src.close()
    assert all(g is not None and g.shape == (96, 128, 3) for g in got)
    assert not src.failed


def test_video_command_goes_past_a_corrupt_frame(clip, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: KnownFace(np.zeros((5, 2))))
    X, T = make_pairs(8, 32, 32, seed=1)
    model = MaskedRegression(size=3).fit(X, T).save(tmp_path / "m.npz")
    out = tmp_path / "out.avi"
    assert main(["video", str(_damaged(clip, tmp_path, "garbled")), str(out), "-m",
                 str(model)]) == 0
    err = capsys.readouterr().err
    assert "warning: skipped 1 corrupt frame" in err and "wrote" in err
    with VideoFileSource(out) as v:  # the frame before the damaged one holds its place
        shown = list(v)
    assert len(shown) == N  # before: N - 1, every frame after the gap a frame early
    assert np.array_equal(shown[_GARBLED - 1], shown[_GARBLED])


# ------------------------------------------------------------------------ cameras
class ScriptedCapture:
    """A fake ``cv2.VideoCapture``: plays ``script`` ("f" frame, "x" failed read, "g"
    garbled (2-D) frame), then fails forever."""

    def __init__(self, script: str, opened: bool = True) -> None:
        self.script = list(script)
        self.opened = opened
        self.released = threading.Event()
        self.reads = 0

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return self.opened

    def set(self, *a):
        return True

    def get(self, prop):
        return 30.0

    def read(self):
        self.reads += 1
        time.sleep(0.002)
        step = self.script.pop(0) if self.script else "x"
        if step == "f":
            return True, np.full((24, 32, 3), self.reads % 250, np.uint8)
        if step == "g":
            return True, np.zeros((24, 32), np.uint8)
        return False, None

    def release(self):
        self.released.set()


def test_camera_that_does_not_open_is_one_line(fake_camera):
    cap = ScriptedCapture("", opened=False)
    fake_camera(cap)
    with pytest.raises(FesguiError, match="does not open") as info:
        CameraSource(2, timeout=0.5)
    assert "\n" not in str(info.value) and "camera 2" in str(info.value)
    assert cap.released.is_set()


def test_camera_glitches_are_ridden_out(fake_camera):
    """A failed read or a garbled frame now and then: the stream goes on, garbled frames
    never reach the caller."""
    fake_camera(ScriptedCapture("ff" + "xgf" * 6 + "ff" + "f" * 200))
    cam = CameraSource(0, timeout=1.0)
    frames = [cam.read() for _ in range(12)]
    assert all(f is not None and f.shape == (24, 32, 3) for f in frames)
    assert not cam.failed
    cam.close()


def test_camera_sending_only_garbage_is_lost_not_hung(fake_camera):
    fake_camera(ScriptedCapture("ff" + "g" * 1000))
    cam = CameraSource(0, timeout=0.5)
    got = [cam.read() for _ in range(4)]  # each read waits at most the timeout
    assert got[0] is not None and got[-1] is None
    assert all(g is None or g.ndim == 3 for g in got)
    assert cam.failed and "camera 0" in cam.error
    cam.close()


def test_pipeline_refuses_a_corrupt_frame_and_goes_on():
    face, points = make_face(96, 96, seed=11)
    X, T = make_pairs(8, 32, 32, seed=1)
    p = Pipeline(MaskedRegression(size=3).fit(X, T), KnownFace(points),
                 RefineParams(enabled=False))
    for bad in (face[:, :, 0], face.astype(np.float64), np.dstack([face, face[:, :, :1]]),
                np.zeros((0, 0, 3), np.uint8)):
        with pytest.raises(FesguiError) as info:
            p.process(bad)
        assert "\n" not in str(info.value)
    assert p.process(face).faces  # the next good frame is fine


# ------------------------------------------------------------------------ the app
def test_app_keeps_the_last_good_frame_of_a_lost_camera_and_offers_retry(
        qtbot, tmp_path, monkeypatch):
    face, points = make_face(96, 96, seed=11)

    class DyingCamera:
        def __init__(self, index, *a, **k):
            self.fps, self.failed, self.error, self.left = 30.0, False, None, 5

        def read(self):
            if self.left == 0:
                self.failed, self.error = True, "camera 0 stopped sending"
                return None
            self.left -= 1
            return np.roll(face, self.left, axis=1)

        def close(self):
            pass

    monkeypatch.setattr(video, "CameraSource", DyingCamera)
    models = tmp_path / "models"
    models.mkdir()
    X, T = make_pairs(8, 32, 32, seed=1)
    MaskedRegression(size=3).fit(X, T).save(models / "neutral2happy_mr3_32.npz")
    win = open_app(qtbot, tmp_path, monkeypatch, points, models)
    try:
        c = win.controller
        with qtbot.waitSignal(c.source_lost, timeout=10000) as lost:
            c.start_camera(0)
        assert "stopped sending" in lost.args[0] and "\n" not in lost.args[0]
        assert win.lost_banner.isVisible()
        assert c.frame is not None and c.frame.shape == face.shape  # last good frame kept
        assert any(np.array_equal(c.frame, np.roll(face, k, axis=1)) for k in range(5))
        assert win.unexpected_errors == []
    finally:
        win.close()



def test_mediapipe_survives_empty_and_tiny_frames():
    """An empty frame used to break the MediaPipe graph for good (and its close())."""
    from fesgui.align.mediapipe_source import MediaPipeSource

    with MediaPipeSource() as finder:
        for shape in ((0, 0, 3), (1, 1, 3), (0, 40, 3), (1, 300, 3)):
            assert finder.detect(np.zeros(shape, np.uint8)) == []
        assert finder.detect(np.full((64, 64, 3), 128, np.uint8)) == []  # still working


def _play(qtbot, win, path) -> tuple[str, list[str]]:
    """Play ``path`` in the app to its end; (why it stopped, status messages)."""
    c = win.controller
    messages: list[str] = []
    c.status.connect(messages.append)
    win.notifier.user_error.connect(messages.append)
    stops: list[str] = []
    c.live_changed.connect(lambda running, why: None if running else stops.append(why))
    c.open_video(path)
    qtbot.waitUntil(lambda: bool(stops), timeout=20000)
    return stops[0], messages


def test_app_plays_past_a_corrupt_frame(qtbot, clip, tmp_path, monkeypatch):
    win = open_app(qtbot, tmp_path, monkeypatch, np.zeros((5, 2), np.float32))
    try:
        why, _ = _play(qtbot, win, _damaged(clip, tmp_path, "garbled"))
        assert why.startswith("video ended")
        assert win.controller.worker.frames_processed >= 1
        assert win.controller.frame is not None  # the last good frame stays on screen
        assert win.unexpected_errors == []
    finally:
        win.close()


@pytest.mark.parametrize(("how", "said"), [("garbled", "skipped 1 corrupt frame"),
                                           ("truncated", "stopped decoding")])
def test_app_mentions_the_damage(qtbot, clip, tmp_path, monkeypatch, how, said):
    win = open_app(qtbot, tmp_path, monkeypatch, np.zeros((5, 2), np.float32))
    try:
        why, messages = _play(qtbot, win, _damaged(clip, tmp_path, how))
        assert why.startswith("video ended (") and said in why, why
        assert any(said in m and "\n" not in m for m in messages), messages
        assert win.unexpected_errors == []
    finally:
        win.close()
