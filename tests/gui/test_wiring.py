"""Error routing, the inspector wiring, the camera picker, mirror and the settings file."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from fesgui.errors import FesguiError
from fesgui.gui.notify import Notifier, install_excepthooks

from .helpers import load_model, open_and_wait, write_video

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def test_notifier_splits_user_errors_from_bugs(qtbot):
    notifier = Notifier()
    with qtbot.waitSignal(notifier.user_error) as user:
        notifier.report(FesguiError("size=4 must be odd: use 3 or 5"))
    assert user.args == ["size=4 must be odd: use 3 or 5"]
    try:
        raise ValueError("boom")
    except ValueError as exc:
        with qtbot.waitSignal(notifier.unexpected_error) as bug:
            notifier.report(exc)
    summary, details = bug.args
    assert summary == "ValueError: boom"
    assert "Traceback" in details and "raise ValueError" in details


def test_excepthooks_route_errors_of_every_thread_to_the_notifier(qtbot):
    notifier = Notifier()
    old_hooks = (sys.excepthook, threading.excepthook)
    restore = install_excepthooks(notifier)
    try:
        with qtbot.waitSignal(notifier.user_error, timeout=5000) as from_thread:
            worker = threading.Thread(target=lambda: (_ for _ in ()).throw(
                FesguiError("camera 3 does not open: try another camera number")))
            worker.start()
            worker.join()
        assert from_thread.args == ["camera 3 does not open: try another camera number"]
        with qtbot.waitSignal(notifier.unexpected_error, timeout=5000) as from_main:
            try:
                raise KeyError("oops")
            except KeyError:
                sys.excepthook(*sys.exc_info())
        assert "KeyError" in from_main.args[0]
    finally:
        restore()
    assert (sys.excepthook, threading.excepthook) == old_hooks


def test_every_result_reaches_inspector_and_maps(qtbot, window, face_file, model_files,
                                                 monkeypatch):
    calls = []
    monkeypatch.setattr(window.inspector, "set_face",
                        lambda face, params: calls.append(("insp", face, params)))
    monkeypatch.setattr(window.maps, "set_face",
                        lambda face, params: calls.append(("maps", face, params)))
    views_seen = []  # what the worker computed without a frame (model loaded, sliders)
    monkeypatch.setattr(window.maps, "set_views", lambda v: views_seen.append(v))
    load_model(qtbot, window, model_files["mr3"])
    result = open_and_wait(qtbot, window, face_file)
    assert [name for name, _, _ in calls] == ["insp", "maps"]
    assert all(face is result.faces[0] for _, face, _ in calls)
    assert all(params == window.controller.params for _, _, params in calls)
    with qtbot.waitSignal(window.controller.result_ready, timeout=5000):
        window.refine_panel.tau.set_value(0.4, emit=True)
    assert len(calls) == 4 and calls[-1][2].tau == 0.4
    # the face carries the maps and alpha stages the worker made for the new numbers
    face = calls[-1][1]
    assert face.views.model.params.tau == 0.4 and face.views.model.alpha.key[1] == 0.4
    assert face.views.model.model is window.controller.model
    # and the slider's views came from the worker too, the same arrays (one cache)
    assert views_seen[-1].params.tau == 0.4
    assert views_seen[-1].alpha is face.views.model.alpha


def test_no_face_sends_none_to_the_inspector(qtbot, window, face_file, model_files,
                                             detector, monkeypatch):
    load_model(qtbot, window, model_files["mr3"])
    detector.points = None
    calls = []
    monkeypatch.setattr(window.inspector, "set_face", lambda face, params: calls.append(face))
    result = open_and_wait(qtbot, window, face_file)
    assert result.faces == [] and calls == [None]
    assert all(item.image is None for item in window.crop_views.images)
    assert "no face" in window.statusBar().currentMessage()


def test_clear_status_takes_off_only_the_message_still_shown(window):
    window.show_status("no face found: try again")
    window.show_status("saved result.png")
    window.clear_status("no face found: try again")
    assert window.statusBar().currentMessage() == "saved result.png"
    window.show_status("no face found: try again")
    window.clear_status("no face found: try again")
    assert window.statusBar().currentMessage() == ""


def test_inspector_selection_marks_crop_views_and_maps(qtbot, window, face_file,
                                                      model_files):
    load_model(qtbot, window, model_files["mr3"])
    open_and_wait(qtbot, window, face_file)
    window.inspector.select_pixel(7, 9)
    assert window.inspector.selected_pixel() == (7, 9)
    assert window.crop_views.crosshair == (7, 9)
    assert window.maps.selected_pixel() == (7, 9)  # the maps outline the same pixel


def test_camera_picker_lists_what_probe_finds(qtbot, window, monkeypatch):
    import fesgui.video

    monkeypatch.setattr(fesgui.video, "probe_cameras",
                        lambda *a, **k: [(0, 640, 480), (2, 1280, 720)])
    with qtbot.waitSignal(window.controller.cameras_found, timeout=5000):
        window.input_panel.refresh.click()
    combo = window.input_panel.cameras
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "Camera 0 — 640×480", "Camera 2 — 1280×720"]
    combo.activated.emit(1)
    assert window.controller.camera == 2


def test_no_camera_found_says_so(qtbot, window, monkeypatch):
    import fesgui.video

    monkeypatch.setattr(fesgui.video, "probe_cameras", lambda *a, **k: [])
    with qtbot.waitSignal(window.controller.cameras_found, timeout=5000):
        window.controller.probe_cameras()
    assert window.input_panel.cameras.count() == 0
    assert window.input_panel.cameras.placeholderText() == "no camera found"


def test_mirror_flips_live_frames(qtbot, window, model_files, tmp_path):
    from fesgui.video import VideoFileSource

    video = write_video(tmp_path / "v.avi", n=30, fps=20.0)
    frames = list(VideoFileSource(video))
    load_model(qtbot, window, model_files["mr3"])
    c = window.controller
    window.input_panel.mirror.setChecked(True)
    c.start_camera(str(video))
    qtbot.waitUntil(lambda: c.frames_shown >= 2, timeout=10000)
    frame = c.last_result.frame
    assert any(np.array_equal(frame, f[:, ::-1]) for f in frames)
    assert not any(np.array_equal(frame, f) for f in frames)
    c.stop_live()


def test_unreadable_settings_values_fall_back_to_defaults(qtbot, models_dir, detector,
                                                          settings_dir):
    from fesgui.gui.main_window import MainWindow
    from fesgui.pipeline import RefineParams

    settings_dir.mkdir(parents=True, exist_ok=True)
    (settings_dir / "fesgui.ini").write_text(
        "[refine]\nk=banana\ntau=0.3\nblur_sigma=\n[camera]\nindex=clip.avi\n")
    win = MainWindow(landmarks_factory=lambda video: detector)
    qtbot.addWidget(win)
    params = win.controller.params
    assert params == RefineParams(tau=0.3)
    assert win.controller.camera == 0
    win.close()


def test_default_model_is_neutral_to_happy_mr(window, tmp_path, model_files, monkeypatch):
    import shutil

    from fesgui.core import MaskedRegression
    from fesgui.synthetic import make_pairs

    folder = tmp_path / "models"
    folder.mkdir()
    for key in ("mr5", "prr", "mr3"):
        shutil.copy(model_files[key], folder)
    X, T = make_pairs(12, 32, 32, color=True, seed=5)
    other = MaskedRegression(3).fit(T, X).set_provenance(source="happy", target="neutral")
    other.save(folder / "aaa_happy2neutral.npz")  # sorts first
    monkeypatch.setenv("FESGUI_MODELS", str(folder))
    entries = window.controller.refresh_models()
    assert entries[0].name == "aaa_happy2neutral"
    assert window.controller.default_entry().path == folder / model_files["mr3"].name
