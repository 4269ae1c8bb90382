"""The pixel inspector and the model-maps panel draw exactly what the model holds.

Tiny models are fitted on synthetic faces (no dataset needed). Expected values are
computed here independently of the widgets and of ``fesgui.core.interpret``: weights are
read straight from ``weights_``, ``sum w*x`` is an explicit loop over the dilated window,
the refined and final values come from the pipeline (``fesgui.core.refine`` /
``blend_intensity``), not from the inspector's own arithmetic.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from PySide6 import QtCore
from PySide6.QtCore import QPointF, Qt

from fesgui.core import (
    MaskedRegression,
    PixelKernelRegression,
    PixelRegression,
    alpha_map,
    alpha_stages,
    l1_map,
)
from fesgui.errors import FesguiError
from fesgui.gui import inspect_views
from fesgui.gui.inspector import fmt
from fesgui.gui.maps import STAGES, ModelMapsPanel
from fesgui.pipeline import Pipeline, RefineParams
from fesgui.synthetic import make_pairs

SIZE = 24
# the offscreen platform plugin warns when a widget is shown; harmless
SHOWN = pytest.mark.qt_log_ignore("propagateSizeHints")

# name -> (factory, colour data?)
MODELS = {
    "mr-per-channel": (lambda: MaskedRegression(size=3, dilation=2, color="per-channel"), True),
    "mr-shared": (lambda: MaskedRegression(size=5, color="shared"), True),
    "mr-grey-data": (lambda: MaskedRegression(size=3), False),
    "pixel-rr": (lambda: PixelRegression(color="per-channel"), True),
    "pixel-kr": (lambda: PixelKernelRegression(color="shared"), True),
}
_FITTED: dict[str, tuple] = {}


def fitted(name: str):
    """``(model, test crop)``: fitted once per test session on 10 synthetic pairs."""
    if name not in _FITTED:
        factory, colour = MODELS[name]
        X, T = make_pairs(11, SIZE, SIZE, color=colour, seed=3)
        _FITTED[name] = (factory().fit(X[:10], T[:10]), X[10])
    return _FITTED[name]


def face_for(model, crop, params: RefineParams):
    """The face the worker sends: with its views (``fesgui.views``)."""
    return Pipeline(model, params=params, with_views=True).process_crop(crop)


def views_of(model, params: RefineParams | None = None):
    """The model's maps and alpha stages as the worker sends them without a frame."""
    return Pipeline(model, params=RefineParams() if params is None else params).model_views()


def show_face(panel, name: str, params: RefineParams | None = None):
    """Give ``panel`` model ``name`` and its test face under ``params`` (default sliders);
    ``(model, crop, params)``."""
    model, crop = fitted(name)
    params = RefineParams() if params is None else params
    panel.set_model(model)
    panel.set_face(face_for(model, crop, params), params)
    return model, crop, params


def settle(qtbot, item) -> None:
    """Process events until ``item`` stops moving on screen (layouts are applied lazily),
    so that pixel positions mapped to the screen are where the click will land."""
    seen: list = []

    def still() -> bool:  # the same place on five polls in a row
        seen.append((item.mapToScene(QPointF(0, 0)), item.mapToScene(QPointF(1, 1))))
        return len(seen) >= 5 and all(p == seen[-1] for p in seen[-5:])

    qtbot.waitUntil(still, timeout=5000)


def click_pixel(qtbot, panel, item, signal, row: int, col: int, hover: bool = False) -> list:
    """Click pixel ``(row, col)`` of image ``item`` in ``panel.graphics`` once the item has
    stopped moving (``hover``: move the mouse there first); the arguments ``signal`` sent."""
    settle(qtbot, item)
    pos = panel.graphics.mapFromScene(item.mapToScene(QPointF(col + 0.5, row + 0.5)))
    viewport = panel.graphics.viewport()
    with qtbot.waitSignal(signal, timeout=1000) as blocker:
        if hover:
            qtbot.mouseMove(viewport, pos=pos)
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=pos)
    return blocker.args


