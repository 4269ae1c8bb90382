"""MaskedRegression / PixelRegression against independent dense and sklearn solutions."""

from __future__ import annotations

import numpy as np
import pytest
from core_reference import (
    assert_one_line,
    design_matrix,
    naive_fit,
    naive_predict,
    reference_sets,
)
from sklearn.linear_model import Ridge

import fesgui.core.masked as masked_mod
from fesgui.core import MaskedRegression, PixelRegression
from fesgui.errors import FesguiError

LAM = 0.4
GEOMETRIES = [(1, 1), (3, 1), (3, 2), (5, 1), (5, 2)]


@pytest.mark.parametrize("size,dilation", GEOMETRIES)
@pytest.mark.parametrize("color", ["shared", "per-channel", "gray"])
def test_fit_matches_dense_per_pixel_solve_rgb(rgb_pairs, size, dilation, color):
    X, T = rgb_pairs
    model = MaskedRegression(size=size, dilation=dilation, lam=LAM, color=color).fit(X, T)
    w_ref, b_ref = naive_fit(X, T, size, dilation, LAM, color)
    assert model.weights_.shape == w_ref.shape == (3 if color == "per-channel" else 1, 9, 11,
                                                   size * size)
    assert model.weights_.dtype == np.float32 and model.bias_.dtype == np.float32
    np.testing.assert_allclose(model.weights_, w_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.bias_, b_ref, rtol=0, atol=1e-6)
    assert model.n_channels_in_ == 3 and model.image_size == (9, 11)


