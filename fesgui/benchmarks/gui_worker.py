"""The live pipeline through the desktop app: GUI worker thread plus drawing (offscreen Qt).

The app runs as a child process as a person starts it,
``fesgui --camera VIDEO --model MODEL --quit-after S`` (through
:mod:`fesgui.benchmarks.child`, which adds the peak RSS), with
``QT_QPA_PLATFORM=offscreen`` and a temporary settings folder. The video stands in for a
camera and is delivered at 60 fps, faster than the 30 fps target, so the figure is what
the app can draw, not what the source allows. On exit the app prints its own counts
(see :mod:`fesgui.gui.app`), parsed here; its CPU time comes from ``os.wait4``.

Sustained rate: the app runs twice, for S/3 and for S seconds; the difference of the
frames drawn over the difference of the live time leaves start-up (window, model,
MediaPipe) out. This module never imports Qt (only :mod:`fesgui.gui` does).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from fesgui.benchmarks import Config, Unavailable
from fesgui.benchmarks.harness import Row, Section

FPS_TARGET = 30.0
SOURCE_FPS = 60.0
_SHOWN = re.compile(r"window shown in ([\d.]+) s; processed (\d+) live frames, drew (\d+) "
                    r"results \((\d+) with a face\)")
_LAST = re.compile(r"last live frames: ([\d.]+) fps drawn; (.*)$", re.MULTILINE)
_STAGE = re.compile(r"([a-z]+) ([\d.]+)(?: ms)?")


def app_available() -> str | None:
    """Why the app cannot run here, or None."""
    try:
        import fesgui.gui.app  # noqa: F401  (Qt is imported only inside run_app)
    except ImportError as exc:
        return f"the desktop app is not importable: {exc}"
    return None


def model_file(folder: Path, cfg: Config, size: int = 128) -> tuple[Path, str]:
    """A model file for the app: the shipped one, else a synthetic-fitted one saved."""
    from fesgui.benchmarks.live import live_model, shipped_model

    shipped = shipped_model(size)
    if shipped.is_file():
        return shipped, f"shipped model {shipped.name}"
    model, desc = live_model(size, cfg.live_train_pairs)
    return model.save(folder / "bench_model.npz"), desc


def run_app_child(video: Path, model: Path, seconds: float, settings_dir: Path) -> dict:
    """Run the app on ``video`` for ``seconds`` (see :func:`fesgui.benchmarks.child.run_child`);
    adds ``peak_rss_mib``."""
    from fesgui.benchmarks.child import peak_rss_mib, run_child

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FESGUI_SETTINGS_DIR=str(settings_dir))
    res = run_child(["app", "--camera", str(video), "--model", str(model),
                     "--quit-after", f"{seconds:g}"], env=env)
    res["peak_rss_mib"] = peak_rss_mib(res["stderr"])
    return res


def gui_video(folder: Path, cfg: Config) -> Path:
    """The astronaut test video at :data:`SOURCE_FPS` frames per second."""
    from fesgui.benchmarks.testvideo import astronaut_frames, write_video

    w, h = cfg.frame_size
    return write_video(folder / "astronaut60.avi", astronaut_frames(120, w, h), fps=SOURCE_FPS)


def parse_app_report(stderr: str) -> dict:
    """The counts the app prints with ``--quit-after``. ``fps_drawn`` is 0 when no live
    frame was drawn. Raises ``AssertionError`` with the stderr tail if the summary line
    is missing (the app failed)."""
    m = _SHOWN.search(stderr)
    if m is None:
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        raise AssertionError(f"the app did not print its summary; its stderr ends:\n{tail}")
    last = _LAST.search(stderr)
    stats = last.group(2) if last else ""
    stages = {k: float(v) for k, v in _STAGE.findall(stats) if k not in ("fps", "dropped")}
    dropped = re.search(r"dropped (\d+)", stats)
    return {"shown_s": float(m.group(1)), "processed": int(m.group(2)),
            "drawn": int(m.group(3)), "faces": int(m.group(4)),
            "fps_drawn": float(last.group(1)) if last else 0.0,
            "dropped": int(dropped.group(1)) if dropped else 0, "last_stages_ms": stages}


def _app_run(video: Path, model: Path, seconds: float, tmp: Path) -> tuple[dict, dict]:
    res = run_app_child(video, model, seconds, tmp)
    if res["returncode"] != 0:
        from fesgui.benchmarks.child import tail

        raise AssertionError(f"the app exited with {res['returncode']}:\n"
                             f"{tail(res['stderr'])}")
    return res, parse_app_report(res["stderr"])


def sustained_fps(short: dict, long: dict, short_s: float, long_s: float) -> float:
    """Frames drawn per second between the end of a short and the end of a long run:
    start-up (window, model, MediaPipe) cancels out of the difference."""
    span = (long_s - long["shown_s"]) - (short_s - short["shown_s"])
    return (long["drawn"] - short["drawn"]) / max(span, 1e-3)


def run(cfg: Config) -> Section:
    why = app_available()
    if why:
        raise Unavailable(why)
    section = Section("gui")
    long_s = cfg.gui_seconds
    short_s = round(long_s / 3, 1)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fesgui-bench-gui-") as tmp:
        tmp = Path(tmp)
        video = gui_video(tmp, cfg)
        for crop in cfg.live_crops:
            model, desc = model_file(tmp, cfg, crop)
            _, short = _app_run(video, model, short_s, tmp)
            res, rep = _app_run(video, model, long_s, tmp)
            _rows(section, cfg, crop, res, rep, sustained_fps(short, rep, short_s, long_s),
                  short["drawn"], short_s)
            section.notes.append(f"crop {crop}: {desc}; command: {res['command']}")
    section.notes.append(f"load average (1 min) {load0:.1f} before, "
                         f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    return section


def _rows(section: Section, cfg: Config, crop: int, res: dict, rep: dict, sustained: float,
          short_drawn: int, short_s: float) -> None:
    w, h = cfg.frame_size
    case = f"app, {w}x{h} video at {SOURCE_FPS:g} fps, crop {crop}"
    at_target = crop == 128
    section.rows.append(Row(
        "gui", case, "frames drawn per second, sustained (wall)", sustained, "fps",
        target=f">= {FPS_TARGET:g} fps" if at_target else "",
        met=(sustained >= FPS_TARGET) if at_target else None,
        note=f"(drawn in a {cfg.gui_seconds:g} s run - drawn in a {short_s:g} s run) / "
             f"(difference of their live time) = ({rep['drawn']} - {short_drawn}) / ...: "
             "start-up cancels out"))
    live_s = max(cfg.gui_seconds - rep["shown_s"], 1e-3)
    section.rows.append(Row(
        "gui", case, "frames drawn per second, whole run (wall)", rep["drawn"] / live_s, "fps",
        note=f"{rep['drawn']} results drawn ({rep['faces']} with a face) in the {live_s:.1f} s "
             f"after the window was shown, model loading and MediaPipe start-up included; "
             f"{rep['processed']} frames processed, {rep['dropped']} dropped"))
    section.rows.append(Row("gui", case, "frames drawn per second, last 30 (wall)",
                            rep["fps_drawn"], "fps", note="the app's own rolling figure"))
    section.rows.append(Row("gui", case, "window shown after", rep["shown_s"] * 1e3, "ms"))
    section.rows.append(Row("gui", case, "CPU cores used", res["cpu_s"] / res["wall_s"], "",
                            note="child's user + system CPU time / wall time, start-up "
                                 "included"))
    section.rows.append(Row("gui", case, "peak RSS", res["peak_rss_mib"], "MiB"))
    stages = " · ".join(f"{k} {v:g}" for k, v in rep["last_stages_ms"].items())
    section.notes.append(f"crop {crop}: the app's own timings (ms) of the last drawn frame: "
                         f"{stages or '-'} (one sample; the pipeline section has "
                         "distributions)")
