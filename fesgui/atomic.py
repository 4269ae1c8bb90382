"""Atomic file writes: never leave a partial file behind.

Every output of fesgui (images, videos, models, exported maps, caches) is written to a
temporary file in the destination folder and renamed into place only when complete, so a
crash, a full disk or a cancelled job leaves either the old file or nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fesgui.errors import FesguiError

# mkstemp creates 0600 files; a finished output gets the mode a plain open() would give it.
# The umask is read once, at import (reading it means setting it, which is not thread-safe).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _final_mode(path: Path) -> int:
    """Permission bits for the finished file: those of the file it replaces, else 0666 & ~umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


class DiskFullError(FesguiError):
    """The disk (or the user's quota) is full: retrying other files will not help, so a
    batch stops at the first one."""


def _explain(exc: OSError, path: Path) -> FesguiError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"disk full while writing {path}: free some space and try again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return FesguiError(f"cannot write {path}: the folder is read-only; choose another folder")
    if exc.errno == errno.EFBIG:
        return FesguiError(f"cannot write {path}: the file is larger than this system allows "
                           "(see ulimit -f); choose another disk or a smaller output")
    if exc.errno == errno.ENOENT:
        return FesguiError(f"cannot write {path}: the folder does not exist")
    return FesguiError(f"cannot write {path}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    ``suffix`` defaults to the destination's suffix, so libraries that pick a format by
    extension (OpenCV, numpy) write the right format to the temporary file.
    On any exception the temporary file is removed and the exception propagates
    (``OSError`` is turned into a one-line :class:`FesguiError`).
    """
    path = Path(path)
    suffix = (path.suffix if suffix is None else suffix) or ".part"
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix,
                                        dir=path.parent)
    except OSError as exc:
        raise _explain(exc, path) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise FesguiError(f"nothing was written to {path}")
        os.chmod(tmp, _final_mode(path))
        os.replace(tmp, path)
    except OSError as exc:
        raise _explain(exc, path) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)
