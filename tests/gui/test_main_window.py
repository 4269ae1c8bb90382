"""The main window driven like a user would: open, switch model, move sliders, save.

A synthetic face and a fake detector that knows where the face is stand in for a photo and
MediaPipe; the models are tiny ones fitted by fesgui.core on synthetic pairs. Expected
images come from the real Pipeline run directly (not from the window), and file outputs are
read back with fesgui.imageio.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QFileDialog

from fesgui.core import load_model as core_load_model
from fesgui.imageio import read_image
from fesgui.pipeline import Pipeline, RefineParams

from .helpers import FakeLandmarks, load_model, next_result, open_and_wait

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def settle(qtbot, win):
    """Wait until no still request is in flight, then return the last result."""
    c = win.controller
    qtbot.waitUntil(lambda: not c.still_pending, timeout=10000)
    return c.last_result


def test_window_opens_with_drop_zone_and_lists_the_models(window, model_files):
    assert window.stack.currentWidget() is window.drop_zone
    assert "Drop a photo" in window.drop_zone.text()
    entries = window.controller.refresh_models()
    assert sorted(e.path for e in entries) == sorted(model_files.values())
    panel = window.model_panel
    assert not panel.empty.isVisible()
    assert panel.mapping.currentText() == "neutral → happy"
    labels = {panel.method.itemText(i) for i in range(panel.method.count())}
    assert labels == {"MR 3×3", "MR 5×5", "Pixel-RR"}


def _window_without_models(qtbot, tmp_path, monkeypatch, detector):
    """The main window, shown, with an empty models folder."""
    from fesgui.gui.main_window import MainWindow

    empty = tmp_path / "no_models"
    empty.mkdir()
    monkeypatch.setenv("FESGUI_MODELS", str(empty))
    win = MainWindow(landmarks_factory=lambda video: detector)
    qtbot.addWidget(win)
    win.show()
    return win


def test_zero_models_says_so_and_offers_loading_a_file(qtbot, tmp_path, monkeypatch,
                                                        model_files, detector):
    win = _window_without_models(qtbot, tmp_path, monkeypatch, detector)
    assert win.controller.refresh_models() == []
    assert win.model_panel.empty.isVisible()
    assert "No models installed" in win.model_panel.empty.text()
    assert win.model_panel.load_button.isEnabled()
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(model_files["mr3"]), "")))
    with qtbot.waitSignal(win.controller.model_changed, timeout=10000):
        win.model_panel.load_button.click()
    assert win.controller.model.meta["size"] == 3
    assert win.model_panel.method.currentText() == "MR 3×3"
    win.close()


def test_without_a_model_the_photo_shows_unchanged(qtbot, tmp_path, monkeypatch, detector,
                                                   face_file, face, model_files):
    win = _window_without_models(qtbot, tmp_path, monkeypatch, detector)
    result = open_and_wait(qtbot, win, face_file)
    assert np.array_equal(win.frame_view.image.image, face[0])
    assert result.faces == [] and "no model loaded" in win.statusBar().currentMessage()
    # dropping a model file on the window loads it and re-runs the photo
    with qtbot.waitSignal(win.controller.model_changed, timeout=10000):
        win.controller.open_path(model_files["mr3"])
    assert settle(qtbot, win).faces
    win.close()


def test_open_image_shows_the_pipeline_result(qtbot, window, face_file, face, model_files,
                                              monkeypatch):
    load_model(qtbot, window, model_files["mr3"])
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(face_file), "")))
    result, info = next_result(qtbot, window, window.input_panel.open_image.click)
    assert window.stack.currentWidget() is window.frame_view
    # independent: the real pipeline run here on the same frame with the same points
    expected = Pipeline(core_load_model(model_files["mr3"]),
                        landmarks=FakeLandmarks(face[1])).process(face[0])
    assert np.array_equal(result.composite, expected.composite)
    assert not np.array_equal(result.composite, face[0])  # the face did change
    assert np.array_equal(window.frame_view.image.image, expected.composite)
    # what is painted: the composite's bytes as they are (uint8 without levels, no rescale)
    item = window.frame_view.image
    item.render()
    painted = item.qimage.convertToFormat(QImage.Format.Format_RGB888)
    h, w = expected.composite.shape[:2]
    rows = np.frombuffer(painted.constBits(), np.uint8, painted.bytesPerLine() * h)
    rows = rows.reshape(h, painted.bytesPerLine())[:, : w * 3].reshape(h, w, 3)
    assert np.array_equal(rows, expected.composite)
    crop_items = window.crop_views.images
    f = expected.faces[0]
    for item, array in zip(crop_items, (f.crop, f.output, f.refined), strict=True):
        assert np.array_equal(item.image, array)
    # overlay: the five key points and a closed crop outline are drawn
    xs, ys = window.frame_view.points.getData()
    assert np.allclose(np.c_[xs, ys], face[1])
    assert window.frame_view.box.getData()[0].size == 6  # 5 corners + the break
    assert not window.frame_view.points.isVisible()  # off by default: the face first
    window.overlay_action.trigger()  # Ctrl+L
    assert window.frame_view.points.isVisible() and window.frame_view.box.isVisible()
    assert window.statusBar().currentMessage() != ""


def test_every_slider_changes_the_output(qtbot, window, face_file, model_files, detector):
    load_model(qtbot, window, model_files["mr3"])
    open_and_wait(qtbot, window, face_file)
    panel = window.refine_panel
    base = settle(qtbot, window)
    # the defaults of the model's size are shown on the sliders; RMR starts off
    assert panel.radius.value() == window.controller.defaults[0]
    assert panel.sigma.value() == pytest.approx(window.controller.defaults[1])
    assert not panel.enabled.isChecked() and not panel.k.isEnabled()
    assert np.array_equal(base.faces[0].refined, base.faces[0].output)
    # RMR on: the refined view shows the alpha blend, and the RMR sliders come alive
    panel.enabled.setChecked(True)
    on = settle(qtbot, window)
    assert not np.array_equal(on.faces[0].refined, base.faces[0].refined)
    assert panel.k.isEnabled()
    moves = [("k", panel.k, 3.0), ("tau", panel.tau, 0.5), ("dilation_radius", panel.radius, 4),
             ("blur_sigma", panel.sigma, 3.0), ("intensity", panel.intensity, 0.5)]
    model = core_load_model(model_files["mr3"])
    for name, slider, value in moves:
        before = settle(qtbot, window)
        slider.slider.setValue(round((value - slider.lo) / slider.step))
        after = settle(qtbot, window)
        assert getattr(window.controller.params, name) == pytest.approx(value)
        assert not np.array_equal(after.faces[0].final, before.faces[0].final), name
        # the drawn result is the pipeline's for these exact params (independent run)
        pipe = Pipeline(model, landmarks=FakeLandmarks(after.faces[0].landmarks.points),
                        params=window.controller.params)
        assert np.array_equal(pipe.process(after.frame).composite, after.composite), name
    assert detector.calls == 1  # slider moves re-use the photo's landmarks
    # RMR off: the refined view shows the raw output
    before = settle(qtbot, window)
    panel.enabled.setChecked(False)
    after = settle(qtbot, window)
    assert not np.array_equal(after.faces[0].refined, before.faces[0].refined)
    assert np.array_equal(after.faces[0].refined, after.faces[0].output)
    assert np.array_equal(window.crop_views.images[2].image, after.faces[0].output)
    assert not panel.k.isEnabled()
    # reset (Ctrl+R) brings the defaults back and re-runs
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    reset = settle(qtbot, window)
    assert window.controller.params == RefineParams()
    assert panel.params() == RefineParams()
    assert np.array_equal(reset.composite, base.composite)


def test_slider_drag_is_coalesced_and_ends_on_the_last_value(qtbot, window, face_file,
                                                             model_files):
    load_model(qtbot, window, model_files["mr3"])
    open_and_wait(qtbot, window, face_file)
    settle(qtbot, window)
    drawn = []
    window.controller.result_ready.connect(lambda r, i: drawn.append(i.params.k))
    for step in range(1, 41):  # a fast drag: 40 positions without waiting
        window.refine_panel.k.slider.setValue(step)
    settle(qtbot, window)
    assert drawn[-1] == pytest.approx(window.refine_panel.k.value())
    assert len(drawn) < 40  # intermediate positions were skipped, not queued


def test_switching_model_updates_views_and_inspector(qtbot, window, face_file, model_files,
                                                     monkeypatch):
    load_model(qtbot, window, model_files["mr3"])
    first = open_and_wait(qtbot, window, face_file)
    seen = []
    monkeypatch.setattr(window.inspector, "set_model", lambda m: seen.append(("insp", m)))
    monkeypatch.setattr(window.maps, "set_model", lambda m: seen.append(("maps", m)))
    panel = window.model_panel
    index = panel.method.findText("Pixel-RR")
    with qtbot.waitSignal(window.controller.model_changed, timeout=10000):
        panel.method.setCurrentIndex(index)
        panel.method.activated.emit(index)
    after = settle(qtbot, window)
    model = window.controller.model
    assert model.meta["method"] == "pixel-rr"
    assert [s for s, m in seen if m is model] == ["insp", "maps"]
    assert not np.array_equal(after.faces[0].output, first.faces[0].output)
    expected = Pipeline(core_load_model(model_files["prr"]),
                        landmarks=FakeLandmarks(after.faces[0].landmarks.points)).process(
                            after.frame)
    assert np.array_equal(after.composite, expected.composite)
    # defaults follow the model (same 32x32 size here, so the same numbers)
    assert window.refine_panel.radius.value() == window.controller.defaults[0]


def test_model_card_shows_mapping_size_and_test_mse(qtbot, window, model_files):
    load_model(qtbot, window, model_files["mr5"])
    dialog = window.model_panel.show_card()
    qtbot.addWidget(dialog)
    text = dialog.text.toPlainText()
    assert "neutral → happy" in text
    assert "MR 5×5" in text
    assert "32×32" in text
    assert "0.01230" in text  # test MSE from the model's meta


def test_crop_click_selects_pixel_in_inspector_and_draws_crosshair(qtbot, window, face_file,
                                                                  model_files):
    load_model(qtbot, window, model_files["mr3"])
    open_and_wait(qtbot, window, face_file)
    views = window.crop_views
    canvas = views.canvas
    with qtbot.waitSignal(window.inspector.pixel_selected, timeout=5000) as blocker:
        pos = canvas.mapFromScene(views.scene_pos_of(10, 20, view=1))
        qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [10, 20]
    assert views.crosshair == (10, 20)
    for vline, hline in views.cross:
        assert vline.isVisible() and hline.isVisible()
        assert (vline.value(), hline.value()) == (20.5, 10.5)
    # and the other way round: the inspector moves the selection
    window.inspector.select_pixel(3, 4)
    assert views.crosshair == (3, 4)


def test_crop_views_share_zoom_and_pan(window, qtbot, face_file, model_files):
    load_model(qtbot, window, model_files["mr3"])
    open_and_wait(qtbot, window, face_file)
    views = window.crop_views.views
    views[2].setRange(xRange=(5, 15), yRange=(5, 15), padding=0)

    def centre(view):  # views differ in width by a few pixels: compare centres and heights
        (x0, x1), (y0, y1) = view.viewRange()
        return np.array([(x0 + x1) / 2, (y0 + y1) / 2])

    qtbot.waitUntil(lambda: np.allclose(centre(views[0]), [10, 10], atol=0.05), timeout=2000)
    assert np.allclose(centre(views[1]), [10, 10], atol=0.05)
    assert np.allclose(views[0].viewRange()[1], views[2].viewRange()[1])
    x_span, y_span = (np.ptp(r) for r in views[0].viewRange())
    assert min(x_span, y_span) < 16  # zoomed in (the whole crop is 32 px)


def test_place_landmarks_when_the_detector_misses(qtbot, models_dir, model_files, face_file,
                                                  face):
    from fesgui.gui.main_window import MainWindow
    from fesgui.gui.placement import PROMPTS

    blind = FakeLandmarks(None)
    win = MainWindow(landmarks_factory=lambda video: blind)
    qtbot.addWidget(win)
    win.show()
    load_model(qtbot, win, model_files["mr3"])
    missed = open_and_wait(qtbot, win, face_file)
    assert missed.faces == [] and "no face" in missed.message
    assert np.array_equal(missed.composite, face[0])
    win.input_panel.place.click()
    assert win.prompt.isVisible() and win.prompt.text() == PROMPTS[0]
    pts = face[1]
    clicks = [pts[0], pts[1], (pts[3] + pts[4]) / 2]
    view = win.frame_view
    with qtbot.waitSignal(win.controller.result_ready, timeout=10000) as blocker:
        for n, (x, y) in enumerate(clicks):
            if n:
                assert win.prompt.text() == PROMPTS[n]
            scene = view.view.mapViewToScene(QPointF(float(x), float(y)))
            qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                             pos=view.mapFromScene(scene))
    result = blocker.args[0]
    assert not win.prompt.isVisible()
    assert len(result.faces) == 1
    lm = result.faces[0].landmarks
    assert lm.manual
    assert np.allclose(lm.points[:2], pts[:2], atol=1.5)  # clicks land within a pixel
    assert not np.array_equal(result.composite, face[0])
    win.close()


def test_save_result_and_crop(qtbot, window, face_file, face, model_files, tmp_path,
                              monkeypatch):
    load_model(qtbot, window, model_files["mr3"])
    result = open_and_wait(qtbot, window, face_file)
    out_png = tmp_path / "out" / "result.png"
    out_png.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(out_png), "")))
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(read_image(out_png), result.composite)
    out_jpg = tmp_path / "out" / "face.jpg"
    window.controller.save_result(out_jpg, "crop")
    crop = read_image(out_jpg)
    assert crop.shape == result.faces[0].final.shape == (32, 32, 3)
    assert sorted(p.name for p in out_png.parent.iterdir()) == ["face.jpg", "result.png"]


def test_errors_are_one_line_in_the_status_bar(qtbot, window, tmp_path, model_files):
    bad = tmp_path / "not_an_image.jpg"
    bad.write_text("hello")
    window.guarded(window.controller.open_path)(bad)
    message = window.statusBar().currentMessage()
    assert message.startswith("⚠ ") and "\n" not in message
    window.guarded(window.controller.save_result)(tmp_path / "x.png")
    assert "nothing to save" in window.statusBar().currentMessage()
    window.guarded(window.controller.open_path)(tmp_path / "missing.png")
    assert "does not exist" in window.statusBar().currentMessage()
    fake_model = tmp_path / "fake.npz"
    fake_model.write_bytes(b"PK not really")
    window.model_panel.file_loaded.emit(str(fake_model))  # "Load model file…" on a bad file
    assert "fake.npz" in window.statusBar().currentMessage()
    assert window.controller.model is None
    assert window.unexpected_errors == []


def test_worker_bug_reaches_the_user_as_a_dialog(qtbot, window, face_file, model_files,
                                                 monkeypatch):
    load_model(qtbot, window, model_files["mr3"])

    def broken(*args, **kwargs):
        raise RuntimeError("synthetic failure")

    with monkeypatch.context() as patch:  # only the bug is undone, not the settings folder
        patch.setattr(Pipeline, "process", broken)
        window.controller.open_path(face_file)
        qtbot.waitUntil(lambda: bool(window.unexpected_errors), timeout=10000)
        assert "synthetic failure" in window.unexpected_errors[0]
        assert window.error_box.isVisible()
        window.error_box.close()
    # the window is still alive and works once the bug is gone
    window.controller.reprocess()
    assert settle(qtbot, window).faces


def test_drop_a_file_on_the_window_opens_it(qtbot, window, face_file, model_files):
    load_model(qtbot, window, model_files["mr3"])
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(face_file))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.controller.result_ready, timeout=10000):
        window.dropEvent(event)
    assert window.controller.frame_path == face_file


def test_shortcuts_exist(window, qtbot):
    shortcuts = {k.toString() for a in window.actions() for k in a.shortcuts()}
    for key in ("Ctrl+O", "Ctrl+S", "Space", "Ctrl+R", "Ctrl+Q", "F11", "Ctrl+F", "Ctrl+L"):
        assert key in shortcuts, key
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.isFullScreen, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=2000)


def test_settings_survive_a_restart(qtbot, models_dir, model_files, detector, face_file,
                                    settings_dir):
    from fesgui.gui import window_state
    from fesgui.gui.main_window import MainWindow

    win = MainWindow(landmarks_factory=lambda video: detector)
    qtbot.addWidget(win)
    win.show()
    load_model(qtbot, win, model_files["mr5"])
    open_and_wait(qtbot, win, face_file)
    win.refine_panel.tau.set_value(0.35, emit=True)
    win.refine_panel.radius.set_value(6, emit=True)
    win.refine_panel.intensity.set_value(0.8, emit=True)
    win.refine_panel.shape.set_value(1.25, emit=True)
    win.refine_panel.appearance.set_value(0.5, emit=True)
    win.refine_panel.alpha_source.setCurrentIndex(1)
    win.input_panel.mirror.setChecked(True)
    win.resize(760, 600)  # within the offscreen screen (800x800): restore clamps to it
    qtbot.waitUntil(lambda: win.height() == 600, timeout=2000)
    size = (win.width(), win.height())
    win.close()
    assert (settings_dir / "fesgui.ini").is_file()

    again = MainWindow(landmarks_factory=lambda video: detector)
    qtbot.addWidget(again)
    again.show()
    params = again.controller.params
    assert (params.tau, params.dilation_radius, params.intensity) == (0.35, 6, 0.8)
    assert (params.shape, params.appearance, params.alpha_source) == (1.25, 0.5, "change")
    assert params.blur_sigma is None and params.k == 10.0
    assert again.refine_panel.params() == params
    assert again.input_panel.mirror.isChecked() and again.controller.mirror
    assert again.input_panel.last_folder == str(face_file.parent)
    assert window_state.saved_model() == model_files["mr5"]
    assert (again.width(), again.height()) == size
    again.close()


def test_closing_the_window_stops_the_worker_thread(qtbot, models_dir, detector):
    from fesgui.gui.main_window import MainWindow

    win = MainWindow(landmarks_factory=lambda video: detector)
    qtbot.addWidget(win)
    win.show()
    thread = win.controller.thread
    assert thread.isRunning()
    win.close()
    assert thread.isFinished()


def test_arrow_keys_move_the_selection_after_a_crop_click(qtbot, window, face_file,
                                                         model_files):
    """Clicking a crop view gives it the focus; the arrow keys then still move the
    inspector's selection (and the crosshair), as they do when the inspector has focus."""
    from PySide6.QtWidgets import QApplication

    load_model(qtbot, window, model_files["mr3"])
    open_and_wait(qtbot, window, face_file)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    views, inspector = window.crop_views, window.inspector
    canvas = views.canvas
    pos = canvas.mapFromScene(views.scene_pos_of(10, 20, view=2))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert inspector.selected_pixel() == (10, 20)
    focused = QApplication.focusWidget()
    assert focused is canvas  # the click moved the focus away from the inspector
    moves = [(Qt.Key.Key_Right, (10, 21)), (Qt.Key.Key_Right, (10, 22)),
             (Qt.Key.Key_Down, (11, 22)), (Qt.Key.Key_Up, (10, 22)), (Qt.Key.Key_Left, (10, 21))]
    for key, want in moves:
        with qtbot.waitSignal(inspector.pixel_selected, timeout=1000) as moved:
            qtbot.keyClick(focused, key)
        assert moved.args == list(want)
        assert inspector.selected_pixel() == want and views.crosshair == want
    # the views did not scroll or zoom under the keys: pixel (10, 20) is still where it was
    assert canvas.mapFromScene(views.scene_pos_of(10, 20, view=2)) == pos


