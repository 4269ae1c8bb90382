"""``fesgui batch``: change the expression in every photo of a folder.

Broken files and photos without a face are listed at the end; the others are written.
Also the home of :class:`ProgressBar`, the text progress bar of ``batch`` and ``video``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from fesgui.commands.synth import (
    add_synthesis_options,
    load_model_arg,
    make_face_finder,
    make_pipeline,
)
from fesgui.errors import FesguiError
from fesgui.outputs import plan_batch, result_name


class ProgressBar:
    """``[#####.....] 12/40 name`` on stderr. On a terminal the line is redrawn in place;
    otherwise (a log file, a test) a line is printed at every tenth of the way."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(0, int(total))
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_tenth = -1
        self._last_draw = 0.0

    def update(self, done: int, label: str = "") -> None:
        if self.total:
            frac = min(1.0, done / self.total)
            filled = int(round(frac * self.width))
            text = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total}"
        else:
            frac, text = 0.0, f"{done} done"
        if label:
            text += f" {label}"
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or done == self.total:
                self.stream.write("\r" + text[:100].ljust(100))
                self.stream.flush()
                self._last_draw = now
            return
        tenth = int(frac * 10) if self.total else done // 100
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(text + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def add_parser(sub) -> None:
    p = sub.add_parser(
        "batch", help="change the expression in every photo of a folder",
        description="Process every image of IN_DIR and write the results with the same "
        "names to OUT_DIR. Files that fail (no face, broken file) are listed at the end; "
        "the exit status is 0 if any photo was written, 1 if none or if the disk filled up "
        "(the batch stops there).")
    p.add_argument("input", metavar="IN_DIR", help="folder of photos")
    p.add_argument("output", metavar="OUT_DIR", help="folder for the results (created)")
    add_synthesis_options(p)
    p.set_defaults(run=run)


def output_name(path: Path) -> str:
    """Same name for PNG/JPEG inputs; other formats get ``.png`` appended
    (:func:`fesgui.outputs.result_name`)."""
    return result_name(path)


def _check_writable(folder: Path) -> None:
    """Fail before any work if files cannot be created in ``folder``."""
    try:
        fd, name = tempfile.mkstemp(prefix=".fesgui-", dir=folder)
    except OSError:
        raise FesguiError(f"cannot write to {folder}: the folder is read-only; choose "
                          "another folder") from None
    os.close(fd)
    os.unlink(name)


def run(args: argparse.Namespace) -> int:
    from fesgui.atomic import DiskFullError
    from fesgui.imageio import list_images, read_image, write_image

    in_dir, out_dir = Path(args.input), Path(args.output)
    files = list_images(in_dir)
    if not files:
        raise FesguiError(f"no images in {in_dir}: put .jpg or .png photos in it")
    if out_dir.exists() and out_dir.resolve() == in_dir.resolve():
        raise FesguiError("OUT_DIR is IN_DIR: choose another output folder so the photos "
                          "are not overwritten")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FesguiError(f"cannot create {out_dir}: {exc.strerror or exc}; choose another "
                          "folder") from None
    _check_writable(out_dir)
    model = load_model_arg(args.model)
    plan, failures = plan_batch(files, out_dir)  # name collisions are listed, not lost
    targets = dict(plan)
    written = 0
    stopped: str | None = None
    bar = ProgressBar(len(files))
    source = make_face_finder(args, video=False)
    with make_pipeline(args, model, landmarks=source) as pipeline:
        try:
            for i, path in enumerate(files):
                if path not in targets:  # refused by plan_batch
                    bar.update(i + 1, path.name)
                    continue
                try:
                    result = pipeline.process(read_image(path))
                    if result.message:
                        raise FesguiError(result.message)
                    write_image(targets[path], result.composite)
                    written += 1
                except DiskFullError as exc:  # the next files would fail the same way
                    stopped = str(exc)
                    failures.append((path.name, stopped))
                    left = len(files) - i - 1
                    stopped += f"; stopped with {left} image{'s' if left != 1 else ''} left"
                    break
                except FesguiError as exc:
                    failures.append((path.name, str(exc)))
                except Exception as exc:  # noqa: BLE001 - a bug on one photo must not stop the rest
                    first = (str(exc).splitlines() or [""])[0]
                    failures.append((path.name, f"unexpected {type(exc).__name__}: {first} "
                                     "(a bug in fesgui: please report it)"))
                bar.update(i + 1, path.name)
        finally:
            bar.finish()
            source.close()
    for name, reason in failures:
        print(f"failed: {name}: {reason}", file=sys.stderr)
    if stopped:
        print(f"stopped: {stopped}", file=sys.stderr)
    print(f"wrote {written} of {len(files)} images to {out_dir}"
          + (f"; {len(failures)} failed" if failures else ""), file=sys.stderr)
    return 0 if written and not stopped else 1
