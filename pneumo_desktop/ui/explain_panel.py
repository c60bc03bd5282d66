"""Why the model said what it said: Grad-CAM / LIME overlays, the model's input, feature maps.

The panel explains one classification (:meth:`ExplainPanel.set_classification`): the model
input that classification saw is the only input it explains, so a film shown before the model
was ready is never explained on an input the model would not have seen. It draws on the
:class:`ImageView` it is given (the viewer's), never on the data. The model work runs on the
inference thread (through :class:`InferenceService` requests) and the overlays are computed
there too (:mod:`pneumo_desktop.core.overlays`); when the film changes (:meth:`clear`) every
request for the previous one is cancelled, so nothing of it arrives late.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core import explain
from pneumo_desktop.core.inference import FilmClassification, Priority
from pneumo_desktop.core.overlays import LimeOverlays, evidence_strength, gradcam_rgba
from pneumo_desktop.ui.feature_maps_box import FeatureMapsBox
from pneumo_desktop.ui.image_view import ImageView
from pneumo_desktop.ui.inference_service import InferenceService, Request
from pneumo_desktop.ui.lime_box import LimeBox
from pneumo_desktop.ui.preferences import LimeSettings

OVERLAYS = ("None", "Grad-CAM", "LIME boundaries", "LIME heatmap")
#: One legend for every overlay: they share one colour language (see core.overlays).
LEGEND = ("Warm (yellow → red): evidence for pneumonia. Cool (blue): evidence against. "
          "Clear: neither. Grad-CAM shows only evidence for, scaled by how strongly the film "
          "is called pneumonia (a clear normal stays faint); LIME shows both.")
NOT_CLASSIFIED = "No explanation: this film was not classified."


def gradcam_overlay(classifier, model_input: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """The inference thread's job: Grad-CAM of the model input, as an RGBA overlay scaled by
    the verdict's ``strength`` (:func:`~pneumo_desktop.core.overlays.evidence_strength`)."""
    return gradcam_rgba(explain.gradcam(classifier, model_input), strength)


