"""What the app remembers between runs (QSettings, see :mod:`fesgui.gui.settings`).

Window geometry and dock layout, the last folder, the model, the slider values, the camera
and the mirror toggle. Restoring never fails: a value that no longer makes sense (a model
file that was deleted) is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fesgui.gui.settings import open_settings, read_bool
from fesgui.params import PARAMS, RefineParams

if TYPE_CHECKING:
    from fesgui.gui.main_window import MainWindow


def save(window: MainWindow) -> None:
    """Store the window's state and the user's choices."""
    s = open_settings()
    c = window.controller
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState())
    s.setValue("files/last_folder", window.input_panel.last_folder)
    if c.model_entry is not None:
        s.setValue("model/path", str(c.model_entry.path))
    for key in PARAMS:  # "" stands for None (the model's default)
        value = getattr(c.params, key)
        s.setValue(f"refine/{key}", "" if value is None else value)
    if isinstance(c.camera, int):  # a video file standing in for a camera is not remembered
        s.setValue("camera/index", str(c.camera))
    s.setValue("camera/mirror", bool(c.mirror))
    s.sync()


def restore(window: MainWindow) -> None:
    """Apply the stored state (geometry, docks, folder, sliders, camera, mirror)."""
    s = open_settings()
    c = window.controller
    geometry = s.value("window/geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    state = s.value("window/state")
    if state is not None:
        window.restoreState(state)
    folder = str(s.value("files/last_folder", "") or "")
    window.input_panel.last_folder = folder
    window.model_panel.last_folder = folder
    # a value missing, unreadable or out of range (an older version's) takes its default
    params = RefineParams.from_dict({key: s.value(f"refine/{key}", None) for key in PARAMS})
    c.set_params(params)
    camera = str(s.value("camera/index", "0") or "0")
    c.camera = int(camera) if camera.isdigit() else 0
    c.set_mirror(read_bool(s, "camera/mirror", False))
    window.input_panel.mirror.setChecked(c.mirror)


def saved_model() -> Path | None:
    """The model file chosen last time, if it still exists."""
    value = open_settings().value("model/path")
    if value and Path(str(value)).is_file():
        return Path(str(value))
    return None
