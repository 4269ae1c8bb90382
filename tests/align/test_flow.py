"""fesgui.align.flow: a face's landmarks carried into the next frame by optical flow.

Checked against motions known by construction (a textured picture moved by a given
similarity; the astronaut's face drawn shifted by a given number of pixels), not against
another tracker. No MediaPipe here (tests/test_video_hd.py runs the flow inside video mode).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fesgui.align import FaceLandmarks, box_of
from fesgui.align.flow import FlowFollower, follow_similarity
from fesgui.benchmarks.testvideo import face_scene


def _similarity(angle_deg: float, scale: float, tx: float, ty: float, centre) -> np.ndarray:
    m = cv2.getRotationMatrix2D(centre, angle_deg, scale)
    m[:, 2] += (tx, ty)
    return m


def _grey_face(side: int = 128) -> np.ndarray:
    frame, (x0, y0, x1, y1) = face_scene(480, 640, 0.4)
    cx, cy, s = (x0 + x1) / 2, (y0 + y1) / 2, 1.4 * (x1 - x0)
    crop = frame[int(cy - s / 2):int(cy + s / 2), int(cx - s / 2):int(cx + s / 2)]
    return cv2.cvtColor(cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_RGB2GRAY)


@pytest.mark.parametrize(("angle", "scale", "tx", "ty"),
                         [(0, 1, 3.2, -1.7), (2.5, 1.03, -2.0, 1.4), (-1.5, 0.98, 0.6, 4.1)])
def test_follow_similarity_recovers_a_known_motion(angle, scale, tx, ty):
    before = _grey_face()
    truth = _similarity(angle, scale, tx, ty, (64.0, 64.0))
    after = cv2.warpAffine(before, truth, (128, 128), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    yy, xx = np.mgrid[32:97:8, 32:97:8]
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    m = follow_similarity(before, after, pts)
    assert m is not None
    got = pts @ m[:, :2].T + m[:, 2]
    want = pts @ truth[:, :2].T + truth[:, 2]
    assert np.abs(got - want).max() < 0.25


def test_follow_similarity_gives_up_on_an_unrelated_picture():
    before = _grey_face()
    other = cv2.rotate(before, cv2.ROTATE_180)  # a cut: the same kind of picture, not moved
    yy, xx = np.mgrid[32:97:8, 32:97:8]
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    assert follow_similarity(before, other, pts) is None
    assert follow_similarity(before, np.full_like(before, 90), pts) is None  # nothing there


def _face_in(frame_box, n: int = 12) -> FaceLandmarks:
    """A face whose 'mesh' is a grid over the middle of the face box and whose five
    points lie inside it (the follower moves whatever points it is given)."""
    x0, y0, x1, y1 = frame_box
    gx, gy = np.meshgrid(np.linspace(x0 + 0.2 * (x1 - x0), x1 - 0.2 * (x1 - x0), n),
                         np.linspace(y0 + 0.2 * (y1 - y0), y1 - 0.2 * (y1 - y0), n))
    mesh = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    w, h = x1 - x0, y1 - y0
    points = np.array([[x0 + 0.35 * w, y0 + 0.4 * h], [x0 + 0.65 * w, y0 + 0.4 * h],
                       [x0 + 0.5 * w, y0 + 0.6 * h], [x0 + 0.38 * w, y0 + 0.75 * h],
                       [x0 + 0.62 * w, y0 + 0.75 * h]], np.float32)
    return FaceLandmarks(points, mesh, box_of(mesh))


@pytest.mark.parametrize(("h", "w", "frac"), [(480, 640, 0.35), (1080, 1920, 0.2)])
def test_the_follower_moves_the_landmarks_with_the_face(h, w, frac):
    """The face drawn 0.6 % of the width further right and 0.4 % further down per frame
    (up to 12 px at 1080p): every point follows within half a pixel, over three frames
    chained (the flow is measured in a 128 px picture of the face: 0.13 of its pixels at
    1080p)."""
    follower = FlowFollower()
    frame, box = face_scene(h, w, frac, 0.45, 0.5)
    face = _face_in(box)
    follower.remember(frame, face)
    for i in range(1, 4):
        cx, cy = 0.45 + 0.006 * i, 0.5 + 0.004 * i
        frame, _ = face_scene(h, w, frac, cx, cy)
        moved = follower.follow(frame)
        assert moved is not None, i
        shift = np.array([0.006 * i * w, 0.004 * i * h], np.float32)
        assert np.abs(moved.points - (face.points + shift)).max() < 0.5, i
        assert np.abs(moved.mesh - (face.mesh + shift)).max() < 0.5, i
        assert moved.box == box_of(moved.mesh)


def test_a_follower_that_loses_the_face_forgets_it():
    follower = FlowFollower()
    assert follower.follow(np.zeros((480, 640, 3), np.uint8)) is None  # nothing remembered
    frame, box = face_scene(480, 640, 0.35)
    follower.remember(frame, _face_in(box))
    assert follower.follow(np.full_like(frame, 70)) is None  # the face is gone
    assert follower.follow(frame) is None  # and is not followed from an old frame
