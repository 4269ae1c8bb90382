"""Pixel-KR against scikit-learn's KernelRidge, table look-up against direct evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from core_reference import assert_one_line, reference_sets
from sklearn.kernel_ridge import KernelRidge

import fesgui.core.pixel as pixel_mod
from fesgui.core import PixelKernelRegression
from fesgui.errors import FesguiError

LEVELS = np.arange(256) / 255.0


@pytest.mark.parametrize("color", ["shared", "per-channel", "gray"])
@pytest.mark.parametrize("sigma", [0.15, 3.0])
@pytest.mark.parametrize("eight_bit", [False, True])
def test_table_matches_sklearn_kernel_ridge(rgb_pairs, color, sigma, eight_bit):
    X, T = rgb_pairs
    if eight_bit:  # data from 8-bit images take the level-lookup route
        X = np.round(X * 255) / 255
        assert pixel_mod.snap_to_levels(X.astype(np.float64))[1] is not None
    lam = 0.4
    model = PixelKernelRegression(sigma=sigma, lam=lam, color=color).fit(X, T)
    K = 3 if color == "per-channel" else 1
    assert model.table_.shape == (K, 9, 11, 256) and model.table_.dtype == np.float32
    for k, (S, Tk) in enumerate(reference_sets(X, T, color)):
        for i, j in [(0, 0), (8, 10), (3, 7)]:
            kr = KernelRidge(kernel="rbf", gamma=1 / (2 * sigma**2), alpha=lam)
            kr.fit(S[:, i, j, None], Tk[:, i, j])
            np.testing.assert_allclose(model.table_[k, i, j], kr.predict(LEVELS[:, None]),
                                       rtol=1e-5, atol=1e-6)  # table is float32


def test_predict_direct_matches_sklearn_on_arbitrary_inputs(rgb_pairs):
    X, T = rgb_pairs
    model = PixelKernelRegression(sigma=0.2, lam=0.4, color="per-channel").fit(X, T)
    x = np.random.default_rng(1).random((9, 11, 3))
    direct = model.predict_direct(x)
    for c in range(3):
        for i, j in [(0, 0), (5, 5), (8, 10)]:
            kr = KernelRidge(kernel="rbf", gamma=1 / (2 * 0.2**2), alpha=0.4)
            kr.fit(X[:, i, j, c, None].astype(np.float64), T[:, i, j, c].astype(np.float64))
            assert direct[i, j, c] == pytest.approx(kr.predict([[x[i, j, c]]])[0], abs=1e-6)


@pytest.mark.parametrize("color", ["shared", "per-channel"])
@pytest.mark.parametrize("eight_bit", [False, True])
def test_table_lookup_equals_direct_evaluation_at_8bit_inputs(rgb_pairs, color, eight_bit):
    X, T = rgb_pairs
    if eight_bit:
        X = (np.round(X * 255) / 255).astype(np.float32)  # float32 levels, snapped in fit
    model = PixelKernelRegression(sigma=0.3, lam=0.4, color=color).fit(X, T)
    x8 = np.random.default_rng(2).integers(0, 256, (4, 9, 11, 3)) / 255.0
    np.testing.assert_allclose(model.predict(x8), model.predict_direct(x8), atol=1e-6)
    np.testing.assert_allclose(model.predict(x8[0]), model.predict_direct(x8[0]), atol=1e-6)
    # rounding: anything within half a level reads the same table entry
    np.testing.assert_array_equal(model.predict(x8 + 0.49 / 255), model.predict(x8))
    assert model.predict(x8).dtype == np.float32


def test_gray_input_and_clipping(gray_pairs):
    X, T = gray_pairs
    model = PixelKernelRegression(sigma=0.5).fit(X, T)
    x = np.random.default_rng(3).integers(0, 256, (9, 11)) / 255.0
    np.testing.assert_allclose(model.predict(x), model.predict_direct(x), atol=1e-6)
    # out-of-range inputs are clipped to the end levels
    np.testing.assert_array_equal(model.predict(np.full((9, 11), 1.7)),
                                  model.table_[0, ..., 255])
    np.testing.assert_array_equal(model.predict(np.full((9, 11), -0.2)), model.table_[0, ..., 0])


def test_blocked_fit_equals_single_block(rgb_pairs, monkeypatch):
    X, T = rgb_pairs
    whole = PixelKernelRegression(sigma=0.3).fit(X, T)
    monkeypatch.setattr(pixel_mod, "_BLOCK_BYTES", 1)  # one pixel per block
    one = PixelKernelRegression(sigma=0.3).fit(X, T)
    np.testing.assert_allclose(one.table_, whole.table_, atol=1e-7)


def test_linear_summary_is_the_least_squares_line(rgb_pairs):
    X, T = rgb_pairs
    model = PixelKernelRegression(sigma=0.3, color="per-channel").fit(X, T)
    assert model.weights_.shape == (3, 9, 11, 1) and model.bias_.shape == (3, 9, 11)
    for k, i, j in [(0, 0, 0), (2, 8, 10), (1, 4, 3)]:
        slope, intercept = np.polyfit(LEVELS, model.table_[k, i, j].astype(np.float64), 1)
        assert model.weights_[k, i, j, 0] == pytest.approx(slope, abs=1e-5)
        assert model.bias_[k, i, j] == pytest.approx(intercept, abs=1e-5)
    wx, b = model.decompose(X[0])
    np.testing.assert_allclose(wx + b, model.predict(X[0]), atol=1e-6)
    assert model.meta["method"] == "pixel-kr" and model.meta["sigma"] == 0.3


@pytest.mark.parametrize("sigma", [0, -1.0, float("inf"), "wide"])
def test_bad_sigma(rgb_pairs, sigma):
    with pytest.raises(FesguiError, match="sigma") as exc:
        PixelKernelRegression(sigma=sigma).fit(*rgb_pairs)
    assert_one_line(exc)


def test_predict_before_fit_and_direct_after_load(rgb_pairs, tmp_path):
    from fesgui.core import load_model

    with pytest.raises(FesguiError, match="not fitted"):
        PixelKernelRegression().predict(rgb_pairs[0][0])
    model = PixelKernelRegression(sigma=0.3).fit(*rgb_pairs)
    loaded = load_model(model.save(tmp_path / "kr.npz"))
    with pytest.raises(FesguiError, match="predict_direct") as exc:
        loaded.predict_direct(rgb_pairs[0][0])
    assert_one_line(exc)
