"""Pipeline: frame -> composite, with fake landmark sources on synthetic faces."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fesgui.align import FaceLandmarks, Template, box_of, face_mask, paste_back, warp_to_crop
from fesgui.core import MaskedRegression, alpha_map
from fesgui.errors import FesguiError
from fesgui.pipeline import MAX_FACES, STAGES, FrameResult, Pipeline, RefineParams
from fesgui.synthetic import make_face, make_pairs


class FakeSource:
    """Returns the given faces for every image, and counts the calls."""

    def __init__(self, *points):
        self.faces = [FaceLandmarks(np.asarray(p, np.float32), None, box_of(p, 0.5))
                      for p in points]
        self.calls = 0
        self.closed = False

    def detect(self, image):
        self.calls += 1
        return list(self.faces)

    def close(self):
        self.closed = True


class IdentityModel:
    """Stand-in with predict(x) = x."""

    def __init__(self, size=64):
        self.meta = {"image_size": [size, size]}

    def predict(self, x):
        return np.asarray(x, np.float32).copy()


class ShiftModel(IdentityModel):
    def predict(self, x):
        return np.asarray(x, np.float32) + np.float32(0.2)


@pytest.fixture(scope="module")
def model():
    X, T = make_pairs(30, 48, 48, seed=1)
    return MaskedRegression(size=3).fit(X, T)


@pytest.fixture(scope="module")
def gray_model():
    X, T = make_pairs(30, 48, 48, color=False, seed=2)
    return MaskedRegression(size=3).fit(X, T)


def _frame(**kw):
    return make_face(240, 320, **kw)


def test_identity_model_reproduces_the_frame():
    frame, pts = _frame(seed=3, angle_deg=8)
    p = Pipeline(IdentityModel(64), FakeSource(pts), RefineParams(enabled=False))
    r = p.process(frame)
    assert isinstance(r, FrameResult) and r.message is None
    assert r.composite.shape == frame.shape and r.composite.dtype == np.uint8
    assert np.abs(r.composite.astype(int) - frame).max() <= 1
    assert set(STAGES) <= set(r.timings) and all(v >= 0 for v in r.timings.values())
    (face,) = r.faces
    assert face.crop.shape == (64, 64, 3) and face.crop.dtype == np.float32
    assert face.matrix.shape == (2, 3)
    assert r.frame is frame


def test_changes_stay_inside_the_face():
    frame, pts = _frame(seed=5)
    p = Pipeline(ShiftModel(64), FakeSource(pts), RefineParams(enabled=False))
    r = p.process(frame)
    changed = (r.composite != frame).any(axis=2)
    assert changed.sum() > 1000
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = box_of(pts, 1.2)
    assert xs.min() >= x0 and xs.max() <= x1 and ys.min() >= y0 and ys.max() <= y1
    assert not changed[:10].any() and not changed[:, :10].any()


def test_composite_equals_paste_of_the_refined_blend(model):
    """The pipeline's stages against the same maths written out with the public pieces."""
    frame, pts = _frame(seed=6, angle_deg=-5)
    params = RefineParams(enabled=True, tau=0.3, intensity=0.7)
    r = Pipeline(model, FakeSource(pts), params).process(frame)
    t = Template.load()
    m = t.matrix(FaceLandmarks(pts), 48, "eyes-nose")  # the model names no alignment: format 1
    x = warp_to_crop(frame, m, 48).astype(np.float64) / 255
    y = model.predict(x.astype(np.float32)).astype(np.float64)
    a = alpha_map(model, tau=0.3)[:, :, None].astype(np.float64)
    refined = (1 - a) * x + a * y
    final = np.clip(x + 0.7 * (refined - x), 0, 1)
    (face,) = r.faces
    np.testing.assert_allclose(face.crop, x, atol=1e-6)
    np.testing.assert_allclose(face.output, y, atol=1e-5)
    np.testing.assert_allclose(face.refined, refined, atol=1e-5)
    np.testing.assert_allclose(face.final, final, atol=1e-5)
    expect = paste_back(frame, final.astype(np.float32), m, original=x.astype(np.float32))
    assert np.abs(r.composite.astype(int) - expect).max() <= 1


