"""One batch loop: every photo of a folder through a pipeline, for ``fesgui batch`` and the
app's "Process open folder".

The two front ends differ only in how they show what this module reports: the command line
prints :meth:`BatchReport.lines` to stderr, the app's worker sends the report in a signal
and the window shows :meth:`BatchReport.summary`. Everything else is decided here, once:

* **Which files**: those :func:`fesgui.imageio.list_images` lists (JPEG, PNG, BMP, TIFF,
  WebP, GIF, PPM/PGM); each is read with :func:`fesgui.imageio.read_image` (a multi-page
  TIFF or an animated GIF gives its first page and a ``warning:`` line).
* **Result names** (:func:`fesgui.outputs.result_name`): a PNG or JPEG keeps its name, any
  other format gets ``.png`` appended (``p.tif`` -> ``p.tif.png``); two photos whose
  results would share a name are refused by :func:`fesgui.outputs.plan_batch`, not lost.
* **Before any work** (:func:`check_batch`): no images, the output folder being the input
  folder, and an output folder that cannot be created or written are one
  :class:`~fesgui.errors.FesguiError` line each.
* **Per file**: a photo that cannot be read, has no face, or hits a bug is a ``failed:``
  line and the batch goes on; a full disk stops it (the next files would fail the same
  way), leaving no partial file (:mod:`fesgui.atomic`).
* **Cancel** (the app's Cancel button, Ctrl+C on the command line): the batch stops after
  the current file; results already written stay, complete. A ``KeyboardInterrupt``
  raised inside a file (a second Ctrl+C) stops at once: that file is not written.

This module imports no Qt (the app's worker calls it from its own thread).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fesgui.atomic import DiskFullError
from fesgui.errors import OUT_OF_MEMORY, FesguiError

__all__ = ["BatchReport", "Outcome", "check_batch", "list_photos", "run_batch"]

#: ``progress(done, total, name)``: called before each file (``done`` files finished,
#: ``name`` the file about to be processed) and once at the end with ``name == ""``
Progress = Callable[[int, int, str], None]


def _plural(n: int, word: str = "image") -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class Outcome:
    """What happened to one photo of a batch.

    ``target`` is the result written (None: nothing written, ``error`` says why in one
    line); ``notes`` are ``warning:`` lines about the photo (e.g. its other pages).
    """

    path: Path
    target: Path | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def written(self) -> bool:
        return self.target is not None

    def lines(self) -> list[str]:
        """The photo's lines of :meth:`BatchReport.lines` (none when all went well)."""
        out = [f"warning: {note}" for note in self.notes]
        if self.error is not None:
            out.append(f"failed: {self.path.name}: {self.error}")
        return out


@dataclass
class BatchReport:
    """The outcome of a batch: one :class:`Outcome` per photo processed, in order.

    ``cancelled``: stopped by the user (the photos after the last outcome were not
    processed); ``stopped``: the disk filled up (the one-line reason; the batch stopped
    after that photo's outcome).
    """

    total: int
    out_dir: Path
    outcomes: list[Outcome] = field(default_factory=list)
    cancelled: bool = False
    stopped: str | None = None

    @property
    def written(self) -> list[Path]:
        """The results written, in the order of the photos."""
        return [o.target for o in self.outcomes if o.target is not None]

    @property
    def failures(self) -> list[tuple[str, str]]:
        """``(photo name, reason)`` of every photo not written, in order."""
        return [(o.path.name, o.error) for o in self.outcomes if o.error is not None]

    @property
    def left(self) -> int:
        """Photos not processed (after a cancel or a full disk)."""
        return self.total - len(self.outcomes)

    def summary(self) -> str:
        """One line: how many results were written where, and what went wrong."""
        text = f"wrote {len(self.written)} of {_plural(self.total)} to {self.out_dir}"
        failures = self.failures
        if failures:
            names = ", ".join(name for name, _ in failures[:3])
            text += f"; {len(failures)} failed ({names}{', ...' if len(failures) > 3 else ''})"
        if self.stopped is not None:
            text += f"; stopped: {self.stopped}; {_plural(self.left)} left"
        elif self.cancelled:
            text += f"; cancelled with {_plural(self.left)} left"
        return text

    def lines(self) -> list[str]:
        """Every line a user should read: each photo's ``warning:`` and ``failed:`` lines,
        in order, then :meth:`summary` (what the command line prints)."""
        return [line for o in self.outcomes for line in o.lines()] + [self.summary()]

    def exit_code(self) -> int:
        """The command line's exit status: 130 if cancelled, 1 if the disk filled up or
        nothing was written, else 0."""
        if self.cancelled:
            return 130
        return 0 if self.written and self.stopped is None else 1


