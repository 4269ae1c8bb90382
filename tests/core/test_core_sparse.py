"""Sparse receptive fields (LSRF / OMP): predict equals csr @ [x; 1], exact CSR round trip,
min-max preprocessing, model files, and the refusal of bad matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from core_reference import assert_one_line

from fesgui.core import (
    MaskedRegression,
    SparseReceptiveField,
    from_csr,
    interpret,
    load_model,
    to_csr,
)
from fesgui.core.sparse import authors_template
from fesgui.errors import FesguiError

H, W = 12, 14
D = H * W


def sparse_csr(kind: str, seed: int = 0, h: int = H, w: int = W) -> sp.csr_matrix:
    """A (D, D+1) float64 CSR matrix of one of the authors' three structures.

    "own": one tap per pixel, its own pixel for most, a neighbour within +-4 px for some
    (LSRF f=1); "local": up to 5 distinct taps within +-2 px (LSRF f=5); "far": up to 5
    taps anywhere in the image (OMP). Every row has a bias; some rows have fewer taps.
    """
    rng = np.random.default_rng(seed)
    d = h * w
    rows, cols = [], []
    for p in range(d):
        i, j = divmod(p, w)
        if kind == "own":
            if rng.random() < 0.8:
                taps = [p]
            else:
                ii = np.clip(i + rng.integers(-4, 5), 0, h - 1)
                jj = np.clip(j + rng.integers(-4, 5), 0, w - 1)
                taps = [ii * w + jj]
        elif kind == "local":
            n = rng.integers(1, 6)
            ii = np.clip(i + rng.integers(-2, 3, n), 0, h - 1)
            jj = np.clip(j + rng.integers(-2, 3, n), 0, w - 1)
            taps = sorted(set((ii * w + jj).tolist()))
        else:
            taps = sorted(set(rng.integers(0, d, rng.integers(1, 6)).tolist()))
        rows += [p] * (len(taps) + 1)
        cols += taps + [d]
    vals = rng.normal(0, 0.5, len(rows))
    return sp.csr_matrix((vals, (rows, cols)), shape=(d, d + 1))


def csr_apply(mats, x):
    """The authors' way, float64: per channel csr_c @ [x_c.ravel(); 1]."""
    x = np.asarray(x, np.float64)
    if x.ndim == 2:
        return (mats[0] @ np.append(x.ravel(), 1.0)).reshape(x.shape)
    return np.stack([(mats[c if len(mats) == 3 else 0] @ np.append(x[..., c].ravel(), 1.0))
                     .reshape(x.shape[:2]) for c in range(3)], axis=-1)


def f32(mat):
    """What a model keeps of a matrix: float32 values, explicit zeros dropped."""
    out = sp.csr_matrix(mat, dtype=np.float32)
    out.eliminate_zeros()
    return out


def assert_same_matrix(a, b):
    a, b = f32(a), f32(b)
    assert a.shape == b.shape
    assert (a != b).nnz == 0
    np.testing.assert_array_equal(a.toarray(), b.toarray())


KINDS = ("own", "local", "far")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    return rng.random((4, H, W, 3)).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_shared_predict_equals_csr_matvec(kind, images):
    mat = sparse_csr(kind, seed=1)
    model = from_csr(mat, H, W)
    assert isinstance(model, SparseReceptiveField)
    assert model.n_taps == max(np.diff(mat[:, :D].tocsr().indptr))
    # slot 0 holds each pixel's strongest tap, padding (weight 0) comes last
    assert np.all(np.diff(np.abs(model.weights_), axis=-1) <= 0)
    ref = csr_apply([mat], images[0])
    np.testing.assert_allclose(model.predict(images[0]), ref, atol=2e-6, rtol=1e-5)
    # a batch and a grey image too
    batch = model.predict(images)
    for n in range(len(images)):
        np.testing.assert_allclose(batch[n], csr_apply([mat], images[n]), atol=2e-6, rtol=1e-5)
    grey = images[1, ..., 0]
    np.testing.assert_allclose(model.predict(grey), csr_apply([mat], grey), atol=2e-6,
                               rtol=1e-5)
    assert model.predict(images[0]).dtype == np.float32


