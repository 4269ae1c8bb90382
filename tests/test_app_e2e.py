"""Start the app as a user would, with a video file standing in for the camera.

``python -m fesgui --camera clip.avi --model tiny.npz --quit-after 8`` (offscreen Qt, real
MediaPipe on a real face: scikit-image's public-domain astronaut photo moving across the
frames) must exit 0 without a traceback, having run frames through the pipeline. (Eight
seconds, not three: MediaPipe alone needs about two seconds to start on a busy 2-core
machine; an idle one processes well over a hundred frames in that time.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_app(tmp_path: Path, models: Path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """``python -m fesgui *args`` (offscreen Qt, in ``tmp_path``, ``models`` installed, its
    own settings folder); it must exit 0 without a traceback. Returns the finished run."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FESGUI_MODELS=str(models),
               FESGUI_SETTINGS_DIR=str(tmp_path / "settings"))
    out = subprocess.run([sys.executable, "-m", "fesgui", *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return out


def _tiny_model(path: Path) -> Path:
    from fesgui.core import MaskedRegression
    from fesgui.synthetic import make_pairs

    X, T = make_pairs(30, 32, 32, color=True, seed=2)
    model = MaskedRegression(3).fit(X, T)
    model.set_provenance(source="neutral", target="happy", name="e2e")
    return model.save(path)


def _astronaut_video(path: Path, n: int = 40) -> Path:
    import cv2
    from skimage import data

    from fesgui.video import VideoWriter

    photo = cv2.resize(data.astronaut(), (320, 320), interpolation=cv2.INTER_AREA)
    with VideoWriter(path, 20.0) as writer:
        for i in range(n):
            frame = np.full((360, 400, 3), 40, np.uint8)
            x = 20 + (i % 10) * 4  # the face moves a little, like a person at a webcam
            frame[20:340, x:x + 320] = photo
            writer.write(frame)
    return path


def test_app_runs_a_video_as_camera_and_quits_cleanly(tmp_path):
    pytest.importorskip("mediapipe", reason="mediapipe is not installed")
    (tmp_path / "models").mkdir()
    model = _tiny_model(tmp_path / "models" / "tiny.npz")
    video = _astronaut_video(tmp_path / "clip.avi")
    out = _run_app(tmp_path, tmp_path / "models", "--camera", str(video), "--model", str(model),
                   "--quit-after", "8", timeout=120)
    match = re.search(r"processed (\d+) live frames, drew (\d+) results \((\d+) with a face\)",
                      out.stderr)
    assert match, out.stderr
    processed, drawn, with_face = (int(g) for g in match.groups())
    assert processed >= 3 and drawn >= 1, out.stderr
    assert with_face >= 1, out.stderr  # MediaPipe found the astronaut's face
    assert (tmp_path / "settings" / "fesgui.ini").is_file()  # settings saved on quit


def test_app_opens_a_photo_given_on_the_command_line(tmp_path):
    pytest.importorskip("mediapipe", reason="mediapipe is not installed")
    from skimage import data

    from fesgui.imageio import write_image

    (tmp_path / "models").mkdir()
    _tiny_model(tmp_path / "models" / "tiny.npz")  # the only installed model: chosen
    photo = tmp_path / "astronaut.png"
    write_image(photo, data.astronaut())
    out = _run_app(tmp_path, tmp_path / "models", str(photo), "--quit-after", "6", timeout=120)
    match = re.search(r"drew (\d+) results \((\d+) with a face\)", out.stderr)
    assert match and int(match.group(2)) >= 1, out.stderr


def test_app_reports_a_bad_camera_argument_in_one_line(tmp_path):
    out = _run_app(tmp_path, tmp_path, "--camera", "no_such_clip.avi", "--quit-after", "0.5",
                   timeout=60)
    lines = [line for line in out.stderr.splitlines() if "no_such_clip.avi" in line]
    assert len(lines) == 1 and "neither a camera number nor a video file" in lines[0], out.stderr
