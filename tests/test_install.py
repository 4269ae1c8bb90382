"""Installing fesgui: the wheel carries its models, an installed copy works from any
folder, no display and a closed pipe end in one line, the optional extra is named when it
is missing, and (when asked: ``FESGUI_BUILD_APP=1``) the one-folder app builds and runs.

The wheel is built from a copy of the package, so the checkout gets no ``build/`` folder.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fesgui import __version__
from fesgui.cli import main
from fesgui.extras import EXTRAS
from fesgui.gui.app import check_display
from fesgui.imageio import read_image, write_image
from fesgui.synthetic import make_face

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fesgui"
SHIPPED = ("models", "resources")  # package-data folders: every file in them ships


def _shipped_files() -> list[str]:
    """Every file under fesgui/models and fesgui/resources, as wheel paths."""
    files = []
    for folder in SHIPPED:
        for path in sorted((PACKAGE / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files.append(path.relative_to(ROOT).as_posix())
    return files


def _clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The test's environment minus anything that points at the checkout or the user's
    folders: settings and caches in ``tmp``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "FESGUI_MODELS", "PYTHONSTARTUP")}
    env.update(FESGUI_SETTINGS_DIR=str(tmp / "settings"), FESGUI_CACHE=str(tmp / "cache"),
               NUMBA_CACHE_DIR=str(tmp / "numba"), **extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a copy of this checkout (``pip wheel --no-deps``)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "fesgui", ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    out = tmp / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(out), str(src)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = out.glob("fesgui-*.whl")
    return path


def test_wheel_holds_every_model_the_template_and_the_card(wheel):
    shipped = _shipped_files()
    # the listing is not empty: models, the model card, its figures and the face template
    assert any(f.endswith(".npz") for f in shipped)
    assert {"fesgui/models/README.md", "fesgui/resources/face_template.json"} <= set(shipped)
    assert any(f.startswith("fesgui/models/figures/") for f in shipped)
    with zipfile.ZipFile(wheel) as zf:
        sizes = {info.filename: info.file_size for info in zf.infolist()}
    missing = [f for f in shipped if f not in sizes]
    assert not missing, f"not in {wheel.name}: {missing}"
    wrong = [f for f in shipped if sizes[f] != (ROOT / f).stat().st_size]
    assert not wrong, f"different size in the wheel: {wrong}"
    assert "fesgui/cli.py" in sizes and "fesgui/commands/synth.py" in sizes


def test_wheel_metadata_keeps_the_eval_packages_in_their_extra(wheel):
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(zf.read(name))
    assert meta["Version"] == __version__
    requires = meta.get_all("Requires-Dist")

    def dist_name(req: str) -> str:
        return req.split(";")[0].split("[")[0].strip().split(" ")[0].rstrip("<>=!~,.0123456789")

    default = {dist_name(r).lower() for r in requires if "extra ==" not in r}
    eval_extra = {dist_name(r).lower() for r in requires if "extra == \"eval\"" in r}
    test_extra = [r for r in requires if "extra == \"test\"" in r]
    needed = {dist.lower() for _, dist in EXTRAS["eval"]}
    assert needed <= eval_extra  # fesgui.extras names what the extra installs
    assert not ({"scikit-learn"} & default)  # the default install stays without it
    assert {"mediapipe", "pyside6-essentials", "numba", "opencv-contrib-python"} <= default
    assert any(r.startswith("fesgui[eval]") for r in test_extra)  # tests pull the extra
    opencv = next(r for r in requires if r.startswith("opencv-contrib-python"))
    assert "<4.12" in opencv  # 4.12 and later need numpy 2


def test_installed_wheel_works_from_any_folder(wheel, tmp_path):
    """A fresh venv (``--system-site-packages`` for the dependencies) with only the wheel:
    ``fesgui models`` lists every shipped model and ``fesgui synth`` changes a face with a
    shipped model and the packaged face template, run from a folder outside the checkout."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(venv)], check=True, timeout=120)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(tmp_path)
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-compile", "-q",
                           str(wheel)],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    def fesgui(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(bindir / "fesgui"), *args], cwd=elsewhere,
                              env=_clean_env(tmp_path, **extra), capture_output=True,
                              text=True, timeout=300)

    where = subprocess.run([str(python), "-c", "import fesgui; print(fesgui.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr

    assert fesgui("--version").stdout.strip() == f"fesgui {__version__}"
    listed = fesgui("models")
    assert listed.returncode == 0, listed.stderr
    names = sorted(p.stem for p in (PACKAGE / "models").glob("*.npz"))
    rows = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert sorted(rows) == names

    empty = tmp_path / "no-models"
    empty.mkdir()
    override = fesgui("models", FESGUI_MODELS=str(empty))
    assert override.returncode == 0 and str(empty) in override.stdout

    img, pts = make_face(200, 240, seed=5)
    photo, out = elsewhere / "face.png", elsewhere / "smile.png"
    write_image(photo, img)
    mouth = (pts[3] + pts[4]) / 2
    points = ",".join(f"{v:.1f}" for v in [*pts[0], *pts[1], *mouth])
    # a Pixel-RR model when there is one: no numba compile, the same model and template paths
    model = next((n for n in names if "pixelrr" in n), names[0])
    synth = fesgui("synth", photo.name, "-m", model, "-o", out.name, "--landmarks", points)
    assert synth.returncode == 0, synth.stdout + synth.stderr
    res = read_image(out)
    changed = (res != img).any(axis=2)
    assert res.shape == img.shape and changed.sum() > 200
    assert not changed[:20].any() and not changed[:, :20].any()  # only the face changed
    assert changed.mean() < 0.5


# --------------------------------------------------------------------------- no display

def _run_here(*args: str, env: dict[str, str], stdout=subprocess.PIPE):
    """``python -m fesgui ARGS`` on this checkout's fesgui."""
    return subprocess.run([sys.executable, "-m", "fesgui", *args], cwd=ROOT, env=env,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)


def _without_display(tmp: Path, **extra: str) -> dict[str, str]:
    env = _clean_env(tmp, **extra)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        if name not in extra:
            env.pop(name, None)
    return env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux display servers")
def test_no_display_is_one_line_and_status_2(tmp_path):
    proc = _run_here(env=_without_display(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: no display") and "DISPLAY" in lines[0]
    assert "fesgui --help" in lines[0] and "xvfb-run" in lines[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux display servers")
def test_unreachable_display_is_one_line_not_a_core_dump(tmp_path):
    """DISPLAY names a server that is not there: Qt would abort (status 134)."""
    number = next(n for n in range(93, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = _run_here(env=_without_display(tmp_path, DISPLAY=f":{number}"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: no display") and f"DISPLAY=:{number}" in lines[0]


@pytest.mark.parametrize("env, ok", [
    ({}, False),
    ({"DISPLAY": ":0"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"QT_QPA_PLATFORM": "offscreen"}, True),
    ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, False),
    ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, False),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, True),
    ({"QT_QPA_PLATFORM": "xcb;offscreen"}, True),
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, True),
    ({"DISPLAY": ""}, False),
])
def test_check_display_reads_the_platform_and_its_variable(env, ok):
    from fesgui.errors import FesguiError

    if ok:
        check_display(env, platform="linux")
    else:
        with pytest.raises(FesguiError, match="no display"):
            check_display(env, platform="linux")
    check_display(env, platform="darwin")  # macOS and Windows always have one
    check_display(env, platform="win32")


# --------------------------------------------------------------------------- pipes, extras

def test_closed_pipe_ends_quietly(tmp_path):
    """The reader is gone before fesgui writes: no BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "fesgui", "models"], cwd=ROOT,
                            env=_clean_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert err == ""
    assert proc.returncode == 1


@pytest.mark.skipif(shutil.which("head") is None or shutil.which("bash") is None,
                    reason="needs bash and head")
def test_models_piped_into_head_prints_one_line(tmp_path):
    proc = subprocess.run(["bash", "-c", f"'{sys.executable}' -m fesgui models | head -1"],
                          cwd=ROOT, env=_clean_env(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [proc.stdout.splitlines()[0]]
    assert proc.stdout.split()[0] == "name"


def test_version():
    proc = subprocess.run([sys.executable, "-m", "fesgui", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"fesgui {__version__}"


@pytest.mark.parametrize("argv, hint", [
    (["evaluate", "--pairs", "."], None),
    (["bench", "--only", "fit,predict"], "or leave it out: --only predict"),
])
def test_missing_eval_extra_is_one_line(argv, hint, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now fails
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert "needs scikit-learn," in err and 'pip install "fesgui[eval]"' in err
    assert "matplotlib" not in err  # only what is missing is named
    if hint:
        assert err.endswith(hint)


# --------------------------------------------------------------------------- one-folder app

@pytest.mark.skipif(os.environ.get("FESGUI_BUILD_APP") != "1",
                    reason="builds the one-folder app with PyInstaller (minutes): "
                    "set FESGUI_BUILD_APP=1 to run it")
def test_one_folder_app_builds_and_runs(tmp_path):
    """packaging/build_app.py builds the app and smoke-tests it from an empty folder with
    PATH reduced to the system folders: --version, models, synth, the window."""
    pytest.importorskip("PyInstaller", reason='pip install -e ".[app]"')
    proc = subprocess.run([sys.executable, str(ROOT / "packaging" / "build_app.py"),
                           "--dist", str(tmp_path / "dist"), "--work", str(tmp_path / "work")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "smoke test passed" in proc.stdout
    assert "synth: smile.png written" in proc.stdout
