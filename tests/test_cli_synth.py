"""``fesgui synth`` end to end through ``fesgui.cli.main``, on synthetic faces."""

from __future__ import annotations

import numpy as np
import pytest
from image_files import craft_png_header, make_read_only
from PIL import Image

from fesgui.align import Template, parse_landmarks
from fesgui.cli import main
from fesgui.core import MaskedRegression
from fesgui.imageio import read_image, write_image
from fesgui.synthetic import make_face, make_pairs


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    X, T = make_pairs(30, 64, 64, seed=3)
    path = tmp_path_factory.mktemp("models") / "tiny_mr3_64.npz"
    MaskedRegression(size=3).fit(X, T).save(path)
    return path


@pytest.fixture
def photo(tmp_path):
    img, pts = make_face(200, 240, seed=5)
    path = tmp_path / "face.png"
    write_image(path, img)
    mouth = (pts[3] + pts[4]) / 2
    points = ",".join(f"{v:.1f}" for v in [*pts[0], *pts[1], *mouth])
    return path, img, points


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_synth_with_landmarks(tmp_path, model_path, photo, capsys):
    path, img, points = photo
    out = tmp_path / "out.png"
    assert main(["synth", str(path), "-m", str(model_path), "-o", str(out),
                 "--landmarks", points]) == 0
    res = read_image(out)
    assert res.shape == img.shape
    changed = (res != img).any(axis=2)
    assert changed.sum() > 200
    assert not changed[:20].any() and not changed[-20:].any()  # background untouched
    assert "wrote" in capsys.readouterr().out


def test_synth_options(tmp_path, model_path, photo):
    path, img, points = photo
    base = ["synth", str(path), "-m", str(model_path), "--landmarks", points]
    outs = {}
    for name, extra in {"full": ["--refine"], "raw": [], "none": ["--intensity", "0"],
                        "jpg": []}.items():
        out = tmp_path / (f"{name}.jpg" if name == "jpg" else f"{name}.png")
        assert main([*base, "-o", str(out), *extra]) == 0
        outs[name] = read_image(out)
    assert np.abs(outs["none"].astype(int) - img).max() <= 1
    assert (outs["raw"] != outs["full"]).any()
    with Image.open(tmp_path / "jpg.jpg") as im:
        assert im.format == "JPEG"


def test_the_alpha_map_options_reach_the_pipeline(tmp_path, model_path, photo, capsys):
    """--k, --tau, --dilation and --blur: the app's alpha-map sliders on the command line.
    The written photo is the pipeline's composite with those RefineParams."""
    from fesgui.core import load_model
    from fesgui.pipeline import Pipeline, RefineParams

    path, img, points = photo
    base = ["synth", str(path), "-m", str(model_path), "--landmarks", points]
    tuned = ["--k", "30", "--tau", "0.6", "--dilation", "2", "--blur", "0.5"]
    outs = {}
    for name, extra in {"default": ["--refine"], "tuned": ["--refine", *tuned],
                        "plain": [], "ignored": tuned, "one": ["--k", "30"]}.items():
        out = tmp_path / f"{name}.png"
        assert main([*base, "-o", str(out), *extra]) == 0
        outs[name] = read_image(out)
    params = RefineParams(enabled=True, k=30, tau=0.6, dilation_radius=2, blur_sigma=0.5)
    with Pipeline(load_model(model_path), params=params) as pipeline:
        expect = pipeline.process(img, parse_landmarks(points)).composite
    assert np.array_equal(outs["tuned"], expect)
    assert (outs["tuned"] != outs["default"]).any()
    # without --refine they change nothing, and a warning says so
    assert np.array_equal(outs["ignored"], outs["plain"])
    assert np.array_equal(outs["one"], outs["plain"])
    warned = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning:")]
    assert warned == ["warning: --k, --tau, --dilation, --blur act only with --refine: add "
                      "it to use them", "warning: --k acts only with --refine: add it to use it"]


def test_synth_on_an_aligned_face(tmp_path, model_path):
    crop, _ = make_face(64, 64, seed=8)
    src = tmp_path / "crop.png"
    write_image(src, crop)
    out = tmp_path / "out.png"
    assert main(["synth", str(src), "-m", str(model_path), "-o", str(out), "--aligned",
                 "--no-refine"]) == 0
    from fesgui.core import load_model

    expect = np.clip(load_model(model_path).predict(crop.astype(np.float32) / 255), 0, 1)
    assert np.abs(read_image(out).astype(int) - np.rint(expect * 255)).max() <= 1