def test_refinement_off_and_intensity_zero(model):
    frame, pts = _frame(seed=7)
    p = Pipeline(model, FakeSource(pts), RefineParams(enabled=False))
    (face,) = p.process(frame).faces
    assert np.array_equal(face.refined, face.output)
    p.params = RefineParams(enabled=False, intensity=0.0)
    r = p.process(frame)
    np.testing.assert_allclose(r.faces[0].final, r.faces[0].crop, atol=1e-6)
    assert np.abs(r.composite.astype(int) - frame).max() <= 1


def test_alpha_is_cached_per_model_and_params(model, gray_model):
    p = Pipeline(model, FakeSource(), RefineParams(enabled=True))
    a1 = p.alpha()
    assert p.alpha() is a1
    p.params = replace(p.params, tau=0.5)  # RefineParams is frozen: a change is a new value
    a2 = p.alpha()
    assert a2 is not a1 and not np.allclose(a1, a2)
    np.testing.assert_allclose(a2, alpha_map(model, tau=0.5))
    p.model = gray_model
    assert p.alpha() is not a2
    np.testing.assert_allclose(p.alpha(), alpha_map(gray_model, tau=0.5))
    p.params = replace(p.params, enabled=False)
    assert p.alpha() is None


def test_gray_model_is_applied_to_each_colour_channel(gray_model):
    frame, pts = _frame(seed=8)
    p = Pipeline(gray_model, FakeSource(pts), RefineParams(enabled=False))
    (face,) = p.process(frame).faces
    for c in range(3):
        np.testing.assert_allclose(face.output[:, :, c], gray_model.predict(face.crop[:, :, c]),
                                   atol=1e-6)


def test_no_face_gives_a_copy_and_a_message(model):
    frame, _ = _frame(seed=9)
    r = Pipeline(model, FakeSource()).process(frame)
    assert r.message.startswith("no face found")
    assert r.faces == [] and np.array_equal(r.composite, frame) and r.composite is not frame


def test_manual_landmarks_skip_detection(model):
    frame, pts = _frame(seed=10)
    src = FakeSource()
    lm = FaceLandmarks(pts, None, box_of(pts))
    r = Pipeline(model, src).process(frame, manual=lm)
    assert src.calls == 0 and len(r.faces) == 1 and r.message is None


def test_largest_face_only_or_all_faces():
    left, pl = make_face(200, 200, seed=11)
    right, pr = make_face(200, 200, seed=12)
    frame = np.hstack([left, right])
    pr = pr + [200, 0]
    src = FakeSource(pl, pr)
    p = Pipeline(ShiftModel(48), src, RefineParams(enabled=False))
    one = p.process(frame)
    assert len(one.faces) == 1
    assert (one.composite[:, :200] != left).any() and np.array_equal(one.composite[:, 200:],
                                                                     right)
    p.all_faces = True
    both = p.process(frame)
    assert len(both.faces) == 2
    assert (both.composite[:, 200:] != right).any()


def test_process_crop(model):
    frame, pts = make_face(48, 48, seed=13)
    p = Pipeline(model, params=RefineParams(enabled=False))
    face = p.process_crop(frame)
    np.testing.assert_allclose(face.output, model.predict(frame.astype(np.float32) / 255),
                               atol=1e-6)
    assert np.array_equal(face.matrix, np.eye(2, 3))
    with pytest.raises(FesguiError, match="model needs 48x48"):
        p.process_crop(np.zeros((50, 48, 3), np.uint8))
    gray = p.process_crop(frame[:, :, 0])
    assert gray.final.shape == (48, 48, 3)


def test_bad_frames_are_refused(model):
    p = Pipeline(model, FakeSource())
    with pytest.raises(FesguiError, match="uint8 RGB"):
        p.process(np.zeros((10, 10), np.uint8))
    with pytest.raises(FesguiError, match="uint8 RGB"):
        p.process(np.zeros((10, 10, 3), np.float32))


def test_model_without_size_is_refused():
    class NoSize:
        meta = {}

    with pytest.raises(FesguiError, match="image_size"):
        _ = Pipeline(NoSize(), FakeSource()).crop_size


def test_own_detector_follows_all_faces(monkeypatch, model):
    """Without a landmark source the pipeline starts one, sized for one face or all."""
    import fesgui.align.mediapipe_source as mps

    made = []

    class Recorder:
        def __init__(self, video=False, max_faces=4):
            self.max_faces = max_faces
            self.closed = False
            made.append(self)

        def detect(self, image):
            return []

        def close(self):
            self.closed = True

    monkeypatch.setattr(mps, "MediaPipeSource", Recorder)
    frame, _ = _frame(seed=14)
    with Pipeline(model) as p:
        p.process(frame)
        p.all_faces = True
        p.process(frame)
        p.process(frame)
    assert [r.max_faces for r in made] == [1, MAX_FACES]
    assert all(r.closed for r in made)