def test_crop_views_fit_a_narrow_central_area(qtbot):
    """With wide docks the central area can be ~190 px: all three crop views stay inside
    it and their titles wrap instead of pushing the third view out of sight."""
    from fesgui.gui.views import CropViews

    views = CropViews()
    qtbot.addWidget(views)
    views.resize(190, 220)
    views.show()
    qtbot.waitExposed(views)
    crop = np.full((32, 32, 3), 0.5, np.float32)
    views.set_images(crop, crop, crop)
    qtbot.waitUntil(lambda: views.canvas.ci.geometry().width() <= 190, timeout=2000)
    for title, box in zip(views.titles, views.views, strict=True):
        rect = box.sceneBoundingRect()
        assert rect.width() > 20 and rect.right() <= 190, rect
        text = title.item.boundingRect()
        assert text.width() <= title.size().width() + 1  # wrapped to its column
    narrow = [t.item.boundingRect().height() for t in views.titles]
    views.resize(900, 300)  # wide again: one line each
    qtbot.waitUntil(lambda: all(t.item.textWidth() == -1 for t in views.titles), timeout=2000)
    wide = [t.item.boundingRect().height() for t in views.titles]
    assert all(n > 1.5 * w for n, w in zip(narrow, wide, strict=True)), (narrow, wide)


