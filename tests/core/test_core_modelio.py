"""Model files: round trips, determinism, and refusal of every kind of bad file."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from core_reference import assert_one_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fesgui.core import (
    MaskedRegression,
    PixelKernelRegression,
    PixelRegression,
    load_model,
    read_meta,
)
from fesgui.core.base import FORMAT_VERSION
from fesgui.errors import FesguiError


@pytest.fixture(scope="module")
def models(rgb_pairs):
    X, T = rgb_pairs
    return {
        "mr": MaskedRegression(size=3, dilation=2, color="per-channel").fit(X, T),
        "rr": PixelRegression(color="gray").fit(X, T),
        "kr": PixelKernelRegression(sigma=0.3, color="shared").fit(X, T),
    }


@pytest.mark.parametrize("kind", ["mr", "rr", "kr"])
def test_round_trip_full_is_exact(models, rgb_pairs, tmp_path, kind):
    model = models[kind]
    model.set_provenance(name=f"test {kind}", source="neutral", target="happy",
                   training_data={"pairs": 7, "folder": "synthetic"}, metrics={"mse": 0.0123})
    path = model.save(tmp_path / "m.npz")
    loaded = load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.weights_, model.weights_)
    np.testing.assert_array_equal(loaded.bias_, model.bias_)
    if kind == "kr":
        np.testing.assert_array_equal(loaded.table_, model.table_)
    x = rgb_pairs[0][2]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.meta == model.meta
    assert read_meta(path) == {**model.meta, "storage": "full"}
    assert loaded.meta["training_data"] == {"pairs": 7, "folder": "synthetic"}


@pytest.mark.parametrize("kind", ["mr", "rr", "kr"])
def test_round_trip_compact_within_stated_tolerance(models, rgb_pairs, tmp_path, kind):
    model = models[kind]
    full = model.save(tmp_path / "full.npz")
    small = model.save(tmp_path / "small.npz", compact=True)
    assert small.stat().st_size < full.stat().st_size
    loaded = load_model(small)
    assert loaded.meta["storage"] == "compact" and read_meta(small)["storage"] == "compact"
    if kind == "kr":  # uint8 levels: error <= 1/510 inside [0, 1]
        inside = np.clip(model.table_, 0, 1)
        assert np.abs(loaded.table_ - inside).max() <= 0.5 / 255 + 1e-7
    else:  # float16: relative error <= 2^-11
        np.testing.assert_allclose(loaded.weights_, model.weights_, rtol=2**-11, atol=1e-7)
        np.testing.assert_allclose(loaded.bias_, model.bias_, rtol=2**-11, atol=1e-7)
    x = rgb_pairs[0][1]
    assert np.abs(loaded.predict(x) - model.predict(x)).max() < 5e-3


def test_saving_is_byte_deterministic(rgb_pairs, tmp_path):
    X, T = rgb_pairs
    a = MaskedRegression(size=5).fit(X, T).set_provenance(name="a")
    b = MaskedRegression(size=5).fit(X, T).set_provenance(name="a")  # rebuilt from the same data
    pa, pb = a.save(tmp_path / "a.npz"), b.save(tmp_path / "sub_b.npz")
    assert pa.read_bytes() == pb.read_bytes()
    with zipfile.ZipFile(pa) as zf:
        assert [i.filename for i in zf.infolist()] == ["meta.npy", "weights.npy", "bias.npy"]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_save_refuses_bad_names_and_unfitted(models, tmp_path):
    for call in (lambda: models["mr"].save(tmp_path / "m.pkl"),
                 lambda: MaskedRegression().save(tmp_path / "m.npz"),
                 lambda: models["mr"].save(tmp_path / "missing" / "m.npz")):
        with pytest.raises(FesguiError) as exc:
            call()
        assert_one_line(exc)
    assert list(tmp_path.iterdir()) == []  # nothing partial left behind


# ------------------------------------------------------------------ hostile files
def _npy(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _write(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _meta(**changes) -> bytes:
    meta = {"method": "mr", "size": 3, "dilation": 1, "lam": 0.4, "sigma": None,
            "color": "shared", "image_size": [4, 5], "channels_in": 3, "format_version": 1,
            "storage": "full"}
    meta.update(changes)
    return _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))


def _good_members(**meta_changes) -> dict[str, bytes]:
    return {"meta.npy": _meta(**meta_changes),
            "weights.npy": _npy(np.zeros((1, 4, 5, 9), np.float32)),
            "bias.npy": _npy(np.zeros((1, 4, 5), np.float32))}


def test_crafted_good_file_loads(tmp_path):
    model = load_model(_write(tmp_path / "ok.npz", _good_members()))
    assert model.image_size == (4, 5)


HOSTILE = {
    "empty": lambda p: (p.write_bytes(b""), p)[1],
    "text": lambda p: (p.write_text("hello, not a model"), p)[1],
    "folder": lambda p: (p.mkdir(), p)[1],
    "no meta": lambda p: _write(p, {"weights.npy": _npy(np.zeros(3))}),
    "pickle meta": lambda p: _write(p, {**_good_members(),
                                        "meta.npy": _npy(np.array([{"a": 1}], dtype=object),
                                                         allow_pickle=True)}),
    "pickle weights": lambda p: _write(p, {**_good_members(),
                                           "weights.npy": _npy(np.array([None], dtype=object),
                                                               allow_pickle=True)}),
    "meta not json": lambda p: _write(p, {**_good_members(),
                                          "meta.npy": _npy(np.frombuffer(b"{oops", np.uint8))}),
    "meta is a list": lambda p: _write(p, {**_good_members(),
                                           "meta.npy": _npy(np.frombuffer(b"[1]", np.uint8))}),
    "meta floats": lambda p: _write(p, {**_good_members(), "meta.npy": _npy(np.zeros(3))}),
    "newer version": lambda p: _write(p, _good_members(format_version=99)),
    "no version": lambda p: _write(p, _good_members(format_version=None)),
    "unknown method": lambda p: _write(p, _good_members(method="gan")),
    "unknown color": lambda p: _write(p, _good_members(color="cmyk")),
    "even size": lambda p: _write(p, _good_members(size=4)),
    "bad image_size": lambda p: _write(p, _good_members(image_size=[4])),
    "negative lam": lambda p: _write(p, _good_members(lam=-1)),
    "shape mismatch": lambda p: _write(p, _good_members(image_size=[5, 4])),
    "wrong dtype": lambda p: _write(p, {**_good_members(),
                                        "bias.npy": _npy(np.zeros((1, 4, 5), np.int64))}),
    "nan weights": lambda p: _write(p, {**_good_members(), "weights.npy": _npy(
        np.full((1, 4, 5, 9), np.nan, np.float32))}),
    "inf bias": lambda p: _write(p, {**_good_members(), "bias.npy": _npy(
        np.full((1, 4, 5), np.inf, np.float32))}),
    "missing bias": lambda p: _write(p, {k: v for k, v in _good_members().items()
                                         if k != "bias.npy"}),
    "absurd image_size": lambda p: _write(p, _good_members(image_size=[8000, 8000], size=31)),
    "oversized member": lambda p: _write(p, {**_good_members(), "weights.npy": _npy(
        np.zeros((1000, 1000), np.float32))}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_refused_in_one_line(tmp_path, case):
    path = HOSTILE[case](tmp_path / "bad.npz")
    with pytest.raises(FesguiError) as exc:
        load_model(path)
    assert_one_line(exc)
    assert "bad.npz" in str(exc.value)


def test_missing_and_truncated_files(models, tmp_path):
    with pytest.raises(FesguiError, match="does not exist") as exc:
        load_model(tmp_path / "nope.npz")
    assert_one_line(exc)
    data = models["mr"].save(tmp_path / "m.npz").read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        with pytest.raises(FesguiError) as exc:
            load_model(tmp_path / "cut.npz")
        assert_one_line(exc)


def test_newer_version_says_update(tmp_path):
    with pytest.raises(FesguiError, match="update fesgui"):
        read_meta(_write(tmp_path / "new.npz", _good_members(format_version=FORMAT_VERSION + 1)))


def test_read_meta_reads_only_meta(tmp_path):
    members = _good_members(name="x")
    members["weights.npy"] = b"garbage"  # read_meta must not touch the arrays
    assert read_meta(_write(tmp_path / "m.npz", members))["name"] == "x"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048))
def test_random_bytes_only_ever_raise_fesgui_error(tmp_path, data):
    path = tmp_path / "random.npz"
    path.write_bytes(data)
    with pytest.raises(FesguiError):
        load_model(path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_garbled_model_files_load_or_raise_fesgui_error(tmp_path, edits, cut):
    good = bytearray((tmp_path / "src.npz").read_bytes() if (tmp_path / "src.npz").exists()
                     else _write(tmp_path / "src.npz", _good_members()).read_bytes())
    for pos, value in edits:
        good[pos % len(good)] = value
    if cut is not None:
        good = good[:cut % (len(good) + 1)]
    path = tmp_path / "garbled.npz"
    path.write_bytes(bytes(good))
    try:
        model = load_model(path)
    except FesguiError as exc:
        assert "\n" not in str(exc)
    else:  # an edit that changed nothing that matters (e.g. a zip comment byte)
        assert np.isfinite(model.weights_).all()
