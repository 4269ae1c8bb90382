"""``fesgui convert`` end to end: fesgui model <-> the authors' CSR .npz files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from fesgui.cli import main
from fesgui.core import MaskedRegression, PixelKernelRegression, load_model
from fesgui.synthetic import make_pairs


@pytest.fixture(scope="module")
def pairs():
    return make_pairs(6, 12, 10, color=True, seed=3)


def csr_apply(mats, x):
    return np.stack([(mats[c if len(mats) == 3 else 0] @ np.append(x[..., c].ravel(), 1.0))
                     .reshape(x.shape[:2]) for c in range(3)], axis=-1)


def test_shared_model_to_csr_and_back(pairs, tmp_path, capsys):
    X, T = pairs
    model = MaskedRegression(size=3, dilation=2).fit(X, T)
    src = model.save(tmp_path / "mr.npz")
    assert main(["convert", str(src), str(tmp_path / "csr.npz")]) == 0
    assert "csr.npz" in capsys.readouterr().out
    mat = sp.load_npz(tmp_path / "csr.npz")
    assert mat.shape == (120, 121)
    np.testing.assert_allclose(csr_apply([mat], X[0]), model.predict(X[0]), atol=1e-5)
    code = main(["convert", str(tmp_path / "csr.npz"), str(tmp_path / "back.npz"),
                 "--height", "12", "--width", "10", "--name", "from csr"])
    assert code == 0
    back = load_model(tmp_path / "back.npz")
    assert (back.size, back.dilation, back.meta["name"]) == (3, 2, "from csr")
    np.testing.assert_array_equal(back.weights_, model.weights_)


def test_per_channel_model_gives_three_files_and_comes_back(pairs, tmp_path):
    X, T = pairs
    model = MaskedRegression(size=3, color="per-channel").fit(X, T)
    src = model.save(tmp_path / "mr.npz")
    assert main(["convert", str(src), str(tmp_path / "out.npz")]) == 0
    files = [tmp_path / f"out_{c}.npz" for c in "rgb"]
    assert all(f.exists() for f in files) and not (tmp_path / "out.npz").exists()
    mats = [sp.load_npz(f) for f in files]
    np.testing.assert_allclose(csr_apply(mats, X[1]), model.predict(X[1]), atol=1e-5)
    args = ["convert", *map(str, files), str(tmp_path / "back.npz"), "--height", "12",
            "--width", "10"]
    assert main(args) == 0
    back = load_model(tmp_path / "back.npz")
    assert back.color == "per-channel"
    np.testing.assert_allclose(back.predict(X[1]), model.predict(X[1]), atol=1e-6)


def test_bad_inputs_exit_2_with_one_line(pairs, tmp_path, capsys):
    X, T = pairs
    kr = PixelKernelRegression(sigma=0.3).fit(X, T).save(tmp_path / "kr.npz")
    mr = MaskedRegression().fit(X, T).save(tmp_path / "mr.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    sp.save_npz(tmp_path / "csr.npz", sp.random(120, 121, density=0.5, format="csr"))
    sp.save_npz(tmp_path / "dense.npz", sp.csr_matrix(np.ones((300, 301))))
    cases = [
        [str(kr), str(tmp_path / "o.npz")],  # Pixel-KR cannot be exported
        [str(tmp_path / "junk.npz"), str(tmp_path / "o.npz")],
        [str(tmp_path / "missing.npz"), str(tmp_path / "o.npz")],
        [str(mr), str(tmp_path / "o.txt")],
        [str(mr), str(tmp_path / "csr.npz"), str(tmp_path / "o.npz")],  # mixed
        [str(tmp_path / "dense.npz"), str(tmp_path / "o.npz"), "--height", "15",
         "--width", "20"],  # neither a local window nor sparse
        [str(tmp_path / "csr.npz"), str(tmp_path / "o.npz")],  # not square
    ]
    for args in cases:
        capsys.readouterr()
        assert main(["convert", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "o.npz").exists()


def test_subprocess_error_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fesgui", "convert", str(tmp_path / "no.npz"),
                          str(tmp_path / "o.npz")], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "does not exist" in out.stderr
