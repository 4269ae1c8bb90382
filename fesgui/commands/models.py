"""``fesgui models``: the installed models, one line each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list the installed models (method, mapping, crop size, file size, test MSE)",
        description="List the models in the shipped models folder (or --folder): name "
        "(the default model is marked), method, expression mapping, crop size, colour, how far "
        "its shape warp moves pixels, size on disk and test-set MSE x10^2.",
    )
    p.add_argument("--folder", default=None, help="list the models of this folder instead")
    p.set_defaults(run=run)


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def format_table(infos) -> str:
    """The model list as aligned text columns (one header line, one line per model)."""
    from fesgui.catalog import DEFAULT_MODEL
    from fesgui.names import method_label

    rows = [("name", "method", "mapping", "crop", "colour", "shape", "on disk",
             "test MSE x10^2")]
    for info in infos:
        meta = info.meta
        hw = meta.get("image_size") or ["?", "?"]
        metrics = meta.get("metrics") or {}
        mse = metrics.get("mse")
        shape = meta.get("shape")
        moves = (f"{shape['max_px']:.1f} px" if isinstance(shape, dict)
                 and isinstance(shape.get("max_px"), int | float) else "-")
        name = info.name + (" (default)" if info.name == DEFAULT_MODEL else "")
        rows.append((name, method_label(meta),
                     f"{meta.get('source') or '?'} -> {meta.get('target') or '?'}",
                     f"{hw[0]}x{hw[1]}", str(meta.get("color", "?")), moves,
                     _size(info.size_bytes), "-" if mse is None else f"{100 * mse:.3f}"))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _report_skipped(folder: Path, infos) -> None:
    """One stderr line for each .npz of ``folder`` that is not a usable model."""
    from fesgui.core import read_meta
    from fesgui.errors import FesguiError

    listed = {info.path for info in infos}
    for path in sorted(folder.glob("*.npz")):
        if path not in listed:
            try:
                read_meta(path)
            except FesguiError as exc:
                print(f"skipped {path.name}: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from fesgui.catalog import list_models
    from fesgui.errors import FesguiError
    from fesgui.paths import models_dir

    folder = Path(args.folder).expanduser() if args.folder else models_dir()
    if not folder.is_dir():
        raise FesguiError(f"models folder {folder} does not exist: check the path")
    infos = list_models(folder)
    _report_skipped(folder, infos)
    if not infos:
        print(f"no models in {folder}: train one with fesgui train, or reinstall fesgui")
        return 0
    print(format_table(infos))
    return 0
