"""Every file of the bad/unusual image corpus through every entry that reads photos.

Entries: ``read_image`` itself, ``fesgui synth``, ``fesgui batch`` (goes on with the rest
and lists what failed), ``fesgui train --pairs`` (the file among good synthetic pairs), and
the app's open (menu) and drag-and-drop. A bad file gives one clear line (naming the
problem and the way out) and no output; an unusual file gives the result the plain PNG of
the same face gives (upright for the EXIF-rotated one). Landmarks come from a fake source
that knows where the corpus face is, so no MediaPipe is needed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from fesgui.cli import main
from fesgui.core import read_meta
from fesgui.errors import FesguiError, FesguiWarning
from fesgui.imageio import read_image, write_image
from fesgui.synthetic import make_face

from .corpus import (
    BAD,
    CASES,
    GOOD,
    SIDE,
    Case,
    expected_image,
    points_arg,
    write_case,
    write_people,
)

ENTRIES = ["read_image", "read_thumbnail", "synth", "batch", "train"]


def _reference(tmp_path: Path, case: Case, face, model_path: Path) -> np.ndarray:
    """What ``synth`` writes for the plain PNG of the image a correct reader decodes."""
    ref_in, ref_out = tmp_path / "ref_in.png", tmp_path / "ref_out.png"
    write_image(ref_in, expected_image(case, face[0]))
    assert main(["synth", str(ref_in), "-m", str(model_path), "-o", str(ref_out),
                 "--landmarks", points_arg(face[1])]) == 0
    return read_image(ref_out)


def _close(got: np.ndarray, want: np.ndarray, case: Case) -> None:
    assert got.shape == want.shape, case.name
    diff = np.abs(got.astype(int) - want).mean()
    assert diff <= case.tolerance + 0.5, (case.name, diff)


def _check_note(err: str, case: Case) -> None:
    """A multi-page file gives one ``warning:`` line saying so; any other file none."""
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warnings == ([f"warning: {case.note} (save the one you want as a PNG to use "
                         "another)"] if case.note else []), err


def _one_error_line(err: str, case: Case) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and err.strip() == lines[0], err
    assert case.match in lines[0] and ":" in lines[0][7:], lines[0]
    return lines[0]


def _run_read_image(tmp_path, case, face, model_path, capsys):
    path = write_case(case, tmp_path / "in", face[0])
    if case.bad:
        with pytest.raises(FesguiError, match=case.match) as info:
            read_image(path)
        assert "\n" not in str(info.value)
    elif case.note:
        with pytest.warns(FesguiWarning, match=case.note):
            image = read_image(path)
        _close(image, expected_image(case, face[0]), case)
    else:
        _close(read_image(path), expected_image(case, face[0]), case)


def _run_read_thumbnail(tmp_path, case, face, model_path, capsys):
    import cv2

    from fesgui.imageio import read_thumbnail

    path = write_case(case, tmp_path / "in", face[0])
    if case.bad:
        with pytest.raises(FesguiError, match=case.match) as info:
            read_thumbnail(path, 48)
        assert "\n" not in str(info.value)
    else:
        small = cv2.resize(expected_image(case, face[0]), (48, 48), interpolation=cv2.INTER_AREA)
        got = read_thumbnail(path, 48)
        assert got.shape == (48, 48, 3) and got.dtype == np.uint8
        assert np.abs(got.astype(int) - small).mean() <= case.tolerance + 1.0, case.name


def _run_synth(tmp_path, case, face, model_path, capsys):
    path = write_case(case, tmp_path / "in", face[0])
    out = tmp_path / "out" / "result.png"
    out.parent.mkdir()
    code = main(["synth", str(path), "-m", str(model_path), "-o", str(out),
                 "--landmarks", points_arg(face[1])])
    err = capsys.readouterr().err
    if case.bad:
        assert code == 2
        _one_error_line(err, case)
        assert list(out.parent.iterdir()) == []
    else:
        assert code == 0, err
        _check_note(err, case)
        _close(read_image(out), _reference(tmp_path, case, face, model_path), case)


def _run_batch(tmp_path, case, face, model_path, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    path = write_case(case, src, face[0])
    write_image(src / "a_good.png", face[0])
    code = main(["batch", str(src), str(dst), "-m", str(model_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    written = sorted(p.name for p in dst.iterdir())
    from fesgui.commands.batch import output_name

    if case.bad:
        assert written == ["a_good.png"]
        line = next(x for x in err.splitlines() if x.startswith(f"failed: {path.name}: "))
        assert case.match in line
        assert "wrote 1 of 2 images" in err and "1 failed" in err
    else:
        assert written == sorted(["a_good.png", output_name(path)]), err
        assert "failed" not in err
        _check_note(err, case)
        ref = _reference(tmp_path, case, face, model_path)
        # batch finds the face itself (KnownFace) instead of --landmarks: same points
        # except the mouth (template estimate vs. given), so compare outside the mouth
        got = read_image(dst / output_name(path))
        assert got.shape == ref.shape
        assert np.abs(got.astype(int) - ref)[: SIDE // 2].mean() <= case.tolerance + 1.0


def _run_train(tmp_path, case, face, model_path, capsys):
    photos = tmp_path / "photos"
    write_people(photos, 4)  # four good people, the same geometry as the corpus face
    stem = Path(case.filename).stem
    suffix = Path(case.filename).suffix
    bad_path = write_case(case, photos / "neutral", face[0], f"{stem}_03{suffix}")
    write_image(photos / "smiling" / f"{stem}_08.png", make_face(SIDE, SIDE, smile=1.0,
                                                                 seed=11)[0])
    out = tmp_path / "m.npz"
    code = main(["train", "--pairs", str(photos), "--method", "mr", "--size", "3",
                 "--lam", "0.4", "--crop", "24", "--cache", str(tmp_path / "cache"),
                 "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    data = read_meta(out)["training_data"]
    n = data["n_train"] + data["n_val"] + data["n_test"]
    if case.bad:
        assert n == 4, err
        line = next(x for x in err.splitlines() if bad_path.name in x)
        assert case.match in line, line
    else:
        assert n == 5, err
        named = [x for x in err.splitlines() if bad_path.name in x]
        if case.note:  # the one line naming the file is its warning
            assert len(named) == 1 and named[0].startswith("warning: ") and \
                "only the first is used" in named[0], err
        else:
            assert named == [], err


RUNNERS = {"read_image": _run_read_image, "read_thumbnail": _run_read_thumbnail,
           "synth": _run_synth, "batch": _run_batch, "train": _run_train}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("entry", ENTRIES)
def test_corpus_through_every_cli_entry(entry, case, tmp_path, face, model_path, finder,
                                        capsys):
    RUNNERS[entry](tmp_path, case, face, model_path, capsys)


def test_corpus_is_what_it_claims(tmp_path, face):
    """The corpus itself, checked with Pillow alone (an independent reader)."""
    from PIL import Image

    for case in GOOD:
        path = write_case(case, tmp_path, face[0])
        with Image.open(path) as im:
            assert im.size in ((SIDE, SIDE),), case.name
            mode = {"gray": "L", "rgba": "RGBA", "palette": "P", "cmyk-jpeg": "CMYK",
                    "sixteen-gray": "I;16", "exif-rotated": "RGB", "gif": "P",
                    "animated-gif": "P", "bmp": "RGB", "tiff": "RGB", "webp": "RGB",
                    "multipage-tiff": "RGB"}.get(case.name)
            if mode:
                assert im.mode.startswith(mode), (case.name, im.mode)
            assert im.format == {".bmp": "BMP", ".tif": "TIFF", ".webp": "WEBP",
                                 ".gif": "GIF", ".png": "PNG", ".jpg": "JPEG"}[path.suffix]
            assert getattr(im, "n_frames", 1) == (3 if case.note else 1), case.name
            if case.name == "exif-rotated":
                assert im.getexif()[0x0112] == 6
    assert {c.name for c in BAD} >= {"empty", "truncated-jpeg", "truncated-png",
                                      "text-named-jpg", "bomb"}
    for case in BAD:  # a bad file is unreadable to Pillow too (or its later pages are)
        path = write_case(case, tmp_path, face[0])
        with pytest.raises(Exception), warnings.catch_warnings():  # noqa: B017, PT011
            warnings.simplefilter("ignore")  # Pillow's word on the cut TIFF's EXIF
            with Image.open(path) as im:
                for i in range(getattr(im, "n_frames", 1)):
                    im.seek(i)
                    im.load()
    bomb = write_case(next(c for c in BAD if c.name == "bomb"), tmp_path, face[0])
    assert bomb.stat().st_size < 200


def test_thumbnail_of_a_big_jpeg_is_small_upright_and_faithful(tmp_path):
    """A 1600 x 1200 photo stored sideways (EXIF 6): the preview is 72 x 96 and upright,
    and matches an area-averaged downscale of the full decode."""
    import cv2
    from PIL import Image

    from fesgui.imageio import read_thumbnail

    img, _ = make_face(1200, 1600, seed=4)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "big.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(img, k=1))).save(path, exif=exif, quality=90)
    full = read_image(path)
    assert full.shape == img.shape
    thumb = read_thumbnail(path, 96)
    assert thumb.shape == (72, 96, 3)
    ref = cv2.resize(full, (96, 72), interpolation=cv2.INTER_AREA)
    assert np.abs(thumb.astype(int) - ref).mean() < 3
    with pytest.raises(FesguiError, match="max_side"):
        read_thumbnail(path, 0)
