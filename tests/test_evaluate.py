"""Quality evaluation: every metric against an independent computation, the baselines
against scikit-learn / a direct solve, the smile measure on landmark sets of known
geometry, and ``fesgui evaluate`` end to end on tiny synthetic pair folders.

No dataset needed: faces come from :mod:`fesgui.synthetic`; a fake landmark source
stands in for MediaPipe (it knows where the synthetic faces are).
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from scipy import ndimage

from fesgui.errors import FesguiError
from fesgui.evaluation import baselines as bl
from fesgui.evaluation import metrics
from fesgui.evaluation.smile import (
    EYE_CORNERS,
    LIP_CENTRE,
    MOUTH_CORNERS,
    SmileMeasure,
    mean_measure,
    measure_images,
    smile_gain,
    smile_measure,
)
from fesgui.synthetic import face_points, make_face, make_pairs


@pytest.fixture(scope="module")
def faces():
    """Small synthetic (neutral, smiling) RGB pairs, float32 in [0, 1]."""
    return make_pairs(24, 20, 20, color=True, seed=3)


# --------------------------------------------------------------------------- metrics
def test_mse_matches_sklearn(faces):
    from sklearn.metrics import mean_squared_error

    X, T = faces
    assert metrics.mse(X, T) == pytest.approx(mean_squared_error(T.ravel(), X.ravel()),
                                              rel=1e-6)
    per = metrics.mse_per_image(X, T)
    assert per.shape == (len(X),)
    assert per[5] == pytest.approx(mean_squared_error(T[5].ravel(), X[5].ravel()), rel=1e-6)
    gray = metrics.to_gray(X)
    assert metrics.mse(gray, gray) == 0.0


def _ssim_uniform(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """SSIM (Wang et al. 2004) written out: 7x7 uniform window, sample covariances,
    K1 = 0.01, K2 = 0.03, L = 1, border of (win-1)/2 cropped before averaging."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    n = win * win
    f = lambda z: ndimage.uniform_filter(z, size=win, mode="reflect")  # noqa: E731
    ma, mb = f(a), f(b)
    va = (f(a * a) - ma * ma) * n / (n - 1)
    vb = (f(b * b) - mb * mb) * n / (n - 1)
    cov = (f(a * b) - ma * mb) * n / (n - 1)
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    p = (win - 1) // 2
    return float(s[p:-p, p:-p].mean())


def test_ssim_matches_the_formula(faces):
    X, T = faces
    gray_x, gray_t = metrics.to_gray(X[:3]), metrics.to_gray(T[:3])
    expected = np.mean([_ssim_uniform(x, t) for x, t in zip(gray_x, gray_t, strict=True)])
    assert metrics.ssim(gray_x, gray_t) == pytest.approx(expected, abs=1e-6)
    # RGB: the mean of the per-channel SSIMs
    rgb = np.mean([_ssim_uniform(X[0][..., c], T[0][..., c]) for c in range(3)])
    assert metrics.ssim_per_image(X[:1], T[:1])[0] == pytest.approx(rgb, abs=1e-6)
    assert metrics.ssim(X, X) == pytest.approx(1.0)


def test_metrics_refuse_mismatched_shapes(faces):
    X, T = faces
    with pytest.raises(FesguiError, match="same size"):
        metrics.mse(X, T[:, :10])
    with pytest.raises(FesguiError, match="batch"):
        metrics.laplacian_variance(np.zeros((2, 2, 4, 4, 3)))


