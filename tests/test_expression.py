"""The expression as a user sees it (fesgui.evaluation.expression) and the contact sheet,
on synthetic photos (no dataset, no MediaPipe: the smile measure is left out)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fesgui.align import FaceLandmarks, Template, box_of, warp_to_crop
from fesgui.evaluation.expression import (
    MEASURE_CROP,
    Case,
    Scorer,
    measure_crops,
    mouth_box,
    run_pipeline,
)
from fesgui.synthetic import make_face


class Identity:
    """predict(x) = x, with an optional shape field."""

    def __init__(self, size=64, field=None):
        self.meta = {"image_size": [size, size], "alignment": "eyes-mouth"}
        self.shape_field_ = field

    def predict(self, x):
        return np.asarray(x, np.float32).copy()


def _cases(n=3):
    cases = []
    for k in range(n):
        photo, pts = make_face(240, 320, seed=k)
        target, tpts = make_face(240, 320, smile=1.0, seed=k)
        face = FaceLandmarks(np.asarray(pts, np.float32), None, box_of(pts, 0.5))
        cases.append(Case(f"p{k}", photo, face, target, np.array([[1.0, 0, 0], [0, 1.0, 0]])))
    return cases


def test_mouth_box_surrounds_the_template_mouth():
    rows, cols = mouth_box(256)
    pts = Template.load().in_crop(256)
    for x, y in pts[3:5]:
        assert cols.start < x < cols.stop and rows.start < y < rows.stop
    for _x, y in pts[:2]:                      # the eyes are outside
        assert not rows.start < y < rows.stop


def test_an_unchanged_photo_keeps_everything_and_scores_like_the_input():
    cases = _cases()
    scorer = Scorer(cases)
    r = scorer.score("input", [c.photo for c in cases])
    assert r.chroma == pytest.approx(1.0) and r.sharpness == pytest.approx(1.0)
    assert r.smile is None and r.n == 3 and r.n_smile == 0
    # MSE against the registered targets, recomputed independently
    t = Template.load()
    diffs = []
    for c in cases:
        m = t.matrix(c.face, MEASURE_CROP, "eyes-mouth")
        a = warp_to_crop(c.photo, m, MEASURE_CROP).astype(np.float64) / 255
        b = warp_to_crop(c.target, m, MEASURE_CROP).astype(np.float64) / 255
        diffs.append(((a - b) ** 2).mean())
    assert r.mse == pytest.approx(np.mean(diffs), rel=1e-5)


def test_blur_and_grey_are_measured_as_detail_and_colour_lost():
    cases = _cases()
    scorer = Scorer(cases)
    blurred = scorer.score("blur", [cv2.GaussianBlur(c.photo, (0, 0), 3) for c in cases])
    grey = scorer.score("grey", [np.repeat(cv2.cvtColor(c.photo, cv2.COLOR_RGB2GRAY)[..., None],
                                           3, axis=2) for c in cases])
    assert blurred.sharpness < 0.5
    assert grey.chroma < 0.2


def test_run_pipeline_moves_the_face_with_the_models_field():
    cases = _cases(1)
    field = np.zeros((64, 64, 2), np.float32)
    field[30:50, 20:44, 0] = 2.0
    out = run_pipeline(Identity(field=field), cases)[0]
    still = run_pipeline(Identity(), cases)[0]
    assert np.array_equal(still, cases[0].photo)
    assert not np.array_equal(out, cases[0].photo)
    ins, outs, _ = measure_crops(cases, [out])
    assert outs.shape == ins.shape == (1, MEASURE_CROP, MEASURE_CROP, 3)


def test_contact_sheet_has_a_row_per_face_and_a_column_per_entry():
    from fesgui.evaluation import contact

    cases = _cases(2)
    sheet = contact.build_sheet(cases, [("input", None, {}), ("model", Identity(), {}),
                                        ("model 1.5", Identity(), {"intensity": 1.5})])
    p = contact.PANEL
    assert sheet.shape == (2 * p + 6, 3 * p + 2 * 6, 3) and sheet.dtype == np.uint8
