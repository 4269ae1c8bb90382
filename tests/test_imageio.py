"""Image files in and out: every kind of bad or unusual file, and atomic writes."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from image_files import craft_png_header, make_read_only
from PIL import Image

from fesgui.errors import FesguiError
from fesgui.imageio import list_images, read_image, to_float, to_uint8, write_image
from fesgui.synthetic import make_face


def _one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text and text
    return text


@pytest.fixture
def face():
    return make_face(96, 80, seed=1)[0]


def test_png_round_trip_is_exact(tmp_path, face):
    p = tmp_path / "a.png"
    write_image(p, face)
    back = read_image(p)
    assert back.dtype == np.uint8 and back.shape == face.shape
    assert np.array_equal(back, face)
    # an independent decoder agrees
    assert np.array_equal(np.asarray(Image.open(p).convert("RGB")), face)


def test_jpeg_round_trip_is_close_and_quality_matters(tmp_path, face):
    hi, lo = tmp_path / "hi.jpg", tmp_path / "lo.JPEG"
    write_image(hi, face, quality=95)
    write_image(lo, face, quality=10)
    assert np.abs(read_image(hi).astype(int) - face).mean() < 3
    assert hi.stat().st_size > lo.stat().st_size
    with Image.open(hi) as im:
        assert im.format == "JPEG"


def test_write_float_and_gray(tmp_path, face):
    f = to_float(face)
    assert f.dtype == np.float32 and f.max() <= 1
    write_image(tmp_path / "f.png", f)
    assert np.array_equal(read_image(tmp_path / "f.png"), face)
    write_image(tmp_path / "g.png", face[:, :, 0])
    g = read_image(tmp_path / "g.png")
    assert np.array_equal(g[:, :, 2], face[:, :, 0])
    assert np.array_equal(to_uint8(np.array([-0.5, 0.0, 0.5, 1.0, 2.0])), [0, 0, 128, 255, 255])


def test_write_refuses_unknown_extension_and_missing_folder(tmp_path, face):
    with pytest.raises(FesguiError, match=r"\.png or \.jpg") as info:
        write_image(tmp_path / "a.gif", face)
    _one_line(info)
    with pytest.raises(FesguiError, match="does not exist") as info:
        write_image(tmp_path / "nope" / "a.png", face)
    _one_line(info)
    assert list(tmp_path.iterdir()) == []


def test_write_to_read_only_folder_is_one_line(tmp_path, monkeypatch, face):
    ro = tmp_path / "ro"
    ro.mkdir()
    make_read_only(monkeypatch, ro)
    try:
        with pytest.raises(FesguiError, match="read-only") as info:
            write_image(ro / "a.png", face)
        _one_line(info)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_full_disk_leaves_no_file(tmp_path, monkeypatch, face):
    real = Path.write_bytes

    def full(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(FesguiError, match="disk full") as info:
        write_image(tmp_path / "a.png", face)
    _one_line(info)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_overwrite_is_atomic_old_file_survives_a_failure(tmp_path, monkeypatch, face):
    p = tmp_path / "a.png"
    write_image(p, face)
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(Path, "write_bytes", boom)
    with pytest.raises(FesguiError):
        write_image(p, face[::-1])
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert [x.name for x in tmp_path.iterdir()] == ["a.png"]


# --------------------------------------------------------------------- bad inputs
def test_missing_file(tmp_path):
    with pytest.raises(FesguiError, match="does not exist") as info:
        read_image(tmp_path / "none.jpg")
    _one_line(info)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(FesguiError, match="is a folder"):
        read_image(tmp_path)


def test_zero_bytes(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(FesguiError, match="0 bytes") as info:
        read_image(p)
    _one_line(info)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_file(tmp_path, face, ext):
    good = tmp_path / f"good{ext}"
    write_image(good, face)
    data = good.read_bytes()
    bad = tmp_path / f"cut{ext}"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(FesguiError, match="truncated or corrupt") as info:
        read_image(bad)
    _one_line(info)


def test_corrupt_jpeg_body(tmp_path, face):
    good = tmp_path / "good.jpg"
    write_image(good, face)
    data = bytearray(good.read_bytes())
    data[200:] = b"\x00" * (len(data) - 200)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(bytes(data))
    with pytest.raises(FesguiError) as info:
        read_image(bad)
    _one_line(info)


def test_text_file_named_jpg(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a picture\n" * 20)
    with pytest.raises(FesguiError, match="not an image") as info:
        read_image(p)
    _one_line(info)


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    p = tmp_path / "bomb.png"
    craft_png_header(p, 30000, 30000)
    assert p.stat().st_size < 200
    with pytest.raises(FesguiError) as info:
        read_image(p)
    text = _one_line(info)
    assert "30000x30000" in text and "900 MP" in text and "50 MP" in text
    assert "downscale" in text


def test_pixel_limit_is_a_parameter(tmp_path, face):
    p = tmp_path / "a.png"
    write_image(p, face)
    with pytest.raises(FesguiError, match="limit"):
        read_image(p, max_pixels=1000)


# --------------------------------------------------------------------- unusual inputs
def test_sixteen_bit_gray_is_scaled(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(values).save(p)
    with Image.open(p) as im:
        assert im.mode.startswith("I")
    out = read_image(p)
    assert out.shape == (1, 4, 3)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])


def test_sixteen_bit_rgb_is_scaled(tmp_path):
    import cv2

    rgb16 = (np.arange(12, dtype=np.uint16).reshape(2, 2, 3) * 5000)
    p = tmp_path / "c16.png"
    ok, data = cv2.imencode(".png", rgb16[:, :, ::-1])
    p.write_bytes(data.tobytes())
    out = read_image(p)
    assert np.abs(out.astype(int) - rgb16 / 257).max() <= 1


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = [200, 10, 10, 255]
    rgba[0, 1] = [200, 10, 10, 0]
    rgba[1, 0] = [0, 0, 0, 128]
    p = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(p)
    out = read_image(p)
    np.testing.assert_array_equal(out[0, 0], [200, 10, 10])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])
    assert np.all(np.abs(out[1, 0].astype(int) - 127) <= 1)


def test_grayscale_and_palette(tmp_path, face):
    gray = tmp_path / "g.jpg"
    Image.fromarray(face[:, :, 1]).save(gray, quality=98)
    g = read_image(gray)
    assert g.shape == face.shape and np.array_equal(g[:, :, 0], g[:, :, 2])
    pal = tmp_path / "p.png"
    Image.fromarray(face).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(pal)
    with Image.open(pal) as im:
        assert im.mode == "P"
        expect = np.asarray(im.convert("RGB"))
    assert np.array_equal(read_image(pal), expect)


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (255, 0, 0, 0))  # pure cyan
    p = tmp_path / "cmyk.jpg"
    cmyk.save(p, quality=100)
    with Image.open(p) as im:
        assert im.mode == "CMYK"
    out = read_image(p)
    assert out.shape == (8, 8, 3)
    r, g, b = out.reshape(-1, 3).mean(axis=0)
    assert r < 30 and g > 220 and b > 220


def test_exif_orientation_is_applied(tmp_path):
    img = np.zeros((40, 80, 3), np.uint8)  # wide, stored as is
    img[:20, :40] = 255                      # bright top-left block
    p = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(img).save(p, exif=exif, quality=95)
    out = read_image(p)
    expect = np.rot90(img, k=-1)  # clockwise
    assert out.shape == expect.shape == (80, 40, 3)
    assert np.abs(out.astype(int) - expect).mean() < 10


def test_non_ascii_file_name(tmp_path, face):
    p = tmp_path / "visage_été_顔.png"
    write_image(p, face)
    assert np.array_equal(read_image(p), face)
    assert p in list_images(tmp_path)


def test_list_images_sorted_and_filtered(tmp_path, face):
    for name in ["b.png", "a.JPG", "c.txt", ".hidden.png", "d.jpeg"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png", "d.jpeg"]
    with pytest.raises(FesguiError, match="not a folder"):
        list_images(tmp_path / "b.png")

