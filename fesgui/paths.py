"""Where the shipped files live: ``fesgui/models/`` and ``fesgui/resources/``.

Both are package data inside the ``fesgui`` package, found with :mod:`importlib.resources`,
so a checkout, an editable install, a wheel (``pip install``, ``pipx``, ``uv tool``) and
the one-folder app all find them the same way, from any working folder. Nothing is ever
downloaded.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from functools import cache
from importlib import resources
from pathlib import Path

from fesgui.errors import FesguiError


@cache
def _packaged(name: str) -> Path:
    """A real folder for the package-data folder ``name``.

    Installed packages are plain folders (``files()`` gives a :class:`~pathlib.Path`);
    should fesgui ever be imported from a zip archive, :func:`importlib.resources.as_file`
    unpacks the folder once (Python 3.12+) and it stays until the process exits.
    """
    ref = resources.files("fesgui") / name
    if isinstance(ref, Path):
        return ref
    stack = contextlib.ExitStack()
    try:
        path = stack.enter_context(resources.as_file(ref))
    except (OSError, TypeError, ValueError) as exc:
        raise FesguiError(
            f"cannot read fesgui's {name} folder from {ref} ({exc}): "
            "install fesgui as a normal package (pip install fesgui)") from exc
    atexit.register(stack.close)
    return Path(path)


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
