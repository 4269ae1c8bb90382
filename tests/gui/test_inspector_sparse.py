"""The inspector and the model maps on a sparse receptive field model (the MR authors'
LSRF / OMP structure): the taps drawn on the aligned input are the matrix's non-zeros,
the arithmetic reproduces the output, the maps show the bias and the farthest tap.

Expected values come straight from the scipy CSR matrix the model was imported from."""

from __future__ import annotations

import numpy as np
import pytest

from fesgui.core import from_csr
from fesgui.gui.inspector import fmt
from fesgui.gui.maps import ModelMapsPanel
from fesgui.pipeline import Pipeline, RefineParams
from fesgui.synthetic import make_face, sparse_smile_csr

from .test_inspector import click_pixel

SIZE = 24
SHOWN = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture(scope="module")
def sparse_case():
    """(matrix, model, face): an OMP-like model (5 taps, 4 of them anywhere) with the
    authors' min-max preprocessing, and a face through the pipeline."""
    mat = sparse_smile_csr(SIZE, taps=5, far=True, seed=4)
    model = from_csr(mat, preprocess="minmax")
    img, _ = make_face(SIZE, SIZE, seed=2)
    face = Pipeline(model, params=RefineParams(), with_views=True).process_crop(img)
    return mat, model, face


def matrix_row(mat, i, j):
    """{input pixel (row, col): weight} and the bias of output pixel (i, j)."""
    row = mat.getrow(i * SIZE + j)
    taps = {(int(c) // SIZE, int(c) % SIZE): float(v)
            for c, v in zip(row.indices, row.data, strict=True) if c < SIZE * SIZE and v != 0}
    bias = float(row[0, SIZE * SIZE])
    return taps, bias


PIXELS = [(0, 0), (17, 8), (12, 15), (SIZE - 1, SIZE - 1)]


def test_drawn_taps_are_the_matrix_row(inspector, sparse_case):
    mat, model, face = sparse_case
    inspector.set_model(model)
    inspector.set_face(face, RefineParams())
    for i, j in PIXELS:
        inspector.select_pixel(i, j)
        taps, bias = matrix_row(mat, i, j)
        # the markers on the aligned input sit on the centres of exactly those pixels
        xs, ys = inspector.tap_marks.getData()
        drawn = {(int(y - 0.5), int(x - 0.5)) for x, y in zip(xs, ys, strict=True)}
        assert drawn == set(taps)
        assert len(xs) == len(taps)
        shown = {(int(r), int(c)): w for r, c, w in inspector.tap_points}
        assert shown.keys() == taps.keys()
        np.testing.assert_allclose([shown[k] for k in taps], list(taps.values()), rtol=1e-6)
        # one line from the selected pixel to each tap
        lx, ly = inspector.tap_lines.getData()
        assert np.all(lx[0::2] == j + 0.5) and np.all(ly[0::2] == i + 0.5)
        assert {(int(y - 0.5), int(x - 0.5)) for x, y in zip(lx[1::2], ly[1::2],
                                                              strict=True)} == set(taps)
        # the weights view: the pixel's tap slots, zeros only where it has fewer taps
        slots = inspector.weights_map.item.image
        assert slots.shape == (1, model.n_taps)
        assert sorted(slots[slots != 0].tolist()) == pytest.approx(sorted(taps.values()),
                                                                    rel=1e-6)
        assert inspector.labels["bias"].text() == fmt(np.float32(bias))


def test_arithmetic_reproduces_the_output(inspector, sparse_case):
    mat, model, face = sparse_case
    inspector.set_model(model)
    inspector.set_face(face, RefineParams())
    x = face.crop.astype(np.float64)
    lo, hi = x.min(), x.max()
    xs = (x - lo) / (hi - lo)
    for (i, j), c in zip(PIXELS, (0, 1, 2, 1), strict=True):
        inspector.select_pixel(i, j)
        inspector.set_channel(c)
        taps, bias = matrix_row(mat, i, j)
        wx = sum(w * xs[r, col, c] for (r, col), w in taps.items())
        labels = inspector.labels
        assert float(labels["wx"].text()) == pytest.approx(wx, abs=2e-6)
        assert float(labels["output"].text()) == pytest.approx(float(face.output[i, j, c]),
                                                               abs=2e-6)
        assert float(labels["input"].text()) == pytest.approx(float(x[i, j, c]), abs=1e-6)
        assert fmt(wx + bias) in inspector.note_label.text()


@SHOWN
def test_clicking_the_input_moves_the_taps(qtbot, inspector, sparse_case):
    mat, model, face = sparse_case
    inspector.set_model(model)
    inspector.set_face(face, RefineParams())
    inspector.resize(700, 900)
    inspector.show()
    qtbot.waitExposed(inspector)
    assert click_pixel(qtbot, inspector, inspector.crop_map.item,
                       inspector.pixel_selected, 17, 8) == [17, 8]
    xs, ys = inspector.tap_marks.getData()
    assert {(int(y - 0.5), int(x - 0.5)) for x, y in zip(xs, ys, strict=True)} == set(
        matrix_row(mat, 17, 8)[0])


def test_maps_show_bias_and_farthest_tap(qtbot, sparse_case):
    mat, model, face = sparse_case
    maps = ModelMapsPanel()
    qtbot.addWidget(maps)
    maps.set_model(model)
    maps.set_views(Pipeline(model).model_views())  # as the worker sends them
    d = SIZE * SIZE
    coo = mat[:, :d].tocoo()
    far = np.zeros(d)
    keep = coo.data != 0
    np.maximum.at(far, coo.row[keep], np.hypot(coo.col[keep] // SIZE - coo.row[keep] // SIZE,
                                               coo.col[keep] % SIZE - coo.row[keep] % SIZE))
    np.testing.assert_allclose(maps.maps["reach"].data, far.reshape(SIZE, SIZE), rtol=1e-6)
    assert far.max() > SIZE / 2  # OMP-like: taps far across the face
    bias = mat[:, d].toarray().reshape(SIZE, SIZE)
    np.testing.assert_allclose(maps.maps["b"].data[..., 0], bias, rtol=1e-6)  # before a face
    assert len(maps.tap_buttons.buttons()) == model.n_taps
    maps.set_tap(2)
    assert "slot 2" in maps.tap_label.text()
    np.testing.assert_array_equal(maps.maps["tap"].data, model.weights_[0, :, :, 2])
    maps.set_face(face, RefineParams())
    wx, b = maps.maps["wx"].data, maps.maps["b"].data
    np.testing.assert_allclose(wx + b, face.output, atol=1e-6)