def test_a_custom_template_also_sets_the_paste_back_mask():
    """Pipeline(template=...) aligns with that template AND blends under its face
    ellipse: a template whose ellipse covers only the middle of the crop changes fewer
    frame pixels, exactly those of paste_back with that template's mask."""
    from dataclasses import replace

    from fesgui.align import face_mask

    frame, pts = _frame(seed=5)
    small = replace(Template.load(), mask_axes=(0.18, 0.22))
    r_default = Pipeline(ShiftModel(64), FakeSource(pts), RefineParams(enabled=False)).process(frame)
    r_small = Pipeline(ShiftModel(64), FakeSource(pts), RefineParams(enabled=False),
                       template=small).process(frame)
    (face,) = r_small.faces
    expected = paste_back(frame, face.final, face.matrix, original=face.crop,
                          mask=face_mask(64, template=small))
    np.testing.assert_array_equal(r_small.composite, expected)
    changed_small = (r_small.composite != frame).any(axis=2).sum()
    changed_default = (r_default.composite != frame).any(axis=2).sum()
    assert 0 < changed_small < 0.5 * changed_default


# ----------------------------------------------------------------------------- shape + appearance
class FieldModel(IdentityModel):
    """Identity appearance with a shape field that pulls the lower face sideways."""

    def __init__(self, size=64, alignment="eyes-mouth"):
        super().__init__(size)
        self.meta["alignment"] = alignment
        yy, xx = np.mgrid[0:size, 0:size]
        bump = np.exp(-((xx - size / 2) ** 2 + (yy - 0.7 * size) ** 2) / (0.02 * size * size))
        field = np.zeros((size, size, 2), np.float32)
        field[..., 0] = 2.5 * bump
        field *= np.asarray(face_mask(size))[..., None]
        self.shape_field_ = field


def test_shape_warp_moves_the_face_only_and_scales_with_intensity():
    frame, pts = _frame(seed=4)
    src = FakeSource(pts)
    model = FieldModel()
    with Pipeline(model, landmarks=src) as p:
        r = p.process(frame)
        face = r.faces[0]
        assert face.field is not None and face.aligned is not None
        changed = np.any(r.composite != frame, axis=2)
        assert changed.sum() > 100
        # nothing outside the face ellipse moved (the crop's mask mapped into the frame)
        mask = warp_to_crop(face_mask(64), cv2_invert(face.matrix), frame.shape[:2])
        assert not changed[mask == 0].any()
        # the appearance model saw the moved face
        assert not np.allclose(face.crop, face.aligned)
        assert r.timings["shape"] > 0
        # strength 0: nothing moves; intensity scales the field
        p.params = RefineParams(shape=0.0)
        assert np.array_equal(p.process(frame).composite, frame)
        p.params = RefineParams(intensity=0.5)
        half = p.process(frame).faces[0].field
        np.testing.assert_allclose(half, 0.5 * face.field, rtol=1e-6)


def test_in_place_composite_equals_the_step_by_step_copies_and_keeps_the_input():
    """process() copies the frame once and moves and pastes every face into that copy in
    place: the same bytes as each step on a fresh copy, and the input is left as it was."""
    from fesgui.align import warp_face

    left, pl = make_face(200, 200, seed=11)
    right, pr = make_face(200, 200, seed=12)
    frame = np.hstack([left, right])
    before = frame.copy()
    model = FieldModel()
    model.predict = lambda x: np.asarray(x, np.float32) * np.float32(0.9)
    with Pipeline(model, FakeSource(pl, pr + [200, 0]), all_faces=True) as p:
        r = p.process(frame)
        assert np.array_equal(frame, before) and r.composite is not frame
        expect = frame
        for face in r.faces:
            expect = warp_face(expect, model.shape_field_, face.matrix)
            crop = warp_to_crop(expect, face.matrix, 64).astype(np.float32) * np.float32(1 / 255)
            np.testing.assert_array_equal(crop, face.crop)
            expect = paste_back(expect, face.final, face.matrix, original=face.crop)
        assert len(r.faces) == 2 and np.array_equal(r.composite, expect)
        assert (r.composite != frame).any(axis=2).sum() > 200


