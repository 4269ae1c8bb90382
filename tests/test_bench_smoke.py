"""The benchmark code runs at tiny sizes so it cannot rot.

These tests check the *structure* of the results (keys, finite positive numbers, the
JSON file, the CLI) and the baselines' own correctness; they never judge a timing.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fesgui import benchmarks
from fesgui.benchmarks import Config
from fesgui.benchmarks.harness import Row, Section, Summary, format_table, to_json, write_json
from fesgui.cli import main
from fesgui.errors import FesguiError

TINY = Config.tiny()


def _check_summary(s: Summary) -> None:
    values = [s.p5, s.p25, s.median, s.p75, s.p95]
    assert all(math.isfinite(v) and v > 0 for v in values), s
    assert values == sorted(values), s
    assert s.n >= 1


def _check_section(sec: Section, name: str) -> None:
    assert sec.name == name
    assert sec.skipped is None, sec.skipped + "\n" + "\n".join(sec.notes)
    assert sec.rows, f"{name} produced no rows"
    for row in sec.rows:
        assert isinstance(row, Row) and row.bench == name and row.case and row.metric
        if isinstance(row.value, Summary):
            _check_summary(row.value)
        elif row.metric.endswith("exponent"):
            assert math.isfinite(row.value)
        else:
            assert math.isfinite(row.value) and row.value > 0, row
        if row.ratio is not None:
            _check_summary(row.ratio)
            assert row.baseline is not None and row.baseline_name
        if row.target:
            assert row.met in (True, False)


@pytest.fixture(scope="module")
def predict_fit_kr() -> list[Section]:
    return benchmarks.run(["predict", "fit", "kr"], TINY)


def test_predict_rows(predict_fit_kr):
    sec = predict_fit_kr[0]
    _check_section(sec, "predict")
    cases = {r.case for r in sec.rows}
    assert cases == {"MR r=3 24px RGB", "Pixel-RR 24px RGB", "sparse LSRF f=1 24px RGB",
                     "sparse LSRF f=5 24px RGB", "sparse OMP f=5 24px RGB"}
    assert all(r.ratio is not None for r in sec.rows if "vs CSR" in r.target)
    # the sparse models are timed against their own CSR matrix (an outputs check ran)
    assert all(r.baseline_name == "CSR" and "agree" in r.note
               for r in sec.rows if r.case.startswith("sparse"))


def test_fit_rows(predict_fit_kr):
    sec = predict_fit_kr[1]
    _check_section(sec, "fit")
    assert sum(r.metric == "log-log exponent" for r in sec.rows) == 3
    loop = [r for r in sec.rows if r.ratio is not None]
    assert len(loop) == len(TINY.fit_rf) and "agree" in loop[0].note


def test_kr_rows(predict_fit_kr):
    sec = predict_fit_kr[2]
    _check_section(sec, "kr")
    assert any(r.baseline_name == "direct kernel" for r in sec.rows)


def test_pipeline_rows():
    (sec,) = benchmarks.run(["pipeline"], TINY)
    _check_section(sec, "pipeline")
    metrics = {r.metric for r in sec.rows}
    for stage in ("read", "landmarks", "align", "synthesize", "refine", "paste"):
        assert f"latency {stage} (wall)" in metrics
    fps = [r for r in sec.rows if r.metric == "frames per second (wall)"]
    assert len(fps) == len(TINY.live_crops)
    assert f"{TINY.live_frames} of {TINY.live_frames} frames had a face" in fps[0].note


def test_memory_rows():
    (sec,) = benchmarks.run(["memory"], TINY)
    _check_section(sec, "memory")
    assert any(r.metric == "peak RSS" and r.unit == "MiB" for r in sec.rows)
    params = [r for r in sec.rows if r.metric == "parameters"]
    assert params and all(float(r.value).is_integer() for r in params)


def test_gui_rows():
    (sec,) = benchmarks.run(["gui"], TINY)
    assert sec.skipped is None, sec.skipped + "\n" + "\n".join(sec.notes)
    by_metric = {r.metric: r for r in sec.rows}
    for metric in ("frames drawn per second, whole run (wall)",
                   "frames drawn per second, last 30 (wall)"):
        fps = by_metric[metric].value
        assert math.isfinite(fps) and fps >= 0  # 0 when a slowed-down app drew nothing yet
    # the app's steady rate: 0 when start-up took the whole (short) run
    assert by_metric["frames drawn per second, sustained (wall)"].value >= 0
    assert by_metric["peak RSS"].value > 50
    assert by_metric["window shown after"].value > 0


def test_param_count_against_explicit_window_count():
    from fesgui.benchmarks.memory import param_count
    from fesgui.core import MaskedRegression
    from fesgui.synthetic import make_pairs

    X, T = make_pairs(3, 8, 10, color=True)
    model = MaskedRegression(size=3, color="per-channel").fit(X, T)
    # in-image taps of a 3x3 window on 8x10: interior 9, edges 6, corners 4
    taps = 6 * 8 * 9 + 2 * (6 + 8) * 6 + 4 * 4
    assert param_count(model) == 3 * (taps + 8 * 10)


def test_parse_app_report():
    from fesgui.benchmarks.gui_worker import parse_app_report

    text = ("fesgui: window shown in 1.04 s; processed 33 live frames, drew 13 results "
            "(12 with a face)\nfesgui: last live frames: 5.4 fps drawn; 5.4 fps · dropped 177 "
            "· capture 1.8 · landmarks 58.3 · draw 27.0 ms\nfesgui: steady live rate: 29.97 "
            "fps drawn (524 frames in 17.48 s, the stream's first 2 s left out)\n")
    rep = parse_app_report(text)
    assert rep["processed"] == 33 and rep["drawn"] == 13 and rep["faces"] == 12
    assert rep["fps_drawn"] == 5.4 and rep["dropped"] == 177
    assert (rep["steady_fps"], rep["steady_frames"], rep["steady_s"]) == (29.97, 524, 17.48)
    assert rep["last_stages_ms"] == {"capture": 1.8, "landmarks": 58.3, "draw": 27.0}
    assert parse_app_report(text.splitlines()[0])["fps_drawn"] == 0.0
    with pytest.raises(AssertionError, match="did not print its summary"):
        parse_app_report("Traceback ...")


def test_table_and_json(predict_fit_kr, tmp_path):
    text = format_table(predict_fit_kr)
    assert "MR r=3 24px RGB" in text and "ratio" in text
    out = write_json(tmp_path / "sub" / "r.json", to_json(predict_fit_kr, {"mode": "tiny"}))
    data = json.loads(out.read_text())
    assert data["format"] == "fesgui-bench/1"
    assert set(data["benchmarks"]) == {"predict", "fit", "kr"}
    assert {"python", "numpy", "cpus", "date_utc"} <= set(data["environment"])
    row = data["benchmarks"]["predict"]["rows"][0]
    assert {"median", "p25", "p75", "p5", "p95", "n"} <= set(row["value"])
    assert isinstance(data["targets_missed"], list)
    assert not list(tmp_path.glob("sub/.*")), "temporary file left behind"


def test_window_features_match_zero_padding():
    rng = np.random.default_rng(0)
    X = rng.random((4, 6, 7))
    from fesgui.benchmarks.baselines import window_features

    padded = np.pad(X, ((0, 0), (2, 2), (2, 2)))
    for i, j in [(0, 0), (3, 4), (5, 6), (0, 6)]:
        F = window_features(X, i, j, 5)
        expect = padded[:, i:i + 5, j:j + 5].reshape(4, 25)
        np.testing.assert_array_equal(F[:, :25], expect)
        np.testing.assert_array_equal(F[:, 25], 1.0)


def test_ridge_loop_matches_dense_normal_equations():
    from fesgui.benchmarks.baselines import ridge_loop, window_features

    rng = np.random.default_rng(1)
    X, T = rng.random((9, 5, 5)), rng.random((9, 5, 5))
    w, b = ridge_loop(X, T, np.array([[0, 0], [2, 3]]), 3, 0.4)
    for p, (i, j) in enumerate([(0, 0), (2, 3)]):
        F = window_features(X, i, j, 3)
        sol = np.linalg.solve(F.T @ F + 0.4 * np.eye(10), F.T @ T[:, i, j])
        np.testing.assert_allclose(w[p], sol[:9], atol=1e-10)
        np.testing.assert_allclose(b[p], sol[9], atol=1e-10)


def test_random_local_csr_is_a_local_window():
    from fesgui.benchmarks.predict import random_local_csr

    A = random_local_csr(6, 5, 3, seed=2).tocoo()
    D = 30
    assert A.shape == (D, D + 1)
    taps = A.col < D
    dy = A.col[taps] // 5 - A.row[taps] // 5
    dx = A.col[taps] % 5 - A.row[taps] % 5
    assert np.abs(dy).max() == 1 and np.abs(dx).max() == 1
    # every pixel: one weight per in-image tap of its 3x3 window, plus a bias
    counts = np.bincount(A.row, minlength=D).reshape(6, 5)
    assert counts[0, 0] == 4 + 1 and counts[2, 2] == 9 + 1 and counts[0, 2] == 6 + 1


def test_only_parsing():
    assert benchmarks.parse_only(None) == list(benchmarks.BENCHMARKS)
    assert benchmarks.parse_only("fit,predict") == ["predict", "fit"]
    with pytest.raises(FesguiError, match="unknown benchmark 'nope'"):
        benchmarks.parse_only("predict,nope")


def test_cli_bad_only_is_one_line(capsys):
    assert main(["bench", "--only", "speed"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown benchmark") and "\n" not in err


def test_cli_bad_json_suffix(capsys, tmp_path):
    assert main(["bench", "--only", "predict", "--json", str(tmp_path / "x.txt")]) == 2
    assert "must end in .json" in capsys.readouterr().err


def test_default_json_keeps_latest_for_full_runs():
    from fesgui.commands.bench import default_json

    paths = [default_json(False), default_json(True), default_json(False, partial=True)]
    if paths[0] is None:
        pytest.skip("installed package: no benchmarks/results folder to default to")
    assert [p.name for p in paths] == ["latest.json", "latest-quick.json",
                                       "latest-partial.json"]


def test_cli_end_to_end_tiny(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(Config, "quick", classmethod(lambda cls: cls.tiny()))
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--only", "predict", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Pixel-RR 24px RGB" in printed and str(out) in printed
    data = json.loads(out.read_text())
    assert data["command"] == "fesgui bench --quick --only predict"
    assert data["settings"]["mode"] == "tiny"


def test_profile_script_runs_its_predict_breakdown(capsys):
    """benchmarks/profile_targets.py reaches into predict's internals: keep it working."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "profile_targets.py"
    spec = importlib.util.spec_from_file_location("profile_targets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.profile_predict()
    out = capsys.readouterr().out
    for step in ("whole predict", "input checks", "kernel (shared RGB)"):
        assert f"r=3 {step}" in out and f"r=5 {step}" in out, out


def test_slider_rows():
    (sec,) = benchmarks.run(["slider"], TINY)
    _check_section(sec, "slider")
    by_case = {(r.case, r.metric): r for r in sec.rows}
    judged = [r for r in sec.rows if r.metric == "slider-to-redraw latency" and r.target]
    assert len(judged) == 1 and "radius 40" in judged[0].case
    assert judged[0].value.n == TINY.slider_steps
    assert any("default dilation" in case for case, _ in by_case)
    dilation = [r for r in sec.rows if r.baseline_name.startswith("scipy grey_dilation")]
    assert len(dilation) == 1 and dilation[0].ratio is not None
