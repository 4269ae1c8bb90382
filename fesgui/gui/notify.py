"""One way for every error to reach the user, from any thread.

:class:`Notifier` lives on the main thread. :meth:`Notifier.report` may be called from any
thread: it emits a signal, which Qt delivers on the main thread. A
:class:`~fesgui.errors.FesguiError` (a problem the user caused and can fix) becomes a status
bar message; anything else is a bug and gets a dialog with the traceback.
:func:`install_excepthooks` routes ``sys.excepthook`` and ``threading.excepthook`` to it, and
the worker turns its exceptions into its ``error`` signal, which the controller reports here.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from fesgui.errors import OUT_OF_MEMORY, FesguiError


class Notifier(QObject):
    """Turns exceptions into user-visible messages (thread-safe ``report``)."""

    user_error = Signal(str)  # one line: shown in the status bar
    unexpected_error = Signal(str, str)  # summary, details (traceback): shown in a dialog

    def report(self, exc: BaseException) -> None:
        """Tell the user about ``exc``; safe to call from any thread."""
        if isinstance(exc, FesguiError):
            self.user_error.emit(str(exc))
            return
        if isinstance(exc, MemoryError):  # the user can act on it: not a bug dialog
            self.user_error.emit(OUT_OF_MEMORY)
            return
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        summary = f"{type(exc).__name__}: {exc}".strip()
        print(details, file=sys.stderr, end="")
        self.unexpected_error.emit(summary, details)


def install_excepthooks(notifier: Notifier) -> Callable[[], None]:
    """Route uncaught exceptions of all threads to ``notifier``; returns an undo function."""
    old_sys, old_threading = sys.excepthook, threading.excepthook

    def sys_hook(exc_type: type[BaseException], exc: BaseException | None, tb: Any) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            old_sys(exc_type, exc, tb)
            return
        if exc is None:
            exc = exc_type()
        exc.__traceback__ = tb
        notifier.report(exc)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        exc = args.exc_value if args.exc_value is not None else args.exc_type()
        exc.__traceback__ = args.exc_traceback
        notifier.report(exc)

    sys.excepthook = sys_hook
    threading.excepthook = thread_hook

    def restore() -> None:
        sys.excepthook, threading.excepthook = old_sys, old_threading

    return restore
