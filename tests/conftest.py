"""Shared test set-up: headless Qt, the user's folders replaced by temporary ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def fake_camera(monkeypatch):
    """``fake_camera(cap)``: camera indices exist and open as the OpenCV-like ``cap``."""
    from fesgui import video

    def install(cap):
        monkeypatch.setattr(video, "_camera_exists", lambda index: True)
        monkeypatch.setattr(video, "_open_capture", lambda *a: cap)
        return cap

    return install


#: the environment variables that move the user's folders (settings, alignment cache,
#: user models); the session points every one into a temporary folder
USER_FOLDER_VARIABLES = ("FESGUI_SETTINGS_DIR", "FESGUI_CACHE", "FESGUI_USER_MODELS")


def real_user_folders() -> list[Path]:
    """The folders fesgui uses when nothing moves them (settings, cache, user models)."""
    home = Path.home()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return [config / "fesgui", cache / "fesgui", data / "fesgui"]


def snapshot(folders: list[Path]) -> dict[str, str]:
    """Every file under ``folders``: path -> size and modification time (ns)."""
    state = {}
    for folder in folders:
        if not folder.exists():
            state[str(folder)] = "absent"
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            state[str(path)] = f"{stat.st_size} {stat.st_mtime_ns}"
    return state


def _mentioning(folders: list[Path], text: str) -> list[str]:
    """The small files (< 1 MB: settings, cache records) under ``folders`` holding ``text``."""
    found = []
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else ():
            if (path.is_file() and path.stat().st_size < 1 << 20
                    and text.encode() in path.read_bytes()):
                found.append(str(path))
    return sorted(found)


@pytest.fixture(scope="session", autouse=True)
def user_folders(tmp_path_factory: pytest.TempPathFactory):
    """For the whole session, settings, cache and user models live in a temporary folder.

    A test that undoes its own ``monkeypatch`` (or forgets to set a folder) still writes
    here, never to the user's ``~/.config/fesgui`` or ``~/.cache/fesgui``. At the end of
    the session no file in the real folders may mention this session's temporary folder
    (what the old leak wrote: a model path inside pytest's temp folder). The check looks
    for this session's traces only, so other test runs on the same machine at the same
    time (other checkouts) cannot make it fail; ``test_isolation.py`` compares the real
    folders byte for byte around a window's life.
    """
    root = tmp_path_factory.mktemp("user")
    base = str(tmp_path_factory.getbasetemp())
    patch = pytest.MonkeyPatch()
    for name, sub in zip(USER_FOLDER_VARIABLES, ("settings", "cache", "user-models"),
                         strict=True):
        patch.setenv(name, str(root / sub))
    yield root
    patch.undo()
    leaked = _mentioning(real_user_folders(), base)
    assert not leaked, f"the tests wrote into the user's real folders: {leaked}"


@pytest.fixture
def real_folders_snapshot():
    """``real_folders_snapshot()``: the state of the user's real fesgui folders now."""
    return lambda: snapshot(real_user_folders())


_USER_MODELS_COUNT = [0]


@pytest.fixture(autouse=True)
def user_models_dir(user_folders, monkeypatch):
    """The user models folder of every test is an empty folder of its own inside the
    session's temporary user folder (never the real one)."""
    _USER_MODELS_COUNT[0] += 1
    folder = user_folders / "user-models" / f"test{_USER_MODELS_COUNT[0]}"
    folder.mkdir(parents=True)
    monkeypatch.setenv("FESGUI_USER_MODELS", str(folder))
    return folder


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny MR 3x3 model of 64 px faces, fitted on synthetic pairs (a module may override
    it with a model of its own)."""
    from fesgui.core import MaskedRegression
    from fesgui.synthetic import make_pairs

    X, T = make_pairs(30, 64, 64, seed=4)
    path = tmp_path_factory.mktemp("models") / "tiny.npz"
    MaskedRegression(size=3).fit(X, T).save(path)
    return path
