"""The app at start-up and with a camera stand-in (issue 14, item 12).

An unusable model in the models folder (its metadata reads, its weights do not) used to be
picked at start-up and left the app without a model; a video file standing in for a camera
that is cut short while playing looped its first frames silently (the view seemed to stop
and the status bar kept its frame rate). Now the next usable model is loaded and the status
line names the one skipped, and the cut-short file shows the lost-camera banner.
"""

from __future__ import annotations

import argparse
import io
import zipfile

import numpy as np
import pytest

from fesgui.core import MaskedRegression
from fesgui.imageio import write_image
from fesgui.synthetic import make_pairs
from fesgui.video import VideoWriter

from .corpus import open_app

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def _nan_weights(path) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    weights = np.load(io.BytesIO(members["weights.npy"])).copy()
    weights.flat[0] = np.nan
    buf = io.BytesIO()
    np.save(buf, weights)
    members["weights.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.fixture
def models(tmp_path):
    """An unusable model that start-up prefers (MR 3x3) and a usable one (MR 5x5)."""
    folder = tmp_path / "models"
    folder.mkdir()
    X, T = make_pairs(10, 32, 32, seed=1)
    for size in (3, 5):
        model = MaskedRegression(size).fit(X, T)
        model.set_provenance(source="neutral", target="happy")
        model.save(folder / f"neutral2happy_mr{size}_32.npz")
    _nan_weights(folder / "neutral2happy_mr3_32.npz")
    return folder


@pytest.mark.parametrize("saved", [False, True])
def test_an_unusable_model_is_skipped_at_start_up_and_the_photo_is_shown(
        saved, qtbot, tmp_path, face, models, monkeypatch):
    from fesgui.gui.app import _open_from_args, _pick_model

    if saved:  # the unusable one was the model used last time
        from fesgui.gui.settings import open_settings

        monkeypatch.setenv("FESGUI_SETTINGS_DIR", str(tmp_path / "settings"))
        s = open_settings()
        s.setValue("model/path", str(models / "neutral2happy_mr3_32.npz"))
        s.sync()
    photo = tmp_path / "face.png"
    write_image(photo, face[0])
    win = open_app(qtbot, tmp_path, monkeypatch, face[1], models=models)
    c = win.controller
    messages: list[str] = []
    c.status.connect(messages.append)
    try:
        with qtbot.waitSignal(c.model_changed, timeout=20000):
            _pick_model(win, None)
            _open_from_args(win, argparse.Namespace(path=str(photo), camera=None))
        qtbot.waitUntil(lambda: c.last_result is not None and bool(c.last_result.faces),
                        timeout=20000)
        assert c.model_entry.path.name == "neutral2happy_mr5_32.npz"
        ready = [m for m in messages if m.startswith("model ")][-1]
        assert "skipped unusable neutral2happy_mr3_32.npz" in ready and "NaN" in ready
        assert c.frame_path == photo and c.last_result.faces  # the photo, changed
        assert win.unexpected_errors == []
    finally:
        win.close()


@pytest.mark.parametrize("ext", [".avi", ".mp4"])
def test_a_camera_stand_in_cut_short_while_playing_shows_the_banner(qtbot, tmp_path, face,
                                                                    monkeypatch, ext):
    clip = tmp_path / f"clip{ext}"
    noise = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    with VideoWriter(clip, fps=30) as writer:
        for i in range(90):
            writer.write(np.roll(noise, 7 * i, axis=1))
    win = open_app(qtbot, tmp_path, monkeypatch, face[1])
    c = win.controller
    lost: list[str] = []
    stats: list[str] = []
    c.source_lost.connect(lost.append)
    c.stats.connect(stats.append)
    try:
        c.start_camera(str(clip))
        qtbot.waitUntil(lambda: c.frames_shown >= 5, timeout=20000)
        with open(clip, "r+b") as f:
            f.truncate(clip.stat().st_size // 50)
        qtbot.waitUntil(lambda: bool(lost), timeout=20000)
        assert lost[0].startswith(f"lost clip{ext}: ") and "cut short" in lost[0]
        assert not c.live
        qtbot.waitUntil(lambda: win.lost_banner.isVisible(), timeout=5000)
        assert stats[-1] == ""  # no stale frame rate
        assert win.unexpected_errors == []
    finally:
        win.close()
