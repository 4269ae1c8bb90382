"""Crafted model and CSR files (issue 14, items 6, 7, 8 and the garbled messages of 13).

Every file is made here, at test time: CSR matrices whose row pointers or column indices
would make scipy's compiled code read out of bounds, model "bombs" (a tiny file that
declares a huge crop or window), metadata of the wrong types, and a full disk under
``convert``. Each must give one line and exit status 2, never a crash or a traceback.
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from fesgui.cli import main
from fesgui.core import MaskedRegression, load_model, read_meta, to_csr
from fesgui.errors import FesguiError
from fesgui.imageio import write_image
from fesgui.synthetic import make_pairs

from .corpus import error_line

ROOT = Path(__file__).resolve().parents[2]


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


# ------------------------------------------------------------------------------- CSR
D = 16  # a 4x4 "image": shape (16, 17)


def _csr_parts() -> dict[str, np.ndarray]:
    """A sound (16, 17) CSR matrix: one weight on the pixel itself and the bias, per row."""
    indices = np.stack([np.arange(D), np.full(D, D)], axis=1).ravel()
    return {"data": np.linspace(0.1, 1.0, 2 * D), "indices": indices,
            "indptr": np.arange(D + 1) * 2, "shape": np.array([D, D + 1]),
            "format": np.array(b"csr")}


def _crafted_csr(kind: str) -> dict[str, np.ndarray]:
    parts = _csr_parts()
    indptr, indices = parts["indptr"].copy(), parts["indices"].copy()
    if kind == "row-pointer-out-of-bounds":  # the one that segfaulted (exit 139)
        indptr[5] = 10**7
    elif kind == "row-pointer-decreasing":
        indptr[3], indptr[4] = indptr[4], indptr[3]
    elif kind == "row-pointer-short":
        indptr = indptr[:-3]
    elif kind == "row-pointer-not-from-zero":
        indptr = indptr + 1
    elif kind == "column-1e9":
        indices[3] = 10**9
    elif kind == "column-negative":
        indices[3] = -1
    elif kind == "column-past-bias":
        indices[3] = D + 1
    elif kind == "fewer-indices-than-values":
        indices = indices[:-1]
    elif kind == "nan-values":
        parts["data"][2] = np.nan
    elif kind == "float-indices":
        indices = indices.astype(np.float64)
    elif kind == "huge-shape":
        parts["shape"] = np.array([10**9, 10**9 + 1])
    elif kind == "bad-shape":
        parts["shape"] = np.array([D, D + 1, 3])
    elif kind == "coo-format":
        parts["format"] = np.array(b"coo")
    else:
        raise AssertionError(kind)
    parts["indptr"], parts["indices"] = indptr, indices
    return parts


CSR_KINDS = ["row-pointer-out-of-bounds", "row-pointer-decreasing", "row-pointer-short",
             "row-pointer-not-from-zero", "column-1e9", "column-negative", "column-past-bias",
             "fewer-indices-than-values", "nan-values", "float-indices", "huge-shape",
             "bad-shape", "coo-format"]


def test_the_sound_csr_matrix_of_these_tests_imports(tmp_path):
    """The crafted files are this one with one thing broken."""
    np.savez(tmp_path / "good.npz", **_csr_parts())
    assert main(["convert", str(tmp_path / "good.npz"), str(tmp_path / "m.npz")]) == 0
    assert load_model(tmp_path / "m.npz").size == 1


@pytest.mark.parametrize("kind", CSR_KINDS)
def test_crafted_csr_is_one_line(kind, tmp_path, capsys):
    path = tmp_path / f"{kind}.npz"
    np.savez(path, **_crafted_csr(kind))
    code = main(["convert", str(path), str(tmp_path / "m.npz")])
    line = error_line(capsys.readouterr().err)
    assert code == 2
    assert path.name in line, line
    assert not (tmp_path / "m.npz").exists()


def test_out_of_bounds_row_pointer_no_longer_crashes_the_process(tmp_path):
    """In a child process: before, scipy read out of bounds and the process died (139)."""
    path = tmp_path / "segv.npz"
    np.savez(path, **_crafted_csr("row-pointer-out-of-bounds"))
    proc = subprocess.run([sys.executable, "-m", "fesgui", "convert", str(path),
                           str(tmp_path / "m.npz")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: CSR matrix segv.npz")


@pytest.mark.parametrize("kind", ["row-pointer-out-of-bounds", "column-negative",
                                  "nan-values", "huge-shape"])
def test_validate_csr_arrays_directly(kind):
    from fesgui.core.csr import validate_csr_arrays

    parts = _crafted_csr(kind)
    with pytest.raises(FesguiError) as exc:
        validate_csr_arrays(parts["data"], parts["indices"], parts["indptr"],
                            parts["shape"], "m")
    assert "\n" not in str(exc.value)
    good = _csr_parts()
    assert validate_csr_arrays(good["data"], good["indices"], good["indptr"],
                               good["shape"]) == (D, D + 1)


# ------------------------------------------------------------------------ model bombs
@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    X, T = make_pairs(12, 32, 32, seed=4)
    return MaskedRegression(size=3).fit(X, T).save(tmp_path_factory.mktemp("m") / "m.npz")


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _with_meta(good: Path, path: Path, arrays: dict[str, np.ndarray] | None = None,
               **changes) -> Path:
    members = _members(good)
    meta = json.loads(np.load(io.BytesIO(members["meta.npy"])).tobytes().decode())
    meta.update(changes)
    members["meta.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    for name, array in (arrays or {}).items():
        members[f"{name}.npy"] = _npy(array)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _bomb(kind: str, good: Path, folder: Path) -> Path:
    path = folder / f"{kind}.npz"
    if kind == "huge-crop":  # the 8192 x 4096 all-zero model, smaller: 2048 x 2048
        z = np.zeros((1, 2048, 2048, 1), np.float32)
        return _with_meta(good, path, {"weights": z, "bias": z[..., 0]}, method="pixel-rr",
                          size=1, image_size=[2048, 2048])
    if kind == "huge-window":  # the 99 x 99 window
        w = np.zeros((1, 32, 32, 99 * 99), np.float32)
        return _with_meta(good, path, {"weights": w}, size=99)
    if kind == "window-17":
        w = np.zeros((1, 32, 32, 17 * 17), np.float32)
        return _with_meta(good, path, {"weights": w}, size=17)
    if kind == "dilation-past-crop":
        return _with_meta(good, path, dilation=40)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["huge-crop", "huge-window", "window-17",
                                  "dilation-past-crop"])
@pytest.mark.parametrize("entry", ["synth", "convert", "models"])
def test_model_bombs_are_refused_from_the_metadata(kind, entry, tmp_path, small_model,
                                                   capsys, monkeypatch):
    bomb = _bomb(kind, small_model, tmp_path)
    photo = tmp_path / "p.png"
    write_image(photo, np.zeros((40, 40, 3), np.uint8))
    # nothing is decompressed: reading any array member would be a failure
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a, **k: pytest.fail("read"))
    opened = zipfile.ZipFile.open

    def only_meta(self, name, *args, **kwargs):
        assert str(getattr(name, "filename", name)) == "meta.npy", name
        return opened(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", only_meta)
    if entry == "models":
        assert main(["models", "--folder", str(tmp_path)]) == 0
        err = capsys.readouterr().err
        assert f"skipped {bomb.name}: " in err and "\n" not in err.strip()
        return
    argv = (["synth", str(photo), "-m", str(bomb), "-o", str(tmp_path / "o.png")]
            if entry == "synth" else ["convert", str(bomb), str(tmp_path / "c.npz")])
    code = main(argv)
    line = error_line(capsys.readouterr().err)
    assert code == 2 and bomb.name in line and "not a usable fesgui model" in line, line


def test_a_member_larger_than_declared_is_not_decompressed(tmp_path, small_model):
    """The zip directory says 40 MB of weights for a 32x32 3x3 model: refused unread."""
    big = np.zeros((1, 32, 32, 9 * 1000), np.float32)
    path = _with_meta(small_model, tmp_path / "big.npz", {"weights": big})
    with pytest.raises(FesguiError, match="'weights' array is larger than its metadata"):
        load_model(path)


def test_memory_error_is_one_line_in_the_cli(tmp_path, small_model, capsys, monkeypatch):
    import fesgui.commands.convert as convert

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(convert, "to_csr", exhausted, raising=False)
    monkeypatch.setattr("fesgui.core.to_csr", exhausted)
    code = main(["convert", str(small_model), str(tmp_path / "c.npz")])
    line = error_line(capsys.readouterr().err)
    assert code == 2 and "out of memory" in line and "smaller" in line


def test_memory_error_in_the_app_is_a_status_line_not_a_bug_dialog(qtbot):
    from fesgui.gui.notify import Notifier

    notifier = Notifier()
    with qtbot.waitSignal(notifier.user_error) as got:
        notifier.report(MemoryError())
    assert "out of memory" in got.args[0]


# ------------------------------------------------------------------- metadata types
@pytest.mark.parametrize("changes,field", [
    ({"metrics": "great"}, "'metrics' is a str"),
    ({"metrics": ["mse", 0.1]}, "'metrics' is a list"),
    ({"metrics": {"mse": "low"}}, "metric 'mse' is 'low'"),
    ({"metrics": {"baselines": {"identity": 3}}}, "'baselines'"),
    ({"metrics": {"baselines": "none"}}, "metric 'baselines' is a str"),
    ({"name": 12}, "'name' is a int"),
    ({"source": ["neutral"]}, "'source' is a list"),
    ({"training_data": 5}, "'training_data' is a int"),
    ({"n_parameters": "many"}, "'n_parameters' is 'many'"),
])
def test_metadata_of_the_wrong_type_is_refused(changes, field, tmp_path, small_model, capsys):
    bad = _with_meta(small_model, tmp_path / "bad.npz", **changes)
    good = tmp_path / "good.npz"
    good.write_bytes(small_model.read_bytes())
    with pytest.raises(FesguiError, match="not a usable fesgui model") as exc:
        read_meta(bad)
    assert field in str(exc.value)
    # `fesgui models` lists the good model and names the bad one (it used to traceback)
    assert main(["models", "--folder", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "good" in out and "bad" not in out
    assert err.startswith("skipped bad.npz: ") and field in err


def test_the_app_model_list_skips_a_model_with_bad_metadata(tmp_path, small_model):
    from fesgui.catalog import list_models
    from fesgui.gui.model_panel import model_card_html

    _with_meta(small_model, tmp_path / "bad.npz", metrics="great")
    (tmp_path / "good.npz").write_bytes(small_model.read_bytes())
    infos = list_models(tmp_path)
    assert [i.name for i in infos] == ["good"]

    class Entry:  # what the app's model card is drawn from
        name, path, meta, size_bytes = "good", infos[0].path, infos[0].meta, 1
    assert "good" in model_card_html(Entry)


# ---------------------------------------------------------------- garbled messages
def test_pickled_weights_message_reads_well(tmp_path, small_model):
    members = _members(small_model)
    members["weights.npy"] = _npy(np.array([object()], dtype=object), allow_pickle=True)
    path = tmp_path / "p.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(FesguiError) as exc:
        load_model(path)
    assert "the 'weights' array holds pickled objects" in str(exc.value)
    assert "is it holds" not in str(exc.value)


# --------------------------------------------------------------------- full disk
def _limit_file_size() -> None:  # in the child: files stop growing at 64 kB (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


@pytest.mark.parametrize("direction", ["to-csr", "from-csr"])
def test_convert_to_a_full_disk_prints_one_line_and_no_traceback(direction, tmp_path):
    X, T = make_pairs(6, 48, 48, seed=2)
    model = MaskedRegression(size=5).fit(X, T)
    src = model.save(tmp_path / "m.npz")
    if direction == "from-csr":
        src = tmp_path / "csr.npz"
        sp.save_npz(src, to_csr(model)[0])
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "fesgui", "convert", str(src),
                           str(out / "c.npz")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, preexec_fn=_limit_file_size)
    assert src.stat().st_size > 64 * 1024  # the output cannot fit either
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith("error: cannot write ") and "ulimit" in proc.stderr
    assert list(out.iterdir()) == []
