"""Reproducible speed and memory measurements behind ``fesgui bench``.

One module per benchmark, each with ``run(config) -> Section``:

=========  =====================================================================
predict    MR (r = 3, 5, 9) and Pixel-RR inference vs the authors' CSR matvec;
           Pixel-KR table look-up vs direct kernel evaluation
fit        MR fit vs a per-pixel scikit-learn Ridge loop; growth with N, size, r
kr         Pixel-KR fit and table inference vs direct kernel evaluation
pipeline   live 640x480 video through landmarks, align, synthesize, refine, paste
memory     peak RSS of the live pipeline and model file sizes vs the papers
gui        the live pipeline through the GUI worker with drawing (offscreen Qt); the app
           keeping up with a 1280x720, 30 fps video as its camera
slider     refinement slider to redraw in the app at crop 256, largest dilation
video      ``fesgui video`` on 1280x720 and 1920x1080 H.264 (decode, landmarks, model,
           paste-back, encode) vs decode + encode only
=========  =====================================================================

Not run by ``fesgui bench``: :mod:`fesgui.benchmarks.soak`, the long-session check of the
live path (``python -m fesgui.benchmarks.soak --frames 10000``: memory stays flat, speed
holds).

The numbers are medians over repeated runs with their spread; every speed claim is a
ratio against a baseline timed in the same run on the same data (see
:mod:`fesgui.benchmarks.harness`).
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from fesgui.benchmarks.harness import Section
from fesgui.errors import FesguiError

#: benchmark name -> module in this package, in the order they run
BENCHMARKS: dict[str, str] = {
    "predict": "predict",
    "fit": "fit",
    "kr": "kr",
    "pipeline": "live",
    "memory": "memory",
    "gui": "gui_worker",
    "slider": "gui_slider",
    "video": "video",
}


class Unavailable(Exception):  # noqa: N818 - reads as "benchmark unavailable"
    """The subject of a benchmark is not available here (reported, never silent)."""


@dataclass
class Config:
    """Sizes and repetitions of one benchmark run.

    :meth:`full` is what ``fesgui bench`` measures, :meth:`quick` is ``--quick`` and
    :meth:`tiny` is what the smoke test runs (seconds; its figures mean nothing).
    """

    mode: str = "full"
    repeats: int = 21                  # interleaved rounds per timed comparison
    min_sample_s: float = 0.01         # each timed batch lasts at least this long
    # predict
    predict_sizes: tuple[int, ...] = (128, 256, 512)
    predict_rf: tuple[int, ...] = (3, 5, 9)
    # fit
    fit_size: int = 128
    fit_pairs: int = 80
    fit_rf: tuple[int, ...] = (3, 5)
    loop_pixels: int = 400             # pixels refitted by the scikit-learn loop
    fit_repeats: int = 5               # interleaved rounds of fit vs loop
    scaling_pairs: tuple[int, ...] = (20, 40, 80)
    scaling_sizes: tuple[int, ...] = (64, 128, 256)
    scaling_rf: tuple[int, ...] = (1, 3, 5, 7)
    # Pixel-KR
    kr_size: int = 128
    kr_pairs: int = 80
    # live pipeline / GUI / memory
    frame_size: tuple[int, int] = (640, 480)   # (width, height) of the test video
    live_frames: int = 300
    live_crops: tuple[int, ...] = (128, 256)
    live_train_pairs: int = 12
    gui_seconds: float = 15.0
    #: (width, height) of the HD video-as-camera the app must keep up with (issue 19);
    #: None leaves that case out
    gui_hd_size: tuple[int, int] | None = (1280, 720)
    #: its run (s): start-up (~5 s until the first HD frame is drawn) and the stream's
    #: first seconds are left out of the figure
    gui_hd_seconds: float = 25.0
    # refinement sliders in the app (slider): crop size, Blur σ steps per dilation radius
    slider_size: int = 256
    slider_steps: int = 40
    memory_app: bool = True            # also measure the app's peak RSS (runs it again)
    # whole-process video (fesgui video): (width, height) of the H.264 test files
    video_sizes: tuple[tuple[int, int], ...] = ((1280, 720), (1920, 1080))
    video_frames: int = 120
    video_rounds: int = 3              # interleaved rounds of baseline and candidate

    @classmethod
    def full(cls) -> Config:
        return cls()

    @classmethod
    def quick(cls) -> Config:
        return cls(mode="quick", repeats=9, min_sample_s=0.004, predict_sizes=(128, 256),
                   fit_pairs=40, loop_pixels=150, fit_repeats=3, scaling_pairs=(20, 40),
                   scaling_sizes=(64, 128), scaling_rf=(1, 3, 5), kr_pairs=40,
                   live_frames=90, gui_seconds=8.0, slider_steps=15, video_frames=60,
                   video_rounds=2)

    @classmethod
    def tiny(cls) -> Config:
        return cls(mode="tiny", repeats=3, min_sample_s=0.0005, predict_sizes=(24,),
                   predict_rf=(3,), fit_size=16, fit_pairs=6, fit_rf=(3,), loop_pixels=4, fit_repeats=1,
                   scaling_pairs=(4, 6), scaling_sizes=(12, 16), scaling_rf=(1, 3),
                   kr_size=16, kr_pairs=6, live_frames=6, live_crops=(64,),
                   live_train_pairs=3, gui_seconds=4.5, slider_size=32, slider_steps=3,
                   memory_app=False, video_sizes=((320, 240),), video_frames=4,
                   video_rounds=1, gui_hd_size=None)


def parse_only(text: str | None) -> list[str]:
    """Names from ``--only a,b`` in run order; all of them for ``None``."""
    if text is None:
        return list(BENCHMARKS)
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in BENCHMARKS]
    if bad or not names:
        raise FesguiError(f"unknown benchmark {', '.join(map(repr, bad)) or repr(text)}: "
                          f"choose from {','.join(BENCHMARKS)}")
    return [n for n in BENCHMARKS if n in names]


def run(names: Sequence[str], config: Config,
        progress: Callable[[str], None] | None = None) -> list[Section]:
    """Run the named benchmarks in order; one :class:`Section` each.

    A benchmark whose subject is missing (e.g. no display for the GUI) comes back with
    ``skipped`` set to the reason; one that crashes comes back with ``skipped`` starting
    with ``"error:"`` and its traceback in ``notes``: nothing is dropped silently.
    """
    sections = []
    for name in names:
        if progress:
            progress(f"running {name} ...")
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"fesgui.benchmarks.{BENCHMARKS[name]}")
            section = module.run(config)
        except Unavailable as exc:
            section = Section(name, skipped=str(exc))
        except FesguiError:
            raise
        except Exception as exc:  # a bug in a subject or here: report it, run the rest
            section = Section(name, skipped=f"error: {type(exc).__name__}: {exc}",
                              notes=[traceback.format_exc()])
        section.seconds = round(time.perf_counter() - t0, 2)
        sections.append(section)
    return sections


def settings(config: Config) -> dict:
    """The configuration as recorded in the JSON file."""
    return asdict(config)
