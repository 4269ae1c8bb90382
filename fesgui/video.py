"""Frame sources (video files, cameras) and an atomic video writer, on OpenCV.

Every source returns (H, W, 3) uint8 RGB frames from :meth:`read` and ``None`` when there
are no more. Nothing here can hang the caller: a camera is read on a background thread
and :meth:`CameraSource.read` waits at most ``timeout`` seconds; a source that stops
delivering sets ``failed`` and says why in ``error``. BGR <-> RGB conversion happens here
(and in :mod:`fesgui.imageio`) only.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from fesgui.atomic import atomic_write
from fesgui.errors import FesguiError
from fesgui.imageio import check_output_folder

#: writer codec per file extension (this OpenCV build has no H.264 encoder)
CODECS = {".avi": "MJPG", ".mp4": "mp4v"}
DEFAULT_FPS = 30.0
#: consecutive undecodable frames a video file may have before it counts as ended
MAX_BAD_FRAMES = 8
#: failed reads in a row (each after CAMERA_RETRY_WAIT seconds) before a camera is lost
CAMERA_RETRIES = 3
CAMERA_RETRY_WAIT = 0.05


def video_codec(path: str | os.PathLike) -> str:
    """The writer codec for an output video file name (a one-line error for others)."""
    path = Path(path)
    codec = CODECS.get(path.suffix.lower())
    if codec is None:
        raise FesguiError(f"cannot write video {path.name}: use a file name ending "
                          "in .mp4 or .avi")
    return codec


def _valid_fps(fps: float) -> float:
    return float(fps) if np.isfinite(fps) and 0.5 <= fps <= 1000 else DEFAULT_FPS


class VideoFileSource:
    """Frames of a video file, optionally looping (a stand-in for a camera).

    Raises :class:`FesguiError` if the file is missing or cannot be decoded (the first
    frame is read on opening to make sure). A corrupt frame inside the file is skipped
    (up to :data:`MAX_BAD_FRAMES` in a row), counted in ``skipped`` and described in
    ``error``; a file that stops decoding before the frame count it announces ends there,
    and ``error`` says so. Neither sets ``failed`` (the frames that were read are good).
    """

    def __init__(self, path: str | os.PathLike, loop: bool = False) -> None:
        self.path = Path(path)
        self.loop = loop
        self.failed = False
        self.error: str | None = None
        if not self.path.is_file():
            raise FesguiError(f"video {self.path} does not exist: check the path")
        if self.path.stat().st_size == 0:
            raise FesguiError(f"video {self.path} is empty (0 bytes): use another copy")
        self._cap = cv2.VideoCapture(str(self.path))
        first = None
        if self._cap.isOpened():
            ok, first = self._cap.read()
            if not ok:
                first = None
        if first is None:
            self._cap.release()
            raise FesguiError(f"cannot decode video {self.path.name}: convert it to MP4 "
                              "(H.264) or AVI (MJPG) and try again")
        self._pending: np.ndarray | None = first
        self.index = 0  # frames returned so far
        self.skipped = 0  # corrupt frames passed over
        self._consumed = 1  # frames of this pass through the file, decoded or skipped

    @property
    def fps(self) -> float:
        """Frames per second from the file (30 if the file does not say)."""
        return _valid_fps(self._cap.get(cv2.CAP_PROP_FPS)) if self._cap else DEFAULT_FPS

    @property
    def frame_count(self) -> int:
        """Number of frames the file claims (0 if unknown; may be approximate)."""
        n = self._cap.get(cv2.CAP_PROP_FRAME_COUNT) if self._cap else 0
        return int(n) if np.isfinite(n) and n > 0 else 0

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frames."""
        w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return h, w

    def read(self) -> np.ndarray | None:
        """The next frame as (H, W, 3) uint8 RGB, or None at the end (or after close)."""
        if self._cap is None:
            return None
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = self._read_past_damage()
            if not ok and self.loop and self.index > 0:
                self._consumed = 1
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, bgr = self._cap.read()
                if not ok:  # seeking failed: reopen the file
                    self._cap.release()
                    self._cap = cv2.VideoCapture(str(self.path))
                    ok, bgr = self._cap.read()
                if not ok:
                    self.failed, self.error = True, f"cannot rewind {self.path.name}"
            if not ok:
                return None
        self.index += 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _read_past_damage(self) -> tuple[bool, np.ndarray | None]:
        """The next decodable frame. A failed read before the announced frame count is a
        corrupt frame: OpenCV moves past it, so reading again gets the next one."""
        ok, bgr = self._cap.read()
        if ok:
            self._consumed += 1
            return ok, bgr
        announced = self.frame_count
        if self._consumed >= announced:
            return False, None  # the normal end
        for bad in range(1, MAX_BAD_FRAMES + 1):
            ok, bgr = self._cap.read()
            if ok:
                self.skipped += bad
                self._consumed += bad + 1
                self.error = (f"skipped {self.skipped} corrupt frame"
                              f"{'s' if self.skipped != 1 else ''} of {self.path.name}")
                return ok, bgr
        self.error = (f"{self.path.name} stopped decoding after frame {self._consumed} of "
                      f"the {announced} it announces: the rest of the file is damaged")
        return False, None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        while (frame := self.read()) is not None:
            yield frame


