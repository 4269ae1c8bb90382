"""Fixtures for the app's tests: tiny models, a synthetic face, a fake face detector,
a temporary settings folder and a window wired to all of them (offscreen Qt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fesgui.synthetic import make_face, make_pairs

from .helpers import FRAME_H, FRAME_W, FakeLandmarks


@pytest.fixture(autouse=True)
def settings_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty settings file."""
    folder = tmp_path / "settings"
    monkeypatch.setenv("FESGUI_SETTINGS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three tiny 32x32 neutral->happy models fitted on synthetic pairs: MR 3x3, MR 5x5,
    Pixel-RR (saved in one folder)."""
    from fesgui.core import MaskedRegression, PixelRegression

    folder = tmp_path_factory.mktemp("models")
    X, T = make_pairs(40, 32, 32, color=True, seed=1)
    files = {}
    for key, model in (("mr3", MaskedRegression(3)), ("mr5", MaskedRegression(5)),
                       ("prr", PixelRegression())):
        model.fit(X, T)
        model.set_provenance(source="neutral", target="happy", name=f"test_{key}",
                       metrics={"test_mse": 0.0123})
        files[key] = model.save(folder / f"neutral2happy_{key}_32.npz")
    return files


@pytest.fixture
def models_dir(model_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = next(iter(model_files.values())).parent
    monkeypatch.setenv("FESGUI_MODELS", str(folder))
    return folder


@pytest.fixture
def face() -> tuple[np.ndarray, np.ndarray]:
    """A synthetic face (FRAME_H, FRAME_W, 3) uint8 and its 5 key points."""
    return make_face(FRAME_H, FRAME_W, smile=0.0, seed=3)


@pytest.fixture
def face_file(tmp_path: Path, face) -> Path:
    from fesgui.imageio import write_image

    path = tmp_path / "face.png"
    write_image(path, face[0])
    return path


@pytest.fixture
def detector(face) -> FakeLandmarks:
    return FakeLandmarks(face[1])


@pytest.fixture
def window(qtbot, models_dir: Path, detector: FakeLandmarks):
    """The real main window with the fake detector, shown offscreen, closed at the end."""
    from fesgui.gui.main_window import MainWindow

    win = MainWindow(landmarks_factory=lambda video: detector)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


@pytest.fixture
def inspector(qtbot):
    """An empty pixel inspector panel (not shown)."""
    from fesgui.gui.inspector import InspectorPanel

    panel = InspectorPanel()
    qtbot.addWidget(panel)
    return panel
