"""Layout: the window fits the screen (down to 1280x720) with everything reachable; the
folder strip shows whole names; a mapping switch keeps the method; a bad --model says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSize

from fesgui.gui.screen_fit import BORDER, FRAME, PREFERRED, TITLE, fitted_geometry, minimum_size

from .helpers import load_model

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("available", [QRect(0, 0, 1280, 720), QRect(0, 0, 1366, 740),
                                       QRect(0, 27, 1280, 693), QRect(1920, 0, 1920, 1040),
                                       QRect(0, 0, 3840, 2160), QRect(0, 0, 1024, 600)])
def test_fitted_geometry_lies_inside_the_screen(available):
    g = fitted_geometry(available)
    with_frame = g.adjusted(-BORDER, -TITLE, BORDER, BORDER)  # borders and title bar
    assert available.contains(with_frame)
    room = QSize(available.width() - FRAME.width(), available.height() - FRAME.height())
    # as large as preferred where the screen allows, larger on a large screen
    assert g.width() == min(room.width(), max(PREFERRED.width(), round(0.85 * available.width())))
    assert g.height() == min(room.height(),
                             max(PREFERRED.height(), round(0.85 * available.height())))
    # centred
    assert abs((g.left() - available.left()) - (available.right() - g.right())) <= 1
    small = minimum_size(available)
    assert small.width() <= g.width() and small.height() <= g.height()


_PROBE = r"""
import json, sys
from PySide6.QtWidgets import QApplication, QToolButton
app = QApplication([])
from fesgui.gui.main_window import MainWindow
win = MainWindow()
win.show()
for _ in range(50):
    app.processEvents()
screen = win.screen().availableGeometry()
def rect(w):
    top_left = w.mapToGlobal(w.rect().topLeft())
    return [top_left.x(), top_left.y(), w.width(), w.height()]
ext = win.toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
out = {"screen": [screen.x(), screen.y(), screen.width(), screen.height()],
       "frame": [win.frameGeometry().x(), win.frameGeometry().y(),
                 win.frameGeometry().width(), win.frameGeometry().height()],
       "status": rect(win.statusBar()), "central": rect(win.centralWidget()),
       "docks": {d.objectName(): rect(d) for d in (win.input_dock, win.model_dock,
                 win.refine_dock, win.inspector_dock, win.maps_dock)
                 if d.isVisible() and not d.visibleRegion().isEmpty()},
       "tabbed": [d.objectName() for d in win.tabifiedDockWidgets(win.inspector_dock)],
       "toolbar": rect(win.toolbar), "toolbar_overflows": bool(ext and ext.isVisible()),
       "minimum": [win.minimumWidth(), win.minimumHeight()]}
