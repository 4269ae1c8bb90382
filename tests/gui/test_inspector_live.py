"""The inspector on live frames: what does not change between frames is not redrawn.

A live stream calls ``InspectorPanel.set_face`` with a new ``FaceResult`` every few
frames while the model and the selected pixel stay put. The weight labels (pyqtgraph
``TextItem``) must then be the same objects showing the same text, only re-texted when a
value changes, and the input crop must reach pyqtgraph as 8-bit levels with fixed levels.
Expected values are read straight from ``model.weights_`` and the crops, not from the
inspector.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from fesgui.core import MaskedRegression
from fesgui.gui.inspector import InspectorPanel
from fesgui.pipeline import Pipeline, RefineParams
from fesgui.synthetic import make_pairs

SIZE = 20


@pytest.fixture(scope="module")
def live():
    """``(model r=3, model r=5, three different crops)`` fitted on synthetic pairs."""
    X, T = make_pairs(9, SIZE, SIZE, color=True, seed=12)
    small = MaskedRegression(size=3, color="per-channel").fit(X[:6], T[:6])
    large = MaskedRegression(size=5, color="shared").fit(X[:6], T[:6])
    return small, large, X[6:9]


def faces(model, crops, params):
    pipe = Pipeline(model, params=params, with_views=True)
    return [pipe.process_crop(c) for c in crops]


def shown_texts(panel: InspectorPanel) -> list[str]:
    """The visible weight labels, row-major (the order of the taps)."""
    return [t.textItem.toPlainText() for t in panel._weight_texts if t.isVisible()]


def test_weight_labels_are_reused_across_frames_and_show_the_weights(inspector, live,
                                                                     monkeypatch):
    model, _, crops = live
    params = RefineParams()
    inspector.set_model(model)
    inspector.select_pixel(6, 11)
    inspector.set_channel(2)
    frames = faces(model, crops, params)
    inspector.set_face(frames[0], params)
    items = list(inspector._weight_texts)
    assert len(items) == 9 and all(isinstance(t, pg.TextItem) for t in items)
    expected = [f"{v:.3f}" for v in model.weights_[2, 6, 11]]
    assert shown_texts(inspector) == expected

    calls: list[str] = []
    original = pg.TextItem.setText

    def counting(self, text, *args, **kwargs):
        calls.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(pg.TextItem, "setText", counting)
    monkeypatch.setattr(pg.TextItem, "setHtml", lambda *a, **k: calls.append("html"))
    for face in frames[1:] + frames:  # new faces, same model, pixel and channel
        inspector.set_face(face, params)
        assert inspector._weight_texts == items  # the same objects ...
        assert all(a is b for a, b in zip(inspector._weight_texts, items, strict=True))
        assert shown_texts(inspector) == expected  # ... still showing the weights
    assert calls == []  # and nothing was re-texted: the values did not change

    # another pixel: the same items, re-texted (plain text) with that pixel's weights
    inspector.select_pixel(0, 0)
    assert all(a is b for a, b in zip(inspector._weight_texts, items, strict=True))
    expected = [f"{v:.3f}" for v in model.weights_[2, 0, 0]]
    assert shown_texts(inspector) == expected
    assert 0 < len(calls) <= 9 and "html" not in calls
    # corner pixel: the taps outside the image are 0 and say so
    assert expected[0] == "0.000" and expected[1] == "0.000"


def test_weight_labels_follow_the_window_size(inspector, live):
    small, large, crops = live
    params = RefineParams()
    inspector.set_model(small)
    inspector.set_face(faces(small, crops[:1], params)[0], params)
    first = list(inspector._weight_texts)
    assert len(shown_texts(inspector)) == 9
    # r = 5: no labels (hovering names the values), the r = 3 items are hidden
    inspector.set_model(large)
    inspector.set_face(faces(large, crops[:1], params)[0], params)
    assert shown_texts(inspector) == []
    # back to r = 3: labels visible again with the new pixel's weights
    inspector.set_model(small)
    inspector.select_pixel(3, 4)
    assert all(a is b for a, b in zip(inspector._weight_texts, first, strict=True))
    assert shown_texts(inspector) == [f"{v:.3f}" for v in small.weights_[0, 3, 4]]
    inspector.set_model(None)
    assert shown_texts(inspector) == []


def test_live_frames_update_the_face_views_but_not_the_weights(inspector, live):
    model, _, crops = live
    params = RefineParams()
    inspector.set_model(model)
    inspector.select_pixel(5, 7)
    frames = faces(model, crops, params)
    for face in frames:
        inspector.set_face(face, params)
        crop = np.asarray(face.crop)
        # the overview shows this frame's crop, drawn as round(255 v) with levels 0..255
        drawn = inspector.crop_map.item.image
        assert drawn.dtype == np.uint8 and tuple(inspector.crop_map.item.getLevels()) == (0, 255)
        assert np.array_equal(drawn, np.floor(np.clip(crop, 0, 1).astype(np.float64) * 255
                                              + 0.5))
        assert inspector.crop_map.image is face.crop  # the float data, for hover/export
        # the arithmetic is this frame's
        assert float(inspector.labels["input"].text()) == pytest.approx(crop[5, 7, 0],
                                                                        abs=5e-7)
        assert np.array_equal(inspector.weights_map.item.image,
                              model.weights_[0, 5, 7].reshape(3, 3))


def test_a_refitted_model_object_redraws_its_weights(inspector, live):
    """The "unchanged" check is by identity of the weight arrays, not of the model only."""
    _, _, crops = live
    X, T = make_pairs(10, SIZE, SIZE, color=True, seed=99)
    model = MaskedRegression(size=3, color="per-channel").fit(X[:5], T[:5])
    params = RefineParams()
    inspector.set_model(model)
    inspector.select_pixel(2, 3)
    face = faces(model, crops[:1], params)[0]
    inspector.set_face(face, params)
    assert shown_texts(inspector) == [f"{v:.3f}" for v in model.weights_[0, 2, 3]]
    before = shown_texts(inspector)
    model.fit(X[5:], T[5:])  # the same object, new weights
    assert [f"{v:.3f}" for v in model.weights_[0, 2, 3]] != before
    inspector.set_face(face, params)
    assert shown_texts(inspector) == [f"{v:.3f}" for v in model.weights_[0, 2, 3]]
    assert np.array_equal(inspector.weights_map.item.image, model.weights_[0, 2, 3].reshape(3, 3))