@pytest.mark.parametrize("size,dilation", [(1, 1), (3, 1), (3, 2), (5, 1)])
@pytest.mark.parametrize("color", ["shared", "per-channel", "gray"])
def test_fit_matches_dense_per_pixel_solve_gray(gray_pairs, size, dilation, color):
    X, T = gray_pairs
    model = MaskedRegression(size=size, dilation=dilation, lam=LAM, color=color).fit(X, T)
    w_ref, b_ref = naive_fit(X, T, size, dilation, LAM, color)
    assert model.weights_.shape[0] == 1 and model.n_channels_in_ == 1
    np.testing.assert_allclose(model.weights_, w_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.bias_, b_ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("size,dilation,color", [(3, 1, "shared"), (5, 2, "per-channel"),
                                                 (3, 2, "gray"), (1, 1, "shared")])
def test_fit_matches_sklearn_ridge_with_regularised_bias(rgb_pairs, size, dilation, color):
    X, T = rgb_pairs
    model = MaskedRegression(size=size, dilation=dilation, lam=LAM, color=color).fit(X, T)
    sets = reference_sets(X, T, color)
    pixels = [(0, 0), (0, 10), (8, 0), (8, 10), (4, 5), (1, 9)]  # corners, centre, edge
    for k, (S, Tk) in enumerate(sets):
        for i, j in pixels:
            F = design_matrix(S, i, j, size, dilation)  # last column: constant 1
            ridge = Ridge(alpha=LAM, fit_intercept=False, solver="svd").fit(F, Tk[:, i, j])
            np.testing.assert_allclose(model.weights_[k, i, j], ridge.coef_[:-1], atol=1e-6)
            np.testing.assert_allclose(model.bias_[k, i, j], ridge.coef_[-1], atol=1e-6)


@pytest.mark.parametrize("size,dilation", [(3, 1), (5, 2)])
def test_taps_outside_the_image_are_exactly_zero(rgb_pairs, size, dilation):
    X, T = rgb_pairs
    model = MaskedRegression(size=size, dilation=dilation, color="per-channel").fit(X, T)
    H, W = model.image_size
    taps = model.taps()
    outside_count = 0
    for i in range(H):
        for j in range(W):
            for t, (dy, dx) in enumerate(taps):
                if not (0 <= i + dy < H and 0 <= j + dx < W):
                    assert np.all(model.weights_[:, i, j, t] == 0.0)
                    outside_count += 1
                else:  # random data: inside taps are not zero
                    assert np.all(model.weights_[:, i, j, t] != 0.0)
    assert outside_count > 0


@pytest.mark.parametrize("size,dilation,color", [(3, 1, "shared"), (3, 2, "per-channel"),
                                                 (5, 1, "gray"), (1, 1, "per-channel")])
def test_predict_matches_naive_gather(rgb_pairs, size, dilation, color):
    X, T = rgb_pairs
    model = MaskedRegression(size=size, dilation=dilation, color=color).fit(X, T)
    rng = np.random.default_rng(3)
    x = rng.random((9, 11, 3)).astype(np.float32)
    ref = naive_predict(model.weights_.astype(np.float64), model.bias_.astype(np.float64), x,
                        size, dilation)
    y = model.predict(x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, ref, atol=1e-5)  # float32 accumulation of <= 26 terms
    batch = model.predict(X[:3])
    assert batch.shape == X[:3].shape
    for n in range(3):
        np.testing.assert_allclose(batch[n], naive_predict(
            model.weights_.astype(np.float64), model.bias_.astype(np.float64), X[n], size,
            dilation), atol=1e-5)
    # the reused buffers must not leak one call's input into the next
    np.testing.assert_array_equal(model.predict(x), y)


@pytest.mark.parametrize("size", [1, 3])
def test_predict_gray_input_with_shared_rgb_model_and_gray_model(rgb_pairs, gray_pairs, size):
    X, T = rgb_pairs
    model = MaskedRegression(size=size, color="shared").fit(X, T)
    g = gray_pairs[0][0]
    ref = naive_predict(model.weights_.astype(np.float64), model.bias_.astype(np.float64), g,
                        size, 1)
    np.testing.assert_allclose(model.predict(g), ref, atol=1e-5)
    np.testing.assert_allclose(model.predict(gray_pairs[0][:2])[1], naive_predict(
        model.weights_.astype(np.float64), model.bias_.astype(np.float64), gray_pairs[0][1],
        size, 1), atol=1e-5)
    gm = MaskedRegression(size=size).fit(*gray_pairs)
    x = X[0]
    ref = naive_predict(gm.weights_.astype(np.float64), gm.bias_.astype(np.float64), x, size, 1)
    np.testing.assert_allclose(gm.predict(x), ref, atol=1e-5)


def test_uint8_input_is_read_as_levels(rgb_pairs):
    X, T = rgb_pairs
    model = MaskedRegression(size=3).fit(X, T)
    x8 = (X[0] * 255).round().astype(np.uint8)
    np.testing.assert_allclose(model.predict(x8), model.predict(x8 / np.float32(255)), atol=1e-6)


def test_blocked_fit_equals_single_block(rgb_pairs, monkeypatch):
    X, T = rgb_pairs
    whole = MaskedRegression(size=5, dilation=2).fit(X, T)
    monkeypatch.setattr(masked_mod, "_BLOCK_BYTES", 1)  # one image row per block
    rows = MaskedRegression(size=5, dilation=2).fit(X, T)
    np.testing.assert_allclose(rows.weights_, whole.weights_, atol=1e-7)
    np.testing.assert_allclose(rows.bias_, whole.bias_, atol=1e-7)


def test_pixel_regression_is_mr_of_size_one(rgb_pairs):
    X, T = rgb_pairs
    rr = PixelRegression(lam=0.7, color="per-channel").fit(X, T)
    w_ref, b_ref = naive_fit(X, T, 1, 1, 0.7, "per-channel")
    np.testing.assert_allclose(rr.weights_, w_ref, atol=1e-6)
    np.testing.assert_allclose(rr.bias_, b_ref, atol=1e-6)
    assert rr.meta["method"] == "pixel-rr" and rr.meta["size"] == 1


def test_receptive_field_decompose_and_taps(rgb_pairs):
    X, T = rgb_pairs
    model = MaskedRegression(size=3, dilation=2, color="per-channel").fit(X, T)
    assert model.taps().tolist() == [[-2, -2], [-2, 0], [-2, 2], [0, -2], [0, 0], [0, 2],
                                     [2, -2], [2, 0], [2, 2]]
    w, b = model.receptive_field(4, 5, channel=2)
    assert w.shape == (3, 3) and w.dtype == np.float32
    np.testing.assert_array_equal(w.ravel(), model.weights_[2, 4, 5])
    assert b == pytest.approx(float(model.bias_[2, 4, 5]))
    wx, bias = model.decompose(X[1])
    np.testing.assert_allclose(wx + bias, model.predict(X[1]), atol=1e-6)
    # the bias part is the prediction for a black image
    np.testing.assert_allclose(bias, model.predict(np.zeros_like(X[1])), atol=1e-7)


def test_meta_contract_and_settable_keys(rgb_pairs):
    X, T = rgb_pairs
    model = MaskedRegression(size=5, dilation=2, lam=0.3, color="gray").fit(X, T)
    model.set_provenance(name="Happy MR5")
    model.set_provenance(source="neutral", target="happy", metrics={"mse": 0.01})
    meta = model.meta
    assert {k: meta[k] for k in ("method", "size", "dilation", "lam", "sigma", "color",
                                 "image_size", "format_version")} == {
        "method": "mr", "size": 5, "dilation": 2, "lam": 0.3, "sigma": None,
        "color": "gray", "image_size": [9, 11], "format_version": 1}
    assert (meta["name"], meta["source"], meta["target"]) == ("Happy MR5", "neutral", "happy")
    assert meta["metrics"] == {"mse": 0.01} and meta["training_data"] is None
    with pytest.raises(TypeError):  # a read-only snapshot: no write goes through
        model.meta["size"] = 7
    meta["metrics"]["mse"] = 1.0  # a copy: the model's provenance is untouched
    assert model.provenance.metrics == {"mse": 0.01} and model.meta["metrics"] == {"mse": 0.01}
    with pytest.raises(FesguiError) as exc:
        model.set_provenance(size=7)
    assert_one_line(exc)


@pytest.mark.parametrize("kwargs,needle", [
    ({"size": 4}, "size=4 must be odd"),
    ({"size": 0}, "size=0"),
    ({"size": 2.5}, "size=2.5"),
    ({"dilation": 0}, "dilation=0"),
    ({"lam": -1.0}, "lam=-1.0"),
    ({"lam": float("nan")}, "lam=nan"),
    ({"color": "rgb"}, "color='rgb'"),
])
def test_bad_parameters_fail_in_fit_with_one_line(rgb_pairs, kwargs, needle):
    X, T = rgb_pairs
    model = MaskedRegression(**kwargs)  # __init__ only stores
    with pytest.raises(FesguiError, match=needle) as exc:
        model.fit(X, T)
    assert_one_line(exc)


def test_bad_data_and_usage_fail_with_one_line(rgb_pairs):
    X, T = rgb_pairs
    cases = [
        lambda: MaskedRegression().predict(X[0]),  # not fitted
        lambda: MaskedRegression().fit(X, T[:3]),
        lambda: MaskedRegression().fit(X[..., :2], T[..., :2]),
        lambda: MaskedRegression().fit(X[0, ..., 0], T[0, ..., 0]),
        lambda: MaskedRegression().fit(np.full_like(X, np.nan), T),
        lambda: MaskedRegression().fit(X.astype(str), T),
    ]
    for case in cases:
        with pytest.raises(FesguiError) as exc:
            case()
        assert_one_line(exc)
    with pytest.raises(FesguiError, match="not fitted"):
        MaskedRegression().predict(X[0])
    model = MaskedRegression(color="per-channel").fit(X, T)
    for bad in (X[0, :8], X[0, ..., 0], np.zeros((9, 11, 4))):
        with pytest.raises(FesguiError) as exc:
            model.predict(bad)
        assert_one_line(exc)
    with pytest.raises(FesguiError) as exc:
        model.receptive_field(9, 0)
    assert_one_line(exc)


def test_predict_from_several_threads_uses_separate_buffers(rgb_pairs):
    from concurrent.futures import ThreadPoolExecutor

    X, T = rgb_pairs
    model = MaskedRegression(size=3, dilation=2).fit(X, T)
    expected = [model.predict(x) for x in X]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(model.predict, [X[n % len(X)] for n in range(40)]))
    for n, y in enumerate(results):
        np.testing.assert_array_equal(y, expected[n % len(X)])


