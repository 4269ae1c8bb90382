"""The expression as a user sees it: whole photos through the pipeline, scored on held-out
people.

The paper-style tables (:mod:`fesgui.evaluation.runner`) score a model's raw output on its
own aligned crops. This module scores what ``fesgui synth`` writes: the source photo goes
through :class:`fesgui.pipeline.Pipeline` (shape warp at full resolution, appearance model,
paste-back of the change), and the result is compared with the person's real photo of the
target expression, registered to the source photo on the eyes and the nose tip. Every
method is measured on the same crop of the same photos (:data:`MEASURE_CROP` px, eyes +
mouth alignment of the source face), so a format-1 model aligned on eyes + nose and a
shape + appearance model are compared on equal terms.

Measures (per method, mean over the test people):

* ``smile``: how far the mouth went, as a fraction of the real change: mean over faces
  of (output - input) of the mouth width (mouth-corner distance / inter-ocular distance,
  FaceMesh, :func:`fesgui.evaluation.smile.smile_measure`) over the mean (target - input).
  ``smile_rel`` / ``smile_worst``: the output's width change relative to the input
  (mean and smallest over faces).
* ``chroma``: mouth-region colour kept: mean LAB chroma of the output's mouth region over
  the input's (1 = as colourful as the input).
* ``sharpness``: mouth-region detail kept: variance of the Laplacian of the output's mouth
  region over the input's.
* ``mse`` / ``ssim``: against the registered target photo, on the whole measurement crop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from fesgui.errors import FesguiError

#: side of the crop every method is measured on
MEASURE_CROP = 256


@dataclass
class Case:
    """One held-out person: the source photo, its face, and the transform taking the
    target photo onto the source photo's frame."""

    id: str
    photo: np.ndarray          # (H, W, 3) uint8 RGB, source expression
    face: object               # fesgui.align.FaceLandmarks of the source face
    target: np.ndarray         # the target-expression photo, as read
    target_to_source: np.ndarray   # (2, 3) similarity, target photo -> source photo


@dataclass
class Photo:
    """A photo and its face: what :func:`run_pipeline` needs (a :class:`Case` is one too)."""

    photo: np.ndarray
    face: object


@dataclass
class ExpressionScores:
    """The measures of one method (see the module docstring)."""

    name: str
    n: int
    mse: float
    ssim: float
    smile: float | None
    smile_rel: float | None
    smile_worst: float | None
    chroma: float
    sharpness: float
    n_smile: int

    def as_dict(self) -> dict:
        return asdict(self)


def load_cases(pairs, ids: Sequence[str], cache_dir=None, landmarks=None) -> list[Case]:
    """The :class:`Case` of every pair whose id is in ``ids`` (both faces found)."""
    from pathlib import Path

    from fesgui.align import register_pair
    from fesgui.data import FaceFinder, _AlignCache, default_cache_dir
    from fesgui.imageio import read_image

    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    source_name = "MediaPipeSource" if landmarks is None else type(landmarks).__name__
    finder = FaceFinder(_AlignCache(root, source_name, "eval", (MEASURE_CROP,) * 2),
                        landmarks)
    wanted = set(ids)
    cases = []
    try:
        for pair in pairs:
            if pair.id not in wanted:
                continue
            src, tgt = finder.find(Path(pair.source)), finder.find(Path(pair.target))
            if isinstance(src, str) or isinstance(tgt, str):
                continue
            photo = src.image if src.image is not None else read_image(pair.source)
            target = tgt.image if tgt.image is not None else read_image(pair.target)
            cases.append(Case(pair.id, photo, src.face, target,
                              register_pair(src.face.points, tgt.face.points)))
    finally:
        finder.close()
    return cases


def mouth_box(size: int = MEASURE_CROP, template=None) -> tuple[slice, slice]:
    """(rows, cols) of the mouth region of an aligned crop: around the template's mouth,
    1.5 mouth widths wide and 0.9 high."""
    from fesgui.align import Template

    template = Template.load() if template is None else template
    pts = template.in_crop(size)
    centre = (pts[3] + pts[4]) / 2
    width = float(pts[4, 0] - pts[3, 0])
    y0, y1 = int(round(centre[1] - 0.45 * width)), int(round(centre[1] + 0.45 * width))
    x0, x1 = int(round(centre[0] - 0.75 * width)), int(round(centre[0] + 0.75 * width))
    return slice(max(y0, 0), y1), slice(max(x0, 0), x1)


