"""Where results go: the one check every writer makes before it does any work.

Every command and the app call :func:`check_output` for each file they will write (image,
video, model, CSR matrix) and :func:`plan_batch` for a folder of results, so that no
output ever replaces one of its own inputs, two results never get the same name, and a
name that cannot be written is refused before any work is done, in one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from fesgui.errors import FesguiError

__all__ = ["check_output", "plan_batch", "result_name", "same_file"]

#: image formats a batch writes under their own name; other inputs get ``.png`` appended
_KEPT_SUFFIXES = (".png", ".jpg", ".jpeg")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (also through links, ``..``, hard
    links); a path that does not exist yet is compared by its resolved name."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
                 what: str = "output") -> Path:
    """Refuse, in one line, an output file that cannot or must not be written.

    Refused: a name with nothing before its extension (``.png``), an existing folder, a
    folder that does not exist, and any of ``inputs`` (the files the command reads: a
    result must never replace its own input). Format (extension) checks stay with each
    writer. Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise FesguiError(f"{what} {str(path)!r} is not a file name: give e.g. result.png")
    if path.name.startswith(".") and "." not in path.name[1:]:  # ".png": all extension
        raise FesguiError(f"{what} {path.name!r} has no name before its extension: give "
                          f"e.g. result{path.name}")
    if path.is_dir():
        raise FesguiError(f"{what} {path} is a folder: give a file name inside it, e.g. "
                          f"{path / 'result'}")
    if not path.parent.is_dir():
        raise FesguiError(f"cannot write {path}: the folder {path.parent} does not exist; "
                          "create it first")
    for source in inputs:
        if same_file(path, source):
            raise FesguiError(f"{what} {path} is also an input ({Path(source).name}): choose "
                              "another name so the input is not overwritten")
    return path


def result_name(path: str | os.PathLike) -> str:
    """The name of a photo's result in a batch: the same name for PNG/JPEG inputs, other
    formats get ``.png`` appended (``p.tif`` -> ``p.tif.png``)."""
    path = Path(path)
    return path.name if path.suffix.lower() in _KEPT_SUFFIXES else path.name + ".png"


def plan_batch(files: Sequence[str | os.PathLike], out_dir: str | os.PathLike
               ) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Where each photo of a batch goes: ``(plan, refused)``.

    ``plan`` holds ``(input, output)`` pairs in the order of ``files``; ``refused`` holds
    ``(name, reason)`` for the photos left out because their result would replace an input
    or another photo's result (``p.tif`` and ``p.tif.png`` both give ``p.tif.png``: the
    photo that already has that name keeps it; with no such photo, the first one by name).
    Names are compared ignoring case, as on Windows and macOS.
    """
    out_dir = Path(out_dir)
    files = [Path(f) for f in files]
    by_name: dict[str, list[Path]] = {}
    for f in files:
        by_name.setdefault(result_name(f).casefold(), []).append(f)
    plan: list[tuple[Path, Path]] = []
    refused: list[tuple[str, str]] = []
    for f in files:
        target = out_dir / result_name(f)
        group = by_name[result_name(f).casefold()]
        owner = next((g for g in group if g.name.casefold() == result_name(g).casefold()),
                     min(group, key=lambda g: g.name))
        if f is not owner:
            refused.append((f.name, f"its result {target.name} would replace the result of "
                            f"{owner.name}: rename one of the two photos"))
        elif any(same_file(target, g) for g in files):
            refused.append((f.name, f"its result {target} would replace an input photo: "
                            "choose another output folder"))
        else:
            plan.append((f, target))
    return plan, refused
