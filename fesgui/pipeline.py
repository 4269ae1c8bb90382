"""One place that turns a frame into a result: landmarks -> align -> synthesize -> refine ->
intensity -> paste back, with per-stage timings. Used by the CLI, the benchmarks and the GUI.

Colour handling: the model sees the aligned crop as float32 RGB in [0, 1]. A model fitted on
grayscale data (``n_channels_in_ == 1``) has one weight set, which the core's ``predict``
applies to each of R, G and B (the "gray-replicated" colour scheme of the MR paper,
Sec. 5.2), so colour photos keep their colour; a colour model given a grayscale crop sees
it replicated to RGB.

Speed: the alpha map depends only on the model and the refinement parameters and is cached;
refinement and the intensity blend run on the small crop; paste-back touches only the
bounding box of the face and adds only the *change* the model made (see
:func:`fesgui.align.paste_back` with ``original``), so the face keeps the frame's resolution
wherever the model changed nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from fesgui.align import (
    FaceLandmarks,
    LandmarkSource,
    Template,
    crop_shape,
    paste_back,
    warp_to_crop,
)
from fesgui.align.warp import FEATHER
from fesgui.errors import FesguiError

STAGES = ("landmarks", "align", "synthesize", "refine", "paste")
#: faces changed per frame with ``all_faces`` (else only the largest)
MAX_FACES = 20  # a group photo (was 4: "--all-faces stops at 4 faces", issue 14)
NO_FACE = ("no face found: use a frontal, well-lit face, or give the two eyes and the mouth "
           "centre by hand")


@dataclass
class RefineParams:
    """Refinement (RMR, MR paper Sec. 6) and output intensity. ``dilation_radius`` (pixels)
    and ``blur_sigma`` (pixels) default to values scaled with the image size.

    RMR is off by default: on the shipped London-trained models its alpha map (the L1-norm
    heuristic of the paper) picks out hair and face edges more than the mouth, so it keeps
    the input almost unchanged there and removes most of the smile (models/EVALUATION.md:
    mouth-corner lift gain 1.18 for MR, 0.04 for RMR). It is one switch away everywhere.
    """

    enabled: bool = False
    k: float = 10.0
    tau: float = 0.2
    dilation_radius: int | None = None
    blur_sigma: float | None = None
    intensity: float = 1.0


@dataclass
class FaceResult:
    """One face through the pipeline. Crop-sized arrays are (h, w, 3) float32 in [0, 1]
    (the model's output may leave [0, 1]; ``final`` is clipped)."""

    landmarks: FaceLandmarks
    matrix: np.ndarray      # (2, 3) float64, frame -> crop
    crop: np.ndarray        # aligned input
    output: np.ndarray      # raw model output
    refined: np.ndarray     # after RMR (equals output when refinement is off)
    final: np.ndarray       # after the intensity blend: what is pasted back


@dataclass
class FrameResult:
    """A whole frame through the pipeline."""

    frame: np.ndarray                 # the input, (H, W, 3) uint8 RGB
    composite: np.ndarray             # the result, same shape and dtype
    faces: list[FaceResult]
    timings: dict[str, float] = field(default_factory=dict)   # milliseconds per stage
    message: str | None = None        # e.g. "no face found: ..." (composite == frame)


def model_size(model) -> tuple[int, int]:
    """(h, w) of the aligned faces a model works on (``image_size``, else
    ``meta["image_size"]``). A fitted model's own ``image_size`` is read first: its
    ``meta`` is built afresh (user metadata deep-copied) on every access, once per frame."""
    size = getattr(model, "image_size", None) or (getattr(model, "meta", None) or {}).get(
        "image_size")
    if size is None:
        raise FesguiError("the model has no image_size: it is not a fitted fesgui model; "
                          "train or load one first")
    return crop_shape(tuple(size))


class Pipeline:
    """Frame -> :class:`FrameResult` with a given model.

    ``landmarks``: the face finder; ``None`` creates a MediaPipe FaceMesh (photo mode, up to
    :data:`MAX_FACES` faces with ``all_faces``, else 1) the first time a frame without manual landmarks
    needs one. ``model``, ``params`` and
    ``all_faces`` may be changed between calls; the alpha map is recomputed only when the
    model or the refinement numbers change. Not thread-safe: use one per thread.
    """

    def __init__(self, model, landmarks: LandmarkSource | None = None,
                 params: RefineParams | None = None, all_faces: bool = False,
                 feather: float = FEATHER, template: Template | None = None) -> None:
        self._alpha_key: tuple | None = None
        self._alpha: np.ndarray | None = None
        self.model = model
        self.landmarks = landmarks
        self.params = RefineParams() if params is None else params
        self.all_faces = all_faces
        self.feather = feather
        self.template = Template.load() if template is None else template
        self._owned_source = False

    # -- model-dependent state -------------------------------------------------------------
    @property
    def model(self):
        """The expression model (setting it drops the cached alpha map)."""
        return self._model

    @model.setter
    def model(self, model) -> None:
        self._model = model
        self._alpha_key = None
        self._alpha = None

    @property
    def crop_size(self) -> tuple[int, int]:
        """(h, w) of the aligned crop: the model's image size."""
        return model_size(self.model)

    def alpha(self) -> np.ndarray | None:
        """(h, w) float32 alpha map for the current model and params; None if refinement
        is off. Cached."""
        p = self.params
        if not p.enabled:
            return None
        key = (id(self.model), float(p.k), float(p.tau), p.dilation_radius, p.blur_sigma)
        if key != self._alpha_key or self._alpha is None:
            from fesgui.core import alpha_map

            self._alpha = np.asarray(alpha_map(self.model, k=p.k, tau=p.tau,
                                               dilation_radius=p.dilation_radius,
                                               blur_sigma=p.blur_sigma), np.float32)
            self._alpha_key = key
        return self._alpha

    # -- stages ----------------------------------------------------------------------------
    def _synthesize(self, crop: np.ndarray, timings: dict[str, float]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """crop (h, w, 3) float32 -> (crop, output, refined, final)."""
        t0 = time.perf_counter()
        output = np.asarray(self.model.predict(crop), dtype=np.float32)
        t1 = time.perf_counter()
        alpha = self.alpha()
        p = self.params
        if alpha is not None:
            from fesgui.core import refine

            refined = refine(crop, output, alpha)
        else:
            refined = output
        if p.intensity == 1.0:
            final = np.clip(refined, 0.0, 1.0)
        else:
            from fesgui.core import blend_intensity

            final = np.asarray(blend_intensity(crop, refined, p.intensity), np.float32)
        t2 = time.perf_counter()
        timings["synthesize"] += (t1 - t0) * 1e3
        timings["refine"] += (t2 - t1) * 1e3
        return crop, output, refined, final

    def _as_crop(self, crop: np.ndarray) -> np.ndarray:
        h, w = self.crop_size
        crop = np.asarray(crop)
        if crop.shape[:2] != (h, w):
            raise FesguiError(f"the aligned face is {crop.shape[1]}x{crop.shape[0]} but the "
                              f"model needs {w}x{h}: resize it, or drop --aligned to align "
                              "the photo")
        x = crop.astype(np.float32) * np.float32(1 / 255) if crop.dtype == np.uint8 \
            else crop.astype(np.float32, copy=False)
        if x.ndim == 2:
            x = np.repeat(x[:, :, None], 3, axis=2)
        return x

    def process_crop(self, crop: np.ndarray) -> FaceResult:
        """Run an already-aligned face ((h, w[, 3]) uint8, or float32 in [0, 1], of the
        model's size). The result's matrix is the identity and its landmarks are the
        template's points in the crop."""
        timings = dict.fromkeys(STAGES, 0.0)
        x, y, refined, final = self._synthesize(self._as_crop(crop), timings)
        h, w = self.crop_size
        pts = self.template.in_crop((h, w)).astype(np.float32)
        lm = FaceLandmarks(pts, None, (0.0, 0.0, float(w), float(h)))
        return FaceResult(lm, np.eye(2, 3), x, y, refined, final)

    def _detect(self, frame: np.ndarray) -> list[FaceLandmarks]:
        wanted = MAX_FACES if self.all_faces else 1
        if self._owned_source and getattr(self.landmarks, "max_faces", wanted) != wanted:
            self.close()  # all_faces changed: restart the detector we made
        if self.landmarks is None:
            from fesgui.align.mediapipe_source import MediaPipeSource

            self.landmarks = MediaPipeSource(video=False, max_faces=wanted)
            self._owned_source = True
        return list(self.landmarks.detect(frame))

    def process(self, frame: np.ndarray, manual: FaceLandmarks | None = None) -> FrameResult:
        """Find the face(s) of an (H, W, 3) uint8 RGB frame, change their expression and
        paste them back. ``manual`` landmarks skip detection. The largest face only, or all
        with ``all_faces``. No face: the composite is a copy of the frame and ``message``
        says why."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise FesguiError(f"a frame must be (H, W, 3) uint8 RGB, got {frame.dtype} "
                              f"{frame.shape}: read it with fesgui.imageio.read_image")
        if frame.shape[0] < 1 or frame.shape[1] < 1:
            raise FesguiError(f"the frame is empty ({frame.shape[1]}x{frame.shape[0]} "
                              "pixels): the source sent no picture; check the camera or file")
        timings = dict.fromkeys(STAGES, 0.0)
        t0 = time.perf_counter()
        faces = [manual] if manual is not None else self._detect(frame)
        timings["landmarks"] = (time.perf_counter() - t0) * 1e3
        if not faces:
            timings["total"] = timings["landmarks"]
            return FrameResult(frame, frame.copy(), [], timings, NO_FACE)
        if not self.all_faces:
            faces = faces[:1]
        size = self.crop_size
        composite = frame
        results = []
        for lm in faces:
            t0 = time.perf_counter()
            matrix = self.template.matrix(lm, size)
            crop = warp_to_crop(frame, matrix, size).astype(np.float32) * np.float32(1 / 255)
            timings["align"] += (time.perf_counter() - t0) * 1e3
            x, y, refined, final = self._synthesize(crop, timings)
            t0 = time.perf_counter()
            composite = paste_back(composite, final, matrix, feather=self.feather, original=x,
                                   template=self.template)
            timings["paste"] += (time.perf_counter() - t0) * 1e3
            results.append(FaceResult(lm, matrix, x, y, refined, final))
        timings["total"] = sum(timings[s] for s in STAGES)
        return FrameResult(frame, composite, results, timings, None)

    def close(self) -> None:
        """Close the landmark source if the pipeline created it."""
        if self._owned_source and self.landmarks is not None:
            self.landmarks.close()
            self.landmarks = None
            self._owned_source = False

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
