"""Real MediaPipe on a real photo: skimage.data.astronaut() (public domain, NASA)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fesgui.align import Template, warp_to_crop
from fesgui.errors import FesguiError


@pytest.fixture(scope="module")
def source():
    try:
        import mediapipe  # noqa: F401
    except Exception as exc:  # pragma: no cover - depends on the platform
        pytest.skip(f"mediapipe cannot be imported here ({exc}): the MediaPipe check is skipped")
    from fesgui.align.mediapipe_source import MediaPipeSource

    with MediaPipeSource(video=False, max_faces=2) as src:
        yield src


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


def test_astronaut_face_is_found_with_sane_points(source, astronaut):
    faces = source.detect(astronaut)
    assert len(faces) == 1
    f = faces[0]
    assert f.points.shape == (5, 2) and f.points.dtype == np.float32
    assert f.mesh.shape == (468, 2)
    left, right, nose, lm, rm = f.points
    assert left[0] < right[0] and lm[0] < rm[0]
    assert max(left[1], right[1]) < nose[1] < min(lm[1], rm[1])
    x0, y0, x1, y1 = f.box
    assert all(x0 <= p[0] <= x1 and y0 <= p[1] <= y1 for p in f.points)
    assert 40 < np.linalg.norm(right - left) < 120  # her face is ~200 px wide


@pytest.mark.parametrize("alignment", ["eyes-mouth", "eyes-nose"])
@pytest.mark.parametrize("size", [256, (288, 256)])
def test_aligned_crop_puts_the_eyes_on_the_template(source, astronaut, size, alignment):
    """Align, then run MediaPipe again on the crop: the re-detected points the alignment
    fits (eyes + mouth centre, or eyes + nose tip) must sit where the template says, which
    checks template, similarity and warp together."""
    t = Template.load()
    face = source.detect(astronaut)[0]
    m = t.matrix(face, size, alignment)
    crop = warp_to_crop(astronaut, m, size)
    again = source.detect(np.ascontiguousarray(crop))
    assert again, "no face found in the aligned crop"
    expected = t.in_crop(size)
    width = crop.shape[1]
    got = again[0].points
    if alignment == "eyes-mouth":
        got = np.vstack([got[:2], (got[3] + got[4]) / 2])
        expected = np.vstack([expected[:2], (expected[3] + expected[4]) / 2])
    err = np.linalg.norm(got[:3] - expected[:3], axis=1)
    assert err.max() < 0.03 * width, err


def test_video_mode_and_closed_source(astronaut):
    from fesgui.align.mediapipe_source import MediaPipeSource

    src = MediaPipeSource(video=True, max_faces=1)
    first = src.detect(astronaut)
    second = src.detect(astronaut)
    assert len(first) == len(second) == 1
    assert np.abs(first[0].points - second[0].points).max() < 3
    src.close()
    src.close()
    with pytest.raises(FesguiError, match="closed"):
        src.detect(astronaut)


def test_bad_input_is_refused(source):
    with pytest.raises(FesguiError, match="RGB uint8"):
        source.detect(np.zeros((10, 10), np.float32))


def test_no_face_in_a_blank_image(source):
    assert source.detect(np.full((200, 200, 3), 128, np.uint8)) == []


def test_missing_mediapipe_is_one_line(monkeypatch):
    import sys

    from fesgui.align.mediapipe_source import MediaPipeSource

    for name in [n for n in sys.modules if n == "mediapipe" or n.startswith("mediapipe.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(FesguiError, match="MediaPipe cannot be loaded") as info:
        MediaPipeSource()
    assert "\n" not in str(info.value)


def test_mediapipe_loads_without_matplotlib_and_keeps_its_drawing_helpers_importable():
    """Before: MediaPipe's solutions package imported its drawing helpers and with them
    matplotlib.pyplot, 0.8 s of every start-up (fesgui synth on a photo: 2.6 s, now
    1.7 s). Its drawing helpers still import for anyone who wants them."""
    pytest.importorskip("mediapipe", reason="mediapipe cannot be imported here")
    code = ("import sys\n"
            "from fesgui.align.mediapipe_source import MediaPipeSource\n"
            "MediaPipeSource().close()\n"
            "print('matplotlib' in sys.modules)\n"
            "import mediapipe.python.solutions as solutions\n"
            "import mediapipe.python.solutions.drawing_utils as drawing\n"
            "print(hasattr(drawing, 'draw_landmarks'), solutions.drawing_utils is drawing)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert run.stdout.split() == ["False", "True", "True"], run.stderr


def test_faces_side_by_side_are_all_found(astronaut):
    """A wide photo: the whole-image detector misses both faces, the tiles find them."""
    from fesgui.align.mediapipe_source import MediaPipeSource

    pair = np.ascontiguousarray(np.hstack([astronaut, astronaut[:, ::-1]]))
    with MediaPipeSource(video=False, max_faces=4) as src:
        faces = src.detect(pair)
    assert len(faces) == 2
    centres = sorted(float(f.points[:2, 0].mean()) for f in faces)
    assert centres[0] < 512 < centres[1]
    # the mirrored copy's eyes are the mirror images of the original's
    left = min(faces, key=lambda f: f.points[0, 0])
    right = max(faces, key=lambda f: f.points[0, 0])
    np.testing.assert_allclose(right.points[:2, 0], sorted(1023 - left.points[:2, 0]), atol=4)
    with MediaPipeSource(video=False, max_faces=1) as src:
        assert len(src.detect(pair)) == 1


def test_tiles_cover_the_image():
    from fesgui.align.mediapipe_source import _overlap, _tile_origins

    for h, w, side in [(512, 1024, 512), (1350, 1350, 675), (300, 200, 100), (100, 100, 100)]:
        covered = np.zeros((h, w), bool)
        for y0, x0 in _tile_origins(h, w, side):
            assert 0 <= y0 <= h - min(side, h) and 0 <= x0 <= w - min(side, w)
            covered[y0:y0 + side, x0:x0 + side] = True
        assert covered.all()
    assert _overlap((0, 0, 10, 10), (5, 5, 15, 15)) == 0.25
    assert _overlap((0, 0, 10, 10), (2, 2, 4, 4)) == 1.0
    assert _overlap((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
