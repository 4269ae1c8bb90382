"""MediaPipe FaceMesh as a :class:`~fesgui.align.landmarks.LandmarkSource`.

The only module of fesgui that imports MediaPipe (``tests/test_layers.py`` checks it). It
uses the offline FaceMesh solution bundled with mediapipe 0.10.21, with the iris model on
(``refine_landmarks=True``) so the eye centres are the iris centres.

Video mode finds faces at any resolution and size: FaceMesh alone, fed a whole HD frame,
misses faces (its detector sees the frame at 128x128, so faces narrower than about half
of a 640x480 frame are lost). Here MediaPipe's full-range face detector finds the face
boxes on a copy of the frame scaled to :data:`DETECT_SIDE` pixels, and FaceMesh (tracking
mode, one graph per face) runs on a square crop around each face, resized to
:data:`CROP_SIDE` pixels; the points are mapped back to frame pixels. The next frame's
crop follows the face's landmarks; the detector runs again only when a face is lost (or,
with several faces wanted, every :data:`REDETECT_EVERY` frames while fewer are tracked).
FaceMesh itself runs on every :data:`MESH_EVERY`-th frame: in between, the faces are
followed by optical flow (:mod:`fesgui.align.flow`), and FaceMesh runs whenever that fails.

MediaPipe's C++ log lines cannot be turned off from Python (the wheel exports no
log-level call, and GLOG_minloglevel / TF_CPP_MIN_LOG_LEVEL are ignored by its absl
logging): every call into MediaPipe runs with the process's stderr pointed at /dev/null
(:func:`_quiet_stderr`, a few microseconds).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import types
from collections.abc import Iterator

import cv2
import numpy as np

from fesgui.align.flow import FlowFollower
from fesgui.align.landmarks import FaceLandmarks, box_of
from fesgui.align.plausibility import plausible_faces, upright_detect
from fesgui.align.warp import square_crop
from fesgui.errors import FesguiError

# FaceMesh indices. "Left" is the image left (the person's right) for a frontal face.
LEFT_IRIS = 468        # centre of the iris seen on the image left (refine_landmarks)
RIGHT_IRIS = 473       # centre of the iris seen on the image right
NOSE_TIP = 1
LEFT_MOUTH = 61
RIGHT_MOUTH = 291
KEY_INDICES = (LEFT_IRIS, RIGHT_IRIS, NOSE_TIP, LEFT_MOUTH, RIGHT_MOUTH)
N_MESH = 468

#: long side (pixels) of the frame copy the face detector sees in video mode
DETECT_SIDE = 640
#: side (pixels) of the square crop around a face that FaceMesh sees in video mode
CROP_SIDE = 256
#: crop side / face size (the larger side of the face's landmark box)
CROP_SCALE = 2.0
#: a face's size (larger side of its landmark box) must lie between these fractions of
#: the crop side, else it is measured again in a crop fitted to it (REFIT_TRIES times)
MIN_FILL, MAX_FILL, REFIT_TRIES = 0.3, 0.7, 2
#: mean change (grey levels) between a 16x16 picture of the face found and the one of the
#: frame before (each centred on its face) that counts as a cut: tracking restarts from
#: the detector
CUT_DIFF = 25.0
#: with several faces wanted, look for new ones this often (frames) while fewer are tracked
REDETECT_EVERY = 10
#: video mode runs FaceMesh on every this-many-th frame and follows the faces by optical
#: flow in between (:mod:`fesgui.align.flow`: ~1 ms instead of ~9 ms per face)
MESH_EVERY = 2


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


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: int | None = None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Point the process's stderr (fd 2) at /dev/null while MediaPipe runs: its C++ log
    lines (absl, TFLite) go straight to fd 2. Python output of other threads during the
    call (milliseconds) is lost too; fesgui writes none there. Nested and concurrent uses
    (two threads with a detector each) share one redirection: the last one out restores
    the real stderr."""
    global _quiet_depth, _quiet_saved
    with _quiet_lock:
        if _quiet_depth == 0:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            try:
                saved = os.dup(2)
            except OSError:  # no stderr at all
                saved = None
            if saved is not None:
                with open(os.devnull, "w") as devnull:
                    os.dup2(devnull.fileno(), 2)
            _quiet_saved = saved
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                os.dup2(_quiet_saved, 2)
                os.close(_quiet_saved)
                _quiet_saved = None


#: MediaPipe's helpers for drawing landmarks with matplotlib, which fesgui never calls
_DRAWING = ("mediapipe.python.solutions.drawing_utils",
            "mediapipe.python.solutions.drawing_styles")


