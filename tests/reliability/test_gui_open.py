"""The bad/unusual image corpus through the app: open (File > Open, a folder) and drag-drop.

Uses only the window's public API (``controller.open_path`` wrapped by ``guarded`` as the
menu does, ``dropEvent``, ``controller.open_folder``/``step``). A bad file puts one line
in the status bar, keeps the last good picture on screen and opens no bug dialog; an
unusual file is shown as the plain PNG of the same face would be (upright if EXIF-rotated).
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

from fesgui.errors import FesguiWarning

from .corpus import BAD, CASES, GOOD, base_face, drop_file, expected_image, open_app, write_case

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from fesgui.core import MaskedRegression
    from fesgui.synthetic import make_pairs

    models = tmp_path / "models"
    models.mkdir()
    X, T = make_pairs(12, 32, 32, seed=2)
    MaskedRegression(size=3).fit(X, T).set_provenance(source="neutral", target="happy").save(
        models / "neutral2happy_mr3_32.npz")
    win = open_app(qtbot, tmp_path, monkeypatch, base_face()[1], models)
    yield win
    win.close()


@pytest.mark.parametrize("how", ["open", "drop"])
def test_corpus_through_open_and_drop(qtbot, window, tmp_path, how):
    face = base_face()[0]
    c = window.controller
    ok_file = write_case(next(c for c in GOOD if c.note is None), tmp_path / "ok", face)

    def open_it(path):
        if how == "open":
            window.guarded(c.open_path)(path)
        else:
            drop_file(window, path)

    with qtbot.waitSignal(c.result_ready, timeout=10000):
        open_it(ok_file)
    for case in CASES:
        path = write_case(case, tmp_path / "in", face)
        if case.bad:
            before = c.frame
            open_it(path)
            message = window.statusBar().currentMessage()
            assert message.startswith("⚠ ") and "\n" not in message, (case.name, message)
            assert case.match in message, (case.name, message)
            assert c.frame is before  # the last good picture stays
        else:
            # the other pages of a multi-page file: a FesguiWarning (stderr in the app)
            said = pytest.warns(FesguiWarning, match=case.note) if case.note else nullcontext()
            with said, qtbot.waitSignal(c.result_ready, timeout=10000) as got:
                open_it(path)
            frame = got.args[0].frame
            want = expected_image(case, face)
            assert frame.shape == want.shape, case.name
            assert np.abs(frame.astype(int) - want).mean() <= case.tolerance + 0.5, case.name
    assert window.unexpected_errors == []


@pytest.mark.filterwarnings("ignore::fesgui.errors.FesguiWarning")  # the multi-page files
def test_folder_with_bad_files_reports_each_and_stays_open(qtbot, window, tmp_path):
    face = base_face()[0]
    folder = tmp_path / "mixed"
    for case in CASES:
        write_case(case, folder, face)
    c = window.controller
    errors: list[str] = []
    window.notifier.user_error.connect(errors.append)
    c.open_folder(folder)
    for _ in range(len(CASES)):
        c.step(1)
        qtbot.waitUntil(lambda: not c.still_pending, timeout=10000)
    assert len(c.folder) == len(CASES)
    bad_names = {case.filename for case in BAD}
    assert len(errors) == len(BAD), errors
    assert all(any(name in e for name in bad_names) or "MP" in e for e in errors), errors
    assert window.unexpected_errors == []


@pytest.mark.qt_log_ignore(".*")
@pytest.mark.filterwarnings("ignore::fesgui.errors.FesguiWarning")  # opening animated.gif
def test_thumbnails_of_bad_files_are_quiet(qtbot, window, tmp_path, qtlog):
    from PySide6.QtCore import QtMsgType

    from fesgui.gui.input_panel import THUMB

    face = base_face()[0]
    folder = tmp_path / "mixed"
    for case in CASES:
        write_case(case, folder, face)
    window.controller.open_folder(folder)
    panel = window.input_panel
    qtbot.waitUntil(lambda: panel.thumbnails_pending() == 0, timeout=10000)
    noisy = [r.message for r in qtlog.records if r.type != QtMsgType.QtDebugMsg
             and "propagateSizeHints" not in r.message]
    assert noisy == []
    # good files got a picture, bad ones keep the flat grey placeholder
    bad_names = {case.filename for case in BAD}
    for row, path in enumerate(window.controller.folder):
        icon = panel.strip.item(row).icon().pixmap(THUMB, THUMB).toImage()
        pixels = {icon.pixel(x, y) for x in range(0, icon.width(), 3)
                  for y in range(0, icon.height(), 3)}
        assert (len(pixels) == 1) == (path.name in bad_names), path.name


def test_settings_survive_a_crash(qtbot, window, tmp_path):
    """After choosing a model and a slider value, the INI file on disk already has them
    (read directly, as a new process would after a crash: no closeEvent ran)."""
    import configparser

    from fesgui.gui.settings import settings_path
    from fesgui.pipeline import RefineParams

    c = window.controller
    path = next(iter(c.refresh_models())).path
    with qtbot.waitSignal(c.model_changed, timeout=10000):
        c.select_model(path)
    c.set_params(RefineParams(k=7.0, tau=0.3))
    window.input_panel.mirror.setChecked(True)
    qtbot.wait(1500)  # any debounced save has happened by now
    ini = settings_path()
    assert ini.is_file()
    parser = configparser.ConfigParser()
    parser.read(ini, encoding="utf-8")
    assert parser.get("model", "path") == str(path)
    assert float(parser.get("refine", "k")) == 7.0
    assert parser.get("camera", "mirror") == "true"


@pytest.mark.parametrize(("name", "content", "match"), [
    ("empty.mp4", b"", "empty"),
    ("notes.avi", b"not a video\n" * 100, "cannot decode"),
    ("noise.mp4", bytes(range(256)) * 40, "cannot decode"),
])
def test_bad_video_files_are_one_line_in_the_app(qtbot, window, tmp_path, name, content,
                                                 match):
    path = tmp_path / name
    path.write_bytes(content)
    c = window.controller
    errors: list[str] = []
    window.notifier.user_error.connect(errors.append)
    drop_file(window, path)
    qtbot.waitUntil(lambda: bool(errors) or bool(window.unexpected_errors), timeout=10000)
    assert window.unexpected_errors == []
    assert match in errors[0] and "\n" not in errors[0], errors
    qtbot.waitUntil(lambda: not c.live, timeout=10000)
