"""A contact sheet of the expression on real faces: input | other models | the default |
the default at intensity 1.5, one row per face.

    python -m fesgui.evaluation.contact --pairs ../shared/datasets/london-faces \\
        --compare OLD.npz --out docs/images/expressions.png

Rows: held-out London people (the shipped models' test split; the dataset's licence, CC BY
4.0, allows showing them with attribution, printed under the sheet's caption in the
README) and scikit-image's public-domain astronaut. Every panel is the *whole pipeline*
result (shape warp at the photo's resolution, appearance model, paste-back), cropped
around the face at :data:`PANEL` px, so what is shown is what ``fesgui synth`` writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from fesgui.errors import FesguiError

PANEL = 320
#: the crop shown: the eyes + mouth alignment at this size, zoomed out by ZOOM
ZOOM = 0.8


def _panel_matrix(face) -> np.ndarray:
    from fesgui.align import Template

    m = Template.load().matrix(face, PANEL, "eyes-mouth")
    # zoom out around the crop centre so the whole face and some context show
    c = (PANEL - 1) / 2
    zoom = np.array([[ZOOM, 0, c * (1 - ZOOM)], [0, ZOOM, c * (1 - ZOOM)], [0, 0, 1.0]])
    return zoom[:2] @ np.vstack([m, [0, 0, 1.0]])


def _label(image: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (255, 255, 255), -1)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1,
                cv2.LINE_AA)
    return out


def build_sheet(cases, columns: list[tuple[str, object, dict]]) -> np.ndarray:
    """``cases``: objects with ``photo`` and ``face``; ``columns``: (title, model or None for
    the input, pipeline params). Returns the sheet, RGB uint8."""
    from fesgui.align import warp_to_crop
    from fesgui.evaluation.expression import run_pipeline

    gap = 6
    rows = []
    for case in cases:
        m = _panel_matrix(case.face)
        panels = []
        for title, model, params in columns:
            frame = case.photo if model is None else run_pipeline(model, [case], **params)[0]
            panels.append(_label(warp_to_crop(frame, m, PANEL), title))
        spacer = np.full((PANEL, gap, 3), 255, np.uint8)
        rows.append(np.concatenate([p for panel in panels for p in (panel, spacer)][:-1], 1))
    spacer = np.full((gap, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([r for row in rows for r in (row, spacer)][:-1], axis=0)




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fesgui.evaluation.contact",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", required=True, help="the London set folder")
    parser.add_argument("--model", default=None,
                        help="the model to show (default: the default model)")
    parser.add_argument("--compare", action="append", default=[], metavar="MODEL",
                        help="another model to show beside it (repeatable), e.g. an older "
                        "file: git show REV:models/neutral2happy_mr5_128.npz > old.npz")
    parser.add_argument("--faces", type=int, default=3, help="London test faces (default 3)")
    parser.add_argument("--out", default="docs/images/expressions.png")
    parser.add_argument("--cache", default=None, help="alignment cache folder")
    args = parser.parse_args(argv)
    try:
        from skimage import data as skdata

        from fesgui.align.mediapipe_source import MediaPipeSource
        from fesgui.catalog import DEFAULT_MODEL, find_model
        from fesgui.core import load_model
        from fesgui.data import find_pairs, split_ids
        from fesgui.evaluation.expression import Photo, load_cases
        from fesgui.imageio import write_image

        name = args.model or DEFAULT_MODEL
        model = load_model(find_model(name))
        ids = (model.meta.get("training_data") or {}).get("test_ids")
        pairs, _ = find_pairs(args.pairs)
        if not ids:
            ids = split_ids([p.id for p in pairs])[2]
        cases = load_cases(pairs, ids[:args.faces], cache_dir=args.cache)
        source = MediaPipeSource(video=False, max_faces=1)
        astronaut = skdata.astronaut()
        faces = source.detect(astronaut)
        source.close()
        if faces:
            cases.append(Photo(astronaut, faces[0]))
        columns: list[tuple[str, object, dict]] = [("input", None, {})]
        for path in args.compare:
            columns.append((Path(path).stem, load_model(find_model(path)), {}))
        label = Path(str(find_model(name))).stem
        columns += [(label, model, {}), ("same, intensity 1.5", model, {"intensity": 1.5})]
        sheet = build_sheet(cases, columns)
        out = Path(args.out)
        write_image(out, sheet)
    except FesguiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(cases)} faces x {len(columns)} columns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
