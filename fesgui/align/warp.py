"""Frame -> aligned crop, and the feathered paste-back of a crop into its frame.

``matrix`` is always the (2, 3) similarity from frame pixels to crop pixels
(:meth:`fesgui.align.Template.matrix`). Both directions use ``cv2.warpAffine``; paste-back
touches only the bounding box of the warped crop, and changes only pixels under the warped
feathered face mask: every other pixel of the result is byte-identical to the frame.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from fesgui.align.template import Template, apply_matrix, crop_shape, invert_matrix
from fesgui.errors import FesguiError

#: default width of the soft edge of the paste-back mask, as a fraction of the ellipse radius
FEATHER = 0.25


def matrix_scale(matrix: np.ndarray) -> float:
    """Uniform scale of a similarity matrix (crop pixels per frame pixel)."""
    m = np.asarray(matrix, np.float64)
    return float(np.sqrt(abs(np.linalg.det(m[:, :2]))))


def warp_to_crop(frame: np.ndarray, matrix: np.ndarray, size: int | tuple[int, int]
                 ) -> np.ndarray:
    """The aligned crop of ``size`` ((h, w) or int) from an (H, W[, C]) frame.

    Bilinear sampling with replicated borders; same dtype and channels as ``frame``.
    When the crop is much smaller than the face in the frame (scale < 0.5), the face region
    is first shrunk with area averaging so the crop is not aliased.
    """
    h, w = crop_shape(size)
    m = np.asarray(matrix, np.float64)
    if m.shape != (2, 3) or not np.all(np.isfinite(m)):
        raise FesguiError("the alignment matrix must be a finite (2, 3) array: "
                          "compute it with Template.matrix")
    scale = matrix_scale(m)
    if scale < 0.5:
        corners = np.array([[-1, -1], [w, -1], [w, h], [-1, h]], np.float64)
        back = apply_matrix(invert_matrix(m), corners)
        fh, fw = frame.shape[:2]
        x0, y0 = np.clip(np.floor(back.min(axis=0)).astype(int) - 2, 0, [fw, fh])
        x1, y1 = np.clip(np.ceil(back.max(axis=0)).astype(int) + 3, 0, [fw, fh])
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            roi = frame[y0:y1, x0:x1]
            sw, sh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
            small = cv2.resize(roi, (sw, sh), interpolation=cv2.INTER_AREA)
            fx, fy = sw / (x1 - x0), sh / (y1 - y0)
            # small pixel (u, v) <-> frame pixel (x0 + (u + 0.5) / fx - 0.5, ...)
            to_frame = np.array([[1 / fx, 0, x0 + 0.5 / fx - 0.5],
                                 [0, 1 / fy, y0 + 0.5 / fy - 0.5]])
            m = m @ np.vstack([to_frame, [0, 0, 1]])
            frame = small
    return cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def decimate(image: np.ndarray, k: int) -> np.ndarray:
    """``image[::k, ::k]`` as a contiguous array, made by OpenCV (nearest-neighbour warp
    at integer positions: the same pixels). numpy copies a strided view of 3-byte pixels
    one element at a time: 1.3 ms for a face crop of a 1080p frame, against 0.3 ms here."""
    h, w = image.shape[:2]
    size = (-(-w // k), -(-h // k))
    return cv2.warpAffine(image, np.array([[k, 0.0, 0.0], [0.0, k, 0.0]]), size,
                          flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)


def square_crop(image: np.ndarray, cx: float, cy: float, side: float, out: int
                ) -> tuple[np.ndarray, float, float, float]:
    """The square of ``side`` pixels centred on (cx, cy) of ``image``, resized to
    ``out`` x ``out`` (black outside the image). Returns ``(crop, x0, y0, scale)``: the
    crop point (u, v) is the image point (x0 + u / scale, y0 + v / scale), in continuous
    pixel coordinates (pixel i covers [i, i + 1)), like MediaPipe's normalised points
    times the size."""
    h, w = image.shape[:2]
    side = max(float(side), 8.0)
    x0, y0 = cx - side / 2, cy - side / 2
    scale = out / side
    pad = 2 + int(1.0 / scale)  # the interpolation at the crop's edge sees real pixels
    ix0, iy0 = max(0, int(np.floor(x0)) - pad), max(0, int(np.floor(y0)) - pad)
    ix1, iy1 = min(w, int(np.ceil(x0 + side)) + pad), min(h, int(np.ceil(y0 + side)) + pad)
    if ix1 <= ix0 or iy1 <= iy0:
        return np.zeros((out, out, 3), np.uint8), x0, y0, scale
    region = image[iy0:iy1, ix0:ix1]
    # region pixel centre (i, j) is the continuous image point (ix0 + i + .5, iy0 + j + .5);
    # crop pixel centre u lies at continuous u + .5 = (x - x0) * scale
    k = 1
    if scale < 0.5:  # every k-th pixel first: the warp then shrinks by at most 2
        k = int(1.0 / scale)  # (area averaging would cost 4 ms at 1080p; FaceMesh does
        region = decimate(region, k)  # not need it)
    # shrunk pixel centre j is the continuous image point ix0 + j k + .5; crop pixel
    # centre u lies at continuous u + .5 = (x - x0) * scale
    m = np.array([[scale * k, 0.0, scale * (ix0 + 0.5 - x0) - 0.5],
                  [0.0, scale * k, scale * (iy0 + 0.5 - y0) - 0.5]])
    crop = cv2.warpAffine(region, m, (out, out), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop, x0, y0, scale


def _mask(h: int, w: int, feather: float, centre: tuple, axes: tuple) -> np.ndarray:
    template = Template(np.zeros((5, 2)), centre, axes)
    (cx, cy), = template.in_crop((h, w), [centre])
    s = min(h, w)
    ax, ay = axes[0] * s, axes[1] * s
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    t = np.clip((1.0 - r) / max(feather, 1e-6), 0.0, 1.0)
    m = (t * t * (3 - 2 * t)).astype(np.float32)  # smoothstep: 0 outside the ellipse
    m.setflags(write=False)
    return m


def _support(mask: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """((y0, y1), (x0, x1)) inclusive index range of the non-zero pixels of a mask
    (y1 < y0 when the mask is all zero)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return (0, -1), (0, -1)
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))


