"""What the app's views show, computed where the pipeline runs (issue 17): the GUI only
indexes into these and draws.

* :class:`ModelMaps`: everything about a model that no frame changes - the L1 map ``s``,
  the bias image, the farthest-tap map, the shape field and its colour wheel. Built once
  per model.
* :class:`AlphaViews`: the RMR alpha map and its stages (``s`` of the chosen source, ``z``,
  ``dilated``, ``stepped``, ``alpha``) for one model under one set of refinement numbers.
  Built once per (model, k, tau, radius, sigma, source); the pipeline refines with the same
  ``alpha`` array (one computation, one cache: :class:`ViewCache`).
* :class:`ModelViews`: the two together, as a :class:`fesgui.pipeline.FrameResult` carries
  them (a reference, never a copy per frame).
* :class:`FaceViews`: what one face adds - ``W x`` and ``b`` of its output
  (``wx + b == output``), the weights/bias importance, and for a sparse model the input as
  its matrix sees it and its output scaling, so that the arithmetic of a clicked pixel
  (:meth:`FaceViews.pixel`) is indexing, not a pass over the image.

Every array here is read-only (``writeable=False``): panels draw them, nobody edits them.
Qt-free; the worker calls :meth:`ViewCache.model_views` and :func:`face_views`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from fesgui.errors import FesguiError

#: the alpha stages the views show, in screen order (``s`` is that of the alpha source)
STAGES = ("s", "z", "dilated", "stepped", "alpha")


def _frozen(a: np.ndarray | None) -> np.ndarray | None:
    if a is not None:
        a.setflags(write=False)
    return a


def alpha_key(params: Any) -> tuple:
    """What the alpha stages depend on besides the model: ``(k, tau, dilation_radius,
    blur_sigma, alpha_source)`` of a ``RefineParams``."""
    return (float(params.k), float(params.tau), params.dilation_radius, params.blur_sigma,
            params.alpha_source)


@dataclass(frozen=True, eq=False)
class ModelMaps:
    """Maps of one model that no frame changes. ``(H, W)`` float32 unless said.

    ``s``: L1 norm of each receptive field with its bias (``l1_map``); ``bias``
    ``(H, W, K)`` the bias (K = 1 or 3 weight sets); ``bias_rgb`` ``(H, W, 3)`` the bias as
    it reaches an RGB output; ``reach``: distance to the farthest input pixel read
    (``tap_reach_map``); ``field`` ``(H, W, 2)`` the shape field (the model's own array) and
    ``flow`` ``(H, W, 3)`` its colour wheel, ``field_top`` its longest vector (px), or None,
    None, 0 without one. ``taps`` ``(T, 2)`` tap offsets (dy, dx) of the centre pixel."""

    model: Any
    s: np.ndarray
    bias: np.ndarray
    bias_rgb: np.ndarray
    reach: np.ndarray
    taps: np.ndarray
    field: np.ndarray | None
    flow: np.ndarray | None
    field_top: float

    def tap_map(self, tap: int, channel: int = 0) -> np.ndarray:
        """``(H, W)``: the weight of tap number ``tap`` at every pixel (a view into the
        model's weights: indexing, no computation)."""
        model = self.model
        n = len(self.taps)
        if not 0 <= int(tap) < n:
            raise FesguiError(f"tap={tap} out of range: use 0..{n - 1}")
        k = min(int(channel), int(model.weights_.shape[0]) - 1)
        return model.weights_[k, :, :, int(tap)]

    def field_vector(self, row: int, col: int) -> tuple[float, float] | None:
        """``(dx, dy)`` of the shape field at a pixel (crop px), None without a field."""
        if self.field is None:
            return None
        h, w = self.field.shape[:2]
        if not (0 <= row < h and 0 <= col < w):
            raise FesguiError(f"pixel ({row}, {col}) is outside the {h}x{w} field: "
                              f"use 0 <= row < {h}, 0 <= col < {w}")
        return float(self.field[row, col, 0]), float(self.field[row, col, 1])


@dataclass(frozen=True, eq=False)
class AlphaViews:
    """The alpha stages of one model under refinement numbers ``key`` (:func:`alpha_key`).

    ``stages``: name -> ``(H, W)`` float32 (:data:`STAGES`), or empty when the numbers are
    unusable; then ``error`` says why in one line (a FesguiError message)."""

    key: tuple
    stages: Mapping[str, np.ndarray]
    error: str | None = None

    @property
    def alpha(self) -> np.ndarray | None:
        """The final alpha map (None when the numbers were unusable)."""
        return self.stages.get("alpha")


@dataclass(frozen=True, eq=False)
class ModelViews:
    """A model's maps and its alpha stages under the params a result was made with.

    ``enabled``: refinement was on (the output was refined with ``alpha.alpha``)."""

    maps: ModelMaps
    alpha: AlphaViews
    params: Any  # the RefineParams (read-only)

    @property
    def model(self) -> Any:
        return self.maps.model

    @property
    def enabled(self) -> bool:
        return bool(self.params.enabled)

    def applied_alpha(self) -> np.ndarray | None:
        """The alpha map the output was refined with (None when refinement is off)."""
        return self.alpha.alpha if self.enabled else None


@dataclass(frozen=True, eq=False)
class FaceViews:
    """What one face adds to its :class:`ModelViews`: ``wx`` and ``b`` ``(h, w, 3)`` float32
    with ``wx + b == output`` (MR paper Fig. 6), ``importance`` ``(mean |W x|, mean |b|)``
    (Fig. 8), and for a sparse model ``scaled`` (its input as the matrix sees it) and
    ``scaling`` ``(scale, offset)`` of its output (``None``, ``(1, 0)`` for others)."""

    model: ModelViews
    crop: np.ndarray
    output: np.ndarray
    wx: np.ndarray
    b: np.ndarray
    importance: tuple[float, float]
    scaled: np.ndarray | None = None
    scaling: tuple[float, float] = (1.0, 0.0)

    def pixel(self, row: int, col: int, channel: int = 0) -> Any:
        """The arithmetic of output pixel ``(row, col, channel)``
        (:class:`fesgui.core.interpret.PixelArithmetic`): indexing into the model's
        weights and this face's arrays (no pass over the image)."""
        from fesgui.core import interpret

        return interpret.pixel_arithmetic(
            self.model.model, self.crop, row, col, channel=channel,
            alpha=self.model.applied_alpha(), scaled=self.scaled,
            scaling=self.scaling if self.scaled is not None else None)

    def transfer_curve(self, row: int, col: int, channel: int = 0
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Output of pixel ``(row, col)`` against its own input level, the other taps held
        at this face (``interpret.transfer_curve``): 256 levels."""
        from fesgui.core import interpret

        return interpret.transfer_curve(self.model.model, row, col, channel=channel,
                                        x=self.crop, scaled=self.scaled)


def model_maps(model: Any, l1: np.ndarray | None = None) -> ModelMaps:
    """The :class:`ModelMaps` of a fitted model (``l1``: its ``l1_map`` if known)."""
    from fesgui.core import interpret, l1_map

    bias = np.ascontiguousarray(np.moveaxis(np.asarray(model.bias_, np.float32), 0, -1))
    h, w = bias.shape[:2]
    field_ = getattr(model, "shape_field_", None)
    flow, top = None, 0.0
    if field_ is not None:
        top = float(np.hypot(field_[..., 0], field_[..., 1]).max())
        flow = interpret.flow_image(field_)
    return ModelMaps(model=model, s=_frozen(l1_map(model) if l1 is None else l1),
                     bias=_frozen(bias),
                     bias_rgb=_frozen(model.bias_image((h, w, 3))),
                     reach=_frozen(interpret.tap_reach_map(model)),
                     taps=_frozen(np.asarray(model.taps())), field=field_,
                     flow=_frozen(flow), field_top=top)


def alpha_views(model: Any, params: Any, source_map: np.ndarray | None = None,
                dilation: tuple[np.ndarray, np.ndarray] | None = None) -> AlphaViews:
    """The :class:`AlphaViews` of ``model`` under ``params`` (a ``RefineParams``);
    ``source_map``, ``dilation``: see ``fesgui.core.alpha_stages`` (if known)."""
    from fesgui.core import alpha_stages

    key = alpha_key(params)
    try:
        stages = alpha_stages(model, k=params.k, tau=params.tau,
                              dilation_radius=params.dilation_radius,
                              blur_sigma=params.blur_sigma, source=params.alpha_source,
                              source_map=source_map, dilation=dilation)
    except FesguiError as exc:
        return AlphaViews(key, MappingProxyType({}), str(exc))
    return AlphaViews(key, MappingProxyType({n: _frozen(stages[n]) for n in STAGES}))


class ViewCache:
    """Model maps (of the last model) and alpha stages (the last ``size`` parameter sets of
    that model), each computed once. Not thread-safe: one per worker thread."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._model: Any = None
        self._maps: ModelMaps | None = None
        self._alpha: OrderedDict[tuple, AlphaViews] = OrderedDict()
        self._face: FaceViews | None = None  # the last face's views
        self._sources: dict[str, np.ndarray] = {}  # the model's alpha source maps (s)
        self._dilations: dict[tuple, tuple] = {}  # (source, radius) -> (z, dilated)
        # the float32 stages a slider drag leaves as they were, by what they depend on:
        # the same array objects again, so the panels see nothing new to draw
        self._same: dict[tuple, np.ndarray] = {}

    def _switch(self, model: Any) -> None:
        if self._model is not model:
            self._model, self._maps = model, None
            self._sources = {}
            self._dilations = {}
            self._same = {}
            self._alpha.clear()

    def maps(self, model: Any) -> ModelMaps:
        """The :class:`ModelMaps` of ``model``."""
        self._switch(model)
        if self._maps is None:
            self._maps = model_maps(model, self._sources.get("l1"))
        return self._maps

    def _source(self, model: Any, params: Any) -> np.ndarray | None:
        """The model's alpha source map (``s``), computed once per model and source."""
        from fesgui.core import l1_map
        from fesgui.core.refine import ALPHA_SOURCES, change_map

        source = params.alpha_source
        if source not in ALPHA_SOURCES:
            return None  # alpha_stages says why
        if source not in self._sources:
            if source == "l1" and self._maps is not None:
                self._sources[source] = self._maps.s
            else:
                self._sources[source] = _frozen((l1_map if source == "l1" else change_map)(
                    model))
        return self._sources[source]

    def _dilation(self, source: np.ndarray | None, params: Any
                  ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(z, dilated)`` of the source map at the params' radius: kept for the last few
        radii (dragging k, tau or sigma does not change them)."""
        from fesgui.core import default_dilation_radius
        from fesgui.core.refine import dilation_stages

        radius = params.dilation_radius
        if source is None:
            return None
        if radius is None:
            radius = default_dilation_radius(*source.shape)
        if isinstance(radius, bool) or not isinstance(radius, int | float | np.integer) or (
                not float(radius).is_integer() or radius < 0):
            return None  # alpha_stages says why
        key = (params.alpha_source, int(radius))
        hit = self._dilations.get(key)
        if hit is None:
            z, dilated = dilation_stages(source, int(radius))
            hit = self._dilations[key] = (_frozen(z), _frozen(dilated))
            while len(self._dilations) > 4:
                self._dilations.pop(next(iter(self._dilations)))
        return hit

    def alpha(self, model: Any, params: Any) -> AlphaViews:
        """The :class:`AlphaViews` of ``model`` under ``params``."""
        self._switch(model)
        key = alpha_key(params)
        hit = self._alpha.get(key)
        if hit is None:
            source = self._source(model, params)
            hit = self._alpha[key] = self._reuse(
                alpha_views(model, params, source, self._dilation(source, params)), params)
            while len(self._alpha) > self.size:
                self._alpha.popitem(last=False)
        else:
            self._alpha.move_to_end(key)
        return hit

    def _reuse(self, views: AlphaViews, params: Any) -> AlphaViews:
        """``views`` with its ``s``, ``z``, ``dilated`` (and ``stepped``) replaced by the
        equal arrays of earlier parameter sets that share what they depend on (the source
        and the radius; for ``stepped`` also k and tau): dragging sigma then changes one
        array, ``alpha``, and the maps panel redraws one map."""
        if views.error is not None:
            return views
        base = (params.alpha_source, params.dilation_radius)
        keys = {"s": base, "z": base, "dilated": base,
                "stepped": (*base, params.k, params.tau)}
        stages = dict(views.stages)
        for name, dep in keys.items():
            old = self._same.get((name, dep))
            if old is not None and old.shape == stages[name].shape \
                    and np.array_equal(old, stages[name]):
                stages[name] = old
            else:
                self._same[(name, dep)] = stages[name]
        while len(self._same) > 64:
            self._same.pop(next(iter(self._same)))
        return replace(views, stages=MappingProxyType(stages))

    def model_views(self, model: Any, params: Any) -> ModelViews:
        """The model's maps and its alpha stages under ``params``."""
        return ModelViews(self.maps(model), self.alpha(model, params), params)

    def face_views(self, views: ModelViews, crop: np.ndarray, output: np.ndarray
                   ) -> FaceViews:
        """:func:`face_views`; the same ``crop`` and ``output`` objects as last time (a
        still re-run with new slider values) give the same arrays, not new ones."""
        last = self._face
        if (last is not None and last.crop is crop and last.output is output
                and last.model.maps is views.maps):
            made = replace(last, model=views)
        else:
            made = face_views(views, crop, output)
        self._face = made
        return made


def face_views(views: ModelViews, crop: np.ndarray, output: np.ndarray) -> FaceViews:
    """The :class:`FaceViews` of one face: ``crop`` the model's input, ``output`` its
    ``predict`` (both ``(h, w, 3)`` float32). Linear models: ``b`` is the model's bias
    image and ``wx = output - b`` (no second predict). A sparse model's ``b`` depends on
    the image's output scaling: it is decomposed."""
    model = views.model
    if not model.local_window:
        wx, b = model.decompose(crop)
        scaled = model.scaled_input(crop)
        scaling = model.output_scaling(crop)
    else:
        b = views.maps.bias_rgb
        wx = np.subtract(output, b, dtype=np.float32)
        scaled, scaling = None, (1.0, 0.0)
    from fesgui.core import interpret

    importance = interpret.importance(model, crop, parts=(wx, b))
    return FaceViews(views, crop, output, _frozen(wx),
                     b if b is views.maps.bias_rgb else _frozen(b), importance,
                     _frozen(scaled), scaling)


def pixel_curve(model: Any, row: int, col: int, channel: int = 0,
                face: FaceViews | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The transfer curve of pixel ``(row, col)``: its output against its own input level
    (256 levels), the other taps held at ``face``'s input, or at 0 without a face (one
    pixel's weights: indexing)."""
    if face is not None:
        return face.transfer_curve(row, col, channel)
    from fesgui.core import interpret

    return interpret.transfer_curve(model, row, col, channel=channel)
