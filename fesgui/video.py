"""Frame sources (video files, cameras) and an atomic video writer.

Video files are read and written with PyAV (FFmpeg's libraries; its wheels carry the H.264
encoder and the AAC codec): ``.mp4`` is written as H.264 (yuv420p, plays in browsers,
QuickTime and phones), ``.avi`` as Motion-JPEG; the sound of an input can be copied
packet for packet, and the frame rate and rotation metadata are kept. Cameras stay on
OpenCV.

Every source returns (H, W, 3) uint8 RGB frames from :meth:`read` and ``None`` when there
are no more. Nothing here can hang the caller: a camera is read on a background thread
and :meth:`CameraSource.read` waits at most ``timeout`` seconds; a source that stops
delivering sets ``failed`` and says why in ``error``. BGR <-> RGB conversion happens here
(and in :mod:`fesgui.imageio`) only. FFmpeg's own log lines are never printed (PyAV drops
them unless asked; see :func:`_quiet_ffmpeg`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from fesgui.atomic import DiskFullError, atomic_write
from fesgui.errors import FesguiError
from fesgui.imageio import check_output_folder

#: what each output file extension holds (codec names as FFmpeg calls them)
CODECS = {".mp4": "h264", ".mov": "h264", ".mkv": "h264", ".avi": "mjpeg"}
#: the container FFmpeg writes for each output file extension
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
DEFAULT_FPS = 30.0
#: H.264 quality: constant rate factor, 0 (lossless) .. 51 (worst); 18 looks lossless
DEFAULT_CRF = 20
#: x264 speed/size trade-off. "ultrafast" is the one that lets ``fesgui video`` keep up
#: with a 30 fps 1080p video on two cores (decoding and encoding alone take ~34 ms of CPU
#: per frame with it, ~70 ms with "veryfast": the budget is 66); "veryfast" makes files
#: about 5x smaller (docs/performance.md)
DEFAULT_PRESET = "ultrafast"
#: x264 presets encoded on one thread: ultrafast encodes a 1080p frame in ~18 ms of one
#: core, so x264's frame threads only add CPU (~4 ms a frame) that the decoder and the face
#: work need: ``fesgui video`` at 1080p ran at 33 fps with one encoder thread, 28 with
#: x264's own choice. The slower presets need their threads (veryfast: 19 fps with them,
#: 15.5 on one).
ONE_THREAD_PRESETS = ("ultrafast",)
#: consecutive undecodable packets a video file may have before it counts as ended
MAX_BAD_FRAMES = 8
#: failed reads in a row (each after CAMERA_RETRY_WAIT seconds) before a camera is lost
CAMERA_RETRIES = 3
CAMERA_RETRY_WAIT = 0.05


def _av():
    """PyAV, imported on first use with FFmpeg's logging kept off the terminal."""
    try:
        import av
    except ImportError:
        raise FesguiError("PyAV is not installed: pip install av (fesgui reads and writes "
                          "video files with it)") from None
    _quiet_ffmpeg(av)
    return av


def _quiet_ffmpeg(av) -> None:
    """Keep FFmpeg's ``[h264 @ 0x...]`` lines off the terminal: PyAV's own log handler
    (level None) swallows them; decoding problems are reported by fesgui in one line."""
    av.logging.set_level(None)
    av.logging.set_libav_level(av.logging.PANIC)


def video_suffixes() -> str:
    """'.mp4, .mov, .mkv or .avi': the output file names a video may have."""
    names = list(CODECS)
    return ", ".join(names[:-1]) + " or " + names[-1]


def video_codec(path: str | os.PathLike) -> str:
    """The codec written for an output video file name (a one-line error for others)."""
    path = Path(path)
    codec = CODECS.get(path.suffix.lower())
    if codec is None:
        raise FesguiError(f"cannot write video {path.name}: use a file name ending in "
                          f"{video_suffixes()}")
    return codec


