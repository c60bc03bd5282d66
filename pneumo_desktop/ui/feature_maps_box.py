"""The feature maps of the explanation panel: one convolution layer's activations for the
film, as a grid of channels or one channel, computed on the inference thread when shown."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core import explain
from pneumo_desktop.core.inference import Priority
from pneumo_desktop.core.overlays import MAX_TILES, feature_grid
from pneumo_desktop.ui.image_view import ImageView
from pneumo_desktop.ui.inference_service import InferenceService, Request


class FeatureMapsBox(QWidget):
    """A "Feature maps" check box and, when checked, the layer, channel and picture."""

    ready = Signal()  # the maps of the current input and layer are shown

    def __init__(self, inference: InferenceService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._inference = inference
        self._input: np.ndarray | None = None
        self._maps: np.ndarray | None = None
        self._request: Request | None = None

        self.check = QCheckBox("Feature maps")
        self.check.setToolTip("Activations of a convolution layer for this image")
        self.layer_combo = QComboBox()
        self.channel_spin = QSpinBox(minimum=-1, maximum=-1, value=-1, specialValueText="all")
        self.channel_spin.setToolTip("One channel, or 'all': a grid of the first 64 channels")
        self.view = ImageView()
        self.view.setMinimumHeight(200)
        self.status_label = QLabel(wordWrap=True)
        self.box = QWidget(visible=False)
        form = QFormLayout(self.box)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Layer", self.layer_combo)
        form.addRow("Channel", self.channel_spin)
        form.addRow(self.view)
        form.addRow(self.status_label)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.check)
        column.addWidget(self.box)

        self.check.toggled.connect(self._show_box)
        self.layer_combo.currentTextChanged.connect(lambda _: self._request_maps())
        self.channel_spin.valueChanged.connect(lambda _: self._draw())
        self.check.setEnabled(False)

    def set_layers(self, names: list[str]) -> None:
        """The model's convolution layers, input to output; the last (Grad-CAM's) is shown."""
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(names)
        self.layer_combo.setCurrentIndex(len(names) - 1)
        self.layer_combo.blockSignals(False)
        self.check.setEnabled(bool(names))

    def set_input(self, model_input: np.ndarray | None) -> None:
        """A new film's model input (None: no film): its maps replace the previous ones."""
        self._input = model_input
        self._request_maps()

    def current_maps(self) -> np.ndarray | None:
        return self._maps

    def shutdown(self) -> None:
        if self._request is not None:
            self._request.cancel()

    def _show_box(self, shown: bool) -> None:
        self.box.setVisible(shown)
        if shown and self._maps is None:
            self._request_maps()

    def _request_maps(self) -> None:
        """Drop what is shown (it belongs to another film or layer) and ask for the maps."""
        self.shutdown()
        self._request, self._maps = None, None
        self.view.clear()
        self.status_label.clear()
        layer = self.layer_combo.currentText()
        if not (self.check.isChecked() and layer and self._input is not None
                and self._inference.is_ready):
            return
        request = self._inference.submit(explain.feature_maps, self._input, layer,
                                         priority=Priority.EXPLAIN)
        request.returned.connect(self._on_maps)
        request.errored.connect(
            lambda error: self.status_label.setText(f"Feature maps unavailable: {error}"))
        self._request = request
        self.status_label.setText(f"Computing {layer}…")

    def _on_maps(self, maps: np.ndarray) -> None:
        self._request, self._maps = None, maps
        self.channel_spin.blockSignals(True)
        self.channel_spin.setMaximum(maps.shape[-1] - 1)
        self.channel_spin.blockSignals(False)
        self._draw()
        self.ready.emit()

    def _draw(self) -> None:
        if self._maps is None:
            return
        height, width, count = self._maps.shape
        channel = self.channel_spin.value()
        self.view.set_image(feature_grid(self._maps, channel))
        shown = f"channel {channel}" if channel >= 0 else f"{min(count, MAX_TILES)} channels"
        self.status_label.setText(
            f"{self.layer_combo.currentText()}: {width}×{height}×{count}, showing {shown}"
        )
