"""Several faces: all outlined, a click edits the face clicked, "All faces" edits both.

A synthetic frame holds two different faces side by side; a fake detector "finds" both at
their known points. Expected composites come from the Pipeline run directly with the face
chosen by hand (manual=) or all_faces=True, not from the window.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from fesgui.align import FaceLandmarks, box_of
from fesgui.core import load_model as core_load_model
from fesgui.gui.face_picker import face_at, face_pick, nearest_face, outline
from fesgui.pipeline import Pipeline
from fesgui.synthetic import make_face

from .helpers import FRAME_H, FRAME_W, load_model, next_result, open_and_wait

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


class TwoFaces:
    """A detector that finds the two faces of :func:`two_face_frame` (largest first)."""

    def __init__(self, points: list[np.ndarray]) -> None:
        self.faces = [FaceLandmarks(p.copy(), None, box_of(p, pad=0.5)) for p in points]

    def detect(self, image: np.ndarray) -> list[FaceLandmarks]:
        return list(self.faces)

    def close(self) -> None:
        pass


def two_face_frame() -> tuple[np.ndarray, list[np.ndarray]]:
    """(FRAME_H, 2 FRAME_W, 3) uint8: face A on the left, a larger face B on the right."""
    a, pa = make_face(FRAME_H, FRAME_W, seed=3, scale=0.8)
    b, pb = make_face(FRAME_H, FRAME_W, seed=7, scale=1.0)
    return np.hstack([a, b]), [pb + [FRAME_W, 0], pa]  # B is larger: found first


def test_choices_pick_faces_by_box():
    pts = [np.array([[10, 10], [30, 10], [20, 20], [12, 30], [28, 30]], np.float32)]
    pts.append(pts[0] + [100, 0])
    faces = [FaceLandmarks(p, None, box_of(p, pad=0.5)) for p in pts]
    assert face_at(faces, 20, 20) == 0 and face_at(faces, 120, 20) == 1
    assert face_at(faces, 70, 20) is None  # between the boxes
    assert nearest_face(faces, 90, 20) == 1 and nearest_face(faces, 40, 20) == 0
    assert face_pick(None) is None
    assert face_pick("all")(faces) == faces
    assert face_pick((118.0, 25.0))(faces) == [faces[1]]
    assert face_pick((1.0, 1.0))([]) == []
    xs, ys = outline(faces)
    assert np.isnan(xs[5]) and xs.size == 12
    x0, y0, x1, y1 = faces[1].box
    assert [xs[6], ys[6], xs[8], ys[8]] == [x0, y0, x1, y1]


def test_pipeline_pick_changes_only_the_faces_picked(model_files):
    frame, points = two_face_frame()
    source = TwoFaces(points)
    model = core_load_model(model_files["mr3"])
    picked = Pipeline(model, landmarks=source).process(frame, pick=lambda f: [f[1]])
    alone = Pipeline(model, landmarks=source).process(frame, manual=source.faces[1])
    assert len(picked.found) == 2 and len(picked.faces) == 1
    assert np.array_equal(picked.composite, alone.composite)
    default = Pipeline(model, landmarks=source).process(frame)
    assert [f.landmarks for f in default.faces] == [source.faces[0]]  # the largest
    assert len(default.found) == 2


@pytest.fixture
def two_faces(qtbot, models_dir, model_files, tmp_path):
    from fesgui.gui.main_window import MainWindow
    from fesgui.imageio import write_image

    frame, points = two_face_frame()
    source = TwoFaces(points)
    win = MainWindow(landmarks_factory=lambda video: source)
    qtbot.addWidget(win)
    win.inspector_dock.close()
    win.maps_dock.close()
    win.show()
    qtbot.waitExposed(win)
    load_model(qtbot, win, model_files["mr3"])
    path = tmp_path / "two.png"
    write_image(path, frame)
    yield win, path, frame, source
    win.close()


def _click_frame(qtbot, win, x: float, y: float) -> None:
    """A real mouse click on frame pixel (x, y) of the frame view."""
    view = win.frame_view
    scene = view.view.mapViewToScene(QPointF(x, y))
    pos = view.mapFromScene(scene)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_two_faces_outlined_click_one_then_all(qtbot, two_faces, model_files):
    win, path, frame, source = two_faces
    model = core_load_model(model_files["mr3"])
    a, b = source.faces[1], source.faces[0]  # left face A, right face B (largest)

    first = open_and_wait(qtbot, win, path)
    assert [f.landmarks for f in first.faces] == [b]  # the largest, as before
    picker = win.faces
    # both outlined: B (edited) solid, A dashed
    chosen_x, _ = picker._chosen.getData()
    others_x, _ = picker._others.getData()
    assert np.nanmin(chosen_x) == pytest.approx(b.box[0])
    assert np.nanmin(others_x) == pytest.approx(a.box[0])
    assert "2 faces: click one" in win.statusBar().currentMessage()

    # click face A: only A changes (B stays exactly the input)
    ax, ay = a.points[2]
    result, _ = next_result(qtbot, win, lambda: _click_frame(qtbot, win, ax, ay))
    assert [f.landmarks for f in result.faces] == [a]
    expected = Pipeline(model, landmarks=source).process(frame, manual=a)
    assert np.array_equal(result.composite, expected.composite)
    assert np.array_equal(result.composite[:, FRAME_W:], frame[:, FRAME_W:])
    assert not np.array_equal(result.composite[:, :FRAME_W], frame[:, :FRAME_W])
    assert np.array_equal(win.crop_views.images[0].image, expected.faces[0].crop)
    chosen_x, _ = picker._chosen.getData()
    assert np.nanmin(chosen_x) == pytest.approx(a.box[0])

    # a click between the faces picks nothing (and does not reprocess)
    assert not picker.click(float(FRAME_W), 2.0)

    # All faces: both change, as the pipeline's all_faces does
    result, _ = next_result(qtbot, win, picker.all_action.trigger)
    assert {id(f.landmarks) for f in result.faces} == {id(a), id(b)}
    expected = Pipeline(model, landmarks=source, all_faces=True).process(frame)
    assert np.array_equal(result.composite, expected.composite)
    assert not np.array_equal(result.composite[:, FRAME_W:], frame[:, FRAME_W:])
    assert not np.array_equal(result.composite[:, :FRAME_W], frame[:, :FRAME_W])

    # clicking a face leaves "all faces"; a new photo goes back to the largest face
    result, _ = next_result(qtbot, win, lambda: _click_frame(qtbot, win, ax, ay))
    assert not picker.all_action.isChecked() and [f.landmarks for f in result.faces] == [a]
    again = open_and_wait(qtbot, win, path)
    assert [f.landmarks for f in again.faces] == [b]


def test_one_face_draws_no_picker_outline(qtbot, window, face_file, model_files):
    load_model(qtbot, window, model_files["mr3"])
    result = open_and_wait(qtbot, window, face_file)
    assert len(result.found) == 1
    assert window.faces._chosen.getData()[0] is None or window.faces._chosen.getData()[0].size == 0
    assert not window.faces.click(*result.found[0].points[2])  # nothing to choose
