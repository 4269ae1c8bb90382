"""Reading and writing images: RGB ``uint8`` at the edges, every file written atomically.

Pillow decodes (it honours EXIF orientation, reads palette, CMYK, 16-bit and non-ASCII
file names everywhere); OpenCV encodes PNG and JPEG (fast). The size of an image is checked
from its header *before* anything is decoded, so a decompression bomb costs nothing.
This is the one place (with :mod:`fesgui.video`) where BGR <-> RGB conversion happens.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from fesgui.atomic import atomic_write
from fesgui.errors import FesguiError, FesguiWarning
from fesgui.outputs import check_output

__all__ = ["IMAGE_EXTENSIONS", "MAX_PIXELS", "atomic_write", "check_image_output",
           "check_output_folder", "list_images", "read_image", "read_thumbnail", "to_float",
           "to_uint8", "write_image"]

#: file name endings that :func:`list_images` picks up (lower case)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif",
                    ".ppm", ".pgm")
#: default limit of :func:`read_image`, in pixels (50 megapixels)
MAX_PIXELS = 50_000_000
_WRITE_FORMATS = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg"}
_PIL_LIMIT_LOCK = threading.Lock()
#: file signatures: a file that starts like one of these but does not decode is damaged,
#: not "some other kind of file"
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"),
               (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"))


def _signature(path: Path) -> str | None:
    """The image format ``path`` claims by its first bytes, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)


