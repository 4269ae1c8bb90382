"""Where the shipped files live: ``fesgui/models/`` and ``fesgui/resources/``.

Both are package data inside the ``fesgui`` package, so a checkout, an editable install,
a wheel and a frozen app all find them the same way. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
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
