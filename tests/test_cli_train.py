"""``fesgui train`` and ``fesgui models`` from the command line, on synthetic faces."""

from __future__ import annotations

import numpy as np
import pytest
from test_data import FakeSource, write_synthetic_set

from fesgui.cli import main
from fesgui.core import load_model, read_meta
from fesgui.imageio import write_image
from fesgui.synthetic import make_pairs


def _aligned_folders(tmp_path, n=8, size=24):
    X, T = make_pairs(n, size, size, seed=1)
    a, b = tmp_path / "in", tmp_path / "out"
    a.mkdir()
    b.mkdir()
    for i in range(n):
        write_image(a / f"f{i}.png", X[i])
        write_image(b / f"f{i}.png", T[i])
    write_image(a / "lonely.png", X[0])  # no partner: reported, not fatal
    return a, b


def test_train_inputs_targets_with_fixed_lam(tmp_path, capsys):
    a, b = _aligned_folders(tmp_path)
    out = tmp_path / "m.npz"
    code = main(["train", "--inputs", str(a), "--targets", str(b), "--method", "mr",
                 "--size", "3", "--dilation", "2", "--lam", "0.4", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "lonely.png" in captured.err
    model = load_model(out)
    meta = model.meta
    assert (meta["method"], meta["size"], meta["dilation"], meta["lam"]) == ("mr", 3, 2, 0.4)
    assert meta["image_size"] == [24, 24] and meta["color"] == "shared"
    assert meta["training_data"]["n_train"] + meta["training_data"]["n_val"] == 7
    assert meta["metrics"]["mse"] > 0 and "test MSE" in captured.out


def test_train_inputs_targets_cv_per_channel_compact(tmp_path, capsys):
    a, b = _aligned_folders(tmp_path)
    out = tmp_path / "m.npz"
    code = main(["train", "--inputs", str(a), "--targets", str(b), "--method", "pixel-rr",
                 "--color", "per-channel", "--cv", "--compact", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    meta = read_meta(out)
    assert meta["storage"] == "compact" and meta["color"] == "per-channel"
    from fesgui.training import CHANGE_LAM_GRID, LAM_GRID

    # the change fit (the default) searches its own grid; --fit target the papers' grid
    assert [row[0] for row in meta["metrics"]["selection"]["tried"]] == list(CHANGE_LAM_GRID)
    paper = tmp_path / "paper.npz"
    assert main(["train", "--inputs", str(a), "--targets", str(b), "--method", "pixel-rr",
                 "--fit", "target", "-o", str(paper)]) == 0
    assert [row[0] for row in read_meta(paper)["metrics"]["selection"]["tried"]] == list(LAM_GRID)


def test_train_pairs_aligns_unaligned_photos(tmp_path, capsys, monkeypatch):
    import fesgui.align.mediapipe_source as mps

    source = FakeSource()
    write_synthetic_set(tmp_path / "photos", 6, source, size=96)
    write_image(tmp_path / "photos" / "neutral" / "050_03.png", np.zeros((64, 64, 3), np.uint8))
    write_image(tmp_path / "photos" / "smiling" / "050_08.png", np.zeros((64, 64, 3), np.uint8))
    write_image(tmp_path / "photos" / "smiling" / "060_08.png", np.zeros((64, 64, 3), np.uint8))
    monkeypatch.setattr(mps, "MediaPipeSource", lambda **kw: source)
    out = tmp_path / "kr.npz"
    code = main(["train", "--pairs", str(tmp_path / "photos"), "--source", "smiling",
                 "--target", "neutral", "--method", "pixel-kr", "--lam", "0.4", "--sigma", "1",
                 "--crop", "32", "--cache", str(tmp_path / "cache"), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "id 060: has a happy image but no neutral image" in captured.err
    assert "050_03.png: no face found" in captured.err
    meta = read_meta(out)
    assert (meta["source"], meta["target"]) == ("happy", "neutral")
    assert meta["image_size"] == [32, 32] and meta["sigma"] == 1.0
    assert meta["training_data"]["n_test"] == 1


@pytest.mark.parametrize(("argv", "needle"), [
    (["train"], "exactly one of"),
    (["train", "--pairs", "A", "--release", "B", "-o", "m.npz"], "exactly one of"),
    (["train", "--targets", "B", "-o", "m.npz"], "--targets needs --inputs"),
    (["train", "--inputs", "A", "-o", "m.npz"], "--inputs needs --targets"),
    (["train", "--pairs", "{tmp}"], "no output file"),
    (["train", "--pairs", "{tmp}", "-o", "m.txt"], "must end in .npz"),
    (["train", "--pairs", "{tmp}", "--size", "4", "-o", "{tmp}/m.npz"], "--size 4 must be odd"),
    (["train", "--pairs", "{tmp}", "--lam", "-1", "-o", "{tmp}/m.npz"], "--lam -1.0 must be > 0"),
    (["train", "--pairs", "{tmp}/missing", "-o", "{tmp}/m.npz"], "does not exist"),
    (["train", "--pairs", "{tmp}", "-o", "{tmp}/m.npz"], "no training pairs found"),
    (["train", "--pairs", "{tmp}", "-o", "{tmp}/nodir/m.npz"], "does not exist"),
    (["train", "--release", "{tmp}/missing"], "does not exist"),
    (["train", "--release", "{tmp}", "-o", "{tmp}"], "no neutral/smiling pairs"),
    (["train", "--release", "{tmp}", "--only", "nothing", "-o", "{tmp}"], "matches no"),
    (["train", "--pairs", "{tmp}", "--only", "x", "-o", "{tmp}/m.npz"], "--only works with"),
    (["train", "--release", "{tmp}", "--jobs", "0"], "--jobs 0 must be >= 1"),
])
def test_train_errors_are_one_line_exit_2(tmp_path, capsys, argv, needle):
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err, err


def test_too_few_pairs_is_explained(tmp_path, capsys):
    a, b = _aligned_folders(tmp_path, n=2)
    code = main(["train", "--inputs", str(a), "--targets", str(b), "-o",
                 str(tmp_path / "m.npz")])
    assert code == 2 and "at least 3 people" in capsys.readouterr().err


def test_models_lists_a_folder(tmp_path, capsys):
    a, b = _aligned_folders(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    assert main(["train", "--inputs", str(a), "--targets", str(b), "--lam", "1",
                 "-o", str(models / "mine.npz")]) == 0
    (models / "junk.npz").write_bytes(b"not a model")
    capsys.readouterr()
    assert main(["models", "--folder", str(models)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] == "name"
    meta = read_meta(models / "mine.npz")
    fields = lines[1].split()
    assert fields[0] == "mine" and "MR 3x3" in lines[1] and "in -> out" in lines[1]
    assert "24x24" in fields and f"{100 * meta['metrics']['mse']:.3f}" == fields[-1]


def test_a_dilated_model_reads_alike_in_its_file_and_in_fesgui_models(tmp_path, capsys):
    """One label (fesgui.names) for the name stored in the file and the model list."""
    a, b = _aligned_folders(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    assert main(["train", "--inputs", str(a), "--targets", str(b), "--size", "3",
                 "--dilation", "2", "--lam", "1", "-o", str(models / "wide.npz")]) == 0
    assert read_meta(models / "wide.npz")["name"] == \
        "in -> out, MR 3x3 dilation 2 (shared colour), 24 px"
    capsys.readouterr()
    assert main(["models", "--folder", str(models)]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.split("  ")[0] == "wide" and "  MR 3x3 dilation 2  " in row


def test_models_empty_and_missing_folder(tmp_path, capsys):
    assert main(["models", "--folder", str(tmp_path)]) == 0
    assert "no models" in capsys.readouterr().out
    assert main(["models", "--folder", str(tmp_path / "nope")]) == 2
