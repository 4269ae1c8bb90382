"""The layering rules are enforced here, not promised.

* ``fesgui.core`` imports numpy, scipy (and threadpoolctl): no Qt, no MediaPipe, no OpenCV;
  numba, for the compiled MR predict kernels, only in ``core/kernels.py``, which nothing
  loads before a model predicts.
* ``import fesgui`` and ``fesgui --help`` do not load Qt or MediaPipe.
* Only ``fesgui/align/mediapipe_source.py`` imports MediaPipe.
* Only ``fesgui/gui`` imports Qt or pyqtgraph.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fesgui"
FORBIDDEN_IN_CORE = ("PySide6", "pyqtgraph", "mediapipe", "cv2", "PIL", "sklearn", "skimage")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_only_numpy_and_scipy():
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(_imports(p) & set(FORBIDDEN_IN_CORE))
        for p in (PACKAGE / "core").rglob("*.py")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"core must not import GUI/vision libraries: {offenders}"


def test_numba_lives_in_the_kernels_module():
    users = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "numba" in _imports(p)
    )
    assert users == ["core/kernels.py"], users


def test_mediapipe_lives_in_one_module():
    users = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "mediapipe" in _imports(p)
    )
    assert users in ([], ["align/mediapipe_source.py"]), users


def test_qt_lives_in_gui_package():
    users = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if _imports(p) & {"PySide6", "pyqtgraph"} and p.parent.name != "gui"
        and "gui" not in p.relative_to(PACKAGE).parts
    )
    assert users == [], f"Qt imported outside fesgui/gui: {users}"


def test_core_import_in_fresh_interpreter_loads_no_gui_vision_or_jit():
    code = (
        "import sys, fesgui.core, fesgui.cli; "
        "bad = [m for m in ('PySide6', 'mediapipe', 'cv2', 'pyqtgraph', 'numba') "
        "if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the core pulled in: {out.stdout.strip()}"
