"""Persistent settings: one INI file at a place tests can redirect.

``FESGUI_SETTINGS_DIR`` (if set) is the folder holding ``fesgui.ini``; otherwise Qt's
per-user configuration folder is used. Keys in use (all optional):
``files/last_folder``, ``model/path``, ``refine/*``, ``window/geometry``, ``window/state``,
``camera/index``, ``camera/mirror``.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

SETTINGS_FILE = "fesgui.ini"


def settings_path() -> Path:
    """Path of the INI file (the folder need not exist yet)."""
    override = os.environ.get("FESGUI_SETTINGS_DIR")
    if override:
        return Path(override) / SETTINGS_FILE
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base or Path.home() / ".config") / "fesgui" / SETTINGS_FILE


def open_settings() -> QSettings:
    """The app's QSettings in IniFormat at :func:`settings_path`."""
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    """A bool stored under ``key`` (INI stores ``true``/``false`` as text)."""
    value = settings.value(key, None)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")
