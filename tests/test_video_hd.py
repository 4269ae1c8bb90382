"""Video as people have it: HD and portrait frames, small and large faces, H.264 with its
sound, rotation, quality, and the finished file checked before it replaces anything.

Test videos are generated here (scikit-image's astronaut pasted into frames of the common
sizes, :func:`fesgui.benchmarks.testvideo.face_scene`) and written with PyAV directly, as a
phone or camera would (:func:`fesgui.benchmarks.testvideo.write_av_video`), never through
the writer under test. They are a few frames long.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fesgui.benchmarks.testvideo import face_scene, write_av_video
from fesgui.cli import main
from fesgui.errors import FesguiError
from fesgui.video import VideoFileSource, VideoWriter

ROOT = Path(__file__).resolve().parents[1]
#: (height, width): VGA, 720p, 1080p, and a portrait phone video
SIZES = [(480, 640), (720, 1280), (1080, 1920), (1920, 1080)]
#: native log lines of MediaPipe (absl), TFLite and FFmpeg
NATIVE_LOG = re.compile(r"^([IWEF]\d{4} |INFO: |WARNING: All log messages|\[\w+ @ 0x)", re.M)


def _fracs(h: int, w: int) -> list[float]:
    """Face widths (fractions of the frame width) from 10 % to 70 % that fit the frame
    (a face is about 1.15 times as tall as wide, plus room to move)."""
    return [f for f in (0.1, 0.2, 0.35, 0.5, 0.7) if f * w * 1.4 <= h]


def _moving(h: int, w: int, frac: float, n: int, still: bool = False):
    """``n`` frames of a face of ``frac`` of the width drifting right and down (or still),
    with the face boxes."""
    out = [face_scene(h, w, frac, 0.5 if still else 0.42 + 0.04 * i,
                      0.5 if still else 0.46 + 0.02 * i) for i in range(n)]
    return [f for f, _ in out], [b for _, b in out]


def _grow(box, k: float, h: int, w: int) -> tuple[int, int, int, int]:
    """``box`` (x0, y0, x1, y1) grown by ``k`` times its size on every side, in the frame."""
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * k, (y1 - y0) * k
    return (max(0, int(x0 - dx)), max(0, int(y0 - dy)), min(w, int(np.ceil(x1 + dx))),
            min(h, int(np.ceil(y1 + dy))))


@pytest.fixture(scope="module")
def video_finder():
    from fesgui.align.mediapipe_source import MediaPipeSource

    with MediaPipeSource(video=True, max_faces=1) as finder:
        yield finder


def _env() -> dict:
    """The environment of a ``python -m fesgui`` child: this checkout first on the path."""
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------ landmarks in video mode
@pytest.mark.parametrize(("h", "w"), SIZES)
def test_video_mode_finds_faces_of_every_size_at_every_resolution(video_finder, h, w):
    """Before: FaceMesh in tracking mode on the whole frame lost faces narrower than about
    a third of the frame (and HD frames)."""
    for frac in _fracs(h, w):
        for still in (True, False):
            frames, boxes = _moving(h, w, frac, 3, still)
            for frame, box in zip(frames, boxes, strict=True):
                faces = video_finder.detect(frame)
                assert len(faces) == 1, (h, w, frac, still)
                x0, y0, x1, y1 = box
                pts = faces[0].points
                # eyes, nose tip and mouth corners inside the known face box, in order
                assert np.all((pts[:, 0] > x0) & (pts[:, 0] < x1)), (frac, pts, box)
                assert np.all((pts[:, 1] > y0) & (pts[:, 1] < y1)), (frac, pts, box)
                assert pts[0, 0] < pts[1, 0] and pts[:2, 1].max() < pts[2, 1] < pts[3:, 1].min()
                # the eye distance scales with the face (a face of the wrong size fails)
                iod = np.linalg.norm(pts[1] - pts[0])
                assert 0.3 < iod / (x1 - x0) < 0.6, (frac, iod, box)


def test_tracking_picks_the_face_up_again_after_frames_without_one(video_finder):
    frame, box = face_scene(720, 1280, 0.15, 0.3, 0.5)
    blank = np.full_like(frame, 60)
    assert video_finder.detect(frame)
    assert video_finder.detect(blank) == []
    moved, box2 = face_scene(720, 1280, 0.15, 0.75, 0.4)  # reappears elsewhere
    faces = video_finder.detect(moved)
    assert len(faces) == 1 and box2[0] < faces[0].points[2, 0] < box2[2]


def test_several_faces_are_tracked_each_in_its_own_crop():
    from fesgui.align.mediapipe_source import MediaPipeSource

    with MediaPipeSource(video=True, max_faces=4) as finder:
        for i in range(4):
            a, box_a = face_scene(720, 1280, 0.15, 0.25 + 0.01 * i, 0.5)
            b, box_b = face_scene(720, 1280, 0.1, 0.75, 0.45)
            frame = a.copy()
            frame[:, 640:] = b[:, 640:]
            faces = finder.detect(frame)
            assert len(faces) == 2, i
            (big, small), boxes = faces, (box_a, box_b)
            assert big.area > small.area  # largest first
            for face, box in zip((big, small), boxes, strict=True):
                assert box[0] < face.points[2, 0] < box[2] and box[1] < face.points[2, 1] < box[3]


def test_facemesh_runs_every_other_frame_and_the_flow_keeps_up_with_it():
    """Video mode runs FaceMesh on every MESH_EVERY-th frame and follows the face by
    optical flow in between. The face is drawn 7.7 px further right each frame: a followed
    frame's points are the frame before's moved by that, within half a pixel (the truth
    by construction), and they stay near FaceMesh's own points for that frame (FaceMesh
    run on every frame jitters by about 2 % of the face width between frames)."""
    from fesgui.align.mediapipe_source import MESH_EVERY, MediaPipeSource

    assert MESH_EVERY == 2
    step = 0.004  # of the width, per frame
    frames = [face_scene(1080, 1920, 0.2, 0.4 + step * i, 0.5)[0] for i in range(9)]
    x0, _, x1, _ = face_scene(1080, 1920, 0.2)[1]
    with MediaPipeSource(video=True, max_faces=1) as flow, \
            MediaPipeSource(video=True, max_faces=1, mesh_every=1) as mesh:
        meshed = []
        real = flow._mesh_once

        def counted(*args):
            meshed.append(1)
            return real(*args)

        flow._mesh_once = counted
        before = None
        for i, frame in enumerate(frames):
            calls = len(meshed)
            (a,), (b,) = flow.detect(frame), mesh.detect(frame)
            followed = len(meshed) == calls
            assert followed == (i % 2 == 1), i  # FaceMesh on the even frames
            if followed:
                want = before.points + np.float32([step * 1920, 0])
                assert np.abs(a.points - want).max() < 0.5, i
            assert np.abs(a.points - b.points).max() < 0.04 * (x1 - x0), i
            before = a


def test_the_search_for_more_faces_waits_for_a_flow_frame():
    """With several faces wanted, the detector looks for new faces every REDETECT_EVERY
    frames on a frame whose faces were followed by flow (FaceMesh and the detector on one
    frame would make it late for a 30 fps video)."""
    from fesgui.align.mediapipe_source import REDETECT_EVERY, MediaPipeSource

    with MediaPipeSource(video=True, max_faces=2) as finder:
        followed_at_search = []
        real = finder._find

        def find(image):
            followed_at_search.append(finder._followed)
            return real(image)

        finder._find = find
        for i in range(3 * REDETECT_EVERY):
            assert len(finder.detect(face_scene(720, 1280, 0.2, 0.4 + 0.002 * i, 0.5)[0])) == 1
    # the first search finds the face; every later one ran on a flow frame
    assert followed_at_search[0] == 0 and len(followed_at_search) >= 3
    assert all(n >= 1 for n in followed_at_search[1:]), followed_at_search


def test_mesh_every_must_be_positive():
    from fesgui.align.mediapipe_source import MediaPipeSource

    with pytest.raises(FesguiError, match="mesh_every=0 must be at least 1"):
        MediaPipeSource(video=True, mesh_every=0)


def test_square_crop_maps_points_exactly():
    """Independent check of the crop geometry: an image whose pixels hold their own
    continuous coordinates must give back x0 + u / scale at crop pixel u."""
    from fesgui.align.warp import square_crop

    h, w = 700, 900
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.dstack([xx + 0.5, yy + 0.5, np.zeros_like(xx)])
    for cx, cy, side, out in [(450, 350, 200, 256), (420, 340, 640, 256), (300, 320, 90, 256),
                              (100, 350, 400, 128)]:  # the last one runs off the left edge
        crop, x0, y0, scale = square_crop(image, cx, cy, side, out)
        u = np.arange(out) + 0.5
        xs, ys = x0 + u / scale, y0 + u / scale
        inside = (xs > 2) & (xs < w - 2)
        np.testing.assert_allclose(crop[out // 2, inside, 0], xs[inside], atol=0.1)
        np.testing.assert_allclose(crop[4:-4, out // 2, 1], ys[4:-4], atol=0.1)
        assert np.all(crop[out // 2, xs < -4] == 0)  # black outside the image


@pytest.mark.parametrize("seed", range(6))
def test_decimate_takes_every_kth_pixel(seed):
    from fesgui.align.warp import decimate

    rng = np.random.default_rng(seed)
    h, w, k = int(rng.integers(1, 400)), int(rng.integers(1, 400)), int(rng.integers(1, 8))
    for image in (rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                  rng.normal(size=(h, w, 3)).astype(np.float32),
                  rng.integers(0, 256, (h, w), dtype=np.uint8)):
        region = image[h // 5:, w // 7:]  # a view into a bigger frame, as square_crop has
        got = decimate(region, k)
        assert got.flags.c_contiguous and np.array_equal(got, region[::k, ::k])


# ------------------------------------------------------------------ fesgui video end to end
class _Spy:
    """Records the frames the source hands out and the frames the writer receives."""

    def __init__(self, monkeypatch):
        self.read, self.written = [], []
        real_read, real_write = VideoFileSource.read, VideoWriter.write

        def read(src):
            frame = real_read(src)
            if frame is not None:
                self.read.append(frame.copy())
            return frame

        def write(writer, frame, stamp=None):
            self.written.append(np.array(frame))
            return real_write(writer, frame, stamp)

        monkeypatch.setattr(VideoFileSource, "read", read)
        monkeypatch.setattr(VideoWriter, "write", write)


@pytest.mark.parametrize(("h", "w", "frac"), [(480, 640, 0.1), (720, 1280, 0.2),
                                              (1080, 1920, 0.35), (1920, 1080, 0.7)])
def test_every_face_frame_changes_and_nothing_outside_the_face(
        tmp_path, model_path, monkeypatch, capsys, h, w, frac):
    frames, boxes = _moving(h, w, frac, 4)
    src = write_av_video(tmp_path / "in.mp4", frames, fps=25)
    spy = _Spy(monkeypatch)
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "-m", str(model_path)]) == 0
    err = capsys.readouterr().err
    assert "no face in 0 of 4 frames" in err and "wrote" in err
    assert len(spy.read) == len(spy.written) == 4
    for got, sent, box in zip(spy.read, spy.written, boxes, strict=True):
        x0, y0, x1, y1 = _grow(box, 0.0, h, w)
        diff = np.abs(sent.astype(int) - got).max(axis=2)
        assert (diff[y0:y1, x0:x1] > 2).sum() > 0.05 * (x1 - x0) * (y1 - y0)  # changed
        gx0, gy0, gx1, gy1 = _grow(box, 0.5, h, w)
        outside = diff.copy()
        outside[gy0:gy1, gx0:gx1] = 0
        assert outside.max() == 0  # not one pixel outside the face region changed
    assert _hidden(tmp_path) == []


def test_sound_is_copied_packet_for_packet_into_h264_mp4(tmp_path, model_path, capsys):
    frames, _ = _moving(240, 320, 0.35, 8)
    src = write_av_video(tmp_path / "in.mp4", frames, fps=24, audio=True)
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "-m", str(model_path)]) == 0
    assert "sound copied" in capsys.readouterr().err

    def streams(path):
        with av.open(str(path)) as c:
            v, a = c.streams.video[0], c.streams.audio[0]
            info = (c.format.name, v.codec_context.name, v.codec_context.pix_fmt,
                    v.average_rate, a.codec_context.name, a.sample_rate)
            both = [p for p in c.demux(v, a) if p.size]
            packets = [(bytes(p), p.pts, p.duration) for p in both if p.stream.type == "audio"]
            n = sum(p.stream.type == "video" for p in both)
        return info, packets, n

    (fmt, codec, pix, rate, acodec, sr), a_out, n_out = streams(out)
    (_, _, _, rate_in, _, _), a_in, _ = streams(src)
    assert "mp4" in fmt and codec == "h264" and pix == "yuv420p"
    assert rate == rate_in == 24 and n_out == 8
    assert acodec == "aac" and sr == 16000
    assert len(a_in) > 5 and a_out == a_in  # same bytes, same time stamps
    cap = cv2.VideoCapture(str(out))  # another decoder reads it too
    ok, bgr = cap.read()
    cap.release()
    assert ok and bgr.shape == (240, 320, 3)


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [f.time for f in c.decode(video=0)]


def test_a_variable_frame_rate_keeps_its_timing_and_its_sync_with_the_sound(
        tmp_path, model_path, capsys):
    """Before: frame n was written at n / (the file's average rate), so a clip recorded at
    10 fps, then 30 fps (a browser or a phone in low light) ran at one rate: its first
    second of frames ended at 0.6 s and the picture drifted from the sound."""
    frames, _ = _moving(240, 320, 0.35, 8)
    times = [i / 10 for i in range(10)] + [round(1 + i / 30, 3) for i in range(30)]  # in ms
    src = write_av_video(tmp_path / "in.mp4", [frames[i % 8] for i in range(40)], fps=30,
                         audio=True, times=times)
    assert _frame_times(src) == pytest.approx(times, abs=1e-9)  # the clip is what we meant
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "-m", str(model_path)]) == 0
    assert "sound copied" in capsys.readouterr().err
    assert _frame_times(out) == pytest.approx(times, abs=1e-9)
    with av.open(str(out)) as c, av.open(str(src)) as c_in:
        sound = [(p.pts, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size]
        sound_in = [(p.pts, bytes(p)) for p in c_in.demux(c_in.streams.audio[0]) if p.size]
    assert len(sound) > 10 and sound == sound_in  # the sound, untouched, on the same clock


def test_writer_frame_times_in_mp4_and_avi(tmp_path):
    """.mp4: a repeated or backward time stamp moves on by one tick, a frame without one
    comes one frame (at fps) after the one before. .avi (constant rate): the frame before
    a gap is held up to the next frame's slot; a frame whose slot is taken is dropped."""
    stamps = [Fraction(0), Fraction(1, 10), Fraction(1, 10), Fraction(1, 20), None, 1.0]
    shades = [10, 50, 90, 130, 170, 210]  # one grey level per write

    def written(name: str) -> list[tuple[int, int]]:
        """(time in the file's tick, grey level) of every frame in the file."""
        with VideoWriter(tmp_path / name, fps=30, time_base=Fraction(1, 1000)) as writer:
            for stamp, shade in zip(stamps, shades, strict=True):
                writer.write(np.full((64, 64, 3), shade, np.uint8), stamp)
        scale = 30 if name.endswith(".avi") else 1000
        with av.open(str(tmp_path / name)) as c:
            return [(round(f.time * scale), int(round(f.to_ndarray(format="rgb24").mean(),
                                                      -1))) for f in c.decode(video=0)]

    assert written("a.mp4") == [(0, 10), (100, 50), (101, 90), (102, 130), (135, 170),
                                (1000, 210)]
    assert written("b.avi") == [(0, 10), (1, 10), (2, 10), (3, 50), (4, 170),
                                *((slot, 170) for slot in range(5, 30)), (30, 210)]


def _as_ts(mp4: Path, late: int = 0) -> Path:
    """``mp4`` remuxed into an MPEG-TS whose clock starts ``late`` seconds in."""
    ts = mp4.with_suffix(".ts")
    with av.open(str(mp4)) as c_in, av.open(str(ts), "w", format="mpegts") as c_out:
        streams = {s.index: c_out.add_stream_from_template(s) for s in c_in.streams}
        for packet in c_in.demux():
            if packet.dts is not None:
                shift = round(late / packet.time_base)
                packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                packet.stream = streams[packet.stream.index]
                c_out.mux(packet)
    return ts


def _starts(path: Path) -> dict[str, float]:
    with av.open(str(path)) as c:
        return {s.type: float(s.start_time * s.time_base) for s in c.streams}


def test_an_avi_cuts_a_long_gap_and_keeps_the_pace_after_it(tmp_path, monkeypatch):
    """A pause longer than MAX_GAP_S (1 s here) becomes 1 s of the held frame; the frames
    after it keep their spacing from there on (before this rule, each of them refilled
    up to MAX_GAP_S again)."""
    import fesgui.video

    monkeypatch.setattr(fesgui.video, "MAX_GAP_S", 1.0)
    stamps = [0, 0.1, 60, 60.1, 60.2]  # 10 fps, a minute's pause, 10 fps
    with VideoWriter(tmp_path / "p.avi", fps=10) as writer:
        for n, stamp in enumerate(stamps):
            writer.write(np.full((32, 32, 3), 40 * (n + 1), np.uint8), stamp)
    with av.open(str(tmp_path / "p.avi")) as c:
        shades = [int(round(f.to_ndarray(format="rgb24").mean(), -1))
                  for f in c.decode(video=0)]
    assert shades == [40, 80] + [80] * 10 + [120, 160, 200]  # 80 held 1 s, then on pace


def test_a_clock_that_starts_hours_in_starts_at_zero_and_keeps_the_sync(tmp_path,
                                                                         model_path):
    """A recording off the air (MPEG-TS) starts hours into its clock. Before: the picture
    started at 0 and the copied sound an hour later."""
    frames, _ = _moving(240, 320, 0.35, 6)
    ts = _as_ts(write_av_video(tmp_path / "in.mp4", frames, fps=25, audio=True), late=3600)
    before = _starts(ts)
    assert min(before.values()) > 3599
    out = tmp_path / "out.mp4"
    assert main(["video", str(ts), str(out), "-m", str(model_path)]) == 0
    after = _starts(out)
    assert min(after.values()) < 0.1
    assert after["video"] - after["audio"] == pytest.approx(before["video"] - before["audio"],
                                                            abs=0.002)


def test_sound_an_avi_cannot_hold_is_left_out_with_a_warning(tmp_path, model_path, capsys):
    """Before: AAC from an MPEG-TS (a TV or camcorder recording) into .avi failed with
    "cannot write video out.avi: Invalid argument" and no way out."""
    frames, _ = _moving(240, 320, 0.35, 6)
    ts = _as_ts(write_av_video(tmp_path / "in.mp4", frames, fps=25, audio=True))
    out = tmp_path / "out.avi"
    assert main(["video", str(ts), str(out), "-m", str(model_path)]) == 0
    warned = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 1 and "sound (aac) cannot go into .avi: not copied" in warned[0]
    with av.open(str(ts)) as c:  # the TS's picture starts after its sound: held before
        v = c.streams.video[0]
        lead = round((v.start_time * v.time_base - Fraction(c.start_time, 10**6)) * 25)
    with av.open(str(out)) as c:
        assert not c.streams.audio and c.streams.video[0].frames == 6 + lead


@pytest.mark.parametrize(("suffix", "container"), [(".mov", "mov"), (".mkv", "matroska")])
def test_mov_and_mkv_hold_h264_with_the_sound_and_the_timing(tmp_path, model_path, capsys,
                                                             suffix, container):
    """Before: "cannot write video out.mov: use a file name ending in .mp4 or .avi"."""
    frames, _ = _moving(240, 320, 0.35, 8)
    times = [i / 10 for i in range(4)] + [round(0.4 + i / 30, 3) for i in range(4)]
    src = write_av_video(tmp_path / "in.mp4", frames, fps=30, audio=True, times=times)
    out = tmp_path / f"out{suffix}"
    assert main(["video", str(src), str(out), "-m", str(model_path)]) == 0
    assert "sound copied" in capsys.readouterr().err
    with av.open(str(out)) as c:
        assert container in c.format.name and c.streams.video[0].codec_context.name == "h264"
        assert c.streams.audio and c.streams.audio[0].codec_context.name == "aac"
    got = _frame_times(out)  # Matroska moves the whole file by the sound's AAC priming
    assert [t - got[0] for t in got] == pytest.approx(times, abs=1e-9)

    def first_packets(path: Path) -> dict[str, float]:
        """Each stream's first packet time (the sound's priming included)."""
        with av.open(str(path)) as c:
            first: dict[str, float] = {}
            for packet in c.demux():
                if packet.pts is not None and packet.size:
                    t = float(packet.pts * packet.time_base)
                    first[packet.stream.type] = min(first.get(packet.stream.type, t), t)
        return first

    before, after = first_packets(src), first_packets(out)
    assert after["video"] - after["audio"] == pytest.approx(before["video"] - before["audio"],
                                                            abs=0.002)


def test_an_unknown_video_suffix_names_every_one_there_is(tmp_path, model_path, capsys):
    frames, _ = _moving(120, 160, 0.35, 2)
    src = write_av_video(tmp_path / "in.mp4", frames, fps=10)
    assert main(["video", str(src), str(tmp_path / "out.webm"), "-m", str(model_path)]) == 2
    assert _one_error_line(capsys.readouterr().err) == (
        "error: cannot write video out.webm: use a file name ending in .mp4, .mov, .mkv or .avi")


def test_no_audio_option(tmp_path, model_path):
    frames, _ = _moving(240, 320, 0.35, 3)
    src = write_av_video(tmp_path / "in.mp4", frames, fps=24, audio=True)
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "-m", str(model_path), "--no-audio"]) == 0
    with av.open(str(out)) as c:
        assert not c.streams.audio


