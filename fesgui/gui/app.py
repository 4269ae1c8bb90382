"""``fesgui`` without a command: start the desktop app.

:func:`run_app` makes the QApplication and the main window, installs the error hooks,
opens what the command line asked for (a photo, folder or video; ``--camera N`` or a video
file standing in for a camera; ``--model``) and runs the event loop. Heavy work (loading the
model, MediaPipe) happens on the worker thread after the window is shown and its views
are built.

``--quit-after SECONDS`` closes the window after that many seconds and prints one line to
stderr: ``fesgui: window shown in X s; processed N live frames, drew M results (F with a
face)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

_START = time.perf_counter()  # fesgui.cli imports this module as soon as the app is wanted


def _pick_model(window, requested: str | None) -> None:
    """Select the requested model, else the last one used, else the first installed."""
    from PySide6.QtCore import QTimer

    from fesgui.catalog import find_model
    from fesgui.errors import FesguiError
    from fesgui.gui import window_state

    c = window.controller
    entries = c.refresh_models()
    if requested:
        try:
            c.select_model(find_model(requested))
            return
        except FesguiError as exc:  # say so, then start with the usual model
            fallback = window_state.saved_model() or (c.default_entry().path if entries
                                                      else None)
            using = f"; using {fallback.stem} instead" if fallback is not None else ""
            why = str(exc).split(":")[0]  # "no model named 'x'" / "model file x does not exist"
            problem = FesguiError(f"--model {requested}: {why}{using}")
            if fallback is None:
                window.notifier.report(problem)
                return

            def tell(*_args) -> None:  # after "model … ready", so the warning stays in view
                c.model_changed.disconnect(tell)
                QTimer.singleShot(0, lambda: window.notifier.report(problem))

            c.model_changed.connect(tell)
            c.select_model(fallback)
            return
    saved = window_state.saved_model()
    # an unusable model (last used, or installed) is skipped for the next usable one
    ranked = [e.path for e in c.ranked_entries()]
    if saved is not None:
        try:
            c.select_model(saved, ranked)
        except FesguiError:  # not even its metadata reads: the installed ones
            if not ranked:
                raise
            c.select_model(ranked[0], ranked[1:])
    elif entries:
        c.select_model(ranked[0], ranked[1:])
    else:
        window.show_status("no models installed: use Model ▸ Load model file… to choose one")


def _open_from_args(window, args: argparse.Namespace) -> None:
    c = window.controller
    camera = getattr(args, "camera", None)
    if getattr(args, "path", None):
        c.open_path(Path(args.path))
    if camera is not None:
        c.start_camera(camera)


NO_DISPLAY = ("no display to open the window on ({why}): use the command line instead "
              "(fesgui --help; e.g. fesgui synth photo.jpg -o out.png) or a virtual display "
              "(xvfb-run fesgui)")

# Qt platforms that draw on a display server, and the variable that names the server
_DISPLAY_VARS = {"xcb": ("DISPLAY",), "wayland": ("WAYLAND_DISPLAY",),
                 "wayland-egl": ("WAYLAND_DISPLAY",), "": ("DISPLAY", "WAYLAND_DISPLAY")}


def check_display(environ=None, platform: str | None = None) -> None:
    """Raise :class:`FesguiError` when Qt would find no display (Linux and BSD only).

    Qt itself aborts with a core dump and a misleading hint about ``xcb-cursor0``. The
    platforms of ``QT_QPA_PLATFORM`` (``xcb``, ``wayland``, ``offscreen``, ...; a ``;``
    separated fallback list; unset = the desktop's own) decide which variable must be set.
    """
    from fesgui.errors import FesguiError

    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform in ("darwin", "win32", "cygwin"):
        return
    wanted = [part.split(":", 1)[0].strip().lower()
              for part in environ.get("QT_QPA_PLATFORM", "").split(";")]
    for name in wanted:
        needs = _DISPLAY_VARS.get(name)
        if needs is None or any(environ.get(var) for var in needs):
            return  # offscreen, vnc, eglfs, ... or a display that is set
    why = " and ".join(sorted({v for name in wanted for v in _DISPLAY_VARS[name]}))
    raise FesguiError(NO_DISPLAY.format(why=f"{why} not set"))


def _make_application(QApplication):  # noqa: N803 - the Qt class, passed in
    """The QApplication; a display that is set but cannot be reached (Qt would abort with
    a core dump) ends the process with the one :data:`NO_DISPLAY` line and status 2."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    held: list[tuple] = []  # Qt's messages while starting, passed on once it worked

    def handler(kind, context, message):
        if kind == QtMsgType.QtFatalMsg:
            # Qt's own first lines blame xcb-cursor0 even when it is installed: name the
            # display and Qt's plain "could not" line instead
            said = next((m for _, _, m in held if "could not" in m.lower()), message)
            shown = ", ".join(f"{v}={os.environ[v]}" for v in ("DISPLAY", "WAYLAND_DISPLAY")
                              if os.environ.get(v))
            why = (f"Qt could not open {shown or 'a display'}: "
                   f"{said.strip().splitlines()[0]}")
            print(f"error: {NO_DISPLAY.format(why=why)}", file=sys.stderr, flush=True)
            os._exit(2)  # Qt aborts (core dump) as soon as this handler returns
        held.append((kind, context, message))

    previous = qInstallMessageHandler(handler)
    try:
        app = QApplication(sys.argv[:1])
    finally:
        qInstallMessageHandler(previous)
    for kind, context, message in held:
        if previous is not None:
            previous(kind, context, message)
        else:
            print(message, file=sys.stderr)
    return app


def run_app(args: argparse.Namespace) -> int:
    """Run the app until the window closes; returns the exit code."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from fesgui.gui.main_window import MainWindow
    from fesgui.gui.notify import Notifier, install_excepthooks
    from fesgui.session import SETTLE_S

    app = QApplication.instance()
    if app is None:
        check_display()
        app = _make_application(QApplication)
    app.setApplicationName("fesgui")
    app.setOrganizationName("fesgui")
    notifier = Notifier()
    # user errors go to the status bar; a copy on stderr helps whoever started the app
    notifier.user_error.connect(lambda text: print(f"fesgui: {text}", file=sys.stderr))
    restore_hooks = install_excepthooks(notifier)
    window = MainWindow(notifier, defer=True)
    window.show()
    shown_after = [0.0]

    def mark_shown() -> None:  # the first event-loop turn: the window has been painted
        shown_after[0] = time.perf_counter() - _START

    QTimer.singleShot(0, mark_shown)

    def startup() -> None:
        for step in (lambda: _pick_model(window, getattr(args, "model", None)),
                     lambda: _open_from_args(window, args),
                     window.controller.probe_cameras):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - shown in the window, the app goes on
                notifier.report(exc)

    # The worker's first jobs import numba (model warm-up) and MediaPipe while the views
    # import pyqtgraph on this thread; two threads importing the same modules at once can
    # fail inside importlib on Python 3.11 (seen: KeyError 'colorama', which numba and
    # pyqtgraph both import). So the worker gets its first job once the views are built.
    if window.inspector is None:
        window.views_built.connect(startup)
    else:
        QTimer.singleShot(0, startup)
    quit_after = getattr(args, "quit_after", None)
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    from fesgui.core.base import one_blas_thread

    try:
        # BLAS on one thread for the app's whole life: its linear algebra is small (the
        # views, pyqtgraph's transforms) and OpenBLAS's idle threads spin after every
        # call: measured 40 % of a core with a 720p video playing, taken from the worker
        with one_blas_thread():
            code = app.exec()
    finally:
        window.controller.shutdown()
        restore_hooks()
    if quit_after is not None:
        c = window.controller
        print(f"fesgui: window shown in {shown_after[0]:.2f} s; processed "
              f"{c.worker.frames_processed} live frames, drew {c.frames_shown} results "
              f"({c.faces_shown} with a face)", file=sys.stderr)
        if c.last_info is not None and c.last_info.kind == "live":
            print(f"fesgui: last live frames: {c.fps():.1f} fps drawn; "
                  f"{c.stats_text(c.last_info)}", file=sys.stderr)
            fps, frames, seconds = c.steady_fps()
            print(f"fesgui: steady live rate: {fps:.2f} fps drawn ({frames} frames in "
                  f"{seconds:.2f} s, the stream's first {SETTLE_S:g} s left out)",
                  file=sys.stderr)
    return int(code)
