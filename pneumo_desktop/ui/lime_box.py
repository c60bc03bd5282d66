"""The LIME controls of the explanation panel: samples, features, Explain, Cancel, progress.

LIME runs as one step-wise job on the inference thread (it stops at its next batch once its
request is cancelled); the box shows its progress and hands the finished explanation, as
:class:`~pneumo_desktop.core.overlays.LimeOverlays`, to the panel.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from pneumo_desktop.core import explain
from pneumo_desktop.core.inference import Priority
from pneumo_desktop.core.overlays import LimeOverlays, lime_overlays
from pneumo_desktop.ui.inference_service import InferenceService, Request
from pneumo_desktop.ui.preferences import LimeSettings


class LimeOutcome(StrEnum):
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


def explain_with_lime(classifier, model_input: np.ndarray, **kwargs) -> LimeOverlays:
    """The inference thread's job: LIME, and its two pictures."""
    return lime_overlays(explain.lime_explanation(classifier, model_input, **kwargs))


class LimeBox(QGroupBox):
    """LIME for the model input given by :meth:`set_input`."""

    explained = Signal(object)  # LimeOverlays of the current input
    finished = Signal(str)  # a LimeOutcome; also for a run the input change cancelled

    def __init__(self, inference: InferenceService, settings: LimeSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("LIME", parent)
        self._inference = inference
        self._input: np.ndarray | None = None
        self._request: Request | None = None  # the current input's run
        self._runs = 0  # runs started; the current one is the last
        self.batch_size = 32  # small batches: finer progress, prompt Cancel

        self.samples_spin = QSpinBox(minimum=100, maximum=5000, singleStep=100, value=1000)
        self.samples_spin.setToolTip("Perturbed images LIME classifies: more = steadier, slower")
        self.features_spin = QSpinBox(minimum=1, maximum=30, value=8)
        self.features_spin.setToolTip("How many superpixels to outline")
        self.explain_button = QPushButton("Explain with LIME")
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.progress_bar = QProgressBar(minimum=0, maximum=100, value=0)
        self.status_label = QLabel(wordWrap=True)
        form = QFormLayout(self)
        form.addRow("Samples", self.samples_spin)
        form.addRow("Features", self.features_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.explain_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        form.addRow(self.progress_bar)
        form.addRow(self.status_label)
        self.explain_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.apply_settings(settings or LimeSettings())
        self._update_enabled()

    @property
    def is_running(self) -> bool:
        """Whether a run for the current input has not ended yet."""
        return self._request is not None

    @property
    def request(self) -> Request | None:
        return self._request

    def settings(self) -> LimeSettings:
        return LimeSettings(self.samples_spin.value(), self.features_spin.value())

    def apply_settings(self, settings: LimeSettings) -> None:
        self.samples_spin.setValue(settings.num_samples)  # QSpinBox clamps to its range
        self.features_spin.setValue(settings.num_features)

    def set_input(self, model_input: np.ndarray | None) -> None:
        """A new film (or none): a run for the previous one is cancelled, its words cleared."""
        if self._request is not None:
            self._request.cancel()  # its outcome still arrives, but no longer shows here
            self._request = None
        self._input = model_input
        self.progress_bar.setValue(0)
        self.status_label.clear()
        self._update_enabled()

    def start(self) -> None:
        if self._request is not None or self._input is None or not self._inference.is_ready:
            return
        settings = self.settings()
        request = self._inference.submit(
            explain_with_lime, self._input, priority=Priority.EXPLAIN, stepwise=True,
            num_samples=settings.num_samples, num_features=settings.num_features,
            batch_size=self.batch_size,
        )
        # The slots know their run by number, not by the request: a request its own slots
        # referred to would never be freed.
        self._runs += 1
        run = self._runs
        request.progressed.connect(self._on_progress)
        request.returned.connect(lambda overlays: self._end(run, LimeOutcome.DONE, overlays))
        request.errored.connect(lambda error: self._end(run, LimeOutcome.FAILED, error))
        request.cancelled.connect(lambda: self._end(run, LimeOutcome.CANCELLED))
        self._request = request
        self.progress_bar.setValue(0)
        self.status_label.setText("Explaining…")
        self._update_enabled()

    def cancel(self) -> None:
        if self._request is not None and not self._request.is_cancelled:
            self._request.cancel()
            self.status_label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def _on_progress(self, done: int, total: int) -> None:
        if self._request is not None:
            self.progress_bar.setValue(int(100 * done / max(total, 1)))

    def _end(self, run: int, outcome: LimeOutcome, value=None) -> None:
        if self._request is not None and run == self._runs:
            self._request = None
            self.progress_bar.setValue(100 if outcome is LimeOutcome.DONE else 0)
            if outcome is LimeOutcome.DONE:
                result = value.result
                self.status_label.setText(
                    f"Done: {len(result.top_segments)} regions; P(pneumonia) = "
                    f"{result.probability:.3f}; local fit R² = {result.score:.2f} "
                    "(low = explanation less trustworthy)."
                )
            elif outcome is LimeOutcome.FAILED:
                self.status_label.setText(f"LIME failed: {value or type(value).__name__}")
            else:
                self.status_label.setText("LIME cancelled.")
            self._update_enabled()
            if outcome is LimeOutcome.DONE:
                self.explained.emit(value)
        self.finished.emit(outcome)

    def _update_enabled(self) -> None:
        ready = self._inference.is_ready and self._input is not None
        running = self._request is not None
        self.explain_button.setEnabled(ready and not running)
        self.cancel_button.setEnabled(running and not self._request.is_cancelled)
