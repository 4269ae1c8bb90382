"""RMR alpha maps against a step-by-step scikit-image implementation; refine/blend maths."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from core_reference import assert_one_line
from scipy.stats import zscore
from skimage.filters import gaussian
from skimage.morphology import dilation, disk

from fesgui.core import (
    MaskedRegression,
    PixelKernelRegression,
    alpha_map,
    alpha_stages,
    blend_intensity,
    default_blur_sigma,
    default_dilation_radius,
    from_csr,
    l1_map,
    refine,
    to_csr,
)
from fesgui.errors import FesguiError


def reference_alpha(model, k, tau, radius, sigma):
    """The paper's steps, one library call each; s from the exported CSR rows."""
    H, W = model.image_size
    s = np.mean([np.asarray(abs(m).sum(axis=1)).ravel() for m in to_csr(model)], axis=0)
    s = s.reshape(H, W)
    z = np.abs(zscore(s, axis=None))
    d = dilation(z, disk(radius), mode="nearest")
    d = (d - d.min()) / (d.max() - d.min())
    st = 1.0 / (1.0 + np.exp(-k * (d - tau)))
    st = (st - st.min()) / (st.max() - st.min())
    a = gaussian(st, sigma=sigma, mode="nearest", truncate=4.0, preserve_range=True)
    return {"s": s, "z": z, "dilated": d, "stepped": st, "alpha": a}


@pytest.fixture(scope="module")
def face_model():
    rng = np.random.default_rng(0)
    X = rng.random((30, 24, 20, 3)).astype(np.float32)
    T = X.copy()
    T[:, 14:19, 6:14] = 0.02 + 0.02 * rng.random((30, 5, 8, 3))  # a "mouth" that goes dark
    return MaskedRegression(size=3, color="per-channel").fit(X, T), X


@pytest.mark.parametrize("k,tau,radius,sigma", [(10, 0.2, 2, 1.5), (4, 0.5, 0, 0.8),
                                                (25, 0.1, 4, 3.0)])
def test_stages_match_step_by_step_reference(face_model, k, tau, radius, sigma):
    model, _ = face_model
    got = alpha_stages(model, k=k, tau=tau, dilation_radius=radius, blur_sigma=sigma)
    ref = reference_alpha(model, k, tau, radius, sigma)
    assert set(got) == {"s", "z", "dilated", "stepped", "alpha"}
    for name in ref:
        assert got[name].shape == (24, 20) and got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], ref[name], atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(alpha_map(model, k, tau, radius, sigma), got["alpha"])
    assert 0.0 <= got["alpha"].min() and got["alpha"].max() <= 1.0
    # the changing region is where alpha is high
    assert got["alpha"][16, 10] > 0.5 > got["alpha"][3, 3]


def test_defaults_scale_with_image_size(face_model):
    assert default_dilation_radius(128, 128) == 3 and default_dilation_radius(256, 300) == 6
    assert default_blur_sigma(128, 128) == pytest.approx(2.56)
    assert default_blur_sigma(8, 8) == 0.5 and default_dilation_radius(8, 8) == 1
    model, _ = face_model
    got = alpha_map(model)
    ref = reference_alpha(model, 10, 0.2, default_dilation_radius(24, 20),
                          default_blur_sigma(24, 20))["alpha"]
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_l1_map_includes_bias_and_averages_weight_sets(face_model):
    model, _ = face_model
    i, j = 5, 7
    expected = np.mean([np.abs(model.receptive_field(i, j, c)[0]).sum()
                        + abs(model.receptive_field(i, j, c)[1]) for c in range(3)])
    assert l1_map(model)[i, j] == pytest.approx(expected, rel=1e-6)


def test_constant_models_give_a_defined_alpha():
    D = 6 * 5
    identity = sp.hstack([sp.identity(D), np.full((D, 1), 0.1)]).tocsr()
    model = from_csr(identity, 6, 5)  # every receptive field identical
    stages = alpha_stages(model)
    for name, a in stages.items():
        assert np.isfinite(a).all(), name
    np.testing.assert_array_equal(stages["z"], 0.0)
    np.testing.assert_array_equal(stages["alpha"], 1.0)  # refinement keeps the output
    # same for a Pixel-KR fitted on data where all pixels are alike
    X = np.tile(np.linspace(0, 1, 5)[:, None, None], (1, 4, 4))
    kr = PixelKernelRegression(sigma=0.5).fit(X, 1 - X)
    assert np.isfinite(alpha_map(kr)).all()


def test_refine_and_blend_maths():
    rng = np.random.default_rng(4)
    x, y = rng.random((2, 6, 5, 3)).astype(np.float32)
    alpha = rng.random((6, 5)).astype(np.float32)
    out = refine(x, y, alpha)
    for c in range(3):
        np.testing.assert_allclose(out[..., c], (1 - alpha) * x[..., c] + alpha * y[..., c],
                                   atol=1e-6)
    np.testing.assert_allclose(refine(x[..., 0], y[..., 0], alpha), out[..., 0], atol=1e-7)
    batch = refine(np.stack([x, y]), np.stack([y, x]), alpha)
    np.testing.assert_allclose(batch[1], refine(y, x, alpha), atol=1e-7)
    np.testing.assert_array_equal(refine(x, y, np.zeros((6, 5))), x)
    np.testing.assert_allclose(refine(x, y, np.ones((6, 5))), y, atol=1e-7)
    for t in (0.0, 0.5, 1.0, 1.8, -0.5):
        b = blend_intensity(x, y, t)
        np.testing.assert_allclose(b, np.clip(x + t * (y - x), 0, 1), atol=1e-6)
        assert b.dtype == np.float32 and b.min() >= 0 and b.max() <= 1


def test_refine_and_stage_errors_are_one_line(face_model):
    model, _ = face_model
    x = np.zeros((6, 5, 3), np.float32)
    for call in (lambda: refine(x, x[..., 0], np.ones((6, 5))),
                 lambda: refine(x, x, np.ones((5, 6))),
                 lambda: blend_intensity(x, x[:3], 0.5),
                 lambda: alpha_stages(model, dilation_radius=-1),
                 lambda: alpha_stages(model, blur_sigma=float("nan")),
                 lambda: alpha_stages(model, k=float("inf"))):
        with pytest.raises(FesguiError) as exc:
            call()
        assert_one_line(exc)


@pytest.mark.parametrize("shape", [(64, 48), (7, 13), (1, 5), (40, 1)])
@pytest.mark.parametrize("radius", [0, 1, 2, 3, 5, 8, 13, 40])
def test_fast_disk_dilation_equals_grey_dilation_with_a_disk(shape, radius):
    """The row-stack dilation (issue 17: 1.1 s -> ms at radius 40) gives exactly what
    the disk footprint gives, with scipy's and scikit-image's flat dilation, "nearest"."""
    from scipy import ndimage

    from fesgui.core.refine import dilate_disk

    rng = np.random.default_rng(radius)
    z = rng.random(shape) ** 3  # a few peaks
    z[rng.random(shape) < 0.05] = 2.0
    got = dilate_disk(z, radius)
    np.testing.assert_array_equal(
        got, ndimage.grey_dilation(z, footprint=disk(radius), mode="nearest"))
    if min(shape) > 1:
        np.testing.assert_array_equal(got, dilation(z, disk(radius), mode="nearest"))
