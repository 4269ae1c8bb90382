"""Interoperability with the MR authors' code: models as ``scipy.sparse`` CSR matrices.

The authors store a model as one CSR matrix of shape ``(D, D + 1)`` per channel (saved
with ``scipy.sparse.save_npz``), ``D = H * W``: row = output pixel in row-major order,
column ``j < D`` = input pixel ``j`` (row-major), column ``D`` = bias. A later paper of
theirs shares one matrix across the three channels. The output of channel c is
``csr @ [x_c.ravel(); 1]``.

Matrices whose weights fill a local window around each pixel become Masked Regression
models; any other (the authors' LSRF and OMP models: a few taps per pixel, anywhere)
becomes a :class:`~fesgui.core.sparse.SparseReceptiveField`, which can also record the
authors' per-image min-max scaling and their framing (``fesgui convert`` does so by
default). An MR model uses its input as it is, in [0, 1].
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

from fesgui.core.base import Model, check_is_fitted
from fesgui.core.geometry import MAX_WINDOW, valid_tap_mask
from fesgui.core.masked import MaskedRegression
from fesgui.core.modelio import _READ_ERRORS, MAX_IMAGE_SIDE, read_npy_member
from fesgui.core.sparse import MAX_TAPS, SparseReceptiveField
from fesgui.errors import FesguiError

CsrSource = Union[str, os.PathLike, sp.spmatrix, "sp.sparray"]


def to_csr(model: Model) -> list[sp.csr_matrix]:
    """One ``(D, D+1)`` float32 CSR matrix per weight set (1 or 3); zero-padded taps are
    omitted. Pixel-KR is not linear and cannot be exported."""
    check_is_fitted(model)
    if model.has_table:
        raise FesguiError("a Pixel-KR model is not linear and cannot be exported as a CSR "
                          "matrix: export an MR or Pixel-RR model")
    if not model.local_window:
        return _sparse_to_csr(model)
    K, H, W, _ = model.weights_.shape
    D = H * W
    offs = model.taps()
    valid = valid_tap_mask(H, W, model.size_, model.dilation_)  # (H, W, T)
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


def _sparse_to_csr(model: SparseReceptiveField) -> list[sp.csr_matrix]:
    """The non-zeros of a sparse model (taps and biases; padded slots are 0) as CSR."""
    K, H, W, F = model.index_.shape
    D = H * W
    rows = np.concatenate([np.repeat(np.arange(D), F), np.arange(D)])
    mats = []
    for k in range(K):
        cols = np.concatenate([model.index_[k].reshape(-1), np.full(D, D)])
        data = np.concatenate([model.weights_[k].reshape(-1), model.bias_[k].reshape(-1)])
        keep = data != 0
        mat = sp.csr_matrix((data[keep].astype(np.float32), (rows[keep], cols[keep])),
                            shape=(D, D + 1))
        mat.sum_duplicates()
        mats.append(mat)
    return mats


#: the most pixels a CSR model may have (rows D = H * W; columns D + 1)
MAX_CSR_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE
#: the most stored entries per row: a full MAX_WINDOW x MAX_WINDOW window (MR) or
#: MAX_TAPS taps anywhere (a sparse receptive field), and the bias
MAX_CSR_ROW = max(MAX_WINDOW * MAX_WINDOW, MAX_TAPS) + 1


def _too_dense(name: str, n: int) -> str:
    return (f"CSR matrix {name} has a row of {n} weights: too dense for a local window model "
            f"(at most {MAX_WINDOW}x{MAX_WINDOW}) or a sparse receptive field (at most "
            f"{MAX_TAPS} taps per pixel); such a dense matrix cannot be imported")


def validate_csr_arrays(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                        shape: object, name: str = "matrix") -> tuple[int, int]:
    """Check the raw arrays of a CSR matrix before scipy's compiled code sees them.

    scipy trusts ``indptr`` and ``indices``: a row pointer that runs backwards or past the
    end, or a column index out of range, reads out of bounds (a segfault) or raises deep
    inside scipy. Here every one is refused with a one-line :class:`FesguiError`:
    ``shape`` two positive integers (at most :data:`MAX_CSR_PIXELS` rows and one more
    column); ``indptr`` 1-D integers, ``rows + 1`` long, from 0, never decreasing, ending at
    ``nnz``; ``indices`` 1-D integers in ``[0, columns)``; ``data`` 1-D real numbers, finite,
    ``nnz`` long; at most :data:`MAX_CSR_ROW` entries per row. Returns ``(rows, columns)``.
    """
    def bad(why: str) -> FesguiError:
        return FesguiError(f"CSR matrix {name} is damaged ({why}): re-export it with "
                           "scipy.sparse.save_npz")

    shape = np.asarray(shape)
    if shape.shape != (2,) or shape.dtype.kind not in "iu":
        raise bad(f"its shape {shape.tolist()!r} is not two whole numbers")
    rows, cols = (int(v) for v in shape)
    if rows < 1 or cols < 1:
        raise bad(f"its shape is {rows}x{cols}")
    if rows > MAX_CSR_PIXELS or cols > MAX_CSR_PIXELS + 1:
        raise FesguiError(f"CSR matrix {name} is {rows}x{cols}: larger than any face model "
                          f"(at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} pixels)")
    for label, array in (("indptr", indptr), ("indices", indices)):
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise bad(f"its {label} is not a 1-D integer array")
    if data.ndim != 1 or data.dtype.kind not in "fiub":
        raise bad(f"its data is {data.dtype} {data.shape}, not a 1-D array of numbers")
    nnz = len(data)
    if len(indptr) != rows + 1:
        raise bad(f"its indptr has {len(indptr)} entries for {rows} rows")
    if len(indices) != nnz:
        raise bad(f"{len(indices)} column indices for {nnz} values")
    if indptr[0] != 0 or indptr[-1] != nnz:
        raise bad(f"its indptr runs from {indptr[0]} to {indptr[-1]}, not from 0 to {nnz}")
    steps = np.diff(indptr.astype(np.int64))
    if (steps < 0).any():
        raise bad("its indptr decreases")
    if nnz and steps.max() > MAX_CSR_ROW:
        raise FesguiError(_too_dense(name, int(steps.max())))
    if nnz and (int(indices.min()) < 0 or int(indices.max()) >= cols):
        raise bad(f"a column index lies outside 0..{cols - 1}")
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise FesguiError(f"CSR matrix {name} contains NaN or Inf: fix or re-export the matrix")
    return rows, cols


def _read_csr_npz(path: Path) -> sp.csr_matrix:
    """A CSR (or CSC) matrix saved by ``scipy.sparse.save_npz``, read member by member with
    size caps and validated by :func:`validate_csr_arrays` before scipy builds it."""
    def bad(why: str) -> FesguiError:
        return FesguiError(f"{path} is not a usable scipy.sparse .npz matrix ({why}): give "
                           "a file saved with scipy.sparse.save_npz")

    with zipfile.ZipFile(path) as zf:
        def member(name: str, limit: int) -> np.ndarray:
            try:
                info = zf.getinfo(f"{name}.npy")
            except KeyError:
                raise bad(f"no {name!r} array") from None
            return read_npy_member(zf, info, limit,
                                   lambda why: bad(f"the {name!r} array {why}"))

        fmt = member("format", 4096)
        fmt = fmt.item() if fmt.size == 1 else None
        fmt = fmt.decode("ascii", "replace") if isinstance(fmt, bytes) else fmt
        if fmt not in ("csr", "csc"):
            raise bad(f"format {fmt!r}; convert it with .tocsr() first")
        shape = member("shape", 4096)
        if shape.shape != (2,) or shape.dtype.kind not in "iu":
            raise bad(f"its shape {shape.tolist()!r} is not two whole numbers")
        major = int(shape[0] if fmt == "csr" else shape[1])
        if not 0 < major <= MAX_CSR_PIXELS + 1:
            raise FesguiError(f"CSR matrix {path.name} is {shape[0]}x{shape[1]}: larger than "
                              f"any face model (at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} "
                              "pixels)")
        cap = (major + 1) * 8 + 4096
        indptr = member("indptr", cap)
        if indptr.ndim == 1 and indptr.dtype.kind in "iu" and len(indptr) > 1:
            widest = int(np.diff(indptr.astype(np.int64)).max())
            if widest > MAX_CSR_ROW:  # say so before reading a too-large data array
                raise FesguiError(_too_dense(path.name, widest))
        cap = (major * MAX_CSR_ROW) * 8 + 4096
        indices, data = member("indices", cap), member("data", cap)
    if fmt == "csc":  # validate as the transposed CSR it is, then let scipy convert
        validate_csr_arrays(data, indices, indptr, shape[::-1], path.name)
        return sp.csc_matrix((data, indices, indptr), shape=tuple(int(v) for v in shape)
                             ).tocsr()
    validate_csr_arrays(data, indices, indptr, shape, path.name)
    return sp.csr_matrix((data, indices, indptr), shape=tuple(int(v) for v in shape))


def _load_one(src: CsrSource) -> tuple[sp.csr_matrix, str]:
    if sp.issparse(src):
        mat = sp.csr_matrix(src)
        validate_csr_arrays(mat.data, mat.indices, mat.indptr, mat.shape)
        return mat, "matrix"
    path = Path(src)
    if not path.is_file() or path.stat().st_size == 0:
        raise FesguiError(f"CSR file {path} does not exist or is empty: check the path")
    try:
        mat = _read_csr_npz(path)  # validated before scipy touches the arrays
    except _READ_ERRORS + (zipfile.BadZipFile,):
        raise FesguiError(f"{path} is not a scipy.sparse .npz matrix: give a file saved "
                          "with scipy.sparse.save_npz") from None
    return mat, path.name


# -- checks for the sparse receptive field import (issue 16); kept apart from the generic
# -- CSR array validation so that the two merge cleanly
def check_square_plus_one(mat: sp.csr_matrix, name: str) -> None:
    """A model matrix is ``(D, D + 1)``: one row per output pixel, one column per input
    pixel plus the bias column."""
    rows, cols = mat.shape
    if rows < 1 or cols != rows + 1:
        raise FesguiError(f"CSR matrix {name} has shape {mat.shape}, not (D, D+1) (one row "
                          "per pixel, one column per pixel plus a bias column): give the "
                          "model's matrix as saved with scipy.sparse.save_npz")


def check_sparse_layout(mat: sp.csr_matrix, name: str) -> None:
    """Every stored position is inside the matrix and the row pointers only go up, so
    that nothing reads outside the arrays (a damaged or hand-made file)."""
    indptr, indices = np.asarray(mat.indptr), np.asarray(mat.indices)
    if len(indptr) != mat.shape[0] + 1 or (len(indptr) and (indptr[0] != 0 or np.any(
            np.diff(indptr) < 0) or indptr[-1] != len(indices))):
        raise FesguiError(f"CSR matrix {name} has inconsistent row pointers: the file is "
                          "damaged; re-export it with scipy.sparse.save_npz")
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= mat.shape[1]):
        raise FesguiError(f"CSR matrix {name} has column indices outside 0..{mat.shape[1] - 1}: "
                          "the file is damaged; re-export it with scipy.sparse.save_npz")


def _square_side(D: int) -> int:
    side = math.isqrt(D)
    if side * side != D:
        raise FesguiError(f"a CSR matrix with D={D} pixels is not a square image: give "
                          "height and width (--height H --width W)")
    return side


def from_csr(source: CsrSource | Sequence[CsrSource], height: int | None = None,
             width: int | None = None, preprocess: object = None,
             template: object = None) -> Model:
    """A model equal to CSR matrix/matrices ``(D, D+1)``.

    ``source``: a path or matrix (one set shared by all channels, color "shared") or a
    list of three (per-channel R, G, B). ``height``/``width`` default to a square image.
    A matrix whose stored weights fill a local window around each pixel becomes a
    :class:`MaskedRegression` (window size and dilation inferred from the column
    offsets); any other becomes a :class:`~fesgui.core.sparse.SparseReceptiveField`
    (at most ``MAX_TAPS`` weights per row), which records ``preprocess`` and
    ``template`` (see :mod:`fesgui.core.sparse`; an MR model ignores them).
    """
    items = list(source) if isinstance(source, (list, tuple)) else [source]
    if len(items) not in (1, 3):
        raise FesguiError(f"got {len(items)} CSR matrices: give one (shared) or three "
                          "(per-channel R, G, B)")
    loaded = [_load_one(s) for s in items]
    for mat, name in loaded:
        check_square_plus_one(mat, name)
    D = loaded[0][0].shape[0]
    if height is None and width is None:
        height = width = _square_side(D)
    elif height is None or width is None:
        raise FesguiError("only one of height/width given: give both, or neither for a square image")
    H, W = int(height), int(width)
    D = H * W
    coo = []
    for mat, name in loaded:
        check_sparse_layout(mat, name)
        if mat.shape != (D, D + 1):
            raise FesguiError(f"CSR matrix {name} has shape {mat.shape}, expected "
                              f"({D}, {D + 1}) for {H}x{W} images: check --height/--width")
        mat = mat.copy()
        mat.sum_duplicates()
        if not np.isfinite(mat.data).all():
            raise FesguiError(f"CSR matrix {name} contains NaN or Inf: fix or re-export the matrix")
        c = mat.tocoo()
        coo.append((c.row.astype(np.int64), c.col.astype(np.int64), c.data, name))

    window = _window_geometry(coo, H, W)
    if window is None:  # not a dense local window: a sparse receptive field model
        return _sparse_from_coo(coo, H, W, preprocess, template)
    size, dilation = window
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
    model._set_state({"weights": weights, "bias": bias}, 3 if K == 3 else 1)
    model.set_provenance(training_data=f"imported from CSR: {', '.join(n for *_, n in coo)}")
    return model


def _window_geometry(coo: list, H: int, W: int) -> tuple[int, int] | None:
    """``(size, dilation)`` when the stored weights (explicit zeros included) fill a
    local window around each pixel (an MR model), else ``None``."""
    D = H * W
    dys, dxs = [], []
    for row, col, _, _name in coo:
        keep = col < D
        dys.append(col[keep] // W - row[keep] // W)
        dxs.append(col[keep] % W - row[keep] % W)
    dy, dx = np.concatenate(dys), np.concatenate(dxs)
    reach_ = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    dilation = int(np.gcd.reduce(np.abs(np.concatenate([dy, dx, [0]])))) or 1
    size = 2 * (reach_ // dilation) + 1
    if size > MAX_WINDOW or 2 * reach_ + 1 > min(H, W):
        return None
    # a window model fills its window; a few far-off entries do not make one
    n_window = int(valid_tap_mask(H, W, size, dilation).sum()) * len(coo)
    if len(dy) < 0.5 * n_window:
        return None
    return size, dilation


def _sparse_from_coo(coo: list, H: int, W: int, preprocess: object,
                     template: object) -> SparseReceptiveField:
    """A :class:`SparseReceptiveField` holding exactly the non-zeros of the matrices."""
    D = H * W
    K = len(coo)
    parts = []
    for row, col, data, name in coo:
        keep = data != 0  # explicit zeros are not taps
        row, col, data = row[keep], col[keep], data[keep]
        is_bias = col == D
        counts = np.bincount(row[~is_bias], minlength=D)
        parts.append((row, col, data, is_bias, counts, name))
    F = max(1, max(int(p[4].max(initial=0)) for p in parts))
    if F > MAX_TAPS:
        worst = max(parts, key=lambda p: int(p[4].max(initial=0)))
        raise FesguiError(f"CSR matrix {worst[5]} has rows with up to {F} weights: neither a "
                          f"local window (MR) nor a sparse receptive field (at most "
                          f"{MAX_TAPS} per pixel); such a dense matrix cannot be imported")
    index = np.empty((K, D, F), np.int32)
    index[:] = np.arange(D, dtype=np.int32)[None, :, None]  # padding: own pixel, weight 0
    weights = np.zeros((K, D, F), np.float32)
    bias = np.zeros((K, D), np.float32)
    for k, (row, col, data, is_bias, counts, _name) in enumerate(parts):
        bias[k, row[is_bias]] = data[is_bias]
        r, c, v = row[~is_bias], col[~is_bias], data[~is_bias]
        # COO from a canonical CSR is sorted by row then column: slot = rank in its row
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(len(r)) - starts[r]
        index[k, r, slot] = c
        weights[k, r, slot] = v
    # slot 0 = each pixel's strongest tap, and so on (padding last): a tap-slot map then
    # shows the main weights; the CSR order is restored on export
    order = np.argsort(-np.abs(weights), axis=-1, kind="stable")
    index = np.take_along_axis(index, order, axis=-1)
    weights = np.take_along_axis(weights, order, axis=-1)
    model = SparseReceptiveField(color="per-channel" if K == 3 else "shared",
                                 preprocess=preprocess, template=template)
    model._set_state({"index": index.reshape(K, H, W, F), "weights": weights.reshape(K, H, W, F),
                      "bias": bias.reshape(K, H, W)}, 3 if K == 3 else 1)
    model.set_provenance(training_data=f"imported from CSR: {', '.join(p[5] for p in parts)}")
    return model
