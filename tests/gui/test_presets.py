"""Named slider presets: saved in the settings file (readable), recalled, kept across runs."""

from __future__ import annotations

import dataclasses

import pytest

from fesgui.errors import FesguiError
from fesgui.gui.presets import delete_preset, list_presets, load_preset, save_preset
from fesgui.pipeline import RefineParams

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def test_presets_round_trip_every_field(settings_dir):
    soft = RefineParams(enabled=True, k=12.5, tau=0.35, dilation_radius=4, blur_sigma=None,
                        intensity=0.6)
    strong = RefineParams(intensity=1.4, blur_sigma=3.25)
    assert save_preset("  soft smile ", soft) == "soft smile"
    save_preset("Strong", strong)
    assert list_presets() == ["soft smile", "Strong"]
    assert load_preset("soft smile") == soft
    assert load_preset("Strong") == strong
    # every field is on its own readable line of the INI file
    text = (settings_dir / "fesgui.ini").read_text()
    assert "[presets]" in text
    for field in dataclasses.fields(RefineParams):
        assert f"soft%20smile\\{field.name}=" in text
    assert "soft%20smile\\intensity=0.6" in text
    assert "soft%20smile\\blur_sigma=\n" in text  # None: follow the model's default
    save_preset("Strong", soft)  # same name: replaced
    assert load_preset("Strong") == soft
    delete_preset("Strong")
    assert list_presets() == ["soft smile"]
    with pytest.raises(FesguiError, match="no preset named 'Strong'"):
        load_preset("Strong")


@pytest.mark.parametrize("name", ["", "   ", "a/b", "back\\slash"])
def test_bad_preset_names_are_one_line(settings_dir, name):
    with pytest.raises(FesguiError, match="name"):
        save_preset(name, RefineParams())
    assert list_presets() == []


def test_a_preset_missing_a_newer_slider_keeps_its_default(settings_dir):
    from fesgui.gui.settings import open_settings

    s = open_settings()
    s.setValue("presets/old/intensity", "0.5")  # saved before the other sliders existed
    s.setValue("presets/old/k", "not a number")
    s.sync()
    assert load_preset("old") == RefineParams(intensity=0.5)


def test_presets_bar_saves_and_recalls_the_sliders(qtbot, window, model_files, settings_dir,
                                                   face_file, detector):
    from fesgui.gui.main_window import MainWindow

    from .helpers import load_model, open_and_wait

    load_model(qtbot, window, model_files["mr3"])
    open_and_wait(qtbot, window, face_file)
    panel, bar = window.refine_panel, window.presets
    panel.intensity.set_value(0.4, emit=True)
    panel.enabled.setChecked(True)
    panel.tau.set_value(0.5, emit=True)
    saved = window.controller.params
    bar.save_as("gentle")
    assert "saved preset 'gentle'" in window.statusBar().currentMessage()
    assert bar.box.currentText() == "gentle"
    window.controller.reset_params()
    assert window.controller.params == RefineParams()
    bar.box.activated.emit(bar.box.findText("gentle"))  # the user picks it from the list
    assert window.controller.params == saved
    assert panel.params() == saved  # the sliders show it
    window.close()

    again = MainWindow(landmarks_factory=lambda video: detector)
    qtbot.addWidget(again)
    assert [again.presets.box.itemText(i) for i in range(again.presets.box.count())] == ["gentle"]
    again.presets.choose("gentle")
    assert again.controller.params == saved
    again.presets.box.setCurrentIndex(0)
    again.presets.delete_current()
    assert again.presets.box.count() == 0 and list_presets() == []
    again.close()
