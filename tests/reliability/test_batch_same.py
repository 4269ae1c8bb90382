"""``fesgui batch`` and the app's "Process open folder" are one loop (:mod:`fesgui.batch`):
on the same mixed folder (the whole bad/unusual image corpus, noise without a face, two
photos whose results would share a name) they write the same files, byte for byte, and
say the same lines; a full disk, a cancel, a folder without images and a read-only output
folder are one and the same line in both.

The app side is the real :class:`fesgui.gui.worker.Worker` (driven directly, offscreen),
with the fake face finder of the corpus; the command line side is ``fesgui.cli.main``.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import numpy as np
import pytest
from image_files import make_read_only
from PIL import Image

import fesgui.align.mediapipe_source as mps
import fesgui.atomic
from fesgui.batch import list_photos
from fesgui.cli import main
from fesgui.core import load_model
from fesgui.errors import FesguiError
from fesgui.imageio import read_image, write_image
from fesgui.outputs import result_name
from fesgui.pipeline import Pipeline

from .corpus import BAD, CASES, GOOD, SIDE, KnownFace, expected_image, open_app, write_case

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

_BAR = re.compile(r"^\[[#.]+\] \d+/\d+")  # the command line's progress bar (not a tty)


def _mixed_folder(folder: Path, face) -> Path:
    """Every corpus file, noise (no face), and twin.tif + twin.tif.png (one result name)."""
    for case in CASES:
        write_case(case, folder, face[0])
    rng = np.random.default_rng(3)
    write_image(folder / "noise.png", rng.integers(0, 256, (80, 120, 3), dtype=np.uint8))
    Image.fromarray(face[0]).save(folder / "twin.tif")
    write_image(folder / "twin.tif.png", np.ascontiguousarray(face[0][:, ::-1]))
    return folder


def _cli(src: Path, dst: Path, model_path: Path, capsys) -> tuple[int, list[str]]:
    """``fesgui batch``: exit status and its stderr lines, progress bar left out."""
    code = main(["batch", str(src), str(dst), "-m", str(model_path)])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line and not _BAR.match(line)]


class _App:
    """The app's worker with the corpus face finder and a model, run on this thread."""

    def __init__(self, qtbot, points, model_path: Path) -> None:
        from fesgui.gui.worker import Worker

        self.worker = Worker(landmarks_factory=lambda video: KnownFace(points))
        self.progress: list[tuple[int, int, str]] = []
        self.errors: list[BaseException] = []
        self.reports: list = []
        self.worker.batch_progress.connect(lambda *a: self.progress.append(a))
        self.worker.error.connect(self.errors.append)
        self.worker.batch_finished.connect(self.reports.append)
        self.worker.load_model(str(model_path))

    def batch(self, src: Path, dst: Path):
        self.worker.run_batch(list_photos(src), str(dst))
        assert len(self.reports) == 1
        return self.reports.pop()

    def close(self) -> None:
        self.worker.shutdown()


@pytest.fixture
def app(qtbot, face, model_path):
    app = _App(qtbot, face[1], model_path)
    yield app
    app.close()


def _same_lines(cli: list[str], cli_out: Path, report, app_out: Path) -> None:
    assert [line.replace(str(cli_out), "OUT") for line in cli] == \
        [line.replace(str(app_out), "OUT") for line in report.lines()]


def test_app_and_command_line_batch_agree_on_a_mixed_folder(tmp_path, face, model_path,
                                                            finder, app, capsys):
    src = _mixed_folder(tmp_path / "in", face)
    cli_out, app_out = tmp_path / "cli", tmp_path / "app"
    code, cli_lines = _cli(src, cli_out, model_path, capsys)
    report = app.batch(src, app_out)
    assert code == 0 and app.errors == []
    # the same files, byte for byte
    names = sorted(p.name for p in cli_out.iterdir())
    assert names == sorted(p.name for p in app_out.iterdir())
    for name in names:
        assert (cli_out / name).read_bytes() == (app_out / name).read_bytes(), name
    # the same lines: the command line prints the app's report
    _same_lines(cli_lines, cli_out, report, app_out)
    files = list_photos(src)
    assert app.progress == [(i, len(files), f.name) for i, f in enumerate(files)] + [
        (len(files), len(files), "")]

    # and those are the right ones: every bad file failed with its one line ...
    for case in BAD:
        assert any(line.startswith(f"failed: {case.filename}: ") and case.match in line
                   for line in cli_lines), (case.name, cli_lines)
    assert "failed: noise.png: no face found: use a frontal" in "\n".join(cli_lines)
    assert ("failed: twin.tif: its result twin.tif.png would replace the result of "
            "twin.tif.png: rename one of the two photos") in cli_lines
    # ... the multi-page files said that their other pages were left out ...
    assert [line for line in cli_lines if line.startswith("warning: ")] == [
        f"warning: {c.note} (save the one you want as a PNG to use another)"
        for c in sorted((c for c in GOOD if c.note), key=lambda c: c.filename)]
    # ... every good file was written under its result name, and is the pipeline's result
    # for the picture a correct reader decodes (an independent run, no batch involved)
    assert names == sorted([result_name(Path(c.filename)) for c in GOOD] + ["twin.tif.png"])
    pipeline = Pipeline(load_model(model_path), landmarks=KnownFace(face[1]))
    for case in GOOD:
        want = pipeline.process(expected_image(case, face[0])).composite
        got = read_image(cli_out / result_name(Path(case.filename)))
        assert got.shape == want.shape == (SIDE, SIDE, 3), case.name
        assert np.abs(got.astype(int) - want).mean() <= case.tolerance + 1.0, case.name
    first = ", ".join(name for name, _ in report.failures[:3])
    assert report.summary() == (f"wrote {len(GOOD) + 1} of {len(files)} images to {app_out}; "
                                f"{len(BAD) + 2} failed ({first}, ...)")
    assert cli_lines[-1] == report.summary().replace(str(app_out), str(cli_out))


