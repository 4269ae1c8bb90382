"""Expression and refinement sliders: intensity, shape and appearance strengths; RMR on/off,
k, tau, dilation radius, blur sigma.

The panel only holds values: every change emits ``params_changed(RefineParams)``. The
dilation radius and blur sigma follow the model's defaults (shown on the sliders) until
the user moves them; then they are sent explicitly. Reset returns to the defaults.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from fesgui.params import ALPHA_SOURCES, PARAMS, Param, RefineParams

_ALPHA_NAMES = {"l1": "L1 norm (paper)", "change": "model's change"}  # per ALPHA_SOURCES


class FloatSlider(QWidget):
    """A labelled horizontal slider over ``[lo, hi]`` in steps of ``step``."""

    value_changed = Signal(float)

    def __init__(self, lo: float, hi: float, step: float, decimals: int = 2,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lo, self.step, self.decimals = lo, step, decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round((hi - lo) / step))
        self.slider.setPageStep(max(1, self.slider.maximum() // 10))
        self.label = QLabel()
        self.label.setMinimumWidth(44)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.slider.valueChanged.connect(self._changed)
        self._update_label()

    def value(self) -> float:
        return round(self.lo + self.slider.value() * self.step, 6)

    def set_value(self, value: float, emit: bool = False) -> None:
        """Move to ``value`` (clamped); emits ``value_changed`` only if ``emit``."""
        self.slider.blockSignals(not emit)
        self.slider.setValue(round((value - self.lo) / self.step))
        self.slider.blockSignals(False)
        self._update_label()

    def _changed(self, _position: int) -> None:
        self._update_label()
        self.value_changed.emit(self.value())

    @classmethod
    def for_param(cls, spec: Param) -> FloatSlider:
        """A slider over the range of ``spec`` (:data:`fesgui.params.PARAMS`)."""
        return cls(spec.lo, spec.hi, spec.step, spec.decimals)

    def _update_label(self) -> None:
        self.label.setText(f"{self.value():.{self.decimals}f}")


class RefinePanel(QWidget):
    """Sliders for :class:`fesgui.pipeline.RefineParams`; see the module docstring."""

    params_changed = Signal(object)  # RefineParams
    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.enabled = QCheckBox(PARAMS["enabled"].label)
        self.enabled.setToolTip(PARAMS["enabled"].help)
        self.alpha_source = QComboBox()
        for source in ALPHA_SOURCES:
            self.alpha_source.addItem(_ALPHA_NAMES[source], source)
        self.k = FloatSlider.for_param(PARAMS["k"])
        self.tau = FloatSlider.for_param(PARAMS["tau"])
        self.radius = FloatSlider.for_param(PARAMS["dilation_radius"])
        self.sigma = FloatSlider.for_param(PARAMS["blur_sigma"])
        self.intensity = FloatSlider.for_param(PARAMS["intensity"])
        self.shape = FloatSlider.for_param(PARAMS["shape"])
        self.appearance = FloatSlider.for_param(PARAMS["appearance"])
        self.reset = QPushButton("Reset to defaults")
        self.reset.setToolTip("Ctrl+R")
        expression = QGridLayout()
        self._add_rows(expression, [("intensity", self.intensity), ("shape", self.shape),
                                    ("appearance", self.appearance)])
        grid = QGridLayout()
        label = QLabel(PARAMS["alpha_source"].label)
        label.setToolTip(PARAMS["alpha_source"].help)
        self.alpha_source.setToolTip(PARAMS["alpha_source"].help)
        grid.addWidget(label, 4, 0)
        grid.addWidget(self.alpha_source, 4, 1)
        self._add_rows(grid, [("k", self.k), ("tau", self.tau),
                              ("dilation_radius", self.radius), ("blur_sigma", self.sigma)])
        layout = QVBoxLayout(self)
        layout.addLayout(expression)
        layout.addWidget(self.enabled)
        layout.addLayout(grid)
        layout.addWidget(self.reset)
        layout.addStretch(1)
        self._defaults: tuple[int | None, float | None] = (None, None)
        self._radius_auto = True
        self._sigma_auto = True
        self.enabled.toggled.connect(self._emit)
        self.k.value_changed.connect(self._emit)
        self.alpha_source.currentIndexChanged.connect(self._emit)
        self.tau.value_changed.connect(self._emit)
        self.intensity.value_changed.connect(self._emit)
        self.shape.value_changed.connect(self._emit)
        self.appearance.value_changed.connect(self._emit)
        self.radius.value_changed.connect(self._radius_moved)
        self.sigma.value_changed.connect(self._sigma_moved)
        self.reset.clicked.connect(self.reset_requested)
        self.set_params(self._default_params())

    @staticmethod
    def _add_rows(grid: QGridLayout, rows: list[tuple[str, FloatSlider]]) -> None:
        for n, (name, slider) in enumerate(rows):
            spec = PARAMS[name]
            tip = spec.cli_help()
            label = QLabel(spec.label)
            label.setToolTip(tip)
            slider.setToolTip(tip)
            grid.addWidget(label, n, 0)
            grid.addWidget(slider, n, 1)

    @staticmethod
    def _default_params() -> RefineParams:
        return RefineParams()

    def set_defaults(self, dilation_radius: int | None, blur_sigma: float | None) -> None:
        """The model's default radius and sigma: shown while the user has not moved them."""
        self._defaults = (dilation_radius, blur_sigma)
        self._show_auto()

    def _show_auto(self) -> None:
        radius, sigma = self._defaults
        if self._radius_auto:
            self.radius.set_value(radius if radius is not None else 0)
        if self._sigma_auto:
            self.sigma.set_value(sigma if sigma is not None else 0.0)

    def set_params(self, params: RefineParams) -> None:
        """Show ``params`` without emitting (None radius/sigma: follow the model defaults)."""
        self.enabled.blockSignals(True)
        self.enabled.setChecked(bool(params.enabled))
        self.enabled.blockSignals(False)
        self.alpha_source.blockSignals(True)
        self.alpha_source.setCurrentIndex(max(0, self.alpha_source.findData(params.alpha_source)))
        self.alpha_source.blockSignals(False)
        self.k.set_value(params.k)
        self.tau.set_value(params.tau)
        self.intensity.set_value(params.intensity)
        self.shape.set_value(params.shape)
        self.appearance.set_value(params.appearance)
        self._radius_auto = params.dilation_radius is None
        self._sigma_auto = params.blur_sigma is None
        if not self._radius_auto:
            self.radius.set_value(params.dilation_radius)
        if not self._sigma_auto:
            self.sigma.set_value(params.blur_sigma)
        self._show_auto()
        self._update_enabled()

    def params(self) -> RefineParams:
        """The :class:`RefineParams` the sliders show."""
        return RefineParams(
            enabled=self.enabled.isChecked(),
            k=float(self.k.value()),
            tau=float(self.tau.value()),
            dilation_radius=None if self._radius_auto else int(self.radius.value()),
            blur_sigma=None if self._sigma_auto else float(self.sigma.value()),
            intensity=float(self.intensity.value()),
            shape=float(self.shape.value()),
            appearance=float(self.appearance.value()),
            alpha_source=str(self.alpha_source.currentData()),
        )

    def _radius_moved(self, _value: float) -> None:
        self._radius_auto = False
        self._emit()

    def _sigma_moved(self, _value: float) -> None:
        self._sigma_auto = False
        self._emit()

    def _update_enabled(self) -> None:
        on = self.enabled.isChecked()
        for slider in (self.alpha_source, self.k, self.tau, self.radius, self.sigma):
            slider.setEnabled(on)

    def _emit(self, *_args: Any) -> None:
        self._update_enabled()
        self.params_changed.emit(self.params())
