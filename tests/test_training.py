"""Training: lam selection, the global ridge baseline, metadata of trained models.

Every number is checked against an independent formulation: a dense per-pixel
least-squares solve for the lam search, scikit-learn's Ridge for the dual-form ridge.
"""

from __future__ import annotations

import numpy as np
import pytest

from fesgui.errors import FesguiError
from fesgui.evaluation.baselines import baseline_scores, ridge_dual_predict
from fesgui.release import compact_difference
from fesgui.synthetic import make_pairs
from fesgui.training import LAM_GRID, TrainingData, select_hyperparameters, split_data, train


def _dense_mr_predict(Xtr, Ttr, Xq, size, lam):
    """Masked ridge regression by brute force: for each pixel, build the design matrix
    with zero padding and a trailing 1, append sqrt(lam) I rows, and solve by lstsq."""
    n, h, w = Xtr.shape
    r = size // 2
    pad = lambda A: np.pad(A, ((0, 0), (r, r), (r, r)))  # noqa: E731
    Ptr, Pq = pad(Xtr.astype(np.float64)), pad(Xq.astype(np.float64))
    out = np.empty(Xq.shape)
    for i in range(h):
        for j in range(w):
            taps = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)
                    if 0 <= i + dy < h and 0 <= j + dx < w]
            F = np.column_stack([Ptr[:, r + i + dy, r + j + dx] for dy, dx in taps]
                                + [np.ones(n)])
            A = np.vstack([F, np.sqrt(lam) * np.eye(F.shape[1])])
            b = np.concatenate([Ttr[:, i, j], np.zeros(F.shape[1])])
            coef = np.linalg.lstsq(A, b, rcond=None)[0]
            Fq = np.column_stack([Pq[:, r + i + dy, r + j + dx] for dy, dx in taps]
                                 + [np.ones(len(Xq))])
            out[:, i, j] = Fq @ coef
    return out


@pytest.mark.parametrize(("method", "size"), [("mr", 3), ("pixel-rr", 1)])
def test_selected_lam_minimises_validation_mse_like_brute_force(method, size):
    X, T = make_pairs(16, 10, 10, color=False, seed=2)
    # a wider spread of lam than the default grid, so the minimum is inside it
    lams = (0.001, 0.01, 0.1, 1.0, 10.0)
    sel = select_hyperparameters(method, X[:12], T[:12], X[12:], T[12:], lams=lams, size=size)
    brute = []
    for lam in lams:
        Y = _dense_mr_predict(X[:12], T[:12], X[12:], size, lam)
        brute.append(np.mean((np.clip(Y, 0, 1) - T[12:]) ** 2))
    assert [g[0] for g in sel.grid] == list(lams)
    np.testing.assert_allclose([g[2] for g in sel.grid], brute, rtol=1e-4, atol=1e-9)
    assert sel.lam == lams[int(np.argmin(brute))]
    assert sel.sigma is None


def test_pixel_kr_search_covers_lam_and_sigma_and_pixel_stride_is_exact():
    X, T = make_pairs(12, 16, 16, color=False, seed=1)
    args = (X[:9], T[:9], X[9:], T[9:])
    full = select_hyperparameters("pixel-kr", *args, lams=(0.1, 1.0), sigmas=(0.3, 3.0))
    assert [(g[0], g[1]) for g in full.grid] == [(0.1, 0.3), (1.0, 0.3), (0.1, 3.0), (1.0, 3.0)]
    best = min(full.grid, key=lambda g: g[2])
    assert (full.lam, full.sigma) == best[:2]
    # scoring on every 2nd pixel equals the full model's error on those pixels
    strided = select_hyperparameters("pixel-kr", *args, lams=(0.1, 1.0), sigmas=(0.3, 3.0),
                                     pixel_stride=2)
    from fesgui.core import PixelKernelRegression

    for lam, sigma, val in strided.grid:
        model = PixelKernelRegression(sigma=sigma, lam=lam).fit(X[:9], T[:9])
        Y = np.clip(model.predict(X[9:]), 0, 1)[:, ::2, ::2]
        assert val == pytest.approx(np.mean((Y - T[9:, ::2, ::2]) ** 2), rel=1e-5)


def test_default_grid_is_the_papers():
    assert LAM_GRID == pytest.approx(np.linspace(0.1, 10, 10))
    assert len(LAM_GRID) == 10


def test_selection_needs_validation_people():
    X, T = make_pairs(4, 8, 8, color=False)
    with pytest.raises(FesguiError, match="validation"):
        select_hyperparameters("mr", X, T, X[:0], T[:0])


def test_ridge_dual_matches_scikit_learn_ridge():
    from sklearn.linear_model import Ridge

    X, T = make_pairs(14, 8, 8, color=True, seed=4)
    lam = 0.7
    Y = ridge_dual_predict(X[:10], T[:10], X[10:], lam)
    ref = Ridge(alpha=lam, fit_intercept=True, solver="svd").fit(
        X[:10].reshape(10, -1).astype(np.float64), T[:10].reshape(10, -1).astype(np.float64))
    expected = ref.predict(X[10:].reshape(4, -1).astype(np.float64)).reshape(X[10:].shape)
    np.testing.assert_allclose(Y, expected, atol=2e-5)


