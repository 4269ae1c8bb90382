"""warp_to_crop and paste_back, checked against independent resampling (scipy.ndimage)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fesgui.align import FaceLandmarks, Template, face_mask, paste_back, warp_to_crop
from fesgui.align.template import apply_matrix, invert_matrix
from fesgui.errors import FesguiError
from fesgui.synthetic import make_face


def _smooth_frame(h=240, w=320, seed=0):
    rng = np.random.default_rng(seed)
    f = ndimage.gaussian_filter(rng.uniform(0, 255, (h, w, 3)), (6, 6, 0))
    f = (f - f.min()) / (f.max() - f.min()) * 235 + 10
    return f.astype(np.uint8)


def _face(h=240, w=320, **kw):
    img, pts = make_face(h, w, **kw)
    return img, FaceLandmarks(pts)


def _reference_warp(frame, matrix, size):
    """Crop by sampling the frame at the inverse-mapped pixel centres (scipy, order 1)."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w]
    pts = apply_matrix(invert_matrix(matrix), np.column_stack([xs.ravel(), ys.ravel()]))
    out = np.stack([ndimage.map_coordinates(frame[:, :, c].astype(np.float64),
                                            [pts[:, 1], pts[:, 0]], order=1, mode="nearest")
                    for c in range(3)], axis=-1)
    return out.reshape(h, w, 3)


@pytest.mark.parametrize("size", [(128, 128), (96, 80)])
def test_warp_matches_scipy_resampling(size):
    frame = _smooth_frame()
    t = Template.load()
    a = np.deg2rad(10)
    m = np.array([[0.9 * np.cos(a), -0.9 * np.sin(a), -40], [0.9 * np.sin(a),
                  0.9 * np.cos(a), -30]])
    crop = warp_to_crop(frame, m, size)
    assert crop.dtype == np.uint8 and crop.shape == (*size, 3)
    ref = _reference_warp(frame, m, size)
    assert np.abs(crop.astype(float) - ref).max() <= 1.5
    assert t is not None


def test_strong_downscale_is_area_averaged_not_aliased():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (800, 800, 3)).astype(np.uint8)  # pure noise
    m = np.array([[0.1, 0, 0], [0, 0.1, 0]])
    crop = warp_to_crop(frame, m, 64)
    # plain bilinear sampling of noise keeps its spread of ~74 levels; averaging removes it
    assert crop.astype(float).std() < 15
    assert abs(crop.mean() - 127.5) < 3


def test_strong_downscale_keeps_the_geometry():
    big = ndimage.zoom(_smooth_frame(80, 80, seed=5).astype(float), (10, 10, 1), order=1)
    frame = np.clip(big, 0, 255).astype(np.uint8)
    a = np.deg2rad(-20)
    m = np.array([[0.12 * np.cos(a), -0.12 * np.sin(a), 20], [0.12 * np.sin(a),
                  0.12 * np.cos(a), -10]])
    crop = warp_to_crop(frame, m, (64, 64))
    ref = _reference_warp(frame, m, (64, 64))
    inside = np.zeros((64, 64), bool)
    inside[4:-4, 4:-4] = True  # away from the replicated border
    assert np.abs(crop.astype(float) - ref)[inside].mean() < 1.5


def test_face_mask_shape_range_and_cache():
    m = face_mask(128)
    assert m.shape == (128, 128) and m.dtype == np.float32
    assert m.min() == 0 and m.max() == 1
    assert np.all(m[0] == 0) and np.all(m[-1] == 0) and np.all(m[:, 0] == 0)
    assert face_mask(128) is m
    assert not m.flags.writeable
    with pytest.raises(FesguiError, match="feather"):
        face_mask(128, feather=2)


def test_identity_change_leaves_frame_byte_identical():
    frame, lm = _face(seed=2)
    t = Template.load()
    m = t.matrix(lm, 128)
    crop = warp_to_crop(frame, m, 128).astype(np.float32) / 255
    out = paste_back(frame, crop, m, original=crop)
    assert out.dtype == frame.dtype and out.shape == frame.shape
    assert np.array_equal(out, frame)
    assert out is not frame


def _ellipse_radius_in_frame(frame_shape, matrix, size):
    """Normalised ellipse radius of the template's mask at every frame pixel."""
    t = Template.load()
    h, w = size
    s = min(h, w)
    cx, cy = t.in_crop(size, [t.mask_centre])[0]
    ax, ay = t.mask_axes[0] * s, t.mask_axes[1] * s
    ys, xs = np.mgrid[0:frame_shape[0], 0:frame_shape[1]]
    p = apply_matrix(matrix, np.column_stack([xs.ravel(), ys.ravel()]))
    r = np.sqrt(((p[:, 0] - cx) / ax) ** 2 + ((p[:, 1] - cy) / ay) ** 2)
    return r.reshape(frame_shape[:2]), ax, ay


@pytest.mark.parametrize("replace", [False, True])
def test_paste_changes_only_inside_the_mask(replace):
    frame, lm = _face(seed=4, angle_deg=15)
    t = Template.load()
    size = (128, 128)
    m = t.matrix(lm, size)
    crop = warp_to_crop(frame, m, size).astype(np.float32) / 255
    if replace:
        new = np.zeros_like(crop)
        new[...] = [0.2, 0.9, 0.4]
        out = paste_back(frame, new, m, feather=0.25)
    else:
        new = np.clip(crop + 0.2, 0, 1)
        out = paste_back(frame, new, m, feather=0.25, original=crop)
    r, ax, ay = _ellipse_radius_in_frame(frame.shape, m, size)
    margin = 2.0 / min(ax, ay)  # two crop pixels of bilinear reach
    outside = r > 1 + margin
    assert np.array_equal(out[outside], frame[outside])
    core = r < 1 - 0.25 - margin
    if replace:
        assert np.all(np.abs(out[core].astype(int) - [51, 230, 102]) <= 1)
    else:
        expect = np.minimum(frame[core].astype(int) + 51, 255)
        bright = (crop + 0.2 <= 1).all(axis=2)
        assert np.abs(out[core].astype(int) - expect).max() <= 52  # clipped crops
        assert (out[core] != frame[core]).mean() > 0.95
        assert bright.mean() > 0.5
    changed = (out != frame).any(axis=2)
    assert changed[r < 0.5].all()


def test_paste_of_a_face_partly_outside_the_frame():
    frame, lm = _face(seed=1, cx=10, cy=20)
    m = Template.load().matrix(lm, 64)
    crop = warp_to_crop(frame, m, 64)
    new = np.full((64, 64, 3), 0.5, np.float32)
    out = paste_back(frame, new, m)
    assert out.shape == frame.shape and crop.shape == (64, 64, 3)
    assert (out != frame).any()
    # entirely outside: nothing to do
    far = m.copy()
    far[:, 2] += 10_000
    assert np.array_equal(paste_back(frame, new, far), frame)


def test_paste_rejects_mismatched_channels():
    frame, lm = _face()
    m = Template.load().matrix(lm, 64)
    with pytest.raises(FesguiError, match="same channels"):
        paste_back(frame, np.zeros((64, 64), np.float32), m)