def _valid_fps(fps: float | None) -> float:
    try:
        fps = float(fps)
    except (TypeError, ValueError, ZeroDivisionError):
        return DEFAULT_FPS
    return fps if np.isfinite(fps) and 0.5 <= fps <= 1000 else DEFAULT_FPS


def _rate(fps: float) -> Fraction:
    """A frame rate as the fraction containers store (29.97 -> 30000/1001)."""
    return Fraction(fps).limit_denominator(1001)


def _to_rgb(frame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded PyAV frame. The common yuv420p goes through
    OpenCV (BT.601, limited range, 4x faster than FFmpeg's swscale at 1080p), the same
    matrix :class:`VideoWriter` uses back, so a frame read and written again keeps its
    YUV values; other pixel formats go through swscale."""
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """A decoded frame turned the way players show it (``rotation``: degrees
    counter-clockwise, FFmpeg's display matrix)."""
    k = (int(round(rotation / 90)) % 4)
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


class VideoFileSource:
    """Frames of a video file (PyAV), upright, optionally looping (a stand-in for a camera).

    Raises :class:`FesguiError` if the file is missing or cannot be decoded (the first
    frame is read on opening to make sure). Frames come turned upright when the file says
    it is rotated (phone videos); :attr:`rotation` keeps the file's value so a writer can
    store it again. A corrupt frame inside the file is skipped (up to
    :data:`MAX_BAD_FRAMES` in a row), counted in ``skipped`` and described in ``error``; a
    file that ends before the frame count it announces, or whose container breaks, ends
    there and ``error`` says which. Neither sets ``failed`` (the frames read are good).
    A frame of another size than the first raises :class:`FesguiError` (such files cannot
    be processed frame by frame into one video).

    ``keep_audio``: the packets of the first audio stream are collected while reading
    (:meth:`take_audio`), for :class:`VideoWriter` to copy unchanged.

    :attr:`time` is the time stamp of the frame :meth:`read` returned last, exact, in
    seconds on the file's clock (the one its sound packets use) counted from the file's
    start, or None when the file gives none; :attr:`time_base` the video stream's tick.
    A variable-frame-rate file (a phone clip, a browser or screen recording) keeps its
    timing only through them.
    """

    def __init__(self, path: str | os.PathLike, loop: bool = False,
                 keep_audio: bool = False) -> None:
        self.path = Path(path)
        self.loop = loop
        self.keep_audio = keep_audio
        self.failed = False
        self.error: str | None = None
        self.index = 0  # frames returned so far
        self.time: Fraction | None = None  # time stamp of the frame returned last (s)
        self.skipped = 0  # corrupt frames passed over
        self.rotation = 0
        self._container = None
        self._audio: list = []
        if not self.path.is_file():
            raise FesguiError(f"video {self.path} does not exist: check the path")
        if self.path.stat().st_size == 0:
            raise FesguiError(f"video {self.path} is empty (0 bytes): use another copy")
        self._open()
        first = self._next()
        if first is None:
            self.close()
            raise FesguiError(f"cannot decode video {self.path.name}: convert it to MP4 "
                              "(H.264) or AVI (MJPG) and try again")
        self.rotation = self._rotation
        #: colour tags (colorspace, range, primaries, transfer) of a yuv420p file, for
        #: :class:`VideoWriter` to store again (None: other pixel formats)
        self.color = self._color
        self._shape = first[0].shape
        self._pending: tuple[np.ndarray, Fraction | None] | None = first

    # -- opening and decoding ----------------------------------------------------------
    def _open(self) -> None:
        av = _av()
        self._decoded = 0  # frames decoded in this pass through the file
        self._queue: list[tuple[np.ndarray, Fraction | None]] = []
        self._bad_run = 0
        self._rotation = 0
        self._origin = Fraction(0)  # where the file's clock starts (seconds, >= 0)
        self._color: tuple[int, int, int, int] | None = None
        try:
            self._container = av.open(str(self.path), metadata_errors="ignore")
            if not self._container.streams.video:
                raise FesguiError(f"{self.path.name} holds no video stream: open a video "
                                  "file")
            self._stream = self._container.streams.video[0]
            # slice threads only: FFmpeg's frame threads cost more CPU per frame (10.4 against
            # 10.0 ms at 1080p) that the face work and the encoder need, and one thread
            # decodes a 1080p frame in a third of a 30 fps frame's time
            self._stream.thread_type = "SLICE"
            streams = [self._stream]
            self.audio_stream = None
            if self.keep_audio and self._container.streams.audio:
                self.audio_stream = self._container.streams.audio[0]
                streams.append(self.audio_stream)
            self._packets = self._container.demux(*streams)
            # the file's clock starts at 0 in the output: an MPEG-TS may start at 1.4 s
            # or hours in (a negative start, AAC priming, is left to the muxer as it was)
            start = self._container.start_time
            self._origin = Fraction(max(0, start or 0), 1_000_000)
        except FesguiError:
            self.close()
            raise
        except (av.error.FFmpegError, OSError, ValueError, IndexError):
            self.close()
            if _mp4_without_index(self.path):
                raise FesguiError(
                    f"{self.path.name} is an MP4 without its index (no 'moov' box): the file "
                    "was cut short while it was being written; use a complete copy") from None
            raise FesguiError(f"cannot decode video {self.path.name}: convert it to MP4 "
                              "(H.264) or AVI (MJPG) and try again") from None

    @property
    def time_base(self) -> Fraction:
        """The video stream's tick (seconds), in which :attr:`time` is a whole number."""
        tb = self._stream.time_base if self._container is not None else None
        return Fraction(tb) if tb else Fraction(1, 90000)

    def _next(self) -> tuple[np.ndarray, Fraction | None] | None:
        """The next decoded frame of this pass (upright RGB) and its time stamp, or None at
        its end."""
        av = _av()
        while not self._queue:
            if self._packets is None:
                return None
            try:
                packet = next(self._packets)
            except StopIteration:
                self._packets = None
                self._check_length()
                return None
            except (av.error.FFmpegError, OSError) as exc:  # the container itself breaks
                self._packets = None
                self.error = (f"{self.path.name} is damaged after frame {self._decoded}: "
                              f"the frames after it could not be read ({_reason(exc)})")
                return None
            if packet.stream.type == "audio":
                if packet.size:
                    self._audio.append(self._rebased(packet))
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self.skipped += 1
                self._bad_run += 1
                self.error = self._skipped_note()
                if self._bad_run > MAX_BAD_FRAMES:
                    self._packets = None
                    self.error = (f"{self.path.name} stopped decoding after frame "
                                  f"{self._decoded}: {self._bad_run} damaged frames in a "
                                  f"row ({_reason(exc)})")
                    return None
                continue
            for frame in frames:
                self._bad_run = 0
                self._rotation = int(getattr(frame, "rotation", 0) or 0)
                if self._decoded == 0 and frame.format.name == "yuv420p":
                    self._color = (frame.colorspace, frame.color_range,
                                   frame.color_primaries, frame.color_trc)
                rgb = _upright(_to_rgb(frame), self._rotation)
                stamp = (None if frame.pts is None else
                         frame.pts * Fraction(frame.time_base) - self._origin)
                self._queue.append((rgb, stamp))
                self._decoded += 1
        return self._queue.pop(0)

    def _rebased(self, packet):
        """An audio packet moved to the output's clock (see ``_origin``)."""
        if self._origin and packet.time_base:
            shift = round(self._origin / Fraction(packet.time_base))
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        return packet

    def _check_length(self) -> None:
        # only a count the container states (MP4, AVI); an estimate from the duration
        # (MPEG-TS, variable frame rates) would call a whole file cut short
        announced = int(self._stream.frames or 0) if self._container is not None else 0
        # a file cut inside a frame ends with a corrupt one: the cut is the news, not the skip
        skips_only = self.error == self._skipped_note()
        if (not self.error or skips_only) and announced and \
                self._decoded + self.skipped < announced - 1:
            self.error = (f"{self.path.name} stopped decoding after frame {self._decoded} of the "
                          f"{announced} it announces: the file is cut short (damaged, or still "
                          "being written)")

    def _skipped_note(self) -> str:
        return (f"skipped {self.skipped} corrupt frame{'s' if self.skipped != 1 else ''} of "
                f"{self.path.name}")

    # -- properties --------------------------------------------------------------------
    @property
    def fps(self) -> float:
        """Frames per second from the file (30 if the file does not say)."""
        if self._container is None:
            return DEFAULT_FPS
        rate = self._stream.average_rate or self._stream.guessed_rate
        return _valid_fps(rate)

    @property
    def frame_count(self) -> int:
        """Number of frames the file claims (0 if unknown; may be approximate)."""
        if self._container is None:
            return 0
        n = int(self._stream.frames or 0)
        if n <= 0 and self._stream.duration and self._stream.time_base:
            n = int(round(float(self._stream.duration * self._stream.time_base) * self.fps))
        return max(0, n)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frames as returned (upright)."""
        return self._shape[:2]

    def take_audio(self) -> list:
        """The audio packets read so far and not taken yet (``keep_audio`` only)."""
        packets, self._audio = self._audio, []
        return packets

    # -- reading -----------------------------------------------------------------------
    def read(self) -> np.ndarray | None:
        """The next frame as (H, W, 3) uint8 RGB, or None at the end (or after close)."""
        if self._container is None:
            return None
        if self._pending is not None:
            item, self._pending = self._pending, None
        else:
            item = self._next()
            if item is None and self.loop and self.index > 0 and not self.failed:
                self._container.close()
                self.keep_audio = False
                try:
                    self._open()
                    item = self._next()
                except FesguiError:
                    item = None
                if item is None:
                    self.failed, self.error = True, f"cannot rewind {self.path.name}"
            if item is None:
                return None
        rgb, self.time = item
        if rgb.shape != self._shape:
            raise FesguiError(
                f"{self.path.name} changes its frame size at frame {self.index + 1} "
                f"({rgb.shape[1]}x{rgb.shape[0]} after {self._shape[1]}x"
                f"{self._shape[0]}): convert it to one size first, e.g. ffmpeg -i IN "
                f"-vf scale={self._shape[1]}:{self._shape[0]} OUT.mp4")
        self.index += 1
        return rgb

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.close()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        while (frame := self.read()) is not None:
            yield frame


def _mp4_without_index(path: Path) -> bool:
    """True for an MP4/MOV file whose top-level boxes start with 'ftyp' and hold media
    data but no 'moov' (the index a recorder writes last)."""
    try:
        with open(path, "rb") as f:
            kinds, pos, size = [], 0, path.stat().st_size
            while pos + 8 <= size and len(kinds) < 64:
                f.seek(pos)
                head = f.read(16)
                box = int.from_bytes(head[:4], "big")
                kinds.append(head[4:8])
                if box == 1 and len(head) == 16:
                    box = int.from_bytes(head[8:16], "big")
                if box < 8:
                    break  # 0 = "to the end of the file"; smaller is not a box
                pos += box
    except OSError:
        return False
    return bool(kinds) and kinds[0] == b"ftyp" and b"moov" not in kinds and b"mdat" in kinds


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


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


#: the longest gap between two frames' times an .avi fills with repeats (seconds)
MAX_GAP_S = 10.0


def _even(n: int) -> int:
    return n + (n % 2)


class VideoWriter:
    """Write RGB uint8 frames to an .mp4, .mov or .mkv (H.264) or .avi (Motion-JPEG) file,
    atomically.

    Frames go to a temporary file beside ``path`` that is checked (it must open, hold
    every frame written, at the right size, and its first frame must decode) and only then
    renamed into place by :meth:`close`; a write error (a full disk, ``ulimit -f``), a
    failed check, :meth:`abort`, an exception inside a ``with`` block, or never closing
    leave the old file (or no file). ``size`` is (height, width) like numpy shapes; None
    takes it from the first frame. Every frame must have that size.

    ``crf``: H.264 quality (0 best .. 51 worst, :data:`DEFAULT_CRF`); ``preset``: x264
    speed; ``rotation``: degrees counter-clockwise stored as display metadata (frames are
    given upright, as :class:`VideoFileSource` returns them, and stored turned back, so
    the file looks like its source); ``audio``: an input audio stream
    (:attr:`VideoFileSource.audio_stream`) whose packets :meth:`write_audio` copies
    unchanged; ``color``: the source's colour tags (:attr:`VideoFileSource.color`),
    stored again so players show the output like the input. H.264 in yuv420p needs an
    even width and height: an odd edge is repeated once.

    Frame times: :meth:`write` with ``time`` (seconds, the source's
    :attr:`VideoFileSource.time`) places the frame at that time in ticks of ``time_base``
    (:attr:`VideoFileSource.time_base`), so a variable frame rate, a gap where frames were
    damaged, and the start relative to the copied sound all stay as in the source (before,
    frame n went to n / fps: a browser recording came out 2 s shorter than its sound).
    Without ``time``, frames follow each other at ``fps``. An .avi holds a constant rate
    only: there the frame before a gap is held (its packet repeated) up to the next frame's
    time, and a frame whose slot is taken is dropped, so it too stays on time (a gap of
    more than :data:`MAX_GAP_S` is cut to that, moving what follows earlier).
    """

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FPS,
                 size: tuple[int, int] | None = None, crf: int = DEFAULT_CRF,
                 preset: str = DEFAULT_PRESET, rotation: int = 0, audio=None,
                 color: tuple[int, int, int, int] | None = None,
                 time_base: Fraction | None = None) -> None:
        self.path = Path(path)
        self.codec = video_codec(self.path)
        check_output_folder(self.path)
        if not isinstance(crf, (int, np.integer)) or not 0 <= crf <= 51:
            raise FesguiError(f"quality (crf) {crf} is out of range: use 0 (best) to 51 "
                              f"(smallest), e.g. {DEFAULT_CRF}")
        self._av = _av()
        self.fps = _valid_fps(fps)
        self.crf, self.preset = int(crf), str(preset)
        self.rotation = int(round(rotation / 90)) * 90 % 360
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self._audio_in = audio
        self._color = color
        rate = _rate(self.fps)
        #: the tick of the frame times (.avi: one frame); an .mp4 frame without a time
        #: comes one ``_step`` after the one before
        self._tick = Fraction(time_base) if time_base and self.codec == "h264" else 1 / rate
        self._step = max(1, round(1 / (rate * self._tick)))
        self._last_pts: int | None = None
        self._held: bytes | None = None  # .avi: the last frame's packet, to repeat
        self._cut = 0  # .avi: slots cut out of gaps longer than MAX_GAP_S
        self.audio_note: str | None = None  # why the sound was not copied, if it was not
        self.audio_packets = 0
        self._cm = atomic_write(self.path)
        self._tmp: Path = self._cm.__enter__()
        self._container = None
        self._video = None
        self._audio = None
        self.frames = 0
        self._done = False

    # -- opening -------------------------------------------------------------------------
    def _open(self, h: int, w: int) -> None:
        av = self._av
        if self.rotation % 180:
            h, w = w, h  # stored the way the source stored it
        try:
            self._add_streams(h, w, self._audio_in)
            try:
                self._container.start_encoding()  # the header: a muxer may refuse the sound
            except av.error.FFmpegError as exc:
                if self._audio is None:
                    raise
                # e.g. AAC from an MPEG-TS into .avi: "Invalid argument" on every frame
                note = self._sound_refused(self._audio_in, exc)
                with contextlib.suppress(av.error.FFmpegError, OSError):
                    self._container.close()
                self._add_streams(h, w, None)
                self._container.start_encoding()
                self.audio_note = note
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise self._error(exc) from None

    def _add_streams(self, h: int, w: int, audio) -> None:
        """Open the temporary file with the video stream and, if ``audio``, a copy of
        that sound stream (:attr:`audio_note` says why not, when it cannot be added)."""
        av = self._av
        rate = _rate(self.fps)
        if self.codec == "h264":
            container = CONTAINERS[self.path.suffix.lower()]
            self._container = av.open(str(self._tmp), "w", format=container,
                                      options={"movflags": "+faststart"}
                                      if container in ("mp4", "mov") else {})
            stream = self._container.add_stream(
                "libx264", rate=rate, options={"crf": str(self.crf), "preset": self.preset})
            stream.pix_fmt = "yuv420p"
            stream.width, stream.height = _even(w), _even(h)
            if self._color is not None:
                cc = stream.codec_context
                cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc = self._color
        else:
            self._container = av.open(str(self._tmp), "w", format="avi")
            stream = self._container.add_stream("mjpeg", rate=rate)
            stream.pix_fmt = "yuvj420p"
            stream.width, stream.height = w, h
            stream.codec_context.bit_rate = int(max(1, w * h * self.fps * 2))
        stream.codec_context.time_base = self._tick
        if self.codec == "h264" and self.preset in ONE_THREAD_PRESETS:
            stream.codec_context.thread_count = 1
        else:
            stream.thread_type = "AUTO"
        if self.rotation:
            stream.set_display_rotation(self.rotation)
        self._video = stream
        self._audio = None
        if audio is not None:
            try:
                self._audio = self._container.add_stream_from_template(audio)
            except (av.error.FFmpegError, ValueError, TypeError) as exc:
                self.audio_note = self._sound_refused(audio, exc)

    def _sound_refused(self, audio, exc: BaseException) -> str:
        """The :attr:`audio_note` for a sound stream this file cannot hold."""
        return (f"the sound ({audio.codec_context.name}) cannot go into {self.path.suffix}: "
                f"not copied ({_reason(exc)})")

    def _error(self, exc: BaseException) -> FesguiError:
        err = getattr(exc, "errno", None)
        if err in (errno.ENOSPC, errno.EDQUOT):
            return DiskFullError(f"disk full while writing {self.path}: free some space and "
                                 "try again (the old file was kept)")
        if err == errno.EFBIG:
            return FesguiError(f"cannot write {self.path}: the file size limit (ulimit -f) "
                               "was reached; the old file was kept")
        return FesguiError(f"cannot write video {self.path.name}: {_reason(exc)}")

    # -- writing -------------------------------------------------------------------------
    def write(self, frame: np.ndarray, time: Fraction | float | None = None) -> None:
        """Append one (H, W, 3) uint8 RGB frame (upright), at ``time`` seconds if given
        (see the class)."""
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
        if self._container is None:
            self._open(*self.size)
        stored = _upright(frame, -self.rotation) if self.rotation else frame
        sh, sw = stored.shape[:2]
        if (self._video.height, self._video.width) != (sh, sw):
            stored = np.pad(stored, ((0, self._video.height - sh),
                                     (0, self._video.width - sw), (0, 0)), mode="edge")
        if self.codec == "h264":  # OpenCV's BT.601 converter: 5x faster than swscale
            yuv = cv2.cvtColor(np.ascontiguousarray(stored), cv2.COLOR_RGB2YUV_I420)
            vf = self._av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            vf.pts, vf.time_base = self._pts(time), self._tick
            self._mux(self._video.encode(vf))
            self.frames += 1
            return
        slot = self._slot(time)  # .avi: a constant rate
        if slot is None:
            return  # its slot is taken: dropped
        first = self._held is None
        self._hold(slot)  # the frame before stays up to this one's slot
        vf = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")
        vf.pts, vf.time_base = self.frames, self._tick
        packets = self._video.encode(vf)  # Motion-JPEG: one packet, at once
        self._held = bytes(packets[-1]) if packets else None
        self._mux(packets)
        self.frames += 1
        if first:
            self._hold(slot + 1)  # nothing came before the first frame: it fills the start

    def _pts(self, time: Fraction | float | None) -> int:
        """An .mp4 frame's time in ticks: ``time`` rounded, but always after the frame
        before (a repeated or backward time stamp moves on by one tick); without a time,
        one frame (at fps) after the frame before."""
        last = self._last_pts
        if time is None:
            pts = 0 if last is None else last + self._step
        else:
            pts = max(0, round(Fraction(time) / self._tick))
            if last is not None and pts <= last:
                pts = last + 1
        self._last_pts = pts
        return pts

    def _slot(self, time: Fraction | float | None) -> int | None:
        """An .avi frame's place at the constant rate: the next one without a time; else
        ``time``'s, or None when that slot is taken. A gap of more than
        :data:`MAX_GAP_S` is cut to that, and every later frame moves earlier by the rest
        (a recording paused for an hour must not become an hour of one repeated frame)."""
        if time is None:
            return self.frames
        slot = round(Fraction(time) / self._tick) - self._cut  # .avi: a tick is a frame
        longest = self.frames + round(MAX_GAP_S * self.fps)
        if slot > longest:
            self._cut += slot - longest
            slot = longest
        return slot if slot >= self.frames else None

    def _hold(self, until: int) -> None:
        """Repeat the last .avi frame (its packet, not encoded again) up to slot ``until``."""
        while self._held is not None and self.frames < until:
            packet = self._av.Packet(self._held)
            packet.stream, packet.time_base = self._video, self._tick
            packet.pts = packet.dts = self.frames
            self._mux([packet])
            self.frames += 1

    def write_audio(self, packets) -> None:
        """Copy audio packets of the ``audio`` stream given at creation, unchanged."""
        if self._done or not packets:
            return
        if self._container is None:
            raise FesguiError("write a video frame before the sound: the video stream "
                              "opens the file")
        if self._audio is None:
            return
        for packet in packets:
            if packet.dts is None:
                continue  # a packet without a time stamp cannot be placed
            packet.stream = self._audio
            self._mux([packet])
            self.audio_packets += 1

    def _mux(self, packets) -> None:
        try:
            for packet in packets:
                self._container.mux(packet)
        except (self._av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise self._error(exc) from None

    # -- finishing -----------------------------------------------------------------------
    def close(self) -> None:
        """Finish the file, check it and move it into place (an error if no frame was
        written, or if the finished file is not complete: the old file is then kept)."""
        if self._done:
            return
        if self.frames == 0:
            self.abort()
            raise FesguiError(f"no frames were written to {self.path.name}: nothing to save")
        self._mux(self._video.encode(None))
        try:
            container, self._container = self._container, None
            container.close()
        except (self._av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise self._error(exc) from None
        try:
            self._verify()
        except FesguiError:
            self.abort()
            raise
        self._done = True
        self._cm.__exit__(None, None, None)

    def _verify(self) -> None:
        """The temporary file opens, holds :attr:`frames` frames of the right size, and its
        first frame decodes; else a one-line error (the caller keeps the old file)."""
        av = self._av
        name = self.path.name
        want = (self._video.width, self._video.height)
        try:
            with av.open(str(self._tmp), metadata_errors="ignore") as check:
                stream = check.streams.video[0]
                got = (stream.codec_context.width, stream.codec_context.height)
                packets = 0
                first = None
                for packet in check.demux(stream):
                    if not packet.size:
                        continue
                    packets += 1
                    if first is None:
                        first = next(iter(packet.decode()), None)
                if first is None:  # a decoder that holds frames back gives them on flush
                    first = next(iter(stream.codec_context.decode(None)), None)
        except (av.error.FFmpegError, OSError, IndexError) as exc:
            raise FesguiError(f"the finished video {name} cannot be read back "
                              f"({_reason(exc)}): the old file was kept; check the free "
                              "disk space") from None
        if got != want or packets != self.frames or first is None:
            raise FesguiError(f"the finished video {name} is incomplete ({packets} of "
                              f"{self.frames} frames, {got[0]}x{got[1]}): the old file was "
                              "kept; check the free disk space")

    def abort(self) -> None:
        """Stop and delete the partial file; the destination is left as it was."""
        if self._done:
            return
        self._done = True
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: BLE001 - the file is being thrown away
                pass
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
