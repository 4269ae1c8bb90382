"""Child processes of the memory and gui benchmarks, and how to start them.

    python -m fesgui.benchmarks.child pipeline VIDEO MODEL FRAMES
        the live pipeline on VIDEO; one JSON line on stdout
    python -m fesgui.benchmarks.child app ARGS...
        ``fesgui ARGS...`` (the desktop app); then ``fesgui-bench: peak-rss-kib N`` on stderr

Peak RSS is ``VmHWM`` of ``/proc/self/status``: the high-water mark of the child's own
address space, which starts afresh at ``exec``. (``os.wait4``'s ``ru_maxrss`` is no use
here: Linux carries it over from the forked parent, so a child of a 2.5 GB benchmark
process would report 2.5 GB.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_RSS_LINE = re.compile(r"fesgui-bench: peak-rss-kib (\d+)")


def status_kib(key: str) -> float:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``); NaN elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float("nan")


def _pipeline(video: str, model_path: str, frames: int) -> int:
    from fesgui.benchmarks.live import run_stream
    from fesgui.core import load_model

    model = load_model(model_path)
    before = status_kib("VmRSS")
    res = run_stream(Path(video), model, frames)
    print(json.dumps({"rss_before_mib": before / 1024, "peak_rss_mib": status_kib("VmHWM") / 1024,
                      "faces": res["faces"], "frames": res["frames"]}))
    return 0


def _app(argv: list[str]) -> int:
    from fesgui.cli import main

    code = main(argv)
    print(f"fesgui-bench: peak-rss-kib {status_kib('VmHWM'):.0f}", file=sys.stderr)
    return code


def run_child(args: list[str], env: dict | None = None) -> dict:
    """Start ``python -m fesgui.benchmarks.child ARGS`` and wait for it.

    Returns ``stdout``, ``stderr``, ``returncode``, ``cpu_s`` (user + system CPU of the
    child, from ``os.wait4``), ``wall_s`` and ``command``.
    """
    cmd = [sys.executable, "-m", "fesgui.benchmarks.child", *args]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return {"stdout": stdout, "stderr": stderr, "returncode": proc.returncode,
            "cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.perf_counter() - t0,
            "command": " ".join(cmd)}


def peak_rss_mib(stderr: str) -> float:
    """The peak RSS an ``app`` child printed (MiB); NaN if it printed none."""
    m = _RSS_LINE.search(stderr)
    return int(m.group(1)) / 1024 if m else float("nan")


def tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


if __name__ == "__main__":
    kind, rest = sys.argv[1], sys.argv[2:]
    if kind == "pipeline":
        raise SystemExit(_pipeline(rest[0], rest[1], int(rest[2])))
    if kind == "app":
        raise SystemExit(_app(rest))
    raise SystemExit(f"unknown child kind {kind!r}: use pipeline or app")
