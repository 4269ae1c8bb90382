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
from fesgui.align.plausibility import upright_detect
from fesgui.errors import FesguiError

# FaceMesh indices. "Left" is the image left (the person's right) for a frontal face.
LEFT_IRIS = 468        # centre of the iris seen on the image left (refine_landmarks)
RIGHT_IRIS = 473       # centre of the iris seen on the image right
NOSE_TIP = 1
LEFT_MOUTH = 61
RIGHT_MOUTH = 291
KEY_INDICES = (LEFT_IRIS, RIGHT_IRIS, NOSE_TIP, LEFT_MOUTH, RIGHT_MOUTH)
N_MESH = 468


def _tile_origins(h: int, w: int, side: int) -> list[tuple[int, int]]:
    """(y0, x0) of square tiles of ``side`` covering an h x w image, overlapping by half."""
    def starts(n: int) -> list[int]:
        if n <= side:
            return [0]
        out = list(range(0, n - side, max(1, side // 2)))
        return out + [n - side]

    return [(y, x) for y in starts(h) for x in starts(w)]


def _overlap(a: tuple, b: tuple) -> float:
    """Intersection over the smaller of two boxes (x0, y0, x1, y1)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


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
            raise FesguiError(f"max_faces={max_faces} must be at least 1: e.g. 1")
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
        """Faces in an (H, W, 3) uint8 RGB image, largest first; [] if none.

        Photo mode only: when fewer than ``max_faces`` faces are found in the whole image,
        overlapping square tiles are searched too (first of the image's short side, then of
        half of it), because MediaPipe's face detector sees the whole image at 128x128 and
        misses small faces in wide or group photos.
        """
        if self._mesh is None:
            raise FesguiError("the face detector was closed: create a new MediaPipeSource")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise FesguiError(f"face detection needs an RGB uint8 image, got {image.dtype} "
                              f"{image.shape}: read it with fesgui.imageio.read_image")
        if image.shape[0] < 1 or image.shape[1] < 1:
            return []  # an empty image would break the MediaPipe graph for good
        faces = self._run(image)
        if not self.video and len(faces) < self.max_faces:
            faces = self._add_tiled(image, faces)
        faces = upright_detect(lambda im: self._add_tiled(im, self._run(im)), image,  # issue 14:
                               retry=not self.video, found=faces)  # face gate, turned faces
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces[: self.max_faces]

    def _add_tiled(self, image: np.ndarray, faces: list[FaceLandmarks]
                   ) -> list[FaceLandmarks]:
        h, w = image.shape[:2]
        short = min(h, w)
        sides = []
        if max(h, w) > 1.25 * short:
            sides.append(short)
        if short >= 192:
            sides.append(short // 2)
        for side in sides:
            for y0, x0 in _tile_origins(h, w, side):
                tile = np.ascontiguousarray(image[y0:y0 + side, x0:x0 + side])
                margin = 0.02 * side
                for f in self._run(tile):
                    bx0, by0, bx1, by1 = f.box
                    cut = ((bx0 < margin and x0 > 0) or (by0 < margin and y0 > 0)
                           or (bx1 > side - margin and x0 + side < w)
                           or (by1 > side - margin and y0 + side < h))
                    if cut:  # the face runs over an inner tile edge: a neighbour has it
                        continue
                    off = np.array([x0, y0], np.float32)
                    moved = FaceLandmarks(f.points + off, f.mesh + off,
                                          (bx0 + x0, by0 + y0, bx1 + x0, by1 + y0))
                    if not any(_overlap(moved.box, g.box) > 0.3 for g in faces):
                        faces.append(moved)
            if len(faces) >= self.max_faces:
                break
        return faces

    def _run(self, image: np.ndarray) -> list[FaceLandmarks]:
        """One FaceMesh pass over ``image`` (downscaled to ``max_side`` if needed)."""
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
        return faces

    def close(self) -> None:
        """Release the MediaPipe graph (safe to call twice)."""
        mesh, self._mesh = self._mesh, None
        if mesh is not None:
            with contextlib.suppress(RuntimeError):  # a graph that failed re-raises on close
                mesh.close()

    def __enter__(self) -> MediaPipeSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