def mouth_kept(outputs: np.ndarray, inputs: np.ndarray, template=None) -> tuple[float, float]:
    """``(chroma, detail)`` of the mouth region (:func:`mouth_box`) kept by ``outputs``
    ``(N, H, W, 3)`` from ``inputs`` (float in [0, 1]): mean over images of the LAB-chroma
    ratio and of the Laplacian-variance ratio, output over input (1 = kept). Used to choose
    a change fit's lam (:mod:`fesgui.training`) and to score whole photos (:class:`Scorer`)."""
    import cv2

    from fesgui.evaluation.metrics import laplacian_variance

    rows, cols = mouth_box(outputs.shape[1], template)

    def chroma(a: np.ndarray) -> np.ndarray:
        u8 = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
        lab = np.stack([cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2LAB) for im in u8])
        lab = lab.astype(np.float32)
        return np.hypot(lab[..., 1] - 128, lab[..., 2] - 128).mean(axis=(1, 2))

    o = np.clip(outputs[:, rows, cols], 0, 1)
    i = inputs[:, rows, cols]
    c = float(np.mean(chroma(o) / np.maximum(chroma(i), 1e-6)))
    d = float(np.mean(laplacian_variance(o) / np.maximum(laplacian_variance(i), 1e-12)))
    return c, d


def measure_crops(cases: Sequence[Case], results: Sequence[np.ndarray], template=None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, outputs, targets): ``(N, S, S, 3)`` uint8 measurement crops of the source
    photos, of the ``results`` (whole frames) and of the registered target photos."""
    from fesgui.align import Template, compose, warp_to_crop

    template = Template.load() if template is None else template
    ins, outs, tgts = [], [], []
    for case, result in zip(cases, results, strict=True):
        m = template.matrix(case.face, MEASURE_CROP, "eyes-mouth")
        ins.append(warp_to_crop(case.photo, m, MEASURE_CROP))
        outs.append(warp_to_crop(result, m, MEASURE_CROP))
        tgts.append(warp_to_crop(case.target, compose(m, case.target_to_source), MEASURE_CROP))
    return np.stack(ins), np.stack(outs), np.stack(tgts)


class Scorer:
    """Scores methods on a fixed list of cases; the inputs' and targets' smile measures are
    taken once. ``smile_source``: a landmark source with FaceMesh (``None``: no smile
    measure)."""

    def __init__(self, cases: Sequence[Case], smile_source=None, template=None) -> None:
        if not cases:
            raise FesguiError("no held-out faces to score on: check the dataset folder")
        self.cases = list(cases)
        self.template = template
        self.smile_source = smile_source
        ins, _, tgts = measure_crops(self.cases, [c.photo for c in self.cases], template)
        self.inputs, self.targets = ins, tgts
        self.m_in = self._smile(ins)
        self.m_tgt = self._smile(tgts)

    def _smile(self, crops: np.ndarray) -> list:
        if self.smile_source is None:
            return [None] * len(crops)
        from fesgui.evaluation.smile import measure_images

        return measure_images(crops, self.smile_source, upscale=2)

    def score(self, name: str, results: Sequence[np.ndarray]) -> ExpressionScores:
        """Scores of whole result frames, one per case (same order)."""
        from fesgui.evaluation.metrics import mse, ssim

        _, outs, _ = measure_crops(self.cases, results, self.template)
        o = outs.astype(np.float32) / 255.0
        t = self.targets.astype(np.float32) / 255.0
        chroma, sharp = mouth_kept(o, self.inputs.astype(np.float32) / 255.0, self.template)
        m_out = self._smile(outs)
        ok = [k for k in range(len(outs))
              if m_out[k] is not None and self.m_in[k] is not None and self.m_tgt[k] is not None]
        smile = smile_rel = smile_worst = None
        if ok:
            d_out = np.array([m_out[k].width - self.m_in[k].width for k in ok])
            d_tgt = np.array([self.m_tgt[k].width - self.m_in[k].width for k in ok])
            rel = d_out / np.array([self.m_in[k].width for k in ok])
            smile = float(d_out.mean() / d_tgt.mean()) if abs(d_tgt.mean()) > 1e-9 else None
            smile_rel, smile_worst = float(rel.mean()), float(rel.min())
        return ExpressionScores(name, len(outs), float(mse(o, t)), float(ssim(o, t)),
                                smile, smile_rel, smile_worst, float(chroma), sharp, len(ok))


def run_pipeline(model, cases: Sequence[Case], log: Callable[[str], None] | None = None,
                 **params) -> list[np.ndarray]:
    """Each case's source photo through a :class:`~fesgui.pipeline.Pipeline` with ``model``
    and :class:`~fesgui.pipeline.RefineParams` ``params``, on the case's own landmarks."""
    from fesgui.pipeline import Pipeline, RefineParams

    pipeline = Pipeline(model, landmarks=_NoDetector(), params=RefineParams(**params))
    return [pipeline.process(case.photo, manual=case.face).composite for case in cases]


class _NoDetector:
    """Stands in for a landmark source: every case brings its own landmarks."""

    def detect(self, image):  # pragma: no cover - never called with manual landmarks
        raise FesguiError("internal: the evaluation gives every face's landmarks")

    def close(self) -> None:
        pass