def test_shape_strength_and_appearance_strength_are_separate():
    frame, pts = _frame(seed=5)
    model = FieldModel()
    model.predict = lambda x: np.asarray(x, np.float32) + np.float32(0.1)
    with Pipeline(model, landmarks=FakeSource(pts), params=RefineParams(shape=0.0)) as p:
        appearance_only = p.process(frame)
        assert appearance_only.faces[0].field is None
        p.params = RefineParams(appearance=0.0)
        shape_only = p.process(frame)
    f = shape_only.faces[0]
    np.testing.assert_allclose(f.final, np.clip(f.crop, 0, 1), atol=1e-6)  # no appearance
    assert not np.array_equal(shape_only.composite, appearance_only.composite)


def test_model_alignment_picks_the_crop():
    frame, pts = _frame(seed=6)
    t = Template.load()
    with Pipeline(FieldModel(alignment="eyes-nose"), landmarks=FakeSource(pts)) as p:
        assert p.alignment == "eyes-nose"
        m_nose = p.process(frame).faces[0].matrix
    with Pipeline(FieldModel(), landmarks=FakeSource(pts)) as p:
        m_mouth = p.process(frame).faces[0].matrix
    lm = FaceLandmarks(np.asarray(pts, np.float32), None, box_of(pts, 0.5))
    np.testing.assert_allclose(m_nose, t.matrix(lm, 64, "eyes-nose"))
    np.testing.assert_allclose(m_mouth, t.matrix(lm, 64, "eyes-mouth"))
    # a model without an alignment (format 1) is aligned as it was trained: eyes + nose
    with Pipeline(IdentityModel(), landmarks=FakeSource(pts)) as p:
        assert p.alignment == "eyes-nose"


def cv2_invert(matrix):
    import cv2

    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


# ---------------------------------------------------------------- issue 17: the views
def test_views_carry_what_the_panels_draw_computed_once(model):
    """With ``with_views`` a result carries the model's maps and alpha stages (one cache
    with the alpha map the output was refined with) and each face's W x and b; checked
    against the core's own functions, called here independently."""
    from fesgui.core import alpha_stages, l1_map
    from fesgui.core.interpret import tap_reach_map

    frame, pts = _frame(seed=4)
    params = RefineParams(enabled=True, k=7.0, tau=0.3, dilation_radius=4)
    p = Pipeline(model, FakeSource(pts), params, with_views=True)
    res = p.process(frame)
    views, face = res.views, res.faces[0]
    stages = alpha_stages(model, k=7.0, tau=0.3, dilation_radius=4)
    for name in ("s", "z", "dilated", "stepped", "alpha"):
        np.testing.assert_array_equal(views.alpha.stages[name], stages[name], err_msg=name)
    assert views.applied_alpha() is p.alpha()  # the very array the refinement used
    np.testing.assert_array_equal(views.maps.s, l1_map(model))
    np.testing.assert_array_equal(views.maps.reach, tap_reach_map(model))
    np.testing.assert_array_equal(views.maps.bias, np.moveaxis(model.bias_, 0, -1))
    wx, b = model.decompose(face.crop)
    np.testing.assert_allclose(face.views.wx, wx, atol=1e-6)
    np.testing.assert_array_equal(face.views.b, b)
    np.testing.assert_allclose(face.views.wx + face.views.b, face.output, atol=1e-6)
    assert face.views.importance == pytest.approx(
        (np.abs(wx).mean(), np.abs(b).mean()), rel=1e-5)
    assert not face.views.wx.flags.writeable and not views.alpha.stages["alpha"].flags.writeable
    # a new frame with the same alpha numbers (intensity is not one) reuses the arrays
    p.params = RefineParams(enabled=True, k=7.0, tau=0.3, dilation_radius=4, intensity=0.5)
    again = p.process(frame)
    assert again.views.maps is views.maps and again.views.alpha is views.alpha
    # the refinement off: the stages are still there (the maps show them), unused
    p.params = RefineParams(enabled=False, k=7.0, tau=0.3, dilation_radius=4)
    off = p.process(frame)
    assert off.views.alpha is views.alpha and off.views.applied_alpha() is None
    # a bad number never reaches the pipeline: RefineParams refuses it (fesgui.params)
    with pytest.raises(FesguiError, match="blur_sigma -1.0 is out of range"):
        RefineParams(enabled=True, blur_sigma=-1.0)
    # without with_views (the CLI) nothing extra is computed
    plain = Pipeline(model, FakeSource(pts), params).process(frame)
    assert plain.views is None and plain.faces[0].views is None


