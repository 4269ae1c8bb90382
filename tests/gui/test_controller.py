"""The Qt controller as a thin adapter: session events become its signals, worker answers
reach the session on the main thread, and shutdown needs no QThread.terminate()."""

from __future__ import annotations

import logging
import threading

import pytest
from PySide6.QtCore import QThread

from fesgui.gui.controller import Controller
from fesgui.gui.notify import Notifier
from fesgui.params import RefineParams
from fesgui.session import SessionEvents


@pytest.fixture
def controller(qtbot):
    c = Controller(Notifier())
    yield c
    c.shutdown()


def test_every_session_event_is_a_controller_signal(qtbot, controller):
    for name in SessionEvents.NAMES:
        if name == "error":  # goes to the notifier instead
            continue
        assert hasattr(controller, name), name
    with qtbot.waitSignal(controller.status) as blocker:
        controller.session.events.status.emit("hello")
    assert blocker.args == ["hello"]
    with qtbot.waitSignal(controller.params_changed) as blocker:
        controller.update_params(k=7.5)
    assert blocker.args == [RefineParams(k=7.5)]
    assert controller.params is controller.session.params


def test_worker_answers_run_on_the_main_thread(qtbot, controller, tmp_path):
    seen = []
    controller.session.on_model_failed = lambda path, why: seen.append(
        (why, threading.current_thread() is threading.main_thread()))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"no model")
    controller.backend.load_model(str(bad))  # fails on the worker thread
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    (why, on_main), = seen
    assert why and on_main


@pytest.mark.parametrize("comes_back", [True, False])
def test_shutdown_waits_for_a_busy_worker_and_never_terminates(qtbot, monkeypatch, caplog,
                                                               comes_back):
    import fesgui.core

    entered, release = threading.Event(), threading.Event()

    def slow_load(path):  # a model load that takes until the test releases it
        entered.set()
        release.wait(30)
        raise OSError("released")

    monkeypatch.setattr(fesgui.core, "load_model", slow_load)
    monkeypatch.setattr(QThread, "terminate", lambda self: pytest.fail("terminate() called"))

    class ReleaseOnWarning(logging.Handler):
        def emit(self, record):
            if record.levelno == logging.WARNING and comes_back:
                release.set()

    handler = ReleaseOnWarning()
    logging.getLogger("fesgui.gui.controller").addHandler(handler)
    c = Controller(Notifier())
    try:
        c.backend.load_model("slow.npz")
        assert entered.wait(10)
        with caplog.at_level(logging.WARNING, logger="fesgui.gui.controller"):
            stopped = c.shutdown(timeout_ms=50, patience_ms=30000 if comes_back else 50)
        assert stopped is comes_back
        assert "still busy" in caplog.text
        assert ("did not stop" in caplog.text) is not comes_back
        assert c.thread.isFinished() is comes_back
    finally:
        logging.getLogger("fesgui.gui.controller").removeHandler(handler)
        release.set()
        c.thread.wait()
        c.worker.shutdown()