def _full_disk(monkeypatch) -> None:
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fesgui.atomic.os, "replace", full)


def _photos(folder: Path, face, n: int = 5) -> Path:
    folder.mkdir()
    for i in range(n):
        write_image(folder / f"p{i}.png", np.clip(face[0].astype(int) + 4 * i, 0, 255
                                                  ).astype(np.uint8))
    return folder


def test_a_full_disk_stops_both_with_the_same_line(tmp_path, face, model_path, finder, app,
                                                   monkeypatch, capsys):
    src = _photos(tmp_path / "in", face)
    cli_out, app_out = tmp_path / "cli", tmp_path / "app"
    _full_disk(monkeypatch)
    code, cli_lines = _cli(src, cli_out, model_path, capsys)
    report = app.batch(src, app_out)
    monkeypatch.undo()
    assert code == 1 and report.exit_code() == 1 and app.errors == []
    _same_lines(cli_lines, cli_out, report, app_out)
    assert cli_lines[0].startswith(f"failed: p0.png: disk full while writing {cli_out}")
    assert cli_lines[-1].endswith("free some space and try again; 4 images left")
    assert report.stopped is not None and len(report.outcomes) == 1
    for out in (cli_out, app_out):  # nothing written, nothing half-written
        assert list(out.iterdir()) == []


def test_cancel_stops_both_after_the_current_photo(tmp_path, face, model_path, app,
                                                   monkeypatch, capsys):
    """The app's Cancel during the third photo, Ctrl+C during the third photo: both
    finish it, stop, keep complete results and say the same."""
    import os
    import signal

    src = _photos(tmp_path / "in", face)
    cli_out, app_out = tmp_path / "cli", tmp_path / "app"

    class CtrlC(KnownFace):
        calls = 0

        def detect(self, image):
            self.calls += 1
            if self.calls == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return super().detect(image)

    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: CtrlC(face[1]))
    code, cli_lines = _cli(src, cli_out, model_path, capsys)
    app.worker.batch_progress.connect(
        lambda done, total, name: app.worker.cancel_batch() if done == 2 else None)
    report = app.batch(src, app_out)
    assert code == 130 and report.cancelled and report.exit_code() == 130
    assert cli_lines[0] == "stopping after the current image (Ctrl+C again to stop now)"
    _same_lines(cli_lines[1:], cli_out, report, app_out)
    assert report.summary() == f"wrote 3 of 5 images to {app_out}; cancelled with 2 images left"
    for out in (cli_out, app_out):
        assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    for p in cli_out.iterdir():
        assert p.read_bytes() == (app_out / p.name).read_bytes()


def test_refusals_are_the_same_line(qtbot, tmp_path, face, model_path, finder, monkeypatch,
                                    capsys):
    """A folder without images and a read-only output folder: the command line's
    ``error:`` line is the app's status line, word for word; nothing is processed."""
    empty, src = tmp_path / "empty", _photos(tmp_path / "in", face, n=2)
    empty.mkdir()
    (empty / "notes.txt").write_text("no pictures here")
    ro = tmp_path / "ro"
    ro.mkdir()
    win = open_app(qtbot, tmp_path, monkeypatch, face[1])
    c = win.controller
    try:
        with qtbot.waitSignal(c.model_changed, timeout=10000):
            c.select_model(model_path)
        assert main(["batch", str(empty), str(tmp_path / "o1"), "-m", str(model_path)]) == 2
        cli_line = capsys.readouterr().err.strip()
        win.guarded(c.open_path)(empty)
        assert win.statusBar().currentMessage() == "⚠ " + cli_line.removeprefix("error: ")
        assert cli_line == f"error: no images in {empty}: put .jpg, .png, .bmp, .tif or .webp " \
            "photos in it"

        with qtbot.waitSignal(c.result_ready, timeout=10000):
            c.open_path(src)
        make_read_only(monkeypatch, ro)
        try:
            assert main(["batch", str(src), str(ro), "-m", str(model_path)]) == 2
            cli_line = capsys.readouterr().err.strip()
            with pytest.raises(FesguiError) as refused:
                c.batch_folder(ro)
        finally:
            ro.chmod(0o755)
        assert cli_line == f"error: {refused.value}"
        assert cli_line == (f"error: cannot write to {ro}: the folder is read-only; choose "
                            "another folder")
        assert list(ro.iterdir()) == []
        assert win.unexpected_errors == []
    finally:
        win.close()
