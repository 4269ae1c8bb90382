"""Video sources and the atomic writer (no camera needed: the camera is faked)."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

import fesgui.video as video
from fesgui.errors import FesguiError
from fesgui.synthetic import make_face
from fesgui.video import (
    CameraSource,
    VideoFileSource,
    VideoWriter,
    open_source,
    probe_cameras,
)


def _frames(n=8, h=96, w=128):
    return [make_face(h, w, smile=i / n, seed=0)[0] for i in range(n)]


@pytest.mark.parametrize("ext", [".avi", ".mp4"])
def test_write_then_read_back(tmp_path, ext):
    path = tmp_path / f"clip{ext}"
    frames = _frames()
    with VideoWriter(path, fps=12) as w:
        for f in frames:
            w.write(f)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    with VideoFileSource(path) as src:
        assert src.fps == pytest.approx(12)
        assert src.size == (96, 128)
        back = list(src)
    assert len(back) == len(frames)
    for a, b in zip(back, frames, strict=True):
        assert a.dtype == np.uint8 and a.shape == b.shape
        assert np.abs(a.astype(int) - b).mean() < 8  # lossy codecs, RGB order kept
    # independent decoder: OpenCV itself, BGR
    cap = cv2.VideoCapture(str(path))
    ok, bgr = cap.read()
    cap.release()
    assert ok and np.abs(bgr[:, :, ::-1].astype(int) - frames[0]).mean() < 8


def test_looping_source(tmp_path):
    path = tmp_path / "loop.avi"
    with VideoWriter(path, fps=10) as w:
        for f in _frames(3):
            w.write(f)
    src = VideoFileSource(path, loop=True)
    got = [src.read() for _ in range(10)]
    assert all(g is not None for g in got) and not src.failed
    assert np.abs(got[0].astype(int) - got[3]).mean() < 1
    src.close()
    assert src.read() is None


def test_exception_inside_the_block_leaves_no_file(tmp_path):
    path = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, fps=10) as w:
        w.write(_frames(1)[0])
        raise RuntimeError("cancelled")
    assert list(tmp_path.iterdir()) == []


def test_abort_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.avi"
    with VideoWriter(path, fps=10) as w:
        w.write(_frames(1)[0])
    before = path.read_bytes()
    w = VideoWriter(path, fps=10)
    w.write(_frames(2)[1])
    w.abort()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.avi"]


def test_writer_errors(tmp_path):
    with pytest.raises(FesguiError, match=r"\.mp4, \.mov, \.mkv or \.avi$"):
        VideoWriter(tmp_path / "x.webm", fps=10)
    with pytest.raises(FesguiError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "x.avi", fps=10)
    w = VideoWriter(tmp_path / "x.avi", fps=10, size=(96, 128))
    with pytest.raises(FesguiError, match="differs"):
        w.write(np.zeros((50, 60, 3), np.uint8))
    w2 = VideoWriter(tmp_path / "y.avi", fps=10)
    with pytest.raises(FesguiError, match="no frames"):
        w2.close()
    assert list(tmp_path.iterdir()) == []


def test_bad_video_files(tmp_path):
    with pytest.raises(FesguiError, match="does not exist"):
        VideoFileSource(tmp_path / "none.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(FesguiError, match="empty"):
        VideoFileSource(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    with pytest.raises(FesguiError, match="cannot decode") as info:
        VideoFileSource(text)
    assert "\n" not in str(info.value)


def test_open_source_dispatch(tmp_path, monkeypatch):
    path = tmp_path / "a.avi"
    with VideoWriter(path, fps=10) as w:
        w.write(_frames(1)[0])
    assert isinstance(open_source(str(path)), VideoFileSource)
    monkeypatch.setattr(video, "_camera_exists", lambda index: False)
    with pytest.raises(FesguiError, match="no camera 3"):
        open_source("3")
    with pytest.raises(FesguiError, match="no camera 0"):
        open_source(0)
    assert probe_cameras() == []


class FakeCapture:
    """A camera that sends ``n`` frames, then stalls (or fails) forever."""

    def __init__(self, n, stall=True):
        self.n, self.stall = n, stall
        self.released = threading.Event()

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return True

    def set(self, *a):
        return True

    def get(self, prop):
        return 30.0

    def read(self):
        if self.n > 0:
            self.n -= 1
            return True, np.full((48, 64, 3), (10, 20, 30), np.uint8)
        if self.stall:
            self.released.wait(5)
        return False, None

    def release(self):
        self.released.set()


def test_camera_that_stalls_reports_failure_instead_of_hanging(fake_camera):
    fake_camera(FakeCapture(2, stall=True))
    cam = CameraSource(0, timeout=0.3)
    first = cam.read()
    assert first is not None and first.shape == (48, 64, 3)
    np.testing.assert_array_equal(first[0, 0], [30, 20, 10])  # BGR -> RGB
    got = [cam.read() for _ in range(3)]
    assert got[-1] is None and cam.failed
    assert "sent nothing for 0.3 s" in cam.error
    cam.close()


def test_camera_that_stops_reports_failure(fake_camera):
    fake_camera(FakeCapture(1, stall=False))
    cam = CameraSource(0, timeout=1.0)
    assert cam.read() is not None
    assert cam.read() is None
    assert cam.failed and "stopped" in cam.error
    cam.close()


def test_camera_without_pictures_is_an_error(fake_camera):
    fake_camera(FakeCapture(0, stall=True))
    with pytest.raises(FesguiError, match="sends no picture"):
        CameraSource(0, timeout=0.2)


def test_ultrafast_encodes_on_one_thread_and_the_command_defaults_match(tmp_path):
    """x264's frame threads only cost CPU with ultrafast (the default): one encoder thread
    there, x264's own choice for the slower presets. The command's defaults (kept apart
    for a fast --help) are the module's."""
    from fesgui.commands import video as command
    from fesgui.video import DEFAULT_CRF, DEFAULT_PRESET, ONE_THREAD_PRESETS

    assert (command.DEFAULT_CRF, command.DEFAULT_PRESET) == (DEFAULT_CRF, DEFAULT_PRESET)
    assert DEFAULT_PRESET in command.PRESETS and DEFAULT_PRESET in ONE_THREAD_PRESETS
    frame = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    for preset in ("ultrafast", "veryfast"):
        path = tmp_path / f"{preset}.mp4"
        with VideoWriter(path, 30, preset=preset) as writer:
            for _ in range(3):
                writer.write(frame)
            threads = writer._video.codec_context.thread_count
        assert (threads == 1) == (preset == "ultrafast"), (preset, threads)
        with VideoFileSource(path) as src:
            assert sum(1 for _ in src) == 3
