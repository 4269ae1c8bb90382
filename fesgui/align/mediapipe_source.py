"""MediaPipe FaceMesh as a :class:`~fesgui.align.landmarks.LandmarkSource`.

The only module of fesgui that imports MediaPipe (``tests/test_layers.py`` checks it). It
uses the offline FaceMesh solution bundled with mediapipe 0.10.21, with the iris model on
(``refine_landmarks=True``) so the eye centres are the iris centres.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import cv2
import numpy as np

from fesgui.align.landmarks import FaceLandmarks, box_of
from fesgui.errors import FesguiError

# FaceMesh indices. "Left" is the image left (the person's right) for a frontal face.
LEFT_IRIS = 468        # centre of the iris seen on the image left (refine_landmarks)
RIGHT_IRIS = 473       # centre of the iris seen on the image right
NOSE_TIP = 1
LEFT_MOUTH = 61
RIGHT_MOUTH = 291
KEY_INDICES = (LEFT_IRIS, RIGHT_IRIS, NOSE_TIP, LEFT_MOUTH, RIGHT_MOUTH)
N_MESH = 468


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the C++ log lines (TFLite, absl) MediaPipe prints when its graph starts."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class MediaPipeSource:
    """Faces found by MediaPipe FaceMesh, largest first.

    ``video=True`` tracks faces between consecutive frames (fast, ~3-4 ms per 640x480
    frame); ``video=False`` detects afresh on every image (photos). Frames whose longer
    side exceeds ``max_side`` pixels are downscaled for detection only (the points are
    scaled back), which keeps big frames cheap; ``None`` never downscales.
    """

    def __init__(self, video: bool = False, max_faces: int = 4,
                 max_side: int | None = None, min_confidence: float = 0.5) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            with _quiet_stderr():
                from mediapipe.python.solutions import face_mesh
        except Exception as exc:  # ImportError, or a broken native library
            raise FesguiError(f"MediaPipe cannot be loaded ({type(exc).__name__}: {exc}): "
                              "pip install mediapipe==0.10.21, or give the landmarks by hand"
                              ) from None
        if max_faces < 1:
            raise FesguiError(f"max_faces={max_faces} must be at least 1: use 1 to 4")
        self.video = bool(video)
        self.max_faces = int(max_faces)
        self.max_side = max_side if max_side is not None else (960 if video else None)
        with _quiet_stderr():
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=not self.video,
                max_num_faces=self.max_faces,
                refine_landmarks=True,
                min_detection_confidence=min_confidence,
                min_tracking_confidence=min_confidence,
            )
            # the graph starts its calculators (which log) on background threads: one
            # blank frame waits for that to finish while the logs are silenced
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))
        self._calls = 0

    def detect(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Faces in an (H, W, 3) uint8 RGB image, largest first; [] if none."""
        if self._mesh is None:
            raise FesguiError("the face detector was closed: create a new MediaPipeSource")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise FesguiError(f"face detection needs an RGB uint8 image, got {image.dtype} "
                              f"{image.shape}: read it with fesgui.imageio.read_image")
        h, w = image.shape[:2]
        scale = 1.0
        small = image
        if self.max_side is not None and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            small = cv2.resize(image, (round(w * scale), round(h * scale)),
                               interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small)
        if self._calls < 3:  # the graph loads its models (and logs) on the first calls
            with _quiet_stderr():
                result = self._mesh.process(small)
            self._calls += 1
        else:
            result = self._mesh.process(small)
        faces = []
        sh, sw = small.shape[:2]
        for face in result.multi_face_landmarks or []:
            xy = np.array([(p.x, p.y) for p in face.landmark], np.float32)
            xy *= np.array([sw / scale, sh / scale], np.float32)
            points = xy[list(KEY_INDICES)]
            if points[0, 0] > points[1, 0] and points[3, 0] > points[4, 0]:
                points = points[[1, 0, 2, 4, 3]]  # a mirrored or upside-down face
            mesh = xy[:N_MESH]
            faces.append(FaceLandmarks(points, mesh, box_of(mesh)))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def close(self) -> None:
        """Release the MediaPipe graph (safe to call twice)."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> MediaPipeSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