@pytest.mark.parametrize("rotation", [90, -90])
def test_rotation_is_kept_and_faces_are_found_upright(tmp_path, model_path, capsys, rotation):
    upright, _ = _moving(320, 240, 0.5, 3)  # a portrait phone video, shown upright
    stored = [np.ascontiguousarray(np.rot90(f, -rotation // 90)) for f in upright]
    src = write_av_video(tmp_path / "in.mp4", stored, fps=30, rotation=rotation)
    with VideoFileSource(src) as v:
        first = v.read()
        assert v.rotation == rotation and first.shape == upright[0].shape
        assert np.abs(first.astype(int) - upright[0]).mean() < 6
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "-m", str(model_path)]) == 0
    assert "no face in 0 of 3" in capsys.readouterr().err  # found: frames were upright
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        assert frame.rotation == rotation
        assert (frame.height, frame.width) == stored[0].shape[:2]  # stored like the input


def test_crf_sets_the_quality(tmp_path, model_path, capsys):
    frames, _ = _moving(240, 320, 0.35, 6)
    src = write_av_video(tmp_path / "in.mp4", frames, fps=24)
    sizes = {}
    for crf in (12, 40):
        out = tmp_path / f"q{crf}.mp4"
        assert main(["video", str(src), str(out), "-m", str(model_path), "--crf",
                     str(crf)]) == 0
        sizes[crf] = out.stat().st_size
    assert sizes[12] > 2 * sizes[40]
    capsys.readouterr()
    assert main(["video", str(src), str(tmp_path / "x.mp4"), "-m", str(model_path),
                 "--crf", "60"]) == 2
    assert "--crf 60" in _one_error_line(capsys.readouterr().err)


def test_odd_frame_sizes_are_written(tmp_path):
    frame = face_scene(101, 151, 0.4)[0]
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, fps=10) as w:
        w.write(frame)
        w.write(frame)
    with VideoFileSource(out) as v:
        back = v.read()
    assert back.shape == (102, 152, 3)  # the odd edge repeated once, the rest kept
    assert np.abs(back[:101, :151].astype(int) - frame).mean() < 4


