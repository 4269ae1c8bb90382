"""warp_to_crop and paste_back, checked against independent resampling (scipy.ndimage)."""

from __future__ import annotations

import cv2
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


# ----------------------------------------------------------------------------- shape warp
def _reference_warp_face(frame, field, matrix, strength):
    """Independent formulation with scipy: every frame pixel x takes the bilinear frame
    value at x + A^-1 field(M x), the field read bilinearly at M x (0 outside the crop)."""
    from scipy.ndimage import map_coordinates

    fh, fw = frame.shape[:2]
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float64)
    m = np.asarray(matrix, np.float64)
    u = m[0, 0] * xx + m[0, 1] * yy + m[0, 2]
    v = m[1, 0] * xx + m[1, 1] * yy + m[1, 2]
    f = [map_coordinates(field[..., k].astype(np.float64), [v, u], order=1, mode="constant",
                         cval=0.0) for k in range(2)]
    a_inv = np.linalg.inv(m[:, :2]) * strength
    dx = a_inv[0, 0] * f[0] + a_inv[0, 1] * f[1]
    dy = a_inv[1, 0] * f[0] + a_inv[1, 1] * f[1]
    out = np.stack([map_coordinates(frame[..., c].astype(np.float64), [yy + dy, xx + dx],
                                    order=1, mode="nearest") for c in range(3)], axis=-1)
    return out, (f[0] != 0) | (f[1] != 0)


