"""The face plausibility gate and upright handling (issue 14, item 10).

Pure geometry on synthetic point sets first, then the real detector on scikit-image's
photos: the cat (``chelsea``) has no face, the astronaut has one, and the astronaut upside
down or sideways has the same face with its eyes in the right order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fesgui.align import FaceLandmarks, box_of
from fesgui.align.plausibility import (
    MIN_EYE_DISTANCE,
    assess,
    rotate_points,
    unrotate_points,
    upright_crop,
    upright_detect,
)
from fesgui.synthetic import face_points

UPRIGHT = face_points(200, 200, None, None, 1.0, 0.0)  # (5, 2): eyes, nose, mouth corners


def _turn(points: np.ndarray, degrees: float, centre=(100.0, 100.0)) -> np.ndarray:
    """``points`` turned by ``degrees`` about ``centre`` (positive: the top goes right,
    i.e. clockwise on screen with y down)."""
    a = math.radians(degrees)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return (np.asarray(points, float) - centre) @ rot.T + centre


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("smile", [0.0, 1.0])
def test_synthetic_faces_are_plausible_and_upright(seed, smile):
    rng = np.random.default_rng(seed)
    points = face_points(160, 140, None, None, rng.uniform(0.5, 1.0), rng.uniform(-8, 8))
    verdict = assess(points)
    assert verdict.plausible, verdict.reason
    assert abs(verdict.tilt) < 10


@pytest.mark.parametrize("degrees", [-170, -120, -90, -45, -15, 0, 15, 45, 90, 135, 180])
def test_tilt_is_the_turn_of_the_face(degrees):
    verdict = assess(_turn(UPRIGHT, degrees))
    assert verdict.plausible  # a turned face is still a face
    # the tilt, measured independently: the angle of the eye line from horizontal
    eyes = _turn(UPRIGHT, degrees)[1] - _turn(UPRIGHT, degrees)[0]
    expected = math.degrees(math.atan2(eyes[1], eyes[0]))
    assert verdict.tilt == pytest.approx(expected, abs=1e-6) or abs(
        abs(verdict.tilt) - 180) < 1e-6 and abs(abs(expected) - 180) < 1e-6


def _swap(points, *pairs):
    p = np.array(points, float)
    for a, b in pairs:
        p[[a, b]] = p[[b, a]]
    return p


@pytest.mark.parametrize("name,points,why", [
    ("eyes swapped (a mirror image)", _swap(UPRIGHT, (0, 1)), "line up"),
    ("mouth above the eyes", _swap(UPRIGHT, (0, 3), (1, 4)), "line up"),
    ("nose below the mouth", np.vstack([UPRIGHT[:2], UPRIGHT[2] + [0, 60], UPRIGHT[3:]]),
     "nose"),
    ("nose above the eyes", np.vstack([UPRIGHT[:2], UPRIGHT[2] - [0, 45], UPRIGHT[3:]]),
     "nose"),
    ("mouth far below", np.vstack([UPRIGHT[:3], UPRIGHT[3:] + [0, 150]]), "eye-to-mouth"),
    ("mouth too wide", np.vstack([UPRIGHT[:3], UPRIGHT[3:] * [[3, 1]] - [[200, 0]]]),
     "mouth width"),
    ("all on a line", np.column_stack([np.linspace(10, 90, 5), np.full(5, 50.0)]),
     "line up"),
    ("tiny", (UPRIGHT - 100) * (MIN_EYE_DISTANCE * 0.9 / 60) + 100, "too small"),
    ("not finite", np.full((5, 2), np.nan), "finite"),
])
def test_what_is_not_a_face(name, points, why):
    verdict = assess(points)
    assert not verdict.plausible, name
    assert why in verdict.reason, (name, verdict.reason)


def test_random_points_are_rarely_a_face():
    rng = np.random.default_rng(0)
    hits = sum(assess(rng.uniform(0, 200, (5, 2))).plausible for _ in range(2000))
    assert hits < 40  # < 2 % (a face-like layout by chance)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
def test_rotate_points_follows_np_rot90(k):
    """A marked pixel's centre moves exactly as np.rot90 moves the pixel."""
    h, w = 7, 11
    rng = np.random.default_rng(k)
    rows, cols = rng.integers(0, h, 6), rng.integers(0, w, 6)
    image = np.zeros((h, w), int)
    image[rows, cols] = np.arange(1, 7)
    turned = np.rot90(image, k)
    centres = np.column_stack([cols + 0.5, rows + 0.5])
    moved = rotate_points(centres, k, image.shape)
    for label, (x, y) in zip(range(1, 7), moved, strict=True):
        assert turned[int(y), int(x)] == label
    np.testing.assert_allclose(unrotate_points(moved, k, image.shape), centres)


