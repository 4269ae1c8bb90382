"""MR predict's banded DIA paths against explicit per-pixel window gathers.

``MaskedRegression.predict`` reads an (H, W, 3) image as one flat interleaved vector, splits
the output into bands of ``_BAND`` values and applies each band's slice of the diagonals
with scipy's ``dia_matvec`` kernel (or the public ``dia_matrix @`` product as a fallback).
A shared weight set whose interleaved diagonals would exceed ``_INTERLEAVED_MAX_BYTES`` is
applied plane by plane instead, in bands of ``_PLANAR_BAND`` pixels: the ``path`` fixture
runs the tests through both.
Every case here is checked against ``naive_predict`` (tests/core/core_reference.py), which
gathers each pixel's window one by one in float64 and shares none of those tricks.
"""

from __future__ import annotations

import numpy as np
import pytest
from core_reference import naive_predict

import fesgui.core.masked as masked_mod
from fesgui.core import MaskedRegression

ATOL = 1e-5  # float32 accumulation of <= 26 terms of size <= ~1


def _pairs(shape: tuple[int, ...], n: int = 6, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, *shape)).astype(np.float32)
    T = np.clip(0.5 * X + 0.4 * rng.random(X.shape), 0, 1).astype(np.float32)
    return X, T


@pytest.fixture(params=["interleaved", "planar"])
def path(request, monkeypatch) -> str:
    """Which predict path shared RGB models take (per-channel and gray ones: interleaved)."""
    limit = 2**62 if request.param == "interleaved" else 0
    monkeypatch.setattr(masked_mod, "_INTERLEAVED_MAX_BYTES", limit)
    return request.param


def _set_band(monkeypatch, band: int | None) -> None:
    """Bands of ``band`` values (interleaved) and ``band`` pixels (planar)."""
    if band is not None:
        monkeypatch.setattr(masked_mod, "_BAND", band)
        monkeypatch.setattr(masked_mod, "_PLANAR_BAND", band)


def _reference(model: MaskedRegression, x: np.ndarray) -> np.ndarray:
    return naive_predict(model.weights_.astype(np.float64), model.bias_.astype(np.float64), x,
                         int(model.size), int(model.dilation))


# band lengths: one band for the whole image, bands that cut through pixels and rows
# (7 values: not a multiple of 3 or of a row), and one output value per band
@pytest.mark.parametrize("band", [None, 7, 1])
@pytest.mark.parametrize("color", ["shared", "per-channel", "gray"])
@pytest.mark.parametrize("size,dilation", [(3, 1), (3, 2), (5, 2)])
def test_rgb_predict_matches_gather_for_any_band_length(monkeypatch, path, band, color, size,
                                                        dilation):
    _set_band(monkeypatch, band)
    X, T = _pairs((6, 7, 3))
    model = MaskedRegression(size=size, dilation=dilation, color=color).fit(X, T)
    y = model.predict(X[0])
    assert y.shape == (6, 7, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y, _reference(model, X[0]), atol=ATOL)


@pytest.mark.parametrize("band", [None, 5])
@pytest.mark.parametrize("shape", [(7, 1), (1, 6), (1, 1), (2, 9)])
@pytest.mark.parametrize("color", ["shared", "per-channel"])
def test_one_pixel_wide_and_tiny_images(monkeypatch, path, band, shape, color):
    """On narrow images the interleaved offsets of different taps coincide or exceed the
    image; the taps outside it have weight 0 and must contribute nothing."""
    _set_band(monkeypatch, band)
    X, T = _pairs((*shape, 3), seed=9)
    model = MaskedRegression(size=5, dilation=2, color=color).fit(X, T)
    for x in X[:2]:
        np.testing.assert_allclose(model.predict(x), _reference(model, x), atol=ATOL)