@pytest.mark.parametrize("angle, scale", [(0.0, 0.5), (12.0, 0.8), (-20.0, 0.35)])
def test_warp_face_matches_an_independent_formulation(angle, scale):
    from fesgui.align import warp_face

    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8), (0, 0), 1.5)
    h = w = 32
    field = np.zeros((h, w, 2), np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    bump = np.exp(-((xx - 16) ** 2 + (yy - 18) ** 2) / 40.0)
    field[..., 0], field[..., 1] = 2.0 * bump, -1.5 * bump
    field[bump < 0.05] = 0.0              # a field that is exactly zero outside a disc
    matrix = cv2.getRotationMatrix2D((60.0, 45.0), angle, scale)
    matrix[:, 2] += [16 - 60, 16 - 45]    # the frame point (60, 45) -> crop centre
    out = warp_face(frame, field, matrix, strength=1.3)
    ref, moving = _reference_warp_face(frame, field, matrix, 1.3)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert moving.sum() > 50
    # OpenCV interpolates with 5-bit weights: allow a couple of levels
    assert np.abs(out[moving].astype(float) - ref[moving]).max() <= 3
    # where the field is exactly zero, every byte is the frame's
    still = ~cv2.dilate(moving.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.array_equal(out[still], frame[still])


def test_warp_face_with_no_motion_returns_the_frame_untouched():
    from fesgui.align import warp_face

    frame = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    matrix = np.array([[1.0, 0, -5], [0, 1.0, -3]])
    assert warp_face(frame, np.zeros((16, 16, 2), np.float32), matrix) is frame
    assert warp_face(frame, np.ones((16, 16, 2), np.float32), matrix, strength=0.0) is frame


def test_warp_crop_moves_content_by_the_field():
    from fesgui.align import warp_crop

    img = np.zeros((20, 20), np.float32)
    img[10, 12] = 1.0
    field = np.zeros((20, 20, 2), np.float32)
    field[..., 0] = 2.0                    # output (x) fetches input (x + 2)
    out = warp_crop(img, field)
    assert out[10, 10] == pytest.approx(1.0) and out[10, 12] == 0.0


# ------------------------------------------- ROI / in-place versions against the whole frame
# warp_face and paste_back work on the bounding box of the face only, and write into an
# array the caller owns. Checked here against the straightforward formulation over the
# whole frame. The two agree up to OpenCV's fixed-point sampling positions (a box's origin
# shifts the matrix, which rounds its 1/1024-pixel coordinates differently): a few pixels
# by a few grey levels; outside the face both are the frame, byte for byte.
def _full_frame_warp_face(frame, field, matrix, strength):
    """:func:`warp_face` over the whole frame: the field (without motions under
    MIN_MOTION) warped to every frame pixel, the maps of every pixel, one remap of the
    frame, copied only where the field moves anything. Also returns where it moves."""
    from fesgui.align.warp import MIN_MOTION

    field = field.copy()
    field[np.hypot(field[..., 0], field[..., 1]) < MIN_MOTION] = 0
    fh, fw = frame.shape[:2]
    m = np.asarray(matrix, np.float64)
    f = cv2.warpAffine(field, m, (fw, fh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inv = np.linalg.inv(m[:, :2]) * strength
    fx, fy = f[..., 0], f[..., 1]
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    map_x = (fx * np.float32(inv[0, 0]) + fy * np.float32(inv[0, 1])) + xx
    map_y = (fx * np.float32(inv[1, 0]) + fy * np.float32(inv[1, 1])) + yy
    moved = cv2.remap(frame, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    out = frame.copy()
    moving = (fx != 0) | (fy != 0)
    out[moving] = moved[moving]
    return out, moving


def _random_case(seed):
    """A random (smoothed) frame, a random similarity putting a 48 px crop somewhere on
    it (partly outside at times) and a smooth field that is exactly zero outside a disc."""
    rng = np.random.default_rng(seed)
    fh, fw = rng.integers(60, 200, 2)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (fh, fw, 3), dtype=np.uint8), (0, 0), 1.2)
    h = w = 48
    yy, xx = np.mgrid[0:h, 0:w]
    bump = np.exp(-((xx - rng.uniform(15, 33)) ** 2 + (yy - rng.uniform(15, 33)) ** 2) / 60)
    field = np.stack([rng.uniform(-3, 3) * bump, rng.uniform(-3, 3) * bump], -1)
    field[bump < 0.05] = 0.0
    centre = (rng.uniform(-10, fw + 10), rng.uniform(-10, fh + 10))
    matrix = cv2.getRotationMatrix2D(centre, rng.uniform(-40, 40), rng.uniform(0.2, 1.5))
    matrix[:, 2] += [w / 2 - centre[0], h / 2 - centre[1]]
    return frame, field.astype(np.float32), matrix


def _near(got, expect, changed):
    """Equal but for a few pixels (at most 2 % of the changed ones) off by a few levels."""
    diff = np.abs(got.astype(int) - expect.astype(int)).max(axis=-1)
    assert diff.max() <= 4
    assert (diff > 0).sum() <= max(3, 0.02 * changed.sum())


def _grown(mask, k=2):
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0


@pytest.mark.parametrize("seed", range(12))
def test_warp_face_on_the_face_box_in_place_equals_the_whole_frame_formulation(seed):
    from fesgui.align import warp_face

    frame, field, matrix = _random_case(seed)
    strength = float(np.random.default_rng(seed).uniform(0.3, 1.5))
    expect, moving = _full_frame_warp_face(frame, field, matrix, strength)
    before = frame.copy()
    got = warp_face(frame, field, matrix, strength)
    _near(got, expect, moving)
    still = ~_grown(moving)
    assert np.array_equal(got[still], frame[still])  # the frame's bytes outside the face
    assert np.array_equal(frame, before)  # the input is not touched
    other = np.zeros_like(frame)  # into an array of the caller's, and in place: the same
    assert warp_face(frame, field, matrix, strength, out=other) is other
    assert np.array_equal(other, got)
    assert warp_face(frame, field, matrix, strength, out=frame) is frame
    assert np.array_equal(frame, got)


def _full_frame_paste(frame, crop, matrix, original):
    """paste_back's arithmetic over the whole frame: the masked change warped to every
    frame pixel and added with rounding and saturation. Also returns where it is not 0."""
    weight = face_mask(crop.shape[:2])
    change = (crop - original) * (weight[..., None] * np.float32(255))
    fh, fw = frame.shape[:2]
    warped = cv2.warpAffine(change, np.asarray(matrix, np.float64), (fw, fh),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.add(frame, warped, dtype=cv2.CV_8U), (warped != 0).any(axis=-1)


@pytest.mark.parametrize("seed", range(12))
def test_paste_back_on_the_face_box_in_place_equals_the_whole_frame_formulation(seed):
    frame, _, matrix = _random_case(seed)
    rng = np.random.default_rng(seed + 100)
    original = cv2.GaussianBlur(rng.uniform(0, 1, (48, 48, 3)).astype(np.float32), (0, 0), 1)
    change = cv2.GaussianBlur(rng.normal(0, 0.3, original.shape).astype(np.float32), (0, 0), 1)
    crop = np.clip(original + change, 0, 1)
    expect, touched = _full_frame_paste(frame, crop, matrix, original)
    before = frame.copy()
    got = paste_back(frame, crop, matrix, original=original)
    _near(got, expect, touched)
    outside = ~_grown(touched)
    assert np.array_equal(got[outside], frame[outside])
    assert np.array_equal(frame, before)
    other = np.zeros_like(frame)
    assert paste_back(frame, crop, matrix, original=original, out=other) is other
    assert np.array_equal(other, got)
    assert paste_back(frame, crop, matrix, original=original, out=frame) is frame
    assert np.array_equal(frame, got)


def test_an_output_array_of_another_shape_is_refused():
    from fesgui.align import warp_face

    frame, field, matrix = _random_case(0)
    with pytest.raises(FesguiError, match="output array"):
        warp_face(frame, field, matrix, out=np.zeros((5, 5, 3), np.uint8))
    with pytest.raises(FesguiError, match="output array"):
        paste_back(frame, np.zeros((48, 48, 3), np.float32), matrix,
                   out=np.zeros(frame.shape, np.float32))
