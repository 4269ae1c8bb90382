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
# import: reading a model file and its metadata, the names and defaults of the
# refinement parameters (no image is computed with them), and holding BLAS to one thread
# for the app's life (a process setting, no numerics). Anything else from fesgui.core
# (alpha_map, alpha_stages, l1_map, refine, interpret, geometry, ...) is numerics: it runs
# on the worker, in fesgui.pipeline / fesgui.views, and reaches the panels in the result.
GUI_MAY_IMPORT_FROM_CORE = {"load_model", "read_meta", "ALPHA_SOURCES",
                            "default_dilation_radius", "default_blur_sigma",
                            "one_blas_thread"}
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


# --------------------------------------------------------------------------- internal layers
# Who may import whom inside fesgui, as an allowlist of units. A unit is a subpackage or a
# top-level module (``fesgui/core/*`` -> "core", ``fesgui/training.py`` -> "training");
# the evaluation package is two units: the measures that training, the model card and the
# release build use ("measures") and the study behind ``fesgui evaluate`` ("evaluation").
# Every import counts, also one inside a function. A new module needs a unit here.
MEASURES = ("metrics", "smile", "expression", "baselines")
#: the small modules every layer above them may use
BASE = frozenset({"fesgui", "errors", "atomic", "paths", "outputs", "imageio", "extras",
                  "names", "params"})
BELOW_MODELS = BASE | {"core", "align", "data", "pipeline", "views", "catalog", "video",
                       "synthetic", "batch"}
ALLOWED: dict[str, frozenset[str]] = {
    "fesgui": frozenset(),                       # __init__.py: the version only
    "__main__": frozenset({"cli"}),
    "errors": frozenset(),
    "names": frozenset(),                        # labels of methods and models (Qt-free)
    "params": frozenset({"errors"}),             # every user-facing parameter, once
    "atomic": frozenset({"errors"}),
    "paths": frozenset({"errors"}),
    "outputs": frozenset({"errors"}),
    "extras": frozenset({"errors"}),
    "imageio": frozenset({"errors", "atomic", "outputs"}),
    "core": frozenset({"errors", "atomic", "outputs"}),
    "align": BASE | {"core"},
    "video": BASE,
    "synthetic": BASE,
    "catalog": BASE | {"core"},
    "data": BASE | {"core", "align"},
    "views": BASE | {"core"},                    # what the panels show, computed by the worker
    "pipeline": BASE | {"core", "align", "views"},
    "batch": BASE,                               # the one batch loop (given a pipeline)
    "session": BELOW_MODELS,                     # the app's state and rules, no Qt
    "measures": BELOW_MODELS,
    "training": BELOW_MODELS | {"measures"},
    "modelcard": BELOW_MODELS | {"measures", "training"},
    "release": BELOW_MODELS | {"measures", "training", "modelcard"},
    "evaluation": BELOW_MODELS | {"measures", "training", "modelcard", "release"},
    "gui": BELOW_MODELS | {"session"},
    "commands": BELOW_MODELS | {"measures", "training", "modelcard", "release", "evaluation"},
    "cli": BASE | {"commands", "gui"},
    "benchmarks": BELOW_MODELS | {"commands", "gui", "cli"},
}
#: single modules allowed one import beyond their unit's list: (module, unit) -> why
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("fesgui.gui.train_dialog", "training"):
        "the training dialog runs the training protocol in its worker thread",
    ("fesgui.commands.bench", "benchmarks"):
        "`fesgui bench` is the front end of the benchmarks (which also time the commands)",
}


def _unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "fesgui"
    if parts[1] == "evaluation":
        return "measures" if len(parts) == 2 or parts[2] in MEASURES else "evaluation"
    return parts[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _internal_imports(path: Path) -> set[str]:
    """The fesgui modules ``path`` imports (``from fesgui.x import name`` counts as module
    ``fesgui.x.name`` when that is a module, else as ``fesgui.x``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "fesgui")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "fesgui":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").is_file() \
                    or (PACKAGE.parent / sub.replace(".", "/")).is_dir()
                found.add(sub if is_module else base)
    return found


def _layer_violations(package: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path)
        unit = _unit(module)
        if unit not in ALLOWED:
            problems.append(f"{module}: unit {unit!r} has no entry in ALLOWED")
            continue
        for target in sorted(_internal_imports(path)):
            other = _unit(target)
            if other != unit and other not in ALLOWED[unit] and (module, other) not in EXCEPTIONS:
                problems.append(f"{module} ({unit}) imports {target} ({other})")
    return problems


def test_internal_imports_follow_the_layers():
    problems = _layer_violations()
    assert not problems, "imports against the layers in tests/test_layers.py:\n" + "\n".join(
        problems)


def test_the_layers_have_no_cycle_and_every_exception_is_used():
    from graphlib import TopologicalSorter

    TopologicalSorter({u: set(a) - {u} for u, a in ALLOWED.items()}).prepare()  # CycleError
    assert set().union(*ALLOWED.values()) <= set(ALLOWED)
    used = set()
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        used |= {(module, _unit(t)) for t in _internal_imports(path)} & set(EXCEPTIONS)
    assert used == set(EXCEPTIONS), f"stale exceptions: {set(EXCEPTIONS) - used}"