UPRIGHT_IMAGE = np.random.default_rng(1).integers(0, 255, (200, 240, 3), dtype=np.uint8)


class UprightOnlyDetector:
    """Like a real detector: finds the face of UPRIGHT_IMAGE only when it is upright, and
    fits a bogus upright "face" (narrow mouth, tilted 30 degrees) when it is upside down."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        for k in range(4):
            turned = np.rot90(UPRIGHT_IMAGE, k)
            if image.shape == turned.shape and np.array_equal(image, turned):
                if k == 0:
                    pts = UPRIGHT
                elif k == 2:
                    pts = _turn(UPRIGHT, 30)
                    mid = pts[3:].mean(axis=0)
                    pts[3:] = mid + (pts[3:] - mid) * 0.6
                else:
                    return []
                return [FaceLandmarks(pts.astype(np.float32), None, box_of(pts, 0.5))]
        return []


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_upright_detect_finds_a_turned_face_and_maps_it_back(k):
    image = np.ascontiguousarray(np.rot90(UPRIGHT_IMAGE, k))
    points = rotate_points(UPRIGHT, k, UPRIGHT_IMAGE.shape)
    detector = UprightOnlyDetector()
    faces = upright_detect(detector.detect, image)
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].points, points, atol=1e-3)  # eye order kept
    assert detector.calls == (1 if k == 0 else 4)  # an upright face costs one detection
    if k == 2:  # the bogus fit was plausible, but tilted: the turned photo's face won
        assert assess(_turn(UPRIGHT, 30)).plausible


@pytest.mark.parametrize("tilt", [-35.0, 0.0, 30.0, 90.0])
def test_upright_crop_turns_the_face_upright(tilt):
    """Marks at a turned face's points land where the upright face's points are."""
    image = np.zeros((300, 300), np.int32)
    turned = _turn(UPRIGHT, tilt) + 100  # the face's centre moves to (200, 200)
    for label, (x, y) in enumerate(turned, start=1):
        image[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2] = label  # 3x3 marks
    crop = upright_crop(image, (200.0, 200.0), tilt, 200)
    for label, (x, y) in enumerate(UPRIGHT, start=1):  # about the crop's centre (100, 100)
        rows, cols = np.nonzero(crop == label)
        assert len(rows) >= 1, label
        assert abs(cols.mean() + 0.5 - x) <= 1.5 and abs(rows.mean() + 0.5 - y) <= 1.5


class TiltedFaceDetector:
    """Finds a face tilted 30 degrees in the photo (as a real detector does) and, in a
    crop, an upright face in the middle only when ``real``."""

    def __init__(self, real: bool) -> None:
        self.real, self.crops = real, 0

    def detect(self, image):
        if image.shape[:2] == (200, 200) and image.ndim == 3 and image.sum() == 0:
            pts = _turn(UPRIGHT, 30)
            return [FaceLandmarks(pts.astype(np.float32), None, box_of(pts, 0.5))]
        if image.shape[0] == image.shape[1] and image.shape[0] != 200:  # an upright crop
            self.crops += 1
            if self.real:
                side = image.shape[0]
                pts = (UPRIGHT - 100) * 0.5 + side / 2
                return [FaceLandmarks(pts.astype(np.float32), None, box_of(pts, 0.5))]
        return []


@pytest.mark.parametrize("real", [True, False])
def test_a_tilted_face_is_kept_only_if_found_again_upright(real):
    detector = TiltedFaceDetector(real)
    faces = upright_detect(detector.detect, np.zeros((200, 200, 3), np.uint8))
    assert detector.crops == 1
    assert len(faces) == (1 if real else 0)


def test_upright_detect_without_retry_only_drops_implausible_faces():
    good = FaceLandmarks(UPRIGHT.astype(np.float32), None, box_of(UPRIGHT, 0.5))
    turned = _turn(UPRIGHT, 120)
    tilted = FaceLandmarks(turned.astype(np.float32), None, box_of(turned, 0.5))
    mirrored = _swap(UPRIGHT, (0, 1))
    bad = FaceLandmarks(mirrored.astype(np.float32), None, box_of(mirrored, 0.5))
    image = np.zeros((200, 200, 3), np.uint8)
    assert upright_detect(lambda im: [good, bad, tilted], image, retry=False) == [good, tilted]
    assert upright_detect(lambda im: [bad], image) == []


# ---------------------------------------------------------------- the real detector
@pytest.fixture(scope="module")
def source():
    from fesgui.align.mediapipe_source import MediaPipeSource

    with MediaPipeSource(video=False, max_faces=4) as src:
        yield src


@pytest.fixture(scope="module")
def astronaut_points(source):
    from skimage import data

    faces = source.detect(data.astronaut())
    assert len(faces) == 1
    return faces[0].points


def test_the_cat_has_no_face(source):
    """MediaPipe fits a "face" to the cat's eye (found in a tile, turned 60 degrees)."""
    from skimage import data

    assert source.detect(data.chelsea()) == []


