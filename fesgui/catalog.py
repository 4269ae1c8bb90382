"""The installed models: what ships in ``fesgui/models/`` and how to find one by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fesgui.errors import FesguiError
from fesgui.paths import models_dir

#: the model the app starts with and the commands use without -m: the best-measured
#: neutral -> happy model on held-out people (fesgui/models/EVALUATION.md, "As a user sees it")
DEFAULT_MODEL = "neutral2happy_mr5_128"


@dataclass(frozen=True)
class ModelInfo:
    name: str          # file stem, e.g. "neutral2happy_mr3_128"
    path: Path
    meta: dict
    size_bytes: int


def list_models(folder: Path | None = None) -> list[ModelInfo]:
    """Every readable model in ``folder`` (default: the shipped models), sorted by name.

    Files that are not valid models are skipped here; loading one explicitly reports why.
    """
    from fesgui.core import read_meta

    folder = models_dir() if folder is None else Path(folder)
    infos = []
    for path in sorted(folder.glob("*.npz")):
        try:
            meta = read_meta(path)
        except FesguiError:
            continue
        infos.append(ModelInfo(path.stem, path, meta, path.stat().st_size))
    return infos


def find_model(name_or_path: str) -> Path:
    """A model file from a path or the name of an installed model."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".npz" or path.exists():
        if not path.exists():
            raise FesguiError(f"model file {path} does not exist: check the path")
        return path
    names = {info.name: info.path for info in list_models()}
    if name_or_path in names:
        return names[name_or_path]
    known = ", ".join(sorted(names)) or "none installed"
    raise FesguiError(f"no model named {name_or_path!r}: choose one of {known}, or give a .npz path")
