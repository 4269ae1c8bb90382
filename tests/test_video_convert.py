"""``fesgui video``'s loop (:func:`fesgui.commands.video.convert`): decoding and encoding on
their own threads keep the frames and the sound in order, errors of either thread reach
the caller, and every thread has stopped when ``convert`` returns or raises (the caller
then aborts the writer). Also the stop signals: the first one interrupts, later ones are
ignored until the clean-up is done."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from fesgui.atomic import DiskFullError
from fesgui.commands.video import _VideoClock, convert, stop_signals_as_interrupt
from fesgui.errors import FesguiError


def vfr_time(i: int) -> Fraction | None:
    """Frame i's time stamp in the fake source: 10 fps, then 50 fps, and none for frame 30."""
    return None if i == 30 else Fraction(i, 10) if i < 20 else 2 + Fraction(i - 20, 50)


class FakeSource:
    """``n`` numbered 4x4 frames; each frame brings one audio packet (its number) and
    the time stamp :func:`vfr_time`."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at, self.i = n, fail_at, 0
        self._audio: list = []
        self.calls_after_end = 0
        self.time = None

    def read(self):
        if self.i == self.fail_at:
            raise FesguiError("bad frame: convert it first")
        if self.i >= self.n:
            self.calls_after_end += 1
            return None
        time.sleep(np.random.default_rng(self.i).uniform(0, 0.003))
        self._audio.append(("audio", self.i))
        frame = np.full((4, 4, 3), self.i % 256, np.uint8)
        self.time = vfr_time(self.i)
        self.i += 1
        return frame

    def take_audio(self):
        out, self._audio = self._audio, []
        return out


class FakeWriter:
    def __init__(self, fail_at: int | None = None) -> None:
        self.log: list = []
        self.times: list = []  # the time stamp each frame was written with
        self.fail_at = fail_at
        self.busy = threading.Lock()

    def write(self, frame, stamp=None):
        with self.busy:
            if len([x for x in self.log if x[0] == "frame"]) == self.fail_at:
                raise DiskFullError("disk full while writing out.mp4: free some space")
            time.sleep(np.random.default_rng(int(frame[0, 0, 0])).uniform(0, 0.003))
            self.log.append(("frame", int(frame[0, 0, 0])))
            self.times.append(stamp)

    def write_audio(self, packets):
        self.log.extend(packets)


class Invert:
    """A pipeline stand-in: inverts the frame; every third frame "has no face"."""

    class Result:
        def __init__(self, frame, message):
            self.composite, self.message = frame, message

    def __init__(self, interrupt_at: int | None = None, clock=None) -> None:
        self.seen, self.interrupt_at, self.clock, self.times = 0, interrupt_at, clock, []

    def process(self, frame):
        if self.seen == self.interrupt_at:
            raise KeyboardInterrupt
        if self.clock is not None:
            self.times.append(self.clock())
        self.seen += 1
        return self.Result(255 - frame, None if self.seen % 3 else "no face found")


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("video-")]


def test_frames_sound_and_time_stamps_stay_in_order():
    src, writer = FakeSource(40), FakeWriter()
    clock = _VideoClock(25.0)
    pipeline = Invert(clock=clock)
    done = []
    frames, no_face = convert(src, pipeline, writer, clock, done.append)
    assert (frames, no_face) == (40, 13) and done == list(range(1, 41))
    # each frame's own sound right after it (read with it), in order
    expect = []
    for i in range(40):
        expect += [("frame", 255 - i), ("audio", i)]
    assert writer.log == expect
    # each frame goes out with its own time stamp; the smoother's clock reads it (a frame
    # without one: its index at the nominal 25 fps)
    assert writer.times == [vfr_time(i) for i in range(40)]
    assert pipeline.times == pytest.approx(
        [i / 25.0 if vfr_time(i) is None else float(vfr_time(i)) for i in range(40)])
    assert src.calls_after_end == 1 and _threads() == []


def test_an_error_of_the_writer_thread_is_raised_and_both_threads_stop():
    src, writer = FakeSource(200), FakeWriter(fail_at=5)
    with pytest.raises(DiskFullError, match="disk full"):
        convert(src, Invert(), writer)
    assert _threads() == []
    read = src.i
    time.sleep(0.05)
    assert src.i == read and read < 200  # nothing reads on after the error


def test_an_error_of_the_reader_thread_is_raised_after_the_frames_before_it():
    src, writer = FakeSource(20, fail_at=7), FakeWriter()
    with pytest.raises(FesguiError, match="bad frame"):
        convert(src, Invert(), writer)
    assert _threads() == []
    written = [x[1] for x in writer.log if x[0] == "frame"]
    assert written == [255 - i for i in range(len(written))] and len(written) <= 7


def test_an_interrupt_stops_both_threads_before_it_reaches_the_caller():
    src, writer = FakeSource(500), FakeWriter()
    with pytest.raises(KeyboardInterrupt):
        convert(src, Invert(interrupt_at=10), writer)
    assert _threads() == []
    assert writer.busy.acquire(blocking=False)  # no write is running
    written = len(writer.log)
    time.sleep(0.05)
    assert len(writer.log) == written and src.i < 500


class _LosesTheInterrupt:
    """Receives a stop signal in ``__del__``, where Python prints the KeyboardInterrupt
    as "Exception ignored" and carries on (as in the import system's weakref callbacks,
    where a SIGTERM to ``fesgui video`` once landed)."""

    raised: list[BaseException] = []

    def __del__(self):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes
                time.sleep(0.001)
        except KeyboardInterrupt as exc:
            _LosesTheInterrupt.raised.append(exc)
            raise


class LosesASignal(Invert):
    def process(self, frame):
        if self.seen == 10:
            _LosesTheInterrupt()
        return super().process(frame)


def test_a_stop_signal_whose_interrupt_python_lost_still_stops_the_conversion(monkeypatch):
    """Before: the lost interrupt left SIGTERM ignored; the video was finished and written
    and the command exited 0, after printing "Exception ignored ... Traceback"."""
    printed = []
    monkeypatch.setattr(sys, "unraisablehook", printed.append)
    _LosesTheInterrupt.raised.clear()
    src, writer = FakeSource(500), FakeWriter()
    with stop_signals_as_interrupt() as stopped:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            convert(src, LosesASignal(), writer, stopped=stopped)
    assert len(_LosesTheInterrupt.raised) == 1  # raised in __del__: lost indeed
    assert printed == []  # and not printed
    assert sys.unraisablehook == printed.append  # the hook is back
    assert stopped.is_set() and stopped.signal == "SIGTERM" and _threads() == []
    assert len([x for x in writer.log if x[0] == "frame"]) < 20


def _numba_import_meets_sigterm() -> None:
    """What numba's C module does when a stop signal lands in its import: it prints the
    KeyboardInterrupt and raises an ImportError in its place."""
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes
            time.sleep(0.001)
    except KeyboardInterrupt:
        raise ImportError("numba._devicearray failed to import") from None


def test_an_error_a_stop_signal_turned_into_leaves_the_block_as_the_interrupt():
    """Before: SIGTERM during the first frame's lazy numba import ended ``fesgui video``
    with the ImportError's traceback and status 1."""
    with pytest.raises(KeyboardInterrupt, match="SIGTERM") as caught:
        with stop_signals_as_interrupt():
            _numba_import_meets_sigterm()
    assert isinstance(caught.value.__cause__, ImportError)
    with pytest.raises(ImportError), stop_signals_as_interrupt():  # no stop: as it was
        raise ImportError("numba._devicearray failed to import")


def test_the_first_stop_signal_interrupts_and_later_ones_wait_for_the_clean_up():
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    caught = []
    with stop_signals_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes
                time.sleep(0.001)
        except KeyboardInterrupt as exc:
            caught.append(str(exc))
            # the clean-up: another SIGTERM or a SIGHUP must not break into it
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
            caught.append("clean-up done")
    assert caught == ["SIGTERM", "clean-up done"]
    assert {s: signal.getsignal(s) for s in before} == before