@pytest.mark.parametrize("kind", KINDS)
def test_per_channel_predict_equals_csr_matvec(kind, images):
    mats = [sparse_csr(kind, seed=s) for s in (4, 5, 6)]
    model = from_csr(mats, H, W)
    assert model.color == "per-channel" and model.weights_.shape[0] == 3
    np.testing.assert_allclose(model.predict(images[2]), csr_apply(mats, images[2]),
                               atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_is_exact(kind, tmp_path):
    mat = sparse_csr(kind, seed=7)
    model = from_csr(mat, H, W)
    (back,) = to_csr(model)
    assert_same_matrix(back, mat)
    # through a model file, and through the authors' file format
    loaded = load_model(model.save(tmp_path / "m.npz"))
    assert_same_matrix(to_csr(loaded)[0], mat)
    sp.save_npz(tmp_path / "csr.npz", mat)
    assert_same_matrix(to_csr(from_csr(tmp_path / "csr.npz", H, W))[0], mat)
    mats = [sparse_csr(kind, seed=s) for s in (8, 9, 10)]
    for a, b in zip(to_csr(from_csr(mats, H, W)), mats, strict=True):
        assert_same_matrix(a, b)


def test_dense_windows_still_become_mr():
    rng = np.random.default_rng(0)
    X = rng.random((5, H, W, 3)).astype(np.float32)
    mr = MaskedRegression(size=3).fit(X, np.clip(X * 0.9, 0, 1))
    assert isinstance(from_csr(to_csr(mr), H, W), MaskedRegression)
    assert isinstance(from_csr(sparse_csr("local"), H, W), SparseReceptiveField)


def minmax_reference(mat, x):
    """The authors' preprocessing, independently: whole image scaled to [0, 1], matrix,
    output scaled by its own range back to the input's range."""
    x = np.asarray(x, np.float64)
    lo, hi = x.min(), x.max()
    z = csr_apply([mat], (x - lo) / (hi - lo))
    return lo + (hi - lo) * (z - z.min()) / (z.max() - z.min())


@pytest.mark.parametrize("kind", KINDS)
def test_minmax_preprocessing(kind, images):
    mat = sparse_csr(kind, seed=11)
    model = from_csr(mat, H, W, preprocess="minmax")
    x = 0.2 + 0.5 * images[0]  # not full range: the output returns to this range
    y = model.predict(x)
    np.testing.assert_allclose(y, minmax_reference(mat, x), atol=1e-5)
    assert y.min() == pytest.approx(x.min(), abs=1e-6)
    assert y.max() == pytest.approx(x.max(), abs=1e-6)
    np.testing.assert_allclose(model.predict_raw(x), csr_apply([mat], x), atol=2e-6, rtol=1e-5)
    wx, b = model.decompose(x)
    np.testing.assert_allclose(wx + b, y, atol=1e-6)
    scale, offset = model.output_scaling(x)
    np.testing.assert_allclose(b, scale * np.repeat(model.bias_[0][..., None], 3, -1), rtol=1e-5)
    z = csr_apply([mat], model.scaled_input(x))
    np.testing.assert_allclose(scale * z + offset, y, atol=1e-5)


def test_identity_with_minmax_returns_the_input(images):
    eye = sp.hstack([sp.identity(D), sp.csr_matrix((D, 1))], format="csr")
    eye = eye.tolil()
    eye[0, 5], eye[0, 0] = 0.0, 1.0
    model = from_csr(eye.tocsr(), H, W, preprocess="minmax")
    x = 0.1 + 0.6 * images[1]
    # an identity matrix is a 1x1 window: MR, which keeps the input as it is
    assert isinstance(model, MaskedRegression)
    far = sp.csr_matrix(eye.tocsr())
    far = far.tolil()
    far[0, 0], far[0, D - 1] = 0.0, 1.0  # pixel 0 reads the last pixel: not a window
    model = from_csr(far.tocsr(), H, W, preprocess="minmax")
    y = model.predict(x)
    np.testing.assert_allclose(y.reshape(D, 3)[1:], x.reshape(D, 3)[1:], atol=1e-6)


def test_meta_file_and_template(tmp_path, images):
    tpl = authors_template()
    assert tpl["right_eye"][0] - tpl["left_eye"][0] == pytest.approx(0.43)
    model = from_csr(sparse_csr("far", seed=2), H, W, preprocess="minmax", template=tpl)
    model.set_provenance(name="omp")
    path = model.save(tmp_path / "s.npz")
    assert path.read_bytes() == model.save(tmp_path / "again.npz").read_bytes()
    loaded = load_model(path)
    meta = loaded.meta
    assert (meta["method"], meta["taps"], meta["format_version"]) == ("sparse", model.n_taps, 2)
    assert meta["preprocess"] == {"input": "minmax", "output": "minmax"}
    assert meta["template"] == tpl and meta["name"] == "omp"
    np.testing.assert_array_equal(loaded.predict(images[0]), model.predict(images[0]))
    # compact files keep the structure and round the weights to float16
    small = load_model(model.save(tmp_path / "c.npz", compact=True))
    np.testing.assert_array_equal(small.index_, model.index_)
    np.testing.assert_allclose(small.weights_, model.weights_, rtol=1e-3, atol=1e-4)


def test_receptive_field_and_arithmetic_match_the_matrix(images):
    mat = sparse_csr("far", seed=12)
    model = from_csr(mat, H, W, preprocess="minmax")
    x = images[3]
    y = model.predict(x)
    for i, j in [(0, 0), (5, 7), (H - 1, W - 1)]:
        row = mat.getrow(i * W + j)
        expected = {int(c): float(v) for c, v in zip(row.indices, row.data, strict=True)}
        arith = interpret.pixel_arithmetic(model, x, i, j, channel=1)
        taps = {int(r) * W + int(c): float(w)
                for (r, c), w in zip(arith.positions, arith.weights.ravel(), strict=True)
                if w != 0}
        bias = expected.pop(D)
        assert taps.keys() == expected.keys()
        np.testing.assert_allclose([taps[k] for k in expected], list(expected.values()),
                                   rtol=1e-6)
        assert arith.bias == pytest.approx(bias, rel=1e-6)
        assert arith.output == pytest.approx(float(y[i, j, 1]), abs=1e-5)
        xs = model.scaled_input(x)[..., 1]
        np.testing.assert_allclose(arith.patch.ravel(),
                                   xs[arith.positions[:, 0], arith.positions[:, 1]])
    reach = interpret.tap_reach_map(model)
    rows = mat[:, :D].tocoo()
    far = np.zeros(D)
    np.maximum.at(far, rows.row, np.hypot(rows.col // W - rows.row // W,
                                          rows.col % W - rows.row % W))
    np.testing.assert_allclose(reach, far.reshape(H, W), rtol=1e-6)


def bad(tmp_path):
    good = sparse_csr("far", seed=1)
    nan = good.copy()
    nan.data[3] = np.nan
    dense = sp.csr_matrix(np.ones((300, 301)))
    broken = sparse_csr("far", seed=2)
    broken.indices[4] = D + 50  # a column outside the matrix
    return {
        "not square plus one": lambda: from_csr(sp.csr_matrix((D, D + 3))),
        "NaN": lambda: from_csr(nan, H, W),
        "wrong shape for the size": lambda: from_csr(good, 10, 10),
        "out-of-range index": lambda: from_csr(broken, H, W),
        "two channels": lambda: from_csr([good, good], H, W),
        "too dense": lambda: from_csr(dense, 15, 20),
        "bad preprocess": lambda: from_csr(good, H, W, preprocess="zscore"),
        "bad template": lambda: from_csr(good, H, W, template={"left_eye": [0.6, 0.3],
                                                          "right_eye": [0.4, 0.3],
                                                          "mouth_centre": [0.5, 0.7]}),
        "fit": lambda: SparseReceptiveField().fit(np.zeros((1, 4, 4)), np.zeros((1, 4, 4))),
    }


@pytest.mark.parametrize("case", list(bad(None)))
def test_bad_matrices_get_one_line(case, tmp_path):
    with pytest.raises(FesguiError) as exc:
        bad(tmp_path)[case]()
    assert_one_line(exc)


def test_damaged_model_files_are_refused(tmp_path):
    import zipfile

    model = from_csr(sparse_csr("local", seed=3), H, W)
    path = model.save(tmp_path / "s.npz")
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    import io

    index = np.load(io.BytesIO(members["index.npy"]))
    index[0, 0, 0, 0] = D  # one past the last pixel
    buf = io.BytesIO()
    np.save(buf, index)
    members["index.npy"] = buf.getvalue()
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(FesguiError, match="outside") as exc:
        load_model(tmp_path / "bad.npz")
    assert_one_line(exc)