print("GEOMETRY " + json.dumps(out))
win.close()
"""


def _inside(outer, inner) -> bool:
    x, y, w, h = outer
    a, b, c, d = inner
    return x <= a and y <= b and a + c <= x + w and b + d <= y + h


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_window_opens_fitted_to_the_screen(tmp_path, models_dir, size):
    """The real window on an offscreen screen of ``size``, in its own process."""
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": size[0],
                                               "height": size[1], "logicalDpi": 96}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}",
               FESGUI_SETTINGS_DIR=str(tmp_path / "settings"))
    run = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    line = next(x for x in run.stdout.splitlines() if x.startswith("GEOMETRY "))
    g = json.loads(line.split(" ", 1)[1])
    assert g["screen"] == [0, 0, *size]
    assert _inside(g["screen"], g["frame"])  # title bar to status bar on the screen
    assert _inside(g["screen"], g["status"]) and g["status"][3] > 0
    assert g["frame"][2] >= min(size[0], 1280) - 8  # it uses the screen
    assert _inside(g["frame"], g["toolbar"]) and not g["toolbar_overflows"]
    assert set(g["docks"]) == {"input_dock", "model_dock", "refinement_dock", "inspector_dock"}
    assert g["tabbed"] == ["model_maps_dock"]  # a tab beside the inspector
    for dock in g["docks"].values():
        assert _inside(g["screen"], dock) and dock[2] >= 200 and dock[3] >= 100
    assert g["central"][2] >= 400 and g["central"][3] >= 400  # the frame stays large
    assert g["minimum"][0] <= size[0] and g["minimum"][1] <= size[1]


def test_folder_strip_shows_whole_names(qtbot, window, tmp_path, face):
    from PySide6.QtCore import Qt

    from fesgui.imageio import write_image

    folder = tmp_path / "holiday"
    folder.mkdir()
    names = ["a_rather_long_photo_name_from_a_phone_0001.png", "b.png"]
    for name in names:
        write_image(folder / name, face[0])
    with qtbot.waitSignal(window.controller.result_ready, timeout=10000):
        window.controller.open_path(folder)
    strip = window.input_panel.strip
    assert [strip.item(i).text() for i in range(strip.count())] == names
    assert strip.item(0).toolTip() == names[0]
    assert strip.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    assert strip.textElideMode() == Qt.TextElideMode.ElideMiddle


@pytest.fixture
def two_mappings(tmp_path, monkeypatch):
    """neutral->happy and happy->neutral, each as MR 3x3 and Pixel-RR (16 px)."""
    from fesgui.core import MaskedRegression, PixelRegression
    from fesgui.synthetic import make_pairs

    X, T = make_pairs(6, 16, 16, seed=4)
    folder = tmp_path / "models"
    folder.mkdir()
    files = {}
    for source, target, a, b in (("neutral", "happy", X, T), ("happy", "neutral", T, X)):
        for key, model in (("mr3", MaskedRegression(3)), ("prr", PixelRegression())):
            model.fit(a, b).set_provenance(source=source, target=target)
            files[(source, key)] = model.save(folder / f"{source}2{target}_{key}_16.npz")
    monkeypatch.setenv("FESGUI_MODELS", str(folder))
    return files


def test_switching_the_mapping_keeps_the_method(qtbot, window, two_mappings):
    panel = window.model_panel
    load_model(qtbot, window, two_mappings[("neutral", "prr")])
    assert panel.method.currentText() == "Pixel-RR"
    with qtbot.waitSignal(window.controller.model_changed, timeout=10000) as loaded:
        panel.mapping.setCurrentText("happy → neutral")
    assert loaded.args[1].path == two_mappings[("happy", "prr")]  # not the first listed (MR)
    assert panel.method.currentText() == "Pixel-RR"
    assert panel.current == two_mappings[("happy", "prr")]
    load_model(qtbot, window, two_mappings[("happy", "mr3")])
    with qtbot.waitSignal(window.controller.model_changed, timeout=10000) as loaded:
        panel.mapping.setCurrentText("neutral → happy")
    assert loaded.args[1].path == two_mappings[("neutral", "mr3")]


def test_a_bad_model_argument_says_so_and_the_boxes_name_the_loaded_model(qtbot, window,
                                                                        model_files):
    from fesgui.gui.app import _pick_model

    panel = window.model_panel
    assert panel.method.currentIndex() == -1  # listed, nothing loaded: no model named
    assert panel.method.placeholderText() == "no model loaded"
    errors = []
    window.notifier.user_error.connect(errors.append)
    with qtbot.waitSignal(window.controller.model_changed, timeout=10000) as loaded:
        _pick_model(window, "nosuchmodel")
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    entry = loaded.args[1]
    assert errors == [f"--model nosuchmodel: no model named 'nosuchmodel'; using {entry.name} "
                      "instead"]
    assert "nosuchmodel" in window.statusBar().currentMessage()  # not hidden by "ready"
    assert panel.current == entry.path and panel.method.currentData() == str(entry.path)
    assert window.controller.model_entry.path == entry.path
    assert window.windowTitle().endswith(entry.name)


def test_save_asks_where_remembers_the_folder_and_confirms(qtbot, window, model_files,
                                                           face_file, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from fesgui.imageio import read_image

    from .helpers import open_and_wait

    load_model(qtbot, window, model_files["mr3"])
    result = open_and_wait(qtbot, window, face_file)
    asked = []
    out = tmp_path / "exports"
    out.mkdir()

    def answer(parent, title, start, filters):
        asked.append(start)
        return str(out / Path(start).name), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    window.files.ask_save("frame")
    assert Path(asked[0]).parent == face_file.parent  # first time: the photo's folder
    saved = out / "face_result.png"
    assert (read_image(saved) == result.composite).all()
    assert window.statusBar().currentMessage() == f"saved {saved}"
    window.files.ask_save("crop")
    assert Path(asked[1]) == out / "face_face.png"  # the folder of the last export
