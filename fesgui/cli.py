"""Command line: ``fesgui`` opens the app; ``fesgui <command>`` works without a window.

Each subcommand lives in its own module under :mod:`fesgui.commands` and provides
``add_parser(subparsers)`` and ``run(args) -> int``. Heavy imports (Qt, MediaPipe,
OpenCV) happen inside ``run`` so that ``fesgui --help`` is instant.

Every :class:`~fesgui.errors.FesguiError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable

from fesgui import __version__
from fesgui.errors import OUT_OF_MEMORY, FesguiError, FesguiWarning

_default_showwarning = warnings.showwarning

# name of the module in fesgui.commands for each subcommand, in --help order
COMMANDS = [
    "train",
    "synth",
    "batch",
    "video",
    "convert",
    "models",
    "evaluate",
    "bench",
]


def _load(name: str):
    return importlib.import_module(f"fesgui.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fesgui",
        description="Change facial expressions with tiny, interpretable linear models. "
        "Without a command, opens the desktop app: "
        "fesgui [PATH] [--camera N|VIDEO] [--model NAME] (see: fesgui PATH --help).",
    )
    parser.add_argument("--version", action="version", version=f"fesgui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        _load(name).add_parser(sub)
    return parser


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fesgui",
        description="Open the desktop app (optionally on a photo, folder, video or camera).",
    )
    parser.add_argument("path", nargs="?", help="a photo, folder or video to open")
    parser.add_argument("--camera", default=None, metavar="N|VIDEO",
                        help="start camera N; a video file path stands in for a camera "
                        "(played in a loop at its own frame rate, e.g. for tests and demos)")
    parser.add_argument("--model", default=None, help="model name or .npz file to select")
    parser.add_argument("--quit-after", type=float, default=None, metavar="SECONDS",
                        help="close the window after SECONDS and print what was processed "
                        "to stderr (for tests and benchmarks)")
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A :class:`FesguiWarning` is one ``warning: ...`` line on stderr (others as usual)."""
    if issubclass(category, FesguiWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


def report_errors(run: Callable[[], int | None]) -> int:
    """The command line's one error boundary: a :class:`FesguiError` (or running out of
    memory) becomes one line on stderr and exit status 2, Ctrl+C exit status 130; anything
    else is a bug and propagates. A :class:`FesguiWarning` is a ``warning:`` line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", FesguiWarning)
            warnings.showwarning = _show_warning
            return int(run() or 0)
    except FesguiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"error: {OUT_OF_MEMORY}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = report_errors(lambda: _dispatch(argv))
        sys.stdout.flush()  # a reader that went away is seen here, not at exit
    except BrokenPipeError:
        # the reader closed the pipe (fesgui models | head -1): stop quietly. Python would
        # flush stdout again at exit and fail once more, so stdout goes to devnull
        # (the recipe of the Python docs, "Note on SIGPIPE")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


def _dispatch(argv: list[str]) -> int:
    first = next((a for a in argv if not a.startswith("-")), None)
    wants_help = any(a in ("-h", "--help", "--version") for a in argv)
    if (first in COMMANDS) or (wants_help and first is None):
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return int(args.run(args) or 0)
    app_args = _app_parser().parse_args(argv)
    from fesgui.gui.app import run_app  # Qt only when the window is wanted

    return int(run_app(app_args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
