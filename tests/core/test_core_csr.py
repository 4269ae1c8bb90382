"""CSR interoperability: exported matrices reproduce predict; imports equal csr @ [x; 1]."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from core_reference import assert_one_line

from fesgui.core import MaskedRegression, PixelKernelRegression, PixelRegression, from_csr, to_csr
from fesgui.errors import FesguiError


def csr_apply(mats, x):
    """Apply the authors' way: per channel, csr @ [x_c.ravel(); 1]."""
    x = np.asarray(x, np.float64)
    planes = [x] if x.ndim == 2 else [x[..., c] for c in range(3)]
    outs = [(mats[c if len(mats) == 3 else 0] @ np.append(p.ravel(), 1.0)).reshape(p.shape)
            for c, p in enumerate(planes)]
    return outs[0] if x.ndim == 2 else np.stack(outs, axis=-1)


@pytest.mark.parametrize("size,dilation,color", [(3, 1, "shared"), (3, 2, "per-channel"),
                                                 (5, 1, "gray"), (5, 2, "shared")])
def test_export_reproduces_predict(rgb_pairs, size, dilation, color):
    X, T = rgb_pairs
    model = MaskedRegression(size=size, dilation=dilation, color=color).fit(X, T)
    mats = to_csr(model)
    H, W = model.image_size
    D = H * W
    assert len(mats) == (3 if color == "per-channel" else 1)
    valid_taps = sum(1 for i in range(H) for j in range(W) for dy, dx in model.taps()
                     if 0 <= i + dy < H and 0 <= j + dx < W)
    for m in mats:
        assert sp.isspmatrix_csr(m) and m.shape == (D, D + 1)
        assert m.nnz == valid_taps + D  # padded taps omitted, one bias per row
    x = X[3]
    np.testing.assert_allclose(csr_apply(mats, x), model.predict(x), atol=1e-5)


@pytest.mark.parametrize("size,dilation,color", [(3, 1, "per-channel"), (3, 2, "shared"),
                                                 (1, 1, "shared"), (5, 2, "per-channel")])
def test_round_trip_keeps_weights(rgb_pairs, size, dilation, color):
    X, T = rgb_pairs
    model = MaskedRegression(size=size, dilation=dilation, color=color).fit(X, T)
    back = from_csr(to_csr(model), 9, 11)
    assert (back.size, back.dilation) == (size, dilation)
    assert back.color == ("per-channel" if color == "per-channel" else "shared")
    np.testing.assert_array_equal(back.weights_, model.weights_)
    np.testing.assert_array_equal(back.bias_, model.bias_)


def random_local_csr(H, W, size, dilation, seed):
    """A model in the authors' format, built independently with scipy.sparse.lil_matrix."""
    rng = np.random.default_rng(seed)
    D = H * W
    m = sp.lil_matrix((D, D + 1))
    h = size // 2
    for i in range(H):
        for j in range(W):
            for dy in range(-h, h + 1):
                for dx in range(-h, h + 1):
                    y, x = i + dy * dilation, j + dx * dilation
                    if 0 <= y < H and 0 <= x < W:
                        m[i * W + j, y * W + x] = rng.normal()
            m[i * W + j, D] = rng.normal()
    return m.tocsr()


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("size,dilation", [(3, 1), (3, 2), (5, 1)])
def test_import_equals_csr_matvec(tmp_path, count, size, dilation):
    H, W = 7, 6
    mats = [random_local_csr(H, W, size, dilation, seed=s) for s in range(count)]
    paths = []
    for c, m in enumerate(mats):
        sp.save_npz(tmp_path / f"m{c}.npz", m)
        paths.append(tmp_path / f"m{c}.npz")
    model = from_csr(paths if count == 3 else paths[0], H, W)
    assert (model.size_, model.dilation_) == (size, dilation)
    x = np.random.default_rng(9).random((H, W, 3))
    np.testing.assert_allclose(model.predict(x), csr_apply(mats, x), atol=1e-5)
    if count == 1:
        np.testing.assert_allclose(model.predict(x[..., 0]), csr_apply(mats, x[..., 0]),
                                   atol=1e-5)


def test_square_size_is_inferred_and_non_square_needs_height_width():
    m = random_local_csr(6, 6, 3, 1, seed=1)
    assert from_csr(m).image_size == (6, 6)
    rect = random_local_csr(4, 6, 3, 1, seed=1)
    with pytest.raises(FesguiError, match="height and width") as exc:
        from_csr(rect)
    assert_one_line(exc)
    assert from_csr(rect, 4, 6).image_size == (4, 6)


def test_bad_matrices_are_refused(rgb_pairs, tmp_path):
    m = random_local_csr(6, 6, 3, 1, seed=2)
    dense_global = sp.csr_matrix(np.random.default_rng(0).random((400, 401)))  # > MAX_TAPS
    (tmp_path / "junk.npz").write_bytes(b"not a matrix")
    cases = [
        lambda: from_csr(m, 5, 7),  # wrong shape for the size
        lambda: from_csr(sp.csr_matrix((36, 36))),  # no bias column
        lambda: from_csr(dense_global, 20, 20),
        lambda: from_csr([m, m], 6, 6),
        lambda: from_csr(m, 6, None),
        lambda: from_csr(tmp_path / "junk.npz"),
        lambda: from_csr(tmp_path / "absent.npz"),
        lambda: to_csr(PixelKernelRegression(sigma=0.3).fit(*rgb_pairs)),
        lambda: to_csr(MaskedRegression()),
    ]
    for case in cases:
        with pytest.raises(FesguiError) as exc:
            case()
        assert_one_line(exc)


def test_scattered_weights_become_a_sparse_model():
    m = random_local_csr(6, 6, 3, 1, seed=2)
    scattered = m.tolil()
    scattered[0, 35] = 1.0  # pixel (0, 0) looking at (5, 5): not a local window
    model = from_csr(scattered.tocsr(), 6, 6)
    assert model.method == "sparse"
    x = np.random.default_rng(1).random((6, 6, 3))
    np.testing.assert_allclose(model.predict(x), csr_apply([scattered.tocsr()], x),
                               atol=2e-6, rtol=1e-5)


def test_pixel_rr_exports_a_diagonal(rgb_pairs):
    model = PixelRegression().fit(*rgb_pairs)
    (m,) = to_csr(model)
    D = 9 * 11
    np.testing.assert_allclose(m[:, :D].diagonal(), model.weights_[0, ..., 0].ravel())
    np.testing.assert_allclose(m[:, D].toarray().ravel(), model.bias_[0].ravel())
    assert m[:, :D].nnz == D
