"""The batch loop (:mod:`fesgui.batch`) with a stand-in pipeline: what each photo's outcome
is, when the loop stops, and what the report says. The real pipeline, the command line and
the app's worker are in ``tests/reliability/test_batch_same.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fesgui.batch import BatchReport, Outcome, check_batch, run_batch
from fesgui.errors import OUT_OF_MEMORY, FesguiError
from fesgui.imageio import read_image, write_image
from fesgui.pipeline import FrameResult


class Stand:
    """``process(frame)``: the inverted frame, one "face"; a frame whose first pixel is in
    ``raises`` raises that exception instead; a gray frame (value 7) has no face."""

    def __init__(self, raises: dict[int, BaseException] | None = None) -> None:
        self.raises = raises or {}
        self.seen: list[int] = []

    def process(self, frame: np.ndarray) -> FrameResult:
        key = int(frame[0, 0, 0])
        self.seen.append(key)
        if key in self.raises:
            raise self.raises[key]
        if key == 7:
            return FrameResult(frame, frame.copy(), [], message="no face found: try another")
        return FrameResult(frame, 255 - frame, [object()])


def _folder(tmp_path: Path, values: list[int]) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for i, v in enumerate(values):
        paths.append(folder / f"p{i}.png")
        write_image(paths[-1], np.full((4, 6, 3), v, np.uint8))
    return paths


def test_each_photo_gets_its_outcome_and_the_rest_goes_on(tmp_path):
    files = _folder(tmp_path, [10, 7, 20, 30, 40])
    pipe = Stand({20: RuntimeError("boom\nmore"), 30: MemoryError()})
    seen = []
    report = run_batch(pipe, files, tmp_path / "out", progress=lambda *a: seen.append(a))
    assert [o.written for o in report.outcomes] == [True, False, False, False, True]
    assert report.failures == [
        ("p1.png", "no face found: try another"),
        ("p2.png", "unexpected RuntimeError: boom (a bug in fesgui: please report it)"),
        ("p3.png", OUT_OF_MEMORY)]
    assert report.written == [tmp_path / "out" / "p0.png", tmp_path / "out" / "p4.png"]
    assert np.array_equal(read_image(report.written[0]), np.full((4, 6, 3), 245, np.uint8))
    assert seen == [(i, 5, f"p{i}.png") for i in range(5)] + [(5, 5, "")]
    assert report.lines()[:3] == [f"failed: {n}: {r}" for n, r in report.failures]
    assert report.summary() == (f"wrote 2 of 5 images to {tmp_path / 'out'}; 3 failed "
                                "(p1.png, p2.png, p3.png)")
    assert report.exit_code() == 0 and not report.cancelled and report.stopped is None


@pytest.mark.parametrize("how", ["event", "callable"])
def test_cancel_is_looked_at_before_each_photo(tmp_path, how):
    import threading

    files = _folder(tmp_path, [10, 20, 30, 40])
    event = threading.Event()
    pipe = Stand()
    cancel = event if how == "event" else event.is_set

    def progress(done, total, name):
        if name == "p1.png":
            event.set()  # pressed while p1 is being processed

    report = run_batch(pipe, files, tmp_path / "out", progress=progress, cancel=cancel)
    assert pipe.seen == [10, 20] and report.cancelled and report.left == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png"]
    assert report.summary().endswith("; cancelled with 2 images left")
    assert report.exit_code() == 130


def test_an_interrupt_inside_a_photo_stops_at_once_and_writes_nothing_of_it(tmp_path):
    files = _folder(tmp_path, [10, 20, 30])
    report = run_batch(Stand({20: KeyboardInterrupt()}), files, tmp_path / "out")
    assert report.cancelled and [o.path.name for o in report.outcomes] == ["p0.png"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["p0.png"]
    assert report.summary() == f"wrote 1 of 3 images to {tmp_path / 'out'}; cancelled with " \
        "2 images left"


def test_report_arithmetic():
    out = Path("o")
    report = BatchReport(1, out, [Outcome(Path("a.png"), None, "bad", ("a note",))])
    assert report.lines() == ["warning: a note", "failed: a.png: bad",
                              "wrote 0 of 1 image to o; 1 failed (a.png)"]
    assert report.exit_code() == 1  # nothing written
    many = BatchReport(6, out, [Outcome(Path(f"{i}.png"), None, "x") for i in range(4)])
    assert many.summary() == "wrote 0 of 6 images to o; 4 failed (0.png, 1.png, 2.png, ...)"


def test_refused_before_any_work(tmp_path):
    files = _folder(tmp_path, [10])
    with pytest.raises(FesguiError, match="no images to process"):
        check_batch([], tmp_path / "out")
    with pytest.raises(FesguiError, match="is the input folder"):
        run_batch(Stand(), files, tmp_path / "in")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FesguiError, match=r"cannot create .*; choose another folder"):
        check_batch(files, tmp_path / "file" / "sub")
