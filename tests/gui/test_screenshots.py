"""``python -m fesgui.gui.screenshots``: the documentation screenshots, taken offscreen with
a tiny model and the fake detector (the real run uses the shipped model and MediaPipe)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRect

from fesgui.errors import FesguiError
from fesgui.gui.screen_fit import fitted_geometry
from fesgui.gui.screenshots import SCREENS, main, mouth_pixel, take_screenshots

from .helpers import FakeLandmarks

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


def test_mouth_pixel_is_the_mouth_corners_midpoint_in_the_crop():
    # a crop that is the frame shifted by (-5, -2) and halved: x' = (x - 5) / 2, y' = ...
    matrix = np.array([[0.5, 0.0, -2.5], [0.0, 0.5, -1.0]])
    points = np.array([[0, 0], [0, 0], [0, 0], [41, 50], [61, 54]], np.float32)
    face = SimpleNamespace(landmarks=SimpleNamespace(points=points), matrix=matrix,
                           crop=np.zeros((32, 32, 3), np.float32))
    # corners midpoint (51, 52) -> crop x = 23, y = 25
    assert mouth_pixel(face) == (25, 23)
    face.matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # off the crop: clamped
    assert mouth_pixel(face) == (31, 31)


def test_screenshots_are_written_as_small_palette_pngs(qtbot, tmp_path, face_file, face,
                                                       model_files, settings_dir):
    out = tmp_path / "images"
    out.mkdir()
    paths = take_screenshots(out, photo=face_file, model=model_files["mr3"], maps_width=700,
                             landmarks_factory=lambda video: FakeLandmarks(face[1]))
    names = ["app-1280x720.png", "compare.png", "inspector.png", "faces.png", "train.png",
             "app-1920x1080.png"]
    assert paths == [out / name for name in names]
    pixels = {p.name: np.asarray(Image.open(p).convert("RGB")) for p in paths}
    for path in paths:
        assert Image.open(path).mode == "P"  # 256 colours
        assert pixels[path.name].std() > 10  # a drawn window, not a blank grab
        assert path.stat().st_size < 300_000
    for screen in SCREENS:  # the window as it opens on that screen
        size = fitted_geometry(QRect(0, 0, *screen)).size()
        shot = pixels["app-{}x{}.png".format(*screen)]
        assert shot.shape == (size.height(), size.width(), 3)
    app = pixels["app-1280x720.png"]
    for name in ("compare.png", "inspector.png", "faces.png"):
        assert pixels[name].shape == app.shape
        assert (pixels[name] != app).any(), name  # something else shown
    assert pixels["train.png"].shape[1] < app.shape[1]  # the dialog alone
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary files
    # the user's settings were neither used nor changed
    assert os.environ["FESGUI_SETTINGS_DIR"] == str(settings_dir)
    assert not (settings_dir / "fesgui.ini").exists()


def test_screenshot_problems_are_one_line(qtbot, tmp_path, face_file, model_files, capsys):
    with pytest.raises(FesguiError, match="is not a folder"):
        take_screenshots(tmp_path / "missing", photo=face_file, model=model_files["mr3"])
    with pytest.raises(FesguiError, match="no face found in face.png"):
        take_screenshots(tmp_path, photo=face_file, model=model_files["mr3"],
                         landmarks_factory=lambda video: FakeLandmarks(None))
    assert main([str(tmp_path / "missing"), "--model", str(model_files["mr3"])]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("fesgui: screenshots: ") and "\n" not in err
