"""Build the one-folder desktop app with PyInstaller, then smoke-test it.

    python -m pip install -e ".[app]"        # PyInstaller
    python packaging/build_app.py            # -> packaging/dist/fesgui/fesgui (+ _internal/)

The folder ``packaging/dist/fesgui`` runs on a Linux machine with no Python: copy it
anywhere and start ``fesgui`` (the window) or ``fesgui synth photo.jpg -o out.png``. It
holds the interpreter, Qt (with the xcb, wayland and offscreen platform plugins),
MediaPipe with its FaceMesh models, OpenCV, numba/llvmlite and fesgui's own models.

After building, the script runs the app from an empty temporary folder with ``PATH``
reduced to the system folders and no ``PYTHON*`` variables: ``--version``, ``models``,
``synth`` on the astronaut photo and the window (offscreen, ``--quit-after``), and prints
the folder's size and the times. ``--smoke-only`` re-runs those checks on an existing
build; ``--no-smoke`` skips them. Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENTRY = HERE / "fesgui_app.py"

# Reached by the import analysis but never used by the app or the commands it runs:
# scikit-learn is the eval extra (fesgui evaluate says what to install), the rest are
# test, notebook and GUI toolkits of other libraries.
EXCLUDES = ["sklearn", "jax", "jaxlib", "tkinter", "IPython", "pytest", "hypothesis",
            "PyInstaller", "PyQt5", "PyQt6", "PySide2", "torch", "tensorflow"]


def pyinstaller_args(dist: Path, work: Path) -> list[str]:
    """The PyInstaller command line (every choice is explained in the module docstring)."""
    args = [str(ENTRY), "--name", "fesgui", "--onedir", "--console", "--noconfirm",
            "--distpath", str(dist), "--workpath", str(work), "--specpath", str(work),
            "--paths", str(ROOT),
            # fesgui.cli loads fesgui.commands.<name> by name; models + face template
            "--collect-submodules", "fesgui", "--collect-data", "fesgui",
            # MediaPipe finds its graphs (.binarypb) and models (.tflite) beside its modules
            "--collect-data", "mediapipe",
            # the astronaut photo of fesgui's demos and benchmarks
            "--collect-data", "skimage.data",
            "--log-level", "WARN"]
    for name in EXCLUDES:
        args += ["--exclude-module", name]
    return args


def build(dist: Path, work: Path) -> Path:
    try:
        import PyInstaller.__main__ as pyinstaller
    except ImportError:
        sys.exit('error: PyInstaller is not installed: python -m pip install -e ".[app]"')
    sys.path.insert(0, str(ROOT))  # freeze this checkout's fesgui, not another install
    t0 = time.perf_counter()
    pyinstaller.run(pyinstaller_args(dist, work))
    app = dist / "fesgui"
    print(f"built {app} in {time.perf_counter() - t0:.0f} s", flush=True)
    return app


def clean_env(home: Path) -> dict[str, str]:
    """What a machine with no Python would give the app: system PATH, no PYTHON* and no
    virtual environment; settings, cache and numba's cache in a scratch HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "PYENV"))}
    env.update(PATH="/usr/bin:/bin", HOME=str(home), FESGUI_SETTINGS_DIR=str(home / "cfg"),
               FESGUI_CACHE=str(home / "cache"))
    return env


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def smoke(app: Path, window: bool = True) -> dict:
    """Run the frozen app from a folder with no checkout; raise on the first failure.
    Returns the numbers worth reporting."""
    exe = app / "fesgui"
    if not exe.is_file():
        raise SystemExit(f"error: {exe} does not exist: build the app first")
    work = Path(tempfile.mkdtemp(prefix="fesgui-app-smoke-"))
    try:
        home = work / "home"
        home.mkdir()
        env = clean_env(home)
        photo = work / "astronaut.png"
        _write_astronaut(photo)

        def run(*argv: str, extra_env: dict | None = None, timeout: float = 300):
            t0 = time.perf_counter()
            try:
                proc = subprocess.run([str(exe), *argv], cwd=work,
                                      env={**env, **(extra_env or {})},
                                      capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                raise SystemExit(f"error: fesgui {' '.join(argv)} still ran after {timeout} s:"
                                 f"\n{exc.stdout}\n{exc.stderr}") from None
            seconds = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"error: fesgui {' '.join(argv)} exited with "
                                 f"{proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
            return proc, seconds

        numbers: dict = {"size_mb": folder_size(app) / 1e6}
        proc, numbers["version_s"] = run("--version")
        print(f"--version: {proc.stdout.strip()} ({numbers['version_s']:.2f} s)", flush=True)
        proc, _ = run("models")
        n_models = len(proc.stdout.strip().splitlines()) - 1
        if n_models < 1:
            raise SystemExit(f"error: fesgui models lists no model:\n{proc.stdout}")
        print(f"models: {n_models} listed", flush=True)
        out = work / "smile.png"
        proc, numbers["synth_s"] = run("synth", str(photo), "-m", "neutral2happy_mr3_128",
                                       "-o", str(out))
        _check_synth(photo, out)
        print(f"synth: {out.name} written, only the face changed "
              f"({numbers['synth_s']:.1f} s)", flush=True)
        if window:
            # long enough for the worker's first job (load the model, start MediaPipe):
            # a window closed while that job runs can hang on exit (the worker thread is
            # terminated after 5 s; see Controller.shutdown)
            proc, seconds = run("--quit-after", "20", timeout=180,
                                extra_env={"QT_QPA_PLATFORM": "offscreen"})
            line = next((s for s in proc.stderr.splitlines() if "window shown in" in s), None)
            if line is None:
                raise SystemExit(f"error: the window did not report itself:\n{proc.stderr}")
            numbers["window_shown_s"] = float(line.split("window shown in ")[1].split(" s")[0])
            print(f"window: {line.strip()}", flush=True)
        print(f"size: {numbers['size_mb']:.0f} MB ({numbers['size_mb'] * 1e6 / 2**20:.0f} MiB) "
              f"in {app}", flush=True)
        return numbers
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_astronaut(path: Path) -> None:
    from skimage.data import astronaut

    from fesgui.imageio import write_image

    write_image(path, astronaut())


def _check_synth(photo: Path, out: Path) -> None:
    import numpy as np

    from fesgui.imageio import read_image

    a, b = read_image(photo), read_image(out)
    if a.shape != b.shape:
        raise SystemExit(f"error: synth changed the size {a.shape} -> {b.shape}")
    changed = np.any(a != b, axis=-1)
    if not changed.any():
        raise SystemExit("error: synth changed nothing (no face found?)")
    if changed.mean() > 0.5:
        raise SystemExit(f"error: synth changed {changed.mean():.0%} of the photo, "
                         "not just the face")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=HERE / "dist",
                        help="where the app folder goes (default packaging/dist)")
    parser.add_argument("--work", type=Path, default=HERE / "build",
                        help="PyInstaller's work folder (default packaging/build)")
    parser.add_argument("--no-smoke", action="store_true", help="build only")
    parser.add_argument("--smoke-only", action="store_true",
                        help="check an existing build only")
    parser.add_argument("--no-window", action="store_true",
                        help="skip the window check of the smoke test")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    app = args.dist / "fesgui"
    if not args.smoke_only:
        app = build(args.dist.resolve(), args.work.resolve())
    if not args.no_smoke:
        smoke(app, window=not args.no_window)
        print("smoke test passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