def _open_header(path: Path):
    """``PIL.Image`` opened lazily (header only), without Pillow's own bomb limit: our
    limit, which is lower, is applied by the caller with the real dimensions."""
    from PIL import Image

    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _to_rgb_array(im) -> np.ndarray:
    """(H, W, 3) uint8 RGB from any Pillow mode. Transparency is composited on white."""
    from PIL import Image

    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(im).astype(np.float64)
        top = 65535.0 if (mode.startswith("I;16") or a.max(initial=0) > 255) else 255.0
        gray = np.clip(np.rint(a * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info) \
            or (mode in ("RGB", "L") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.array(im.convert("RGB"), dtype=np.uint8)


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS,
               notes: list[str] | None = None) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    EXIF orientation is applied; grayscale is replicated to three channels; 16-bit images
    are scaled to 8 bits (value * 255 / 65535); transparent images (RGBA, LA, palette
    with transparency) are composited on white. A multi-page TIFF or an animated GIF/WebP
    gives its first page and a :class:`~fesgui.errors.FesguiWarning` saying so (the command
    line prints it as a ``warning:`` line); with a ``notes`` list, that one line is
    appended to it instead (no warning: the warnings filters are process-wide, so a
    worker thread collects its notes this way). Raises a one-line :class:`FesguiError`
    for a missing, empty, truncated, corrupt or non-image file, and for an image larger
    than ``max_pixels`` (checked from the header, before decoding).
    """
    return _read(Path(path), max_pixels, None, notes)


def read_thumbnail(path: str | os.PathLike, max_side: int = 96,
                   max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A small upright preview of an image file: (h, w, 3) uint8 RGB with
    ``max(h, w) <= max_side`` (aspect kept; smaller images are not enlarged).

    Same checks, conversions and one-line :class:`FesguiError` as :func:`read_image`
    (for a view that lists many files: a bad file costs an exception, never a log line).
    JPEGs are decoded at reduced size (DCT scaling), so a big photo is cheap.
    """
    if int(max_side) < 1:
        raise FesguiError(f"max_side={max_side} must be at least 1: e.g. 96")
    return _read(Path(path), max_pixels, int(max_side), None)


def _read(path: Path, max_pixels: int, max_side: int | None,
          notes: list[str] | None) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.exists():
        raise FesguiError(f"{path} does not exist: check the file name")
    if path.is_dir():
        raise FesguiError(f"{path} is a folder, not an image: give an image file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FesguiError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise FesguiError(f"{path} is empty (0 bytes): the file is damaged; use another copy")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd metadata; we decide below
            with _open_header(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise FesguiError(
                        f"{path.name} is {w}x{h} ({w * h / 1e6:.0f} MP); the limit is "
                        f"{max_pixels / 1e6:.0f} MP: downscale it first")
                try:  # Pillow walks the pages to count them: a cut-off later page fails
                    pages = int(getattr(im, "n_frames", 1) or 1)
                except (TypeError, KeyError, IndexError) as exc:
                    why = (str(exc).splitlines() or [type(exc).__name__])[0]
                    raise FesguiError(f"{path} is truncated or corrupt ({why}): re-export "
                                      "or re-download it") from None
                if max_side is not None:
                    im.draft(None, (max_side, max_side))  # JPEG: decode at 1/2..1/8 size
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = _to_rgb_array(im)
        if max_side is not None and max(rgb.shape[:2]) > max_side:
            import cv2

            h, w = rgb.shape[:2]
            scale = max_side / max(h, w)
            rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                             interpolation=cv2.INTER_AREA)
        if pages > 1 and max_side is None:  # said, not silent (a thumbnail: no word)
            note = (f"{path.name} has {pages} pages or animation frames: only the first is "
                    "used (save the one you want as a PNG to use another)")
            if notes is not None:
                notes.append(note)
            else:
                warnings.warn(FesguiWarning(note), stacklevel=3)
        return rgb
    except FesguiError:
        raise
    except UnidentifiedImageError:
        kind = _signature(path)
        if kind is not None:
            raise FesguiError(f"{path} starts like a {kind} file but is truncated or corrupt: "
                              "re-export or re-download it") from None
        raise FesguiError(f"{path} is not an image fesgui can read: "
                          "use a JPEG, PNG, BMP, TIFF or WebP file") from None
    except PermissionError:
        raise FesguiError(f"cannot read {path}: permission denied; check the file's rights"
                          ) from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
            MemoryError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FesguiError(f"{path} is truncated or corrupt ({reason}): "
                          "re-export or re-download it") from None


def to_float(rgb: np.ndarray) -> np.ndarray:
    """uint8 image -> float32 in [0, 1], same shape."""
    return np.asarray(rgb, dtype=np.float32) * np.float32(1.0 / 255.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float image in [0, 1] -> uint8 (clipped, rounded to nearest), same shape."""
    out = np.clip(np.asarray(image, dtype=np.float32) * np.float32(255.0) + np.float32(0.5),
                  0, 255)
    return out.astype(np.uint8)


def _write_format(path: Path) -> str:
    """The encoder extension (.png or .jpg) for an output file name."""
    ext = _WRITE_FORMATS.get(path.suffix.lower())
    if ext is None:
        raise FesguiError(f"cannot write {path.name}: use a file name ending in .png or .jpg")
    return ext


def check_output_folder(path: str | os.PathLike) -> None:
    """The folder ``path`` goes into must exist (a one-line error otherwise)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FesguiError(f"cannot write {path}: the folder {path.parent} does not exist; "
                          "create it first")


def check_image_output(path: str | os.PathLike,
                       inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Fail early (before any work) on an output name or folder :func:`write_image`
    cannot write, or on an output that is one of ``inputs``
    (:func:`fesgui.outputs.check_output`)."""
    path = check_output(path, inputs)
    _write_format(path)
    return path


def write_image(path: str | os.PathLike, rgb: np.ndarray, quality: int = 95) -> None:
    """Write an (H, W, 3) or (H, W) image to a .png or .jpg/.jpeg file, atomically.

    ``rgb`` is uint8, or float in [0, 1] (converted with :func:`to_uint8`). ``quality`` is
    the JPEG quality 1-100. A read-only folder or a full disk raises :class:`FesguiError`
    and leaves no file behind.
    """
    import cv2

    path = check_output(path)
    ext = _write_format(path)
    if not 1 <= int(quality) <= 100:
        raise FesguiError(f"quality={quality} is out of range: use 1 to 100 (95 is good)")
    image = np.asarray(rgb)
    if image.dtype != np.uint8:
        image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim != 2:
        raise FesguiError(f"cannot write an image of shape {image.shape}: "
                          "give (H, W) or (H, W, 3)")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == ".jpg" else [
        cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, data = cv2.imencode(ext, image, params)
    if not ok:
        raise FesguiError(f"could not encode {path.name} as {ext[1:].upper()}: "
                          "try the other format")
    with atomic_write(path) as tmp:
        tmp.write_bytes(data.tobytes())


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (by extension, hidden files skipped),
    sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FesguiError(f"{folder} is not a folder: give a folder of images")
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise FesguiError(f"cannot list {folder}: {exc.strerror or exc}") from None
    return sorted(p for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith(".") and p.is_file())
