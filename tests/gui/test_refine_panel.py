"""The refinement sliders take their ranges, labels and help from fesgui.params."""

from __future__ import annotations

import pytest

from fesgui.gui.refine_panel import RefinePanel
from fesgui.params import ALPHA_SOURCES, PARAMS, RefineParams

SLIDERS = {"k": "k", "tau": "tau", "dilation_radius": "radius", "blur_sigma": "sigma",
           "intensity": "intensity", "shape": "shape", "appearance": "appearance"}


@pytest.fixture
def panel(qtbot):
    p = RefinePanel()
    qtbot.addWidget(p)
    return p


def test_each_slider_spans_its_parameter_range(panel):
    for name, attr in SLIDERS.items():
        spec, slider = PARAMS[name], getattr(panel, attr)
        slider.set_value(spec.lo - 1)  # clamped
        assert slider.value() == spec.lo, name
        slider.set_value(spec.hi + 1)
        assert slider.value() == pytest.approx(spec.hi), name
        assert spec.help in slider.toolTip(), name
    # both ends of every slider make valid parameters
    panel.enabled.setChecked(True)
    for slider in (panel.radius, panel.sigma):  # the user moves them to their top
        slider.set_value(0, emit=True)
        slider.set_value(100, emit=True)
    p = panel.params()
    assert (p.intensity, p.shape, p.dilation_radius, p.blur_sigma) == (2.0, 2.0, 40, 20.0)
    assert [panel.alpha_source.itemData(i) for i in range(panel.alpha_source.count())] == list(
        ALPHA_SOURCES)


def test_the_panel_shows_and_returns_the_defaults(panel, qtbot):
    assert panel.params() == RefineParams()
    panel.set_params(RefineParams(intensity=1.75, alpha_source="change"))
    assert panel.intensity.label.text() == "1.75"
    with qtbot.waitSignal(panel.params_changed) as blocker:
        panel.k.set_value(12.5, emit=True)
    assert blocker.args == [RefineParams(intensity=1.75, alpha_source="change", k=12.5)]