def test_aligned_face_of_the_wrong_size(tmp_path, model_path, capsys):
    src = tmp_path / "crop.png"
    write_image(src, make_face(80, 64)[0])
    out = tmp_path / "out.png"
    assert main(["synth", str(src), "-m", str(model_path), "-o", str(out), "--aligned"]) == 2
    assert "64x64" in _error_line(capsys)
    assert not out.exists()


def test_installed_model_by_name(tmp_path, model_path, photo, monkeypatch, capsys):
    monkeypatch.setenv("FESGUI_MODELS", str(model_path.parent))
    path, _, points = photo
    out = tmp_path / "named.png"
    assert main(["synth", str(path), "-m", "tiny_mr3_64", "-o", str(out),
                 "--landmarks", points]) == 0
    assert out.exists()
    assert main(["synth", str(path), "-m", "nonexistent", "-o", str(out), "--landmarks",
                 points]) == 2
    assert "tiny_mr3_64" in _error_line(capsys)


def test_no_face_and_no_points_is_exit_2_without_output(tmp_path, model_path, capsys):
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((160, 160, 3), 120, np.uint8))
    out = tmp_path / "out.png"
    assert main(["synth", str(blank), "-m", str(model_path), "-o", str(out)]) == 2
    assert "no face found" in _error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png"]


@pytest.mark.parametrize("args, match", [
    (["--landmarks", "1,2,3"], "has 3 numbers"),
    (["--landmarks", "1000,10,1100,10,1050,90"], "outside"),
    (["--intensity", "7"], "out of range"),
    (["--shape", "-1"], "--shape -1 is out of range"),  # as typed, not -1.0
    (["--appearance", "nan"], "--appearance nan is out of range"),
    (["--aligned", "--landmarks", "1,2,3,4,5,6"], "exclude"),
])
def test_bad_options_are_one_line(tmp_path, model_path, photo, capsys, args, match):
    path, _, _ = photo
    out = tmp_path / "out.png"
    assert main(["synth", str(path), "-m", str(model_path), "-o", str(out), *args]) == 2
    assert match in _error_line(capsys)
    assert not out.exists()


