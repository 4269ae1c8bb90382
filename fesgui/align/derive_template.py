"""Derive ``resources/face_template.json`` from MediaPipe landmarks of neutral faces.

Reproducible: ``python -m fesgui.align.derive_template /path/to/london-faces/neutral``.
Each face's key points (iris centres, nose tip, mouth corners) and four outline points
(forehead, chin, both cheeks) are brought into a common frame by generalised Procrustes
(least-squares similarities onto the running mean); the mean is then rotated so the eyes are
level, scaled so the inter-ocular distance is ``iod`` of the crop width and moved so the eyes
sit at ``eye_height`` of the crop height. The paste-back ellipse is fitted to the outline
points (forehead to chin, cheek to cheek) with a little room, and kept inside the crop.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fesgui.align.template import Template, apply_matrix, similarity_lstsq
from fesgui.errors import FesguiError

FOREHEAD, CHIN, LEFT_CHEEK, RIGHT_CHEEK = 10, 152, 234, 454


def collect_points(images: list[Path]) -> np.ndarray:
    """(N, 9, 2) float64: 5 key points + forehead, chin, cheeks of the largest face of each
    image in which MediaPipe finds one."""
    from fesgui.align.mediapipe_source import MediaPipeSource
    from fesgui.imageio import read_image

    rows = []
    with MediaPipeSource(video=False, max_faces=1) as source:
        for path in images:
            faces = source.detect(read_image(path))
            if faces:
                f = faces[0]
                outline = f.mesh[[FOREHEAD, CHIN, LEFT_CHEEK, RIGHT_CHEEK]]
                rows.append(np.vstack([f.points, outline]))
    if not rows:
        raise FesguiError("no face found in any image: check the folder")
    return np.array(rows, np.float64)


def procrustes_mean(shapes: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Mean shape (K, 2) of (N, K, 2) point sets under least-squares similarities."""
    mean = shapes[0]
    for _ in range(iterations):
        aligned = np.array([apply_matrix(similarity_lstsq(s, mean), s) for s in shapes])
        mean = aligned.mean(axis=0)
        mean = (mean - mean.mean(axis=0)) / np.linalg.norm(mean - mean.mean(axis=0))
    return mean


def derive_template(shapes: np.ndarray, eye_height: float = 0.40, iod: float = 0.27,
                    mask_room: float = 1.04) -> Template:
    """Template from (N, 9, 2) point sets (see :func:`collect_points`)."""
    mean = procrustes_mean(shapes)
    left, right = mean[0], mean[1]
    angle = np.arctan2(right[1] - left[1], right[0] - left[0])
    c, s = np.cos(-angle), np.sin(-angle)
    scale = iod / np.linalg.norm(right - left)
    rot = np.array([[c, -s], [s, c]]) * scale
    pts = (mean - (left + right) / 2) @ rot.T + [0.5, eye_height]
    forehead, chin, lcheek, rcheek = pts[5:]
    cy = (forehead[1] + chin[1]) / 2
    ay = min((chin[1] - forehead[1]) / 2 * mask_room, min(cy, 1 - cy) - 0.02)
    ax = min((rcheek[0] - lcheek[0]) / 2 * mask_room, 0.48)
    info = (f"mean MediaPipe landmarks of {len(shapes)} neutral faces, generalised Procrustes;"
            f" eyes at {eye_height:.2f} of the height, inter-ocular {iod:.2f} of the width")
    return Template(pts[:5], (0.5, round(float(cy), 4)), (round(float(ax), 4),
                    round(float(ay), 4)), info)


def main(argv: list[str] | None = None) -> int:
    from fesgui.atomic import write_bytes_atomic
    from fesgui.imageio import list_images
    from fesgui.paths import resources_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of neutral frontal face photos")
    parser.add_argument("-o", "--output", default=str(resources_dir() / "face_template.json"))
    parser.add_argument("--eye-height", type=float, default=0.40)
    parser.add_argument("--iod", type=float, default=0.27)
    args = parser.parse_args(argv)
    shapes = collect_points(list_images(args.folder))
    template = derive_template(shapes, args.eye_height, args.iod)
    write_bytes_atomic(args.output, template.to_json().encode())
    print(f"wrote {args.output} from {len(shapes)} faces")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
