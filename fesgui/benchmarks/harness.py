"""Timing, statistics, result rows, the printed table and the JSON file of ``fesgui bench``.

Every speed claim is a ratio against a baseline measured in the same run on the same
data. Machines here are shared and noisy, so baseline and candidate are *interleaved*:
round ``i`` times one batch of the baseline and one batch of the candidate (alternating
which goes first) and the ratio of that round is ``baseline / candidate``. The reported
figure is the median over rounds with its spread (25th-75th and 5th-95th percentiles).

Clock: the micro-benchmarks (predict, fit, kr) measure *CPU time of this process*
(``time.process_time``), not wall time. On a shared machine (here: 2 cores, load often
above 6) wall time mostly measures how long the scheduler kept us waiting - it swung 3x
between runs while CPU time stayed within 10 %. All candidates and baselines run on one
thread, and CPU time counts every thread of the process anyway, so nothing is hidden.
The live benchmarks (pipeline, gui) report wall time: frames per second is a real-time
figure.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fesgui.atomic import atomic_write


@dataclass
class Summary:
    """Robust summary of repeated measurements (same unit as the samples)."""

    median: float
    p25: float
    p75: float
    p5: float
    p95: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        """Summarise ``samples`` (at least one finite value)."""
        a = np.asarray(samples, dtype=np.float64)
        if a.size == 0:
            raise ValueError("no samples to summarise")
        p5, p25, p50, p75, p95 = np.percentile(a, [5, 25, 50, 75, 95])
        return cls(float(p50), float(p25), float(p75), float(p5), float(p95), int(a.size))

    def fmt(self, digits: int = 3) -> str:
        """``median [p25-p75]`` with ``digits`` significant digits."""
        return f"{_sig(self.median, digits)} [{_sig(self.p25, 2)}-{_sig(self.p75, 2)}]"


@dataclass
class Row:
    """One line of the results table.

    ``value`` is the candidate's figure in ``unit`` (a :class:`Summary` of repeated
    measurements, or a plain number for exact quantities such as a file size).
    ``ratio`` is ``baseline / candidate`` per interleaved round (> 1: candidate faster).
    ``met`` is ``None`` when the row has no target.
    """

    bench: str
    case: str
    metric: str
    value: Summary | float
    unit: str
    baseline: Summary | float | None = None
    baseline_name: str = ""
    ratio: Summary | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Section:
    """The rows of one benchmark, or the reason it could not run."""

    name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0


def _sig(x: float, digits: int) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    return f"{x:.{decimals}f}"


# ---------------------------------------------------------------------------------------
# timing


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def _calibrate(fn: Callable[[], object], min_sample_s: float, clock: Callable[[], float],
               max_number: int = 100_000) -> int:
    """Number of calls of ``fn`` that make one sample last at least ``min_sample_s``."""
    number = 1
    while True:
        t0 = clock()
        for _ in range(number):
            fn()
        dt = clock() - t0
        if dt >= min_sample_s or number >= max_number:
            return number
        number = min(max_number, max(number * 2, int(number * min_sample_s / max(dt, 1e-9)) + 1))


def _sample(fn: Callable[[], object], number: int, clock: Callable[[], float]) -> float:
    """Seconds per call, averaged over one batch of ``number`` calls."""
    t0 = clock()
    for _ in range(number):
        fn()
    return (clock() - t0) / number


def measure(fn: Callable[[], object], repeats: int = 15, min_sample_s: float = 0.005,
            clock: str = "cpu") -> Summary:
    """Milliseconds per call of ``fn``: ``repeats`` batches, each lasting >= ``min_sample_s``
    on ``clock`` ("cpu": process CPU time, "wall": elapsed time)."""
    tick = CLOCKS[clock]
    fn()  # warm-up: caches, lazy imports, first-touch allocations
    number = _calibrate(fn, min_sample_s, tick)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        samples = [_sample(fn, number, tick) * 1e3 for _ in range(repeats)]
    finally:
        if was_enabled:
            gc.enable()
    return Summary.of(samples)


def compare(candidate: Callable[[], object], baseline: Callable[[], object], repeats: int = 15,
            min_sample_s: float = 0.005, clock: str = "cpu") -> tuple[Summary, Summary, Summary]:
    """Interleaved timing of ``candidate`` against ``baseline`` on the same data.

    Returns ``(candidate ms/call, baseline ms/call, ratio baseline/candidate)``, each a
    :class:`Summary` over ``repeats`` rounds. The ratio is computed per round, so a slow
    moment of the machine hits both sides of that round alike.
    """
    tick = CLOCKS[clock]
    candidate()
    baseline()
    n_c = _calibrate(candidate, min_sample_s, tick)
    n_b = _calibrate(baseline, min_sample_s, tick)
    cand, base = [], []
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(repeats):
            if i % 2 == 0:
                b = _sample(baseline, n_b, tick)
                c = _sample(candidate, n_c, tick)
            else:
                c = _sample(candidate, n_c, tick)
                b = _sample(baseline, n_b, tick)
            cand.append(c * 1e3)
            base.append(b * 1e3)
    finally:
        if was_enabled:
            gc.enable()
    ratios = [b / c for b, c in zip(base, cand, strict=True)]
    return Summary.of(cand), Summary.of(base), Summary.of(ratios)


def once(fn: Callable[[], object], clock: str = "cpu") -> float:
    """Milliseconds of a single call on ``clock`` (for runs too long to repeat)."""
    tick = CLOCKS[clock]
    t0 = tick()
    fn()
    return (tick() - t0) * 1e3


# ---------------------------------------------------------------------------------------
# reporting


def environment() -> dict:
    """Machine facts recorded with every result file."""
    import scipy

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        import cv2

        info["opencv"] = cv2.__version__
        info["opencv_threads"] = cv2.getNumThreads()
    except ImportError:  # pragma: no cover - opencv is a hard dependency
        pass
    info["git_commit"] = _git_commit()
    return info


def _git_commit() -> str | None:
    head = Path(__file__).resolve().parents[2] / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (head.parent / ref[5:]).read_text().strip()
        return ref
    except OSError:
        return None


def _cell(v: Summary | float | None, unit: str) -> str:
    if v is None:
        return ""
    if isinstance(v, Summary):
        return f"{v.fmt()} {unit}".strip()
    return f"{_sig(float(v), 3) if abs(v) < 1e4 else f'{v:.3g}'} {unit}".strip()


def format_table(sections: Sequence[Section]) -> str:
    """The human-readable table printed by ``fesgui bench``."""
    header = ("bench", "case", "metric", "value  median [p25-p75]", "baseline", "ratio", "target")
    lines: list[tuple[str, ...]] = []
    for sec in sections:
        if sec.skipped:
            first = sec.skipped.splitlines()[0] if sec.skipped.strip() else "?"
            lines.append((sec.name, f"SKIPPED: {first}", "", "", "", "", ""))
            continue
        for r in sec.rows:
            ratio = f"{r.ratio.fmt()}x" if r.ratio is not None else ""
            base = _cell(r.baseline, r.unit)
            if base and r.baseline_name:
                base = f"{r.baseline_name}: {base}"
            target = r.target
            if r.met is not None:
                target = f"{target} {'OK' if r.met else 'MISSED'}"
            value = _cell(r.value, r.unit)
            if isinstance(r.value, Summary) and "latency" in r.metric:
                value += f" p95 {_sig(r.value.p95, 3)}"
            lines.append((r.bench, r.case, r.metric, value, base, ratio, target))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in lines]
    for sec in sections:
        for note in sec.notes:
            out.append(f"note [{sec.name}]: {note}")
        for r in sec.rows:
            if r.note:
                out.append(f"note [{r.bench} / {r.case} / {r.metric}]: {r.note}")
    return "\n".join(out)


def to_json(sections: Sequence[Section], settings: dict) -> dict:
    """Machine-readable results: environment, settings and every row of every section."""
    return {
        "format": "fesgui-bench/1",
        "environment": environment(),
        "settings": settings,
        "benchmarks": {sec.name: asdict(sec) for sec in sections},
        "targets_missed": [
            f"{r.bench} / {r.case} / {r.metric}: {r.target}"
            for sec in sections for r in sec.rows if r.met is False
        ],
    }


def write_json(path: str | os.PathLike, data: dict) -> Path:
    """Write ``data`` as indented JSON, atomically (creating the folder if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path
