"""Run a short blocking job (e.g. probing cameras) on a Python thread, answer on the UI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

_alive: set[_Relay] = set()  # relays waiting for their thread (kept from garbage collection)


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


def run_in_thread(job: Callable[[], Any], on_done: Callable[[Any], None],
                  on_error: Callable[[BaseException], None]) -> threading.Thread:
    """Call ``job()`` on a daemon thread; ``on_done(value)`` / ``on_error(exc)`` run on the
    thread that called this (which must have a Qt event loop, i.e. the UI thread)."""
    relay = _Relay()
    _alive.add(relay)

    def finish(callback: Callable[[Any], None], value: Any) -> None:
        _alive.discard(relay)
        callback(value)

    relay.done.connect(lambda value: finish(on_done, value))
    relay.failed.connect(lambda exc: finish(on_error, exc))

    def target() -> None:
        try:
            value = job()
        except BaseException as exc:  # noqa: BLE001 - reported on the UI thread
            relay.failed.emit(exc)
        else:
            relay.done.emit(value)

    thread = threading.Thread(target=target, name="fesgui-task", daemon=True)
    thread.start()
    return thread
