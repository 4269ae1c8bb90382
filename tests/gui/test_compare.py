"""Before / after on the frame view: the Original toggle, the hold key and the split view.

The window is checked twice over: the image items hold the arrays the worker sent (the
original = ``FrameResult.frame``, the result = ``.composite``), and what is actually drawn
(a grab of the view) shows the original left of the divider and the result right of it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from .helpers import load_model, open_and_wait

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def _grab(qtbot, view) -> np.ndarray:
    """The frame view as drawn, (h, w, 3) uint8."""
    from PySide6.QtGui import QImage

    qtbot.wait(30)
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())
    return rows[:, : 3 * w].reshape(h, w, 3).copy()


def _widget_x(view, frame_x: float) -> int:
    """Widget column of frame column ``frame_x`` (view -> scene -> widget)."""
    scene = view.view.mapViewToScene(QPointF(frame_x, 0))
    return int(view.mapFromScene(scene).x())


def _widget_y(view, frame_y: float) -> int:
    scene = view.view.mapViewToScene(QPointF(0, frame_y))
    return int(view.mapFromScene(scene).y())


@pytest.fixture
def shown(qtbot, window, face_file, model_files):
    load_model(qtbot, window, model_files["mr3"])
    result = open_and_wait(qtbot, window, face_file)
    assert not np.array_equal(result.frame, result.composite)  # something to compare
    return result


def test_original_toggle_and_hold_key_show_the_input_frame(qtbot, window, shown):
    overlay = window.compare.overlay
    view = window.frame_view
    after = _grab(qtbot, view)
    assert not overlay.before.isVisible()
    window.compare.original_action.trigger()  # the toolbar toggle
    assert overlay.before.isVisible()
    assert np.array_equal(overlay.before.image, shown.frame)
    before = _grab(qtbot, view)
    assert np.abs(before.astype(int) - after).max() > 20  # the face changed back
    window.compare.original_action.trigger()
    assert not overlay.before.isVisible()
    assert np.array_equal(_grab(qtbot, view), after)

    # hold \ (wherever the focus is): the original while held, the result after release
    target = window.crop_views.canvas
    qtbot.keyPress(target, Qt.Key.Key_Backslash)
    assert overlay.before.isVisible() and window.compare.hold.down
    assert np.array_equal(_grab(qtbot, view), before)
    qtbot.keyRelease(target, Qt.Key.Key_Backslash)
    assert not overlay.before.isVisible()
    qtbot.keyPress(target, Qt.Key.Key_B)  # B does the same
    assert overlay.before.isVisible()
    qtbot.keyRelease(target, Qt.Key.Key_B)
    assert not overlay.before.isVisible()
    # typing a B into a text box is a letter, not a compare
    window.presets.box.setEditable(True)
    window.presets.box.lineEdit().setFocus()
    qtbot.keyPress(window.presets.box.lineEdit(), Qt.Key.Key_B)
    assert not overlay.before.isVisible()
    assert window.presets.box.lineEdit().text() == "b"


def test_split_view_shows_before_left_and_after_right_of_a_draggable_divider(qtbot, window,
                                                                           shown):
    overlay = window.compare.overlay
    view = window.frame_view
    window.inspector_dock.close()  # a wider frame view
    window.maps_dock.close()
    h, w = shown.frame.shape[:2]
    after = _grab(qtbot, view)
    window.compare.original_action.trigger()
    before = _grab(qtbot, view)
    window.compare.original_action.trigger()

    window.compare.split_action.trigger()
    assert overlay.divider.isVisible() and overlay.divider.value() == pytest.approx(w / 2)
    for x_frame in (w / 2, 0.3 * w):
        if x_frame != w / 2:  # drag the divider (as a mouse drag does: it moves the line)
            overlay.divider.setValue(x_frame)
            assert overlay.fraction == pytest.approx(0.3)
        x = overlay.split_column()
        assert x == round(x_frame)
        assert np.array_equal(overlay.before.image, shown.frame[:, :x])
        split = _grab(qtbot, view)
        cut = _widget_x(view, x)
        rows = slice(_widget_y(view, 0.4 * h), _widget_y(view, 0.95 * h))  # below the labels
        left, right = slice(None, cut - 4), slice(cut + 4, None)
        if x_frame == w / 2:  # both halves of the band hold part of the change
            assert (before[rows, left] != after[rows, left]).any()
            assert (before[rows, right] != after[rows, right]).any()
        assert np.array_equal(split[rows, left], before[rows, left])
        assert np.array_equal(split[rows, right], after[rows, right])
    # the hold key shows the whole original even in split view, then the split comes back
    qtbot.keyPress(window.crop_views.canvas, Qt.Key.Key_Backslash)
    assert np.array_equal(overlay.before.image, shown.frame)
    assert not overlay.divider.isVisible()
    qtbot.keyRelease(window.crop_views.canvas, Qt.Key.Key_Backslash)
    assert overlay.divider.isVisible() and overlay.split_column() == round(0.3 * w)
    window.compare.split_action.trigger()
    assert not overlay.before.isVisible() and not overlay.divider.isVisible()
    assert np.array_equal(_grab(qtbot, view), after)


def test_the_divider_stays_at_its_place_for_the_next_frame(qtbot, window, shown, tmp_path):
    from fesgui.imageio import write_image
    from fesgui.synthetic import make_face

    window.compare.split_action.trigger()
    window.compare.overlay.divider.setValue(0.25 * shown.frame.shape[1])
    wide = np.zeros((shown.frame.shape[0], 2 * shown.frame.shape[1], 3), np.uint8)
    wide[:, : shown.frame.shape[1]] = make_face(*shown.frame.shape[:2], seed=3)[0]
    write_image(tmp_path / "wide.png", wide)
    second = open_and_wait(qtbot, window, tmp_path / "wide.png")
    overlay = window.compare.overlay
    assert overlay.fraction == pytest.approx(0.25)
    assert overlay.split_column() == round(0.25 * second.frame.shape[1])
    assert np.array_equal(overlay.before.image, second.frame[:, : overlay.split_column()])