def test_baselines_are_input_and_mean_target():
    X, T = make_pairs(6, 8, 8, seed=5)
    b = baseline_scores(T[:4], X[4:], T[4:])
    assert b["identity"]["mse"] == pytest.approx(np.mean((X[4:] - T[4:]) ** 2), abs=1e-7)
    assert b["mean_target"]["mse"] == pytest.approx(
        np.mean((T[:4].mean(0) - T[4:]) ** 2), abs=1e-7)


def _data(n=20, size=16, seed=3):
    X, T = make_pairs(n, size, size, seed=seed)
    ids = [f"p{i:02d}" for i in range(n)]
    return TrainingData(ids, (X * 255).round().astype(np.uint8),
                        (T * 255).round().astype(np.uint8), name="synthetic",
                        attribution="generated", license="none")


def test_train_records_split_selection_and_test_metrics():
    from skimage.metrics import structural_similarity

    data = _data()
    model = train(data, method="mr", size=3, seed=5, ridge=True, residual=False)
    meta = model.meta
    parts = split_data(data, seed=5)
    (tr_ids, _, _), (va_ids, _, _), (te_ids, Xte, Tte) = parts
    td = meta["training_data"]
    assert td["test_ids"] == te_ids and td["val_ids"] == va_ids and td["split_seed"] == 5
    assert (td["n_train"], td["n_val"], td["n_test"]) == (len(tr_ids), len(va_ids), len(te_ids))
    assert not set(te_ids) & (set(tr_ids) | set(va_ids))
    assert meta["source"] == "neutral" and meta["target"] == "happy"
    assert meta["lam"] in LAM_GRID and meta["lam"] == meta["metrics"]["selection"]["lam"]
    # the chosen lam is the argmin of the recorded search
    tried = meta["metrics"]["selection"]["tried"]
    assert meta["lam"] == min(tried, key=lambda row: row[2])[0]
    # test metrics recomputed independently
    Y = np.clip(model.predict(Xte.astype(np.float32) / 255), 0, 1)
    Tf = Tte.astype(np.float32) / 255
    assert meta["metrics"]["mse"] == pytest.approx(np.mean((Y - Tf) ** 2), rel=1e-5)
    ssim = np.mean([structural_similarity(y, t, channel_axis=-1, data_range=1)
                    for y, t in zip(Y, Tf, strict=True)])
    assert meta["metrics"]["ssim"] == pytest.approx(ssim, abs=1e-5)
    base = meta["metrics"]["baselines"]
    assert set(base) == {"identity", "mean_target", "ridge_l2"}
    assert meta["metrics"]["mse"] < base["identity"]["mse"]


def test_train_with_fixed_lam_skips_the_search_and_fits_train_plus_val():
    from fesgui.core import MaskedRegression

    data = _data()
    model = train(data, method="mr", size=3, lam=0.4, ridge=False, residual=False)
    assert model.lam == 0.4 and "selection" not in model.meta["metrics"]
    (_, Xtr, Ttr), (_, Xva, Tva), _ = split_data(data, seed=0)
    ref = MaskedRegression(size=3, lam=0.4).fit(
        np.concatenate([Xtr, Xva]).astype(np.float32) / 255,
        np.concatenate([Ttr, Tva]).astype(np.float32) / 255)
    np.testing.assert_allclose(model.weights_, ref.weights_, atol=1e-6)


def test_train_rejects_duplicate_identities():
    data = _data(6)
    data.ids[1] = data.ids[0]
    with pytest.raises(FesguiError, match="twice"):
        train(data, lam=0.4)


def test_compact_difference_is_measured_against_the_saved_file(tmp_path):
    from fesgui.core import load_model

    data = _data(8, 12)
    model = train(data, method="pixel-kr", lam=0.4, sigma=0.5, ridge=False)
    X = data.X.astype(np.float32) / 255
    diff = compact_difference(model, X)
    model.save(tmp_path / "m.npz", compact=True)
    ref = np.abs(np.clip(load_model(tmp_path / "m.npz").predict(X), 0, 1)
                 - np.clip(model.predict(X), 0, 1)) * 255
    assert diff["max_abs_255"] == pytest.approx(ref.max(), abs=1e-3)
    assert 0 < diff["max_abs_255"] <= 0.5 + 1e-3  # uint8 tables: at most half a level