def test_laplacian_variance_and_gradient_energy_match_opencv():
    img, _ = make_face(40, 40, smile=1.0, seed=7)
    gray = metrics.to_gray(img.astype(np.float64) / 255.0)[0]
    lap = cv2.Laplacian(gray, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    assert metrics.laplacian_variance(gray[None])[0] == pytest.approx(lap.var(), rel=1e-9)
    gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    assert metrics.gradient_energy(gray)[0] == pytest.approx((gx**2 + gy**2).mean(), rel=1e-9)


def test_sharpness_falls_with_blur():
    img, _ = make_face(64, 64, smile=1.0, seed=2)
    x = img.astype(np.float32) / 255.0
    batch = np.stack([x] + [cv2.GaussianBlur(x, (0, 0), s) for s in (0.7, 1.5, 3.0)])
    lap = metrics.laplacian_variance(batch)
    grad = metrics.gradient_energy(batch)
    assert np.all(np.diff(lap) < 0) and np.all(np.diff(grad) < 0)


# --------------------------------------------------------------------------- baselines
def test_identity_and_mean_target(faces):
    X, T = faces
    assert np.array_equal(bl.Identity().fit(X, T).predict(X[:3]), X[:3])
    mean = bl.MeanTarget().fit(X, T)
    assert np.allclose(mean.predict(X[:2]), np.broadcast_to(T.mean(axis=0), X[:2].shape),
                       atol=1e-6)
    wx, b = mean.decompose(X[:2])
    assert np.all(wx == 0)


def test_ridge_matches_sklearn_and_ridge_dual_predict(faces):
    from sklearn.linear_model import Ridge

    X, T = faces
    model = bl.GlobalRidge(0.05).fit(X[:18], T[:18])
    wx, b = model.decompose(X[18:])
    for c in range(3):
        A = X[:18, ..., c].reshape(18, -1).astype(np.float64)
        lam = 0.05 * np.trace((A - A.mean(0)) @ (A - A.mean(0)).T) / 18
        sk = Ridge(alpha=lam, fit_intercept=True, solver="svd").fit(
            A, T[:18, ..., c].reshape(18, -1))
        expected = sk.predict(X[18:, ..., c].reshape(6, -1)).reshape(6, 20, 20)
        assert np.allclose(model.predict(X[18:])[..., c], expected, atol=1e-4)
        # the split: bias = sklearn's intercept, weights = its coefficients
        assert np.allclose(b[0, ..., c].ravel(), sk.intercept_, atol=1e-4)
        assert np.allclose(wx[..., c].reshape(6, -1), X[18:, ..., c].reshape(6, -1) @ sk.coef_.T,
                           atol=1e-4)
        gray = bl.ridge_dual_predict(X[:18, ..., c], T[:18, ..., c], X[18:, ..., c], lam)
        assert np.allclose(gray, expected, atol=1e-4)
    assert np.allclose(wx + b, model.predict(X[18:]), atol=1e-6)


def test_pca_projection_matches_sklearn(faces):
    from sklearn.decomposition import PCA

    X, T = faces
    gray_x, gray_t = metrics.to_gray(X), metrics.to_gray(T)
    model = bl.PCAProjection(4).fit(gray_x[:18], gray_t[:18])
    pca = PCA(n_components=4).fit(gray_t[:18].reshape(18, -1))
    expected = pca.inverse_transform(pca.transform(gray_x[18:].reshape(6, -1)))
    assert np.allclose(model.predict(gray_x[18:]).reshape(6, -1), expected, atol=1e-5)
    with pytest.raises(FesguiError, match="components"):
        bl.PCAProjection(100).fit(gray_x[:18], gray_t[:18])


def test_lasso_and_omp_fit_each_pixel_like_sklearn(faces):
    from sklearn.linear_model import Lasso, OrthogonalMatchingPursuit

    X, T = faces
    gx, gt = metrics.to_gray(X[:18]), metrics.to_gray(T[:18])
    A, B = gx.reshape(18, -1), gt.reshape(18, -1)
    pixel = 7 * 20 + 9
    lasso = bl.Lasso(1e-3).fit(gx, gt)
    sk = Lasso(alpha=1e-3, max_iter=2000, tol=1e-3).fit(A, B[:, pixel])
    assert lasso.predict(gx)[:, 7, 9] == pytest.approx(sk.predict(A), abs=1e-4)
    omp = bl.OMP(3).fit(gx, gt)
    coef = omp.states_[0][0]
    assert (np.count_nonzero(coef, axis=1) <= 3).all()
    sk = OrthogonalMatchingPursuit(n_nonzero_coefs=3).fit(A, B[:, pixel])
    assert omp.predict(gx)[:, 7, 9] == pytest.approx(sk.predict(A), abs=1e-4)


def test_choose_on_validation_takes_the_lowest_error(faces):
    X, T = faces
    best, errors = bl.choose_on_validation(bl.PCAProjection, [1, 3, 8], X[:16], T[:16],
                                           X[16:], T[16:])
    assert set(errors) == {1, 3, 8} and errors[best] == min(errors.values())
    # independent: the validation MSE of the chosen model, refitted directly
    direct = metrics.mse(bl.PCAProjection(best).fit(X[:16], T[:16]).predict(X[16:]), T[16:])
    assert errors[best] == pytest.approx(direct, rel=1e-5)
    best_sub, sub = bl.choose_on_validation(bl.Lasso, [1e-4, 1e-1], X[:16], T[:16], X[16:],
                                            T[16:], pixels=30)
    assert sub[1e-1] > sub[1e-4]   # alpha 0.1 wipes out every weight on [0, 1] images


def test_baselines_refuse_bad_use(faces):
    X, T = faces
    with pytest.raises(FesguiError, match="not fitted"):
        bl.GlobalRidge(1.0).predict(X)
    with pytest.raises(FesguiError, match="training size"):
        bl.Identity().fit(X, T).predict(X[:, :10, :10])
    with pytest.raises(FesguiError, match="> 0"):
        bl.GlobalRidge(0.0).fit(X, T)


# --------------------------------------------------------------------------- smile
def _mesh(width=40.0, lift=10.0, opening=10.0, iod=50.0, angle=0.0, scale=1.0,
          shift=(0.0, 0.0)) -> np.ndarray:
    """A (468, 2) mesh with eyes, mouth corners and lips at known places (others 0)."""
    pts = np.zeros((468, 2))
    half = iod / 2
    pts[EYE_CORNERS[0][0]], pts[EYE_CORNERS[0][1]] = (-half - 10, 0), (-half + 10, 0)
    pts[EYE_CORNERS[1][0]], pts[EYE_CORNERS[1][1]] = (half - 10, 0), (half + 10, 0)
    mid_y = 60.0
    pts[LIP_CENTRE[0]] = (0, mid_y - opening / 2)
    pts[LIP_CENTRE[1]] = (0, mid_y + opening / 2)
    pts[MOUTH_CORNERS[0]] = (-width / 2, mid_y - lift)
    pts[MOUTH_CORNERS[1]] = (width / 2, mid_y - lift)
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T * scale + np.asarray(shift)


@pytest.mark.parametrize("angle,scale,shift", [(0, 1, (0, 0)), (25, 2.5, (300, 120)),
                                               (-40, 0.3, (-5, 7)), (180, 1.0, (0, 0))])
def test_smile_measure_known_geometry(angle, scale, shift):
    m = smile_measure(_mesh(width=40, lift=10, opening=6, iod=50, angle=angle, scale=scale,
                            shift=shift))
    assert m.width == pytest.approx(0.8)
    assert m.lift == pytest.approx(0.2)
    assert m.opening == pytest.approx(0.12)


def test_smile_measure_orders_expressions():
    frown = smile_measure(_mesh(lift=-8, opening=0))
    neutral = smile_measure(_mesh(lift=0, opening=0))
    smile = smile_measure(_mesh(width=55, lift=12, opening=15))
    assert frown.lift < 0 == neutral.lift < smile.lift
    assert smile.width > neutral.width and smile.opening > neutral.opening


def test_smile_measure_refuses_non_meshes():
    with pytest.raises(FesguiError, match="468"):
        smile_measure(np.zeros((5, 2)))
    with pytest.raises(FesguiError, match="eyes coincide"):
        smile_measure(np.zeros((468, 2)))


def test_smile_gain_and_mean():
    a, b = SmileMeasure(0.7, 0.0, 0.0), SmileMeasure(0.9, 0.1, 0.2)
    g = smile_gain(a, SmileMeasure(0.8, 0.1, 0.05), b)
    assert (g.width, g.lift, g.opening) == pytest.approx((0.5, 1.0, 0.25))
    assert np.isnan(smile_gain(a, b, a).width)
    assert mean_measure([None, a, b]) == SmileMeasure(pytest.approx(0.8), pytest.approx(0.05),
                                                      pytest.approx(0.1))
    assert mean_measure([None]) is None


class FakeSource:
    """Landmarks of synthetic faces: ``face_points`` of the image size (what
    :func:`fesgui.synthetic.make_face` draws) and a mesh built around them."""

    calls: list[tuple[int, ...]] = []

    def __init__(self, *args, **kwargs):
        pass

    def detect(self, image):
        from fesgui.align import FaceLandmarks

        FakeSource.calls.append(image.shape)
        if image.mean() < 1:          # a black image: no face
            return []
        h, w = image.shape[:2]
        p = face_points(h, w).astype(np.float64)
        iod = p[1, 0] - p[0, 0]
        mesh = _mesh(width=p[4, 0] - p[3, 0], lift=0.05 * iod, opening=0.1 * iod, iod=iod,
                     shift=(p[:2, 0].mean(), p[0, 1]))
        return [FaceLandmarks(points=p.astype(np.float32), mesh=mesh.astype(np.float32),
                              box=(0.0, 0.0, float(w), float(h)))]

    def close(self):
        pass


def test_measure_images_enlarges_pads_and_reports_missing_faces():
    FakeSource.calls = []
    crops = np.stack([make_face(24, 24, smile=1.0, seed=1)[0], np.zeros((24, 24, 3), np.uint8)])
    found = measure_images(crops, FakeSource(), upscale=4, pad=0.25)
    assert FakeSource.calls == [(144, 144, 3)] * 2     # 24 * 4 + 2 * 24 border
    assert found[1] is None
    assert found[0].lift == pytest.approx(0.05) and found[0].opening == pytest.approx(0.1)


# --------------------------------------------------------------------------- end to end
def _write_pairs(folder, n: int, layout: str, size: int = 48) -> None:
    for i in range(n):
        for smile, expression in ((0.0, "neutral"), (1.0, "smiling")):
            img, _ = make_face(size, size, smile=smile, seed=100 + i)
            if layout == "by-expression":
                path = folder / expression / f"{i:03d}_{'03' if smile == 0 else '08'}.png"
            else:
                path = folder / f"person{i}" / f"{'neutral' if smile == 0 else 'happy'}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


#: short grids and two MR sizes so the end-to-end runs take seconds (protocol unchanged)
SMALL = {"lam_grid": (0.4, 4.0), "kr_sigmas": (0.3, 3.0), "kr_lams": (0.4,),
         "lasso_grid": (1e-3,), "omp_grid": (2, 4), "pca_grid": (2, 4), "lasso_pixels": 40,
         "mr_sizes": (3, 5)}


def _patch_fast(mp: pytest.MonkeyPatch) -> None:
    """Fake landmarks; ``Settings`` (as the command builds it) with the short grids."""
    import functools

    import fesgui.align.mediapipe_source as mps
    from fesgui.evaluation import runner

    mp.setattr(mps, "MediaPipeSource", FakeSource)
    mp.setattr(runner, "Settings", functools.partial(runner.Settings, **SMALL))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """One evaluation of a tiny synthetic folder (by-expression layout), smile included."""
    from fesgui.core import MaskedRegression
    from fesgui.evaluation.runner import Settings, run_evaluation

    root = tmp_path_factory.mktemp("evaluated")
    _write_pairs(root / "pairs", 10, "by-expression")
    # a "shipped" model in a models folder of its own, trained on other synthetic faces
    (root / "models").mkdir()
    X, T = make_pairs(8, 16, 16, seed=9)
    model = MaskedRegression(size=3, lam=1.0).fit(X, T)
    model.set_provenance(source="neutral", target="happy", training_data={"test_ids": ["zz"]})
    model.save(root / "models" / "n2h_mr3_16.npz")
    with pytest.MonkeyPatch.context() as mp:
        _patch_fast(mp)
        mp.setenv("FESGUI_MODELS", str(root / "models"))
        settings = Settings(crop=16, baseline_crop=16, **SMALL)
        assert settings.lam_grid == SMALL["lam_grid"]
        ev = run_evaluation(root / "pairs", settings,
                            cache_dir=root / "cache", log=lambda m: None)
    return ev, root


def test_evaluate_numbers_follow_the_protocol(evaluated):
    """Identity row = MSE of the raw test pairs; MR row = a model refitted on train + val
    with the lam of least validation error."""
    from sklearn.metrics import mean_squared_error

    from fesgui.core import MaskedRegression
    from fesgui.data import find_pairs, load_aligned, split_ids

    ev, root = evaluated
    d = ev.directions[0]
    aligned = load_aligned(find_pairs(root / "pairs")[0], 16, cache_dir=root / "cache")
    train, val, test = split_ids(aligned.ids, seed=0)
    assert (train, val, test) == ev.split
    pick = lambda ids: [aligned.ids.index(i) for i in ids]  # noqa: E731
    f = lambda a: a.astype(np.float64) / 255.0  # noqa: E731
    Xte, Tte = f(aligned.X[pick(test)]), f(aligned.T[pick(test)])
    assert 100 * d.method("identity").mse == pytest.approx(
        100 * mean_squared_error(Tte.ravel(), Xte.ravel()), rel=1e-5)
    row = d.method("MR 3x3")
    lam = min(row.val_errors, key=row.val_errors.get)
    assert row.param == f"lam={lam:g}"
    fit = pick(train + val)
    model = MaskedRegression(size=3, lam=lam).fit(f(aligned.X[fit]), f(aligned.T[fit]))
    assert row.mse == pytest.approx(metrics.mse(model.predict(Xte), Tte), rel=1e-4)
    assert row.importance is not None and row.train_seconds >= 0
    # the reverse direction swaps inputs and targets
    assert ev.directions[1].source == "happy"
    assert ev.directions[1].method("identity").mse == pytest.approx(d.method("identity").mse)
    # the smile measure ran on inputs, targets and outputs (fake landmarks: all found)
    assert d.smile_found == {"input": len(test), "target": len(test)}
    assert d.method("MR 5x5").smile_found == len(test)


def test_shipped_models_are_scored_on_the_test_people(evaluated):
    from fesgui.core import load_model
    from fesgui.data import find_pairs, load_aligned

    ev, root = evaluated
    names = [(s, t, r.name) for s, t, r in ev.shipped]
    assert names == [("neutral", "happy", n) for n in
                     ("input 16", "target 16", "n2h_mr3_16", "Rn2h_mr3_16")]
    assert "n2h_mr3_16" in ev.shipped_note    # its recorded test ids are not this split's
    pairs = [p for p in find_pairs(root / "pairs")[0] if p.id in ev.split[2]]
    aligned = load_aligned(pairs, 16, cache_dir=root / "cache")
    X, T = aligned.X / 255.0, aligned.T / 255.0
    row = ev.shipped[2][2]
    model = load_model(root / "models" / "n2h_mr3_16.npz")
    assert row.mse == pytest.approx(metrics.mse(model.predict(X), T), rel=1e-5)
    assert ev.shipped[1][2].mse == 0.0 and ev.shipped[0][2].mse == pytest.approx(
        metrics.mse(X, T), rel=1e-5)


def test_report_writes_markdown_and_figures(evaluated, tmp_path):
    from fesgui.evaluation.report import write_report

    ev, _ = evaluated
    out = tmp_path / "EVAL.md"
    paths = write_report(ev, out)
    text = out.read_text(encoding="utf-8")
    for heading in ("## neutral → happy", "## happy → neutral", "### Baselines",
                    "### Pixel-KR sigma sweep", "### Smile measure",
                    "## What the papers claim", "## The shipped models"):
        assert heading in text
    for method in ("| identity |", "| MR 5x5 |", "| MR 5x5 per-channel |", "| RMR 5x5 |",
                   "| Pixel-KR |", "| l1 lasso |", "| l0 OMP |", "| PCA |"):
        assert method in text
    names = sorted(p.name for p in paths[1:])
    assert names == sorted(f"eval_{k}.png" for k in ("mse", "baselines", "kr_sigma",
                                                       "sharpness", "importance", "smile"))
    for p in paths[1:]:
        assert cv2.imread(str(p)) is not None
        assert f"(figures/{p.name})" in text
    assert not [p for p in tmp_path.rglob(".*")]       # no temporary files left behind


def test_evaluate_cli_end_to_end(tmp_path, capsys):
    """``fesgui evaluate`` on the other folder layout (DIR/<id>/<expression>.png)."""
    from fesgui.cli import main

    pairs = tmp_path / "pairs"
    _write_pairs(pairs, 10, "by-person")
    out = tmp_path / "report" / "EVAL.md"
    out.parent.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        _patch_fast(mp)
        mp.setenv("FESGUI_MODELS", str(tmp_path))     # no shipped models to score
        code = main(["evaluate", "--pairs", str(pairs), "--crop", "16", "--baseline-crop",
                     "16", "--out", str(out), "--cache", str(tmp_path / "cache"), "--quiet",
                     "--seed", "1", "--no-smile"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(f"wrote {out}")
    text = out.read_text(encoding="utf-8")
    assert "seed 1 (--seed)" in text and "| MR 3x3 dil 2 |" in text
    assert "| MR 7x7 |" not in text          # the short settings reached the command
    assert "### Smile measure" not in text and "--no-smile" in text
    assert len(list((out.parent / "figures").glob("eval_*.png"))) == 5


def test_evaluate_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    from fesgui.cli import main

    assert main(["evaluate", "--pairs", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --pairs") and "\n" not in err
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", "--pairs", str(tmp_path / "empty"), "--crop", "8"]) == 2
    assert re.search(r"--crop 8 is too small", capsys.readouterr().err)
    assert main(["evaluate", "--pairs", str(tmp_path / "empty"), "--out",
                 str(tmp_path / "x.txt")]) == 2
    assert ".md" in capsys.readouterr().err
    assert main(["evaluate", "--pairs", str(tmp_path / "empty"), "--out",
                 str(tmp_path / "e.md"), "--no-smile"]) == 2
    assert "no neutral/happy pairs" in capsys.readouterr().err
