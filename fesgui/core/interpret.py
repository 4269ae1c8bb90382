"""Interpretation helpers: the numbers behind one output pixel and whole-model maps.

The GUI only draws what these return (MR paper 5.1, Figs. 6-8 and 15).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fesgui.core.base import Model, as_float_images, check_is_fitted
from fesgui.core.pixel import LEVELS
from fesgui.errors import FesguiError


@dataclass(frozen=True)
class PixelArithmetic:
    """How output pixel (i, j, channel) is made from its input window.

    ``weights``/``patch``: ``(r, r)`` float32 (patch: input under the taps, 0 outside the
    image). ``wx = sum(weights * patch)``, ``output = wx + bias`` (= predict(x)[i, j, c]).
    For Pixel-KR, ``weights``/``bias`` are the least-squares line of its table and ``wx``
    is ``output - bias`` (the table is not linear). ``alpha``/``refined`` are set when
    an alpha map is given: ``refined = (1 - alpha) * input_value + alpha * output``.

    A sparse receptive field model (method "sparse") gives ``weights``/``patch`` as
    ``(1, F)`` (its tap slots), ``positions`` ``(F, 2)`` int ``(row, col)`` of the input
    pixels they read (padded slots: the pixel itself with weight 0), ``patch`` the input
    as its matrix sees it (after its input min-max scaling), ``wx + bias = raw`` (the
    matrix output) and ``output = out_scale * raw + out_offset`` (its output scaling;
    1 and 0 without one); ``scaled_input`` the pixel's own input as the matrix sees it.
    """

    i: int
    j: int
    channel: int
    weights: np.ndarray
    patch: np.ndarray
    wx: float
    bias: float
    output: float
    input_value: float
    alpha: float | None = None
    refined: float | None = None
    positions: np.ndarray | None = None
    raw: float | None = None
    out_scale: float = 1.0
    out_offset: float = 0.0
    scaled_input: float | None = None


def _channel_image(model: Model, x: np.ndarray, channel: int) -> np.ndarray:
    """The ``(H, W)`` input plane that feeds output channel ``channel``."""
    x = as_float_images(x)
    if x.shape[:2] != model.image_size or x.ndim not in (2, 3):
        h, w = model.image_size
        raise FesguiError(f"image of shape {x.shape} does not fit this {h}x{w} model: "
                          f"give one aligned {h}x{w} image")
    return np.asarray(x if x.ndim == 2 else x[..., channel], dtype=np.float64)


def window_patch(model: Model, plane: np.ndarray, i: int, j: int) -> np.ndarray:
    """``(r, r)`` input values under the taps of pixel ``(i, j)``; 0 outside the image."""
    h, w = plane.shape
    r = model.size_
    out = np.zeros(r * r)
    for t, (dy, dx) in enumerate(model.taps()):
        y, xx = i + dy, j + dx
        if 0 <= y < h and 0 <= xx < w:
            out[t] = plane[y, xx]
    return out.reshape(r, r)


def pixel_arithmetic(model: Model, x: np.ndarray, i: int, j: int, channel: int = 0,
                     alpha: np.ndarray | None = None, *, scaled: np.ndarray | None = None,
                     scaling: tuple[float, float] | None = None) -> PixelArithmetic:
    """The arithmetic of output pixel ``(i, j, channel)`` for input image ``x``.

    A sparse model's ``scaled`` (``model.scaled_input(x)``) and ``scaling``
    (``model.output_scaling(x)``), when the caller already has them for this ``x``, are
    not computed again (each costs a pass over the image)."""
    if not model.local_window:
        return _sparse_arithmetic(model, x, i, j, channel, alpha, scaled, scaling)
    weights, bias = model.receptive_field(i, j, channel)
    plane = _channel_image(model, x, channel)
    patch = window_patch(model, plane, i, j)
    if model.has_table:
        level = int(np.clip(plane[i, j], 0.0, 1.0) * 255.0 + 0.5)
        output = float(model.table_[model._weight_set(channel), i, j, level])
        wx = output - bias
    else:
        wx = float(np.sum(weights.astype(np.float64) * patch))
        output = wx + bias
    a = refined = None
    if alpha is not None:
        a = float(np.asarray(alpha)[i, j])
        refined = (1.0 - a) * float(plane[i, j]) + a * output
    return PixelArithmetic(i, j, channel, weights, patch.astype(np.float32), wx, bias,
                           output, float(plane[i, j]), a, refined)


def _sparse_arithmetic(model: Model, x: np.ndarray, i: int, j: int, channel: int,
                       alpha: np.ndarray | None, scaled_x: np.ndarray | None = None,
                       scaling: tuple[float, float] | None = None) -> PixelArithmetic:
    weights, bias = model.receptive_field(i, j, channel)
    plane = _channel_image(model, x, channel)
    positions = model.tap_positions(i, j, channel)
    scaled = _channel_image(model, model.scaled_input(x) if scaled_x is None else scaled_x,
                            channel)
    patch = scaled[positions[:, 0], positions[:, 1]]
    wx = float(np.sum(weights[0].astype(np.float64) * patch))
    raw = wx + bias
    scale, offset = model.output_scaling(x) if scaling is None else scaling
    output = scale * raw + offset
    own = float(scaled[i, j])
    a = refined = None
    if alpha is not None:
        a = float(np.asarray(alpha)[i, j])
        refined = (1.0 - a) * float(plane[i, j]) + a * output
    return PixelArithmetic(i, j, channel, weights, patch[None].astype(np.float32), wx, bias,
                           output, float(plane[i, j]), a, refined, positions, raw, scale,
                           offset, own)


def tap_reach_map(model: Model, channel: int | None = None) -> np.ndarray:
    """``(H, W)`` float32: the distance (pixels, Euclidean) from each output pixel to the
    farthest input pixel it reads with a non-zero weight (0 for a pixel that reads only
    itself or nothing). ``channel`` None: the farthest over all weight sets."""
    check_is_fitted(model)
    H, W = model.image_size
    sets = range(model.K) if channel is None else [model._weight_set(channel)]
    ii, jj = np.mgrid[0:H, 0:W]
    out = np.zeros((H, W))
    for k in sets:
        w = model.weights_[k]
        if not model.local_window:
            flat = model.index_[k].astype(np.int64)
            dist = np.hypot(flat // W - ii[..., None], flat % W - jj[..., None])
        else:
            offs = model.taps()
            dist = np.broadcast_to(np.hypot(offs[:, 0], offs[:, 1]), w.shape)
        out = np.maximum(out, np.where(w != 0, dist, 0.0).max(axis=-1, initial=0.0))
    return out.astype(np.float32)


def importance(model: Model, x: np.ndarray, *,
               parts: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, float]:
    """``(mean |W x|, mean |b|)`` over all pixels and channels of one image (MR paper
    Fig. 8): how much of the output comes from the input vs. from the bias. ``parts`` is
    ``model.decompose(x)`` when the caller already has it (it is not computed again)."""
    wx, b = model.decompose(x) if parts is None else parts
    return float(np.abs(wx).mean(dtype=np.float64)), float(np.abs(b).mean(dtype=np.float64))


def tap_map(model: Model, tap: int | tuple[int, int], channel: int = 0) -> np.ndarray:
    """``(H, W)`` float32: the weight of one tap at every pixel. ``tap`` is the tap index
    (row-major) or its offset ``(dy, dx)``; taps outside the image are 0."""
    k = model._weight_set(channel)
    offsets = model.taps()
    if isinstance(tap, tuple):
        hits = np.flatnonzero((offsets == np.asarray(tap)).all(axis=1))
        if len(hits) != 1:
            raise FesguiError(f"tap offset {tap} is not in this model's window: use one of "
                              f"{[tuple(int(v) for v in o) for o in offsets]}")
        index = int(hits[0])
    else:
        index = int(tap)
        if not 0 <= index < len(offsets):
            raise FesguiError(f"tap={tap} out of range: use 0..{len(offsets) - 1}")
    return model.weights_[k, :, :, index].copy()


def transfer_curve(model: Model, i: int, j: int, channel: int = 0,
                   x: np.ndarray | None = None, *, scaled: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Output of pixel ``(i, j)`` as a function of its own input value:
    ``(levels (256,), values (256,))`` float32, levels = v/255.

    Pixel-KR: its table. Pixel-RR: ``w v + b``. MR: the centre-tap line with the other
    taps held at the current input ``x`` (or at 0 without ``x``). Sparse: the matrix
    output (before any output scaling) against the input the matrix sees at the pixel,
    its own-pixel taps' weight times the level, the other taps held at ``x`` (or 0);
    ``scaled``: its ``model.scaled_input(x)`` when the caller already has it."""
    weights, bias = model.receptive_field(i, j, channel)
    levels = LEVELS.astype(np.float32)
    if not model.local_window:
        positions = model.tap_positions(i, j, channel)
        own = (positions[:, 0] == i) & (positions[:, 1] == j)
        w = weights[0].astype(np.float64)
        rest = 0.0
        if x is not None:
            seen = model.scaled_input(x) if scaled is None else scaled
            plane = _channel_image(model, seen, channel)
            rest = float(np.sum(w[~own] * plane[positions[~own, 0], positions[~own, 1]]))
        return levels, (float(w[own].sum()) * LEVELS + rest + bias).astype(np.float32)
    if model.has_table:
        return levels, model.table_[model._weight_set(channel), i, j].copy()
    r = model.size_
    centre = float(weights[r // 2, r // 2])
    rest = 0.0
    if x is not None:
        patch = window_patch(model, _channel_image(model, x, channel), i, j)
        patch[r // 2, r // 2] = 0.0
        rest = float(np.sum(weights.astype(np.float64) * patch))
    return levels, (centre * LEVELS + rest + bias).astype(np.float32)


def flow_image(field: np.ndarray, scale: float | None = None) -> np.ndarray:
    """A displacement field ``(H, W, 2)`` (dx, dy) as an RGB colour wheel ``(H, W, 3)``
    float32 in [0, 1]: the hue is the direction the pixel's content comes *from*
    (0 deg = from the right, red), the brightness its length over ``scale`` (default: the
    largest length; black = no motion)."""
    f = np.asarray(field, np.float64)
    if f.ndim != 3 or f.shape[2] != 2:
        raise FesguiError(f"a displacement field is (H, W, 2), got {f.shape}")
    length = np.hypot(f[..., 0], f[..., 1])
    top = float(length.max()) if scale is None else float(scale)
    value = np.clip(length / top, 0.0, 1.0) if top > 0 else np.zeros_like(length)
    hue = (np.degrees(np.arctan2(f[..., 1], f[..., 0])) % 360.0) / 60.0
    # HSV -> RGB with saturation 1 (the standard sector formula)
    k = (np.array([5.0, 3.0, 1.0]) + hue[..., None]) % 6.0
    rgb = value[..., None] * (1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return rgb.astype(np.float32)


def field_vector(field: np.ndarray, i: int, j: int) -> tuple[float, float]:
    """``(dx, dy)`` of pixel ``(i, j)``: the output there fetches the input at
    ``(j + dx, i + dy)`` (crop pixels)."""
    h, w = field.shape[:2]
    if not (0 <= i < h and 0 <= j < w):
        raise FesguiError(f"pixel ({i}, {j}) is outside the {h}x{w} field: "
                          f"use 0 <= i < {h}, 0 <= j < {w}")
    return float(field[i, j, 0]), float(field[i, j, 1])
