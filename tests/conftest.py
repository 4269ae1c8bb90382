"""Shared test set-up: headless Qt, a temporary settings folder, synthetic faces."""

from __future__ import annotations

import os

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


@pytest.fixture(autouse=True)
def user_models_dir(tmp_path_factory, monkeypatch):
    """The user models folder of every test is an empty temporary folder (never the real one)."""
    folder = tmp_path_factory.mktemp("user_models")
    monkeypatch.setenv("FESGUI_USER_MODELS", str(folder))
    return folder
