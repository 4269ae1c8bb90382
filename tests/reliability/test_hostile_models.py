"""Hostile and broken model files through the entries people use: ``synth -m``,
``batch -m``, ``convert`` and the app (drop a .npz on the window).

The loader itself is covered in ``tests/core/test_core_modelio.py``; here the same kinds of
file (truncated, newer format version, shapes that disagree with the metadata, NaN/Inf
weights, pickle payloads that would leave a marker file if they ever ran, CSR matrices of
the wrong shape) must give one clear line at every entry, write nothing, and run nothing.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import fesgui.align.mediapipe_source as mps
from fesgui.cli import main
from fesgui.core import MaskedRegression
from fesgui.imageio import write_image
from fesgui.synthetic import make_pairs

from .corpus import KnownFace, base_face, drop_file, error_line, open_app, points_arg

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


class Payload:
    """Unpickling this writes ``marker``: proof that something in a file was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "executed"))


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rewrite(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _meta(members: dict[str, bytes], **changes) -> bytes:
    raw = np.load(io.BytesIO(members["meta.npy"]), allow_pickle=False)
    meta = json.loads(raw.tobytes().decode())
    meta.update(changes)
    return _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))


def _weights(members: dict[str, bytes], fill: float) -> bytes:
    w = np.load(io.BytesIO(members["weights.npy"]), allow_pickle=False).copy()
    w.flat[::7] = fill
    return _npy(w)


def _make(kind: str, good: Path, folder: Path, marker: Path) -> Path:
    """A hostile file of ``kind`` in ``folder``, made from the good model ``good``."""
    m = _members(good)
    path = folder / f"{kind}.npz"
    if kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])
    elif kind == "newer-version":
        _rewrite(path, {**m, "meta.npy": _meta(m, format_version=7)})
    elif kind == "shape-mismatch":
        _rewrite(path, {**m, "meta.npy": _meta(m, image_size=[16, 16])})
    elif kind == "nan-weights":
        _rewrite(path, {**m, "weights.npy": _weights(m, np.nan)})
    elif kind == "inf-weights":
        _rewrite(path, {**m, "weights.npy": _weights(m, np.inf)})
    elif kind == "pickle-meta":
        evil = np.array([Payload(marker)], dtype=object)
        _rewrite(path, {**m, "meta.npy": _npy(evil, allow_pickle=True)})
    elif kind == "pickle-weights":
        evil = np.array([Payload(marker)], dtype=object)
        _rewrite(path, {**m, "weights.npy": _npy(evil, allow_pickle=True)})
    elif kind == "csr-wrong-shape":
        sp.save_npz(path, sp.random(100, 57, density=0.1, format="csr", random_state=0))
    else:
        raise AssertionError(kind)
    return path


KINDS = ["truncated", "newer-version", "shape-mismatch", "nan-weights", "inf-weights",
         "pickle-meta", "pickle-weights", "csr-wrong-shape"]


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    X, T = make_pairs(12, 32, 32, seed=8)
    return MaskedRegression(size=3).fit(X, T).save(tmp_path_factory.mktemp("g") / "good.npz")


def test_payload_really_runs_when_unpickled(tmp_path):
    """The payload is live: loading it with pickling allowed does write the marker."""
    marker = tmp_path / "marker.txt"
    data = _npy(np.array([Payload(marker)], dtype=object), allow_pickle=True)
    np.load(io.BytesIO(data), allow_pickle=True)
    assert marker.read_text() == "executed"


@pytest.mark.parametrize("entry", ["synth", "batch", "convert"])
@pytest.mark.parametrize("kind", KINDS)
def test_hostile_model_at_cli_entries(kind, entry, tmp_path, good_model, monkeypatch, capsys):
    face, points = base_face()
    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: KnownFace(points))
    marker = tmp_path / "marker.txt"
    model = _make(kind, good_model, tmp_path, marker)
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    write_image(inputs / "face.png", face)
    argv = {
        "synth": ["synth", str(inputs / "face.png"), "-m", str(model), "-o",
                  str(out / "o.png"), "--landmarks", points_arg(points)],
        "batch": ["batch", str(inputs), str(out), "-m", str(model)],
        "convert": ["convert", str(model), str(out / "o.npz")],
    }[entry]
    assert main(argv) == 2
    line = error_line(capsys.readouterr().err)
    assert model.name in line or "CSR" in line or "csr" in line, line
    assert list(out.iterdir()) == []
    assert not marker.exists()


def test_hostile_model_dropped_on_the_app(qtbot, tmp_path, good_model, monkeypatch):
    win = open_app(qtbot, tmp_path, monkeypatch, base_face()[1])
    errors: list[str] = []
    win.notifier.user_error.connect(errors.append)
    marker = tmp_path / "marker.txt"
    try:
        for kind in KINDS:
            path = _make(kind, good_model, tmp_path, marker)
            before = len(errors)
            drop_file(win, path)
            qtbot.waitUntil(lambda n=before: len(errors) > n or bool(win.unexpected_errors),
                            timeout=10000)
            assert win.unexpected_errors == [], (kind, win.unexpected_errors)
            assert "\n" not in errors[-1] and path.name in errors[-1], (kind, errors[-1])
            assert win.controller.model is None
        assert not marker.exists()
    finally:
        win.close()
