"""Helpers for tests that need odd image files or an unwritable folder."""

from __future__ import annotations

import errno
import os
import struct
import zlib
from pathlib import Path

import fesgui.atomic


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def craft_png_header(path: Path, width: int, height: int) -> None:
    """A tiny PNG file whose header claims ``width`` x ``height`` (nothing allocated)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def make_read_only(monkeypatch, folder: Path) -> None:
    """A read-only folder. root ignores permission bits, so then refuse like the kernel."""
    folder.chmod(0o555)
    if os.geteuid() == 0:
        def refuse(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(fesgui.atomic.tempfile, "mkstemp", refuse)