def _import_solutions():
    """MediaPipe's ``(face_detection, face_mesh)`` modules, imported without its drawing
    helpers: ``mediapipe.python.solutions`` imports them, and they import
    matplotlib.pyplot, 0.8 s of the 1.3 s import here (the first photo of ``fesgui synth``
    took 2.6 s, now 1.7 s). Empty stand-ins take their place while the package imports
    and are removed after, so a later ``import mediapipe.python.solutions.drawing_utils``
    gets the real module."""
    stubs = {name: types.ModuleType(name) for name in _DRAWING if name not in sys.modules}
    sys.modules.update(stubs)
    try:
        from mediapipe.python.solutions import face_detection, face_mesh
    finally:
        solutions = sys.modules.get("mediapipe.python.solutions")
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
            attr = name.rsplit(".", 1)[1]
            if getattr(solutions, attr, None) is stub:
                delattr(solutions, attr)
    return face_detection, face_mesh


def _xy(face) -> np.ndarray:
    """(478, 2) float32 normalised (x, y) of a FaceMesh result face."""
    return np.array([(p.x, p.y) for p in face.landmark], np.float32)


def _face(xy: np.ndarray) -> FaceLandmarks:
    """FaceLandmarks from FaceMesh points in pixels ((478, 2), iris points last)."""
    points = xy[list(KEY_INDICES)]
    if points[0, 0] > points[1, 0] and points[3, 0] > points[4, 0]:
        points = points[[1, 0, 2, 4, 3]]  # a mirrored or upside-down face
    mesh = xy[:N_MESH]
    return FaceLandmarks(points, mesh, box_of(mesh))


def _thumb(image: np.ndarray, box: tuple[float, float, float]) -> np.ndarray:
    """16x16 float32 grey picture of the square ``box`` = (cx, cy, side) of ``image``."""
    crop = square_crop(image, *box, 64)[0]
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (16, 16),
                      interpolation=cv2.INTER_AREA).astype(np.float32)


def _crop_box(face: FaceLandmarks) -> tuple[float, float, float]:
    """(cx, cy, side) of the crop that holds ``face`` for the next frame."""
    x0, y0, x1, y1 = face.box
    return ((x0 + x1) / 2, (y0 + y1) / 2, CROP_SCALE * max(x1 - x0, y1 - y0))


