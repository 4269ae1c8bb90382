"""fesgui.params: one home for every parameter; RefineParams frozen and validated."""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys

import pytest

from fesgui.errors import FesguiError
from fesgui.params import ALPHA_SOURCES, PARAMS, RefineParams


def test_params_cover_every_field_with_its_default():
    assert list(PARAMS) == [f.name for f in dataclasses.fields(RefineParams)]
    for f in dataclasses.fields(RefineParams):
        assert PARAMS[f.name].default == f.default, f.name
        spec = PARAMS[f.name]
        if spec.kind in (int, float):
            assert spec.lo < spec.hi and spec.step > 0
            assert spec.default is None or spec.lo <= spec.default <= spec.hi
            # the slider's positions land on lo and hi
            assert math.isclose((spec.hi - spec.lo) / spec.step,
                                round((spec.hi - spec.lo) / spec.step))


def test_alpha_sources_match_the_core():
    from fesgui.core.refine import ALPHA_SOURCES as CORE

    assert ALPHA_SOURCES == CORE


def test_model_defaults_lie_inside_the_slider_ranges():
    from fesgui.core import default_blur_sigma, default_dilation_radius

    for size in (32, 64, 128, 256, 512):
        PARAMS["dilation_radius"].check(default_dilation_radius(size, size))
        PARAMS["blur_sigma"].check(default_blur_sigma(size, size))


def test_refine_params_are_frozen():
    p = RefineParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.k = 3.0
    q = dataclasses.replace(p, k=3.0)
    assert (p.k, q.k) == (10.0, 3.0)
    assert hash(q) != hash(p)  # a value: usable as a cache key


@pytest.mark.parametrize(("field", "bad", "words"), [
    ("intensity", 2.5, "intensity 2.5 is out of range: use 0 to 2"),
    ("intensity", -0.1, "out of range"),
    ("shape", math.nan, "shape nan is out of range"),
    ("appearance", math.inf, "out of range"),
    ("k", 0.0, "k 0.0 is out of range: use 0.5 to 40"),
    ("tau", 1.5, "tau 1.5 is out of range: use 0 to 1"),
    ("dilation_radius", -1, "dilation_radius -1 is out of range: use 0 to 40 pixels"),
    ("dilation_radius", 2.5, "dilation_radius 2.5 is not a whole number"),
    ("blur_sigma", -1.0, "blur_sigma -1.0 is out of range"),
    ("alpha_source", "l2", "alpha_source 'l2' is unknown: use l1 or change"),
    ("enabled", "yes", "is not true or false"),
    ("intensity", "1", "intensity '1' is not a number: use 0 to 2"),
    ("intensity", True, "out of range"),  # nor a bool
    ("k", None, "k is missing"),
])
def test_bad_values_are_refused_with_one_line(field, bad, words):
    with pytest.raises(FesguiError, match=words.replace("(", r"\(").replace(".", r"\.")) as e:
        RefineParams(**{field: bad})
    assert ":" in str(e.value) and "\n" not in str(e.value)


def test_values_are_normalised_so_equal_settings_compare_equal():
    p = RefineParams(dilation_radius=4.0, k=12, enabled=1, intensity=2)
    assert p == RefineParams(dilation_radius=4, k=12.0, enabled=True, intensity=2.0)
    assert type(p.dilation_radius) is int and type(p.k) is float and p.enabled is True
    assert RefineParams(intensity=0.0, shape=2.0).shape == 2.0  # the ends are inside


def test_from_dict_keeps_good_values_and_defaults_the_rest():
    stored = {"enabled": "true", "k": "12.5", "tau": "not a number", "dilation_radius": "4.0",
              "blur_sigma": "", "intensity": "3", "alpha_source": "l2"}
    assert RefineParams.from_dict(stored) == RefineParams(enabled=True, k=12.5,
                                                          dilation_radius=4)
    assert RefineParams.from_dict({}) == RefineParams()
    assert RefineParams.from_dict({"enabled": False, "k": ""}) == RefineParams()


def test_the_cli_takes_its_ranges_and_defaults_from_params():
    from fesgui.commands.synth import ALPHA_MAP, STRENGTHS, add_synthesis_options, check_parameters

    parser = argparse.ArgumentParser()
    add_synthesis_options(parser)
    args = parser.parse_args([])
    assert (args.refine, args.alpha) == (PARAMS["enabled"].default,
                                         PARAMS["alpha_source"].default)
    assert check_parameters(args) == {n: PARAMS[n].default for n in (*ALPHA_MAP, *STRENGTHS)}
    # every parameter of RefineParams has a CLI option
    options = {a.dest: a.option_strings for a in parser._actions}
    assert {"refine", "alpha", *ALPHA_MAP, *STRENGTHS} == \
        {"refine", "alpha", *(n for n in PARAMS if n not in ("enabled", "alpha_source"))}
    assert all(PARAMS[n].option in options[n] for n in (*ALPHA_MAP, *STRENGTHS))
    helps = {a.dest: a.help for a in parser._actions}
    assert "0 to 2 (default 1)" in helps["intensity"]
    assert "0.5 to 40 (default 10)" in helps["k"] and helps["k"].startswith("with --refine")
    assert "0 to 40 pixels (default the model's)" in helps["dilation_radius"]
    args = parser.parse_args(["--intensity", "2", "--shape", "0", "--k", "20", "--tau", "0.5",
                              "--dilation", "4.0", "--blur", "1.5"])
    assert check_parameters(args) == {"intensity": 2.0, "shape": 0.0, "appearance": 1.0,
                                      "k": 20.0, "tau": 0.5, "dilation_radius": 4,
                                      "blur_sigma": 1.5}
    assert type(check_parameters(args)["dilation_radius"]) is int
    for argv, message in ((["--appearance", "2.5"], r"^--appearance 2\.5 is out of range: "
                                                     r"use 0 to 2"),
                          (["--tau", "1.5"], r"^--tau 1\.5 is out of range: use 0 to 1"),
                          (["--k", "0"], r"^--k 0 is out of range: use 0\.5 to 40"),
                          (["--dilation", "50"], r"^--dilation 50 is out of range: use 0 to "
                                                 r"40 pixels \(default the model's\)$"),
                          (["--dilation", "2.5"], r"^--dilation 2\.5 is not a whole number"),
                          (["--blur", "nan"], r"^--blur nan is out of range: use 0 to 20 "
                                              r"pixels")):
        with pytest.raises(FesguiError, match=message):
            check_parameters(parser.parse_args(argv))


def test_params_module_is_light():
    code = ("import sys, fesgui.params; "
            "print(','.join(m for m in ('numpy', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