@functools.lru_cache(maxsize=16)
def _mask_support(h: int, w: int, feather: float, centre: tuple, axes: tuple):
    mask = _mask(h, w, feather, centre, axes)
    return mask, _support(mask)


def _check_feather(feather: float) -> None:
    if not 0.0 <= feather <= 1.0:
        raise FesguiError(f"feather={feather} is out of range: use 0 (hard edge) to 1")


def _template_mask(h: int, w: int, feather: float, template: Template | None = None):
    """(mask, support) of the template's face ellipse in an (h, w) crop, cached."""
    t = Template.load() if template is None else template
    return _mask_support(h, w, float(feather), tuple(t.mask_centre), tuple(t.mask_axes))


def face_mask(size: int | tuple[int, int], feather: float = FEATHER,
              template: Template | None = None) -> np.ndarray:
    """(h, w) float32 in [0, 1]: the feathered face ellipse of the template in crop pixels.

    1 inside, a smooth fall-off over the outer ``feather`` fraction of the radius, exactly
    0 outside the ellipse. Cached per size (read-only array).
    """
    _check_feather(feather)
    h, w = crop_shape(size)
    return _template_mask(h, w, feather, template)[0]


def paste_back(frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray,
               feather: float = FEATHER, original: np.ndarray | None = None,
               mask: np.ndarray | None = None, template: Template | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
    """``frame`` with ``crop`` warped back into place and blended under the face mask.

    ``frame``: (H, W, 3) uint8 (or float); ``crop``: (h, w, 3) float32 in [0, 1] (or the
    frame's dtype); ``matrix``: (2, 3) frame -> crop. Returns a new array of the frame's
    shape and dtype.

    With ``original`` (the aligned input crop the model saw, same shape as ``crop``), only
    the *change* ``crop - original`` is warped back and added to the frame: where the model
    changed nothing the frame keeps its full resolution (the crop is usually much smaller
    than the face in the frame). Without it, the crop replaces the frame under the mask.
    ``mask`` ((h, w) float in [0, 1]) overrides :func:`face_mask` of ``template`` (default:
    the shipped one; give the template the crop was aligned with). Pixels where the warped
    mask is 0 are byte-identical to ``frame``; only the bounding box of the warped mask is
    processed.

    ``out``: an array of the frame's shape and dtype that receives the result and is
    returned (it may be ``frame`` itself: the paste then happens in place, with no
    full-frame copy). Default: a new copy of ``frame``.
    """
    h, w = crop.shape[:2]
    if frame.ndim != crop.ndim or (frame.ndim == 3 and frame.shape[2] != crop.shape[2]):
        raise FesguiError(f"cannot paste a {crop.shape} crop into a {frame.shape} frame: "
                          "give both with the same channels")
    if mask is None:
        _check_feather(feather)
        weight, (ys, xs) = _template_mask(h, w, feather, template)
    else:
        weight = np.asarray(mask, np.float32)
        ys, xs = _support(weight)
    if weight.shape != (h, w):
        raise FesguiError(f"mask shape {weight.shape} differs from the crop's {(h, w)}: "
                          "make the mask the crop's size")
    out = _output(frame, out)
    fh, fw = frame.shape[:2]
    if ys[1] < ys[0]:
        return out
    corners = np.array([[xs[0] - 1, ys[0] - 1], [xs[1] + 1, ys[0] - 1],
                        [xs[1] + 1, ys[1] + 1], [xs[0] - 1, ys[1] + 1]], np.float64)
    back = apply_matrix(cv2.invertAffineTransform(np.asarray(matrix, np.float64)), corners)
    x0, y0 = np.clip(np.floor(back.min(axis=0)).astype(int) - 1, 0, [fw, fh])
    x1, y1 = np.clip(np.ceil(back.max(axis=0)).astype(int) + 2, 0, [fw, fh])
    if x1 <= x0 or y1 <= y0:
        return out
    scale = 255.0 if frame.dtype == np.uint8 and crop.dtype != np.uint8 else 1.0
    crop_f = np.asarray(crop, np.float32)
    if crop_f.ndim == 2:
        crop_f = crop_f[:, :, None]
    wcol = weight[:, :, None]
    if original is not None:
        orig_f = np.asarray(original, np.float32).reshape(crop_f.shape)
        premult = (crop_f - orig_f) * (wcol * np.float32(scale))
    else:
        premult = np.concatenate([crop_f * (wcol * np.float32(scale)), wcol], axis=2)
    # frame pixel (x, y) of the ROI samples crop pixel matrix @ (x + x0, y + y0, 1)
    m = np.asarray(matrix, np.float64) @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1.0]])
    warped = cv2.warpAffine(premult, m, (x1 - x0, y1 - y0),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    roi = out[y0:y1, x0:x1]
    if original is not None and frame.dtype == np.uint8:
        # saturating add with round-to-nearest; a zero change leaves the byte as it was
        cv2.add(roi, warped.reshape(roi.shape), dst=roi, dtype=cv2.CV_8U)
        return out
    if warped.ndim == 2:
        warped = warped[:, :, None]
    roi_f = roi.astype(np.float32).reshape(warped.shape[:2] + (-1,))
    if original is not None:
        blended = roi_f + warped
    else:
        c = roi_f.shape[2]
        blended = roi_f * (1.0 - warped[:, :, c:]) + warped[:, :, :c]
    if frame.dtype == np.uint8:
        blended = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    else:
        blended = blended.astype(frame.dtype)
    roi[...] = blended.reshape(roi.shape)
    return out


# ----------------------------------------------------------------------------- shape warp
def warp_crop(image: np.ndarray, field: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """``image`` (h, w[, C]) warped by a crop displacement ``field`` (h, w, 2):
    output(u) = image(u + strength * field(u)), bilinear, replicated borders; same dtype.
    Used to register training crops; frames use :func:`warp_face` (full resolution)."""
    h, w = image.shape[:2]
    if field.shape != (h, w, 2):
        raise FesguiError(f"shape field {field.shape[:2]} and image {(h, w)} differ: "
                          "use the field of the model fitted at this crop size")
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = np.asarray(field, np.float32) * np.float32(strength)
    return cv2.remap(image, xx + f[..., 0], yy + f[..., 1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


#: displacements shorter than this (crop pixels) are not applied: far below what shows, and
#: leaving them out keeps the warped region (and the cost) to where the face really moves
MIN_MOTION = 0.05
_SUPPORTS: dict[int, tuple[np.ndarray, np.ndarray, tuple]] = {}


def _field_support(field: np.ndarray) -> tuple[np.ndarray, tuple[tuple[int, int], tuple[int, int]]]:
    """(the field with motions under :data:`MIN_MOTION` set to 0, its support). Cached for
    read-only fields (a model's), so a live video pays for it once."""
    hit = _SUPPORTS.get(id(field))
    if hit is not None and hit[0] is field:
        return hit[1], hit[2]
    f = np.asarray(field, np.float32)
    still = np.hypot(f[..., 0], f[..., 1]) < MIN_MOTION
    f = np.where(still[..., None], np.float32(0), f).astype(np.float32)
    support = _support(~still)
    if not field.flags.writeable:
        if len(_SUPPORTS) > 8:
            _SUPPORTS.clear()
        _SUPPORTS[id(field)] = (field, f, support)
    return f, support


def warp_face(frame: np.ndarray, field: np.ndarray, matrix: np.ndarray,
              strength: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """``frame`` with the face moved by a crop displacement ``field`` at full resolution.

    ``field``: (h, w, 2) backward displacement in crop pixels (dx, dy) of the crop that
    ``matrix`` (frame -> crop) aligns; ``strength`` scales it. Each frame pixel x takes the
    value at x + A^-1 field(M x) (A: the matrix's linear part), so the motion is sampled from
    the frame itself, never from the small crop. Only the bounding box of the moving part
    is processed; every pixel whose displacement is zero, or under :data:`MIN_MOTION` crop
    pixels, (everything outside the face mask the field was multiplied by) is
    byte-identical to ``frame``: there the sampling point is the pixel itself, which
    bilinear sampling returns exactly, so the whole box is written without a mask.

    ``out``: an array of the frame's shape and dtype that receives the result and is
    returned (it may be ``frame`` itself: the moved pixels are all sampled before any is
    written). Default: a new array, or the frame itself when nothing moves.
    """
    m = np.asarray(matrix, np.float64)
    if strength == 0.0:
        return frame if out is None else _output(frame, out)
    field, (ys, xs) = _field_support(field)
    if ys[1] < ys[0]:
        return frame if out is None else _output(frame, out)
    fh, fw = frame.shape[:2]
    corners = np.array([[xs[0] - 1, ys[0] - 1], [xs[1] + 1, ys[0] - 1],
                        [xs[1] + 1, ys[1] + 1], [xs[0] - 1, ys[1] + 1]], np.float64)
    back = apply_matrix(cv2.invertAffineTransform(m), corners)
    x0, y0 = np.clip(np.floor(back.min(axis=0)).astype(int) - 1, 0, [fw, fh])
    x1, y1 = np.clip(np.ceil(back.max(axis=0)).astype(int) + 2, 0, [fw, fh])
    if x1 <= x0 or y1 <= y0:
        return frame if out is None else _output(frame, out)
    # the crop field sampled at every ROI pixel: frame (x, y) -> crop m @ (x + x0, y + y0, 1)
    roi_to_crop = m @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1.0]])
    crop_field = cv2.warpAffine(np.asarray(field, np.float32), roi_to_crop, (x1 - x0, y1 - y0),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # crop displacement -> frame displacement: A^-1 (a similarity: rotation / scale),
    # inverted in closed form (np.linalg.inv costs more than the rest for a 2x2)
    (a, b_), (c, d) = m[:, :2]
    det = a * d - b_ * c
    inv = np.array([[d, -b_], [-c, a]]) * (strength / det)
    fx, fy = cv2.split(crop_field)
    map_x = fx * np.float32(inv[0, 0])
    map_x += fy * np.float32(inv[0, 1])
    map_x += np.arange(x0, x1, dtype=np.float32)[None, :]
    map_y = fx * np.float32(inv[1, 0])
    map_y += fy * np.float32(inv[1, 1])
    map_y += np.arange(y0, y1, dtype=np.float32)[:, None]
    # where the field is 0 the map is the pixel's own (integer) position: bilinear
    # sampling there returns the frame's value exactly (OpenCV's weights are 1, 0, 0, 0)
    moved = cv2.remap(frame, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    out = frame.copy() if out is None else _output(frame, out)
    out[y0:y1, x0:x1] = moved.reshape(out[y0:y1, x0:x1].shape)
    return out


def _output(frame: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``out`` holding ``frame`` (a new copy when ``out`` is None; nothing to do when it
    is the frame itself)."""
    if out is None:
        return frame.copy()
    if out is frame:
        return out
    if out.shape != frame.shape or out.dtype != frame.dtype:
        raise FesguiError(f"the output array {out.dtype} {out.shape} differs from the frame "
                          f"{frame.dtype} {frame.shape}: give one of the frame's shape and "
                          "dtype")
    np.copyto(out, frame)
    return out
