"""``fesgui train``: fit a model on image pairs, or rebuild the shipped models.

Three sources of training pairs, exactly one per run:

* ``--inputs DIR_A --targets DIR_B``: already-aligned images matched by file name;
* ``--pairs DIR``: unaligned photos (``DIR/<expression>/<id>.jpg`` or
  ``DIR/<id>/<expression>.jpg``), aligned here with MediaPipe and cached;
* ``--release DATASET_DIR``: every shipped model of ``fesgui/models/`` and its model card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fesgui.errors import FesguiError
from fesgui.outputs import check_output

METHOD_CHOICES = ("mr", "pixel-rr", "pixel-kr")
COLOR_CHOICES = ("shared", "per-channel", "gray")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="fit a model on image pairs, or rebuild the shipped models (--release)",
        description="Fit a Masked Regression, Pixel-RR or Pixel-KR model. The people are "
        "split 80/10/10 by identity (seeded); lam is chosen on the validation people "
        "(--cv, the default) or given (--lam); the model is fitted on train + validation "
        "and its test-set MSE and SSIM are stored in the file.",
    )
    src = p.add_argument_group("training pairs (choose one)")
    src.add_argument("--inputs", metavar="DIR_A", help="aligned input images (with --targets)")
    src.add_argument("--targets", metavar="DIR_B",
                     help="aligned target images, matched to --inputs by file name")
    src.add_argument("--pairs", metavar="DIR",
                     help="unaligned photos: DIR/<expression>/<id>.jpg or DIR/<id>/<expression>.jpg")
    src.add_argument("--release", metavar="DATASET_DIR",
                     help="rebuild every shipped model and models/README.md from the London "
                     "set (neutral/NNN_03.jpg, smiling/NNN_08.jpg)")
    p.add_argument("--source", default="neutral", help="input expression for --pairs "
                   "(default neutral; smiling/smile/happy are one expression)")
    p.add_argument("--target", default="happy", help="target expression for --pairs "
                   "(default happy)")
    p.add_argument("--method", default="mr", choices=METHOD_CHOICES, help="default mr")
    p.add_argument("--size", type=int, default=3, help="MR window size r (odd; default 3)")
    p.add_argument("--dilation", type=int, default=1, help="MR tap spacing (default 1)")
    p.add_argument("--color", default="shared", choices=COLOR_CHOICES,
                   help="shared = CMR (default), per-channel, or gray-replicated")
    lam = p.add_mutually_exclusive_group()
    lam.add_argument("--lam", type=float, default=None, help="ridge strength, e.g. 0.4")
    lam.add_argument("--cv", action="store_true",
                     help="choose lam on the validation people (the default when --lam is "
                     "not given): with --fit change over 1..300, the least validation MSE "
                     "among the values that keep the mouth's colour and detail; with --fit "
                     "target over 10 values in [0.1, 10] by validation MSE, as in the papers")
    p.add_argument("--fit", choices=("change", "target"), default="change",
                   help="change (default): fit T - X and add the input back, so ridge "
                   "shrinks toward 'no change' (sharp); target: fit T as in the papers "
                   "(shrinks toward the mean face: blur)")
    p.add_argument("--no-shape", action="store_true",
                   help="with --pairs: no shape warp (by default a displacement field is "
                   "learned from the FaceMesh points of the pairs and applied first)")
    p.add_argument("--sigma", type=float, default=None,
                   help="Pixel-KR kernel width in [0, 1] intensity units (default: chosen "
                   "on validation)")
    p.add_argument("--crop", type=int, default=128,
                   help="aligned crop size in pixels for --pairs (default 128)")
    p.add_argument("--seed", type=int, default=0, help="identity split seed (default 0)")
    p.add_argument("--compact", action="store_true",
                   help="store float16 weights / uint8 Pixel-KR tables (smaller file)")
    p.add_argument("--cache", metavar="DIR", default=None,
                   help="alignment cache folder (default $FESGUI_CACHE/aligned or "
                   "~/.cache/fesgui/aligned)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--only", metavar="PATTERN", default=None,
                   help="with --release: rebuild only models whose file name contains "
                   "PATTERN (the model card is then not rewritten)")
    p.add_argument("--jobs", type=int, default=2, metavar="N",
                   help="with --release: processes fitting models side by side (default 2)")
    p.add_argument("-o", "--output", metavar="MODEL.npz",
                   help="model file to write (with --release: the models folder, default "
                   "the shipped models/ folder)")
    p.set_defaults(run=run)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _check_args(args: argparse.Namespace) -> str:
    given = [name for name in ("inputs", "pairs", "release") if getattr(args, name)]
    if args.targets and not args.inputs:
        raise FesguiError("--targets needs --inputs: give both aligned folders")
    if len(given) != 1:
        which = "none" if not given else " and ".join(f"--{g}" for g in given)
        raise FesguiError(f"give exactly one of --inputs/--targets, --pairs or --release "
                          f"(got {which}): see fesgui train --help")
    mode = given[0]
    if mode == "inputs" and not args.targets:
        raise FesguiError("--inputs needs --targets: give the folder of target images too")
    if mode != "release":
        if not args.output:
            raise FesguiError("no output file: add -o model.npz")
        check_output(Path(args.output).expanduser(), what="-o")  # e.g. "-o .npz"
        if Path(args.output).suffix.lower() != ".npz":
            raise FesguiError(f"-o {args.output} must end in .npz: e.g. -o model.npz")
        if not Path(args.output).expanduser().resolve().parent.is_dir():
            raise FesguiError(f"the folder of -o {args.output} does not exist: create it first")
    if args.only and mode != "release":
        raise FesguiError("--only works with --release only: drop it")
    if args.jobs < 1:
        raise FesguiError(f"--jobs {args.jobs} must be >= 1: e.g. --jobs 2")
    if args.method == "mr" and (args.size < 1 or args.size % 2 == 0):
        raise FesguiError(f"--size {args.size} must be odd and positive: use 3 or 5")
    if args.dilation < 1:
        raise FesguiError(f"--dilation {args.dilation} must be >= 1: use 1 or 2")
    if args.lam is not None and not args.lam > 0:
        raise FesguiError(f"--lam {args.lam} must be > 0: e.g. --lam 0.4, or --cv")
    if args.sigma is not None and not args.sigma > 0:
        raise FesguiError(f"--sigma {args.sigma} must be > 0: e.g. --sigma 1")
    if args.crop < 16:
        raise FesguiError(f"--crop {args.crop} is too small: use 128 or 256")
    if args.crop > 1024:  # = fesgui.core.modelio.MAX_IMAGE_SIDE: larger models do not load
        raise FesguiError(f"--crop {args.crop} is too large: use at most 1024 (128 or 256 "
                          "work best)")
    return mode


def run(args: argparse.Namespace) -> int:
    from fesgui import data, training

    mode = _check_args(args)
    if mode == "release":
        from fesgui.paths import models_dir
        from fesgui.release import build_release

        out = Path(args.output).expanduser() if args.output else models_dir()
        written = build_release(args.release, out, only=args.only, cache_dir=args.cache,
                                use_cache=not args.no_cache, jobs=args.jobs, log=_say)
        print(f"wrote {len(written)} model(s) to {out}")
        return 0

    if mode == "inputs":
        pairs, problems = data.find_named_pairs(args.inputs, args.targets)
        if not pairs:
            raise FesguiError(f"no training pairs found in {args.inputs} and {args.targets}: "
                              "expected images with the same names in both folders")
    else:
        pairs, problems = training.find_photo_pairs(args.pairs, args.source, args.target)
    for problem in problems:
        _say(f"warning: {problem}")
    _say(f"{len(pairs)} pairs found")
    if mode == "inputs":
        aligned = data.load_named(pairs)
    else:
        def progress(done: int, total: int) -> None:
            if done == total or done % 20 == 0:
                _say(f"aligned {done}/{total}")

        aligned = data.load_aligned(pairs, args.crop, cache_dir=args.cache,
                                    use_cache=not args.no_cache, progress=progress)
    for path, reason in aligned.skipped:
        _say(f"skipped {path}: {reason}")
    source, target = ((Path(args.inputs).name, Path(args.targets).name) if mode == "inputs"
                      else (data.canonical_expression(args.source),
                            data.canonical_expression(args.target)))
    folder = Path(args.inputs if mode == "inputs" else args.pairs).expanduser().resolve()
    model = training.train_aligned(aligned, folder.name, method=args.method, size=args.size,
                                   dilation=args.dilation, color=args.color, lam=args.lam,
                                   sigma=args.sigma, seed=args.seed, source=source,
                                   target=target, shape=not args.no_shape,
                                   residual=args.fit == "change", log=_say)
    out = Path(args.output).expanduser()
    model.save(out, compact=args.compact)
    metrics = model.meta["metrics"]
    print(f"wrote {out}: {model.meta['name']}, lam={model.lam_:g}"
          + (f", sigma={model.sigma_:g}" if model.sigma_ is not None else "")
          + f"; test MSE x10^2 = {100 * metrics['mse']:.4f}, SSIM = {metrics['ssim']:.4f}")
    return 0
