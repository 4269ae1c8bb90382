"""Retake the documentation screenshots of the app (``docs/images/*.png``).

    xvfb-run -s "-screen 0 1920x1080x24" python -m fesgui.gui.screenshots docs/images

The real window (its own temporary settings, so the user's are untouched) opens a photo
(default: ``skimage.data.astronaut()``) with a model (default: the shipped
``neutral2happy_mr5_128``) and selects the pixel at the centre of the mouth in the crop.
For each screen of :data:`SCREENS` the window takes the geometry it would open with on
that screen (:func:`fesgui.gui.screen_fit.fitted_geometry`): ``app-1280x720.png`` and
``app-1920x1080.png``. On the 1280x720 screen also: ``inspector.png`` (the Model maps tab
raised, the right docks ``maps_width`` pixels wide), ``compare.png`` (split before / after),
``faces.png`` (the photo beside its mirror image: two faces outlined, all changed) and
``train.png`` (the training dialog on a folder of synthetic photo pairs). All are 256-colour
PNGs (octree: the small overlay colours survive), a few hundred KB at most.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fesgui.catalog import DEFAULT_MODEL  # the app's default model
from fesgui.errors import FesguiError

SCREENS = ((1280, 720), (1920, 1080))  # (width, height) of the screens shown


def _wait(app: Any, done: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Run the event loop until ``done()``; a FesguiError naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not done():
        app.processEvents()
        if time.monotonic() > end:
            raise FesguiError(f"screenshots: no {what} after {timeout:.0f} s: check the photo "
                              "and the model")
        time.sleep(0.01)


def _settle(app: Any, turns: int = 60) -> None:
    for _ in range(turns):
        app.processEvents()
        time.sleep(0.002)


def _write_png(window: Any, path: Path) -> Path:
    """The window as drawn, quantised to 256 colours, written atomically."""
    from PIL import Image
    from PySide6.QtGui import QImage

    from fesgui.atomic import atomic_write

    image = window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())
    rgb = np.ascontiguousarray(rows[:, : 3 * w].reshape(h, w, 3))
    small = Image.fromarray(rgb).quantize(256, method=Image.Quantize.FASTOCTREE)
    with atomic_write(path) as tmp:
        small.save(tmp, format="PNG", optimize=True)
    return path


def mouth_pixel(face: Any) -> tuple[int, int]:
    """(row, col) in the crop of the centre between the mouth corners of a FaceResult."""
    from fesgui.align.template import apply_matrix

    corners = np.asarray(face.landmarks.points, np.float64)[3:5]
    x, y = apply_matrix(face.matrix, corners).mean(axis=0)
    h, w = face.crop.shape[:2]
    return int(np.clip(round(y), 0, h - 1)), int(np.clip(round(x), 0, w - 1))


def take_screenshots(out_dir: str | os.PathLike, photo: str | os.PathLike | None = None,
                     model: str | os.PathLike = DEFAULT_MODEL, maps_width: int = 640,
                     landmarks_factory: Any = None) -> list[Path]:
    """Write the screenshots (see the module docstring) into ``out_dir``; returns their
    paths.

    ``photo``: an image file (default: the astronaut); ``model``: a model name or file;
    ``maps_width``: width in pixels of the right docks for ``inspector.png``;
    ``landmarks_factory``: replaces MediaPipe (tests).
    """
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from fesgui.catalog import find_model

    out = Path(out_dir)
    if not out.is_dir():
        raise FesguiError(f"screenshots: {out} is not a folder: create it first")
    model_path = find_model(str(model))
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="fesgui-shots-") as scratch:
        saved_env = os.environ.get("FESGUI_SETTINGS_DIR")
        os.environ["FESGUI_SETTINGS_DIR"] = scratch  # a fresh window, user settings untouched
        try:
            if photo is None:
                from skimage import data

                from fesgui.imageio import write_image

                photo = Path(scratch) / "astronaut.png"
                write_image(photo, data.astronaut())
            return _shoot(app, out, Path(photo), model_path, maps_width, landmarks_factory,
                          Qt.Orientation.Horizontal)
        finally:
            if saved_env is None:
                os.environ.pop("FESGUI_SETTINGS_DIR", None)
            else:
                os.environ["FESGUI_SETTINGS_DIR"] = saved_env


def _fit(window: Any, screen: tuple[int, int]) -> None:
    """Give ``window`` the geometry it opens with on a ``screen`` (w, h) screen."""
    from PySide6.QtCore import QRect

    from fesgui.gui.screen_fit import fitted_geometry

    geometry = fitted_geometry(QRect(0, 0, *screen))
    window.setMinimumSize(0, 0)
    window.setGeometry(geometry)
    window.resize(geometry.size())


def _pairs_folder(root: Path) -> Path:
    """Synthetic photo pairs in the London set's layout, one smile missing (for train.png)."""
    from fesgui.imageio import write_image
    from fesgui.synthetic import make_face

    folder = root / "my_photos"
    for expression, smile in (("neutral", 0.0), ("smiling", 1.0)):
        (folder / expression).mkdir(parents=True)
        for n in range(1, 13):
            if expression == "smiling" and n == 7:
                continue
            shot = "03" if expression == "neutral" else "08"
            write_image(folder / expression / f"{n:03d}_{shot}.jpg",
                        make_face(160, 160, smile=smile, seed=n)[0])
    return folder