def test_per_channel_sets_are_interleaved_not_mixed():
    """Each channel of the output must use its own weight set: swapping two sets of a
    per-channel model swaps exactly those output channels."""
    X, T = _pairs((5, 6, 3), seed=2)
    model = MaskedRegression(size=3, color="per-channel").fit(X, T)
    y = model.predict(X[1])
    np.testing.assert_allclose(y, _reference(model, X[1]), atol=ATOL)
    perm = [2, 0, 1]
    swapped = MaskedRegression(size=3, color="per-channel")
    swapped._set_linear_state(model.weights_[perm], model.bias_[perm], 3)
    # output channel c of the swapped model = set perm[c] applied to input channel c
    ys = swapped.predict(X[1])
    np.testing.assert_allclose(ys, _reference(swapped, X[1]), atol=ATOL)
    assert not np.allclose(ys, y, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_input_dtypes_and_non_contiguous_input(path, dtype):
    X, T = _pairs((6, 8, 3), seed=4)
    color = "per-channel" if path == "interleaved" else "shared"
    model = MaskedRegression(size=3, dilation=2, color=color).fit(X, T)
    if dtype == np.uint8:
        x = (X[0] * 255).round().astype(np.uint8)
        levels = x.astype(np.float64) / 255
    else:
        x = X[0].astype(dtype)
        levels = x.astype(np.float64)
    y = model.predict(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, _reference(model, levels), atol=ATOL)
    # a strided view (every other column of a wider image) and a Fortran-ordered copy
    wide = np.repeat(x, 2, axis=1)[:, ::2]
    assert not wide.flags.c_contiguous
    np.testing.assert_allclose(model.predict(wide), y, atol=1e-6)
    np.testing.assert_allclose(model.predict(np.asfortranarray(x)), y, atol=1e-6)


@pytest.mark.parametrize("band", [None, 11])
def test_batches_rgb_and_gray(monkeypatch, path, band):
    _set_band(monkeypatch, band)
    X, T = _pairs((6, 7, 3), n=5, seed=6)
    model = MaskedRegression(size=3, dilation=1, color="shared").fit(X, T)
    batch = model.predict(X)
    assert batch.shape == X.shape
    for n in range(len(X)):
        np.testing.assert_allclose(batch[n], _reference(model, X[n]), atol=ATOL)
    G = X.mean(axis=-1)  # a shared RGB model also takes gray images (one channel)
    gb = model.predict(G)
    assert gb.shape == G.shape
    for n in range(len(G)):
        np.testing.assert_allclose(gb[n], _reference(model, G[n]), atol=ATOL)
    # a batch and single images agree, and the output holds no state from earlier calls
    np.testing.assert_array_equal(model.predict(X[2]), batch[2])


@pytest.mark.parametrize("color", ["per-channel", "shared"])
def test_public_product_fallback_gives_the_same_output(monkeypatch, path, color):
    """Without the private sparsetools kernel, predict uses ``dia_matrix @ x``."""
    X, T = _pairs((6, 7, 3), seed=8)
    model = MaskedRegression(size=5, dilation=1, color=color).fit(X, T)
    fast = model.predict(X[0])
    calls = []

    def broken_kernel(*args):
        calls.append(len(args))
        raise TypeError("dia_matvec() takes different arguments")

    monkeypatch.setattr(masked_mod, "_dia_matvec_kernel", broken_kernel)
    slow = model.predict(X[0])
    assert calls  # the kernel was tried, failed, and the fallback took over
    assert masked_mod._dia_matvec_kernel is None
    np.testing.assert_allclose(slow, _reference(model, X[0]), atol=ATOL)
    np.testing.assert_allclose(slow, fast, atol=1e-6)


def test_the_planar_path_is_taken_only_for_large_shared_models(monkeypatch):
    """The switch reads the size of the interleaved diagonals: 3 H W taps float32."""
    X, T = _pairs((6, 7, 3), seed=3)
    shared = MaskedRegression(size=3, color="shared").fit(X, T)
    per_channel = MaskedRegression(size=3, color="per-channel").fit(X, T)
    used: list[str] = []
    original = MaskedRegression._predict_planar

    def spy(self, batch, result):
        used.append(self.color)
        return original(self, batch, result)

    monkeypatch.setattr(MaskedRegression, "_predict_planar", spy)
    size = 3 * 6 * 7 * 9 * 4
    monkeypatch.setattr(masked_mod, "_INTERLEAVED_MAX_BYTES", size)
    shared.predict(X[0])
    assert used == []
    monkeypatch.setattr(masked_mod, "_INTERLEAVED_MAX_BYTES", size - 1)
    y = shared.predict(X[0])
    per_channel.predict(X[0])
    shared.predict(X[0].mean(axis=-1))  # grey input: one plane, nothing to gather
    assert used == ["shared"]
    np.testing.assert_allclose(y, _reference(shared, X[0]), atol=ATOL)
