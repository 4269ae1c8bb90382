"""Train an expression in the app, end to end, on tiny synthetic photo pairs.

The photos are synthetic faces (neutral and smiling) written as PNG files in the layout
``fesgui train --pairs`` reads; a fake detector knows where the faces are. The alignment
cache and the user models folder are temporary folders.
"""

from __future__ import annotations

import numpy as np
import pytest

from fesgui.core import load_model as core_load_model
from fesgui.errors import FesguiError
from fesgui.imageio import write_image
from fesgui.pipeline import Pipeline
from fesgui.synthetic import make_face

from .helpers import FRAME_H, FRAME_W, FakeLandmarks, open_and_wait

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")

PEOPLE = 10


@pytest.fixture
def pairs_folder(tmp_path, monkeypatch):
    """``photos/neutral/pNN.png`` + ``photos/happy/pNN.png`` for 10 people, one neutral photo
    without its smile, and a note (ignored)."""
    monkeypatch.setenv("FESGUI_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "photos"
    for expression, smile in (("neutral", 0.0), ("happy", 1.0)):
        (folder / expression).mkdir(parents=True)
        for n in range(PEOPLE):
            image, _ = make_face(FRAME_H, FRAME_W, smile=smile, seed=20 + n)
            write_image(folder / expression / f"p{n:02d}.png", image)
    write_image(folder / "neutral" / "lonely.png", make_face(FRAME_H, FRAME_W, seed=99)[0])
    (folder / "notes.txt").write_text("not a photo")
    return folder


@pytest.fixture
def dialog(qtbot, window):
    dlg = window.open_training()
    qtbot.addWidget(dlg)
    yield dlg
    if dlg.job is not None:
        dlg.job.cancel()
        qtbot.waitUntil(lambda: not dlg.job or not dlg.job.running(), timeout=60000)


def test_the_dialog_lists_pairs_and_skipped_photos(dialog, pairs_folder):
    assert not dialog.train_button.isEnabled()
    dialog.set_folder(pairs_folder)
    assert f"{PEOPLE} pairs" in dialog.summary.text() and "skipped" in dialog.summary.text()
    lines = [dialog.found.item(i).text() for i in range(dialog.found.count())]
    assert sum(line.startswith("✓") for line in lines) == PEOPLE
    assert lines[1] == "✓ p00: p00.png → p00.png"
    assert lines[0].startswith("✗") and "lonely" in lines[0]  # what was skipped, and why
    assert sum(line.startswith("✗") for line in lines) == 1
    assert dialog.name.text() == "photos_neutral2happy_mr3_128"
    assert dialog.train_button.isEnabled()
    dialog.source.setText("happy")  # both expressions the same: said in one line
    dialog.rescan()
    assert "both 'happy'" in dialog.summary.text() and not dialog.train_button.isEnabled()
    dialog.set_folder(pairs_folder / "missing")
    assert "does not exist" in dialog.summary.text()


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_cancel_leaves_nothing_behind(qtbot, window, dialog, pairs_folder, user_models_dir):
    dialog.set_folder(pairs_folder)
    job = dialog.start()
    assert dialog.cancel_button.isVisible() and not dialog.train_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.bar.value() > 40, timeout=120000)  # choosing lam now
    with qtbot.waitSignal(job.cancelled, timeout=120000):
        dialog.cancel_button.click()
    assert "cancelled: nothing was written" in dialog.stage.text()
    job.thread.join(10)
    assert not job.running() and dialog.bar.value() == 0
    assert _files(user_models_dir) == []  # no model, no temporary file
    window.controller.refresh_models()
    assert all(e.path.parent != user_models_dir for e in window.controller.entries)
    assert dialog.train_button.isEnabled() and dialog.close_button.isEnabled()


def test_training_end_to_end_selects_a_model_that_works(qtbot, window, dialog, pairs_folder,
                                                        user_models_dir, face_file, face):
    dialog.set_folder(pairs_folder)
    dialog.name.setText("my_smile")
    dialog.name.textEdited.emit("my_smile")
    seen = []
    job = dialog.start()
    job.progress.connect(lambda percent, text: seen.append((percent, text)))
    with qtbot.waitSignal(window.controller.model_changed, timeout=180000) as loaded:
        pass
    path = user_models_dir / "my_smile.npz"
    assert _files(user_models_dir) == ["my_smile.npz"]
    # progress: aligning, choosing lam, done; never backwards
    percents = [p for p, _ in seen]
    assert percents == sorted(percents) and percents[-1] == 100
    assert any("aligning" in t for _, t in seen) and any("choosing" in t for _, t in seen)
    # the card is shown, the window lists the model beside the shipped ones and selected it
    assert dialog.pages.currentWidget() is dialog.card
    assert "neutral → happy" in dialog.card.toPlainText() or "my_smile" in dialog.card.toPlainText()
    model, entry = loaded.args
    assert entry.path == path and entry.user
    panel = window.model_panel
    assert panel.current == path and panel.method.currentData() == str(path)
    assert "yours" in panel.method.currentText()
    assert model.meta["training_data"]["name"] == "photos"
    assert model.meta["training_data"]["n_train"] + model.meta["training_data"]["n_val"] \
        + model.meta["training_data"]["n_test"] == PEOPLE
    # and it works: the window's result is the pipeline's with the file's model
    result = open_and_wait(qtbot, window, face_file)
    expected = Pipeline(core_load_model(path), landmarks=FakeLandmarks(face[1])).process(face[0])
    assert np.array_equal(result.composite, expected.composite)
    assert not np.array_equal(result.composite, face[0])
    # a second model of that name is refused in one line
    dialog.name.setText("my_smile")
    assert dialog.start() is None and "exists already" in dialog.stage.text()


@pytest.mark.parametrize("people", [0, 2])
def test_too_few_pairs_say_what_fesgui_train_says(tmp_path, pairs_folder, people, capsys,
                                                  monkeypatch):
    """The dialog's training and ``fesgui train --pairs`` share their steps
    (``training.find_photo_pairs``, ``training.train_aligned``): the same error line."""
    import threading

    from fesgui.cli import main
    from fesgui.gui.train_dialog import TrainRequest, run_training

    for expression in ("neutral", "happy"):  # keep ``people`` pairs
        for extra in sorted((pairs_folder / expression).glob("p*.png"))[people:]:
            extra.unlink()
    out = tmp_path / "m.npz"
    request = TrainRequest(pairs_folder, "neutral", "happy", "pixel-rr", 3, 32, out)
    faces = FakeLandmarks(make_face(FRAME_H, FRAME_W, seed=20)[1])
    monkeypatch.setattr("fesgui.align.mediapipe_source.MediaPipeSource", lambda **kw: faces)
    with pytest.raises(FesguiError) as raised:
        run_training(request, lambda *_: None, threading.Event(), faces)
    assert main(["train", "--pairs", str(pairs_folder), "--method", "pixel-rr", "--crop", "32",
                 "-o", str(out)]) == 2
    cli = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")]
    assert cli == [f"error: {raised.value}"]
    assert ("no training pairs found" if people == 0 else "only 2 usable pairs") in cli[0]
    assert not out.exists()
