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
        model.set_provenance(source="neutral", target="happy", name=name)
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


def test_user_models_are_listed_after_the_shipped_ones(models_folder, user_models_dir):
    from fesgui.catalog import list_all_models

    X, T = make_pairs(3, 8, 8, seed=1)
    mine = PixelRegression(lam=0.4).fit(X, T)
    mine.set_provenance(source="neutral", target="happy", name="mine")
    mine.save(user_models_dir / "mine.npz")
    mine.save(user_models_dir / "a_model.npz")  # the name of a shipped model
    infos = list_all_models()
    assert [(i.name, i.user) for i in infos] == [("a_model", False), ("b_model", False),
                                                 ("a_model", True), ("mine", True)]
    assert find_model("mine") == user_models_dir / "mine.npz"
    assert find_model("a_model") == models_folder / "a_model.npz"  # shipped wins
    assert list_models() == infos[:2]  # the shipped list is unchanged (evaluation, cards)


def test_missing_user_folder_lists_nothing_more(models_folder, tmp_path, monkeypatch):
    from fesgui.catalog import list_all_models

    monkeypatch.setenv("FESGUI_USER_MODELS", str(tmp_path / "not" / "yet"))
    assert [i.name for i in list_all_models()] == ["a_model", "b_model"]


@pytest.mark.parametrize(("platform", "env", "expected"), [
    ("linux", {"XDG_DATA_HOME": "/data"}, "/data/fesgui/models"),
    ("linux", {}, "HOME/.local/share/fesgui/models"),
    ("darwin", {}, "HOME/Library/Application Support/fesgui/models"),
    ("win32", {"APPDATA": "/roaming"}, "/roaming/fesgui/models"),
])
def test_user_models_dir_per_platform(platform, env, expected, monkeypatch, tmp_path):
    from fesgui import paths

    monkeypatch.delenv("FESGUI_USER_MODELS")
    for key in ("XDG_DATA_HOME", "APPDATA"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(paths.sys, "platform", platform)
    monkeypatch.setattr(paths.Path, "home", classmethod(lambda cls: tmp_path))
    assert paths.user_models_dir() == paths.Path(expected.replace("HOME", str(tmp_path)))
    monkeypatch.setenv("FESGUI_USER_MODELS", str(tmp_path / "mine"))
    assert paths.user_models_dir() == tmp_path / "mine"
