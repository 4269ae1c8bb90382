"""Train an expression from your own photos: the "Train expression…" dialog.

The user picks a folder of photo pairs in a layout ``fesgui train --pairs`` accepts
(``DIR/<expression>/<id>.jpg`` or ``DIR/<id>/<expression>.jpg``). The dialog lists what it
found (pairs, and every photo it cannot use with the reason), then trains on a background
thread with a progress bar and Cancel, using the same functions as ``fesgui train --pairs``:
:func:`fesgui.data.find_pairs`, :func:`fesgui.data.load_aligned` and
:func:`fesgui.training.train`. The model is written atomically into the user models folder
(:func:`fesgui.paths.user_models_dir`), its card is shown and the window selects it.
Cancel stops at the next aligned pair or fitted grid point and writes nothing.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from fesgui.errors import FesguiError

#: (label, method, MR window size) offered in the dialog; the first is the default
METHODS = (("MR 3×3 — fast, the recommended start", "mr", 3),
           ("MR 5×5 — wider window, slower", "mr", 5),
           ("Pixel-RR — one weight per pixel, fastest", "pixel-rr", 3),
           ("Pixel-KR — per-pixel kernel ridge, slowest", "pixel-kr", 3))
CROPS = (128, 256)
#: pixel models choose lam / sigma on every 4th row and column (exact for them, 16x faster)
PIXEL_STRIDE = 4
# shares of the progress bar: aligning the photos, then choosing and fitting
_ALIGN_SHARE = 40
_FIT_SHARE = 57


class Cancelled(Exception):
    """Raised inside the training thread when the user pressed Cancel."""


@dataclass(frozen=True)
class TrainRequest:
    """What to train: the photo folder, the two expressions, the method and the output."""

    folder: Path
    source: str
    target: str
    method: str
    size: int
    crop: int
    output: Path


def model_tag(method: str, size: int, crop: int) -> str:
    """``mr3_128``, ``pixelrr_256``: the shipped models' naming."""
    from fesgui.names import file_tag

    return f"{file_tag(method, size)}_{crop}"


def default_name(folder: Path, source: str, target: str, method: str, size: int,
                 crop: int) -> str:
    """A file stem for the new model: ``<folder>_<source>2<target>_<tag>``."""
    from fesgui.data import canonical_expression

    base = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(folder).name).strip("_") or "my"
    src, tgt = canonical_expression(source or "neutral"), canonical_expression(target or "happy")
    return f"{base}_{src}2{tgt}_{model_tag(method, size, crop)}"


def check_model_name(name: str) -> str:
    name = name.strip()
    if name.lower().endswith(".npz"):
        name = name[:-4]
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise FesguiError(f"model name {name!r} is not a file name: use letters, digits, "
                          "_ - and .")
    return name


def scan(folder: str | Path, source: str, target: str) -> tuple[list, list[str]]:
    """``(pairs, problems)`` exactly as ``fesgui train --pairs`` finds them."""
    from fesgui.data import find_pairs

    return find_pairs(folder, source, target)


def run_training(request: TrainRequest, progress: Callable[[int, str], None],
                 cancel: threading.Event, landmarks: Any = None) -> tuple[Path, list]:
    """Align, train and save (the steps of ``fesgui train --pairs``); returns
    ``(model path, skipped photos [(file, reason)])``.

    ``progress(percent, text)`` is called from this thread; ``cancel`` set stops it with
    :class:`Cancelled` before anything is written. ``landmarks``: a landmark source
    (None: MediaPipe, as the command line uses).
    """
    from fesgui import data, training

    def check() -> None:
        if cancel.is_set():
            raise Cancelled

    pairs, _problems = training.find_photo_pairs(request.folder, request.source,
                                                 request.target)

    def aligned_one(done: int, total: int) -> None:
        check()
        progress(round(_ALIGN_SHARE * done / max(total, 1)), f"aligning the faces: {done}/{total}")

    progress(0, f"aligning the faces: 0/{len(pairs)}")
    aligned = data.load_aligned(pairs, request.crop, landmarks=landmarks, progress=aligned_one)
    check()
    grid = len(training.CHANGE_LAM_GRID) * (len(training.SIGMA_GRID)
                                            if request.method == "pixel-kr" else 1)
    tried = [0]

    def log(line: str) -> None:
        check()
        if line.lstrip().startswith("lam="):
            tried[0] += 1
            progress(_ALIGN_SHARE + round(_FIT_SHARE * min(tried[0], grid) / grid),
                     f"choosing λ on the validation people: {tried[0]}/{grid}")
        elif line.startswith("fitted"):
            progress(_ALIGN_SHARE + _FIT_SHARE, "fitted; saving")

    progress(_ALIGN_SHARE, f"training on {len(aligned.ids)} pairs")
    # the same steps as `fesgui train --pairs`: crops, FaceMesh points (the shape field)
    # and how the crops were aligned, the change fit
    model = training.train_aligned(aligned, Path(request.folder).name, method=request.method,
                                   size=request.size,
                                   source=data.canonical_expression(request.source),
                                   target=data.canonical_expression(request.target),
                                   pixel_stride=PIXEL_STRIDE, log=log)
    check()
    request.output.parent.mkdir(parents=True, exist_ok=True)
    model.save(request.output)  # atomic: a temporary file renamed into place
    progress(100, "done")
    return request.output, list(aligned.skipped)


