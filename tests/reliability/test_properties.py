"""Property-based tests (hypothesis): the image loader, the model loader, alignment maths.

* Image loader: random bytes and mutated/truncated valid PNG and JPEG files give either a
  one-line :class:`FesguiError` or a valid (H, W, 3) uint8 image, nothing else.
* Model loader: mutated real model files (MR per-channel full, MR compact, Pixel-KR
  compact) load with finite arrays or raise a one-line FesguiError (the crafted-file
  version is in tests/core/test_core_modelio.py).
* Alignment: ``Template.matrix`` is a similarity (no shear) that maps exactly-similar
  landmarks onto the template, and OpenCV's inverse maps the points back; ``paste_back``
  of ``warp_to_crop`` with no change is byte-identical, and any change leaves every pixel
  outside the warped face mask (computed independently with scipy) untouched.
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from fesgui.align import FaceLandmarks, Template, box_of, face_mask, paste_back, warp_to_crop
from fesgui.align.template import apply_matrix
from fesgui.core import MaskedRegression, PixelKernelRegression, load_model
from fesgui.errors import FesguiError
from fesgui.imageio import read_image
from fesgui.synthetic import make_face, make_pairs

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


# ------------------------------------------------------------------ the image loader
def _encode(fmt: str) -> bytes:
    img = make_face(40, 48, seed=3)[0]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **({"quality": 80} if fmt == "JPEG" else {}))
    return buf.getvalue()


SEEDS = {"png": _encode("PNG"), "jpg": _encode("JPEG")}


def mutated(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    """``data`` with byte ``pos % len`` set to ``value`` for each ``(pos, value)`` of
    ``edits``, then cut to ``cut % (len + 1)`` bytes if ``cut`` is given."""
    out = bytearray(data)
    for pos, value in edits:
        out[pos % len(out)] = value
    if cut is not None:
        out = out[: cut % (len(out) + 1)]
    return bytes(out)


def _check_loads_or_refuses(path) -> None:
    try:
        img = read_image(path, max_pixels=4_000_000)
    except FesguiError as exc:
        text = str(exc)
        assert text and "\n" not in text
    else:
        assert isinstance(img, np.ndarray) and img.dtype == np.uint8
        assert img.ndim == 3 and img.shape[2] == 3 and img.shape[0] >= 1 and img.shape[1] >= 1
        assert img.flags.c_contiguous or img.flags.f_contiguous


@FAST
@given(data=st.binary(max_size=4096), ext=st.sampled_from([".jpg", ".png", ".bmp", ".gif"]))
def test_random_bytes_are_refused_or_read(tmp_path, data, ext):
    path = tmp_path / f"random{ext}"
    path.write_bytes(data)
    _check_loads_or_refuses(path)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(SEEDS)),
       edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 1 << 20)))
def test_mutated_png_and_jpeg_are_refused_or_read(tmp_path, kind, edits, cut):
    path = tmp_path / f"mutated.{kind}"
    path.write_bytes(mutated(SEEDS[kind], edits, cut))
    _check_loads_or_refuses(path)


LOSSLESS = {"PNG": ".png", "BMP": ".bmp", "TIFF": ".tif"}


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), h=st.integers(1, 40), w=st.integers(1, 40),
       mode=st.sampled_from(["L", "RGB", "P", "I;16", "CMYK"]),
       fmt=st.sampled_from(["PNG", "BMP", "TIFF", "JPEG", "WEBP", "GIF"]))
def test_any_valid_image_reads_as_rgb_of_its_size(tmp_path, seed, h, w, mode, fmt):
    """Every mode/format Pillow can write comes back as (h, w, 3) uint8; for lossless
    formats it equals Pillow's own RGB conversion (16-bit: scaled by 255/65535)."""
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        im = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    elif mode == "L":
        im = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))
    else:
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode)
    path = tmp_path / f"img{LOSSLESS.get(fmt, '.' + fmt.lower())}"
    try:
        im.save(path, format=fmt)
    except (OSError, ValueError, KeyError):
        assume(False)  # this Pillow cannot write the mode in this format
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (h, w, 3)
    if fmt in LOSSLESS:
        with Image.open(path) as back:
            if back.mode.startswith("I"):
                a = np.asarray(back).astype(np.float64)
                g = np.clip(np.rint(a * 255 / 65535), 0, 255).astype(np.uint8)
                expect = np.repeat(g[:, :, None], 3, axis=2)
            else:
                expect = np.asarray(back.convert("RGB"))
        np.testing.assert_array_equal(out, expect)