def test_a_change_fit_chooses_the_least_mse_among_lams_that_keep_the_mouth():
    from fesgui.evaluation.expression import mouth_kept
    from fesgui.training import CHANGE_LAM_GRID, KEEP_CHROMA, KEEP_DETAIL

    data = _data(24, 32)
    model = train(data, method="mr", size=3, seed=2, ridge=False)   # residual by default
    sel = model.meta["metrics"]["selection"]
    assert model.meta["training_data"]["fit"].startswith("change")
    assert [row[0] for row in sel["tried"]] == list(CHANGE_LAM_GRID)
    kept = sel["mouth_kept"]
    ok = [k for k, (c, d) in enumerate(kept) if c >= KEEP_CHROMA and d >= KEEP_DETAIL]
    pool = ok or [max(range(len(kept)), key=lambda k: min(kept[k][0] / KEEP_CHROMA,
                                                          kept[k][1] / KEEP_DETAIL))]
    best = min(pool, key=lambda k: sel["tried"][k][2])
    assert model.lam == sel["tried"][best][0]
    # the recorded mouth measures, recomputed from a model fitted on train only
    from fesgui.core import MaskedRegression, fit_change

    (_, Xtr, Ttr), (_, Xva, _), _ = split_data(data, seed=2)
    f = [np.asarray(a, np.float32) / 255 for a in (Xtr, Ttr, Xva)]
    k = list(CHANGE_LAM_GRID).index(model.lam)
    ref = fit_change(MaskedRegression(size=3, lam=model.lam), f[0], f[1])
    assert mouth_kept(ref.predict(f[2]), f[2]) == pytest.approx(tuple(kept[k]), abs=1e-3)


def test_a_change_fit_with_fixed_lam_is_fit_change_on_train_plus_val():
    from fesgui.core import MaskedRegression

    data = _data()
    model = train(data, method="mr", size=3, lam=3.0, ridge=False)
    (_, Xtr, Ttr), (_, Xva, Tva), _ = split_data(data, seed=0)
    X = np.concatenate([Xtr, Xva]).astype(np.float32) / 255
    T = np.concatenate([Ttr, Tva]).astype(np.float32) / 255
    change = MaskedRegression(size=3, lam=3.0).fit(X, T - X)   # independent: T - X, then + X
    np.testing.assert_allclose(model.predict(X[:2]), change.predict(X[:2]) + X[:2], atol=1e-5)


def test_pairs_with_landmarks_give_a_model_with_a_shape_field():
    from fesgui.align import Template, warp_crop

    data = _data(20, 64)
    t = Template.load()
    rng = np.random.default_rng(0)
    base = t.in_crop(64, t.points)                       # 5 points per face
    grid = np.stack(np.meshgrid(np.linspace(20, 44, 6), np.linspace(24, 48, 6)), -1).reshape(-1, 2)
    pts = np.vstack([base, grid])
    src = pts[None] + rng.normal(0, 0.3, (20, *pts.shape))
    tgt = src.copy()
    tgt[:, :, 0] += 1.5 * (pts[None, :, 1] > 40)          # the lower face moves right
    data.mesh_X, data.mesh_T, data.alignment = src, tgt, "eyes-mouth"
    model = train(data, method="mr", size=3, lam=3.0, ridge=False)
    field = model.shape_field_
    assert field is not None and field.shape == (64, 64, 2)
    assert model.meta["alignment"] == "eyes-mouth" and model.meta["shape"]["n_pairs"] == 18
    assert field[44, 32, 0] == pytest.approx(-1.5, abs=0.4)   # fetch from the left
    assert abs(field[28, 32, 0]) < 0.4                       # the upper face stays
    assert "shape_only" in model.meta["metrics"]["baselines"]
    # the appearance model was fitted on inputs warped by the field
    (_, Xtr, Ttr), (_, Xva, Tva), _ = split_data(data, seed=0)
    X = np.concatenate([Xtr, Xva]).astype(np.float32) / 255
    T = np.concatenate([Ttr, Tva]).astype(np.float32) / 255
    Xw = np.stack([warp_crop(x, field) for x in X])
    from fesgui.core import MaskedRegression, fit_change

    ref = fit_change(MaskedRegression(size=3, lam=3.0), Xw, T)
    np.testing.assert_allclose(model.weights_, ref.weights_, atol=1e-5)
    # without meshes, or with shape=False, no field
    assert train(data, lam=3.0, ridge=False, shape=False).shape_field_ is None


def test_method_labels_and_model_names():
    from fesgui.names import file_tag, method_label, model_name

    mr = {"method": "mr", "size": 5, "dilation": 1, "color": "shared", "image_size": [128, 128]}
    assert method_label(mr) == "MR 5x5" and method_label(mr, times="×") == "MR 5×5"
    assert method_label({**mr, "dilation": 2}) == "MR 5x5 dilation 2"
    assert model_name(mr, "neutral", "happy") == "neutral -> happy, MR 5x5 (shared colour), 128 px"
    kr = {"method": "pixel-kr", "size": 1, "color": "per-channel", "image_size": [96, 64]}
    assert model_name(kr, "happy", "neutral") == \
        "happy -> neutral, Pixel-KR (per-channel colour), 96x64 px"
    assert method_label({"method": "lsrf"}) == "lsrf" and method_label({}) == "?"
    assert [file_tag(m, 3) for m in ("mr", "pixel-rr", "pixel-kr")] == ["mr3", "pixelrr",
                                                                         "pixelkr"]
