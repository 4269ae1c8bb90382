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


# --------------------------------------------------------------------------- internal layers
# Who may import whom inside fesgui, as an allowlist of units. A unit is a subpackage or a
# top-level module (``fesgui/core/*`` -> "core", ``fesgui/training.py`` -> "training");
# the evaluation package is two units: the measures that training, the model card and the
# release build use ("measures") and the study behind ``fesgui evaluate`` ("evaluation").
# Every import counts, also one inside a function. A new module needs a unit here.
MEASURES = ("metrics", "smile", "expression", "baselines")
#: the small modules every layer above them may use
BASE = frozenset({"fesgui", "errors", "atomic", "paths", "outputs", "imageio", "extras",
                  "names"})
BELOW_MODELS = BASE | {"core", "align", "data", "pipeline", "catalog", "video", "synthetic"}
ALLOWED: dict[str, frozenset[str]] = {
    "fesgui": frozenset(),                       # __init__.py: the version only
    "__main__": frozenset({"cli"}),
    "errors": frozenset(),
    "names": frozenset(),                        # labels of methods and models (Qt-free)
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
    "pipeline": BASE | {"core", "align"},
    "measures": BELOW_MODELS,
    "training": BELOW_MODELS | {"measures"},
    "modelcard": BELOW_MODELS | {"measures", "training"},
    "release": BELOW_MODELS | {"measures", "training", "modelcard"},
    "evaluation": BELOW_MODELS | {"measures", "training", "modelcard", "release"},
    "gui": BELOW_MODELS,
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
