"""The shipped models in ``models/``: they load, say what they are, beat the baselines on
held-out people, their card is generated from them, and (where the London set is
available) a rebuild reproduces them byte for byte.

The rebuild check (b) rebuilds all 16 models and the card (about 7.5 minutes on a 2-core
machine with the alignment cached, up to 17 under heavy load); set
``FESGUI_RELEASE_CHECK=quick`` to rebuild only the 128 px models (8 files, a quarter of the
work) while iterating. The test says which it did when it fails.
The dataset is looked up at ``$FESGUI_LONDON_FACES`` or ``../shared/datasets/london-faces``
beside the repository.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fesgui.core import load_model, read_meta
from fesgui.modelcard import generate_card
from fesgui.release import DATASET_ATTRIBUTION, release_specs

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "fesgui" / "models"
DATASET = Path(os.environ.get("FESGUI_LONDON_FACES",
                              REPO.parent / "shared" / "datasets" / "london-faces"))
REQUIRED_META = ("method", "size", "dilation", "lam", "sigma", "color", "image_size", "source",
                 "target", "training_data", "metrics", "format_version", "name")
SPECS = release_specs()


def test_every_release_model_is_committed_and_nothing_else():
    expected = sorted(s.filename for s in SPECS)
    assert sorted(p.name for p in MODELS.glob("*.npz")) == expected


def test_shipped_models_are_small():
    total = sum(p.stat().st_size for p in MODELS.iterdir() if p.is_file())
    assert total < 50e6, f"models/ holds {total / 1e6:.1f} MB: keep it well under 50 MB"


@pytest.mark.parametrize("spec", SPECS, ids=[s.filename for s in SPECS])
def test_shipped_model_loads_declares_meta_and_beats_baselines(spec):
    path = MODELS / spec.filename
    model = load_model(path)
    meta = model.meta
    missing = [k for k in REQUIRED_META if meta.get(k) is None and k != "sigma"]
    assert not missing, f"{spec.filename} lacks meta {missing}"
    assert (meta["method"], meta["source"], meta["target"]) == (spec.method, spec.source,
                                                                 spec.target)
    assert meta["image_size"] == [spec.crop, spec.crop] and meta["color"] == spec.color
    assert (meta["sigma"] is not None) == (spec.method == "pixel-kr")
    assert read_meta(path)["storage"] == "compact"
    data = meta["training_data"]
    assert data["attribution"] == DATASET_ATTRIBUTION and "CC BY 4.0" in data["license"]
    assert len(data["test_ids"]) == data["n_test"] >= 5
    assert not set(data["test_ids"]) & set(data["val_ids"])
    metrics = meta["metrics"]
    base = metrics["baselines"]
    assert metrics["n_test"] == data["n_test"]
    assert metrics["mse"] < base["identity"]["mse"], "worse than returning the input"
    assert metrics["mse"] < base["mean_target"]["mse"], "worse than the mean target face"
    assert metrics["ssim"] > base["mean_target"]["ssim"]
    assert metrics["compact"]["max_abs_255"] <= 0.5 + 1e-6
    # the model works on an image of its size
    x = np.full((spec.crop, spec.crop, 3), 0.5, np.float32)
    assert np.isfinite(model.predict(x)).all()


def test_card_is_generated_from_the_shipped_models():
    card = (MODELS / "README.md").read_text(encoding="utf-8")
    assert card == generate_card(MODELS), "models/README.md is stale: rebuild it with " \
        "fesgui train --release (or fesgui.modelcard.write_card)"
    assert DATASET_ATTRIBUTION in card and "creativecommons.org/licenses/by/4.0" in card
    assert "EVALUATION.md" in card
    for spec in SPECS:
        assert f"`{spec.filename}`" in card
    for name in {line.split("](")[1].split(")")[0] for line in card.splitlines()
                 if line.startswith("![")}:
        assert (MODELS / name).is_file(), f"the card shows a missing picture {name}"


def test_mr_beats_pixel_rr_or_the_card_says_why_not():
    card = (MODELS / "README.md").read_text(encoding="utf-8")
    for source, target in {(s.source, s.target) for s in SPECS}:
        for crop in {s.crop for s in SPECS}:
            def mse(method, source=source, target=target, crop=crop):
                return min(read_meta(MODELS / s.filename)["metrics"]["mse"] for s in SPECS
                           if (s.source, s.target, s.crop, s.method) ==
                           (source, target, crop, method))

            if mse("mr") >= mse("pixel-rr"):
                assert f"For {source} -> {target} at {crop} px, Pixel-RR" in card


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _explain(new: Path, old: Path) -> str:
    a, b = _members(new), _members(old)
    notes = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) == b.get(name):
            continue
        if name == "meta.npy" or name not in a or name not in b:
            notes.append(f"{name} differs")
            continue
        import io

        x = np.load(io.BytesIO(a[name])).astype(np.float64)
        y = np.load(io.BytesIO(b[name])).astype(np.float64)
        notes.append(f"{name}: max |diff| {np.abs(x - y).max():.3g}" if x.shape == y.shape
                     else f"{name}: shape {x.shape} vs {y.shape}")
    return "; ".join(notes)


@pytest.mark.timeout(3600)
def test_release_rebuild_reproduces_the_shipped_files(tmp_path):
    if not (DATASET / "neutral").is_dir():
        pytest.skip(f"london-faces dataset not found at {DATASET}: release rebuild check skipped")
    from fesgui.release import build_release

    full = os.environ.get("FESGUI_RELEASE_CHECK", "full") != "quick"
    written = build_release(DATASET, tmp_path, only=None if full else "_128")
    expected = [s.filename for s in SPECS if full or s.crop == 128]
    assert sorted(p.name for p in written) == sorted(expected)
    # identical bytes (the model files are byte-deterministic), not merely close arrays
    different = {p.name: _explain(p, MODELS / p.name) for p in written
                 if p.read_bytes() != (MODELS / p.name).read_bytes()}
    assert not different, f"rebuilt models differ from models/: {different}"
    if full:
        assert (tmp_path / "README.md").read_text() == (MODELS / "README.md").read_text()


def _expression(spec_or_name) -> dict:
    name = spec_or_name if isinstance(spec_or_name, str) else spec_or_name.filename[:-4]
    return read_meta(MODELS / f"{name}.npz")["metrics"]["expression"]


def test_every_shipped_model_was_scored_as_a_user_sees_it():
    for spec in SPECS:
        e = _expression(spec)
        assert e["n"] == read_meta(MODELS / spec.filename)["metrics"]["n_test"]
        assert e["smile"] is not None and e["n_smile"] >= e["n"] - 1
        assert 0 < e["chroma"] and 0 < e["sharpness"] and 0 < e["mse"]


def test_the_default_model_is_the_best_measured_and_meets_the_targets():
    from fesgui.catalog import DEFAULT_MODEL
    from fesgui.modelcard import TARGETS

    def meets(e):
        return all(e[k] is not None and e[k] >= v for k, v in TARGETS.items())

    candidates = {s.filename[:-4]: _expression(s) for s in SPECS
                  if (s.source, s.target) == ("neutral", "happy")}
    assert meets(candidates[DEFAULT_MODEL]), candidates[DEFAULT_MODEL]
    best = min((n for n, e in candidates.items() if meets(e)),
               key=lambda n: candidates[n]["mse"])
    assert DEFAULT_MODEL == best, f"{best} measures better than the default {DEFAULT_MODEL}"
