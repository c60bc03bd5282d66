"""Why the model said what it said: Grad-CAM / LIME overlays, the model's input, feature maps.

The panel draws on an :class:`ImageView` it is given (the viewer's), never on the data. All
model work (Grad-CAM, LIME, feature maps) and the colouring of the results run in workers; slots
only store results and hand RGBA arrays to the view. Each result carries the generation of the
image it was computed for, so a late result for a previous image is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core import explain
from pneumo_desktop.core.explain import ExplanationCancelled
from pneumo_desktop.core.overlays import (
    MAX_TILES,
    feature_grid,
    gradcam_rgba,
    lime_boundaries_rgba,
    lime_heatmap_rgba,
)
from pneumo_desktop.ui.image_view import ImageView
from pneumo_desktop.ui.workers import FunctionWorker, JobTracker

OVERLAYS = ("None", "Grad-CAM", "LIME boundaries", "LIME heatmap")
_LEGENDS = {
    "None": "",
    "Grad-CAM": "Grad-CAM: red/yellow = areas that raised P(pneumonia) most; "
    "transparent = little influence.",
    "LIME boundaries": "LIME: green outline = regions pushing towards PNEUMONIA; "
    "red outline = regions pushing towards NORMAL.",
    "LIME heatmap": "LIME: red = for pneumonia, blue = against; transparent = neutral.",
}

# ---------------------------------------------------------------- pure helpers (worker side)


def _tagged(token: object, fn: Callable, *args, **kwargs) -> tuple[object, object, str | None]:
    """``(token, fn(...), None)`` or ``(token, None, message)``: never raises, so the slot
    always knows which request a failure belongs to."""
    try:
        return token, fn(*args, **kwargs), None
    except Exception as error:  # shown to the user as one line, never as a traceback
        return token, None, str(error) or type(error).__name__


def _lime_job(classifier, model_input: np.ndarray, **kwargs) -> tuple:
    result = explain.lime_explanation(classifier, model_input, **kwargs)
    return result, lime_boundaries_rgba(result), lime_heatmap_rgba(result)


def _gradcam_job(classifier, model_input: np.ndarray) -> np.ndarray:
    return gradcam_rgba(explain.gradcam(classifier, model_input))


def _fits(classifier, model_input: np.ndarray | None) -> bool:
    expected = (classifier.input_size, classifier.input_size, classifier.channels)
    return model_input is not None and tuple(model_input.shape) == expected


# ---------------------------------------------------------------- the panel


class ExplainPanel(QWidget):
    """Explanation controls for the image shown in ``image_view``."""

    limeFinished = Signal(str)  # noqa: N815 - Qt naming; "done", "cancelled" or "failed"
    featureMapsReady = Signal()  # noqa: N815 - Qt naming

    def __init__(
        self, classifier, image_view: ImageView, settings: dict | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._classifier = None
        self._view = image_view
        self._image = None
        self._model_input: np.ndarray | None = None
        self._generation = 0  # bumped per image; results of older generations are dropped
        self._gradcam: np.ndarray | None = None
        self._lime: tuple | None = None  # (LimeResult, boundaries RGBA, heatmap RGBA)
        self._lime_worker: FunctionWorker | None = None
        self._lime_outcome = "done"
        self._maps: np.ndarray | None = None
        self._maps_request = 0
        self._jobs = JobTracker()
        lime_pool = QThreadPool(self)
        lime_pool.setMaxThreadCount(1)  # LIME is long: never let it starve image loading
        self._lime_jobs = JobTracker(lime_pool)
        self.lime_batch_size = 32  # small batches: finer progress, prompt Cancel
        self._build()
        self.apply_lime_settings(settings or {})
        self.set_classifier(classifier)

    def _build(self) -> None:
        self.status_label = QLabel(wordWrap=True)
        self.overlay_combo = QComboBox()
        self.overlay_combo.addItems(OVERLAYS)
        self.overlay_combo.setCurrentText("Grad-CAM")
        self.show_overlay_check = QCheckBox("Show overlay", checked=True)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.legend_label = QLabel(wordWrap=True)
        overlay_box = QGroupBox("Overlay")
        form = QFormLayout(overlay_box)
        form.addRow(self.overlay_combo, self.show_overlay_check)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow(self.legend_label)

        self.samples_spin = QSpinBox(minimum=100, maximum=5000, singleStep=100, value=1000)
        self.samples_spin.setToolTip("Perturbed images LIME classifies: more = steadier, slower")
        self.features_spin = QSpinBox(minimum=1, maximum=30, value=8)
        self.features_spin.setToolTip("How many superpixels to outline")
        self.explain_button = QPushButton("Explain with LIME")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.lime_progress = QProgressBar(minimum=0, maximum=100, value=0)
        self.lime_status = QLabel(wordWrap=True)
        lime_box = QGroupBox("LIME")
        form = QFormLayout(lime_box)
        form.addRow("Samples", self.samples_spin)
        form.addRow("Features", self.features_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.explain_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        form.addRow(self.lime_progress)
        form.addRow(self.lime_status)

        self.model_input_check = QCheckBox("What the model sees")
        self.model_input_check.setToolTip(
            "The film squashed to the model's input size (aspect ratio not kept), as the "
            "classifier receives it. The model also standardises intensity internally (zero "
            "mean, unit variance per image), so overall brightness/contrast do not matter to it."
        )
        self.model_input_view = ImageView()
        self.model_input_view.setMinimumHeight(200)
        self.model_input_view.setVisible(False)

        self.feature_check = QCheckBox("Feature maps")
        self.feature_check.setToolTip("Activations of a convolution layer for this image")
        self.layer_combo = QComboBox()
        self.channel_spin = QSpinBox(minimum=-1, maximum=-1, value=-1, specialValueText="all")
        self.channel_spin.setToolTip("One channel, or 'all': a grid of the first 64 channels")
        self.feature_view = ImageView()
        self.feature_view.setMinimumHeight(200)
        self.feature_status = QLabel(wordWrap=True)
        self.feature_box = QWidget(visible=False)
        form = QFormLayout(self.feature_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Layer", self.layer_combo)
        form.addRow("Channel", self.channel_spin)
        form.addRow(self.feature_view)
        form.addRow(self.feature_status)

        layout = QVBoxLayout(self)
        for widget in (self.status_label, overlay_box, lime_box, self.model_input_check,
                       self.model_input_view, self.feature_check, self.feature_box):
            layout.addWidget(widget)
        layout.addStretch(1)

        self.overlay_combo.currentTextChanged.connect(self._update_overlay)
        self.show_overlay_check.toggled.connect(self._view.set_overlay_visible)
        self.opacity_slider.valueChanged.connect(lambda v: self._view.set_overlay_opacity(v / 100))
        self.explain_button.clicked.connect(self.start_lime)
        self.cancel_button.clicked.connect(self.cancel_lime)
        self.model_input_check.toggled.connect(self._show_model_input)
        self.feature_check.toggled.connect(self._show_feature_box)
        self.layer_combo.currentTextChanged.connect(self._layer_changed)
        self.channel_spin.valueChanged.connect(lambda _: self._draw_feature_maps())
        self._view.set_overlay_opacity(0.5)
        self._view.set_overlay_visible(True)

    # ------------------------------------------------------------------ public API

    def set_classifier(self, classifier) -> None:
        """The model arrived (or changed): enable the controls and explain the current image."""
        self._classifier = classifier
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        if classifier is not None:
            layers = list(explain.feature_map_layers(classifier))
            self.layer_combo.addItems(layers)
            self.layer_combo.setCurrentIndex(len(layers) - 1)  # the layer Grad-CAM uses
        self.layer_combo.blockSignals(False)
        self.set_image(self._image, self._model_input)

    def set_image(self, loaded_image, model_input: np.ndarray | None) -> None:
        """Explain a new image (None clears). Cancels a running LIME: it was for the old one."""
        self._generation += 1
        self.cancel_lime()
        self._image = loaded_image
        self._model_input = None if loaded_image is None else model_input
        self._gradcam = self._lime = self._maps = None
        self._view.set_overlay(None)
        self.lime_progress.setValue(0)
        self.feature_view.clear()
        self.feature_status.clear()
        self._show_model_input(self.model_input_check.isChecked())
        if self._classifier is None:
            self.status_label.setText("model loading…")
        elif self._model_input is not None and not _fits(self._classifier, self._model_input):
            self._model_input = None  # computed for another model: wait for the right one
            self.status_label.setText("waiting for the model input…")
        else:
            self.status_label.clear()
            self._start_gradcam()
            self._start_feature_maps()
        self._update_enabled()
        self._update_overlay()

    def lime_settings(self) -> dict:
        """``{"num_samples": int, "num_features": int}``, for QSettings."""
        return {
            "num_samples": self.samples_spin.value(),
            "num_features": self.features_spin.value(),
        }

    def apply_lime_settings(self, settings: dict) -> None:
        """Tolerant of missing keys and of strings (QSettings often returns str)."""
        for key, spin in (("num_samples", self.samples_spin), ("num_features", self.features_spin)):
            try:
                spin.setValue(int(settings[key]))  # QSpinBox clamps to its range
            except (KeyError, TypeError, ValueError):
                pass

    @property
    def lime_worker(self) -> FunctionWorker | None:
        return self._lime_worker

    @property
    def model_input(self) -> np.ndarray | None:
        """The model input being explained (None without an image or a matching model)."""
        return self._model_input

    def current_feature_maps(self) -> np.ndarray | None:
        return self._maps

    def shutdown(self) -> None:
        """Abort and wait for every worker; call before the panel goes away."""
        self.cancel_lime()
        self._lime_jobs.shutdown()
        self._jobs.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ overlay

    def _update_overlay(self) -> None:
        choice = self.overlay_combo.currentText()
        legend = _LEGENDS[choice]
        rgba, smooth = None, True
        if choice == "Grad-CAM":
            rgba = self._gradcam
        elif choice.startswith("LIME"):
            if self._lime is None:
                legend = "Run “Explain with LIME” first."
            else:
                boundaries = choice == "LIME boundaries"
                rgba, smooth = self._lime[1 if boundaries else 2], not boundaries
        self._view.set_overlay(rgba, smooth=smooth)
        self.legend_label.setText(legend)

    def _start_gradcam(self) -> None:
        if self._model_input is None:
            return
        worker = FunctionWorker(
            _tagged, self._generation, _gradcam_job, self._classifier, self._model_input
        )
        worker.signals.returned.connect(self._on_gradcam)
        self._jobs.start(worker)

    def _on_gradcam(self, tagged: tuple) -> None:
        generation, rgba, error = tagged
        if generation != self._generation:
            return
        if error:
            self.status_label.setText(f"Grad-CAM unavailable: {error}")
        self._gradcam = rgba
        self._update_overlay()

    # ------------------------------------------------------------------ LIME

    def start_lime(self) -> None:
        if self._lime_worker is not None or self._model_input is None or self._classifier is None:
            return
        classifier, model_input, generation = self._classifier, self._model_input, self._generation
        kwargs = dict(
            num_samples=self.samples_spin.value(),
            num_features=self.features_spin.value(),
            batch_size=self.lime_batch_size,
        )
        worker: FunctionWorker

        def run() -> tuple:  # needs the worker's own progress callback and cancel event
            outcome = _lime_job(
                classifier, model_input, progress=worker.report_progress,
                cancel=worker.cancel_event, **kwargs,
            )
            return generation, outcome

        worker = FunctionWorker(run)
        worker.signals.progress.connect(self._on_lime_progress)
        worker.signals.returned.connect(self._on_lime_returned)
        worker.signals.errored.connect(self._on_lime_errored)
        worker.signals.aborted.connect(self._on_lime_aborted)
        worker.signals.finished.connect(self._on_lime_finished)
        self._lime_worker, self._lime_outcome = worker, "done"
        self.lime_progress.setValue(0)
        self.lime_status.setText("Explaining…")
        self._update_enabled()
        self._lime_jobs.start(worker)

    def cancel_lime(self) -> None:
        if self._lime_worker is not None and not self._lime_worker.abort_requested:
            self._lime_worker.abort()
            self.lime_status.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def _on_lime_progress(self, done: int, total: int) -> None:
        self.lime_progress.setValue(int(100 * done / max(total, 1)))

    def _on_lime_returned(self, tagged: tuple) -> None:
        generation, outcome = tagged
        if generation != self._generation:  # finished for an image no longer shown
            self._on_lime_aborted()
            return
        self._lime = outcome
        result = outcome[0]
        self.lime_status.setText(
            f"Done: {len(result.top_segments)} regions; P(pneumonia) = {result.probability:.3f}; "
            f"local fit R² = {result.score:.2f} (low = explanation less trustworthy)."
        )
        if not self.overlay_combo.currentText().startswith("LIME"):
            self.overlay_combo.setCurrentText("LIME boundaries")  # show what was asked for
        self._update_overlay()

    def _on_lime_errored(self, error: Exception) -> None:
        if isinstance(error, ExplanationCancelled):  # the normal end of Cancel: no error
            self._on_lime_aborted()
            return
        self._lime_outcome = "failed"
        self.lime_status.setText(f"LIME failed: {error or type(error).__name__}")

    def _on_lime_aborted(self) -> None:
        self._lime_outcome = "cancelled"
        self.lime_status.setText("LIME cancelled.")

    def _on_lime_finished(self) -> None:
        self._lime_worker = None
        self.lime_progress.setValue(100 if self._lime_outcome == "done" else 0)
        self._update_enabled()
        self.limeFinished.emit(self._lime_outcome)

    def _update_enabled(self) -> None:
        ready = self._classifier is not None and self._model_input is not None
        running = self._lime_worker is not None
        self.explain_button.setEnabled(ready and not running)
        self.cancel_button.setEnabled(running and not self._lime_worker.abort_requested)
        self.feature_check.setEnabled(self._classifier is not None and self.layer_combo.count() > 0)

    # ------------------------------------------------------------------ what the model sees

    def _show_model_input(self, shown: bool) -> None:
        self.model_input_view.setVisible(shown)
        if shown and self._model_input is not None:
            pixels = np.clip(np.rint(self._model_input[..., 0]), 0, 255).astype(np.uint8)
            self.model_input_view.set_image(pixels)
        else:
            self.model_input_view.clear()

    # ------------------------------------------------------------------ feature maps

    def _show_feature_box(self, shown: bool) -> None:
        self.feature_box.setVisible(shown)
        if shown and self._maps is None:
            self._start_feature_maps()

    def _layer_changed(self) -> None:
        self._maps = None  # maps of the previous layer must not be shown under this name
        self._start_feature_maps()

    def _start_feature_maps(self) -> None:
        layer = self.layer_combo.currentText()
        if not (self.feature_check.isChecked() and layer and self._model_input is not None):
            return
        self._maps_request += 1
        token = (self._generation, self._maps_request)
        worker = FunctionWorker(
            _tagged, token, explain.feature_maps, self._classifier, self._model_input, layer
        )
        worker.signals.returned.connect(self._on_feature_maps)
        self.feature_status.setText(f"Computing {layer}…")
        self._jobs.start(worker)

    def _on_feature_maps(self, tagged: tuple) -> None:
        token, maps, error = tagged
        if token != (self._generation, self._maps_request):
            return
        if error:
            self.feature_status.setText(f"Feature maps unavailable: {error}")
            return
        self._maps = maps
        self.channel_spin.blockSignals(True)
        self.channel_spin.setMaximum(maps.shape[-1] - 1)
        self.channel_spin.blockSignals(False)
        self._draw_feature_maps()
        self.featureMapsReady.emit()

    def _draw_feature_maps(self) -> None:
        if self._maps is None:
            return
        height, width, count = self._maps.shape
        channel = self.channel_spin.value()
        self.feature_view.set_image(feature_grid(self._maps, channel))
        shown = f"channel {channel}" if channel >= 0 else f"{min(count, MAX_TILES)} channels"
        self.feature_status.setText(
            f"{self.layer_combo.currentText()}: {width}×{height}×{count}, showing {shown}"
        )
