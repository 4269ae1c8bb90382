"""The live pipeline through the desktop app: GUI worker thread plus drawing (offscreen Qt).

The app runs as a child process as a person starts it,
``fesgui --camera VIDEO --model MODEL --quit-after S`` (through
:mod:`fesgui.benchmarks.child`, which adds the peak RSS), with
``QT_QPA_PLATFORM=offscreen`` and a temporary settings folder. The video stands in for a
camera and is delivered at 60 fps, faster than the 30 fps target, so the figure is what
the app can draw, not what the source allows. On exit the app prints its own counts
(see :mod:`fesgui.gui.app`), parsed here; its CPU time comes from ``os.wait4``.

Sustained rate: the app's own steady figure (``Session.steady_fps``: results drawn after
the stream's first seconds over the time they took), so start-up (window, model,
MediaPipe, the first frames) is left out; 0 when start-up took the whole run. This module
never imports Qt (only :mod:`fesgui.gui` does).
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
_STEADY = re.compile(r"steady live rate: ([\d.]+) fps drawn \((\d+) frames in ([\d.]+) s")


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
    steady = _STEADY.search(stderr)
    return {"steady_fps": float(steady.group(1)) if steady else 0.0,
            "steady_frames": int(steady.group(2)) if steady else 0,
            "steady_s": float(steady.group(3)) if steady else 0.0,
            "shown_s": float(m.group(1)), "processed": int(m.group(2)),
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


def run(cfg: Config) -> Section:
    why = app_available()
    if why:
        raise Unavailable(why)
    section = Section("gui")
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fesgui-bench-gui-") as tmp:
        tmp = Path(tmp)
        video = gui_video(tmp, cfg)
        for crop in cfg.live_crops:
            model, desc = model_file(tmp, cfg, crop)
            res, rep = _app_run(video, model, cfg.gui_seconds, tmp)
            _rows(section, cfg, crop, res, rep)
            section.notes.append(f"crop {crop}: {desc}; command: {res['command']}")
        if cfg.gui_hd_size is not None:
            _hd_rows(section, cfg, tmp, cfg.gui_hd_seconds)
    section.notes.append(f"load average (1 min) {load0:.1f} before, "
                         f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    return section


#: the HD case: the app's preview must keep the video's frame rate; the video is paced
#: at that rate, so the drawn rate cannot exceed it, and this share of it counts as kept
#: (the runs' first and last frames fall at random inside a frame period)
HD_FPS = 30.0
HD_KEPT = 0.95


def _hd_rows(section: Section, cfg: Config, tmp: Path, seconds: float) -> None:
    """The app on a :attr:`Config.gui_hd_size` H.264 video at :data:`HD_FPS` as its
    camera (the astronaut's face 20 % of the width, drifting, as in the video section):
    does the preview keep the video's frame rate? The rate is the app's own steady
    figure (results drawn after the stream's first seconds, over the time they took:
    start-up left out)."""
    from fesgui.benchmarks.video import FACE_FRAC, make_video

    w, h = cfg.gui_hd_size
    video = make_video(tmp / f"camera_{w}x{h}.mp4", w, h, 150, fps=HD_FPS)
    from fesgui.benchmarks.live import default_model_file

    model, desc = default_model_file()  # what the app starts with
    if model is None:
        model, desc = model_file(tmp, cfg, 128)
    res, rep = _app_run(video, model, seconds, tmp)
    sustained = rep["steady_fps"]
    case = f"app, {w}x{h} H.264 at {HD_FPS:g} fps as the camera, the default model"
    section.rows.append(Row(
        "gui", case, "frames drawn per second, sustained (wall)", sustained, "fps",
        baseline=HD_FPS, baseline_name="the video's frame rate",
        target=f">= {HD_KEPT:.0%} of {HD_FPS:g} fps", met=sustained >= HD_KEPT * HD_FPS,
        note=f"the face {FACE_FRAC:.0%} of the width; {_steady_note(rep)}; in the whole "
             f"{seconds:g} s run {rep['processed']} frames processed, {rep['dropped']} "
             f"dropped, {rep['faces']} of {rep['drawn']} drawn with a face"))
    section.rows.append(Row("gui", case, "CPU cores used", res["cpu_s"] / res["wall_s"], "",
                            note="start-up included"))
    stages = " · ".join(f"{k} {v:g}" for k, v in rep["last_stages_ms"].items())
    section.notes.append(f"{w}x{h} camera: {desc}; the app's timings (ms) of the last "
                         f"drawn frame: {stages or '-'}")


def _steady_note(rep: dict) -> str:
    if rep["steady_frames"] < 2:
        return "0: start-up took the whole run (no live frame after the stream's first seconds)"
    return (f"{rep['steady_frames']} frames drawn in {rep['steady_s']:.1f} s after the "
            "stream's first seconds (start-up left out)")


def _rows(section: Section, cfg: Config, crop: int, res: dict, rep: dict) -> None:
    w, h = cfg.frame_size
    case = f"app, {w}x{h} video at {SOURCE_FPS:g} fps, crop {crop}"
    at_target = crop == 128
    section.rows.append(Row(
        "gui", case, "frames drawn per second, sustained (wall)", rep["steady_fps"], "fps",
        target=f">= {FPS_TARGET:g} fps" if at_target else "",
        met=(rep["steady_fps"] >= FPS_TARGET) if at_target else None,
        note=_steady_note(rep)))
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
