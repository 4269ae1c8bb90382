"""fesgui.atomic: the finished file looks like one written by a plain open()."""

from __future__ import annotations

import os
import stat

import pytest

from fesgui.atomic import atomic_write, write_bytes_atomic
from fesgui.errors import FesguiError


def test_new_file_gets_the_mode_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")  # mode 0666 & ~umask, as the OS gives it
    ours = tmp_path / "ours.bin"
    write_bytes_atomic(ours, b"x")
    assert stat.S_IMODE(ours.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_replacing_a_file_keeps_its_mode(tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failure_leaves_no_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_nothing_written_is_an_error(tmp_path):
    with pytest.raises(FesguiError, match="nothing was written"), atomic_write(tmp_path / "a.png"):
        pass
    assert list(tmp_path.iterdir()) == []