@pytest.mark.parametrize("k", [2, 1, 3])
def test_the_turned_astronaut_has_her_face_with_the_eyes_in_order(source, astronaut_points,
                                                                  k):
    from skimage import data

    image = data.astronaut()
    turned = np.ascontiguousarray(np.rot90(image, k))
    faces = source.detect(turned)
    assert len(faces) == 1
    back = unrotate_points(faces[0].points, k, image.shape)
    # the same anatomical points as in the upright photo: left eye first, within 3 px
    assert np.abs(back - astronaut_points).max() < 3.0
    assert faces[0].mesh is not None and faces[0].mesh.shape == (468, 2)


def test_synth_on_the_cat_says_no_face_and_writes_nothing(tmp_path, capsys):
    from skimage import data

    from fesgui.cli import main
    from fesgui.core import MaskedRegression
    from fesgui.imageio import write_image
    from fesgui.synthetic import make_pairs

    X, T = make_pairs(8, 32, 32, seed=1)
    model = MaskedRegression(size=3).fit(X, T).save(tmp_path / "m.npz")
    write_image(tmp_path / "cat.png", data.chelsea())
    code = main(["synth", str(tmp_path / "cat.png"), "-m", str(model), "-o",
                 str(tmp_path / "out.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: cat.png: no face found")
    assert not (tmp_path / "out.png").exists()


def test_all_faces_finds_more_than_four(source):
    """Six astronauts (a 2 x 3 grid, some mirrored): --all-faces used to stop at 4."""
    from skimage import data

    from fesgui.pipeline import MAX_FACES

    assert MAX_FACES >= 6
    face = data.astronaut()[30:250, 120:330]
    row = np.hstack([face, face[:, ::-1], face])
    grid = np.ascontiguousarray(np.vstack([row, row[:, ::-1]]))
    from fesgui.align.mediapipe_source import MediaPipeSource

    with MediaPipeSource(video=False, max_faces=MAX_FACES) as many:
        faces = many.detect(grid)
    assert len(faces) == 6
    cells = sorted((int((f.box[1] + f.box[3]) / 2 // 220), int((f.box[0] + f.box[2]) / 2 // 210))
                   for f in faces)
    assert cells == [(r, c) for r in (0, 1) for c in (0, 1, 2)]  # one in every cell
    assert all(abs(assess(f.points).tilt) < 10 for f in faces)