def test_face_views_of_a_sparse_model_index_like_the_core():
    from fesgui.core import from_csr, interpret
    from fesgui.synthetic import sparse_smile_csr

    model = from_csr(sparse_smile_csr(24, taps=5, far=True, seed=4), preprocess="minmax")
    img, _ = make_face(24, 24, seed=2)
    face = Pipeline(model, params=RefineParams(), with_views=True).process_crop(img)
    wx, b = model.decompose(face.crop)
    np.testing.assert_array_equal(face.views.wx, wx)
    np.testing.assert_array_equal(face.views.b, b)
    for i, j, c in ((3, 4, 0), (17, 8, 2)):
        got, ref = face.views.pixel(i, j, c), interpret.pixel_arithmetic(model, face.crop, i,
                                                                          j, channel=c)
        assert (got.wx, got.bias, got.output, got.raw) == (ref.wx, ref.bias, ref.output,
                                                           ref.raw)
        np.testing.assert_array_equal(face.views.transfer_curve(i, j, c)[1],
                                      interpret.transfer_curve(model, i, j, c, x=face.crop)[1])


def test_a_still_with_new_slider_values_reuses_its_crop_and_output(model):
    """reuse_same_frame (the app's still worker): the same frame object again runs only
    refinement, intensity and paste-back; the result equals a fresh pipeline's."""
    frame, pts = _frame(seed=6)
    p = Pipeline(model, FakeSource(pts), RefineParams(enabled=True), with_views=True)
    p.reuse_same_frame = True
    first = p.process(frame)
    for params in (RefineParams(enabled=True, tau=0.5, intensity=0.6),
                   RefineParams(enabled=False, intensity=1.2)):
        p.params = params
        again = p.process(frame)
        fresh = Pipeline(model, FakeSource(pts), params).process(frame)
        assert again.faces[0].output is first.faces[0].output  # predict did not run again
        assert again.faces[0].views.wx is first.faces[0].views.wx
        np.testing.assert_array_equal(again.composite, fresh.composite)
        np.testing.assert_array_equal(again.faces[0].final, fresh.faces[0].final)
        assert again.timings["synthesize"] == 0.0
    # another frame object (even with the same pixels), another model: computed afresh
    other = p.process(frame.copy())
    assert other.faces[0].output is not first.faces[0].output
    np.testing.assert_array_equal(other.faces[0].output, first.faces[0].output)
    # off (the default: a video reader may refill one buffer): never reused
    q = Pipeline(model, FakeSource(pts), RefineParams())
    buffer = frame.copy()
    a = q.process(buffer).faces[0].output
    buffer[...] = 0
    assert not np.array_equal(q.process(buffer).faces[0].output, a)


def test_view_cache_keeps_the_dilation_while_k_tau_and_sigma_move(model, monkeypatch):
    """Dragging k, tau or sigma reuses the dilated map of the radius (the costly step at a
    large radius); every stage still equals the core's alpha_stages computed afresh."""
    import importlib

    from fesgui.core import alpha_stages
    from fesgui.views import ViewCache

    refine = importlib.import_module("fesgui.core.refine")  # the module (not the function)

    cache = ViewCache()
    seen, radii, computed = [], [], []
    original = refine.dilation_stages
    monkeypatch.setattr(refine, "dilation_stages",
                        lambda s, r: radii.append(r) or original(s, r))
    for k, tau, sigma, radius in ((10.0, 0.2, 2.0, 9), (4.0, 0.5, 3.5, 9), (7.0, 0.3, 0.0, 9),
                                  (7.0, 0.3, 1.0, 2), (7.0, 0.3, 1.5, None)):
        n = len(radii)
        views = cache.alpha(model, RefineParams(k=k, tau=tau, blur_sigma=sigma,
                                                dilation_radius=radius))
        computed.extend(radii[n:])
        ref = alpha_stages(model, k=k, tau=tau, blur_sigma=sigma, dilation_radius=radius)
        for name in ref:
            np.testing.assert_array_equal(views.stages[name], ref[name], err_msg=name)
        seen.append(views.stages["dilated"])
    assert computed == [9, 2, 1]  # once per radius (None: the default, 1 px at 48 px)
    assert not np.array_equal(seen[2], seen[3])  # another radius, another dilation
    with pytest.raises(FesguiError, match="dilation_radius -2 is out of range"):
        RefineParams(dilation_radius=-2)  # a bad radius never reaches the cache


