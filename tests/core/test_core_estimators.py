"""scikit-learn's estimator conventions on every fesgui model: get_params / set_params,
clone, fit leaving the hyper-parameters as given, check_is_fitted, behaviour by class, and
provenance kept through save / load. Plus: every shipped model file, loaded and saved
again, gives back its own bytes."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import numpy as np
import pytest

import fesgui
from fesgui.core import (
    MaskedRegression,
    Model,
    PixelKernelRegression,
    PixelRegression,
    Provenance,
    SparseReceptiveField,
    check_is_fitted,
    from_csr,
    load_model,
    to_csr,
)
from fesgui.core.modelio import file_meta, model_class
from fesgui.errors import FesguiError

SHIPPED = sorted((Path(fesgui.__file__).parent / "models").glob("*.npz"))

#: (class, hyper-parameters different from the defaults, as a user could give them)
ESTIMATORS = [
    (MaskedRegression, {"size": 5, "dilation": 2, "lam": 1, "color": "per-channel"}),
    (PixelRegression, {"lam": np.float32(0.25), "color": "gray"}),
    (PixelKernelRegression, {"sigma": 1, "lam": 0.5, "color": "shared"}),
    (SparseReceptiveField, {"color": "per-channel", "preprocess": "minmax",
                            "template": None}),
]
IDS = [cls.__name__ for cls, _ in ESTIMATORS]


def _init_names(cls: type) -> set[str]:
    return {n for n in inspect.signature(cls.__init__).parameters if n != "self"}


def _sparse_model(color: str = "shared", **params) -> SparseReceptiveField:
    """A small sparse model imported from a random 2-taps-per-pixel CSR matrix."""
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    H, W = 6, 7
    D = H * W
    k = 3 if color == "per-channel" else 1
    mats = []
    for _ in range(k):
        rows = np.concatenate([np.repeat(np.arange(D), 2), np.arange(D)])  # 2 taps + bias
        cols = np.concatenate([rng.integers(0, D, 2 * D), np.full(D, D)])
        mats.append(sp.csr_matrix((rng.standard_normal(3 * D), (rows, cols)),
                                  shape=(D, D + 1)))
    model = from_csr(mats, H, W, **params)
    assert isinstance(model, SparseReceptiveField)
    return model


@pytest.mark.parametrize("cls,params", ESTIMATORS, ids=IDS)
def test_get_params_are_the_init_arguments_stored_unchanged(cls, params):
    model = cls(**params)
    got = model.get_params()
    assert set(got) == _init_names(cls)
    for name, value in params.items():
        assert got[name] is value  # the very object given: not converted, not copied
    assert model.get_params(deep=False) == got
    defaults = {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()
                if n != "self"}
    assert cls().get_params() == defaults


@pytest.mark.parametrize("cls,params", ESTIMATORS, ids=IDS)
def test_set_params_round_trip_and_clone(cls, params):
    model = cls()
    assert model.set_params(**params) is model
    assert model.get_params() == cls(**params).get_params()
    clone = type(model)(**model.get_params())
    assert clone is not model and not clone.fitted
    assert clone.get_params() == model.get_params()
    assert clone.provenance == Provenance()


@pytest.mark.parametrize("cls,params", ESTIMATORS, ids=IDS)
def test_set_params_refuses_an_unknown_name_in_one_line(cls, params):
    model = cls(**params)
    good = next(iter(params))
    for bad in ("alpha", "weights_", "method"):
        with pytest.raises(FesguiError) as exc:
            model.set_params(**{good: "changed", bad: 1})
        assert "\n" not in str(exc.value) and bad in str(exc.value)
    assert model.get_params() == cls(**params).get_params()  # nothing was set


@pytest.mark.parametrize("cls,params", ESTIMATORS[:3], ids=IDS[:3])
def test_fit_leaves_the_hyper_parameters_as_given(cls, params, rgb_pairs):
    X, T = rgb_pairs
    model = cls(**params)
    before = model.get_params()
    model.fit(X, T)
    after = model.get_params()
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)  # same objects, types kept
    # the effective values are the fitted attributes, and the file meta shows them
    meta = model.meta
    assert model.lam_ == float(params["lam"]) and type(model.lam_) is float
    assert meta["lam"] == model.lam_ and meta["color"] == params["color"] == model.color_
    if cls is MaskedRegression:
        assert (model.size_, model.dilation_) == (5, 2) == (meta["size"], meta["dilation"])
        assert model.taps().shape == (25, 2) and np.abs(model.taps()).max() == 4
    else:
        assert (model.size_, model.dilation_, meta["size"], meta["dilation"]) == (1, 1, 1, 1)
    assert model.sigma_ == (1.0 if cls is PixelKernelRegression else None) == meta["sigma"]


def test_fitted_model_keeps_what_it_learned_after_set_params(rgb_pairs):
    """set_params changes what the NEXT fit does; the fitted window stays the one the
    weights were learned for (predict, taps, meta), and refitting applies the new one."""
    X, T = rgb_pairs
    model = MaskedRegression(size=3, lam=0.4).fit(X, T)
    y = model.predict(X[0])
    model.set_params(size=5, lam=2.0)
    np.testing.assert_array_equal(model.predict(X[0]), y)
    assert (model.meta["size"], model.meta["lam"], model.taps().shape) == (3, 0.4, (9, 2))
    model.fit(X, T)
    assert (model.size_, model.lam_, model.weights_.shape[-1]) == (5, 2.0, 25)
    ref = MaskedRegression(size=5, lam=2.0).fit(X, T)
    np.testing.assert_array_equal(model.weights_, ref.weights_)


def test_bad_hyper_parameters_fail_at_fit_not_at_construction(rgb_pairs):
    X, T = rgb_pairs
    model = MaskedRegression(size=4)  # stored as given, as scikit-learn does
    assert model.size == 4
    with pytest.raises(FesguiError, match="size=4"):
        model.fit(X, T)
    assert not model.fitted
    with pytest.raises(FesguiError, match="sigma=-1"):
        PixelKernelRegression(sigma=-1).fit(X, T)
    with pytest.raises(FesguiError, match="preprocess=.*sometimes.* is unknown"):
        _sparse_model(preprocess="sometimes")


def test_sparse_model_params_kept_and_effective_values_fitted():
    model = _sparse_model(preprocess="minmax")
    assert model.preprocess == "minmax" and model.template is None
    assert model.preprocess_ == {"input": "minmax", "output": "minmax"}
    assert model.lam_ is None and model.meta["preprocess"] == model.preprocess_
    clone = type(model)(**model.get_params())
    assert not clone.fitted and clone.get_params() == model.get_params()


@pytest.mark.parametrize("cls,params", ESTIMATORS, ids=IDS)
def test_check_is_fitted(cls, params, rgb_pairs):
    model = cls(**params)
    with pytest.raises(FesguiError) as exc:
        check_is_fitted(model)
    assert cls.__name__ in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(FesguiError, match="not fitted"):
        model.predict(rgb_pairs[0][0])
    fitted = _sparse_model(**params) if cls is SparseReceptiveField else model.fit(*rgb_pairs)
    check_is_fitted(fitted)  # no error


def test_behaviour_by_class_not_by_method_string(rgb_pairs):
    """What the class says it is agrees with what it does: the table models are not
    linear (no CSR export), only the sparse model reads positions of its own, and every
    method name maps back to its class (the loader builds models that way)."""
    X, T = rgb_pairs
    kr = PixelKernelRegression(sigma=0.5).fit(X, T)
    assert kr.has_table and kr.local_window and hasattr(kr, "table_")
    with pytest.raises(FesguiError, match="not linear"):
        to_csr(kr)
    sparse = _sparse_model()
    assert not sparse.local_window and not sparse.has_table
    assert sparse.tap_positions(0, 0).shape == (sparse.n_taps, 2)
    for cls, _ in ESTIMATORS:
        assert model_class(cls.method) is cls
        assert cls.has_table == hasattr(cls, "_set_table")
    rr = PixelRegression().fit(X, T)
    assert not rr.has_table and rr.local_window and len(to_csr(rr)) == 1


@pytest.mark.parametrize("cls,params", ESTIMATORS, ids=IDS)
def test_provenance_survives_save_and_load(cls, params, rgb_pairs, tmp_path):
    model = _sparse_model(**params) if cls is SparseReceptiveField else cls(**params).fit(
        *rgb_pairs)
    info = {"test_ids": ["a", "b"], "n": 3}
    model.set_provenance(source="neutral", target="happy", name="a name", metrics={"mse": 0.5},
                         training_data=info, alignment="eyes-mouth")
    info["n"] = 4  # the model holds its own copy
    loaded = load_model(model.save(tmp_path / "m.npz"))
    assert type(loaded) is cls
    assert loaded.provenance == model.provenance
    assert loaded.provenance.training_data == {"test_ids": ["a", "b"], "n": 3}
    assert dict(loaded.meta) == {**file_meta(model), "storage": "full"}
    assert loaded.get_params().keys() == model.get_params().keys()
    for name in ("lam_", "color_", "size_", "dilation_", "sigma_"):
        assert getattr(loaded, name) == getattr(model, name)
    with pytest.raises(FesguiError, match="provenance field 'nmae'"):
        loaded.set_provenance(nmae="typo")
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.provenance.name = "x"  # type: ignore[misc]


def test_every_model_class_is_covered():
    """A new estimator class must be added to ESTIMATORS (and so to these tests)."""
    from fesgui.core import base

    assert {cls.method for cls, _ in ESTIMATORS} == set(base.METHODS)
    assert all(issubclass(cls, Model) for cls, _ in ESTIMATORS)


@pytest.mark.skipif(not SHIPPED, reason="no shipped models in this checkout")
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_model_saves_back_to_the_same_bytes(path, tmp_path):
    model = load_model(path)
    compact = model.storage_ == "compact"
    out = model.save(tmp_path / path.name, compact=compact)
    assert out.read_bytes() == path.read_bytes()
