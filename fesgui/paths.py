"""Where the shipped files live: ``models/`` and ``resources/``.

In a source checkout or an editable install they are the top-level folders beside the
``fesgui`` package; in a wheel they are installed inside the package
(``fesgui/models``, ``fesgui/resources``). Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    return _PACKAGE.parent / name


def models_dir() -> Path:
    """Folder of the shipped models (``FESGUI_MODELS`` overrides it)."""
    override = os.environ.get("FESGUI_MODELS")
    return Path(override) if override else _first_existing("models")


def resources_dir() -> Path:
    """Folder of the small shipped assets (reference face template, icons)."""
    return _first_existing("resources")