def _bad_images(folder):
    good = make_face(64, 64)[0]
    files = {}
    files["empty.jpg"] = b""
    buf = folder / "tmp.jpg"
    write_image(buf, good)
    data = buf.read_bytes()
    buf.unlink()
    files["truncated.jpg"] = data[: len(data) // 3]
    files["text.jpg"] = b"hello, I am a text file\n" * 10
    for name, content in files.items():
        (folder / name).write_bytes(content)
    craft_png_header(folder / "bomb.png", 30000, 30000)
    return ["empty.jpg", "truncated.jpg", "text.jpg", "bomb.png"]


def test_bad_images_are_one_line_and_leave_no_output(tmp_path, model_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in _bad_images(inputs):
        out = tmp_path / f"{name}.out.png"
        code = main(["synth", str(inputs / name), "-m", str(model_path), "-o", str(out),
                     "--landmarks", "20,25,44,25,32,45"])
        assert code == 2, name
        _error_line(capsys)
        assert not out.exists()


@pytest.mark.parametrize("kind", ["gray", "rgba", "palette", "sixteen", "cmyk", "exif"])
def test_unusual_images_work(tmp_path, model_path, kind):
    img, pts = make_face(120, 120, seed=2)
    path = tmp_path / f"in_{kind}.png"
    pil = Image.fromarray(img)
    if kind == "gray":
        pil.convert("L").save(path)
    elif kind == "rgba":
        pil.convert("RGBA").save(path)
    elif kind == "palette":
        pil.convert("P", palette=Image.Palette.ADAPTIVE).save(path)
    elif kind == "sixteen":
        Image.fromarray(img[:, :, 0].astype(np.uint16) * 257).save(path)
    elif kind == "cmyk":
        path = path.with_suffix(".jpg")
        pil.convert("CMYK").save(path, quality=95)
    else:
        path = path.with_suffix(".jpg")
        exif = Image.Exif()
        exif[0x0112] = 3  # upside down: the reader turns it back
        Image.fromarray(img[::-1, ::-1]).save(path, exif=exif, quality=95)
    mouth = (pts[3] + pts[4]) / 2
    points = ",".join(f"{v:.1f}" for v in [*pts[0], *pts[1], *mouth])
    out = tmp_path / "out.png"
    assert main(["synth", str(path), "-m", str(model_path), "-o", str(out),
                 "--landmarks", points]) == 0
    res = read_image(out)
    assert res.shape == (120, 120, 3)
    if kind == "exif":  # upright again: the top rows are background, as in the original
        assert np.abs(res[:10].astype(int) - img[:10]).mean() < 6


def test_non_ascii_names(tmp_path, model_path, photo):
    path, img, points = photo
    src = tmp_path / "Gesicht_äöü_笑顔.png"
    src.write_bytes(path.read_bytes())
    out = tmp_path / "résultat_笑.png"
    assert main(["synth", str(src), "-m", str(model_path), "-o", str(out),
                 "--landmarks", points]) == 0
    assert read_image(out).shape == img.shape


def test_read_only_output_folder(tmp_path, model_path, photo, monkeypatch, capsys):
    path, _, points = photo
    ro = tmp_path / "ro"
    ro.mkdir()
    make_read_only(monkeypatch, ro)
    try:
        assert main(["synth", str(path), "-m", str(model_path), "-o", str(ro / "o.png"),
                     "--landmarks", points]) == 2
        assert "read-only" in _error_line(capsys)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_bad_output_names(tmp_path, model_path, photo, capsys):
    path, _, points = photo
    for out, match in [(tmp_path / "o.gif", ".png or .jpg"),
                       (tmp_path / "missing" / "o.png", "does not exist")]:
        assert main(["synth", str(path), "-m", str(model_path), "-o", str(out),
                     "--landmarks", points]) == 2
        assert match in _error_line(capsys)


def test_manual_points_land_on_the_template(photo):
    """The --landmarks parser and the template agree on where eyes and mouth go."""
    _, img, points = photo
    lm = parse_landmarks(points)
    t = Template.load()
    m = t.matrix(lm, 64)
    eyes = lm.points[:2] @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(eyes, t.in_crop(64)[:2], atol=1.5)


@pytest.fixture(scope="module")
def shape_model_path(tmp_path_factory):
    """A model whose appearance is the identity and whose shape field moves the mouth."""
    from fesgui.align import face_mask

    X, _ = make_pairs(8, 64, 64, seed=4)
    model = MaskedRegression(size=1, lam=1e9).fit(X, X)   # ~ predict(x) = 0
    model.add_identity()                                   # ~ predict(x) = x
    field = np.zeros((64, 64, 2), np.float32)
    field[38:52, 18:46, 0] = 2.0
    model.set_shape(field * face_mask(64)[..., None])
    model.set_provenance(alignment="eyes-mouth")
    path = tmp_path_factory.mktemp("shape") / "n2h_shape_64.npz"
    return model.save(path)


def test_shape_and_appearance_strengths(tmp_path, shape_model_path, photo):
    path, img, points = photo
    outs = {}
    for name, extra in {"both": [], "no-shape": ["--shape", "0"],
                        "no-intensity": ["--intensity", "0"],
                        "strong": ["--shape", "2", "--appearance", "0"]}.items():
        out = tmp_path / f"{name}.png"
        assert main(["synth", str(path), "-m", str(shape_model_path), "-o", str(out),
                     "--landmarks", points, *extra]) == 0
        outs[name] = read_image(out)
    moved = (outs["both"] != img).any(axis=2)
    assert moved.sum() > 50                                  # the field moved the mouth
    assert np.abs(outs["no-shape"].astype(int) - img).max() <= 1   # identity appearance
    assert np.array_equal(outs["no-intensity"], img)
    assert (outs["strong"] != img).any(axis=2).sum() >= moved.sum()


def test_without_m_the_default_model_is_used(tmp_path, model_path, photo, monkeypatch):
    import fesgui.catalog

    monkeypatch.setenv("FESGUI_MODELS", str(model_path.parent))
    monkeypatch.setattr(fesgui.catalog, "DEFAULT_MODEL", "tiny_mr3_64")
    path, _, points = photo
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["synth", str(path), "-o", str(a), "--landmarks", points]) == 0
    assert main(["synth", str(path), "-m", "tiny_mr3_64", "-o", str(b), "--landmarks",
                 points]) == 0
    assert np.array_equal(read_image(a), read_image(b))


def test_the_shipped_default_model_exists_and_is_marked(capsys):
    from fesgui.catalog import DEFAULT_MODEL, list_models

    names = [i.name for i in list_models()]
    assert DEFAULT_MODEL in names
    assert main(["models"]) == 0
    assert f"{DEFAULT_MODEL} (default)" in capsys.readouterr().out