def _shoot(app: Any, out: Path, photo: Path, model_path: Path, maps_width: int,
           landmarks_factory: Any, horizontal: Any) -> list[Path]:
    from fesgui.gui.main_window import MainWindow
    from fesgui.imageio import read_image, write_image

    window = MainWindow(landmarks_factory=landmarks_factory)
    paths = []
    try:
        _fit(window, SCREENS[0])
        window.show()
        c = window.controller
        cameras: list = []
        c.cameras_found.connect(cameras.append)
        c.probe_cameras()  # the picker shows what there is, not "looking for cameras…"
        c.refresh_models()
        c.select_model(model_path)
        _wait(app, lambda: c.model is not None and bool(cameras), "model loaded")

        def show(path: Path) -> None:
            c.last_result = None
            c.open_path(path)
            _wait(app, lambda: c.last_result is not None and not c.still_pending, "result")

        show(photo)
        if not c.last_result.faces:
            raise FesguiError(f"screenshots: no face found in {photo.name}: use a photo "
                              "with a face")
        window.inspector.select_pixel(*mouth_pixel(c.last_result.faces[0]))
        _settle(app, 120)
        paths.append(_write_png(window, out / "app-{}x{}.png".format(*SCREENS[0])))
        window.compare.split_action.trigger()
        _settle(app, 120)
        paths.append(_write_png(window, out / "compare.png"))
        window.compare.split_action.trigger()
        window.maps_dock.raise_()
        window.resizeDocks([window.maps_dock], [int(maps_width)], horizontal)
        _settle(app, 120)
        paths.append(_write_png(window, out / "inspector.png"))
        window.inspector_dock.raise_()
        window.resizeDocks([window.inspector_dock], [420], horizontal)

        with tempfile.TemporaryDirectory(prefix="fesgui-shots-") as tmp:
            scratch = Path(tmp)
            image = read_image(photo)
            write_image(scratch / "two.png", np.hstack([image, image[:, ::-1]]))
            window.faces.all_action.setChecked(True)
            show(scratch / "two.png")
            _settle(app, 120)
            paths.append(_write_png(window, out / "faces.png"))
            window.faces.all_action.setChecked(False)

            dialog = window.open_training()
            dialog.set_folder(_pairs_folder(scratch))
            _settle(app, 120)
            paths.append(_write_png(dialog, out / "train.png"))
            dialog.close()
        show(photo)  # the larger screens last (the views keep their zoom when made smaller)
        window.inspector.select_pixel(*mouth_pixel(c.last_result.faces[0]))
        for screen in SCREENS[1:]:
            _fit(window, screen)
            _settle(app, 120)
            paths.append(_write_png(window, out / f"app-{screen[0]}x{screen[1]}.png"))
        return paths
    finally:
        window.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fesgui.gui.screenshots",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="docs/images")
    parser.add_argument("--photo", default=None, help="a photo with a face (default: astronaut)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a model name or .npz file")
    parser.add_argument("--maps-width", type=int, default=640,
                        help="width of the Model maps dock in inspector.png (pixels)")
    args = parser.parse_args(argv)
    try:
        for path in take_screenshots(args.out_dir, args.photo, args.model, args.maps_width):
            print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    except FesguiError as exc:
        print(f"fesgui: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