class MediaPipeSource:
    """Faces found by MediaPipe FaceMesh, largest first.

    ``video=True`` tracks faces between consecutive frames at any resolution and face size
    (full-range face detector + FaceMesh on a crop per face, see the module docstring;
    ~8-12 ms per face and frame, plus ~10 ms on frames that need the detector); FaceMesh
    runs on every ``mesh_every``-th frame only, the faces are followed by optical flow
    (~1 ms) in between (1: FaceMesh on every frame);
    ``video=False`` detects afresh on every image (photos). In photo mode, frames whose
    longer side exceeds ``max_side`` pixels are downscaled for detection only (the points
    are scaled back); ``None`` never downscales.
    """

    def __init__(self, video: bool = False, max_faces: int = 4,
                 max_side: int | None = None, min_confidence: float = 0.5,
                 mesh_every: int = MESH_EVERY) -> None:
        try:
            with _quiet_stderr():
                face_detection, face_mesh = _import_solutions()
        except Exception as exc:  # ImportError, or a broken native library
            raise FesguiError(f"MediaPipe cannot be loaded ({type(exc).__name__}: {exc}): "
                              "pip install mediapipe==0.10.21, or give the landmarks by hand"
                              ) from None
        if max_faces < 1:
            raise FesguiError(f"max_faces={max_faces} must be at least 1: e.g. 1")
        if mesh_every < 1:
            raise FesguiError(f"mesh_every={mesh_every} must be at least 1: e.g. "
                              f"{MESH_EVERY}")
        self.video = bool(video)
        self.max_faces = int(max_faces)
        self.max_side = max_side
        self.min_confidence = float(min_confidence)
        self._face_mesh = face_mesh
        self._mesh = None
        self._detector = None
        self._graphs: list = []  # video mode: one tracking FaceMesh per face slot
        self._tracks: dict[int, tuple[float, float, float]] = {}  # slot -> (cx, cy, side)
        self._thumbs: dict[int, np.ndarray] = {}  # slot -> 16x16 grey of its last crop
        self._since_detect = 0
        self.mesh_every = int(mesh_every)
        self._flows: dict[int, FlowFollower] = {}  # slot -> its face, to follow by flow
        self._followed = 0  # frames followed by flow since FaceMesh last ran
        self._closed = False
        with _quiet_stderr():
            if self.video:
                self._detector = face_detection.FaceDetection(
                    model_selection=1, min_detection_confidence=self.min_confidence)
                self._detector.process(np.zeros((64, 64, 3), np.uint8))
                self._graph(0)
            else:
                self._mesh = face_mesh.FaceMesh(
                    static_image_mode=True,
                    max_num_faces=self.max_faces,
                    refine_landmarks=True,
                    min_detection_confidence=self.min_confidence,
                    min_tracking_confidence=self.min_confidence,
                )
                # the graph starts its calculators (which log) on background threads: one
                # blank frame waits for that to finish while the logs are silenced
                self._mesh.process(np.zeros((64, 64, 3), np.uint8))

    def _graph(self, slot: int):
        """The tracking FaceMesh of face slot ``slot`` (created on first use)."""
        while len(self._graphs) <= slot:
            with _quiet_stderr():
                graph = self._face_mesh.FaceMesh(
                    static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                    min_detection_confidence=self.min_confidence,
                    min_tracking_confidence=self.min_confidence)
                graph.process(np.zeros((64, 64, 3), np.uint8))
            self._graphs.append(graph)
        return self._graphs[slot]

    def detect(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Faces in an (H, W, 3) uint8 RGB image, largest first; [] if none.

        Photo mode: when fewer than ``max_faces`` faces are found in the whole image,
        overlapping square tiles are searched too (first of the image's short side, then of
        half of it), because MediaPipe's face detector sees the whole image at 128x128 and
        misses small faces in wide or group photos.
        """
        if self._closed:
            raise FesguiError("the face detector was closed: create a new MediaPipeSource")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise FesguiError(f"face detection needs an RGB uint8 image, got {image.dtype} "
                              f"{image.shape}: read it with fesgui.imageio.read_image")
        if image.shape[0] < 1 or image.shape[1] < 1:
            return []  # an empty image would break the MediaPipe graph for good
        if self.video:  # issue 14's face gate: drop implausible faces (no turned retries)
            return plausible_faces(self._track(image))
        faces = self._run(image)
        if len(faces) < self.max_faces:
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
        with _quiet_stderr():
            result = self._mesh.process(small)
        sh, sw = small.shape[:2]
        return [_face(_xy(face) * np.array([sw / scale, sh / scale], np.float32))
                for face in result.multi_face_landmarks or []]

    # -- video mode ------------------------------------------------------------------------
    def _track(self, image: np.ndarray) -> list[FaceLandmarks]:
        """Follow the tracked faces (FaceMesh in their crops, or optical flow between
        FaceMesh frames); detect when one is lost or missing.

        With several faces wanted, the periodic search for new faces runs on a frame
        whose faces were followed by flow (~1 ms), not on a FaceMesh frame: the two
        together (~25 ms at 720p) would make that frame late for a 30 fps video."""
        followed = None
        if self._tracks and self._followed + 1 < self.mesh_every:
            followed = self._follow(image)
        lost = False
        if followed is not None:
            found = followed
            self._followed += 1
        else:
            self._followed = 0
            found = {}
            for slot, box in self._tracks.items():
                face = self._mesh_in(image, box, slot)
                if face is None:
                    lost = True
                else:
                    found[slot] = face
        self._since_detect += 1
        due = self._since_detect >= REDETECT_EVERY and (followed is not None
                                                        or self.mesh_every == 1)
        new: dict[int, FaceLandmarks] = {}
        if len(found) < self.max_faces and (lost or not found or due):
            self._since_detect = 0
            for box in self._find(image):
                if len(found) + len(new) >= self.max_faces:
                    break
                side = box[2] / CROP_SCALE
                guess = (box[0] - side / 2, box[1] - side / 2,
                         box[0] + side / 2, box[1] + side / 2)
                known = [*found.values(), *new.values()]
                if any(_overlap(guess, f.box) > 0.3 for f in known):
                    continue  # a face already tracked
                slot = next(i for i in range(self.max_faces)
                            if i not in found and i not in new)
                self._thumbs.pop(slot, None)  # a fresh start: nothing to compare with
                face = self._mesh_in(image, box, slot)
                if face is not None and not any(_overlap(face.box, f.box) > 0.3
                                                for f in known):
                    new[slot] = face
        found.update(new)
        self._tracks = {slot: _crop_box(face) for slot, face in found.items()}
        self._thumbs = {slot: t for slot, t in self._thumbs.items() if slot in found}
        if self.mesh_every > 1:  # FaceMesh's faces are followed from here next frame
            meshed = new if followed is not None else found
            self._flows = {slot: self._flows.get(slot) or FlowFollower() for slot in found}
            for slot, face in meshed.items():
                self._flows[slot].remember(image, face)
        faces = sorted(found.values(), key=lambda f: f.area, reverse=True)
        return faces[: self.max_faces]

    def _follow(self, image: np.ndarray) -> dict[int, FaceLandmarks] | None:
        """Every tracked face (slot -> face) followed into ``image`` by optical flow;
        None if one of them cannot be (FaceMesh runs then)."""
        found = {}
        for slot in self._tracks:
            flow = self._flows.get(slot)
            face = None if flow is None else flow.follow(image)
            if face is None:
                return None
            found[slot] = face
        return found

    def _find(self, image: np.ndarray) -> list[tuple[float, float, float]]:
        """Face crops ``(cx, cy, side)`` from the full-range detector, largest first.

        The detector sees a frame letterboxed to 192x192, so in a portrait (or very wide)
        frame a face of 10 % of the short side is tiny: when the whole frame shows none,
        square tiles of the short side (overlapping by half) are searched too."""
        boxes = self._find_in(image)
        h, w = image.shape[:2]
        short = min(h, w)
        if not boxes and max(h, w) > 1.3 * short:
            for y0, x0 in _tile_origins(h, w, short):
                tile = image[y0:y0 + short, x0:x0 + short]
                for cx, cy, side in self._find_in(tile):
                    box = (cx + x0, cy + y0, side)
                    if not any(abs(box[0] - b[0]) + abs(box[1] - b[1]) < side / 4
                               for b in boxes):
                        boxes.append(box)
            boxes.sort(key=lambda b: b[2], reverse=True)
        return boxes

    def _find_in(self, image: np.ndarray) -> list[tuple[float, float, float]]:
        h, w = image.shape[:2]
        small = image
        if max(h, w) > DETECT_SIDE:
            scale = DETECT_SIDE / max(h, w)
            small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
        with _quiet_stderr():
            result = self._detector.process(np.ascontiguousarray(small))
        boxes = []
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            bw, bh = rel.width * w, rel.height * h
            if bw <= 1 or bh <= 1:
                continue
            boxes.append((rel.xmin * w + bw / 2, rel.ymin * h + bh / 2,
                          CROP_SCALE * max(bw, bh)))
        boxes.sort(key=lambda b: b[2], reverse=True)
        return boxes

    def _mesh_in(self, image: np.ndarray, box: tuple[float, float, float], slot: int
                 ) -> FaceLandmarks | None:
        """FaceMesh (tracking graph ``slot``) on the square crop ``box`` = (cx, cy, side);
        the face's points in frame pixels, or None.

        A face that fills the crop (cut off: it grew, or the video cut to a close-up) or is
        lost in it (it shrank) is measured again in a crop fitted to what was found, at
        most :data:`REFIT_TRIES` times; a face still not fitting counts as not found."""
        for _ in range(REFIT_TRIES + 1):
            face = self._mesh_once(image, box, slot)
            if face is None:
                return None
            fitted = _crop_box(face)
            if MIN_FILL * box[2] <= fitted[2] / CROP_SCALE <= MAX_FILL * box[2]:
                break
            box = fitted
        else:
            return None
        thumb = _thumb(image, fitted)
        before = self._thumbs.get(slot)
        self._thumbs[slot] = thumb
        if before is not None and float(np.abs(thumb - before).mean()) > CUT_DIFF:
            # the face found looks nothing like the face of the frame before (a cut, a
            # jump): the graph's tracking fitted the old outline to it, so start afresh
            with _quiet_stderr():
                graph = self._graph(slot)
                graph.process(np.zeros((64, 64, 3), np.uint8))
            self._thumbs.pop(slot, None)
            return None
        return face

    def _mesh_once(self, image: np.ndarray, box: tuple[float, float, float], slot: int
                   ) -> FaceLandmarks | None:
        crop, x0, y0, scale = square_crop(image, *box, CROP_SIDE)
        graph = self._graph(slot)
        with _quiet_stderr():
            result = graph.process(crop)
        if not result.multi_face_landmarks:
            return None
        xy = _xy(result.multi_face_landmarks[0]) * np.float32(CROP_SIDE / scale)
        xy += np.array([x0, y0], np.float32)
        return _face(xy)

    def close(self) -> None:
        """Release the MediaPipe graphs (safe to call twice)."""
        self._closed = True
        graphs = [self._mesh, self._detector, *self._graphs]
        self._mesh, self._detector, self._graphs, self._tracks = None, None, [], {}
        self._thumbs, self._flows = {}, {}
        for graph in graphs:
            if graph is not None:
                with contextlib.suppress(RuntimeError):  # a failed graph re-raises on close
                    graph.close()

    def __enter__(self) -> MediaPipeSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
