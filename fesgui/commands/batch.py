"""``fesgui batch``: change the expression in every photo of a folder.

The loop is :func:`fesgui.batch.run_batch` (shared with the app's "Process open folder");
this command draws its progress bar, turns Ctrl+C into its cancel flag and prints the
report's lines. Also the home of :class:`ProgressBar`, the text progress bar of ``batch``
and ``video``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from fesgui.commands.synth import (
    add_synthesis_options,
    load_model_arg,
    make_face_finder,
    make_pipeline,
)
from fesgui.outputs import result_name


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
        description="Process every image of IN_DIR (JPEG, PNG, BMP, TIFF, WebP, GIF) and "
        "write the results to OUT_DIR: a PNG or JPEG keeps its name, other formats get .png "
        "appended (p.tif -> p.tif.png). Files that fail (no face, broken file) are listed "
        "at the end; Ctrl+C stops after the current photo. The exit status is 0 if any "
        "photo was written, 1 if none or if the disk filled up (the batch stops there), "
        "130 if stopped with Ctrl+C.")
    p.add_argument("input", metavar="IN_DIR", help="folder of photos")
    p.add_argument("output", metavar="OUT_DIR", help="folder for the results (created)")
    add_synthesis_options(p)
    p.set_defaults(run=run)


def output_name(path: Path) -> str:
    """Same name for PNG/JPEG inputs; other formats get ``.png`` appended
    (:func:`fesgui.outputs.result_name`)."""
    return result_name(path)


@contextlib.contextmanager
def _ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """The first Ctrl+C sets ``cancel`` (the batch stops after the current photo); a
    second one interrupts the photo in progress. Only the main thread can catch signals;
    elsewhere Ctrl+C keeps its usual meaning."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum, frame) -> None:
        cancel.set()
        print("\nstopping after the current image (Ctrl+C again to stop now)",
              file=sys.stderr, flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(args: argparse.Namespace) -> int:
    from fesgui.batch import check_batch, list_photos, run_batch

    in_dir, out_dir = Path(args.input), Path(args.output)
    files = list_photos(in_dir)
    check_batch(files, out_dir)  # before the model loads: a refusal costs nothing
    model = load_model_arg(args.model)
    bar = ProgressBar(len(files))
    cancel = threading.Event()
    source = make_face_finder(args, video=False)
    with make_pipeline(args, model, landmarks=source) as pipeline:
        try:
            with _ctrl_c_cancels(cancel):
                report = run_batch(pipeline, files, out_dir,
                                   progress=lambda done, total, name: bar.update(done, name),
                                   cancel=cancel)
        finally:
            bar.finish()
            source.close()
    for line in report.lines():
        print(line, file=sys.stderr)
    return report.exit_code()
