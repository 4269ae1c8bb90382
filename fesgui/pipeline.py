"""One place that turns a frame into a result: landmarks -> align -> shape warp ->
synthesize -> refine -> intensity -> paste back, with per-stage timings. Used by the CLI,
the benchmarks and the GUI.

An expression is **shape + appearance**. The shape half (a model's ``shape_field_``, see
:mod:`fesgui.core.shape`) moves the face's pixels - the mouth corners go up and out - at
the frame's full resolution (:func:`fesgui.align.warp_face`), inside the face mask only.
The appearance half (the MR / Pixel-RR / Pixel-KR model) then changes the intensities of
the moved face's aligned crop (shading, teeth, folds), and only its change is pasted
back. ``RefineParams.intensity`` scales both; ``shape`` and ``appearance`` scale each.
A model without a shape field (format 1 files) moves nothing.

Colour handling: the model sees the aligned crop as float32 RGB in [0, 1]. A model fitted on
grayscale data (``n_channels_in_ == 1``) has one weight set, which the core's ``predict``
applies to each of R, G and B (the "gray-replicated" colour scheme of the MR paper,
Sec. 5.2), so colour photos keep their colour; a colour model given a grayscale crop sees
it replicated to RGB.

Speed: the alpha map depends only on the model and the refinement parameters and is cached
(:class:`fesgui.views.ViewCache`, which also holds what the app's views show: with
``Pipeline.with_views`` a result carries them, see :mod:`fesgui.views`);
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
    LEGACY_ALIGNMENT,
    FaceLandmarks,
    LandmarkSource,
    Template,
    crop_shape,
    paste_back,
    warp_crop,
    warp_face,
    warp_to_crop,
)
from fesgui.align.warp import FEATHER
from fesgui.core.base import one_blas_thread
from fesgui.errors import FesguiError
from fesgui.params import RefineParams  # its home; imported from here too
from fesgui.views import FaceViews, ModelViews, ViewCache

STAGES = ("landmarks", "align", "shape", "synthesize", "refine", "paste")
#: faces changed per frame with ``all_faces`` (else only the largest)
MAX_FACES = 20  # a group photo (was 4: "--all-faces stops at 4 faces", issue 14)
NO_FACE = ("no face found: use a frontal, well-lit face, or give the two eyes and the mouth "
           "centre by hand")


@dataclass
class FaceResult:
    """One face through the pipeline. Crop-sized arrays are (h, w, 3) float32 in [0, 1]
    (the model's output may leave [0, 1]; ``final`` is clipped)."""

    landmarks: FaceLandmarks
    matrix: np.ndarray      # (2, 3) float64, frame -> crop
    crop: np.ndarray        # aligned input of the appearance model (after the shape warp)
    output: np.ndarray      # raw model output
    refined: np.ndarray     # after RMR (equals output when refinement is off)
    final: np.ndarray       # after the intensity blend: what is pasted back
    aligned: np.ndarray | None = None   # aligned input before the shape warp (None: the
                                        # same as ``crop``, nothing was moved)
    field: np.ndarray | None = None     # (h, w, 2) the displacement applied (crop pixels)
    views: FaceViews | None = None      # with Pipeline.with_views: W x, b, ... (fesgui.views)


@dataclass
class FrameResult:
    """A whole frame through the pipeline."""

    frame: np.ndarray                 # the input, (H, W, 3) uint8 RGB
    composite: np.ndarray             # the result, same shape and dtype
    faces: list[FaceResult]
    timings: dict[str, float] = field(default_factory=dict)   # milliseconds per stage
    message: str | None = None        # e.g. "no face found: ..." (composite == frame)
    # issue 18 (the app's face picker): every face found, changed or not, largest first
    found: list[FaceLandmarks] = field(default_factory=list)
    # issue 17: with Pipeline.with_views, the model's maps and alpha stages for the params
    # the frame was made with (a reference into the pipeline's cache, not a copy)
    views: ModelViews | None = None


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
    model or the refinement numbers change (``cache``: a :class:`fesgui.views.ViewCache`
    shared with other pipelines of the same thread). ``with_views``: every result carries
    what the app's views show (:mod:`fesgui.views`). Not thread-safe: use one per thread.
    """

    def __init__(self, model, landmarks: LandmarkSource | None = None,
                 params: RefineParams | None = None, all_faces: bool = False,
                 feather: float = FEATHER, template: Template | None = None,
                 cache: ViewCache | None = None, with_views: bool = False) -> None:
        self.cache = ViewCache() if cache is None else cache
        self.with_views = with_views
        #: a still whose sliders move: when the same frame *object* (frames are never edited
        #: in place by the caller) comes again with the same single face, model and shape
        #: strength, its aligned crop and the model's output are reused; only refinement,
        #: intensity and paste-back run again. Off by default (a video reader may refill
        #: one buffer); the app's still worker turns it on.
        self.reuse_same_frame = False
        #: keep each face's aligned crop from before the shape warp
        #: (:attr:`FaceResult.aligned`, the app's "before" view of a still): one more crop
        #: per face and frame (5 ms at 1080p). ``fesgui video`` and the app's live
        #: preview turn it off (the app then shows the model's input, the moved face)
        self.keep_aligned = True
        #: the caller gives each frame away: the composite is made in the frame itself,
        #: without the full-frame copy (1 ms at 1080p; ``FrameResult.frame`` is then the
        #: composite). ``fesgui video`` turns it on: each decoded frame is used once
        self.in_place = False
        self._last: tuple | None = None  # (key, matrix, aligned, warped frame, crop, output)
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
        """The expression model."""
        return self._model

    @model.setter
    def model(self, model) -> None:
        self._model = model
        self._field = getattr(model, "shape_field_", None)
        meta = getattr(model, "meta", None) or {}
        # a model with its own framing (issue 16: an imported LSRF/OMP model) records its
        # eyes and mouth centre: it is aligned on those
        framed = isinstance(getattr(model, "template", None), dict)
        self._alignment = meta.get("alignment") or ("eyes-mouth" if framed
                                                    else LEGACY_ALIGNMENT)

    @property
    def alignment(self) -> str:
        """How faces are aligned for this model (its ``meta["alignment"]``, else the
        eyes + nose alignment that format-1 models were trained with)."""
        return self._alignment

    def shape_strength(self) -> float:
        """The shape warp's strength for the current params (0 when there is no field)."""
        if self._field is None:
            return 0.0
        return float(self.params.intensity) * float(self.params.shape)

    @property
    def crop_size(self) -> tuple[int, int]:
        """(h, w) of the aligned crop: the model's image size."""
        return model_size(self.model)

    def alpha(self) -> np.ndarray | None:
        """(h, w) float32 alpha map for the current model and params; None if refinement
        is off. Cached (the ``alpha`` stage of :meth:`model_views`)."""
        if not self.params.enabled:
            return None
        views = self.cache.alpha(self.model, self.params)
        if views.error is not None:
            raise FesguiError(views.error)
        return views.alpha

    def model_views(self) -> ModelViews:
        """The model's maps and its alpha stages under the current params (cached)."""
        return self.cache.model_views(self.model, self.params)

    def _with_views(self, result: FrameResult) -> FrameResult:
        """``result`` with its views filled in when ``with_views`` is on."""
        if self.with_views:
            result.views = self.model_views()
            for face in result.faces:
                face.views = self.cache.face_views(result.views, face.crop, face.output)
        return result

    # -- issue 16 (sparse models): a model that records its authors' framing ------------
    def face_template(self) -> Template:
        """The template faces are aligned to: the model's own framing when it records one
        (``meta["template"]``, e.g. an imported LSRF/OMP model), else ``self.template``."""
        return Template.for_model(self.model, self.template)

    # -- stages ----------------------------------------------------------------------------
    def _synthesize(self, crop: np.ndarray, timings: dict[str, float]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """crop (h, w, 3) float32 -> (crop, output, refined, final)."""
        t0 = time.perf_counter()
        output = np.asarray(self.model.predict(crop), dtype=np.float32)
        timings["synthesize"] += (time.perf_counter() - t0) * 1e3
        refined, final = self._refine(crop, output, timings)
        return crop, output, refined, final

    def _refine(self, crop: np.ndarray, output: np.ndarray, timings: dict[str, float]
                ) -> tuple[np.ndarray, np.ndarray]:
        """(refined, final): RMR with the alpha map, then the intensity blend."""
        t1 = time.perf_counter()
        alpha = self.alpha()
        p = self.params
        if alpha is not None:
            from fesgui.core import refine

            refined = refine(crop, output, alpha)
        else:
            refined = output
        strength = float(p.intensity) * float(p.appearance)
        if strength == 1.0:
            final = np.clip(refined, 0.0, 1.0)
        else:
            from fesgui.core import blend_intensity

            final = np.asarray(blend_intensity(crop, refined, strength), np.float32)
        timings["refine"] += (time.perf_counter() - t1) * 1e3
        return refined, final

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
        aligned = self._as_crop(crop)
        strength = self.shape_strength()
        moved = aligned
        if strength != 0.0:
            moved = warp_crop(aligned, self._field, strength)
        x, y, refined, final = self._synthesize(moved, timings)
        h, w = self.crop_size
        pts = self.face_template().in_crop((h, w)).astype(np.float32)
        lm = FaceLandmarks(pts, None, (0.0, 0.0, float(w), float(h)))
        face = FaceResult(lm, np.eye(2, 3), x, y, refined, final, aligned,
                          self._field_applied(strength))
        if self.with_views:
            face.views = self.cache.face_views(self.model_views(), x, y)
        return face

    def _detect(self, frame: np.ndarray) -> list[FaceLandmarks]:
        wanted = MAX_FACES if self.all_faces else 1
        if self._owned_source and getattr(self.landmarks, "max_faces", wanted) != wanted:
            self.close()  # all_faces changed: restart the detector we made
        if self.landmarks is None:
            from fesgui.align.mediapipe_source import MediaPipeSource

            self.landmarks = MediaPipeSource(video=False, max_faces=wanted)
            self._owned_source = True
        return list(self.landmarks.detect(frame))

    def process(self, frame: np.ndarray, manual: FaceLandmarks | None = None,
                pick=None) -> FrameResult:
        """Find the face(s) of an (H, W, 3) uint8 RGB frame, change their expression and
        paste them back. ``manual`` landmarks skip detection. The largest face only, or all
        with ``all_faces``, or ``pick(found) -> faces to change`` (the app's face picker).
        No face: the composite is a copy of the frame and ``message`` says why.

        BLAS is held to one thread meanwhile (:func:`fesgui.core.base.one_blas_thread`):
        its idle threads would otherwise spin on a core the video decoder, the encoder or
        the window needs."""
        with one_blas_thread():
            return self._process(frame, manual, pick)

    def _process(self, frame: np.ndarray, manual: FaceLandmarks | None, pick
                 ) -> FrameResult:
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
            return self._with_views(FrameResult(frame, frame if self.in_place else frame.copy(),
                                                [], timings, NO_FACE))
        found = list(faces)
        if pick is not None:  # issue 18: the faces the user picked
            faces = list(pick(found))
        elif not self.all_faces:
            faces = faces[:1]
        size = self.crop_size
        strength = self.shape_strength()
        template = self.face_template()  # issue 16: the model's own framing, if any
        # the one full-frame copy (counted as paste-back; none with in_place): every face
        # is moved and pasted into it in place, touching only the bounding box of each face
        t0 = time.perf_counter()
        composite = frame if self.in_place else frame.copy()
        timings["paste"] += (time.perf_counter() - t0) * 1e3
        results = []
        # (compared by identity, compared by value): see reuse_same_frame
        key = ((frame, self._model, template),
               (strength, self._alignment, size,
                None if len(faces) != 1 else np.asarray(faces[0].points).tobytes()))
        last, self._last = self._last, None
        if (self.reuse_same_frame and last is not None and key[1][-1] is not None
                and all(a is b for a, b in zip(key[0], last[0][0], strict=True))
                and key[1] == last[0][1]):
            lm = faces[0]
            matrix, aligned, composite, x, y = last[1:]
            refined, final = self._refine(x, y, timings)
            t0 = time.perf_counter()
            composite = paste_back(composite, final, matrix, feather=self.feather, original=x,
                                   template=template)
            timings["paste"] += (time.perf_counter() - t0) * 1e3
            self._last = last
            timings["total"] = sum(timings[s] for s in STAGES)
            return self._with_views(FrameResult(frame, composite, [FaceResult(
                lm, matrix, x, y, refined, final, aligned, self._field_applied(strength))],
                timings, None, found))
        for lm in faces:
            t0 = time.perf_counter()
            matrix = template.matrix(lm, size, self._alignment)
            t1 = time.perf_counter()
            aligned = None
            if strength != 0.0:
                if self.keep_aligned:
                    aligned = warp_to_crop(composite, matrix, size).astype(np.float32) \
                        * np.float32(1 / 255)
                    t1 = time.perf_counter()
                warp_face(composite, self._field, matrix, strength, out=composite)
            t2 = time.perf_counter()
            crop = warp_to_crop(composite, matrix, size).astype(np.float32) * np.float32(1 / 255)
            t3 = time.perf_counter()
            timings["align"] += (t1 - t0 + t3 - t2) * 1e3
            timings["shape"] += (t2 - t1) * 1e3
            x, y, refined, final = self._synthesize(crop, timings)
            if self.reuse_same_frame and key[1][-1] is not None:
                # a copy: the paste-back below writes into ``composite`` in place
                self._last = (key, matrix, aligned, composite.copy(), x, y)
            t0 = time.perf_counter()
            paste_back(composite, final, matrix, feather=self.feather, original=x,
                       template=template, out=composite)
            timings["paste"] += (time.perf_counter() - t0) * 1e3
            results.append(FaceResult(lm, matrix, x, y, refined, final, aligned,
                                      self._field_applied(strength)))
        timings["total"] = sum(timings[s] for s in STAGES)
        return self._with_views(FrameResult(frame, composite, results, timings, None, found))

    def _field_applied(self, strength: float) -> np.ndarray | None:
        if strength == 0.0:
            return None
        if strength == 1.0:
            return self._field  # the model's read-only field: no copy per frame
        return self._field * np.float32(strength)

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
