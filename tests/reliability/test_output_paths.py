"""No result ever replaces an input or another result (issue 14, items 2 and 3).

Every writer (synth, batch, video, convert, the app's Save and batch) goes through
:func:`fesgui.outputs.check_output` / :func:`fesgui.outputs.plan_batch`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fesgui.cli import main
from fesgui.errors import FesguiError
from fesgui.imageio import read_image, write_image
from fesgui.outputs import check_output, plan_batch, result_name

from .corpus import error_line, open_app


def _digest(path: Path) -> bytes:
    return path.read_bytes()


@pytest.mark.parametrize("spelling", ["same", "dot-slash", "symlink", "hardlink"])
def test_synth_refuses_to_overwrite_its_input(spelling, tmp_path, face, model_path, finder,
                                              capsys, monkeypatch):
    photo = tmp_path / "X.png"
    write_image(photo, face[0])
    before = _digest(photo)
    monkeypatch.chdir(tmp_path)
    out = {"same": str(photo), "dot-slash": "./X.png", "symlink": "link.png",
           "hardlink": "hard.png"}[spelling]
    if spelling == "symlink":
        os.symlink(photo, tmp_path / "link.png")
    if spelling == "hardlink":
        os.link(photo, tmp_path / "hard.png")
    code = main(["synth", str(photo), "-m", str(model_path), "-o", out])
    line = error_line(capsys.readouterr().err)
    assert code == 2
    assert "is also an input (X.png)" in line and "choose another name" in line
    assert _digest(photo) == before


def test_an_output_name_that_is_only_an_extension_says_so(tmp_path, face, model_path,
                                                          finder, capsys):
    photo = tmp_path / "X.png"
    write_image(photo, face[0])
    assert main(["synth", str(photo), "-m", str(model_path), "-o",
                 str(tmp_path / ".png")]) == 2
    line = error_line(capsys.readouterr().err)
    assert "'.png' has no name before its extension" in line and "result.png" in line
    assert "use a file name ending in .png" not in line  # the old garbled message
    with pytest.raises(FesguiError, match="no name before its extension"):
        write_image(tmp_path / ".jpg", face[0])


@pytest.mark.parametrize("command,ext", [("video", ".mp4"), ("train", ".npz"),
                                         ("convert", ".npz")])
def test_every_writer_names_an_extension_only_output(command, ext, tmp_path, model_path,
                                                     capsys):
    out = str(tmp_path / ext)
    argv = {"video": ["video", str(tmp_path / "in.avi"), out, "-m", str(model_path)],
            "train": ["train", "--inputs", str(tmp_path), "--targets", str(tmp_path), "-o",
                      out],
            "convert": ["convert", str(model_path), out]}[command]
    assert main(argv) == 2
    line = error_line(capsys.readouterr().err)
    assert f"'{ext}' has no name before its extension" in line, line


def test_check_output_refuses_folders_and_missing_folders(tmp_path):
    with pytest.raises(FesguiError, match="is a folder"):
        check_output(tmp_path)
    with pytest.raises(FesguiError, match="does not exist"):
        check_output(tmp_path / "nope" / "a.png")
    assert check_output(tmp_path / "a.png", [tmp_path / "b.png"]) == tmp_path / "a.png"


def test_plan_batch_lists_every_name_collision(tmp_path):
    files = [tmp_path / n for n in ("a.png", "p.tif", "p.tif.png", "q.TIF", "q.tif.PNG",
                                    "r.gif", "r.webp")]
    out = tmp_path / "out"
    plan, refused = plan_batch(files, out)
    targets = [t.name for _, t in plan]
    assert len(set(n.casefold() for n in targets)) == len(targets)  # no two the same
    assert dict(plan)[tmp_path / "p.tif.png"] == out / "p.tif.png"  # its own name wins
    assert dict(plan)[tmp_path / "q.tif.PNG"] == out / "q.tif.PNG"
    assert {name for name, _ in refused} == {"p.tif", "q.TIF"}
    assert all("rename one of the two photos" in why for _, why in refused)
    assert len(plan) + len(refused) == len(files)
    assert [result_name(f) for f in files[5:]] == ["r.gif.png", "r.webp.png"]


def test_batch_name_collision_loses_nothing(tmp_path, face, model_path, finder, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(face[0]).save(src / "p.tif")
    other = np.ascontiguousarray(face[0][:, ::-1])  # a different picture, same face size
    write_image(src / "p.tif.png", other)
    code = main(["batch", str(src), str(dst), "-m", str(model_path)])
    err = capsys.readouterr().err
    assert code == 0
    assert "failed: p.tif: its result p.tif.png would replace the result of p.tif.png" in err
    assert "wrote 1 of 2 images" in err and "1 failed" in err
    assert [p.name for p in dst.iterdir()] == ["p.tif.png"]
    # the file written is the result of p.tif.png (not p.tif's, written over it)
    alone = tmp_path / "alone"
    alone.mkdir()
    write_image(alone / "p.tif.png", other)
    assert main(["batch", str(alone), str(tmp_path / "ref"), "-m", str(model_path)]) == 0
    assert np.array_equal(read_image(dst / "p.tif.png"),
                          read_image(tmp_path / "ref" / "p.tif.png"))


def test_convert_refuses_to_overwrite_its_input(tmp_path, model_path, capsys):
    model = tmp_path / "m.npz"
    model.write_bytes(model_path.read_bytes())
    before = _digest(model)
    assert main(["convert", str(model), str(model)]) == 2
    assert "is also an input (m.npz)" in error_line(capsys.readouterr().err)
    assert _digest(model) == before


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_app_refuses_to_save_over_the_open_photo(qtbot, tmp_path, face, monkeypatch):
    win = open_app(qtbot, tmp_path, monkeypatch, face[1])
    photo = tmp_path / "face.png"
    write_image(photo, face[0])
    before = _digest(photo)
    try:
        with qtbot.waitSignal(win.controller.result_ready, timeout=10000):
            win.controller.open_path(photo)
        win.guarded(win.controller.save_result)(photo, "frame")
        message = win.statusBar().currentMessage()
        assert "is also an input (face.png)" in message and "\n" not in message
        assert win.unexpected_errors == []
    finally:
        win.close()
    assert _digest(photo) == before


def test_app_batch_writes_tiff_results_as_png(qtbot, tmp_path, face, model_path,
                                              monkeypatch):
    """The app's batch used the input's own name: a TIFF failed with "cannot write"."""
    win = open_app(qtbot, tmp_path, monkeypatch, face[1])
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    dst.mkdir()
    Image.fromarray(face[0]).save(src / "p.tif")
    write_image(src / "p.tif.png", face[0])
    try:
        with qtbot.waitSignal(win.controller.model_changed, timeout=10000):
            win.controller.select_model(model_path)
        win.controller.open_path(src)
        with qtbot.waitSignal(win.controller.batch_finished, timeout=20000) as done:
            win.controller.batch_folder(dst)
        report = done.args[0]
    finally:
        win.close()
    assert [p.name for p in report.written] == ["p.tif.png"]
    assert [name for name, _ in report.failures] == ["p.tif"]
    assert sorted(p.name for p in dst.iterdir()) == ["p.tif.png"]
