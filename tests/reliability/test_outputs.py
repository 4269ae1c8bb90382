"""Work is never lost and never half-written: full disk, read-only folders, cancellation.

Every CLI entry that writes (synth, batch, video, convert both ways, train) is run with
the disk "full" (``os.replace`` in :mod:`fesgui.atomic` raising ENOSPC, as a full disk
does when the file is moved into place) and with a read-only output folder: one clear
line, exit status 2 (batch: 1, stopping at the first full-disk failure), and no file or
temporary file left behind. Then batch, video and training are interrupted
(KeyboardInterrupt, as Ctrl+C does) part-way, also in the middle of writing a file: what is
in the output folder is complete, nothing temporary remains.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from image_files import make_read_only
from test_cli_train import _aligned_folders

import fesgui.align.mediapipe_source as mps
import fesgui.atomic
from fesgui.cli import main
from fesgui.core import load_model, to_csr
from fesgui.imageio import read_image, write_image
from fesgui.video import VideoFileSource, VideoWriter

from .corpus import KnownFace, error_line, open_app, points_arg, write_people


def _full_disk(monkeypatch) -> None:
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fesgui.atomic.os, "replace", full)


def _leftovers(folder: Path) -> list[str]:
    """Temporary files (``.<stem>.*``) anywhere under ``folder``."""
    return sorted(p.name for p in folder.rglob(".*"))


def _video(path: Path, face, n: int = 4) -> Path:
    with VideoWriter(path, fps=10) as w:
        for i in range(n):
            w.write(np.roll(face[0], i, axis=1))
    return path


def _argv(entry: str, tmp_path: Path, out_dir: Path, face, model_path: Path) -> list[str]:
    """The command line of ``entry`` writing into ``out_dir`` (inputs made in tmp_path)."""
    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)
    if entry == "synth":
        photo = inputs / "face.png"
        write_image(photo, face[0])
        return ["synth", str(photo), "-m", str(model_path), "-o", str(out_dir / "o.png"),
                "--landmarks", points_arg(face[1])]
    if entry == "batch":
        for name in ("a.png", "b.png", "c.png"):
            write_image(inputs / name, face[0])
        return ["batch", str(inputs), str(out_dir), "-m", str(model_path)]
    if entry == "video":
        return ["video", str(_video(inputs / "in.avi", face)), str(out_dir / "o.avi"),
                "-m", str(model_path)]
    if entry == "convert-to-csr":
        return ["convert", str(model_path), str(out_dir / "csr.npz")]
    if entry == "convert-from-csr":
        csr = inputs / "csr.npz"
        sp.save_npz(csr, to_csr(load_model(model_path))[0])
        return ["convert", str(csr), str(out_dir / "m.npz")]
    if entry == "train":
        a, b = _aligned_folders(inputs)
        return ["train", "--inputs", str(a), "--targets", str(b), "--lam", "1", "-o",
                str(out_dir / "m.npz")]
    raise AssertionError(entry)


WRITERS = ["synth", "batch", "video", "convert-to-csr", "convert-from-csr", "train"]


@pytest.mark.parametrize("entry", WRITERS)
def test_full_disk_is_one_line_and_leaves_nothing(entry, tmp_path, face, model_path, finder,
                                                  monkeypatch, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    argv = _argv(entry, tmp_path, out_dir, face, model_path)
    _full_disk(monkeypatch)
    code = main(argv)
    monkeypatch.undo()
    err = capsys.readouterr().err
    if entry == "batch":  # stops at the first image: the others would fail the same way
        assert code == 1
        assert "failed: a.png: disk full" in err and "stopped: disk full" in err, err
        assert "2 images left" in err
        assert "b.png" not in err
    else:
        assert code == 2
        assert "disk full" in error_line(err) and "free some space" in err
    assert list(out_dir.iterdir()) == []
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("entry", WRITERS)
def test_read_only_output_folder_is_one_line(entry, tmp_path, face, model_path, finder,
                                             monkeypatch, capsys):
    out_dir = tmp_path / "ro"
    out_dir.mkdir()
    argv = _argv(entry, tmp_path, out_dir, face, model_path)
    make_read_only(monkeypatch, out_dir)
    try:
        code = main(argv)
    finally:
        out_dir.chmod(0o755)
    assert code == 2
    assert "read-only" in error_line(capsys.readouterr().err)
    assert list(out_dir.iterdir()) == []


# ----------------------------------------------------------------------------- cancel
def _photos(folder: Path, face, n: int = 6) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(n):
        img = np.clip(face[0].astype(int) + 4 * i, 0, 255).astype(np.uint8)
        paths.append(folder / f"p{i}.png")
        write_image(paths[-1], img)
    return paths


class _CtrlC(KnownFace):
    """Finds the corpus face; on its ``at``-th photo the user presses Ctrl+C ``times``
    times (real SIGINTs, delivered to this process as a terminal does)."""

    def __init__(self, points, at: int, times: int) -> None:
        super().__init__(points)
        self.at, self.times, self.calls = at, times, 0

    def detect(self, image):
        self.calls += 1
        if self.calls == self.at:
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs in the main thread, between bytecodes
        return super().detect(image)


@pytest.mark.parametrize("presses", [1, 2])
def test_batch_ctrl_c_stops_after_the_current_photo(presses, tmp_path, face, model_path,
                                                    monkeypatch, capsys):
    """Ctrl+C once: the photo in progress is finished, the batch stops there and says how
    many were written and left (exit 130). Twice: it stops at once, that photo unwritten.
    Either way what is written is complete (byte-identical to an uninterrupted run)."""
    src, dst, ref = tmp_path / "in", tmp_path / "out", tmp_path / "ref"
    _photos(src, face)
    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: KnownFace(face[1]))
    assert main(["batch", str(src), str(ref), "-m", str(model_path)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: _CtrlC(face[1], 3, presses))
    assert main(["batch", str(src), str(dst), "-m", str(model_path)]) == 130
    err = capsys.readouterr().err
    done = 3 if presses == 1 else 2
    assert sorted(p.name for p in dst.iterdir()) == [f"p{i}.png" for i in range(done)]
    for p in dst.iterdir():
        assert p.read_bytes() == (ref / p.name).read_bytes()
    assert "stopping after the current image (Ctrl+C again to stop now)" in err
    assert err.strip().splitlines()[-1] == (f"wrote {done} of 6 images to {dst}; cancelled "
                                            f"with {6 - done} images left")
    assert _leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_batch_interrupted_while_writing_leaves_no_partial_file(tmp_path, face, model_path,
                                                                finder, monkeypatch):
    src, dst = tmp_path / "in", tmp_path / "out"
    _photos(src, face)
    real = Path.write_bytes
    calls = []

    def write_bytes(self, data):
        calls.append(self)
        if len(calls) == 3:  # half of the third image, then Ctrl+C
            real(self, data[: len(data) // 2])
            raise KeyboardInterrupt
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    assert main(["batch", str(src), str(dst), "-m", str(model_path)]) == 130
    monkeypatch.undo()
    assert sorted(p.name for p in dst.iterdir()) == ["p0.png", "p1.png"]
    for p in dst.iterdir():
        assert read_image(p).shape == face[0].shape
    assert _leftovers(tmp_path) == []


def test_video_interrupted_leaves_no_file(tmp_path, face, model_path, monkeypatch):
    video = _video(tmp_path / "in.avi", face, n=6)

    class Interrupting(KnownFace):
        calls = 0

        def detect(self, image):
            self.calls += 1
            if self.calls == 4:
                raise KeyboardInterrupt
            return super().detect(image)

    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: Interrupting(face[1]))
    out = tmp_path / "out" / "o.mp4"
    out.parent.mkdir()
    assert main(["video", str(video), str(out), "-m", str(model_path)]) == 130
    assert list(out.parent.iterdir()) == []
    # the same command uninterrupted writes a readable video
    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: KnownFace(face[1]))
    assert main(["video", str(video), str(out), "-m", str(model_path)]) == 0
    with VideoFileSource(out) as v:
        assert len(list(v)) == 6


def _cache_is_complete(cache: Path) -> int:
    files = [p for p in cache.rglob("*") if p.is_file()]
    for p in files:
        if p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".png":
            read_image(p)
    return len(files)


@pytest.mark.parametrize("when", ["aligning", "saving"])
def test_training_interrupted_leaves_no_model_and_a_sound_cache(when, tmp_path, face,
                                                                monkeypatch):
    photos, cache, out = tmp_path / "photos", tmp_path / "cache", tmp_path / "m.npz"
    write_people(photos, 5)

    class Interrupting(KnownFace):
        calls = 0

        def detect(self, image):
            self.calls += 1
            if when == "aligning" and self.calls == 5:
                raise KeyboardInterrupt
            return super().detect(image)

    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: Interrupting(face[1]))
    if when == "saving":
        import fesgui.core.modelio as modelio

        real = modelio.zipfile.ZipFile.writestr

        def writestr(self, name, data, *a, **k):
            real(self, name, data, *a, **k)
            if str(getattr(name, "filename", name)).startswith("weights"):
                raise KeyboardInterrupt

        monkeypatch.setattr(modelio.zipfile.ZipFile, "writestr", writestr)
    argv = ["train", "--pairs", str(photos), "--method", "mr", "--size", "3", "--lam", "0.4",
            "--crop", "24", "--cache", str(cache), "-o", str(out)]
    assert main(argv) == 130
    assert not out.exists()
    assert _leftovers(tmp_path) == []
    assert _cache_is_complete(cache) > 0
    monkeypatch.undo()  # the next run picks up the cache and finishes
    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: KnownFace(face[1]))
    assert main(argv) == 0
    assert load_model(out).image_size == (24, 24)


def test_batch_lists_an_unexpected_error_and_goes_on(tmp_path, face, model_path, finder,
                                                     monkeypatch, capsys):
    """A bug hit by one photo (here: the pipeline raising RuntimeError on p1) is listed
    as a failure of that photo; the others are written."""
    from fesgui.pipeline import Pipeline

    src, dst = tmp_path / "in", tmp_path / "out"
    paths = _photos(src, face, n=3)
    bad = read_image(paths[1])
    real = Pipeline.process

    def process(self, frame, manual=None):
        if np.array_equal(frame, bad):
            raise RuntimeError("simulated bug\nsecond line")
        return real(self, frame, manual)

    monkeypatch.setattr(Pipeline, "process", process)
    assert main(["batch", str(src), str(dst), "-m", str(model_path)]) == 0
    err = capsys.readouterr().err
    assert sorted(p.name for p in dst.iterdir()) == ["p0.png", "p2.png"]
    line = next(x for x in err.splitlines() if x.startswith("failed: p1.png: "))
    assert "unexpected RuntimeError: simulated bug" in line and "report" in line
    assert "second line" not in err


@pytest.mark.qt_log_ignore("propagateSizeHints")
@pytest.mark.parametrize("problem", ["read-only", "disk full"])
def test_app_save_failures_are_one_line_and_leave_nothing(problem, qtbot, tmp_path, face,
                                                          monkeypatch):
    win = open_app(qtbot, tmp_path, monkeypatch, face[1])
    photo = tmp_path / "face.png"
    write_image(photo, face[0])
    out = tmp_path / "out"
    out.mkdir()
    try:
        with qtbot.waitSignal(win.controller.result_ready, timeout=10000):
            win.controller.open_path(photo)
        if problem == "read-only":
            make_read_only(monkeypatch, out)
        else:
            _full_disk(monkeypatch)
        for name in ("result.png", "result.jpg"):
            win.guarded(win.controller.save_result)(out / name, "frame")
            message = win.statusBar().currentMessage()
            assert message.startswith("⚠ ") and problem in message and "\n" not in message
        assert win.unexpected_errors == []
    finally:
        out.chmod(0o755)
        win.close()  # before undo: the window saves its settings into the test's folder
        monkeypatch.undo()
    assert list(out.iterdir()) == []
