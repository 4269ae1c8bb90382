"""The test session never touches the user's real settings, cache or models folders."""

from __future__ import annotations

import os
from pathlib import Path

USER_FOLDER_VARIABLES = ("FESGUI_SETTINGS_DIR", "FESGUI_CACHE", "FESGUI_USER_MODELS")


def test_user_folders_point_into_the_session_folder(user_folders: Path):
    from fesgui.data import default_cache_dir

    for name in USER_FOLDER_VARIABLES:
        assert Path(os.environ[name]).is_relative_to(user_folders), name
    assert default_cache_dir().is_relative_to(user_folders)
    assert not user_folders.is_relative_to(Path.home() / ".config")
    assert not user_folders.is_relative_to(Path.home() / ".cache")


def test_a_test_that_undoes_its_monkeypatch_still_saves_settings_in_the_session_folder(
        qtbot, tmp_path, monkeypatch, user_folders, real_folders_snapshot):
    """The old failure: ``monkeypatch.undo()`` before the window closed sent the window's
    settings (a model path in pytest's temp folder) to ``~/.config/fesgui/fesgui.ini``."""
    from fesgui.gui.main_window import MainWindow
    from fesgui.gui.settings import settings_path

    before = real_folders_snapshot()
    monkeypatch.setenv("FESGUI_SETTINGS_DIR", str(tmp_path / "own"))
    monkeypatch.setenv("FESGUI_MODELS", str(tmp_path))  # no models
    win = MainWindow(landmarks_factory=lambda video: None)
    qtbot.addWidget(win)
    monkeypatch.undo()  # the mistake the two old tests made
    assert settings_path().is_relative_to(user_folders)
    win.close()
    assert settings_path().exists()  # the window saved its settings on close: here
    assert real_folders_snapshot() == before
