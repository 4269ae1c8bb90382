"""The soak runner (``python -m fesgui.benchmarks.soak``), short: 300 frames with a fake face finder.

Only the memory bound is asserted on the measured run (speed is never judged in tests);
the pass/fail logic is checked on made-up intervals.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from fesgui.align import FaceLandmarks, box_of
from fesgui.benchmarks.soak import Interval, SoakReport, main, make_video, rss_mib, run_soak
from fesgui.core import MaskedRegression
from fesgui.synthetic import make_pairs


class FixedFace:
    """Always "finds" the astronaut's face where make_video puts it (roughly)."""

    def __init__(self, w: int, h: int) -> None:
        cx, cy, s = w / 2, h / 2, 0.8 * h / 512
        pts = np.array([[-40, -40], [40, -40], [0, 10], [-30, 50], [30, 50]], np.float32)
        self.points = pts * s * 2 + np.float32([cx, cy - 20 * s])
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        return [FaceLandmarks(self.points.copy(), None, box_of(self.points, 0.5))]

    def close(self):
        pass


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("soak"), frames=20, width=320, height=240)


def test_short_soak_keeps_memory_flat(small_video):
    X, T = make_pairs(10, 48, 48, seed=3)
    model = MaskedRegression(size=3).fit(X, T)
    finder = FixedFace(320, 240)
    out = io.StringIO()
    seen = []
    report = run_soak(300, every=100, warmup=30, video=small_video, model=model,
                      landmarks=finder, out=out, on_frame=seen.append)
    assert seen == list(range(1, 301))
    assert finder.calls == 330  # warm-up + measured frames, every one processed
    assert [iv.end_frame for iv in report.intervals] == [100, 200, 300]
    assert all(iv.faces == 100 for iv in report.intervals)
    assert all(iv.fps > 0 and iv.cpu_fps > 0 and iv.rss_mib > 0 for iv in report.intervals)
    assert report.growth_mib < report.max_growth_mib
    assert report.memory_ok
    text = out.getvalue()
    assert "after warm-up: RSS" in text and "memory:" in text and "speed:" in text
    assert len([line for line in text.splitlines() if line.strip().startswith("100 ")]) == 1


def test_the_video_loops_and_moves(small_video):
    from fesgui.video import VideoFileSource

    with VideoFileSource(small_video, loop=True) as src:
        frames = [src.read() for _ in range(45)]
    assert all(f is not None and f.shape == (240, 320, 3) for f in frames)
    assert np.abs(frames[0].astype(int) - frames[5]).mean() > 0.5  # the face drifts
    assert np.abs(frames[0].astype(int) - frames[20]).mean() < 3  # ... and loops back


def _report(fps, cpu, rss, clock="cpu", base=100.0):
    r = SoakReport(frames=len(fps) * 10, warmup_frames=5, baseline_rss_mib=base, clock=clock)
    r.intervals = [Interval(10 * (i + 1), f, c, m, 10)
                   for i, (f, c, m) in enumerate(zip(fps, cpu, rss, strict=True))]
    return r


@pytest.mark.parametrize(("fps", "cpu", "rss", "clock", "memory", "speed"), [
    ([100, 90, 85], [200, 190, 180], [101, 102, 104], "cpu", True, True),
    ([100, 90, 50], [200, 190, 180], [101, 102, 104], "cpu", True, True),   # others' load
    ([100, 90, 50], [200, 190, 180], [101, 102, 104], "wall", True, False),
    ([100, 90, 85], [200, 150, 140], [101, 102, 104], "cpu", True, False),  # own slowdown
    ([100, 90, 85], [200, 190, 180], [101, 110, 121], "cpu", False, True),  # a leak
])
def test_pass_criteria(fps, cpu, rss, clock, memory, speed):
    r = _report(fps, cpu, rss, clock)
    assert (r.memory_ok, r.speed_ok, r.passed) == (memory, speed, memory and speed)
    assert ("FAIL" in r.summary()) == (not r.passed)


def test_rss_is_measured_in_mib():
    before = rss_mib()
    block = np.ones(40 * 1024 * 1024, np.uint8)  # 40 MiB, touched
    assert rss_mib() - before > 30
    del block


@pytest.mark.parametrize("argv", [["--frames", "0"], ["--frames", "5", "--every", "-1"],
                                  ["--frames", "5", "--model", "no-such-model"]])
def test_bad_arguments_are_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
