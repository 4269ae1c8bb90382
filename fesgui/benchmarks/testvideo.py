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


#: the astronaut's face in ``skimage.data.astronaut()`` (x0, y0, x1, y1), FaceMesh box
ASTRONAUT_FACE = (179.0, 71.0, 271.0, 177.0)


def face_scene(height: int, width: int, face_frac: float, cx: float = 0.5, cy: float = 0.5
               ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A ``(height, width, 3)`` uint8 RGB frame with the astronaut's face ``face_frac`` of
    the frame width wide, centred at (cx, cy) (fractions of the frame), on a dim gradient.
    Returns the frame and the face's box (x0, y0, x1, y1) in pixels (the portrait around
    the face covers more: hair, suit, the flag)."""
    from skimage.data import astronaut

    src = np.ascontiguousarray(astronaut())
    fx0, fy0, fx1, fy1 = ASTRONAUT_FACE
    s = face_frac * width / (fx1 - fx0)
    fx, fy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
    tx, ty = cx * width - s * fx, cy * height - s * fy
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.stack([40 + 30 * xx / width, 45 + 20 * yy / height,
                      60 + 10 * (xx + yy) / (width + height)], axis=-1).astype(np.uint8)
    m = np.array([[s, 0, tx], [0, s, ty]], np.float64)
    cv2.warpAffine(src, m, (width, height), dst=frame,
                   flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_TRANSPARENT)
    return frame, (s * fx0 + tx, s * fy0 + ty, s * fx1 + tx, s * fy1 + ty)


def write_av_video(path: str | os.PathLike, frames, fps: float = 30.0,
                   audio: bool = False, rotation: int = 0, codec: str = "libx264",
                   times=None) -> Path:
    """Write RGB uint8 ``frames`` with PyAV directly (not through fesgui's writer), as a
    phone or camera would: H.264 in .mp4 (or ``codec``), optionally with an AAC sound
    track (a 440 Hz tone as long as the video) and a rotation in the display matrix
    (``rotation`` degrees counter-clockwise; the frames given are stored as they are).
    ``times``: each frame's time stamp in seconds (whole milliseconds), for a variable
    frame rate as browsers and phones record it; None: ``i / fps``."""
    from fractions import Fraction

    import av

    path = Path(path)
    frames = list(frames)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height = frames[0].shape[1], frames[0].shape[0]
        vs.pix_fmt = "yuv420p" if codec == "libx264" else "yuvj420p"
        tick = 1 / rate if times is None else Fraction(1, 1000)
        vs.codec_context.time_base = tick
        if rotation:
            vs.set_display_rotation(rotation)
        astream = None
        if audio:
            astream = out.add_stream("aac", rate=16000, layout="mono")
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts = i if times is None else round(times[i] * 1000)
            vf.time_base = tick
            out.mux(vs.encode(vf))
        if astream is not None:
            n = int(16000 * (len(frames) / fps if times is None else times[-1] + 1 / fps))
            t = np.arange(n) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(tone[None, start:start + 1024],
                                                format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, start
                out.mux(astream.encode(af))
            out.mux(astream.encode(None))
        out.mux(vs.encode(None))
    return path
