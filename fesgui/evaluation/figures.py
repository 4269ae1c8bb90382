"""The evaluation report's PNG figures (``models/figures/eval_*.png``), drawn with
matplotlib's Agg canvas (no display, no pyplot global state) and written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fesgui.atomic import atomic_write
from fesgui.evaluation.runner import Evaluation, MethodResult
from fesgui.evaluation.smile import smile_gain
from fesgui.evaluation.statistics import direction_title

FAMILY_COLORS = {"baseline": "#9e9e9e", "mr": "#1f77b4", "rmr": "#2ca02c", "pixel": "#d62728"}
#: the rows of the sharpness figure
SHARPNESS_ROWS = ("identity", "l2 ridge", "MR 3x3", "MR 5x5", "MR 7x7", "MR 9x9", "RMR 3x3",
                  "RMR 5x5", "RMR 7x7", "RMR 9x9", "Pixel-RR", "Pixel-KR")


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return path


def _bars(ax, rows: list[MethodResult], title: str) -> None:
    names = [r.name for r in rows][::-1]
    vals = [100 * r.mse for r in rows][::-1]
    errs = [100 * r.mse_se for r in rows][::-1]
    colors = [FAMILY_COLORS.get(r.family, "#333333") for r in rows][::-1]
    ax.barh(names, vals, xerr=errs, color=colors, capsize=2)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("test MSE ×10² (± s.e.)")
    ax.tick_params(axis="y", labelsize=8)


def make_figures(ev: Evaluation, folder: Path) -> dict[str, Path]:
    """Draw the figures into ``folder``; returns ``{key: path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    dirs = ev.directions
    out = {}
    n = len(dirs)

    fig = _figure(6 * n, 6)
    for k, d in enumerate(dirs):
        _bars(fig.add_subplot(1, n, k + 1), d.main,
              f"{direction_title(d)}, {ev.settings.crop}×{ev.settings.crop} RGB")
    fig.tight_layout()
    out["mse"] = _save(fig, folder / "eval_mse.png")

    fig = _figure(6 * n, 4.5)
    for k, d in enumerate(dirs):
        c = ev.settings.baseline_crop
        _bars(fig.add_subplot(1, n, k + 1), d.baselines, f"{direction_title(d)}, {c}×{c} gray")
    fig.tight_layout()
    out["baselines"] = _save(fig, folder / "eval_baselines.png")

    fig = _figure(5 * n, 3.8)
    for k, d in enumerate(dirs):
        ax = fig.add_subplot(1, n, k + 1)
        sig = [p.sigma for p in d.kr_sweep]
        ax.plot(sig, [100 * p.val_mse for p in d.kr_sweep], "o-", label="validation")
        ax.plot(sig, [100 * p.test_mse for p in d.kr_sweep], "s--", label="test")
        ax.set_xscale("log")
        ax.set_xlabel("sigma ([0, 1] intensity units)")
        ax.set_ylabel(f"MSE ×10² (every {ev.settings.kr_stride}th pixel)")
        ax.set_title(f"Pixel-KR, {direction_title(d)}", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out["kr_sigma"] = _save(fig, folder / "eval_kr_sigma.png")

    fig = _figure(6 * n, 4)
    for k, d in enumerate(dirs):
        ax = fig.add_subplot(1, n, k + 1)
        rows = [r for r in d.main if r.name in SHARPNESS_ROWS]
        tl, tg = d.target_sharpness
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r.lap_var / tl for r in rows], 0.4, label="Laplacian variance")
        ax.bar(x + 0.2, [r.grad_energy / tg for r in rows], 0.4, label="gradient energy")
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_xticks(x, [r.name for r in rows], rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("relative to the real targets")
        ax.set_title(f"Sharpness, {direction_title(d)}", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out["sharpness"] = _save(fig, folder / "eval_sharpness.png")

    fig = _figure(6 * n, 4)
    for k, d in enumerate(dirs):
        ax = fig.add_subplot(1, n, k + 1)
        rows = [r for r in d.main if r.importance is not None and r.importance > 0]
        ax.bar(range(len(rows)), [r.importance for r in rows],
               color=[FAMILY_COLORS.get(r.family, "#333") for r in rows])
        ax.set_yscale("log")
        ax.axhline(5.0, color="k", lw=0.8, ls=":")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(range(len(rows)), [r.name for r in rows], rotation=45, ha="right",
                      fontsize=8)
        ax.set_ylabel("mean|Wx| / mean|b|  (dotted: paper's ≈5)")
        ax.set_title(f"Weights vs bias, {direction_title(d)}", fontsize=10)
    fig.tight_layout()
    out["importance"] = _save(fig, folder / "eval_importance.png")

    if any(d.smile_input and d.smile_target for d in dirs):
        fig = _figure(6 * n, 4)
        for k, d in enumerate(dirs):
            if not (d.smile_input and d.smile_target):
                continue
            ax = fig.add_subplot(1, n, k + 1)
            rows = [r for r in d.main if r.smile is not None]
            gains = [smile_gain(d.smile_input, r.smile, d.smile_target) for r in rows]
            x = np.arange(len(rows))
            for off, key, label in ((-0.27, "lift", "corner lift"), (0.0, "width", "width"),
                                    (0.27, "opening", "lip opening")):
                ax.bar(x + off, [getattr(g, key) for g in gains], 0.27, label=label)
            ax.axhline(0.0, color="k", lw=0.8)
            ax.axhline(1.0, color="k", lw=0.8, ls=":")
            ax.set_xticks(x, [r.name for r in rows], rotation=45, ha="right", fontsize=8)
            ax.set_ylabel("fraction of input → target change")
            ax.set_title(f"Smile measure gain, {direction_title(d)} (0 = input, 1 = target)",
                         fontsize=10)
            ax.legend(fontsize=8)
        fig.tight_layout()
        out["smile"] = _save(fig, folder / "eval_smile.png")
    return out