def list_photos(folder: str | os.PathLike) -> list[Path]:
    """The photos of ``folder`` a batch processes (:func:`fesgui.imageio.list_images`);
    a folder without any is one line."""
    from fesgui.imageio import list_images

    files = list_images(folder)
    if not files:
        raise FesguiError(f"no images in {folder}: put .jpg, .png, .bmp, .tif or .webp "
                          "photos in it")
    return files


def check_batch(files: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> Path:
    """Refuse, before any work and in one line, a batch that cannot run: no photos, an
    output folder that is the photos' folder, or one that cannot be created or written.
    Creates ``out_dir`` if needed and returns it as a :class:`~pathlib.Path`."""
    out = Path(out_dir)
    if not files:
        raise FesguiError("no images to process: open a folder with .jpg, .png, .bmp, .tif "
                          "or .webp photos")
    if out.exists() and any(Path(f).parent.resolve() == out.resolve() for f in files):
        raise FesguiError(f"the output folder {out} is the input folder: choose another "
                          "folder so the photos are not overwritten")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FesguiError(f"cannot create {out}: {exc.strerror or exc}; choose another "
                          "folder") from None
    try:
        fd, name = tempfile.mkstemp(prefix=".fesgui-", dir=out)
    except OSError:
        raise FesguiError(f"cannot write to {out}: the folder is read-only; choose another "
                          "folder") from None
    os.close(fd)
    os.unlink(name)
    return out


def _is_set(cancel: threading.Event | Callable[[], bool] | None) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def _one_photo(pipeline: Any, path: Path, target: Path) -> tuple[Outcome, bool]:
    """Read, process and write one photo: ``(outcome, stop)``. Every failure becomes the
    outcome; ``stop`` is True for a full disk (the next photos would fail the same way)."""
    from fesgui import imageio  # looked up per call: tests replace write_image

    notes: list[str] = []
    try:
        result = pipeline.process(imageio.read_image(path, notes=notes))
        if result.message or not result.faces:
            raise FesguiError(result.message or "no face found")
        imageio.write_image(target, result.composite)
    except FesguiError as exc:
        return Outcome(path, None, str(exc), tuple(notes)), isinstance(exc, DiskFullError)
    except MemoryError:
        return Outcome(path, None, OUT_OF_MEMORY, tuple(notes)), False
    except Exception as exc:  # noqa: BLE001 - a bug on one photo must not stop the rest
        first = (str(exc).splitlines() or [""])[0]
        return Outcome(path, None, f"unexpected {type(exc).__name__}: {first} (a bug in "
                       "fesgui: please report it)", tuple(notes)), False
    return Outcome(path, target, None, tuple(notes)), False


def run_batch(pipeline: Any, files: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
              progress: Progress | None = None,
              cancel: threading.Event | Callable[[], bool] | None = None) -> BatchReport:
    """Process ``files`` with ``pipeline`` (a :class:`fesgui.pipeline.Pipeline`, or
    anything whose ``process(frame)`` returns a :class:`~fesgui.pipeline.FrameResult`) into
    ``out_dir`` and return what happened.

    ``cancel`` (an event, or a function returning True) is looked at before each photo.
    Raises a one-line :class:`FesguiError` (from :func:`check_batch`) only before the
    first photo; after that, everything is in the report.
    """
    from fesgui.outputs import plan_batch

    files = [Path(f) for f in files]
    out = check_batch(files, out_dir)
    plan, refused = plan_batch(files, out)  # p.tif -> p.tif.png; collisions refused
    targets, refusals = dict(plan), dict(refused)
    report = BatchReport(len(files), out)
    for i, path in enumerate(files):
        if _is_set(cancel):
            report.cancelled = True
            break
        if progress is not None:
            progress(i, len(files), path.name)
        if path not in targets:
            report.outcomes.append(Outcome(path, None, refusals[path.name]))
            continue
        try:
            outcome, stop = _one_photo(pipeline, path, targets[path])
        except KeyboardInterrupt:  # stop now: this photo is not written (atomic writes)
            report.cancelled = True
            break
        report.outcomes.append(outcome)
        if stop:  # a full disk: the next photos would fail the same way
            report.stopped = outcome.error
            break
    if progress is not None:
        progress(len(report.outcomes), len(files), "")
    return report
