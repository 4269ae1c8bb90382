"""Every file fesgui writes goes through ``fesgui.atomic.atomic_write``: a static check.

Each call that writes a file (``open(..., "w")``, ``Path.write_bytes/write_text``,
``cv2.imwrite``, ``cv2.VideoWriter``, ``np.save*``, ``scipy.sparse.save_npz``,
``savefig``, ``tofile``, ``zipfile.ZipFile(..., "w")``) must sit inside a
``with atomic_write(...)`` block, or write to the temporary path such a block yields (also
when the context manager is entered by hand, ``tmp = cm.__enter__()`` with
``cm = atomic_write(...)``, as the video writer does). ``fesgui/atomic.py`` itself and
writes to ``os.devnull`` are the only exceptions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fesgui

PACKAGE = Path(fesgui.__file__).parent
WRITERS = {"write_bytes", "write_text", "imwrite", "save", "savez", "savez_compressed",
           "save_npz", "savefig", "tofile", "VideoWriter"}
NUMPY_LIKE = {"np", "numpy", "sp", "scipy", "sparse", "cv2"}


def _is_atomic_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    return name in ("atomic_write", "write_bytes_atomic")


def _mode(call: ast.Call, position: int) -> str:
    args = list(call.args)
    if len(args) > position and isinstance(args[position], ast.Constant):
        return str(args[position].value)
    for kw in call.keywords:
        if kw.arg == "mode" and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
    return "r"


def _writes(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name) and f.id == "open":
        first = call.args[0] if call.args else None
        devnull = isinstance(first, ast.Attribute) and first.attr == "devnull"
        return any(c in _mode(call, 1) for c in "wax+") and not devnull
    if isinstance(f, ast.Attribute):
        if f.attr == "ZipFile":
            return any(c in _mode(call, 1) for c in "wax")
        if f.attr in ("write_bytes", "write_text", "savefig", "tofile"):
            return True
        if f.attr in WRITERS and isinstance(f.value, ast.Name) and f.value.id in NUMPY_LIKE:
            return True
    return False


def _manual_temporaries(tree: ast.AST) -> set[str]:
    """Expressions (as source) holding a path from a hand-entered ``atomic_write``."""
    managers, temporaries = set(), set()
    assigns = [n for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)]
    for node in assigns:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if _is_atomic_call(node.value):
            managers.update(ast.unparse(t) for t in targets)
    for node in assigns:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        v = node.value
        if (isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute)
                and v.func.attr == "__enter__" and ast.unparse(v.func.value) in managers):
            temporaries.update(ast.unparse(t) for t in targets)
    return temporaries


def _first_arg(call: ast.Call) -> str:
    if not call.args:
        return ""
    arg = call.args[0]
    if isinstance(arg, ast.Call) and getattr(arg.func, "id", "") == "str" and arg.args:
        arg = arg.args[0]
    return ast.unparse(arg)


def _offenders(tree: ast.AST) -> list[int]:
    """Line numbers of writing calls outside any ``with atomic_write(...)`` block."""
    bad: list[int] = []
    temporaries = _manual_temporaries(tree)

    def visit(node: ast.AST, inside: bool) -> None:
        if isinstance(node, ast.With | ast.AsyncWith):
            if any(_is_atomic_call(item.context_expr) for item in node.items):
                inside = True
        if (isinstance(node, ast.Call) and _writes(node) and not inside
                and _first_arg(node) not in temporaries):
            bad.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return bad


def test_the_checker_finds_a_plain_write():
    src = ("from pathlib import Path\n"
           "def f(p, data):\n"
           "    Path(p).write_bytes(data)\n"
           "    with atomic_write(p) as tmp:\n"
           "        tmp.write_bytes(data)\n"
           "    with open(p, 'w') as fh:\n"
           "        fh.write('x')\n"
           "    with open(os.devnull, 'w'):\n"
           "        pass\n"
           "    np.save(p, data)\n"
           "    cm = atomic_write(p)\n"
           "    tmp = cm.__enter__()\n"
           "    cv2.VideoWriter(str(tmp), 0, 30, (4, 4))\n"
           "    cv2.VideoWriter(str(p), 0, 30, (4, 4))\n")
    assert _offenders(ast.parse(src)) == [3, 6, 10, 14]


def test_every_file_write_in_fesgui_is_atomic():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "atomic.py" and path.parent == PACKAGE:
            continue
        lines = _offenders(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            found[str(path.relative_to(PACKAGE.parent))] = lines
    assert found == {}, f"writes outside atomic_write (file: lines): {found}"
