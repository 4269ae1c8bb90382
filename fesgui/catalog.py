"""The installed models: what ships in ``fesgui/models/``, what the user trained (the user models
folder, :func:`fesgui.paths.user_models_dir`) and how to find one by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fesgui.errors import FesguiError
from fesgui.paths import models_dir, user_models_dir

#: the model the app starts with and the commands use without -m: the best-measured
#: neutral -> happy model on held-out people (fesgui/models/EVALUATION.md, "As a user sees it")
DEFAULT_MODEL = "neutral2happy_pixelrr_256"


@dataclass(frozen=True)
class ModelInfo:
    name: str          # file stem, e.g. "neutral2happy_mr3_128"
    path: Path
    meta: dict
    size_bytes: int
    user: bool = False  # trained by the user (in the user models folder), not shipped


def list_models(folder: Path | None = None) -> list[ModelInfo]:
    """Every readable model in ``folder`` (default: the shipped models), sorted by name.

    Files that are not valid models are skipped here; loading one explicitly reports why.
    """
    from fesgui.core import read_meta

    folder = models_dir() if folder is None else Path(folder)
    infos = []
    paths = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    for path in paths:
        try:
            meta = read_meta(path)
        except FesguiError:
            continue
        infos.append(ModelInfo(path.stem, path, meta, path.stat().st_size))
    return infos


def list_all_models() -> list[ModelInfo]:
    """The shipped models, then the user's own (``user=True``), each group sorted by name.

    A user model with the name of a shipped one is still listed (its path tells them apart).
    """
    from dataclasses import replace

    shipped = list_models()
    user_folder = user_models_dir()
    if user_folder.resolve() == models_dir().resolve():
        return shipped
    return shipped + [replace(info, user=True) for info in list_models(user_folder)]


def find_model(name_or_path: str) -> Path:
    """A model file from a path or the name of an installed model."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".npz" or path.exists():
        if not path.exists():
            raise FesguiError(f"model file {path} does not exist: check the path")
        return path
    names: dict[str, Path] = {}
    for info in list_all_models():  # a shipped model wins over a user model of its name
        names.setdefault(info.name, info.path)
    if name_or_path in names:
        return names[name_or_path]
    known = ", ".join(sorted(names)) or "none installed"
    raise FesguiError(f"no model named {name_or_path!r}: choose one of {known}, or give a .npz path")
