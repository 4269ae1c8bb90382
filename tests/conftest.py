"""Shared test set-up: headless Qt, the user's folders replaced by temporary ones."""

from __future__ import annotations

import hashlib
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
    """Every file under ``folders``: path -> size, mtime and SHA-256 of its bytes."""
    state = {}
    for folder in folders:
        if not folder.exists():
            state[str(folder)] = "absent"
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[str(path)] = f"{stat.st_size} {stat.st_mtime_ns} {digest}"
    return state


@pytest.fixture(scope="session", autouse=True)
def user_folders(tmp_path_factory: pytest.TempPathFactory):
    """For the whole session, settings, cache and user models live in a temporary folder.

    A test that undoes its own ``monkeypatch`` (or forgets to set a folder) still writes
    here, never to the user's ``~/.config/fesgui`` or ``~/.cache/fesgui``. At the end of
    the session the real folders must be exactly as they were (an error otherwise).
    """
    before = snapshot(real_user_folders())
    root = tmp_path_factory.mktemp("user")
    patch = pytest.MonkeyPatch()
    for name, sub in zip(USER_FOLDER_VARIABLES, ("settings", "cache", "user-models"),
                         strict=True):
        patch.setenv(name, str(root / sub))
    yield root
    patch.undo()
    after = snapshot(real_user_folders())
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"the tests changed the user's real folders: {changed[:5]}"


@pytest.fixture
def real_folders_snapshot():
    """``real_folders_snapshot()``: the state of the user's real fesgui folders now."""
    return lambda: snapshot(real_user_folders())
