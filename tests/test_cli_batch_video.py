"""``fesgui batch`` and ``fesgui video`` end to end, on a real face (skimage astronaut)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from image_files import make_read_only

from fesgui.cli import main
from fesgui.imageio import read_image, write_image
from fesgui.video import VideoFileSource, VideoWriter


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)


def _error_line(err: str) -> str:
    err = err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_batch_keeps_going_and_lists_failures(tmp_path, model_path, astronaut, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    write_image(src / "a_face.png", astronaut)
    write_image(src / "b_blank.png", np.full((128, 128, 3), 90, np.uint8))
    (src / "c_text.jpg").write_text("not an image\n" * 10)
    write_image(src / "d_face.jpg", astronaut)
    code = main(["batch", str(src), str(dst), "-m", str(model_path)])
    err = capsys.readouterr().err
    assert code == 0
    assert sorted(p.name for p in dst.iterdir()) == ["a_face.png", "d_face.jpg"]
    out = read_image(dst / "a_face.png")
    assert out.shape == astronaut.shape and (out != astronaut).any()
    assert np.array_equal(out[:20], astronaut[:20])  # the background above her is untouched
    assert "failed: b_blank.png: no face found" in err
    assert "failed: c_text.jpg:" in err and "not an image" in err
    assert "4/4" in err and "wrote 2 of 4 images" in err


def test_batch_with_nothing_usable_exits_1(tmp_path, model_path, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "x.jpg").write_bytes(b"")
    assert main(["batch", str(src), str(dst), "-m", str(model_path)]) == 1
    assert "failed: x.jpg" in capsys.readouterr().err
    assert list(dst.iterdir()) == []


def test_batch_refusals(tmp_path, model_path, monkeypatch, capsys):
    src = tmp_path / "in"
    src.mkdir()
    assert main(["batch", str(src), str(tmp_path / "o"), "-m", str(model_path)]) == 2
    assert "no images" in _error_line(capsys.readouterr().err)
    write_image(src / "a.png", np.zeros((8, 8, 3), np.uint8))
    assert main(["batch", str(src), str(src), "-m", str(model_path)]) == 2
    assert "is the input folder" in _error_line(capsys.readouterr().err)
    ro = tmp_path / "ro"
    ro.mkdir()
    make_read_only(monkeypatch, ro)
    try:
        assert main(["batch", str(src), str(ro), "-m", str(model_path)]) == 2
        assert "read-only" in _error_line(capsys.readouterr().err)
    finally:
        ro.chmod(0o755)


def test_video_end_to_end(tmp_path, model_path, astronaut, capsys):
    src = tmp_path / "in.avi"
    with VideoWriter(src, fps=10) as w:
        for dx in range(5):
            w.write(np.roll(astronaut, dx, axis=1))
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "-m", str(model_path), "--no-refine"]) == 0
    err = capsys.readouterr().err
    assert "wrote" in err and "5 frames" in err
    assert "W0000" not in err and "INFO" not in err  # MediaPipe's start-up logs are hidden
    with VideoFileSource(out) as v, VideoFileSource(src) as original:
        assert v.fps == pytest.approx(10)
        got, orig = list(v), list(original)
    assert len(got) == 5 and got[0].shape == astronaut.shape
    from fesgui.align.mediapipe_source import MediaPipeSource

    with MediaPipeSource() as finder:
        x0, y0, x1, y1 = (int(v) for v in finder.detect(astronaut)[0].box)
    diff = np.abs(got[0].astype(int) - orig[0]).mean(axis=2)
    assert diff[y0:y1, x0:x1].mean() > diff[:20].mean() + 3  # the face changed, not the rest
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_video_refusals(tmp_path, model_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_text("no video here\n" * 50)
    out = tmp_path / "out.mp4"
    assert main(["video", str(bad), str(out), "-m", str(model_path)]) == 2
    assert "cannot decode" in _error_line(capsys.readouterr().err)
    assert main(["video", str(bad), str(tmp_path / "o.webm"), "-m", str(model_path)]) == 2
    assert _error_line(capsys.readouterr().err).endswith(
        "o.webm: use a file name ending in .mp4, .mov, .mkv or .avi")
    assert not out.exists()
