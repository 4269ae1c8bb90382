"""Interoperability with the MR authors' code: models as ``scipy.sparse`` CSR matrices.

The authors store a model as one CSR matrix of shape ``(D, D + 1)`` per channel (saved
with ``scipy.sparse.save_npz``), ``D = H * W``: row = output pixel in row-major order,
column ``j < D`` = input pixel ``j`` (row-major), column ``D`` = bias. A later paper of
theirs shares one matrix across the three channels. The output of channel c is
``csr @ [x_c.ravel(); 1]``.

Note: the authors' code min-max scales each input image before applying the matrix;
fesgui does not (inputs are used as they are, in [0, 1]). Scale inputs yourself if an
imported model expects it.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
import scipy.sparse as sp

from fesgui.core.base import Model
from fesgui.core.geometry import valid_tap_mask
from fesgui.core.masked import MaskedRegression
from fesgui.core.modelio import _READ_ERRORS
from fesgui.errors import FesguiError

CsrSource = Union[str, os.PathLike, sp.spmatrix, "sp.sparray"]


def to_csr(model: Model) -> list[sp.csr_matrix]:
    """One ``(D, D+1)`` float32 CSR matrix per weight set (1 or 3); zero-padded taps are
    omitted. Pixel-KR is not linear and cannot be exported."""
    model._check_fitted()
    if model.method == "pixel-kr":
        raise FesguiError("a Pixel-KR model is not linear and cannot be exported as a CSR "
                          "matrix: export an MR or Pixel-RR model")
    K, H, W, _ = model.weights_.shape
    D = H * W
    offs = model.taps()
    valid = valid_tap_mask(H, W, int(model.size), int(model.dilation))  # (H, W, T)
    yy, xx, tt = np.nonzero(valid)
    rows = yy * W + xx
    cols = (yy + offs[tt, 0]) * W + (xx + offs[tt, 1])
    all_rows = np.concatenate([rows, np.arange(D)])
    all_cols = np.concatenate([cols, np.full(D, D)])
    mats = []
    for k in range(K):
        data = np.concatenate([model.weights_[k][yy, xx, tt], model.bias_[k].ravel()])
        mats.append(sp.csr_matrix((data.astype(np.float32), (all_rows, all_cols)),
                                  shape=(D, D + 1)))
    return mats


def _load_one(src: CsrSource) -> tuple[sp.csr_matrix, str]:
    if sp.issparse(src):
        return sp.csr_matrix(src), "matrix"
    path = Path(src)
    if not path.is_file() or path.stat().st_size == 0:
        raise FesguiError(f"CSR file {path} does not exist or is empty: check the path")
    try:
        mat = sp.load_npz(path)
    except _READ_ERRORS + (zipfile.BadZipFile,):
        raise FesguiError(f"{path} is not a scipy.sparse .npz matrix: give a file saved "
                          "with scipy.sparse.save_npz") from None
    return sp.csr_matrix(mat), path.name


def _square_side(D: int) -> int:
    side = math.isqrt(D)
    if side * side != D:
        raise FesguiError(f"a CSR matrix with D={D} pixels is not a square image: give "
                          "height and width (--height H --width W)")
    return side


def from_csr(source: CsrSource | Sequence[CsrSource], height: int | None = None,
             width: int | None = None) -> MaskedRegression:
    """A :class:`MaskedRegression` equal to CSR matrix/matrices ``(D, D+1)``.

    ``source``: a path or matrix (one set shared by all channels, color "shared") or a
    list of three (per-channel R, G, B). ``height``/``width`` default to a square image.
    Window size and dilation are inferred from the column offsets; a matrix whose
    non-zeros are not a local window around each pixel is refused.
    """
    items = list(source) if isinstance(source, (list, tuple)) else [source]
    if len(items) not in (1, 3):
        raise FesguiError(f"got {len(items)} CSR matrices: give one (shared) or three "
                          "(per-channel R, G, B)")
    loaded = [_load_one(s) for s in items]
    D = loaded[0][0].shape[0]
    if height is None and width is None:
        height = width = _square_side(D)
    elif height is None or width is None:
        raise FesguiError("only one of height/width given: give both, or neither for a square image")
    H, W = int(height), int(width)
    D = H * W
    coo = []
    for mat, name in loaded:
        if mat.shape != (D, D + 1):
            raise FesguiError(f"CSR matrix {name} has shape {mat.shape}, expected "
                              f"({D}, {D + 1}) for {H}x{W} images: check --height/--width")
        mat = mat.copy()
        mat.sum_duplicates()
        if not np.isfinite(mat.data).all():
            raise FesguiError(f"CSR matrix {name} contains NaN or Inf: fix or re-export the matrix")
        c = mat.tocoo()
        coo.append((c.row.astype(np.int64), c.col.astype(np.int64), c.data, name))

    # offsets of every stored weight (structure, explicit zeros included)
    dys, dxs = [], []
    for row, col, _, _name in coo:
        keep = col < D
        dys.append(col[keep] // W - row[keep] // W)
        dxs.append(col[keep] % W - row[keep] % W)
    dy, dx = np.concatenate(dys), np.concatenate(dxs)
    reach_ = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    dilation = int(np.gcd.reduce(np.abs(np.concatenate([dy, dx, [0]])))) or 1
    size = 2 * (reach_ // dilation) + 1
    if size > 31 or 2 * reach_ + 1 > min(H, W):
        raise FesguiError(f"CSR matrix weights reach {reach_} pixels away in a {H}x{W} "
                          "image: not a local window model (MR); only local receptive "
                          "fields can be imported")
    # a window model fills its window; a few far-off entries do not make one
    n_window = int(valid_tap_mask(H, W, size, dilation).sum()) * len(coo)
    if len(dy) < 0.5 * n_window:
        raise FesguiError(f"CSR matrix non-zeros fill only {len(dy)} of {n_window} places of "
                          f"the {size}x{size} window (dilation {dilation}) they span: not a "
                          "local window model (MR)")

    K = len(coo)
    half = size // 2
    weights = np.zeros((K, H, W, size * size), np.float64)
    bias = np.zeros((K, H, W), np.float64)
    for k, (row, col, data, _name) in enumerate(coo):
        is_bias = col == D
        bias.reshape(K, D)[k, row[is_bias]] = data[is_bias]
        r, c, v = row[~is_bias], col[~is_bias], data[~is_bias]
        # every offset is a multiple of the dilation within the reach (by construction)
        taps = (((c // W - r // W) // dilation + half) * size
                + (c % W - r % W) // dilation + half)
        weights[k, r // W, r % W, taps] = v
    model = MaskedRegression(size=size, dilation=dilation, lam=None,
                             color="per-channel" if K == 3 else "shared")
    model._set_linear_state(weights, bias, 3 if K == 3 else 1)
    model.set_meta(training_data=f"imported from CSR: {', '.join(n for *_, n in coo)}")
    return model