# ------------------------------------------------------------------ the model loader
@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    X, T = make_pairs(8, 8, 10, color=True, seed=4)
    files = {
        "mr-full": MaskedRegression(size=3, color="per-channel").fit(X, T).save(
            folder / "a.npz"),
        "mr-compact": MaskedRegression(size=3, dilation=2).fit(X, T).save(
            folder / "b.npz", compact=True),
        "kr-compact": PixelKernelRegression(sigma=0.3).fit(X, T).save(
            folder / "c.npz", compact=True),
    }
    return {k: p.read_bytes() for k, p in files.items()}


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(["mr-full", "mr-compact", "kr-compact"]),
       edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1,
                      max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 1 << 20)))
def test_mutated_real_models_load_finite_or_are_refused(model_bytes, tmp_path, kind, edits,
                                                         cut):
    path = tmp_path / "m.npz"
    path.write_bytes(mutated(model_bytes[kind], edits, cut))
    try:
        model = load_model(path)
    except FesguiError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert np.isfinite(model.weights_).all() and np.isfinite(model.bias_).all()
        x = np.full((*model.image_size, 3), 0.5, np.float32)
        assert np.isfinite(model.predict(x)).all()


# ------------------------------------------------------------------ alignment maths
def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([[scale * math.cos(a), -scale * math.sin(a), tx],
                     [scale * math.sin(a), scale * math.cos(a), ty]])


similarities = st.tuples(st.floats(-60, 60), st.floats(0.3, 4.0), st.floats(-200, 400),
                         st.floats(-200, 400))
crop_sizes = st.one_of(st.integers(16, 256),
                       st.tuples(st.integers(16, 200), st.integers(16, 200)))


@settings(max_examples=200, deadline=None)
@given(sim=similarities, size=crop_sizes, manual=st.booleans())
def test_template_matrix_is_an_exact_invertible_similarity(sim, size, manual):
    t = Template.load()
    crop_pts = t.in_crop(size)
    to_frame = _similarity(*sim)  # crop -> frame: where a face would be
    pts = apply_matrix(to_frame, crop_pts).astype(np.float32)
    if manual:
        from fesgui.align import manual_landmarks

        lm = manual_landmarks(pts[0], pts[1], (pts[3] + pts[4]) / 2)
    else:
        lm = FaceLandmarks(pts, None, box_of(pts, 0.5))
    m = t.matrix(lm, size)
    # a similarity: equal diagonal, opposite off-diagonal (no shear, no reflection)
    lin = m[:, :2]
    s = math.sqrt(abs(np.linalg.det(lin)))
    assert np.linalg.det(lin) > 0
    np.testing.assert_allclose(lin.T @ lin, s * s * np.eye(2), rtol=1e-6, atol=1e-9 * s * s)
    # it undoes the similarity that made the landmarks (float32 points: ~1e-4 px)
    key = [0, 1, 2] if not manual else [0, 1]
    np.testing.assert_allclose(apply_matrix(m, pts[key]), crop_pts[key], atol=2e-3)
    # the inverse (OpenCV's, an independent formulation) maps crop points back
    inv = cv2.invertAffineTransform(m)
    np.testing.assert_allclose(apply_matrix(inv, apply_matrix(m, pts)), pts, atol=1e-3)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), sim=st.tuples(st.floats(-45, 45), st.floats(0.4, 3.0)),
       size=st.sampled_from([32, 48, (40, 56), 64]),
       frame_hw=st.tuples(st.integers(40, 180), st.integers(40, 180)),
       centre=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_paste_back_of_an_unchanged_crop_is_exact(seed, sim, size, frame_hw, centre):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
    angle, scale = sim
    # crop -> frame similarity placing the crop centre somewhere on (or off) the frame
    to_frame = _similarity(angle, 1 / scale, 0, 0)
    h, w = (size, size) if isinstance(size, int) else size
    c = apply_matrix(to_frame, [[w / 2, h / 2]])[0]
    to_frame[:, 2] = [centre[0] * frame_hw[1] - c[0], centre[1] * frame_hw[0] - c[1]]
    m = cv2.invertAffineTransform(to_frame)
    crop = warp_to_crop(frame, m, size).astype(np.float32) / np.float32(255)
    out = paste_back(frame, crop, m, original=crop)
    assert out.dtype == np.uint8 and out.shape == frame.shape
    assert np.array_equal(out, frame)
    # any change: pixels the (dilated) warped mask does not reach stay byte-identical
    changed = np.clip(crop + rng.uniform(-0.5, 0.5, crop.shape).astype(np.float32), 0, 1)
    out2 = paste_back(frame, changed, m, original=crop)
    mask = ndimage.grey_dilation(face_mask(size), size=(5, 5))
    ys, xs = np.mgrid[0:frame_hw[0], 0:frame_hw[1]]
    p = apply_matrix(m, np.column_stack([xs.ravel(), ys.ravel()]))
    reach = ndimage.map_coordinates(mask, [p[:, 1], p[:, 0]], order=1, cval=0.0)
    outside = (reach == 0).reshape(frame_hw)
    assume(outside.any())
    assert np.array_equal(out2[outside], frame[outside])
