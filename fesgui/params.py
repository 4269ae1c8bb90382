"""Every user-facing parameter of the expression pipeline, defined once.

A :class:`Param` holds a parameter's name, type, range, default, units and help; the CLI
(:func:`fesgui.commands.synth.add_synthesis_options`) builds its options from it, the GUI
(:mod:`fesgui.gui.refine_panel`) its sliders, and :class:`RefineParams` checks its values
against it. A range changes here and nowhere else.

:class:`RefineParams` is a frozen, validated value: a change is a new value
(``dataclasses.replace(params, k=12)``), so the worker thread never sees half an update,
and a bad value is refused where it is made, with one line ("<what>: <way out>").

Chosen ranges (the CLI used to accept intensity 0-3, the GUI 0-1.5, the core anything):
intensity, shape and appearance 0-2 (1 = the model; beyond 2 the shipped models'
exaggeration breaks up); k 0.5-40, tau 0-1, dilation radius 0-40 px, blur sigma 0-20 px
(the sliders' ranges; the model-scaled defaults stay well inside them up to 512 px faces).

Qt-free and light (no numpy): ``fesgui --help`` imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from fesgui.errors import FesguiError

#: what the alpha map may mark; equals :data:`fesgui.core.refine.ALPHA_SOURCES` (a test
#: says so; repeated here so the CLI's --help does not import numpy)
ALPHA_SOURCES = ("l1", "change")


@dataclass(frozen=True)
class Param:
    """One user-facing parameter.

    ``kind`` is bool, int, float or str. A number lies in ``[lo, hi]`` (the GUI slider moves
    in steps of ``step``); a str is one of ``choices``. ``optional``: None is allowed and
    means "the model's default" (scaled with its image size). ``option`` is the CLI option,
    if the command line offers the parameter.
    """

    name: str
    kind: type
    default: Any
    label: str
    help: str
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    units: str = ""
    choices: tuple[str, ...] = ()
    optional: bool = False
    option: str | None = None

    @property
    def decimals(self) -> int:
        """Digits after the point a slider label shows (from ``step``)."""
        if self.kind is not float or not self.step:
            return 0
        text = f"{self.step:g}"
        return len(text.split(".")[1]) if "." in text else 0

    def range_text(self) -> str:
        """'0 to 2', 'l1 or change', ..."""
        if self.choices:
            return " or ".join(self.choices)
        if self.lo is None:
            return "true or false"
        return f"{self.lo:g} to {self.hi:g}"

    def check(self, value: Any, what: str | None = None) -> Any:
        """``value`` as this parameter's type, or a FesguiError naming ``what`` (default:
        the parameter's name) and the allowed range."""
        what = what or self.name
        if value is None:
            if self.optional:
                return None
            raise FesguiError(f"{what} is missing: give a value, {self.range_text()}")
        if self.kind is bool:
            if not isinstance(value, bool | int) or value not in (0, 1):
                raise FesguiError(f"{what}={value!r} is not true or false: use one of them")
            return bool(value)
        if self.kind is str:
            if value not in self.choices:
                raise FesguiError(f"{what} {value!r} is unknown: use {self.range_text()}")
            return str(value)
        if isinstance(value, str | bytes):
            raise FesguiError(f"{what} {value!r} is not a number: use {self.range_text()}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number) or not (
                self.lo <= number <= self.hi):
            units = f" {self.units}" if self.units else ""
            raise FesguiError(f"{what} {value} is out of range: use {self.range_text()}{units}"
                              f" (default {self._default_text()})")
        if self.kind is int:
            if number != int(number):
                raise FesguiError(f"{what} {value} is not a whole number: use e.g. "
                                  f"{round(number)}")
            return int(number)
        return number

    def _default_text(self) -> str:
        return "the model's" if self.default is None else f"{self.default:g}"

    def cli_help(self) -> str:
        """The help of the CLI option: the help text, the range and the default."""
        if self.kind is bool or self.kind is str:
            return self.help
        units = f" {self.units}" if self.units else ""
        return f"{self.help}; {self.range_text()}{units} (default {self._default_text()})"


_STRENGTH = dict(kind=float, default=1.0, lo=0.0, hi=2.0, step=0.01)

#: every parameter, by name: the fields of :class:`RefineParams`, in its order
PARAMS: dict[str, Param] = {p.name: p for p in (
    Param("enabled", bool, False, "RMR refinement",
          "blend the output into the input where the alpha map says the model acts (RMR, "
          "MR paper Section 6): sharper, but a weaker expression (default off)",
          option="--refine"),
    Param("k", float, 10.0, "Steepness k", "logistic step steepness of the alpha map",
          lo=0.5, hi=40.0, step=0.5, option="--k"),
    Param("tau", float, 0.2, "Threshold τ", "where the alpha map's logistic step is centred",
          lo=0.0, hi=1.0, step=0.01, option="--tau"),
    Param("dilation_radius", int, None, "Dilation radius",
          "grey dilation disk radius of the alpha map", lo=0, hi=40, step=1, units="pixels",
          optional=True, option="--dilation"),
    Param("blur_sigma", float, None, "Blur σ", "Gaussian blur of the alpha map",
          lo=0.0, hi=20.0, step=0.01, units="pixels", optional=True, option="--blur"),
    Param("intensity", label="Intensity", option="--intensity",
          help="expression strength: 0 = the input, 1 = the model, above 1 exaggerates; "
          "scales both the shape and the appearance", **_STRENGTH),
    Param("shape", label="Shape", option="--shape",
          help="strength of the shape warp, how far the face moves (the learned "
          "displacement: the mouth corners go up and out); 0 = no motion", **_STRENGTH),
    Param("appearance", label="Appearance", option="--appearance",
          help="strength of the appearance change (shading, teeth, folds); 0 = the moved "
          "input", **_STRENGTH),
    Param("alpha_source", str, "l1", "α marks",
          "what the alpha map marks: l1 = the MR paper's L1 norm of each receptive field, "
          "change = where the model departs from leaving the input as it is (where the "
          "training pairs changed)", choices=ALPHA_SOURCES, option="--alpha"),
)}


@dataclass(frozen=True)
class RefineParams:
    """Refinement (RMR, MR paper Sec. 6) and output intensity; each field is checked against
    :data:`PARAMS` (a FesguiError on a bad value). ``dilation_radius`` and ``blur_sigma``
    (pixels) None: scaled with the model's image size.

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
    #: strength of the shape warp and of the appearance change (each times ``intensity``)
    shape: float = 1.0
    appearance: float = 1.0
    #: what the alpha map marks (:data:`ALPHA_SOURCES`): "l1", the MR paper's rule, or
    #: "change", where the model departs from leaving the input as it is
    alpha_source: str = "l1"

    def __post_init__(self) -> None:
        for f in fields(self):
            # normalised (4.0 -> 4 for the radius, 1 -> 1.0): equal values compare equal
            object.__setattr__(self, f.name, PARAMS[f.name].check(getattr(self, f.name)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RefineParams:
        """Params from stored values (settings, presets): a missing, empty or bad value
        takes its default, so a stale settings file never stops the app."""
        kept = {}
        for name, spec in PARAMS.items():
            value = values.get(name)
            if value == "" and spec.optional:
                kept[name] = None
                continue
            if value is None or value == "":
                continue
            if spec.kind is bool and isinstance(value, str):
                value = value.strip().lower() in ("1", "true", "yes", "on")
            elif spec.kind in (int, float) and isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    continue
                if spec.kind is int:
                    value = round(value)
            try:
                kept[name] = spec.check(value)
            except FesguiError:
                continue
        return cls(**kept)
