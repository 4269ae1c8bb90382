"""Input panel: open an image, a folder or a video; the camera picker; the folder strip.

Thin: buttons open file dialogs and emit what the user chose; the controller does the rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fesgui.errors import FesguiError
from fesgui.gui.controller import VIDEO_SUFFIXES
from fesgui.imageio import IMAGE_EXTENSIONS, read_thumbnail

IMAGE_FILTER = f"Images ({' '.join('*' + e for e in IMAGE_EXTENSIONS)});;All files (*)"
VIDEO_FILTER = f"Videos ({' '.join('*' + e for e in VIDEO_SUFFIXES)});;All files (*)"
THUMB = 72  # thumbnails are decoded at this size
STRIP_ICON = 40  # and shown at this size beside the file name


class InputPanel(QWidget):
    """Open buttons, camera controls, mirror toggle, "Place landmarks", thumbnail strip."""

    open_requested = Signal(str)  # a photo, folder or video path
    live_toggled = Signal()  # start/stop the camera (or the open video)
    camera_selected = Signal(object)  # camera index (int)
    refresh_cameras = Signal()
    mirror_changed = Signal(bool)
    thumbnail_chosen = Signal(int)
    place_landmarks = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.last_folder = ""
        self.open_image = QPushButton("Image…")
        self.open_folder = QPushButton("Folder…")
        self.open_video = QPushButton("Video…")
        self.open_image.setToolTip("Open a photo (Ctrl+O)")
        self.open_folder.setToolTip("Open a folder of photos (Ctrl+Shift+O)")
        self.open_video.setToolTip("Play a video file through the model")
        files = QHBoxLayout()
        files.addWidget(QLabel("Open"))
        for button in (self.open_image, self.open_folder, self.open_video):
            files.addWidget(button, 1)

        self.cameras = QComboBox()
        self.cameras.setPlaceholderText("looking for cameras…")
        self.cameras.setMinimumContentsLength(10)
        self.refresh = QPushButton("↻")
        self.refresh.setToolTip("Look for cameras again")
        self.refresh.setFixedWidth(32)
        self.live = QPushButton("Start")
        self.live.setToolTip("Start or stop the camera or the open video (Space)")
        self.mirror = QCheckBox("Mirror")
        camera_row = QHBoxLayout()
        camera_row.addWidget(self.cameras, 1)
        camera_row.addWidget(self.refresh)
        control_row = QHBoxLayout()
        control_row.addWidget(self.live, 1)
        control_row.addWidget(self.mirror)
        camera_layout = QVBoxLayout()
        camera_layout.addLayout(camera_row)
        camera_layout.addLayout(control_row)
        camera_box = QGroupBox("Camera")
        camera_box.setLayout(camera_layout)

        self.place = QPushButton("Place landmarks")
        self.place.setCheckable(True)
        self.place.setToolTip("The detector missed the face? Click the left eye, the right eye "
                              "and the mouth centre on the frame.")

        # the open folder: one row per photo, a thumbnail beside its whole name (a long name
        # is shortened in the middle, the tooltip has it all); one vertical scroll bar
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.ListMode)
        self.strip.setIconSize(QSize(STRIP_ICON, STRIP_ICON))
        self.strip.setUniformItemSizes(True)
        self.strip.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.strip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.strip.setMinimumHeight(3 * (STRIP_ICON + 6))
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setVisible(False)
        self.prev = QPushButton("◀ Previous")
        self.next = QPushButton("Next ▶")
        self.prev.setToolTip("Previous photo (PgUp)")
        self.next.setToolTip("Next photo (PgDn)")
        for button in (self.prev, self.next):
            button.setVisible(False)
        step_row = QHBoxLayout()
        step_row.addWidget(self.prev)
        step_row.addWidget(self.next)

        layout = QVBoxLayout(self)
        layout.addLayout(files)
        layout.addWidget(camera_box)
        layout.addWidget(self.place)
        layout.addWidget(self.strip, 1)
        layout.addLayout(step_row)
        layout.addStretch(0)

        self._pending: list[int] = []
        self._files: list[Path] = []
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._load_some_thumbnails)

        self.open_image.clicked.connect(self.ask_image)
        self.open_folder.clicked.connect(self.ask_folder)
        self.open_video.clicked.connect(self.ask_video)
        self.live.clicked.connect(self.live_toggled)
        self.refresh.clicked.connect(self.refresh_cameras)
        self.mirror.toggled.connect(self.mirror_changed)
        self.place.toggled.connect(self.place_landmarks)
        self.cameras.activated.connect(self._camera_activated)
        self.strip.currentRowChanged.connect(self._row_changed)
        self.prev.clicked.connect(lambda: self.strip.setCurrentRow(max(0, self.strip.currentRow() - 1)))
        self.next.clicked.connect(
            lambda: self.strip.setCurrentRow(min(self.strip.count() - 1, self.strip.currentRow() + 1)))

    # ---- dialogs ----
    def ask_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self.last_folder, IMAGE_FILTER)
        if path:
            self.open_requested.emit(path)

    def ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open folder", self.last_folder)
        if path:
            self.open_requested.emit(path)

    def ask_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", self.last_folder, VIDEO_FILTER)
        if path:
            self.open_requested.emit(path)

    # ---- camera ----
    def set_cameras(self, cameras: list[tuple[int, int, int]], current: int | str = 0) -> None:
        """List the cameras ``(index, width, height)`` that opened."""
        self.cameras.clear()
        for index, width, height in cameras:
            self.cameras.addItem(f"Camera {index} — {width}×{height}", index)
        if not cameras:
            self.cameras.setPlaceholderText("no camera found")
        position = self.cameras.findData(current)
        self.cameras.setCurrentIndex(position if position >= 0 else (0 if cameras else -1))

    def _camera_activated(self, index: int) -> None:
        self.camera_selected.emit(self.cameras.itemData(index))

    def set_live(self, running: bool) -> None:
        self.live.setText("Stop" if running else "Start")

    # ---- folder strip ----
    def set_folder(self, files: list[Path]) -> None:
        """Show thumbnails of ``files`` (loaded a few at a time, scaled while decoding)."""
        self._files = [Path(f) for f in files]
        self.strip.blockSignals(True)
        self.strip.clear()
        placeholder = QPixmap(THUMB, THUMB)
        placeholder.fill(Qt.GlobalColor.darkGray)
        for path in self._files:
            item = QListWidgetItem(QIcon(placeholder), path.name)
            item.setToolTip(path.name)
            self.strip.addItem(item)
        self.strip.blockSignals(False)
        shown = bool(self._files)
        for widget in (self.strip, self.prev, self.next):
            widget.setVisible(shown)
        self._pending = list(range(len(self._files)))
        if shown:
            self._thumb_timer.start()

    def set_index(self, index: int) -> None:
        self.strip.blockSignals(True)
        self.strip.setCurrentRow(index)
        self.strip.blockSignals(False)

    def thumbnails_pending(self) -> int:
        """How many thumbnails are still to be loaded."""
        return len(self._pending)

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.thumbnail_chosen.emit(row)

    def _load_some_thumbnails(self) -> None:
        """Decode up to four pending thumbnails (``read_thumbnail``: a bad file keeps its
        placeholder quietly; the controller reports it when it is opened)."""
        for _ in range(4):
            if not self._pending:
                self._thumb_timer.stop()
                return
            row = self._pending.pop(0)
            try:
                rgb = read_thumbnail(self._files[row], THUMB)
            except FesguiError:
                continue
            if row < self.strip.count():
                self.strip.item(row).setIcon(QIcon(QPixmap.fromImage(_qimage(rgb))))


def _qimage(rgb: np.ndarray) -> QImage:
    """A QImage owning a copy of ``rgb`` ((h, w, 3) uint8)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
