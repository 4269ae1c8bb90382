"""``fesgui convert``: move models between fesgui and the MR authors' CSR format.

* ``fesgui convert model.npz out.npz`` writes the model as ``scipy.sparse`` CSR matrix
  file(s) of shape (D, D+1) (``scipy.sparse.save_npz``); a per-channel model gives three
  files ``out_r.npz``, ``out_g.npz``, ``out_b.npz``. Pixel-KR cannot be exported.
* ``fesgui convert r.npz [g.npz b.npz] model.npz [--height H --width W]`` reads one
  (shared) or three (per-channel R, G, B) CSR files and writes a fesgui model: an MR
  model when the weights fill a local window around each pixel, else a sparse receptive
  field model (the authors' LSRF and OMP files), which records the authors' per-image
  min-max scaling and their framing (both options, with the authors' values as defaults).
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

# the authors' framing (numbers only: the core is not imported before a command runs)
AUTHORS_EYE_DISTANCE = 0.43
AUTHORS_EYE_Y = 0.36
AUTHORS_MOUTH_Y = 0.72


def add_parser(sub) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a model to/from the MR authors' scipy.sparse CSR .npz format",
        description="Convert a fesgui model to the MR authors' CSR matrix format (one "
        ".npz per weight set: OUT, or OUT_r/_g/_b for per-channel models), or one/three "
        "CSR .npz files (shared / per-channel R, G, B) to a fesgui model. A matrix whose "
        "weights fill a local window around each pixel becomes an MR model (used as it "
        "is); any other, such as the authors' LSRF and OMP files (a few taps per pixel, "
        "anywhere), becomes a sparse receptive field model that is applied the way its "
        "authors did: each face min-max scaled to [0, 1], the matrix, the output min-max "
        "scaled back to the face's range, on a crop framed like theirs.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN",
                   help="a fesgui model .npz, or 1 or 3 CSR .npz files (R, G, B order)")
    p.add_argument("output", metavar="OUT", help="the .npz file to write")
    p.add_argument("--height", type=int, default=None,
                   help="image height of CSR input (default: square image)")
    p.add_argument("--width", type=int, default=None,
                   help="image width of CSR input (default: square image)")
    p.add_argument("--name", default=None, help="display name stored in an imported model")
    g = p.add_argument_group(
        "sparse models (CSR import that is not a local window)",
        "how the authors applied the matrix; stored in the model and used by synth, "
        "batch, video and the app")
    g.add_argument("--preprocess", choices=("minmax", "none"), default="minmax",
                   help="minmax: scale each face to [0, 1] before the matrix and its output "
                   "back to the face's range after it (the authors' code); none: the bare "
                   "matrix on [0, 1] pixels (default: %(default)s)")
    g.add_argument("--framing", choices=("authors", "fesgui"), default="authors",
                   help="authors: align faces like the authors' crops (the three numbers "
                   "below); fesgui: fesgui's own template (default: %(default)s)")
    g.add_argument("--eye-distance", type=float, default=AUTHORS_EYE_DISTANCE,
                   help="distance between the eye centres, as a fraction of the crop width "
                   "(default: %(default)s)")
    g.add_argument("--eye-y", type=float, default=AUTHORS_EYE_Y,
                   help="height of the eye centres, as a fraction of the crop height "
                   "(from the top; default: %(default)s)")
    g.add_argument("--mouth-y", type=float, default=AUTHORS_MOUTH_Y,
                   help="height of the mouth centre, as a fraction of the crop height "
                   "(default: %(default)s)")
    p.set_defaults(run=run)


def _members(path: Path) -> set[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return set()


def _kind(path: Path) -> str:
    from fesgui.errors import FesguiError

    if not path.is_file():
        raise FesguiError(f"input {path} does not exist: check the path")
    members = _members(path)
    if "meta.npy" in members:
        return "fesgui"
    if {"indptr.npy", "indices.npy", "data.npy"} <= members:
        return "csr"
    raise FesguiError(f"{path} is neither a fesgui model nor a scipy.sparse CSR .npz: "
                      "give a model file or a matrix saved with scipy.sparse.save_npz")


def csr_paths(output: Path, count: int) -> list[Path]:
    """Where the CSR matrices go: ``OUT`` for one, ``OUT_r/_g/_b`` for three."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}_{c}{output.suffix}") for c in "rgb"]


def run(args: argparse.Namespace) -> int:
    import scipy.sparse as sp

    from fesgui.atomic import atomic_write
    from fesgui.core import from_csr, load_model, to_csr
    from fesgui.errors import FesguiError
    from fesgui.outputs import check_output

    inputs = [Path(p).expanduser() for p in args.inputs]
    output = Path(args.output).expanduser()
    check_output(output, inputs, what="output")
    if output.suffix != ".npz":
        raise FesguiError(f"output {output.name!r} must end in .npz: e.g. {output.stem}.npz")
    kinds = [_kind(p) for p in inputs]
    if kinds == ["fesgui"]:
        if args.height is not None or args.width is not None:
            raise FesguiError("--height/--width are only for CSR input: a fesgui model "
                              "knows its size")
        mats = to_csr(load_model(inputs[0]))
        paths = [check_output(p, inputs, what="output") for p in csr_paths(output, len(mats))]
        for mat, path in zip(mats, paths, strict=True):
            # encoded in memory, then written in one go: a zip writer left open on a full
            # disk would fail again when collected ("Exception ignored ... Traceback")
            with atomic_write(path) as tmp:
                buffer = io.BytesIO()
                sp.save_npz(buffer, mat, compressed=True)
                tmp.write_bytes(buffer.getvalue())
            print(f"wrote {path} (CSR {mat.shape[0]}x{mat.shape[1]}, {mat.nnz} non-zeros)")
        return 0
    if "fesgui" in kinds:
        raise FesguiError("fesgui models and CSR files mixed: give one fesgui model, or 1 or 3 CSR files")
    check_channel_files(inputs)
    template = None
    if args.framing == "authors":
        from fesgui.core.sparse import authors_template

        template = authors_template(args.eye_distance, args.eye_y, args.mouth_y)
    model = from_csr(inputs, args.height, args.width, preprocess=args.preprocess,
                     template=template)
    if args.name:
        model.set_provenance(name=args.name)
    model.save(output)
    h, w = model.image_size
    if not model.local_window:
        how = ("min-max scaled in and out" if args.preprocess == "minmax"
               else "no preprocessing")
        frame = (f"authors' framing: eyes {args.eye_distance:g} apart at {args.eye_y:g}, "
                 f"mouth at {args.mouth_y:g}" if template else "fesgui's framing")
        taps = f"{model.n_taps} tap{'s' if model.n_taps > 1 else ''}"
        print(f"wrote {output} (sparse receptive fields, {taps} per pixel, "
              f"{model.color}, {h}x{w}; {how}; {frame})")
    else:
        print(f"wrote {output} (MR {model.size_}x{model.size_}, dilation {model.dilation_}, "
              f"{model.color}, {h}x{w}; used as it is, without preprocessing or framing)")
    return 0


def check_channel_files(inputs: list[Path]) -> None:
    """One shared CSR file or three (R, G, B): name the channel that is missing."""
    from fesgui.errors import FesguiError

    if len(inputs) in (1, 3):
        return
    if len(inputs) == 2:
        raise FesguiError(f"got 2 CSR files ({inputs[0].name}, {inputs[1].name}): the B "
                          "channel file is missing; give one shared file or three (R, G, B)")
    raise FesguiError(f"got {len(inputs)} CSR files: give one shared file or three (R, G, B)")