def test_deferred_views_announce_themselves_once(qtbot, models_dir, detector):
    """The app starts the worker's first jobs on ``views_built`` (so that the worker's
    imports of numba and MediaPipe never run beside this thread's pyqtgraph import)."""
    from fesgui.gui.main_window import MainWindow

    win = MainWindow(landmarks_factory=lambda video: detector, defer=True)
    qtbot.addWidget(win)
    built = []
    win.views_built.connect(lambda: built.append(win.inspector))
    win.show()
    assert win.inspector is None
    qtbot.waitUntil(lambda: len(built) == 1, timeout=5000)
    assert built[0] is not None
    qtbot.wait(100)
    assert len(built) == 1
    win.close()


def test_the_overlay_draws_every_mesh_point_as_a_dot(qtbot):
    """The mesh is a curve of tiny segments (one per point: a dot with round caps), which
    pyqtgraph redraws far faster than a scatter plot of 468 points per frame; the dots
    are really painted (Qt paints nothing for a segment of length 0)."""
    from types import SimpleNamespace

    from fesgui.align import FaceLandmarks, box_of
    from fesgui.gui.views import _DOT, FrameView

    view = FrameView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    view.set_frame(np.zeros((480, 640, 3), np.uint8))
    rng = np.random.default_rng(3)
    faces = []
    for dx in (0, 300):
        mesh = (rng.random((468, 2)) * [250, 300] + [40 + dx, 80]).astype(np.float32)
        lm = FaceLandmarks(mesh[:5].copy(), mesh, box_of(mesh))
        faces.append(SimpleNamespace(landmarks=lm, matrix=np.array([[1.0, 0, -dx], [0, 1, 0]])))
    view.set_faces(faces, (64, 64))
    x, y = view.mesh.getData()
    both = np.concatenate([f.landmarks.mesh for f in faces])
    assert x.size == 2 * len(both)
    assert np.array_equal(x[0::2], both[:, 0]) and np.allclose(x[1::2], both[:, 0] + _DOT)
    assert np.array_equal(y[0::2], both[:, 1]) and np.array_equal(y[1::2], both[:, 1])
    px, py = view.points.getData()
    assert np.allclose(np.c_[px, py], np.concatenate([f.landmarks.points for f in faces]))
    assert view.box.getData()[0].size == 12  # two outlines of 5 corners + a break each
    view.set_overlay_visible(True)
    qtbot.wait(50)
    image = view.grab().toImage()
    bgra = np.array(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine())[:, :image.width() * 4].reshape(
        image.height(), image.width(), 4)
    mesh_blue = (bgra[..., 0] > 100) & (bgra[..., 1] > 60) & (bgra[..., 2] < 120)
    assert mesh_blue.sum() > 300  # hundreds of dots on the black frame
    view.set_faces([], None)
    assert view.mesh.getData()[0] is None or view.mesh.getData()[0].size == 0
    assert view.points.getData()[0].size == 0
