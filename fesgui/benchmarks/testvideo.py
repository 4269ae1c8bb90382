"""A reproducible test video with a real face: ``skimage.data.astronaut()`` moving and
scaling across a 640 x 480 frame, so MediaPipe finds and tracks a face in every frame."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


def astronaut_frames(n: int, width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """``(n, height, width, 3)`` uint8 RGB frames of the astronaut moving smoothly.

    The portrait (512 x 512) is scaled by 0.7-0.95 and its centre follows a slow
    Lissajous path over the frame, on a dim gradient background, so consecutive frames
    differ like a person moving in front of a webcam.
    """
    from skimage.data import astronaut

    src = np.ascontiguousarray(astronaut())            # RGB uint8 (512, 512, 3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    background = np.stack([40 + 30 * xx / width, 45 + 20 * yy / height,
                           60 + 10 * (xx + yy) / (width + height)], axis=-1).astype(np.uint8)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    frames = np.empty((n, height, width, 3), np.uint8)
    for t in range(n):
        s = (0.825 + 0.125 * np.sin(2 * np.pi * t / 97 + phase[0])) * height / 512
        cx = width / 2 + 0.12 * width * np.sin(2 * np.pi * t / 131 + phase[1])
        cy = height / 2 + 0.06 * height * np.sin(2 * np.pi * t / 71)
        m = np.array([[s, 0, cx - s * 256], [0, s, cy - s * 256]], np.float64)
        frame = background.copy()
        cv2.warpAffine(src, m, (width, height), dst=frame, flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_TRANSPARENT)
        frames[t] = frame
    return frames


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 30.0) -> Path:
    """Write RGB uint8 ``frames`` (n, h, w, 3) to ``path`` (``.avi``: Motion-JPEG) with
    :class:`fesgui.video.VideoWriter` (atomic)."""
    from fesgui.video import VideoWriter

    with VideoWriter(path, fps=fps) as writer:
        for f in frames:
            writer.write(f)
    return Path(path)
