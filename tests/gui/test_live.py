"""Live video through the worker: a video file stands in for the camera.

Checks that frames and fps arrive, that the stream stops cleanly (stop, source switch,
model switch, window close), that a lost camera offers Retry, and that recording and the
folder batch write complete files only.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from fesgui.core import load_model as core_load_model
from fesgui.errors import FesguiError
from fesgui.imageio import read_image, write_image
from fesgui.pipeline import Pipeline
from fesgui.synthetic import make_face
from fesgui.video import VideoFileSource

from .helpers import FRAME_H, FRAME_W, FakeLandmarks, load_model, write_video

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def grabber_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fesgui-grabber" and t.is_alive()]


def wait_frames(qtbot, win, n: int, timeout: int = 10000) -> None:
    start = win.controller.frames_shown
    qtbot.waitUntil(lambda: win.controller.frames_shown >= start + n, timeout=timeout)


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "face.avi", n=30, fps=20.0)


def test_video_file_plays_live_with_fps_and_stage_timings(qtbot, window, video, model_files):
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    with qtbot.waitSignal(c.live_changed, timeout=5000) as started:
        c.open_path(video)
    assert started.args[0] is True
    assert window.input_panel.live.text() == "Stop"
    wait_frames(qtbot, window, 5)
    result, info = c.last_result, c.last_info
    assert info.kind == "live" and result.faces
    # the drawn frame is the pipeline's output for a frame of the video
    frames = list(VideoFileSource(video))
    model = core_load_model(model_files["mr3"])
    pipe = Pipeline(model, landmarks=FakeLandmarks(result.faces[0].landmarks.points))
    match = [n for n, f in enumerate(frames) if np.array_equal(f, result.frame)]
    assert match, "the live frame is one of the video's frames"
    assert np.array_equal(pipe.process(frames[match[0]]).composite, result.composite)
    stats = window.stats_label.text()
    assert "fps" in stats
    for stage in ("capture", "landmarks", "align", "synthesize", "refine", "paste", "draw"):
        assert stage in stats, stage
    assert c.fps() > 0
    # a file plays once: it ends by itself and the window says so
    qtbot.waitUntil(lambda: not c.live, timeout=5000)
    assert window.statusBar().currentMessage() == "video ended"
    assert window.input_panel.live.text() == "Start"
    qtbot.waitUntil(lambda: not grabber_threads(), timeout=3000)


def test_camera_stand_in_loops_until_stopped(qtbot, window, video, model_files):
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    c.start_camera(str(video))  # what `fesgui --camera video.avi` does
    wait_frames(qtbot, window, 3)
    qtbot.waitUntil(lambda: c.worker.frames_processed > 34, timeout=10000)  # > 30: it loops
    assert c.live
    window.activateWindow()
    with qtbot.waitSignal(c.live_changed, timeout=5000) as stopped:
        qtbot.keyClick(window, Qt.Key.Key_Space)  # Space stops live
    assert stopped.args[0] is False
    qtbot.waitUntil(lambda: not grabber_threads(), timeout=3000)
    shown = c.frames_shown
    qtbot.wait(300)
    assert c.frames_shown == shown  # nothing arrives after stop
    # the last live frame is now the still image: the sliders act on it
    assert c.frame is c.last_result.frame
    with qtbot.waitSignal(c.result_ready, timeout=5000) as blocker:
        window.refine_panel.intensity.set_value(0.3, emit=True)
    assert blocker.args[1].kind == "still"


def test_slow_gui_drops_frames_instead_of_queueing(qtbot, window, video, model_files,
                                                   monkeypatch):
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    original = window.draw_result

    def slow_draw(result, info):
        original(result, info)
        qtbot.wait(120)  # a GUI that draws far slower than the 20 fps source

    c.result_ready.disconnect(window.draw_result)
    c.result_ready.connect(slow_draw)
    c.start_camera(str(video))
    wait_frames(qtbot, window, 6, timeout=15000)
    c.stop_live()
    assert c.last_info.dropped > 0  # frames were dropped, not queued
    qtbot.waitUntil(lambda: not grabber_threads(), timeout=3000)


def test_switching_source_stops_the_stream(qtbot, window, video, face_file, model_files):
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    c.start_camera(str(video))
    wait_frames(qtbot, window, 3)
    with qtbot.waitSignal(c.result_ready, timeout=5000,
                          check_params_cb=lambda r, i: i.kind == "still"):
        c.open_path(face_file)
    assert not c.live
    qtbot.waitUntil(lambda: not grabber_threads(), timeout=3000)
    shown = c.frames_shown
    qtbot.wait(300)
    assert c.frames_shown == shown
    assert c.last_info.kind == "still"


def test_frames_with_a_face_take_a_missed_frames_message_off_the_status_bar(
        qtbot, window, tmp_path, model_files, detector):
    """One missed frame must not leave "no face found" on screen while the following
    frames show a face (the controller sends status_outdated; the window clears it)."""
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    points = detector.points
    detector.points = None
    c.open_path(write_video(tmp_path / "long.avi", n=80, fps=20.0))
    bar = window.statusBar()
    qtbot.waitUntil(lambda: "no face" in bar.currentMessage(), timeout=5000)
    detector.points = points
    qtbot.waitUntil(lambda: c.last_result is not None and bool(c.last_result.faces)
                    and bar.currentMessage() == "", timeout=5000)
    c.stop_live()
    qtbot.waitUntil(lambda: not c.live, timeout=5000)


def test_switching_model_while_live_keeps_streaming_with_the_new_model(qtbot, window, video,
                                                                       model_files):
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    c.start_camera(str(video))
    wait_frames(qtbot, window, 3)
    old = c.model
    with qtbot.waitSignal(c.model_changed, timeout=10000):
        c.select_model(model_files["prr"])
    qtbot.waitUntil(lambda: c.last_info.model is not old and c.last_info.model is not None,
                    timeout=5000)
    wait_frames(qtbot, window, 3)
    assert c.last_info.model.meta["method"] == "pixel-rr"
    assert c.live and len(grabber_threads()) == 1
    assert window.unexpected_errors == []
    c.stop_live()


def test_closing_the_window_while_live_stops_everything(qtbot, models_dir, model_files,
                                                        detector, video):
    from fesgui.gui.main_window import MainWindow

    win = MainWindow(landmarks_factory=lambda video: detector)
    qtbot.addWidget(win)
    win.show()
    load_model(qtbot, win, model_files["mr3"])
    win.controller.start_camera(str(video))
    wait_frames(qtbot, win, 3)
    thread = win.controller.thread
    win.close()
    assert thread.isFinished()
    assert not grabber_threads()
    assert detector.closed


class _DyingCamera:
    """A camera that sends a few frames and then stops (unplugged)."""

    instances = 0

    def __init__(self, index: int, *args, **kwargs) -> None:
        type(self).instances += 1
        self.frames = 4
        self.fps = 30.0
        self.failed = False
        self.error = None
        self.image, _ = make_face(FRAME_H, FRAME_W, seed=3)

    def read(self):
        if self.frames == 0:
            self.failed, self.error = True, "camera 0 stopped sending"
            return None
        self.frames -= 1
        return self.image.copy()

    def close(self) -> None:
        pass


def test_lost_camera_shows_a_message_and_retry(qtbot, window, model_files, monkeypatch):
    import fesgui.video

    monkeypatch.setattr(fesgui.video, "CameraSource", _DyingCamera)
    _DyingCamera.instances = 0
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    with qtbot.waitSignal(c.source_lost, timeout=5000) as lost:
        c.start_camera(0)
    assert "camera 0 stopped sending" in lost.args[0]
    assert window.lost_banner.isVisible()
    assert not c.live and window.input_panel.live.text() == "Start"
    with qtbot.waitSignal(c.source_lost, timeout=5000):
        window.lost_banner.button.click()  # Retry opens the camera again
    assert _DyingCamera.instances == 2


@pytest.mark.parametrize("error", [RuntimeError("landmark graph broke\nsecond line"),
                                   FesguiError("the face is too small: move closer")])
def test_a_failing_live_frame_is_reported_and_offers_retry(qtbot, window, video, model_files,
                                                           detector, monkeypatch, error):
    """A pipeline exception during live video goes through the one error channel (bug
    dialog or status line) and the banner offers Retry, which starts the stream again."""
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    wait_frames_before = c.frames_shown

    failing = [True]
    works = detector.detect

    def detect(image):
        if failing[0]:
            raise error
        return works(image)

    monkeypatch.setattr(detector, "detect", detect)
    user_errors: list[str] = []
    window.notifier.user_error.connect(user_errors.append)
    with qtbot.waitSignal(c.source_lost, timeout=10000) as lost:
        c.open_path(video)
    message = lost.args[0]
    assert message.startswith("face.avi stopped: ") and "\n" not in message, message
    assert window.lost_banner.isVisible() and window.lost_banner.label.text() == message
    assert not c.live and window.input_panel.live.text() == "Start"
    assert c.frames_shown == wait_frames_before  # nothing was drawn from the failed frame
    if isinstance(error, FesguiError):
        assert "the face is too small: move closer" in message
        assert user_errors == ["the face is too small: move closer"]
        assert window.unexpected_errors == []
    else:
        assert message.endswith("RuntimeError: landmark graph broke")
        assert window.unexpected_errors == ["RuntimeError: landmark graph broke\nsecond line"]
    failing[0] = False  # the detector works again: Retry plays the video
    with qtbot.waitSignal(c.live_changed, timeout=5000) as restarted:
        window.lost_banner.button.click()
    assert restarted.args[0] is True and not window.lost_banner.isVisible()
    wait_frames(qtbot, window, 3)
    assert c.last_info.kind == "live" and c.last_result.faces
    c.stop_live()


def test_missing_camera_is_a_one_line_message(qtbot, window, model_files):
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    with qtbot.waitSignal(c.live_changed, timeout=10000) as changed:
        c.start_camera(7)
    assert changed.args[0] is False
    message = window.statusBar().currentMessage()
    assert message.startswith("⚠ there is no camera 7") and "\n" not in message
    assert window.unexpected_errors == []


def test_record_live_output(qtbot, window, video, model_files, tmp_path):
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    c.start_camera(str(video))
    wait_frames(qtbot, window, 2)
    out = tmp_path / "recording.avi"
    c.start_recording(out)
    # the worker takes the request between two frames: the first result drawn after it
    # may have been processed (and not recorded) before; 9 drawn means >= 8 recorded
    wait_frames(qtbot, window, 9)
    assert not out.exists()  # written atomically: appears only when finished
    with qtbot.waitSignal(c.recording_changed, timeout=5000) as done:
        c.stop_recording()
    assert done.args == [False, str(out)]
    frames = list(VideoFileSource(out))
    assert len(frames) >= 8
    assert frames[0].shape == (FRAME_H, FRAME_W, 3)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".avi") == [
        "face.avi", "recording.avi"]
    c.stop_live()


def test_a_recording_keeps_real_time_while_the_worker_drops_frames(
        qtbot, window, video, model_files, tmp_path, monkeypatch):
    """The stand-in camera runs at 20 fps and each frame takes the worker 0.15 s: two of
    every three frames are dropped. Before: the .avi held only the processed frames at
    20 fps, so it played three times too fast; now each is held until the next."""
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    c.start_camera(str(video))
    wait_frames(qtbot, window, 2)
    real = Pipeline.process

    def slow(self, *args, **kwargs):
        time.sleep(0.15)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "process", slow)
    out = tmp_path / "slow.avi"
    started = time.perf_counter()
    c.start_recording(out)
    wait_frames(qtbot, window, 8, timeout=20000)
    with qtbot.waitSignal(c.recording_changed, timeout=5000):
        c.stop_recording()
    wall = time.perf_counter() - started
    c.stop_live()
    frames = list(VideoFileSource(out))
    # ~1.2 s recorded: before, ~8 results at 20 fps made a 0.4 s file
    assert len(frames) / 20 > 0.6 * wall > 0.6


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        img, _ = make_face(FRAME_H, FRAME_W, seed=3)
        write_image(folder / f"p{i}.png", img)
    (folder / "zz_broken.png").write_bytes(b"not a png")
    return folder


@pytest.fixture
def open_folder(qtbot, window, photo_folder, model_files):
    """The window with the mr3 model loaded and ``photo_folder`` open (its first photo drawn)."""
    load_model(qtbot, window, model_files["mr3"])
    with qtbot.waitSignal(window.controller.result_ready, timeout=5000):
        window.controller.open_path(photo_folder)
    return photo_folder


def test_folder_strip_steps_through_the_images(qtbot, window, open_folder):
    c = window.controller
    strip = window.input_panel.strip
    assert strip.isVisible() and strip.count() == 6
    with qtbot.waitSignal(c.result_ready, timeout=5000):
        strip.setCurrentRow(2)
    assert c.frame_path.name == "p2.png"
    window.activateWindow()
    with qtbot.waitSignal(c.result_ready, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert c.frame_path.name == "p3.png" and strip.currentRow() == 3
    strip.setCurrentRow(5)  # the broken file: a message, the folder stays open
    assert "zz_broken.png is not an image" in window.statusBar().currentMessage()
    assert c.folder and strip.isVisible()
    qtbot.waitUntil(lambda: window.input_panel.thumbnails_pending() == 0, timeout=5000)
    icon = strip.item(0).icon().pixmap(72, 72).toImage()
    assert icon.pixelColor(36, 36) != icon.pixelColor(0, 0)  # a picture, not the grey tile


def test_batch_processes_the_folder_and_reports_failures(qtbot, window, open_folder,
                                                         model_files, tmp_path):
    c = window.controller
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(c.batch_finished, timeout=20000) as finished:
        dialog = window.files.start_batch(str(out))
        assert dialog.isVisible()
    report = finished.args[0]
    assert not report.cancelled
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png" for i in range(5)]
    assert [name for name, _ in report.failures] == ["zz_broken.png"]
    # the batch output is the pipeline's output for each photo (independent run)
    model = core_load_model(model_files["mr3"])
    img, pts = make_face(FRAME_H, FRAME_W, seed=3)
    expected = Pipeline(model, landmarks=FakeLandmarks(pts)).process(img).composite
    assert np.array_equal(read_image(out / "p0.png"), expected)
    assert "wrote 5 of 6 images" in window.statusBar().currentMessage()
    assert window.files.progress is None
    # the reasons, which the status bar has no room for, in a box that does not block
    box = window.files.report_box
    assert box is not None and box.isVisible() and not box.isModal()
    assert box.text().startswith("Wrote 5 of 6 images")
    assert box.detailedText().splitlines() == [f"failed: zz_broken.png: {reason}"
                                               for _, reason in report.failures]
    assert "is not an image" in box.detailedText()


def test_cancelled_batch_leaves_only_complete_files(qtbot, window, open_folder, tmp_path,
                                                    monkeypatch):
    c = window.controller
    out = tmp_path / "out"
    out.mkdir()
    started = threading.Event()
    release = threading.Event()
    real_write = write_image

    def slow_write(path, rgb, *args, **kwargs):  # hold the batch inside its second file
        if path.name == "p1.png":
            started.set()
            release.wait(5)
        return real_write(path, rgb, *args, **kwargs)

    monkeypatch.setattr("fesgui.imageio.write_image", slow_write)
    with qtbot.waitSignal(c.batch_finished, timeout=20000) as finished:
        dialog = window.files.start_batch(str(out))
        qtbot.waitUntil(started.is_set, timeout=5000)
        dialog.findChild(QPushButton).click()  # the user presses Cancel
        release.set()
    report = finished.args[0]
    assert report.cancelled
    assert window.files.report_box is None  # nothing failed: the status line says it all
    names = sorted(p.name for p in out.iterdir())
    assert names == ["p0.png", "p1.png"]  # the file in progress completes; nothing partial
    for name in names:
        assert read_image(out / name).shape == (FRAME_H, FRAME_W, 3)


def test_the_grabber_keeps_the_newest_two_frames_oldest_first():
    """A frame that took longer than the frame period is made up by the quicker one after
    it (the worker finds the next frame waiting) instead of being dropped; frames older
    than the newest KEEP_FRAMES are dropped and counted, never queued."""
    from fesgui.gui.worker import KEEP_FRAMES, FrameGrabber

    class Burst:  # five frames at once, then the end
        def __init__(self):
            self.frames = [np.full((2, 2, 3), n, np.uint8) for n in range(1, 6)]

        def read(self):
            return self.frames.pop(0) if self.frames else None

    assert KEEP_FRAMES == 2
    grabber = FrameGrabber(Burst())
    grabber.start()
    assert grabber.ended.wait(5)
    taken = [grabber.take(0.01) for _ in range(3)]
    assert [t[2] for t in taken[:2]] == [4, 5] and taken[2] is None
    assert taken[0][3] <= taken[1][3] <= time.perf_counter()  # when each arrived
    assert [int(t[0][0, 0, 0]) for t in taken[:2]] == [4, 5]
    assert grabber.overwritten == 3
    grabber.stop()