def read(label) -> float:
    return float(label.text())


def explicit_wx(model, crop, i, j, channel) -> float:
    """sum over the dilated r x r window of weight * input, zero outside the image."""
    r, d = model.meta["size"], model.meta["dilation"]
    k = channel if model.weights_.shape[0] == 3 else 0
    plane = crop[..., channel] if crop.ndim == 3 else crop
    total = 0.0
    offsets = [d * (v - r // 2) for v in range(r)]
    for t, (dy, dx) in enumerate(itertools.product(offsets, offsets)):
        y, x = i + dy, j + dx
        if 0 <= y < SIZE and 0 <= x < SIZE:
            total += float(model.weights_[k, i, j, t]) * float(plane[y, x])
    return total


@pytest.fixture
def maps(qtbot):
    panel = ModelMapsPanel()
    qtbot.addWidget(panel)
    return panel


# ---------------------------------------------------------------- the pixel inspector
@pytest.mark.parametrize("name", list(MODELS))
def test_selected_pixel_shows_exactly_its_weights_and_bias(inspector, name):
    model, crop, _ = show_face(inspector, name)
    r = model.meta["size"]
    channels = (0, 1, 2) if crop.ndim == 3 else (0,)
    for (i, j), c in itertools.product([(0, 0), (7, 13), (SIZE - 1, 5)], channels):
        inspector.select_pixel(i, j)
        if crop.ndim == 3:
            inspector.set_channel(c)
        k = c if model.weights_.shape[0] == 3 else 0
        expected = model.weights_[k, i, j].reshape(r, r)
        shown = inspector.weights_map.item.image
        assert np.array_equal(shown, expected)
        assert np.array_equal(shown, model.receptive_field(i, j, c)[0])
        assert inspector.labels["bias"].text() == fmt(model.bias_[k, i, j])
        # symmetric levels: white is exactly zero
        lo, hi = inspector.weights_map.item.getLevels()
        assert lo == -hi and hi == pytest.approx(max(np.abs(expected).max(), 1e-30)
                                                 if np.abs(expected).max() > 0 else 1.0)


@pytest.mark.parametrize("name", ["mr-per-channel", "mr-shared", "mr-grey-data", "pixel-rr"])
def test_displayed_arithmetic_reproduces_the_model_output(inspector, name):
    model, crop = fitted(name)
    params = RefineParams(enabled=True, k=8.0, tau=0.3, intensity=0.5)
    face = face_for(model, crop, params)
    inspector.set_model(model)
    inspector.set_face(face, params)
    y = model.predict(crop)
    alpha = alpha_map(model, k=8.0, tau=0.3)
    channels = (0, 2) if crop.ndim == 3 else (0,)
    for (i, j), c in itertools.product([(1, 1), (12, 12), (20, 3)], channels):
        inspector.select_pixel(i, j)
        if crop.ndim == 3:
            inspector.set_channel(c)
        labels = inspector.labels
        y_ij = float(y[i, j, c] if y.ndim == 3 else y[i, j])
        x_ij = float(crop[i, j, c] if crop.ndim == 3 else crop[i, j])
        assert read(labels["wx"]) == pytest.approx(explicit_wx(model, crop, i, j, c), abs=2e-6)
        assert read(labels["output"]) == pytest.approx(y_ij, abs=2e-6)
        assert read(labels["wx"]) + read(labels["bias"]) == pytest.approx(y_ij, abs=3e-6)
        assert read(labels["input"]) == pytest.approx(x_ij, abs=1e-6)
        assert read(labels["alpha"]) == pytest.approx(float(alpha[i, j]), abs=1e-6)
        refined = face.refined[i, j, c] if face.refined.ndim == 3 else face.refined[i, j]
        assert read(labels["refined"]) == pytest.approx(float(refined), abs=3e-6)
        # the intensity blend halfway between input and refined value
        assert read(labels["final"]) == pytest.approx(x_ij + 0.5 * (float(refined) - x_ij),
                                                      abs=3e-6)


def test_refinement_off_shows_no_alpha_and_refined_equals_output(inspector):
    show_face(inspector, "mr-shared", RefineParams(enabled=False))
    inspector.select_pixel(10, 10)
    assert inspector.labels["alpha"].text() == "—"
    assert inspector.labels["refined"].text() == inspector.labels["output"].text()
    assert "refinement off" in inspector.note_label.text()


def test_patch_is_the_input_under_the_dilated_taps(inspector):
    _, crop, _ = show_face(inspector, "mr-per-channel")  # r = 3, dilation 2
    inspector.select_pixel(0, 5)
    inspector.set_channel(1)
    expected = np.zeros((3, 3), np.float32)
    for a, b in itertools.product(range(3), range(3)):
        y, x = 0 + 2 * (a - 1), 5 + 2 * (b - 1)
        if 0 <= y < SIZE and 0 <= x < SIZE:
            expected[a, b] = crop[y, x, 1]
    assert np.array_equal(inspector.patch_map.image, expected)  # the values it shows
    assert np.all(inspector.patch_map.image[0] == 0)  # the row above the image
    # drawn as 8-bit levels with fixed levels 0..255 (no per-frame rescale in pyqtgraph)
    drawn = inspector.patch_map.item
    assert drawn.image.dtype == np.uint8
    assert np.array_equal(drawn.image, np.floor(expected.astype(np.float64) * 255 + 0.5))
    assert tuple(drawn.getLevels()) == (0, 255)


def test_footprint_places_dilated_taps_on_a_window_with_gaps(inspector):
    model, _ = fitted("mr-per-channel")  # r = 3, dilation 2 -> 5 x 5 window
    inspector.set_model(model)
    x, y = inspector.window_cells.getData()
    assert len(x) == 25 and set(x) == set(y) == {-2, -1, 0, 1, 2}
    tx, ty = inspector.tap_cells.getData()
    assert sorted(zip(ty.tolist(), tx.tolist(), strict=True)) == sorted(
        itertools.product([-2, 0, 2], [-2, 0, 2]))
    assert "5x5 window" in inspector.geometry_label.text()


def test_without_a_face_weights_and_bias_still_show(inspector):
    model, _ = fitted("mr-shared")
    inspector.set_model(model)
    inspector.select_pixel(4, 9)
    assert np.array_equal(inspector.weights_map.item.image, model.weights_[0, 4, 9].reshape(5, 5))
    assert inspector.labels["bias"].text() == fmt(model.bias_[0, 4, 9])
    assert inspector.labels["output"].text() == "—"
    assert inspector.arithmetic is None
    assert inspector.patch_map.item.image is None


def test_arrow_keys_move_the_selection_and_emit(inspector, qtbot):
    model, crop = fitted("mr-shared")
    inspector.set_model(model)
    inspector.select_pixel(5, 5)
    moves = [(Qt.Key.Key_Right, (5, 6)), (Qt.Key.Key_Down, (6, 6)),
             (Qt.Key.Key_Left, (6, 5)), (Qt.Key.Key_Up, (5, 5))]
    for key, expected in moves:
        with qtbot.waitSignal(inspector.pixel_selected, timeout=1000) as blocker:
            qtbot.keyClick(inspector, key)
        assert tuple(blocker.args) == expected == inspector.selected_pixel()
        assert np.array_equal(inspector.weights_map.item.image,
                              model.weights_[0, expected[0], expected[1]].reshape(5, 5))
    # at the border the selection stays and nothing is emitted
    inspector.select_pixel(0, 0)
    with qtbot.assertNotEmitted(inspector.pixel_selected):
        qtbot.keyClick(inspector, Qt.Key.Key_Up)
        qtbot.keyClick(inspector, Qt.Key.Key_Left)
    assert inspector.selected_pixel() == (0, 0)


def test_select_pixel_clamps_and_emits_only_on_change(inspector, qtbot):
    model, _ = fitted("mr-shared")
    inspector.set_model(model)
    with qtbot.waitSignal(inspector.pixel_selected, timeout=1000) as blocker:
        inspector.select_pixel(500, -3)
    assert blocker.args == [SIZE - 1, 0]
    with qtbot.assertNotEmitted(inspector.pixel_selected):
        inspector.select_pixel(SIZE - 1, 0)


@SHOWN
def test_clicking_the_crop_view_selects_that_pixel(inspector, qtbot):
    show_face(inspector, "mr-shared")
    inspector.resize(500, 900)
    inspector.show()
    qtbot.waitExposed(inspector)
    item, selected = inspector.crop_map.item, inspector.pixel_selected
    assert click_pixel(qtbot, inspector, item, selected, 3, 17) == [3, 17]
    # the neighbour, right beside the marker drawn around the selected pixel (settled again:
    # the first redraw may move the layout once: tick labels, titles)
    assert click_pixel(qtbot, inspector, item, selected, 3, 18, hover=True) == [3, 18]


def test_pixel_kr_shows_its_table_as_the_transfer_curve(inspector):
    model, crop, _ = show_face(inspector, "pixel-kr")
    inspector.select_pixel(12, 11)
    inspector.set_channel(1)
    xs, ys = inspector.curve_item.getData()
    assert len(xs) == 256
    assert np.array_equal(ys, model.table_[0, 12, 11])
    assert np.allclose(xs * 255, np.arange(256), atol=1e-4)
    # the marker sits on the curve at the current input, at the model's output
    level = int(round(crop[12, 11, 1] * 255))
    y = model.predict(crop)[12, 11, 1]
    assert read(inspector.labels["output"]) == pytest.approx(float(ys[level]), abs=2e-6)
    assert read(inspector.labels["output"]) == pytest.approx(float(y), abs=2e-6)
    mx, my = inspector.curve_marker.getData()
    assert mx[0] == pytest.approx(crop[12, 11, 1]) and my[0] == pytest.approx(float(y), abs=1e-6)
    assert "table" in inspector.note_label.text()


def test_pixel_rr_transfer_curve_is_its_line(inspector):
    model, crop = fitted("pixel-rr")
    inspector.set_model(model)
    inspector.select_pixel(6, 8)
    inspector.set_channel(2)
    xs, ys = inspector.curve_item.getData()
    slope, intercept = np.polyfit(xs.astype(np.float64), ys.astype(np.float64), 1)
    assert slope == pytest.approx(float(model.weights_[2, 6, 8, 0]), abs=1e-5)
    assert intercept == pytest.approx(float(model.bias_[2, 6, 8]), abs=1e-5)


def test_grey_data_offers_one_channel(inspector):
    model, crop = fitted("mr-grey-data")
    inspector.set_model(model)
    assert inspector.channel_combo.count() == 1
    with pytest.raises(FesguiError, match="channel=2"):
        inspector.set_channel(2)
    # the pipeline hands a grey model an RGB crop: then the three channels are offered
    params = RefineParams()
    inspector.set_face(face_for(model, crop, params), params)
    assert inspector.channel_combo.count() == 3


def test_no_model_clears_the_panel(inspector):
    model, crop = fitted("mr-shared")
    inspector.set_model(model)
    inspector.set_model(None)
    assert inspector.weights_map.item.image is None
    assert all(label.text() == "—" for label in inspector.labels.values())


def test_a_face_of_the_wrong_size_is_reported_not_raised(inspector):
    model, crop = fitted("mr-shared")
    params = RefineParams()
    good = face_for(model, crop, params)
    inspector.set_model(model)
    bad = type(good)(**{**good.__dict__, "crop": np.zeros((SIZE + 4, SIZE, 3), np.float32)})
    inspector.set_face(bad, params)
    assert "does not fit" in inspector.status_label.text()


# ---------------------------------------------------------------- the model maps
@pytest.mark.parametrize("name", list(MODELS))
def test_maps_are_exactly_what_the_core_returns(maps, name):
    model, crop = fitted(name)
    params = RefineParams()
    maps.set_model(model)
    face = face_for(model, crop, params)
    maps.set_face(face, params)
    wx, b = model.decompose(face.crop)  # the pipeline's crop: RGB even for grey data
    stages = alpha_stages(model)
    assert np.array_equal(maps.maps["wx"].data, wx)
    assert np.array_equal(maps.maps["b"].data, b)
    assert np.array_equal(maps.maps["s"].data, l1_map(model))
    for stage in STAGES:
        assert np.array_equal(maps.maps[stage].data, stages[stage]), stage
        assert np.array_equal(maps.maps[stage].item.image, stages[stage]), stage
    # weights-only + bias-only is the output (MR paper Fig. 6)
    assert np.allclose(maps.maps["wx"].data + maps.maps["b"].data, model.predict(face.crop),
                       atol=1e-6)
    assert maps.importance == pytest.approx(
        (np.abs(model.predict(face.crop) - b).mean(), np.abs(model.bias_).mean()), rel=1e-5)


def test_moving_params_updates_the_alpha_views(maps):
    model, _, _ = show_face(maps, "mr-per-channel")
    before = maps.maps["alpha"].data.copy()
    maps.set_views(views_of(model, RefineParams(k=3.0, tau=0.6, dilation_radius=0,
                                                blur_sigma=2.5)))
    stages = alpha_stages(model, k=3.0, tau=0.6, dilation_radius=0, blur_sigma=2.5)
    for stage in STAGES:
        assert np.array_equal(maps.maps[stage].data, stages[stage]), stage
    assert not np.array_equal(before, maps.maps["alpha"].data)
    # a bad value never reaches the panel: RefineParams refuses it (fesgui.params)
    with pytest.raises(FesguiError, match="blur_sigma -1.0 is out of range"):
        RefineParams(blur_sigma=-1.0)
    # views of another model than the one shown (a late signal) are not drawn
    shown = maps.maps["alpha"].data.copy()
    other, _ = fitted("mr-shared")
    maps.set_views(views_of(other, RefineParams(k=3.0)))
    assert np.array_equal(maps.maps["alpha"].data, shown)


def test_tap_map_shows_one_tap_everywhere(maps):
    model, _ = fitted("mr-per-channel")  # 3x3 taps, dilation 2
    maps.set_model(model)
    maps.set_views(views_of(model))
    assert maps.tap() == 4  # the centre tap first
    assert len(maps.tap_buttons.buttons()) == 9
    maps.tap_buttons.button(2).click()  # top right: offset (-2, 2)
    assert maps.tap() == 2
    assert np.array_equal(maps.maps["tap"].data, model.weights_[0, :, :, 2])
    assert "(-2, 2)" in maps.tap_label.text()
    maps.set_display_channel(2)
    assert np.array_equal(maps.maps["tap"].data, model.weights_[2, :, :, 2])
    # taps reaching outside the image have weight exactly 0 (zero padding)
    assert np.all(maps.maps["tap"].data[:2, :] == 0) and np.all(maps.maps["tap"].data[:, -2:] == 0)
    with pytest.raises(FesguiError, match="tap=9"):
        maps.set_tap(9)


def test_display_channel_switches_colour_maps_to_one_channel(maps):
    model, crop, _ = show_face(maps, "mr-per-channel")
    wx, _ = model.decompose(crop)
    assert maps.maps["wx"].item.image.shape == (SIZE, SIZE, 3)
    maps.set_display_channel(1)
    assert np.array_equal(maps.maps["wx"].item.image, wx[..., 1])
    lo, hi = maps.maps["wx"].item.getLevels()
    assert lo == -hi == -np.abs(wx[..., 1]).max()


@SHOWN
def test_clicking_a_map_reports_the_pixel(maps, qtbot):
    show_face(maps, "mr-shared")
    maps.resize(700, 900)
    maps.show()
    qtbot.waitExposed(maps)
    assert click_pixel(qtbot, maps, maps.maps["alpha"].item, maps.pixel_clicked, 20, 2) == [20, 2]
    marker = maps.maps["s"].marker
    assert marker.isVisible() and marker.rect() == QtCore.QRectF(2, 20, 1, 1)
    assert maps.selected_pixel() == (20, 2)


def test_export_writes_png_and_npy(maps, tmp_path):
    from PIL import Image

    show_face(maps, "mr-per-channel")
    png, npy = maps.export_map("alpha", str(tmp_path / "alpha.png"))
    assert png == tmp_path / "alpha.png" and npy == tmp_path / "alpha.npy"
    data = maps.maps["alpha"].data
    assert np.array_equal(np.load(npy), data)
    rgb = np.asarray(Image.open(png).convert("RGB"))
    assert rgb.shape == (SIZE, SIZE, 3)
    # viridis grows lighter with the value: brightness ranks follow the alpha ranks
    light = rgb.astype(float) @ [0.299, 0.587, 0.114]
    ranks = [np.argsort(np.argsort(v.ravel())) for v in (light, data)]
    assert np.corrcoef(*ranks)[0, 1] > 0.98
    # the stepped map spans exactly 0..1: its ends are viridis' ends
    png, _ = maps.export_map("stepped", str(tmp_path / "stepped.npy"))
    rgb = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    stepped = maps.maps["stepped"].data.ravel()
    assert tuple(rgb[np.argmin(stepped)]) == (68, 1, 84)
    assert tuple(rgb[np.argmax(stepped)]) == (253, 231, 37)
    # a signed map: red where positive, blue where negative
    png, _ = maps.export_map("tap", str(tmp_path / "tap"))
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    tap = maps.maps["tap"].data
    big = np.abs(tap).max() / 2
    assert np.all(rgb[tap > big][:, 0] > rgb[tap > big][:, 2])
    assert np.all(rgb[tap < -big][:, 2] > rgb[tap < -big][:, 0])
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # and no temporary files
        "alpha.npy", "alpha.png", "stepped.npy", "stepped.png", "tap.npy", "tap.png"]


def test_export_problems_are_one_line_errors(maps, tmp_path):
    with pytest.raises(FesguiError, match="nothing to export"):
        maps.export_map("alpha", str(tmp_path / "a.png"))
    model, _ = fitted("mr-shared")
    maps.set_model(model)
    maps.set_views(views_of(model))
    with pytest.raises(FesguiError, match="does not exist"):
        maps.export_map("s", str(tmp_path / "missing" / "s.png"))
    with pytest.raises(FesguiError, match="no map called"):
        maps.export_map("nope", str(tmp_path / "n.png"))


def test_render_uses_symmetric_levels_for_signed_maps():
    data = np.array([[-1.0, 0.0, 4.0]])
    assert inspect_views.levels(data, "signed") == (-4.0, 4.0)
    rgb = inspect_views.render(data, "signed")
    # zero maps to the colormap's middle, which is (near) white
    assert rgb[0, 1].min() > 220
    assert inspect_views.levels(np.zeros((2, 2)), "signed") == (-1.0, 1.0)


def test_hovering_a_weight_names_its_tap_and_value(inspector):
    model, crop, params = show_face(inspector, "mr-shared")  # 5x5: too many taps for printed values
    inspector.select_pixel(9, 10)
    inspector.weights_map.item.sigPixelHovered.emit(0, 4)  # top right tap
    text = inspector.hover_label.text()
    assert f"tap (-2, +2): w = {fmt(model.weights_[0, 9, 10, 4])}" in text
    assert f"x = {fmt(face_for(model, crop, params).crop[7, 12, 0])}" in text
    inspector.weights_map.item.sigPixelHovered.emit(-1, -1)
    assert inspector.hover_label.text() == ""


def test_maps_before_any_face_show_bias_and_default_alpha(maps):
    model, _ = fitted("mr-per-channel")
    maps.set_model(model)
    assert maps.maps["b"].data is None  # until the worker's views arrive
    maps.set_views(views_of(model))
    assert np.array_equal(maps.maps["b"].data, np.moveaxis(model.bias_, 0, -1))
    assert np.array_equal(maps.maps["alpha"].data, alpha_stages(model)["alpha"])
    assert maps.maps["wx"].data is None and maps.importance is None


def test_new_frames_with_the_same_params_do_not_recompute_alpha(maps):
    """One pipeline (as on the worker): a frame whose alpha numbers did not change carries
    the very arrays already drawn; new numbers bring new stages."""
    model, crop = fitted("mr-shared")
    pipeline = Pipeline(model, params=RefineParams(k=6.0), with_views=True)
    maps.set_model(model)
    maps.set_face(pipeline.process_crop(crop))
    drawn = maps.maps["alpha"].data
    pipeline.params = RefineParams(k=6.0, intensity=0.3)
    face = pipeline.process_crop(crop)
    maps.set_face(face)
    assert maps.maps["alpha"].data is drawn
    assert face.views.model.alpha.stages["alpha"] is drawn
    pipeline.params = RefineParams(k=7.0)
    maps.set_face(pipeline.process_crop(crop))
    assert maps.maps["alpha"].data is not drawn
    assert np.array_equal(maps.maps["alpha"].data, alpha_stages(model, k=7.0)["alpha"])


def test_switching_to_a_model_of_another_size_drops_the_old_face(inspector, maps):
    model, crop = fitted("mr-shared")
    params = RefineParams()
    X, T = make_pairs(4, 16, 16, seed=5)
    small = MaskedRegression(size=3).fit(X, T)
    face = face_for(model, crop, params)
    for panel in (inspector, maps):
        panel.set_model(model)
        panel.set_face(face, params)
        panel.select_pixel(20, 3)
        panel.set_model(small)
        assert panel.status_label.text() == ""
    maps.set_views(views_of(small))
    # (20, 3) is outside the 16x16 model: the selection moves to its centre
    assert inspector.arithmetic is None and inspector.selected_pixel() == (8, 8)
    assert np.array_equal(inspector.weights_map.item.image, small.weights_[0, 8, 8].reshape(3, 3))
    assert maps.maps["wx"].data is None
    assert np.array_equal(maps.maps["s"].data, l1_map(small))


def test_hovering_a_map_shows_its_value(maps):
    model, _, _ = show_face(maps, "mr-per-channel")
    maps.maps["alpha"].item.sigPixelHovered.emit(3, 7)
    assert maps.hover_label.text() == (
        f"alpha at (3, 7) = {alpha_stages(model)['alpha'][3, 7]:.4f}")
    maps.maps["alpha"].item.sigPixelHovered.emit(-1, -1)
    assert maps.hover_label.text() == ""


@SHOWN
def test_maps_reflow_to_the_panel_width_and_stay_clickable(maps, qtbot):
    model, _, _ = show_face(maps, "mr-shared")
    maps.resize(390, 900)  # a narrow dock: two maps side by side
    maps.show()
    qtbot.waitExposed(maps)
    qtbot.waitUntil(lambda: maps.columns() == 2, timeout=2000)
    settle(qtbot, maps.maps["s"].item)
    grid = maps.graphics.ci
    cells = {name: grid.items[maps.maps[name].view.parentItem()] for name in ("x", "s")}
    assert cells == {"x": [(0, 0)], "s": [(2, 0)]}
    assert click_pixel(qtbot, maps, maps.maps["s"].item, maps.pixel_clicked, 11, 6) == [11, 6]
    assert np.array_equal(maps.maps["s"].item.image, l1_map(model))


def test_inspector_exports_the_receptive_field(inspector, tmp_path):
    model, crop, _ = show_face(inspector, "mr-per-channel")
    inspector.select_pixel(5, 6)
    inspector.set_channel(2)
    png, npy = inspector.export_map("weights", tmp_path / "w")
    assert np.array_equal(np.load(npy), model.weights_[2, 5, 6].reshape(3, 3))
    assert png.stat().st_size > 0
    _, npy = inspector.export_map("patch", tmp_path / "x.png")
    assert np.load(npy)[1, 1] == pytest.approx(float(crop[5, 6, 2]))


def test_export_dialog_writes_or_reports(maps, tmp_path, monkeypatch):
    from PySide6 import QtWidgets

    model, _ = fitted("mr-shared")
    maps.set_model(model)
    maps.set_views(views_of(model))
    answer = {"path": str(tmp_path / "s_map.png")}
    asked = []

    def dialog(parent, title, default, *rest, **kw):
        asked.append(default)
        return answer["path"], ""

    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", staticmethod(dialog))
    maps.export_button.menu().actions()[4].trigger()  # "L1 norm s"
    assert np.array_equal(np.load(tmp_path / "s_map.npy"), l1_map(model))
    assert (tmp_path / "s_map.png").exists() and "exported s_map.png" in maps.status_label.text()
    # the folder is remembered for the app's next export, and the next dialog starts there
    from fesgui.gui.file_actions import export_folder

    assert export_folder() == tmp_path
    maps._exporter.folder = None
    maps.export_button.menu().actions()[4].trigger()
    assert asked[-1].startswith(str(tmp_path))
    answer["path"] = str(tmp_path / "gone" / "s.png")
    maps.export_button.menu().actions()[4].trigger()
    assert "does not exist" in maps.status_label.text()  # shown, not raised
    answer["path"] = ""  # the dialog was cancelled
    maps.export_button.menu().actions()[4].trigger()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["s_map.npy", "s_map.png"]


def test_header_names_mapping_method_and_size_once(inspector):
    """The header reads like the Model panel ("neutral → happy · MR 5×5 · 24×24, shared
    colour"), without repeating the model's name; a model without a mapping shows its name."""
    model, crop = fitted("mr-shared")
    named = copy.deepcopy(model).set_provenance(source="neutral", target="happy",
                                          name="neutral -> happy, MR 5x5, 24 px")
    inspector.set_model(named)
    text = inspector.model_label.text()
    assert text == "<b>neutral → happy</b> · MR 5×5 · 24×24, shared colour", text
    bare = copy.deepcopy(model).set_provenance(name="my own model")
    inspector.set_model(bare)
    assert inspector.model_label.text().startswith("<b>my own model</b> · MR 5×5 · ")


def test_shape_field_map_shows_the_models_field_as_a_colour_wheel(maps, qtbot):
    from fesgui.core.interpret import field_vector, flow_image

    model, _, _ = show_face(maps, "mr-per-channel")
    assert maps.maps["field"].data is None and "none" in maps.maps["field"].title
    h, w = model.image_size
    field = np.zeros((h, w, 2), np.float32)
    field[h // 2:, :, 0] = 1.5
    field[h // 2:, :, 1] = -0.5
    model.set_shape(field)
    maps.set_model(model)
    maps.set_views(views_of(model))
    assert np.array_equal(maps.maps["field"].data, flow_image(field))
    assert maps.field_vector(h - 1, 0) == field_vector(field, h - 1, 0) == (1.5, -0.5)
    maps._hovered("field", h - 1, 0)
    assert "dx +1.50, dy -0.50" in maps.hover_label.text()
    model.set_shape(None)