def test_a_sigma_drag_hands_the_panels_the_same_unchanged_stages(model):
    """Dragging sigma changes only the blurred alpha: the view cache gives back the very
    arrays of s, z, dilated and stepped (so the maps panel redraws one map), each equal to
    the core's alpha_stages computed afresh; a new k gives a new stepped map."""
    from fesgui.core import alpha_stages
    from fesgui.views import STAGES, ViewCache

    cache = ViewCache()
    first = cache.alpha(model, RefineParams(enabled=True, dilation_radius=5, blur_sigma=1.0))
    for sigma in (1.5, 2.25, 0.0):
        p = RefineParams(enabled=True, dilation_radius=5, blur_sigma=sigma)
        views = cache.alpha(model, p)
        fresh = alpha_stages(model, dilation_radius=5, blur_sigma=sigma)
        for name in STAGES:
            np.testing.assert_array_equal(views.stages[name], fresh[name], err_msg=name)
        for name in ("s", "z", "dilated", "stepped"):
            assert views.stages[name] is first.stages[name], name
        assert views.stages["alpha"] is not first.stages["alpha"]
    steeper = cache.alpha(model, RefineParams(enabled=True, dilation_radius=5, k=20.0))
    assert steeper.stages["stepped"] is not first.stages["stepped"]
    assert steeper.stages["dilated"] is first.stages["dilated"]
    np.testing.assert_array_equal(steeper.stages["stepped"],
                                  alpha_stages(model, k=20.0, dilation_radius=5)["stepped"])


def _darkening_case(seed: int):
    """A frame, its face's points and a model that moves the face and darkens it by 15 %:
    every stage changes the picture."""
    frame, pts = _frame(seed=seed)
    model = FieldModel()
    model.predict = lambda x: np.asarray(x, np.float32) * np.float32(0.85)
    return frame, pts, model


def test_without_the_aligned_crop_the_result_is_the_same():
    """keep_aligned=False (fesgui video, the app's live preview) skips only the crop of the
    face before its shape warp: the composite and every other crop are the same bytes."""
    frame, pts, model = _darkening_case(seed=21)
    with Pipeline(model, FakeSource(pts)) as p:
        kept = p.process(frame)
        p.keep_aligned = False
        lean = p.process(frame)
    (a,), (b,) = kept.faces, lean.faces
    assert a.aligned is not None and b.aligned is None
    assert np.array_equal(kept.composite, lean.composite)
    for name in ("crop", "output", "refined", "final", "matrix"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_in_place_makes_the_same_composite_in_the_frame_itself():
    """in_place (fesgui video: each decoded frame is used once) skips the full-frame copy:
    the composite is the frame given, with the bytes the copying path makes; a frame
    without a face is handed back as it is."""
    frame, pts, model = _darkening_case(seed=23)
    with Pipeline(model, FakeSource(pts)) as p:
        copied = p.process(frame)
        p.in_place = True
        given = frame.copy()
        done = p.process(given)
    assert copied.composite is not frame and np.array_equal(frame, _frame(seed=23)[0])
    assert done.composite is given and np.array_equal(given, copied.composite)
    with Pipeline(model, FakeSource()) as p:
        p.in_place = True
        blank = np.zeros_like(frame)
        r = p.process(blank)
    assert r.message is not None and r.composite is blank


def test_a_frame_is_processed_with_blas_on_one_thread():
    """OpenBLAS's idle threads spin for milliseconds after each call, taking a core from
    the decoder, the encoder and the window: process() holds BLAS to one thread and
    gives each library its setting back afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> dict[str, int]:
        return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
                if lib["user_api"] == "blas"}

    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    seen = []
    frame, pts = _frame(seed=22)
    model = IdentityModel(64)
    model.predict = lambda x: (seen.append(blas_threads()), np.asarray(x, np.float32))[1]
    with threadpool_limits(limits=2, user_api="blas"), Pipeline(model, FakeSource(pts)) as p:
        outside = blas_threads()
        assert 2 in outside.values()  # a library that can run two threads
        p.process(frame)
        assert [set(s.values()) for s in seen] == [{1}]
        assert blas_threads() == outside
