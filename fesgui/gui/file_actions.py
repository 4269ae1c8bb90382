"""Save, record and batch: the file dialogs around the controller's writers.

Thin: each action asks the user for a path and calls the controller, which writes through
``fesgui.imageio.write_image`` / ``fesgui.video.VideoWriter`` (atomic). The folder batch runs
on the worker behind a cancellable :class:`QProgressDialog`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from fesgui.errors import FesguiError

if TYPE_CHECKING:
    from fesgui.gui.main_window import MainWindow

IMAGE_SAVE_FILTER = "PNG image (*.png);;JPEG image (*.jpg *.jpeg)"
EXPORT_KEY = "files/export_folder"  # the settings key of the folder of the last export


def export_folder(fallback: str | Path = "") -> Path:
    """Where the next export dialog starts: the folder of the last export (if it still
    exists), else ``fallback`` (the folder of the open photo), else the home folder."""
    from fesgui.gui.settings import open_settings

    for candidate in (open_settings().value(EXPORT_KEY), fallback):
        if candidate and Path(str(candidate)).is_dir():
            return Path(str(candidate))
    return Path.home()


def remember_export(path: str | Path) -> None:
    """Remember the folder of an exported file (or an output folder) for the next export."""
    from fesgui.gui.settings import open_settings

    path = Path(path)
    s = open_settings()
    s.setValue(EXPORT_KEY, str(path if path.is_dir() else path.parent))
    s.sync()
VIDEO_SAVE_FILTER = ("AVI video (*.avi);;MP4 video (*.mp4);;QuickTime video (*.mov);;"
                     "Matroska video (*.mkv)")


class FileActions(QObject):
    """The File menu's save / record / batch behaviour for one main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.progress: QProgressDialog | None = None
        #: the last batch's report, when it has lines to read (failures, warnings, a stop)
        self.report_box: QMessageBox | None = None
        c = self.controller
        c.batch_progress.connect(self._batch_progress)
        c.batch_finished.connect(self._batch_finished)
        c.recording_changed.connect(self._recording_changed)

    def _folder(self) -> Path:
        return export_folder(self.window.input_panel.last_folder)

    def ask_save(self, what: str) -> None:
        """Ask for a file name and save the result ("frame") or the face crop ("crop")."""
        c = self.controller
        stem = c.frame_path.stem if c.frame_path else "fesgui"
        suffix = "_face" if what == "crop" else "_result"
        start = str(self._folder() / f"{stem}{suffix}.png")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save result", start,
                                              IMAGE_SAVE_FILTER)
        if path:
            saved = c.save_result(path, what)  # "saved <path>" on the status bar
            remember_export(saved)

    def toggle_recording(self, on: bool) -> None:
        """Start (asking for a file) or stop recording the live output."""
        c = self.controller
        if not on:
            c.stop_recording()
            return
        self.window.record_action.setChecked(False)  # checked again once recording starts
        c.check_can_record()  # before asking for a file name
        path, _ = QFileDialog.getSaveFileName(self.window, "Record live output",
                                              str(self._folder() / "fesgui_live.avi"),
                                              VIDEO_SAVE_FILTER)
        if path:
            c.start_recording(path)
            remember_export(path)

    def _recording_changed(self, recording: bool, path: str) -> None:
        action = self.window.record_action
        action.blockSignals(True)
        action.setChecked(recording)
        action.blockSignals(False)
        if recording:
            self.window.show_status(f"recording to {path}")

    def ask_batch(self) -> None:
        """Ask for an output folder and process the open folder into it."""
        if not self.controller.folder:
            raise FesguiError("no folder open: open a folder of photos first (Ctrl+Shift+O)")
        out = QFileDialog.getExistingDirectory(self.window, "Write the results into folder",
                                               str(self._folder()))
        if out:
            self.start_batch(out)
            remember_export(out)

    def start_batch(self, out_dir: str) -> QProgressDialog:
        """Process the open folder into ``out_dir`` with a cancellable progress dialog."""
        total = self.controller.batch_folder(out_dir)
        dialog = QProgressDialog("Processing the folder…", "Cancel", 0, total, self.window)
        dialog.setWindowTitle("fesgui: batch")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoReset(False)
        dialog.setAutoClose(False)
        dialog.canceled.connect(self.controller.cancel_batch)
        dialog.setValue(0)
        dialog.show()
        self.progress = dialog
        return dialog

    def _batch_progress(self, done: int, total: int, name: str) -> None:
        dialog = self.progress
        if dialog is not None:
            if name:
                dialog.setLabelText(f"Processing {name} ({done + 1}/{total})")
            dialog.setMaximum(total)
            dialog.setValue(done)  # may process events (the batch can finish meanwhile)

    def _batch_finished(self, report: Any) -> None:
        if self.progress is not None:
            self.progress.canceled.disconnect(self.controller.cancel_batch)
            self.progress.close()
            self.progress = None
        self.window.show_status(report.summary())  # the last line of `fesgui batch`
        details = report.lines()[:-1]  # its `failed:` and `warning:` lines
        if details or report.stopped is not None:
            self._show_report(report.summary(), details)

    def _show_report(self, summary: str, details: list[str]) -> None:
        """What went wrong in a batch, each photo with its reason (the status bar has room
        for the summary only); not modal, so the window stays usable."""
        box = QMessageBox(QMessageBox.Icon.Warning, "fesgui: batch",
                          summary[0].upper() + summary[1:] + ".",
                          QMessageBox.StandardButton.Ok, self.window)
        if details:
            box.setInformativeText("The details name each photo and what went wrong.")
            box.setDetailedText("\n".join(details))
        box.setModal(False)
        box.show()
        self.report_box = box
