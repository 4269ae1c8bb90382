"""parse_landmarks / manual_landmarks: input checking and the filled-in points."""

from __future__ import annotations

import numpy as np
import pytest

from fesgui.align import LandmarkSource, manual_landmarks, parse_landmarks
from fesgui.errors import FesguiError


def test_parse_good_points():
    lm = parse_landmarks("150,84, 90,84,120,140")  # eyes given right first
    np.testing.assert_allclose(lm.points[:2], [[90, 84], [150, 84]])
    np.testing.assert_allclose(lm.mouth_centre, [120, 140], atol=1e-3)
    assert lm.manual and lm.mesh is None
    nose = lm.points[2]
    assert 90 < nose[0] < 150 and 84 < nose[1] < 140
    assert lm.points[3, 0] < 120 < lm.points[4, 0]
    x0, y0, x1, y1 = lm.box
    assert x0 < 90 and x1 > 150 and y0 < 84 and y1 > 140


@pytest.mark.parametrize("text, match", [
    ("1,2,3", "has 3 numbers"),
    ("1,2,3,4,5,6,7", "has 7 numbers"),
    ("1,2,a,4,5,6", "not a number"),
    ("1,2,nan,4,5,6", "inf or nan"),
    ("", "has 0 numbers"),
    ("10,10,10,10,50,50", "eye points are the same"),
    ("10,10,50,10,30,10", "mouth point lies between the eyes"),
])
def test_parse_errors_are_one_line(text, match):
    with pytest.raises(FesguiError, match=match) as info:
        parse_landmarks(text)
    assert "\n" not in str(info.value)


def test_manual_landmarks_of_a_tilted_face_follow_the_tilt():
    lm = manual_landmarks((100, 100), (160, 130), (110, 190))
    eye_axis = lm.points[1] - lm.points[0]
    mouth_axis = lm.points[4] - lm.points[3]
    cos = eye_axis @ mouth_axis / np.linalg.norm(eye_axis) / np.linalg.norm(mouth_axis)
    assert cos > 0.99


def test_fake_sources_satisfy_the_protocol():
    class Fake:
        def detect(self, image):
            return []

        def close(self):
            pass

    assert isinstance(Fake(), LandmarkSource)
