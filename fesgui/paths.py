"""Where the shipped files live: ``fesgui/models/`` and ``fesgui/resources/``.

Both are package data inside the ``fesgui`` package, so a checkout, an editable install,
a wheel and a frozen app all find them the same way. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _packaged(name: str) -> Path:
    return _PACKAGE / name


def models_dir() -> Path:
    """Folder of the shipped models (``FESGUI_MODELS`` overrides it)."""
    override = os.environ.get("FESGUI_MODELS")
    return Path(override) if override else _packaged("models")


def resources_dir() -> Path:
    """Folder of the small shipped assets (reference face template, icons)."""
    return _packaged("resources")


def user_models_dir() -> Path:
    """Folder of the models the user trained in the app (it may not exist yet).

    ``FESGUI_USER_MODELS`` overrides it; otherwise the platform's per-user data folder:
    ``$XDG_DATA_HOME/fesgui/models`` (default ``~/.local/share/fesgui/models``) on Linux,
    ``%APPDATA%\\fesgui\\models`` on Windows, ``~/Library/Application Support/fesgui/models``
    on macOS. No Qt here (``QStandardPaths`` would give the same places).
    """
    override = os.environ.get("FESGUI_USER_MODELS")
    if override:
        return Path(override).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "fesgui" / "models"
