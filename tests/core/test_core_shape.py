"""The shape field (fesgui.core.shape), the change fit (fit_change) and model files that
carry a field."""

from __future__ import annotations

import numpy as np
import pytest

from fesgui.core import (
    MaskedRegression,
    PixelKernelRegression,
    PixelRegression,
    fit_change,
    load_model,
    read_meta,
)
from fesgui.core.shape import (
    check_field,
    ellipse_ring,
    field_stats,
    fit_mean_field,
    interpolate_field,
    mean_backward_vectors,
)
from fesgui.errors import FesguiError


def _points(n=40, seed=0, size=32):
    rng = np.random.default_rng(seed)
    return rng.uniform(4, size - 4, (n, 2))


def test_affine_motion_is_reproduced_exactly_everywhere():
    # a thin-plate spline reproduces affine functions exactly: an independent check of the
    # interpolation (no anchors, no smoothing, no mask)
    pts = _points()
    a = np.array([[0.05, -0.02], [0.03, 0.04]])
    c = np.array([1.5, -0.75])
    vec = pts @ a.T + c
    field = interpolate_field(pts, vec, (32, 40), np.zeros((0, 2)), np.ones((32, 40)),
                              smoothing=0.0)
    yy, xx = np.mgrid[0:32, 0:40]
    grid = np.stack([xx, yy], axis=-1).astype(np.float64)
    np.testing.assert_allclose(field, grid @ a.T + c, atol=1e-4)


def test_mask_zero_means_no_motion_and_anchors_hold_still():
    pts = _points()
    vec = np.tile([2.0, -1.0], (len(pts), 1))
    mask = np.zeros((32, 32))
    mask[8:24, 8:24] = 1.0
    ring = ellipse_ring((16.0, 16.0), (20.0, 20.0), 1.0)
    field = interpolate_field(pts, vec, (32, 32), ring, mask, smoothing=0.0)
    assert np.all(field[mask == 0] == 0)
    assert np.abs(field[16, 16] - [2.0, -1.0]).max() < 0.5
    assert field.dtype == np.float32 and not field.flags.writeable


def test_mean_field_fetches_from_where_the_points_came():
    # every target point moved by +d from its source: the backward field is -d
    rng = np.random.default_rng(1)
    src = rng.uniform(6, 26, (5, 30, 2))
    d = np.array([1.0, -0.5])
    tgt = src + d
    points, vectors = mean_backward_vectors(src, tgt)
    np.testing.assert_allclose(points, tgt.mean(axis=0))
    np.testing.assert_allclose(vectors, np.tile(-d, (30, 1)))
    field = fit_mean_field(src, tgt, (32, 32), np.ones((32, 32)), np.zeros((0, 2)), 0.0)
    np.testing.assert_allclose(field[16, 16], -d, atol=1e-4)


def test_bad_fields_and_points_are_refused_with_one_line():
    with pytest.raises(FesguiError, match="H, W, 2"):
        check_field(np.zeros((4, 4)))
    with pytest.raises(FesguiError, match="NaN"):
        check_field(np.full((4, 4, 2), np.nan))
    with pytest.raises(FesguiError, match="crop size"):
        check_field(np.zeros((4, 4, 2)), (5, 4))
    with pytest.raises(FesguiError, match="N, M, 2"):
        mean_backward_vectors(np.zeros((2, 3, 2)), np.zeros((2, 4, 2)))
    assert field_stats(np.zeros((3, 3, 2), np.float32)) == {"max_px": 0.0, "mean_px": 0.0}


@pytest.mark.parametrize("make", [
    lambda: MaskedRegression(size=3, lam=0.7),
    lambda: MaskedRegression(size=5, dilation=2, lam=0.7, color="per-channel"),
    lambda: PixelRegression(lam=0.7),
    lambda: PixelKernelRegression(sigma=0.5, lam=0.7),
], ids=["mr3", "mr5-per-channel", "pixel-rr", "pixel-kr"])
def test_fit_change_is_the_change_model_plus_the_input(make, rgb_pairs):
    X, T = rgb_pairs
    model = fit_change(make(), X, T)
    change = make().fit(X, T - X)       # independent: the model of T - X, input added here
    expected = change.predict(X[:3]) + X[:3]
    tol = 1 / 255 if model.method == "pixel-kr" else 1e-5   # KR: the 8-bit identity table
    np.testing.assert_allclose(model.predict(X[:3]), expected, atol=tol)


def test_strong_ridge_on_the_change_keeps_the_input(rgb_pairs):
    X, T = rgb_pairs
    model = fit_change(MaskedRegression(size=3, lam=1e9), X, T)
    np.testing.assert_allclose(model.predict(X[:2]), X[:2], atol=1e-5)
    plain = MaskedRegression(size=3, lam=1e9).fit(X, T)
    assert np.abs(plain.predict(X[:2])).max() < 1e-3   # the paper's prior: zero output


@pytest.mark.parametrize("compact", [False, True])
def test_shape_field_round_trips_through_the_file(tmp_path, rgb_pairs, compact):
    X, T = rgb_pairs
    model = MaskedRegression(size=3, lam=0.5).fit(X, T)
    h, w = model.image_size
    field = np.random.default_rng(0).normal(0, 1.5, (h, w, 2)).astype(np.float32)
    model.set_shape(field, {"kind": "test"})
    model.set_provenance(alignment="eyes-mouth")
    path = model.save(tmp_path / "m.npz", compact=compact)
    back = load_model(path)
    tol = 2e-3 * 4 if compact else 0
    np.testing.assert_allclose(back.shape_field_, field, atol=tol)
    meta = read_meta(path)
    assert meta["format_version"] == 2 and meta["alignment"] == "eyes-mouth"
    assert meta["shape"]["kind"] == "test" and meta["shape"]["max_px"] > 0
    # saving again gives the same bytes (deterministic files)
    again = back.save(tmp_path / "again.npz", compact=compact)
    if compact:
        assert again.read_bytes() == path.read_bytes()


def test_a_model_without_a_field_moves_nothing_and_has_no_shape_meta(tmp_path, rgb_pairs):
    X, T = rgb_pairs
    path = MaskedRegression(size=3, lam=0.5).fit(X, T).save(tmp_path / "m.npz")
    assert load_model(path).shape_field_ is None
    assert read_meta(path)["shape"] is None


def test_a_field_of_the_wrong_size_is_refused(rgb_pairs):
    X, T = rgb_pairs
    model = MaskedRegression(size=3, lam=0.5).fit(X, T)
    with pytest.raises(FesguiError, match="crop size"):
        model.set_shape(np.zeros((3, 3, 2), np.float32))
