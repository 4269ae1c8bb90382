"""The video-throughput benchmark runs at a tiny size so it cannot rot (structure only:
rows, finite positive numbers, a baseline in the same run; never a judgement of time)."""

from __future__ import annotations

import math

from fesgui import benchmarks
from fesgui.benchmarks import Config
from fesgui.benchmarks.harness import Summary


def test_video_benchmark_rows():
    (sec,) = benchmarks.run(["video"], Config.tiny())
    assert sec.skipped is None, sec.skipped + "\n" + "\n".join(sec.notes)
    metrics = {r.metric for r in sec.rows}
    assert {"whole process fps (wall)", "whole process fps (CPU time)",
            "per frame landmarks (wall)", "per frame read (wall)",
            "per frame write (wall)"} <= metrics
    for row in sec.rows:
        assert row.bench == "video" and row.case == "320x240 H.264"
        assert isinstance(row.value, Summary)
        assert math.isfinite(row.value.median) and row.value.median > 0
        if row.metric.startswith("whole process fps ("):
            assert row.baseline is not None and row.baseline_name == "decode + encode only"
    wall = next(r for r in sec.rows if r.metric == "whole process fps (wall)")
    assert "4 of 4 frames had a face" in wall.note
    assert wall.ratio is not None and wall.ratio.median > 0
