"""``fesgui video``: change the expression of the face in every frame of a video.

The face is tracked from frame to frame (MediaPipe video mode) and its landmarks are
smoothed (One-Euro filter on the video's own clock) so the face does not jitter. Audio is
not copied. The output appears only when complete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fesgui.commands.batch import ProgressBar
from fesgui.commands.synth import (
    add_synthesis_options,
    load_model_arg,
    make_face_finder,
    make_pipeline,
)
from fesgui.outputs import check_output


def add_parser(sub) -> None:
    p = sub.add_parser(
        "video", help="change the expression of the face in a video",
        description="Process every frame of IN and write OUT (.mp4 with mp4v, or .avi with "
        "MJPG). Frames without a face are copied unchanged. Audio is not copied.")
    p.add_argument("input", metavar="IN", help="input video file")
    p.add_argument("output", metavar="OUT", help="output video (.mp4 or .avi)")
    add_synthesis_options(p)
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True,
                   help="smooth the landmarks over time (default on)")
    p.set_defaults(run=run)


class _VideoClock:
    """Time stamps of the video frames (seconds), for the landmark smoother."""

    def __init__(self, fps: float) -> None:
        self.fps, self.frame = fps, 0

    def __call__(self) -> float:
        return self.frame / self.fps


def run(args: argparse.Namespace) -> int:
    from fesgui.align import LandmarkSmoother, SmoothedSource
    from fesgui.video import VideoFileSource, VideoWriter, video_codec

    out = Path(args.output)
    check_output(out, [args.input], what="OUT")  # issue 14: the shared output check
    video_codec(out)
    model = load_model_arg(args.model)
    with VideoFileSource(args.input) as src:
        clock = _VideoClock(src.fps)
        source = make_face_finder(args, video=True)
        finder = SmoothedSource(source, LandmarkSmoother(), clock=clock) if args.smooth \
            else source
        bar = ProgressBar(src.frame_count)
        no_face = 0
        try:
            with make_pipeline(args, model, landmarks=finder) as pipeline, \
                    VideoWriter(out, src.fps) as writer:
                while (frame := src.read()) is not None:
                    result = pipeline.process(frame)
                    no_face += result.message is not None
                    writer.write(result.composite)
                    clock.frame += 1
                    bar.update(clock.frame)
        finally:
            bar.finish()
            finder.close()
        damage = src.error
    frames = clock.frame
    if damage:
        print(f"warning: {damage}", file=sys.stderr)
    if no_face == frames:
        print(f"warning: no face found in any of the {frames} frames: the video is unchanged",
              file=sys.stderr)
    elif no_face:
        print(f"no face in {no_face} of {frames} frames (copied unchanged)", file=sys.stderr)
    print(f"wrote {out} ({frames} frames)", file=sys.stderr)
    return 0