class TrainJob(QObject):
    """:func:`run_training` on a daemon thread; results arrive as signals on the UI thread."""

    progress = Signal(int, str)
    finished = Signal(object, object, float)  # model path, skipped, seconds
    failed = Signal(object)  # the exception
    cancelled = Signal()

    def __init__(self, request: TrainRequest, landmarks_factory: Any = None) -> None:
        super().__init__()
        self.request = request
        self.landmarks_factory = landmarks_factory
        self.cancel_event = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="fesgui-train", daemon=True)
        self.thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _run(self) -> None:
        started = time.perf_counter()
        landmarks = None
        try:
            if self.landmarks_factory is not None:
                landmarks = self.landmarks_factory(False)
            path, skipped = run_training(self.request, self.progress.emit, self.cancel_event,
                                         landmarks)
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - shown in the dialog / notifier
            self.failed.emit(exc)
        else:
            self.finished.emit(path, skipped, time.perf_counter() - started)
        finally:
            close = getattr(landmarks, "close", None)
            if close is not None and self.landmarks_factory is not None:
                close()


class TrainDialog(QDialog):
    """Folder -> what was found -> Train (progress, Cancel) -> the new model's card.

    ``trained(path)`` is emitted when the model file is written (the window lists and
    selects it). ``landmarks_factory(video)`` replaces MediaPipe (tests).
    """

    trained = Signal(str)
    failed = Signal(object)  # an unexpected exception (a bug): for the app's error channel

    def __init__(self, parent: QWidget | None = None, start_folder: str = "",
                 landmarks_factory: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train an expression from your photos")
        self.landmarks_factory = landmarks_factory
        self.job: TrainJob | None = None
        self.pairs: list = []
        self.model_path: Path | None = None
        self._name_edited = False
        self.start_folder = start_folder  # where "Choose…" starts

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a folder of photo pairs")
        self.browse = QPushButton("Choose…")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        self.source = QLineEdit("neutral")
        self.target = QLineEdit("happy")
        self.method = QComboBox()
        for label, method, size in METHODS:
            self.method.addItem(label, (method, size))
        self.crop = QComboBox()
        for crop in CROPS:
            self.crop.addItem(f"{crop} px", crop)
        self.name = QLineEdit()
        form = QFormLayout()
        form.addRow("Photos", folder_row)
        form.addRow("From expression", self.source)
        form.addRow("To expression", self.target)
        form.addRow("Method", self.method)
        form.addRow("Face size", self.crop)
        form.addRow("Model name", self.name)

        help_text = QLabel("Put each person's two photos in <b>neutral/</b> and <b>happy/</b> "
                           "with the same file name (or one folder per person holding "
                           "<b>neutral.jpg</b> and <b>happy.jpg</b>). Any two expressions "
                           "work: name the folders after them.")
        help_text.setWordWrap(True)
        self.summary = QLabel("Choose a folder to see what it holds.")
        self.summary.setWordWrap(True)
        self.found = QListWidget()  # pairs, then the photos that cannot be used and why
        self.card = QTextBrowser()  # the new model's card
        self.pages = QStackedWidget()
        self.pages.addWidget(self.found)
        self.pages.addWidget(self.card)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setValue(0)
        self.stage = QLabel("")
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.stage, 1)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(help_text)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)
        self.resize(620, 560)

        self.browse.clicked.connect(self.ask_folder)
        self.folder.editingFinished.connect(self.rescan)
        self.source.editingFinished.connect(self.rescan)
        self.target.editingFinished.connect(self.rescan)
        self.method.currentIndexChanged.connect(lambda _: self._suggest_name())
        self.crop.currentIndexChanged.connect(lambda _: self._suggest_name())
        self.name.textEdited.connect(self._name_typed)
        self.train_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self._set_running(False)

    # ---- choosing the photos ----
    def ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of photo pairs",
                                                self.folder.text() or self.start_folder)
        if path:
            self.set_folder(path)

    def set_folder(self, path: str | Path) -> None:
        self.folder.setText(str(path))
        self.rescan()

    def rescan(self) -> None:
        """List the pairs and the problems of the folder (quick: names only)."""
        self.pages.setCurrentWidget(self.found)
        self.found.clear()
        self.pairs = []
        text = self.folder.text().strip()
        if not text:
            self.summary.setText("Choose a folder to see what it holds.")
            self._set_running(False)
            return
        try:
            pairs, problems = scan(text, self.source.text(), self.target.text())
        except FesguiError as exc:
            self.summary.setText(f"⚠ {exc}")
            self._set_running(False)
            return
        self.pairs = pairs
        for problem in problems:  # first: what the user may want to fix
            self.found.addItem(f"✗ {problem}")
            self.found.item(self.found.count() - 1).setForeground(QColor(200, 60, 40))
        for pair in pairs:
            self.found.addItem(f"✓ {pair.id}: {pair.source.name} → {pair.target.name}")
        summary = f"<b>{len(pairs)} pairs</b> found"
        if problems:
            summary += f"; {len(problems)} photos or people skipped (listed below with why)"
        if len(pairs) < 3:
            summary += (". At least 3 pairs are needed (people are split into training, "
                        "validation and test); 40 or more give a good model")
        self.summary.setText(summary + ".")
        self._suggest_name()
        self._set_running(False)

    def _name_typed(self, _text: str) -> None:
        self._name_edited = True

    def _suggest_name(self) -> None:
        if self._name_edited or not self.folder.text().strip():
            return
        method, size = self.method.currentData()
        self.name.setText(default_name(Path(self.folder.text().strip()), self.source.text(),
                                       self.target.text(), method, size,
                                       self.crop.currentData()))

    # ---- training ----
    def request(self) -> TrainRequest:
        """The TrainRequest the form describes (a FesguiError names what is missing)."""
        from fesgui.paths import user_models_dir

        if len(self.pairs) < 3:
            raise FesguiError(f"{len(self.pairs)} pairs found: at least 3 are needed; choose "
                              "a folder with more photo pairs")
        name = check_model_name(self.name.text())
        output = user_models_dir() / f"{name}.npz"
        if output.exists():
            raise FesguiError(f"a model named {name} exists already: choose another name")
        method, size = self.method.currentData()
        return TrainRequest(Path(self.folder.text().strip()).expanduser(), self.source.text(),
                            self.target.text(), method, size, self.crop.currentData(), output)

    def start(self) -> TrainJob | None:
        """Start training in the background (progress on the bar; Cancel stops it)."""
        try:
            request = self.request()
        except FesguiError as exc:
            self.stage.setText(f"⚠ {exc}")
            return None
        self.model_path = None
        self.job = TrainJob(request, self.landmarks_factory)
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(self._cancelled)
        self.bar.setValue(0)
        self.stage.setText("starting…")
        self._set_running(True)
        self.job.start()
        return self.job

    def cancel(self) -> None:
        """Stop training (nothing is written), or close the dialog when idle."""
        if self.job is not None and self.job.running():
            self.stage.setText("cancelling…")
            self.job.cancel()
        else:
            self.close()

    def _progress(self, percent: int, text: str) -> None:
        self.bar.setValue(int(percent))
        self.stage.setText(text)

    def _finished(self, path: Path, skipped: list, seconds: float) -> None:
        from fesgui.catalog import list_models
        from fesgui.gui.model_panel import model_card_html

        self.job = None
        self.model_path = Path(path)
        self._set_running(False)
        self.bar.setValue(100)
        extra = f"; {len(skipped)} photos had no usable face" if skipped else ""
        self.stage.setText(f"trained in {seconds:.1f} s{extra}")
        entry = next((e for e in list_models(self.model_path.parent)
                      if e.path == self.model_path), None)
        if entry is not None:
            notes = "".join(f"<li>{Path(f).name}: {why}</li>" for f, why in skipped)
            self.card.setHtml(model_card_html(entry)
                              + (f"<p>Skipped photos:</p><ul>{notes}</ul>" if notes else ""))
            self.pages.setCurrentWidget(self.card)
        self.trained.emit(str(self.model_path))

    def _failed(self, exc: BaseException) -> None:
        self.job = None
        self._set_running(False)
        self.bar.setValue(0)
        if isinstance(exc, FesguiError):
            self.stage.setText(f"⚠ {exc}")
        else:
            self.stage.setText(f"⚠ training failed: {type(exc).__name__}: {exc}")
            self.failed.emit(exc)  # a bug: the app's one error channel shows it

    def _cancelled(self) -> None:
        self.job = None
        self._set_running(False)
        self.bar.setValue(0)
        self.stage.setText("cancelled: nothing was written")

    def _set_running(self, running: bool) -> None:
        for widget in (self.folder, self.browse, self.source, self.target, self.method,
                       self.crop, self.name):
            widget.setEnabled(not running)
        self.train_button.setEnabled(not running and len(self.pairs) >= 3)
        self.close_button.setEnabled(not running)
        self.cancel_button.setText("Cancel" if running else "Close")
        self.cancel_button.setVisible(running)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt naming
        if self.job is not None and self.job.running():
            self.job.cancel()  # closing while training cancels it (nothing is written)
        super().closeEvent(event)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt naming
        if event.key() == Qt.Key.Key_Escape and self.job is not None and self.job.running():
            self.cancel()
            return
        super().keyPressEvent(event)
