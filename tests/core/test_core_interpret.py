"""Interpretation helpers reproduce predict/refine and agree with the exported matrices."""

from __future__ import annotations

import numpy as np
import pytest
from core_reference import assert_one_line, naive_window

from fesgui.core import (
    MaskedRegression,
    PixelKernelRegression,
    PixelRegression,
    alpha_map,
    refine,
    to_csr,
)
from fesgui.core.interpret import importance, pixel_arithmetic, tap_map, transfer_curve
from fesgui.errors import FesguiError


@pytest.fixture(scope="module")
def mr(rgb_pairs):
    return MaskedRegression(size=3, dilation=2, color="per-channel").fit(*rgb_pairs)


def test_pixel_arithmetic_reproduces_predict_and_refine(mr, rgb_pairs):
    x = rgb_pairs[0][4]
    y = mr.predict(x)
    alpha = alpha_map(mr, dilation_radius=1, blur_sigma=1.0)
    refined = refine(x, y, alpha)
    rng = np.random.default_rng(0)
    pixels = [(0, 0), (8, 10), (0, 10)] + [tuple(p) for p in rng.integers(0, [9, 11], (6, 2))]
    for i, j in pixels:
        c = int(rng.integers(0, 3))
        pa = pixel_arithmetic(mr, x, i, j, channel=c, alpha=alpha)
        assert pa.output == pytest.approx(float(y[i, j, c]), abs=1e-5)
        assert pa.wx + pa.bias == pytest.approx(pa.output, abs=1e-12)
        np.testing.assert_allclose(pa.patch.ravel(), naive_window(x[..., c], i, j, 3, 2))
        assert pa.input_value == pytest.approx(float(x[i, j, c]))
        assert pa.refined == pytest.approx(float(refined[i, j, c]), abs=1e-5)
        assert pa.alpha == pytest.approx(float(alpha[i, j]))
    corner = pixel_arithmetic(mr, x, 0, 0)
    assert corner.patch[0, 0] == 0 and corner.weights[0, 0] == 0 and corner.alpha is None


def test_pixel_arithmetic_for_pixel_kr(rgb_pairs):
    X, T = rgb_pairs
    kr = PixelKernelRegression(sigma=0.3).fit(X, T)
    x = np.round(X[0] * 255) / 255
    pa = pixel_arithmetic(kr, x, 3, 4, channel=1)
    assert pa.output == pytest.approx(float(kr.predict(x)[3, 4, 1]), abs=1e-6)
    assert pa.wx + pa.bias == pytest.approx(pa.output, abs=1e-9)


def test_importance_against_csr_parts(mr, rgb_pairs):
    x = rgb_pairs[0][5]
    mats = to_csr(mr)
    D = 9 * 11
    wx = np.stack([(m[:, :D] @ x[..., c].ravel().astype(np.float64)) for c, m in enumerate(mats)],
                  axis=-1)
    b = np.stack([m[:, D].toarray().ravel() for m in mats], axis=-1)
    got_wx, got_b = importance(mr, x)
    assert got_wx == pytest.approx(np.abs(wx).mean(), rel=1e-5)
    assert got_b == pytest.approx(np.abs(b).mean(), rel=1e-5)


def test_tap_map_against_csr_entries(mr):
    (m_r, m_g, _) = to_csr(mr)
    H, W = mr.image_size
    for tap, (dy, dx) in enumerate(mr.taps()):
        by_index = tap_map(mr, tap, channel=1)
        np.testing.assert_array_equal(by_index, tap_map(mr, (int(dy), int(dx)), channel=1))
        for i in range(H):
            for j in range(W):
                inside = 0 <= i + dy < H and 0 <= j + dx < W
                expected = m_g[i * W + j, (i + dy) * W + j + dx] if inside else 0.0
                assert by_index[i, j] == pytest.approx(expected)
    assert tap_map(mr, 4).shape == (H, W)
    for bad in (9, (1, 1)):
        with pytest.raises(FesguiError) as exc:
            tap_map(mr, bad)
        assert_one_line(exc)


def test_transfer_curves(mr, rgb_pairs):
    X, T = rgb_pairs
    levels, values = transfer_curve(mr, 4, 5, channel=2, x=X[0])
    assert levels.shape == values.shape == (256,)
    level = int(round(float(X[0, 4, 5, 2]) * 255))
    x_q = X[0].copy()
    x_q[4, 5, 2] = level / 255
    assert values[level] == pytest.approx(float(mr.predict(x_q)[4, 5, 2]), abs=1e-5)
    rr = PixelRegression().fit(X, T)
    _, line = transfer_curve(rr, 2, 3)
    w, b = rr.receptive_field(2, 3)
    np.testing.assert_allclose(line, w[0, 0] * np.arange(256) / 255 + b, atol=1e-6)
    kr = PixelKernelRegression(sigma=0.3).fit(X, T)
    np.testing.assert_array_equal(transfer_curve(kr, 1, 2)[1], kr.table_[0, 1, 2])


def test_interpret_errors_are_one_line(mr, rgb_pairs):
    x = rgb_pairs[0][0]
    for call in (lambda: pixel_arithmetic(mr, x, 9, 0),
                 lambda: pixel_arithmetic(mr, x[:5], 0, 0),
                 lambda: pixel_arithmetic(mr, x, 0, 0, channel=3),
                 lambda: importance(mr, rgb_pairs[0][:2])):
        with pytest.raises(FesguiError) as exc:
            call()
        assert_one_line(exc)