def _camera_exists(index: int) -> bool:
    """False when the OS says there is surely no camera ``index`` (Linux /dev/videoN)."""
    if sys.platform.startswith("linux"):
        return Path(f"/dev/video{index}").exists()
    return True


def _open_capture(index: int, width: int, height: int, timeout: float) -> cv2.VideoCapture:
    ms = int(timeout * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    try:
        cap = cv2.VideoCapture(index, cv2.CAP_ANY, params)
    except cv2.error:
        cap = cv2.VideoCapture(index)
    if cap.isOpened():
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return cap


class CameraSource:
    """Live frames of camera ``index`` (OpenCV VideoCapture), read on a background thread.

    :meth:`read` returns the newest frame not yet returned, waiting at most ``timeout``
    seconds; if the camera delivers nothing for that long, ``failed`` becomes True,
    ``error`` says why and :meth:`read` returns None. Old frames are dropped, never queued.
    A failed or garbled read is retried (:data:`CAMERA_RETRIES` times in a row) before the
    camera counts as lost; garbled frames never reach the caller.
    Raises :class:`FesguiError` if the camera does not open or gives no first frame.
    """

    def __init__(self, index: int = 0, width: int = 640, height: int = 480,
                 timeout: float = 2.0) -> None:
        self.index = int(index)
        self.timeout = float(timeout)
        self.failed = False
        self.error: str | None = None
        if not _camera_exists(self.index):
            raise FesguiError(f"there is no camera {self.index}: plug one in, or open a "
                              "video file instead")
        self._cap = _open_capture(self.index, width, height, self.timeout)
        if not self._cap.isOpened():
            self._cap.release()
            raise FesguiError(f"camera {self.index} does not open: close other programs "
                              "using it, or try another camera number")
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._taken = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.index}",
                                        daemon=True)
        self._thread.start()
        if self.read() is None:
            self.close()
            raise FesguiError(f"camera {self.index} opened but sends no picture: check "
                              "that it is not in use and try again")
        with self._cond:
            self._taken -= 1  # the first frame is still new for the caller

    def _run(self) -> None:
        bad = 0
        while not self._stop.is_set():
            ok, bgr = self._cap.read()
            if not ok or bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0:
                bad += 1  # a dropped or garbled frame: cameras recover from a few
                if bad <= CAMERA_RETRIES and not self._stop.wait(CAMERA_RETRY_WAIT):
                    continue
                with self._cond:
                    self.failed, self.error = True, f"camera {self.index} stopped sending"
                    self._cond.notify_all()
                return
            bad = 0
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            with self._cond:
                self._frame, self._seq = rgb, self._seq + 1
                self._cond.notify_all()

    @property
    def fps(self) -> float:
        return _valid_fps(self._cap.get(cv2.CAP_PROP_FPS))

    def read(self) -> np.ndarray | None:
        """The newest frame (H, W, 3) uint8 RGB, or None if the camera failed or stalled."""
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while self._seq <= self._taken and not self.failed:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    if not self._stop.is_set():
                        self.failed = True
                        self.error = (f"camera {self.index} sent nothing for "
                                      f"{self.timeout:g} s")
                    return None
                self._cond.wait(left)
            if self._seq <= self._taken:
                return None
            self._taken = self._seq
            return self._frame

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.timeout + 1.0)
        if not self._thread.is_alive():
            self._cap.release()

    def __enter__(self) -> CameraSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(spec: int | str | os.PathLike, loop: bool = False
                ) -> VideoFileSource | CameraSource:
    """A camera for an int or a string of digits, otherwise a video file."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec))
    return VideoFileSource(spec, loop=loop)


def probe_cameras(max_index: int = 4, timeout: float = 1.0) -> list[tuple[int, int, int]]:
    """``[(index, width, height)]`` of the cameras 0..max_index-1 that open and deliver a
    frame. Returns quickly (no waiting) when the system has no camera devices."""
    found = []
    for index in range(max_index):
        if not _camera_exists(index):
            continue
        cap = _open_capture(index, 640, 480, timeout)
        try:
            if cap.isOpened():
                ok, frame = cap.read()
                if ok and frame is not None:
                    found.append((index, frame.shape[1], frame.shape[0]))
        finally:
            cap.release()
    return found


class _Cancelled(Exception):
    pass


class VideoWriter:
    """Write RGB uint8 frames to an .avi (MJPG) or .mp4 (mp4v) file, atomically.

    Frames go to a temporary file beside ``path`` that is renamed into place by
    :meth:`close`; :meth:`abort`, an exception inside a ``with`` block, or never closing
    leave no file. ``size`` is (height, width) like numpy shapes; None takes it from the
    first frame. Every frame must have that size.
    """

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FPS,
                 size: tuple[int, int] | None = None) -> None:
        self.path = Path(path)
        codec = video_codec(self.path)
        check_output_folder(self.path)
        self.fps = _valid_fps(fps)
        self._fourcc = cv2.VideoWriter_fourcc(*codec)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self._cm = atomic_write(self.path)
        self._tmp: Path = self._cm.__enter__()
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0
        self._done = False

    def _open(self, h: int, w: int) -> None:
        self._writer = cv2.VideoWriter(str(self._tmp), self._fourcc, self.fps, (w, h))
        if not self._writer.isOpened():
            self.abort()
            raise FesguiError(f"cannot write video {self.path.name}: this OpenCV cannot "
                              "encode it; try .avi")

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        if self._done:
            raise FesguiError(f"video {self.path.name} is already closed: open a new writer")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            self.abort()
            raise FesguiError(f"video frames must be (H, W, 3) uint8 RGB, got {frame.dtype} "
                              f"{frame.shape}")
        if self.size is None:
            self.size = frame.shape[:2]
        if frame.shape[:2] != self.size:
            self.abort()
            raise FesguiError(f"frame {frame.shape[1]}x{frame.shape[0]} differs from the "
                              f"video's {self.size[1]}x{self.size[0]}: resize frames first")
        if self._writer is None:
            self._open(*self.size)
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finish the file and move it into place (an error if no frame was written)."""
        if self._done:
            return
        if self.frames == 0:
            self.abort()
            raise FesguiError(f"no frames were written to {self.path.name}: nothing to save")
        self._writer.release()
        self._done = True
        self._cm.__exit__(None, None, None)

    def abort(self) -> None:
        """Stop and delete the partial file; the destination is left as it was."""
        if self._done:
            return
        self._done = True
        if self._writer is not None:
            self._writer.release()
        exc = _Cancelled()
        try:
            self._cm.__exit__(_Cancelled, exc, None)
        except _Cancelled:
            pass

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            self.abort()