@pytest.mark.parametrize("shape", [(4, 3), (3, 2), (1, 5), (6, 1)])
def test_windows_wider_than_the_image(shape):
    """Taps that land beyond a narrow image (several rows away in flat order) stay 0."""
    rng = np.random.default_rng(11)
    X = rng.random((6, *shape, 3)).astype(np.float32)
    T = rng.random((6, *shape, 3)).astype(np.float32)
    model = MaskedRegression(size=5, dilation=2, color="per-channel").fit(X, T)
    w_ref, b_ref = naive_fit(X, T, 5, 2, LAM, "per-channel")
    np.testing.assert_allclose(model.weights_, w_ref, atol=1e-6)
    ref = naive_predict(w_ref, b_ref, X[0], 5, 2)
    np.testing.assert_allclose(model.predict(X[0]), ref, atol=1e-5)


def test_solve_batched_is_a_plain_solve_whatever_the_blas_threads():
    """Fits solve their many small systems with BLAS held to one thread: the answer is
    numpy's solve, and it does not depend on how many threads BLAS was allowed outside
    (with two OpenBLAS threads, 26 x 26 systems round differently)."""
    from threadpoolctl import threadpool_limits

    from fesgui.core.base import solve_batched

    rng = np.random.default_rng(4)
    F = rng.random((512, 60, 26))
    A = np.einsum("nki,nkj->nij", F, F) + 0.4 * np.eye(26)
    b = rng.random((512, 26, 1))
    with threadpool_limits(limits=1, user_api="blas"):
        one = np.linalg.solve(A, b)
    with threadpool_limits(limits=2, user_api="blas"):
        two = solve_batched(A, b)
    np.testing.assert_array_equal(two, one)
    np.testing.assert_allclose(np.einsum("nij,njk->nik", A, two), b, atol=1e-9)
