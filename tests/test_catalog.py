"""The model catalog: listing installed models and finding one by name or path."""

from __future__ import annotations

import pytest

from fesgui.catalog import find_model, list_models
from fesgui.core import PixelRegression
from fesgui.errors import FesguiError
from fesgui.synthetic import make_pairs


@pytest.fixture()
def models_folder(tmp_path, monkeypatch):
    X, T = make_pairs(3, 8, 8, seed=0)
    for name in ("b_model", "a_model"):
        model = PixelRegression(lam=0.4).fit(X, T)
        model.set_meta(source="neutral", target="happy", name=name)
        model.save(tmp_path / f"{name}.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "notes.txt").write_text("not a model")
    monkeypatch.setenv("FESGUI_MODELS", str(tmp_path))
    return tmp_path


def test_list_models_sorted_valid_only(models_folder):
    infos = list_models()
    assert [i.name for i in infos] == ["a_model", "b_model"]
    first = infos[0]
    assert first.path == models_folder / "a_model.npz"
    assert first.size_bytes == first.path.stat().st_size > 0
    assert first.meta["method"] == "pixel-rr" and first.meta["name"] == "a_model"
    assert [i.name for i in list_models(models_folder)] == ["a_model", "b_model"]


def test_find_model_by_name_and_path(models_folder):
    assert find_model("b_model") == models_folder / "b_model.npz"
    assert find_model(str(models_folder / "a_model.npz")) == models_folder / "a_model.npz"


def test_find_model_errors_name_the_way_out(models_folder):
    with pytest.raises(FesguiError, match="choose one of a_model, b_model"):
        find_model("c_model")
    with pytest.raises(FesguiError, match="does not exist"):
        find_model(str(models_folder / "gone.npz"))


def test_empty_folder_lists_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("FESGUI_MODELS", str(tmp_path))
    assert list_models() == []
    with pytest.raises(FesguiError, match="none installed"):
        find_model("anything")