# ------------------------------------------------------- damaged and changing input files
def test_a_frame_size_change_mid_stream_is_one_line_and_nothing_is_written(
        tmp_path, model_path, capsys):
    """Before: the frames were garbled into the first size and the file written anyway."""
    parts = []
    for i, (h, w) in enumerate([(240, 320), (180, 240)]):
        frames, _ = _moving(h, w, 0.35, 3)
        parts.append(write_av_video(tmp_path / f"p{i}.ts", frames, fps=25).read_bytes())
    src = tmp_path / "joined.ts"
    src.write_bytes(b"".join(parts))
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "-m", str(model_path)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "changes its frame size at frame 4 (240x180 after 320x240)" in line
    assert not out.exists() and _hidden(tmp_path) == []


def test_a_cut_short_mp4_is_named_for_what_it_is(tmp_path, model_path, capsys):
    frames, _ = _moving(240, 320, 0.35, 30)
    whole = write_av_video(tmp_path / "whole.mp4", frames, fps=30)  # index at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert main(["video", str(cut), str(tmp_path / "o.mp4"), "-m", str(model_path)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "without its index" in line and "cut short" in line and "convert" not in line

    with VideoWriter(tmp_path / "fast.mp4", fps=30) as w:  # index first (faststart)
        for f in frames:
            w.write(f)
    data = (tmp_path / "fast.mp4").read_bytes()
    cut.write_bytes(data[: len(data) * 7 // 10])
    with VideoFileSource(cut) as v:
        n = len(list(v))
        assert 0 < n < 30
        assert v.error.startswith(f"cut.mp4 stopped decoding after frame {n} of the 30 ")
        assert "cut short" in v.error


def test_a_whole_file_without_a_frame_count_is_not_called_cut_short(tmp_path):
    frames, _ = _moving(120, 160, 0.35, 7)
    with VideoFileSource(write_av_video(tmp_path / "a.ts", frames, fps=25)) as v:
        assert len(list(v)) == 7
        assert v.error is None and not v.failed


# --------------------------------------------------- the finished file is checked first
def _old_output(path: Path) -> bytes:
    frames, _ = _moving(120, 160, 0.35, 2)
    write_av_video(path, frames, fps=10)
    return path.read_bytes()


def test_an_incomplete_finished_file_never_replaces_the_old_one(tmp_path, monkeypatch):
    """A file system that loses data without an error (the writer's own calls all
    succeed) is caught by the check of the finished file."""
    out = tmp_path / "out.mp4"
    old = _old_output(out)
    real_verify = VideoWriter._verify

    def lossy(writer):
        data = writer._tmp.read_bytes()
        writer._tmp.write_bytes(data[: len(data) * 2 // 3])
        return real_verify(writer)

    monkeypatch.setattr(VideoWriter, "_verify", lossy)
    frames, _ = _moving(240, 320, 0.35, 20)
    with pytest.raises(FesguiError, match="old file was kept") as info, \
            VideoWriter(out, fps=20) as w:
        for f in frames:
            w.write(f)
    assert "\n" not in str(info.value)
    assert out.read_bytes() == old and _hidden(tmp_path) == []


def _limit_file_size(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_file_size_limit_fails_in_one_line_and_keeps_the_old_file(tmp_path, model_path):
    """Before: OpenCV's writer ignored the write errors, the cut-short file replaced the
    old one and the command said "wrote" with exit status 0."""
    frames, _ = _moving(240, 320, 0.35, 40)
    src = write_av_video(tmp_path / "in.mp4", frames, fps=25)
    out = tmp_path / "out.mp4"
    old = _old_output(out)
    limit = max(len(old), src.stat().st_size) + 1024
    run = subprocess.run(
        [sys.executable, "-m", "fesgui", "video", str(src), str(out), "-m", str(model_path),
         "--crf", "0"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
        timeout=300, preexec_fn=_limit_file_size(limit))
    assert run.returncode == 2, run.stderr
    line = _one_error_line(run.stderr)
    assert "out.mp4" in line and "old file was kept" in line
    assert out.read_bytes() == old and _hidden(tmp_path) == []


# ----------------------------------------------------------------- signals and log noise
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_leave_no_temporary_file(tmp_path, model_path, sig):
    """Before: SIGTERM or SIGHUP left a hidden .out.XXXX.mp4 behind (Ctrl+C did not)."""
    frames, _ = _moving(240, 320, 0.35, 8)
    src = write_av_video(tmp_path / "in.mp4", frames * 40, fps=25)  # 320 frames
    out = tmp_path / "out.mp4"
    old = _old_output(out)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fesgui", "video", str(src), str(out), "-m", str(model_path)],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _hidden(tmp_path) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert _hidden(tmp_path), "the temporary output never appeared"
        time.sleep(0.3)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert out.read_bytes() == old and _hidden(tmp_path) == []


_INTERRUPTED_IN_EVAL = """
import runpy
import fesgui.cli


def interrupted_in_eval(argv):
    # a stop signal handled while numba, a dataclass or a namedtuple evals a string
    exec("raise KeyboardInterrupt")


fesgui.cli._dispatch = interrupted_in_eval
{run}
"""


def _run_module(tmp_path: Path, run: str) -> subprocess.CompletedProcess:
    (tmp_path / "interrupted.py").write_text(_INTERRUPTED_IN_EVAL.format(run=run))
    return subprocess.run([sys.executable, "-m", "interrupted"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)


def test_python_m_fesgui_exits_130_after_an_interrupt_inside_a_string_eval(tmp_path):
    """Before: ``python -m fesgui video`` stopped by SIGTERM sometimes died by SIGINT
    (status -2) after printing "interrupted" - when the signal landed in code that
    numba or MediaPipe runs through eval() of a string."""
    run = _run_module(tmp_path, 'runpy.run_module("fesgui", run_name="__main__")')
    assert run.returncode == 130, run.stderr
    assert run.stderr.strip() == "interrupted"


def test_cpython_still_turns_a_caught_interrupt_from_a_string_eval_into_sigint(tmp_path):
    """Why fesgui/__main__.py clears CPython's memory of the interrupt: without it the
    same caught interrupt ends ``python -m`` by SIGINT. If this fails, a future CPython
    has mended that, and the exec("") in fesgui/__main__.py can go."""
    run = _run_module(tmp_path, "raise SystemExit(fesgui.cli.main([]))")
    assert run.stderr.strip() == "interrupted"
    assert run.returncode == -signal.SIGINT


def test_no_native_log_lines_reach_the_terminal(tmp_path, model_path):
    """MediaPipe's absl lines (W0000 ... inference_feedback_manager.cc), TFLite's INFO line
    and FFmpeg's [h264 @ 0x...] lines: none in a whole ``fesgui video`` run, even on a
    damaged file (which makes FFmpeg complain)."""
    frames, _ = _moving(360, 640, 0.2, 12)
    src = write_av_video(tmp_path / "in.mp4", frames, fps=25)
    data = bytearray(src.read_bytes())
    mid = len(data) * 2 // 3
    data[mid:mid + 400] = np.random.default_rng(1).integers(0, 256, 400, np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    run = subprocess.run(
        [sys.executable, "-m", "fesgui", "video", str(bad), str(tmp_path / "o.mp4"),
         "-m", str(model_path)], cwd=tmp_path, env=_env(), capture_output=True,
        text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert NATIVE_LOG.search(run.stderr) is None, run.stderr
    assert "wrote" in run.stderr and " fps" in run.stderr  # progress and summary


def test_progress_shows_speed_and_time_left(tmp_path, model_path, capsys):
    frames, _ = _moving(240, 320, 0.35, 10)
    src = write_av_video(tmp_path / "in.mp4", frames, fps=25)
    assert main(["video", str(src), str(tmp_path / "o.mp4"), "-m", str(model_path)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"10/10 \d+\.\d fps, 0:00 left", err), err
    assert re.search(r"\d+/10 \d+\.\d fps, \d+:\d\d left", err.splitlines()[0]), err


def test_silencing_native_logs_from_several_threads_restores_stderr():
    """Two detectors on two threads (the app's live view and a folder batch) silence fd 2
    at overlapping times; the real stderr must come back afterwards."""
    import threading

    from fesgui.align.mediapipe_source import _quiet_stderr

    before = os.fstat(2)

    def work(pause: float) -> None:
        for _ in range(100):
            with _quiet_stderr():
                time.sleep(pause)

    threads = [threading.Thread(target=work, args=(0.0003 * (i + 1),)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
