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


# issue 17: the worker computes, the GUI draws. Names from fesgui.core a GUI module may
# import: reading a model file and its metadata, and the names and defaults of the
# refinement parameters (no image is computed with them). Anything else from fesgui.core
# (alpha_map, alpha_stages, l1_map, refine, interpret, geometry, ...) is numerics: it runs
# on the worker, in fesgui.pipeline / fesgui.views, and reaches the panels in the result.
GUI_MAY_IMPORT_FROM_CORE = {"load_model", "read_meta", "ALPHA_SOURCES",
                            "default_dilation_radius", "default_blur_sigma"}
#: model methods that compute over a whole image: the worker's job, never a panel's
IMAGE_METHODS = {"predict", "predict_batch", "decompose", "fit", "scaled_input",
                 "output_scaling", "bias_image"}


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The absolute module of a ``from ... import`` in ``path`` (relative ones resolved)."""
    if node.level == 0:
        return node.module or ""
    parts = ["fesgui", *path.relative_to(PACKAGE).parent.parts]
    base = parts[:len(parts) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _core_numerics_used(path: Path, source: str | None = None) -> list[str]:
    """What module ``path`` (its text, or ``source``) takes from fesgui.core beyond
    :data:`GUI_MAY_IMPORT_FROM_CORE`, and its calls of :data:`IMAGE_METHODS`, as
    ``"line N: ..."``."""
    def is_core(module: str) -> bool:
        return module == "fesgui.core" or module.startswith("fesgui.core.")

    found = []
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if is_core(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path)
            for alias in node.names:
                if module == "fesgui" and alias.name == "core" or (
                        is_core(module) and alias.name not in GUI_MAY_IMPORT_FROM_CORE):
                    found.append(f"line {node.lineno}: from {module} import {alias.name}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in IMAGE_METHODS):
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
    return found


def test_gui_calls_no_core_numerics():
    offenders = {str(p.relative_to(PACKAGE)): used
                 for p in sorted((PACKAGE / "gui").rglob("*.py"))
                 if (used := _core_numerics_used(p))}
    assert not offenders, ("the GUI computes nothing (issue 17): take these from the "
                           f"worker's result (fesgui.views) instead: {offenders}")


def test_the_gui_numerics_rule_sees_each_kind_of_use():
    """The rule above catches a plain, a relative and a module import and an image method
    call, and lets the allowlisted names through."""
    probe = PACKAGE / "gui" / "probe.py"  # where the source would live (not written)
    cases = {
        "from fesgui.core import alpha_map": 1,
        "from fesgui.core.geometry import reach": 1,
        "from ..core import interpret": 1,
        "from .. import core": 1,
        "import fesgui.core.refine": 1,
        "wx, b = model.decompose(crop)": 1,
        "from fesgui.core import load_model, read_meta": 0,
        "from fesgui.core.refine import ALPHA_SOURCES": 0,
        "from fesgui.views import pixel_curve": 0,
    }
    for source, expected in cases.items():
        assert len(_core_numerics_used(probe, source)) == expected, source
