"""``fesgui synth``: change the expression of the face in one photo.

Also the home of the options shared by ``synth``, ``batch`` and ``video`` (model,
refinement, intensity, all faces) and of the pipeline they build from them.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from fesgui.errors import FesguiError, FesguiWarning
from fesgui.params import PARAMS

#: the number options of :func:`add_synthesis_options`, by parameter name: their metavar
STRENGTHS = {"intensity": "T", "shape": "S", "appearance": "A"}
#: the numbers of RMR's alpha map (they act only with --refine)
ALPHA_MAP = {"k": "K", "tau": "TAU", "dilation_radius": "PX", "blur_sigma": "PX"}


def add_synthesis_options(p: argparse.ArgumentParser) -> None:
    """-m/--model, --refine/--no-refine, --alpha, --k, --tau, --dilation, --blur,
    --intensity, --shape, --appearance, --all-faces: ranges, defaults and help from
    :data:`fesgui.params.PARAMS`, as the app's sliders."""
    p.add_argument("-m", "--model", default=None, metavar="MODEL",
                   help="a model .npz file, or the name of an installed model (fesgui "
                   "models); default: the best-measured neutral -> happy model")
    refine, alpha = PARAMS["enabled"], PARAMS["alpha_source"]
    p.add_argument(refine.option, action=argparse.BooleanOptionalAction,
                   default=refine.default, help=refine.cli_help())
    p.add_argument(alpha.option, choices=alpha.choices, default=alpha.default,
                   help=f"with --refine: {alpha.help} (default {alpha.default})")
    for name, metavar in ALPHA_MAP.items():
        spec = PARAMS[name]  # default None: not given (the warning without --refine)
        p.add_argument(spec.option, dest=name, type=float, default=None, metavar=metavar,
                       help=f"with --refine: {spec.cli_help()}")
    for name, metavar in STRENGTHS.items():
        spec = PARAMS[name]
        p.add_argument(spec.option, type=float, default=spec.default, metavar=metavar,
                       help=spec.cli_help())
    p.add_argument("--all-faces", action="store_true",
                   help="change every face found (up to 20), not only the largest")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "synth", help="change the expression of the face in a photo",
        description="Find the face in PHOTO, change its expression with MODEL and write the "
        "photo with the new face pasted back (everything outside the face is untouched).")
    p.add_argument("photo", metavar="PHOTO", help="input image (JPEG, PNG, ...)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png",
                   help="output image (.png or .jpg)")
    add_synthesis_options(p)
    p.add_argument("--landmarks", metavar="x1,y1,x2,y2,x3,y3", default=None,
                   help="left eye, right eye and mouth centre in pixels instead of "
                   "automatic face detection")
    p.add_argument("--aligned", action="store_true",
                   help="PHOTO is already an aligned face of the model's size: no detection, "
                   "the model output is written as is")
    p.set_defaults(run=run)


def check_parameters(args: argparse.Namespace) -> dict[str, float | int | None]:
    """The numbers of the shared options (:data:`STRENGTHS`, :data:`ALPHA_MAP`), checked
    against :data:`fesgui.params.PARAMS` (a FesguiError names the option and its range);
    an alpha-map number not given is its default."""
    values = {}
    for name in (*ALPHA_MAP, *STRENGTHS):
        spec, value = PARAMS[name], getattr(args, name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # an error names 50 as typed, not 50.0
        values[name] = spec.default if value is None else spec.check(value, spec.option)
    return values


def load_model_arg(name_or_path: str | None):
    """The model named on the command line (a path or an installed name; None: the
    default model, :data:`fesgui.catalog.DEFAULT_MODEL`)."""
    from fesgui.catalog import DEFAULT_MODEL, find_model
    from fesgui.core import load_model

    return load_model(find_model(DEFAULT_MODEL if name_or_path is None else name_or_path))


def make_face_finder(args: argparse.Namespace, video: bool):
    """MediaPipe FaceMesh for the shared options (all faces, or only the largest)."""
    from fesgui.align.mediapipe_source import MediaPipeSource
    from fesgui.pipeline import MAX_FACES

    return MediaPipeSource(video=video, max_faces=MAX_FACES if args.all_faces else 1)


def make_pipeline(args: argparse.Namespace, model, landmarks=None):
    """A :class:`fesgui.pipeline.Pipeline` from the shared options."""
    from fesgui.pipeline import Pipeline, RefineParams

    params = RefineParams(enabled=args.refine, alpha_source=args.alpha,
                          **check_parameters(args))
    given = [PARAMS[n].option for n in ALPHA_MAP if getattr(args, n) is not None]
    if given and not args.refine:
        verb, them = ("act", "them") if len(given) > 1 else ("acts", "it")
        warnings.warn(f"{', '.join(given)} {verb} only with --refine: add it to use {them}",
                      FesguiWarning, stacklevel=2)
    return Pipeline(model, landmarks=landmarks, params=params, all_faces=args.all_faces)


def _check_inside(landmarks, frame, text: str) -> None:
    h, w = frame.shape[:2]
    pts = landmarks.points[[0, 1]].tolist() + [landmarks.mouth_centre.tolist()]
    if any(not (0 <= x < w and 0 <= y < h) for x, y in pts):
        raise FesguiError(f"--landmarks {text} lie outside the {w}x{h} photo: give pixel "
                          "positions inside it")


def run(args: argparse.Namespace) -> int:
    from fesgui.align import parse_landmarks
    from fesgui.imageio import check_image_output, read_image, to_uint8, write_image

    out = check_image_output(args.output, inputs=[args.photo])
    if args.aligned and args.landmarks:
        raise FesguiError("--aligned and --landmarks exclude each other: an aligned face "
                          "needs no landmarks")
    check_parameters(args)
    manual = parse_landmarks(args.landmarks) if args.landmarks else None
    frame = read_image(args.photo)
    model = load_model_arg(args.model)
    with make_pipeline(args, model) as pipeline:
        if args.aligned:
            face = pipeline.process_crop(frame)
            write_image(out, to_uint8(face.final))
            print(f"wrote {out}")
            return 0
        if manual is not None:
            _check_inside(manual, frame, args.landmarks)
        result = pipeline.process(frame, manual)
    if result.message:
        raise FesguiError(f"{Path(args.photo).name}: {result.message}")
    write_image(out, result.composite)
    n = len(result.faces)
    print(f"wrote {out} ({n} face{'s' if n != 1 else ''}, "
          f"{result.timings.get('total', 0.0):.0f} ms)")
    return 0
