"""Receptive-field geometry: which input pixels (taps) an output pixel looks at.

An output pixel ``(i, j)`` of a model with window ``size`` r (odd) and ``dilation`` d looks
at the r x r input pixels ``(i + dy, j + dx)`` with ``dy, dx`` in ``d * (-(r // 2) ...
r // 2)``. Taps are numbered in row-major order of the r x r window. Taps that fall
outside the image do not exist (zero padding: their weights are exactly 0).
"""

from __future__ import annotations

import numpy as np

from fesgui.errors import FesguiError

#: the largest window (size x size taps) fesgui fits and loads: larger ones cost memory
#: as the square of the size and no published MR model is near it
MAX_WINDOW = 15


def check_size_dilation(size: object, dilation: object) -> tuple[int, int]:
    """Validate a window ``size`` (odd >= 1) and ``dilation`` (>= 1); return them as ints."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise FesguiError(f"size={size!r} must be an odd whole number: use 1, 3, 5, 7 or 9")
    if size < 1 or size % 2 == 0:
        raise FesguiError(f"size={size} must be odd and >= 1: use {max(1, size - 1) | 1} "
                          f"or {max(1, size + 1) | 1}")
    if size > MAX_WINDOW:
        raise FesguiError(f"size={size} is larger than fesgui supports: use at most "
                          f"{MAX_WINDOW} (3 or 5 work best)")
    if isinstance(dilation, bool) or not isinstance(dilation, (int, np.integer)):
        raise FesguiError(f"dilation={dilation!r} must be a whole number >= 1: use 1 or 2")
    if dilation < 1:
        raise FesguiError(f"dilation={dilation} must be >= 1: use 1 (adjacent taps) or 2")
    return int(size), int(dilation)


def tap_offsets(size: int, dilation: int = 1) -> np.ndarray:
    """``(size * size, 2)`` int64 offsets ``(dy, dx)`` of the taps, row-major, dilation included."""
    h = size // 2
    steps = np.arange(-h, h + 1, dtype=np.int64) * dilation
    dy, dx = np.meshgrid(steps, steps, indexing="ij")
    return np.stack([dy.ravel(), dx.ravel()], axis=1)


def reach(size: int, dilation: int = 1) -> int:
    """How far (pixels) the window reaches from its centre: ``dilation * (size // 2)``."""
    return dilation * (size // 2)


def valid_tap_mask(height: int, width: int, size: int, dilation: int = 1) -> np.ndarray:
    """``(H, W, size * size)`` bool: True where the tap lies inside the image."""
    return valid_tap_mask_offsets(height, width, tap_offsets(size, dilation))


def valid_tap_mask_offsets(height: int, width: int, offs: np.ndarray) -> np.ndarray:
    """``(H, W, len(offs))`` bool: True where the tap ``(dy, dx)`` lies inside the image."""
    ii = np.arange(height)[:, None, None] + offs[None, None, :, 0]
    jj = np.arange(width)[None, :, None] + offs[None, None, :, 1]
    return (ii >= 0) & (ii < height) & (jj >= 0) & (jj < width)
