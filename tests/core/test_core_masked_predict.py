"""MR predict's compiled kernels against explicit per-pixel window gathers.

``MaskedRegression.predict`` reads an (H, W[, 3]) image as interleaved rows and runs one of
the numba kernels in ``fesgui.core.kernels``: ``masked_shared_rgb`` for one set shared by
R, G and B, ``masked_per_value`` for grey input and per-channel sets. Every case here is
checked against ``naive_predict`` (tests/core/core_reference.py), which gathers each
pixel's window one by one in float64 with zero padding and shares none of those tricks.
"""

from __future__ import annotations

import numpy as np
import pytest
from core_reference import naive_predict

from fesgui.core import MaskedRegression, kernels
from fesgui.core.geometry import valid_tap_mask

ATOL = 1e-5  # float32 accumulation of <= 26 terms of size <= ~1


def _pairs(shape: tuple[int, ...], n: int = 6, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, *shape)).astype(np.float32)
    T = np.clip(0.5 * X + 0.4 * rng.random(X.shape), 0, 1).astype(np.float32)
    return X, T


def _reference(model: MaskedRegression, x: np.ndarray) -> np.ndarray:
    return naive_predict(model.weights_.astype(np.float64), model.bias_.astype(np.float64), x,
                         model.size_, model.dilation_)


@pytest.mark.parametrize("color", ["shared", "per-channel", "gray"])
@pytest.mark.parametrize("size,dilation", [(3, 1), (3, 2), (5, 1), (5, 2), (9, 1)])
def test_rgb_predict_matches_gather(color, size, dilation):
    X, T = _pairs((11, 13, 3))
    model = MaskedRegression(size=size, dilation=dilation, color=color).fit(X, T)
    y = model.predict(X[0])
    assert y.shape == (11, 13, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y, _reference(model, X[0]), atol=ATOL)


@pytest.mark.parametrize("shape", [(7, 1), (1, 6), (1, 1), (2, 9), (9, 2)])
@pytest.mark.parametrize("color", ["shared", "per-channel"])
def test_one_pixel_wide_and_tiny_images(shape, color):
    """On narrow images most taps (dilated 5x5: up to 4 pixels away) fall outside the
    image; they must contribute nothing and nothing may be read past a row's end."""
    X, T = _pairs((*shape, 3), seed=9)
    model = MaskedRegression(size=5, dilation=2, color=color).fit(X, T)
    for x in X[:2]:
        np.testing.assert_allclose(model.predict(x), _reference(model, x), atol=ATOL)


@pytest.mark.parametrize("color", ["shared", "per-channel"])
def test_taps_outside_the_image_are_skipped_not_multiplied_by_zero(color):
    """The kernels visit, per tap, only the output columns whose input pixel exists: with
    non-zero weights installed on the taps outside the image (which fit never produces)
    the output is still the zero-padded gather, on RGB and on grey input."""
    rng = np.random.default_rng(3)
    H, W, size = 6, 5, 5
    K = 3 if color == "per-channel" else 1
    weights = rng.standard_normal((K, H, W, size * size)).astype(np.float32)
    assert not valid_tap_mask(H, W, size).all()
    model = MaskedRegression(size=size, color=color)
    model._set_state({"weights": weights, "bias": rng.random((K, H, W))}, 3)
    x = rng.random((H, W, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), _reference(model, x), atol=ATOL)
    if K == 1:
        g = x[..., 1]
        np.testing.assert_allclose(model.predict(g), _reference(model, g), atol=ATOL)

def test_per_channel_sets_are_interleaved_not_mixed():
    """Each channel of the output must use its own weight set: swapping two sets of a
    per-channel model swaps exactly those output channels."""
    X, T = _pairs((5, 6, 3), seed=2)
    model = MaskedRegression(size=3, color="per-channel").fit(X, T)
    y = model.predict(X[1])
    np.testing.assert_allclose(y, _reference(model, X[1]), atol=ATOL)
    perm = [2, 0, 1]
    swapped = MaskedRegression(size=3, color="per-channel")
    swapped._set_state({"weights": model.weights_[perm], "bias": model.bias_[perm]}, 3)
    # output channel c of the swapped model = set perm[c] applied to input channel c
    ys = swapped.predict(X[1])
    np.testing.assert_allclose(ys, _reference(swapped, X[1]), atol=ATOL)
    assert not np.allclose(ys, y, atol=1e-3)


@pytest.mark.parametrize("color", ["shared", "per-channel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_input_dtypes_and_non_contiguous_input(color, dtype):
    X, T = _pairs((6, 8, 3), seed=4)
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


def test_batches_rgb_and_gray():
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


def test_read_only_input_and_kernels_called_directly():
    """A read-only image (a frame buffer numpy may not write) predicts the same; the
    kernels fill every output value, whatever the output array held before."""
    X, T = _pairs((6, 7, 3), seed=8)
    model = MaskedRegression(size=3, color="shared").fit(X, T)
    x = X[0].copy()
    x.flags.writeable = False
    np.testing.assert_allclose(model.predict(x), _reference(model, x), atol=ATOL)
    w, b, dy, dx = model._kernel_weights(3)
    y = np.full((1, 6, 21), np.nan, np.float32)
    kernels.masked_shared_rgb(X[:1].reshape(1, 6, 21), w, b, dy, dx, y)
    np.testing.assert_allclose(y.reshape(6, 7, 3), _reference(model, X[0]), atol=ATOL)


@pytest.mark.parametrize("color", ["shared", "per-channel", "gray"])
def test_warm_up_prepares_the_kernel_weights_and_changes_nothing(color):
    """``warm_up`` (called by the app right after loading a model) runs predict once on a
    blank RGB image, what the pipeline feeds every model: MR's kernel layout for RGB input
    is then cached, for grey-fitted models too."""
    from fesgui.errors import FesguiError

    X, T = _pairs((6, 7, 3), seed=12)
    model = MaskedRegression(size=3, color=color).fit(X if color != "gray" else X[..., 0],
                                                      T if color != "gray" else T[..., 0])
    x = X[1] if color != "gray" else X[1, ..., 0]
    assert not any(key[0] == "kernel" for key in model._cache)
    model.warm_up()
    assert [key for key in model._cache if key[0] == "kernel"] == [("kernel", 3)]
    np.testing.assert_allclose(model.predict(x), _reference(model, x), atol=ATOL)
    with pytest.raises(FesguiError, match="not fitted"):
        MaskedRegression(size=3).warm_up()


def test_kernels_work_where_numba_has_no_writable_cache(monkeypatch):
    """With no cache location (numba raises at decoration time), the kernels are
    compiled in memory instead of failing the import."""
    import importlib

    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    try:
        fresh = importlib.reload(kernels)
        assert type(fresh.masked_shared_rgb._cache).__name__ == "NullCache"
        X, T = _pairs((5, 6, 3), seed=13)
        model = MaskedRegression(size=3).fit(X, T)
        w, b, dy, dx = model._kernel_weights(3)
        y = np.empty((1, 5, 18), np.float32)
        fresh.masked_shared_rgb(X[:1].reshape(1, 5, 18), w, b, dy, dx, y)
        np.testing.assert_allclose(y.reshape(5, 6, 3), _reference(model, X[0]), atol=ATOL)
    finally:
        monkeypatch.undo()
        importlib.reload(kernels)
