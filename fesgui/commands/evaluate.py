"""``fesgui evaluate``: score every method on held-out people and write the report.

Fits MR (3/5/7/9, dilated, three colour options), RMR, Pixel-RR, Pixel-KR and the MR
paper's baselines on the training people of ``--pairs``, chooses hyper-parameters on the
validation people and scores the test people, neutral -> happy and happy -> neutral.
Writes ``--out`` (markdown) and PNG figures beside it (``figures/eval_*.png``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fesgui.errors import FesguiError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score every method on held-out people; write models/EVALUATION.md",
        description="Quality evaluation on the test identities (MSE x10^2, SSIM, "
        "sharpness, weights-vs-bias importance, fit time, a landmark smile measure) for "
        "MR, RMR, Pixel-RR, Pixel-KR and global baselines (identity, mean target, PCA, "
        "ridge, Lasso, OMP), in both directions.",
    )
    p.add_argument("--pairs", metavar="DIR", required=True,
                   help="photos: DIR/<expression>/<id>.jpg or DIR/<id>/<expression>.jpg "
                   "(neutral and happy/smiling)")
    p.add_argument("--crop", type=int, default=64,
                   help="aligned RGB crop size of the main table (default 64)")
    p.add_argument("--baseline-crop", type=int, default=32,
                   help="gray crop size of the Lasso/OMP baseline table (default 32)")
    p.add_argument("--out", metavar="FILE.md", default=None,
                   help="report to write (default models/EVALUATION.md); figures go to "
                   "figures/ beside it")
    p.add_argument("--seed", type=int, default=None,
                   help="identity split seed (default: the shipped models' seed, else 0)")
    p.add_argument("--no-smile", action="store_true",
                   help="skip the MediaPipe smile measure")
    p.add_argument("--cache", metavar="DIR", default=None,
                   help="alignment cache folder (default $FESGUI_CACHE/aligned or "
                   "~/.cache/fesgui/aligned)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    for name in ("crop", "baseline_crop"):
        value = getattr(args, name)
        if value < 16:
            flag = "--" + name.replace("_", "-")
            raise FesguiError(f"{flag} {value} is too small: use 16 or more (e.g. 32, 64)")
    if not Path(args.pairs).expanduser().is_dir():
        raise FesguiError(f"--pairs {args.pairs} is not a folder: give the folder of photos")
    if args.out is not None and Path(args.out).suffix.lower() != ".md":
        raise FesguiError(f"--out {args.out} must be a markdown file: end it with .md")


def run(args: argparse.Namespace) -> int:
    from fesgui.extras import require

    require("eval", "fesgui evaluate")
    _check(args)
    from fesgui.evaluation.report import write_report
    from fesgui.evaluation.runner import Settings, run_evaluation, shipped_split_seed
    from fesgui.paths import models_dir

    if args.seed is None:
        seed, origin = shipped_split_seed()
    else:
        seed, origin = args.seed, "--seed"
    settings = Settings(crop=args.crop, baseline_crop=args.baseline_crop, seed=seed,
                        seed_origin=origin, smile=not args.no_smile)
    out = Path(args.out) if args.out else models_dir() / "EVALUATION.md"
    if not out.parent.is_dir():
        raise FesguiError(f"folder {out.parent} does not exist: create it or choose --out")
    t0 = time.perf_counter()

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - t0:6.1f} s] {message}", file=sys.stderr, flush=True)

    ev = run_evaluation(args.pairs, settings, cache_dir=args.cache, log=log)
    paths = write_report(ev, out)
    print(f"wrote {paths[0]} and {len(paths) - 1} figures in {ev.seconds:.0f} s")
    return 0
