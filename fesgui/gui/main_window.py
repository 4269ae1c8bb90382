"""The main window: lays out the views and docks and wires the panels to the controller.

Central area: the frame view (or, before anything is open, the drop zone) above the three
linked crop views. Docks: Input, Model, Refinement (left), Inspector and Model maps
(right, tabbed). The window decides nothing itself: every user action is a controller call,
every controller signal is drawn here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fesgui.gui import screen_fit, window_state
from fesgui.gui.controller import Controller
from fesgui.gui.file_actions import FileActions
from fesgui.gui.input_panel import InputPanel
from fesgui.gui.model_panel import ModelPanel
from fesgui.gui.notify import Notifier
from fesgui.gui.placement import LandmarkPlacer
from fesgui.gui.refine_panel import RefinePanel

DROP_TEXT = ("<div style='font-size:20pt'>Drop a photo, a folder or a video here</div>"
             "<div style='font-size:12pt; color:#aaa'><br>or press <b>Ctrl+O</b> to open a photo"
             " &nbsp;·&nbsp; <b>Space</b> starts the webcam</div>")
# Live video: the inspector docks follow the stream at most this often (s); stills always.
INSPECT_PERIOD = 0.15
# Choices (model, sliders, mirror, camera) are written to the settings file this long after
# the last change (ms), so a crash or a kill loses at most that much.
SAVE_DELAY_MS = 500


class Banner(QFrame):
    """A message strip above the views with an action button (e.g. camera lost -> Retry)."""

    def __init__(self, button_text: str) -> None:
        super().__init__()
        self.setStyleSheet("Banner { background: #5a3d12; } QLabel { color: white; }")
        self.label = QLabel()
        self.button = QPushButton(button_text)
        self.close_button = QPushButton("✕")
        self.close_button.setFixedWidth(28)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        row.addWidget(self.close_button)
        self.close_button.clicked.connect(self.hide)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    """fesgui's window; ``landmarks_factory`` replaces MediaPipe (tests).

    ``defer`` builds the image views and the inspector docks just after the window is
    shown (pyqtgraph and the numerical imports take most of the start-up time); the app
    uses it, so the window with its drop zone appears at once. ``views_built`` is emitted
    once they exist.
    """

    views_built = Signal()

    def __init__(self, notifier: Notifier | None = None, landmarks_factory: Any = None,
                 defer: bool = False) -> None:
        super().__init__()
        self.setWindowTitle("fesgui — facial expression synthesis")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)
        self.notifier = notifier or Notifier()
        self.landmarks_factory = landmarks_factory  # also for training (None: MediaPipe)
        self.controller = Controller(self.notifier, landmarks_factory)
        self.unexpected_errors: list[str] = []  # summaries of error dialogs shown
        self.error_box: QMessageBox | None = None
        self._inspected_at = 0.0
        self._inspect_timer = QTimer(self)
        self._inspect_timer.setSingleShot(True)
        self._inspect_timer.setInterval(int(INSPECT_PERIOD * 1000))
        self._inspect_timer.timeout.connect(lambda: self._update_inspection(only_visible=True))
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.guarded(lambda: window_state.save(self)))
        self._build_views()
        self._build_docks()
        self.files = FileActions(self)
        self.placer = LandmarkPlacer(self.controller, self.prompt, self.input_panel.place, self)
        self._build_actions()
        self._wire()
        if defer:
            QTimer.singleShot(30, self._build_heavy)  # after the first paint
        else:
            self._build_heavy()
        screen_fit.fit_window(self)  # the available screen, down to 1280x720
        self.resizeDocks([self.input_dock, self.inspector_dock], [320, 420],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.input_dock, self.model_dock, self.refine_dock], [250, 150, 250],
                         Qt.Orientation.Vertical)
        window_state.restore(self)
        screen_fit.keep_on_screen(self)  # remembered on a larger monitor: fit this one
        self._save_timer.stop()  # restoring is not a change worth writing back

    # ---- layout ----
    def _build_views(self) -> None:
        self.frame_view: Any = None  # FrameView and CropViews: see _build_heavy
        self.crop_views: Any = None
        self.drop_zone = QLabel(DROP_TEXT)
        self.drop_zone.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_zone.setWordWrap(True)
        self.drop_zone.setStyleSheet("QLabel { border: 2px dashed #777; border-radius: 12px;"
                                     " margin: 16px; color: #ddd; background: #202020; }")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_zone)
        self.lost_banner = Banner("Retry")
        self.prompt = QLabel()
        self.prompt.setStyleSheet("QLabel { background: #174a7a; color: white; padding: 6px;"
                                  " font-size: 12pt; }")
        self.prompt.hide()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.stack)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.lost_banner)
        layout.addWidget(self.prompt)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.stats_label = QLabel()
        self.statusBar().addPermanentWidget(self.stats_label)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_").lower() + "_dock")
        scroll = QScrollArea()  # small screens: a dock scrolls rather than forcing its size
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.input_panel = InputPanel()
        self.model_panel = ModelPanel()
        self.refine_panel = RefinePanel()
        self.inspector: Any = None  # InspectorPanel, see _build_heavy
        self.maps: Any = None  # ModelMapsPanel
        self._views: Any = None  # the worker's last fesgui.views.ModelViews
        self.input_dock = self._dock("Input", self.input_panel, left)
        self.model_dock = self._dock("Model", self.model_panel, left)
        self.refine_dock = self._dock("Refinement", self.refine_panel, left)
        self.inspector_dock = self._dock("Inspector", QLabel("loading…"), right)
        self.maps_dock = self._dock("Model maps", QLabel("loading…"), right)
        self.tabifyDockWidget(self.inspector_dock, self.maps_dock)
        self.inspector_dock.raise_()

    def _action(self, menu: Any, text: str, slot: Any, shortcut: Any = None,
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        run = self.guarded(slot)
        if checkable:
            action.triggered.connect(lambda checked: run(checked))
        else:
            action.triggered.connect(lambda: run())
        menu.addAction(action)
        self.addAction(action)  # shortcuts work with the menu bar hidden (full screen)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open image…", self.input_panel.ask_image, "Ctrl+O")
        self._action(file_menu, "Open folder…", self.input_panel.ask_folder, "Ctrl+Shift+O")
        self._action(file_menu, "Open video…", self.input_panel.ask_video)
        self._action(file_menu, "Load model file…", self.model_panel.ask_for_file)
        file_menu.addSeparator()
        files = self.files
        self._action(file_menu, "Save result…", lambda: files.ask_save("frame"), "Ctrl+S")
        self._action(file_menu, "Save face crop…", lambda: files.ask_save("crop"), "Ctrl+Shift+S")
        self.record_action = self._action(file_menu, "Record live output…",
                                          files.toggle_recording, "Ctrl+Shift+R", checkable=True)
        self._action(file_menu, "Process open folder…", files.ask_batch, "Ctrl+B")
        self._action(file_menu, "Train expression from photos…", self.open_training, "Ctrl+T")
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, "Ctrl+Q")
        live_menu = bar.addMenu("&Live")
        self._action(live_menu, "Start / stop", self.controller.toggle_live, Qt.Key.Key_Space)
        self._action(live_menu, "Previous image", lambda: self.controller.step(-1), "PgUp")
        self._action(live_menu, "Next image", lambda: self.controller.step(1), "PgDown")
        self._action(live_menu, "Reset refinement", self.controller.reset_params, "Ctrl+R")
        view_menu = bar.addMenu("&View")
        self.overlay_action = self._action(view_menu, "Landmarks and crop box",
                                           lambda on: self.frame_view.set_overlay_visible(on),
                                           "Ctrl+L", checkable=True)
        self.overlay_action.setChecked(False)  # the face first; Ctrl+L shows the landmarks
        self._action(view_menu, "Full screen", self.toggle_fullscreen).setShortcuts(
            [QKeySequence("F11"), QKeySequence("Ctrl+F")])
        self._build_toolbar(view_menu)
        view_menu.addSeparator()
        for dock in (self.input_dock, self.model_dock, self.refine_dock, self.inspector_dock,
                     self.maps_dock):
            view_menu.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "About fesgui", self.about)

    def _wire(self) -> None:
        c = self.controller
        g = self.guarded
        panel = self.input_panel
        panel.open_requested.connect(g(c.open_path))
        panel.live_toggled.connect(g(c.toggle_live))
        panel.camera_selected.connect(g(self._camera_selected))
        panel.refresh_cameras.connect(g(c.probe_cameras))
        panel.mirror_changed.connect(g(c.set_mirror))
        panel.thumbnail_chosen.connect(g(c.go_to))
        panel.place_landmarks.connect(g(self.set_placing))
        self.model_panel.model_chosen.connect(g(c.select_model))
        self.model_panel.file_loaded.connect(g(self._load_model_file))
        self.refine_panel.params_changed.connect(g(c.set_params))
        self.refine_panel.reset_requested.connect(g(c.reset_params))
        self.lost_banner.button.clicked.connect(g(self._retry))
        for dock in (self.inspector_dock, self.maps_dock):
            dock.visibilityChanged.connect(lambda on: on and self._update_inspection())
        # controller -> views
        c.result_ready.connect(self.draw_result)
        c.views_ready.connect(self._views_ready)
        c.status.connect(self.show_status)
        c.status_outdated.connect(self.clear_status)
        c.stats.connect(self.stats_label.setText)
        c.models_listed.connect(self.model_panel.set_entries)
        c.model_changed.connect(self._model_changed)
        c.params_changed.connect(self._params_changed)
        c.live_changed.connect(self._live_changed)
        c.source_lost.connect(self.lost_banner.show_message)
        c.source_opened.connect(self._source_opened)
        c.folder_listed.connect(panel.set_folder)
        c.folder_index.connect(panel.set_index)
        c.cameras_found.connect(lambda cams: panel.set_cameras(cams, c.camera))
        self.notifier.user_error.connect(self.show_user_error)
        self.notifier.unexpected_error.connect(self.show_unexpected_error)
        # remembered choices reach the settings file soon after they change (not only on close)
        save_soon = self._save_timer.start
        c.model_changed.connect(lambda *_: save_soon())
        c.params_changed.connect(lambda *_: save_soon())
        panel.mirror_changed.connect(lambda *_: save_soon())
        panel.camera_selected.connect(lambda *_: save_soon())

    def _build_heavy(self) -> None:
        """Create the pyqtgraph views and the Inspector and Model maps panels, and wire them."""
        if self.inspector is not None:
            return
        from fesgui.gui.inspector import InspectorPanel
        from fesgui.gui.maps import ModelMapsPanel
        from fesgui.gui.views import CropViews, FrameView

        self.frame_view, self.crop_views = FrameView(), CropViews()
        self.stack.addWidget(self.frame_view)
        self.splitter.addWidget(self.crop_views)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([700, 300])  # the frame large, the row of crops below
        self.frame_view.set_overlay_visible(self.overlay_action.isChecked())
        self.placer.view = self.frame_view
        self.frame_view.clicked.connect(self.guarded(self.placer.click))
        self.compare.attach(self.frame_view)
        self.faces.attach(self.frame_view)
        self.frame_view.clicked.connect(self.guarded(self.faces.click))

        self.inspector, self.maps = InspectorPanel(), ModelMapsPanel()
        self.inspector_dock.widget().setWidget(self.inspector)
        self.maps_dock.widget().setWidget(self.maps)
        self.crop_views.pixel_clicked.connect(self.inspector.select_pixel)
        self.crop_views.arrow_pressed.connect(self.inspector.move_selection)
        self.maps.pixel_clicked.connect(self.inspector.select_pixel)
        self.inspector.pixel_selected.connect(self.crop_views.set_crosshair)
        self.inspector.pixel_selected.connect(self.maps.select_pixel)
        c = self.controller
        if c.model is not None:
            self.inspector.set_model(c.model)
            self.maps.set_model(c.model)
        self.maps.set_views(self._views)
        self._update_inspection()
        self.views_built.emit()

    # ---- error handling ----
    def guarded(self, slot: Any) -> Any:
        """``slot`` wrapped so that any exception reaches the user through the notifier."""

        def run(*args: Any) -> Any:
            try:
                return slot(*args)
            except Exception as exc:  # noqa: BLE001 - every error reaches the user
                self.notifier.report(exc)
                return None

        return run

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def clear_status(self, text: str) -> None:
        """Take ``text`` off the status bar if it is still the message shown there."""
        if self.statusBar().currentMessage() == text:
            self.statusBar().clearMessage()

    def show_user_error(self, text: str) -> None:
        self.statusBar().showMessage("⚠ " + text, 12000)
        # a model that failed to load: the boxes name the model actually loaded (or none)
        entry = self.controller.model_entry
        self.model_panel.set_current(entry.path if entry is not None else None)

    def show_unexpected_error(self, summary: str, details: str) -> None:
        self.unexpected_errors.append(summary)
        box = QMessageBox(QMessageBox.Icon.Critical, "fesgui: unexpected error",
                          f"Something went wrong inside fesgui:\n{summary}\n\n"
                          "The app keeps running. Please report this with the details.",
                          QMessageBox.StandardButton.Ok, self)
        box.setDetailedText(details)
        box.setModal(False)
        box.show()
        self.error_box = box

    # ---- drawing ----
    def draw_result(self, result: Any, info: Any) -> None:
        """Draw a FrameResult: the frame, overlays, the three crops and the inspector docks."""
        self._build_heavy()
        self.stack.setCurrentWidget(self.frame_view)
        self.frame_view.set_frame(result.composite)
        face = result.faces[0] if result.faces else None
        crop_size = None if face is None else face.crop.shape[:2]
        self.frame_view.set_faces(result.faces, crop_size)
        self.compare.set_result(result)
        self.faces.set_result(result)
        if face is None:
            self.crop_views.set_images(None, None, None)
        else:
            # the aligned face before the shape warp (the model's input is the moved face)
            before = face.crop if face.aligned is None else face.aligned
            self.crop_views.set_images(before, face.output, face.refined)
        self._face, self._face_params = face, info.params
        if info.kind != "live":
            self._update_inspection()
        elif time.perf_counter() - self._inspected_at < INSPECT_PERIOD:
            self._inspect_timer.start()  # live: at most ~7 updates/s, and always the last frame
        else:
            self._update_inspection(only_visible=True)

    def _update_inspection(self, only_visible: bool = False) -> None:
        """Send the current face to the Inspector and Model maps panels.

        Stills update both; live frames only the panels on screen (a tab behind another is
        not), which catch up when shown and when the stream stops.
        """
        if not hasattr(self, "_face") or self.inspector is None:
            return
        self._inspect_timer.stop()
        self._inspected_at = time.perf_counter()
        for dock, panel in ((self.inspector_dock, self.inspector), (self.maps_dock, self.maps)):
            if not only_visible or (dock.isVisible() and not dock.visibleRegion().isEmpty()):
                panel.set_face(self._face, self._face_params)

    def _model_changed(self, model: Any, entry: Any) -> None:
        if self.inspector is not None:
            self.inspector.set_model(model)
            self.maps.set_model(model)
        self.refine_panel.set_defaults(*self.controller.defaults)
        if entry is not None:
            self.model_panel.set_current(entry.path)
        self.setWindowTitle(f"fesgui — {entry.name if entry else 'no model'}")

    def _params_changed(self, params: Any) -> None:
        self.refine_panel.set_params(params)

    def _views_ready(self, views: Any) -> None:
        """The model's maps and alpha stages, computed by the worker without a frame."""
        self._views = views
        if self.maps is not None:
            self.maps.set_views(views)

    def _live_changed(self, running: bool, description: str) -> None:
        self.input_panel.set_live(running)
        if running:
            self.lost_banner.hide()
            self.set_placing(False)
        else:
            self._update_inspection()  # the last live frame, in every panel
            if self.record_action.isChecked():
                self.record_action.setChecked(False)

    def _source_opened(self, kind: str, where: str) -> None:
        self.set_placing(False)
        if kind != "camera":
            path = Path(where)
            folder = str(path if kind == "folder" else path.parent)
            self.input_panel.last_folder = folder
            self.show_status(f"opened {path.name}")

    # ---- user actions ----
    def _camera_selected(self, index: Any) -> None:
        self.controller.camera = index
        if self.controller.live and self.controller.video_path is None:
            self.controller.start_camera(index)

    def _retry(self) -> None:
        self.lost_banner.hide()
        self.controller.retry_live()

    def _load_model_file(self, path: str) -> None:
        self.controller.select_model(path)
        self.model_panel.set_current(path)

    def set_placing(self, on: bool) -> None:
        """Enter or leave "Place landmarks" mode (three clicks on the frame view)."""
        if on:
            self._build_heavy()
        self.placer.set_active(on)
        if on:
            self.stack.setCurrentWidget(self.frame_view)

    # ---- compare, faces, presets, training (each in its own module) ----
    def _build_toolbar(self, view_menu: Any) -> None:
        from fesgui.gui.compare import CompareControls
        from fesgui.gui.face_picker import FacePicker
        from fesgui.gui.presets import PresetsBar

        bar = self.addToolBar("Tools")
        bar.setObjectName("tools_toolbar")
        bar.setMovable(False)
        self.toolbar = bar
        self.compare = CompareControls(self)
        self.faces = FacePicker(self)
        view_menu.addSeparator()
        for action in (*self.compare.actions, self.faces.all_action):
            bar.addAction(action)
            view_menu.addAction(action)
        bar.insertSeparator(self.faces.all_action)
        bar.addSeparator()
        self.presets = PresetsBar(lambda: self.controller.params)
        self.presets.apply.connect(self.guarded(self.controller.set_params))
        self.presets.saved.connect(lambda name: self.show_status(f"saved preset {name!r}"))
        bar.addWidget(self.presets)
        bar.addSeparator()
        self.train_action = QAction("Train expression…", self)
        self.train_action.setToolTip("Train a model from your own photo pairs (Ctrl+T)")
        self.train_action.triggered.connect(self.guarded(self.open_training))
        bar.addAction(self.train_action)
        self.train_dialog: Any = None

    def open_training(self) -> Any:
        """The "Train an expression" dialog (one at a time; not modal)."""
        from fesgui.gui.train_dialog import TrainDialog

        if self.train_dialog is None:
            self.train_dialog = TrainDialog(self, self.input_panel.last_folder,
                                            self.landmarks_factory)
            self.train_dialog.trained.connect(self.guarded(self._trained))
            self.train_dialog.failed.connect(self.notifier.report)
        self.train_dialog.show()
        self.train_dialog.raise_()
        return self.train_dialog

    def _trained(self, path: str) -> None:
        """A model was trained into the user models folder: list it and select it."""
        self.controller.refresh_models()
        self.controller.select_model(path)
        self.model_panel.set_current(path)
        self.show_status(f"trained {Path(path).name}: selected")

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt naming
        if event.key() == Qt.Key.Key_Escape and self.placer.active:
            self.placer.set_active(False)
            return
        if event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
            return
        super().keyPressEvent(event)

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def about(self) -> None:
        from fesgui import __version__

        QMessageBox.about(self, "About fesgui",
                          f"<b>fesgui {__version__}</b><br>Facial expression synthesis with tiny, "
                          "interpretable linear models: Masked Regression (MR, RMR, CMR), "
                          "Pixel-RR and Pixel-KR.")

    # ---- drag and drop ----
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt naming
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt naming
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.guarded(self.controller.open_path)(paths[0])

    # ---- close ----
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt naming
        self._save_timer.stop()
        window_state.save(self)
        self.controller.shutdown()
        super().closeEvent(event)