class ExplainPanel(QWidget):
    """Explanation controls for the classified film shown in ``image_view``."""

    limeFinished = Signal(str)  # noqa: N815 - Qt naming; a LimeOutcome
    featureMapsReady = Signal()  # noqa: N815 - Qt naming

    def __init__(self, inference: InferenceService, image_view: ImageView,
                 settings: LimeSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._inference, self._view = inference, image_view
        self._classification: FilmClassification | None = None
        self._gradcam: np.ndarray | None = None
        self._gradcam_request: Request | None = None
        self._lime: LimeOverlays | None = None
        self.lime = LimeBox(inference, settings)
        self.feature_maps = FeatureMapsBox(inference)
        self._build()
        self.lime.explained.connect(self._on_lime_explained)
        self.lime.finished.connect(self.limeFinished)
        self.feature_maps.ready.connect(self.featureMapsReady)
        inference.classifierReady.connect(self._on_classifier)
        if inference.is_ready:
            self._on_classifier(inference.classifier)
        self.clear()

    def _build(self) -> None:
        self.status_label = QLabel(wordWrap=True)
        self.overlay_combo = QComboBox()
        self.overlay_combo.addItems(OVERLAYS)
        self.overlay_combo.setCurrentText("Grad-CAM")
        self.show_overlay_check = QCheckBox("Show overlay", checked=True)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.legend_label = QLabel(LEGEND, wordWrap=True)
        self.overlay_box = overlay_box = QGroupBox("Overlay")
        form = QFormLayout(overlay_box)
        form.addRow(self.overlay_combo, self.show_overlay_check)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow(self.legend_label)

        self.model_input_check = QCheckBox("What the model sees")
        self.model_input_check.setToolTip(
            "The film squashed to the model's input size (aspect ratio not kept), as the "
            "classifier receives it. The model also standardises intensity internally (zero "
            "mean, unit variance per image), so overall brightness/contrast do not matter to it."
        )
        self.model_input_view = ImageView()
        self.model_input_view.setMinimumHeight(200)
        self.model_input_view.setVisible(False)

        layout = QVBoxLayout(self)
        for widget in (self.status_label, overlay_box, self.lime, self.model_input_check,
                       self.model_input_view, self.feature_maps):
            layout.addWidget(widget)
        layout.addStretch(1)

        self.overlay_combo.currentTextChanged.connect(self._update_overlay)
        self.show_overlay_check.toggled.connect(self._view.set_overlay_visible)
        self.opacity_slider.valueChanged.connect(lambda v: self._view.set_overlay_opacity(v / 100))
        self.model_input_check.toggled.connect(self._show_model_input)
        self._view.set_overlay_opacity(0.5)
        self._view.set_overlay_visible(True)

    # ------------------------------------------------------------------ public API

    @property
    def model_input(self) -> np.ndarray | None:
        """The model input being explained: that of the classification shown, else None."""
        return self._classification.model_input if self._classification else None

    def clear(self) -> None:
        """The film changed (or went): cancel everything asked for the previous one and
        remove its overlay, LIME result and feature maps."""
        if self._gradcam_request is not None:
            self._gradcam_request.cancel()
        self._classification = self._gradcam_request = None
        self._gradcam = self._lime = None
        self.lime.set_input(None)
        self.feature_maps.set_input(None)
        self.status_label.setText("" if self._inference.is_ready else "model loading…")
        self.overlay_combo.setCurrentText("Grad-CAM")  # a new film starts on Grad-CAM
        self._set_explainable(True)
        self._show_model_input(self.model_input_check.isChecked())
        self._update_overlay()

    def set_classification(self, classification: FilmClassification | None) -> None:
        """Explain this classification of the film on the view (None clears). A film the
        model refused (not a chest X-ray) gets no explanation at all."""
        self.clear()
        if classification is None:
            return
        prediction = classification.prediction
        if not prediction.is_xray:
            self.set_not_classified(NOT_CLASSIFIED + " It is not a chest X-ray.")
            return
        self._classification = classification
        strength = evidence_strength(prediction.probability, prediction.threshold)
        request = self._inference.submit(gradcam_overlay, classification.model_input, strength,
                                         priority=Priority.EXPLAIN)
        request.returned.connect(self._on_gradcam)
        request.errored.connect(
            lambda error: self.status_label.setText(f"Grad-CAM unavailable: {error}"))
        self._gradcam_request = request
        self.lime.set_input(classification.model_input)
        self.feature_maps.set_input(classification.model_input)
        self._show_model_input(self.model_input_check.isChecked())

    def set_not_classified(self, reason: str = NOT_CLASSIFIED) -> None:
        """The film on the view has no verdict (unreadable, not an X-ray): nothing of the
        panel applies to it, and it says why."""
        self.clear()
        self._set_explainable(False)
        self.status_label.setText(reason)

    @property
    def is_explainable(self) -> bool:
        return self.overlay_box.isEnabled()

    def _set_explainable(self, explainable: bool) -> None:
        for widget in (self.overlay_box, self.lime, self.model_input_check, self.feature_maps):
            widget.setEnabled(explainable)

    def lime_settings(self) -> LimeSettings:
        return self.lime.settings()

    def apply_lime_settings(self, settings: LimeSettings) -> None:
        self.lime.apply_settings(settings)

    def start_lime(self) -> None:
        self.lime.start()

    def shutdown(self) -> None:
        """Cancel every request of the panel (the window is closing)."""
        self.clear()
        self.feature_maps.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ results

    def _on_classifier(self, classifier) -> None:
        self.feature_maps.set_layers(list(explain.feature_map_layers(classifier)))
        if self._classification is None:
            self.status_label.clear()

    def _on_gradcam(self, rgba: np.ndarray) -> None:
        self._gradcam_request, self._gradcam = None, rgba
        self._update_overlay()

    def _on_lime_explained(self, overlays: LimeOverlays) -> None:
        self._lime = overlays
        if not self.overlay_combo.currentText().startswith("LIME"):
            self.overlay_combo.setCurrentText("LIME boundaries")  # show what was asked for
        self._update_overlay()

    def _update_overlay(self) -> None:
        choice = self.overlay_combo.currentText()
        legend = LEGEND
        rgba, smooth = None, True
        if choice == "Grad-CAM":
            rgba = self._gradcam
        elif choice.startswith("LIME"):
            if self._lime is None:
                legend = "Run “Explain with LIME” first. " + LEGEND
            else:
                boundaries = choice == "LIME boundaries"
                rgba = self._lime.boundaries if boundaries else self._lime.heatmap
                smooth = not boundaries
        self._view.set_overlay(rgba, smooth=smooth)
        self.legend_label.setText(legend)

    def _show_model_input(self, shown: bool) -> None:
        self.model_input_view.setVisible(shown)
        model_input = self.model_input
        if shown and model_input is not None:
            pixels = np.clip(np.rint(model_input[..., 0]), 0, 255).astype(np.uint8)
            self.model_input_view.set_image(pixels)
        else:
            self.model_input_view.clear()
