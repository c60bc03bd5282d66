"""The viewer: one film, the classifier's verdict, and the explanation panel beside it.

Opening a film takes two steps. A worker decodes it (a full-resolution decode can take half a
second) and the film is shown; then, once the model is there, the film is classified on the
inference thread, ahead of any scan batch, and the verdict and the explanation panel follow.
Each decode carries the number of the request that produced it, so a slow file overtaken by
the next one (PageDown held) is never shown, and the classification of a film left behind is
cancelled. A file that cannot be read shows the core's message in the verdict area and leaves
the tab usable.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.imaging import ImageLoadError, LoadedImage, is_image_file, load_image
from pneumo_desktop.core.inference import FilmClassification, Priority, classify_film
from pneumo_desktop.core.results import Prediction, Status, Verdict
from pneumo_desktop.ui.controls import push_button
from pneumo_desktop.ui.explain_panel import ExplainPanel
from pneumo_desktop.ui.image_view import ImageView
from pneumo_desktop.ui.inference_service import InferenceService, Request
from pneumo_desktop.ui.window_level_controls import WindowLevelControls
from pneumo_desktop.ui.workers import FunctionWorker, JobTracker

# Readable on both light and dark themes: white bold text on saturated backgrounds.
_PENDING = "pending"  # the verdict area's look while there is no verdict yet
_STYLES = {
    Verdict.PNEUMONIA: "color: white; background: #b3261e;",
    Verdict.NORMAL: "color: white; background: #1e7d32;",
    _PENDING: "color: #202020; background: #d0d0d0;",
    Status.ERROR: "color: #3d2a00; background: #ffd978;",
    Status.NOT_XRAY: "color: #3d2a00; background: #ffd978;",
}
_BIG = "font-size: 22pt; font-weight: bold; padding: 6px; border-radius: 4px;"
_SMALL = "font-size: 11pt; font-weight: bold; padding: 6px; border-radius: 4px;"
_PREVIOUS_KEYS = ("PgUp", "Alt+Left")
_NEXT_KEYS = ("PgDown", "Alt+Right")


@dataclass(frozen=True)
class _Decoded:
    """What a decode job hands back to the GUI thread."""

    request: int
    path: str
    image: LoadedImage | None = None
    error: str | None = None  # the file could not be read


def _decode_job(request: int, path: str) -> _Decoded:
    """Runs in a worker: decode the film at full resolution."""
    try:
        return _Decoded(request, path, load_image(path))
    except ImageLoadError as error:
        return _Decoded(request, path, error=str(error))
    except Exception as error:  # never a traceback: one line the user can pass on
        name = os.path.basename(path)
        return _Decoded(request, path, error=f'Cannot open "{name}": {error!r}.')


def folder_images(folder: Path) -> list[Path]:
    """Supported images of ``folder``, sorted case-insensitively by name."""
    try:
        entries = [p for p in folder.iterdir() if is_image_file(p) and p.is_file()]
    except OSError:
        return []
    return sorted(entries, key=lambda p: (p.name.casefold(), p.name))


class ViewerTab(QWidget):
    """Shows one image with the verdict; hosts the :class:`ExplainPanel` on the right."""

    imageLoaded = Signal(str)  # noqa: N815 - Qt naming; the path, once the film is shown
    classified = Signal(str)  # noqa: N815 - the path, once its verdict (or failure) is shown
    caseReportWritten = Signal(str)  # noqa: N815 - the case PDF's path, once written

    def __init__(self, inference: InferenceService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._inference = inference
        self._path: str | None = None  # the file asked for last (shown or failed)
        self._image: LoadedImage | None = None
        self._classification: FilmClassification | None = None
        self._classify_request: Request | None = None
        self._request = 0
        self._jobs = JobTracker()

        self.image_view = ImageView()
        self.explain_panel = ExplainPanel(inference, self.image_view)
        self._build()
        self._show_verdict("No image", _PENDING)
        inference.classifierReady.connect(self._on_classifier_ready)

    def _build(self) -> None:
        self.verdict_label = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.verdict_label.setToolTip("Decision support only: the radiologist makes the call.")
        self.probability_label = QLabel()
        self.model_label = QLabel()
        self.patient_label = QLabel(wordWrap=True)
        self.file_label = QLabel(wordWrap=True)
        self.status_label = QLabel()
        for label in (self.patient_label, self.file_label, self.probability_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        def button(text: str, tip: str, slot) -> QPushButton:
            return push_button(text, slot, tip=tip, keeps_focus_away=True)  # keys: the film's

        self.previous_button = button(
            "◀ Previous", "Previous image in this folder (PageUp or Alt+Left)", self.show_previous
        )
        self.next_button = button(
            "Next ▶", "Next image in this folder (PageDown or Alt+Right)", self.show_next
        )
        fit = button("Fit", "Fit the whole film in the window (F)", self.image_view.fit_to_window)
        actual = button("1:1", "One film pixel per screen pixel (1)", self.image_view.actual_size)
        self.window_level = WindowLevelControls(self.image_view)
        self.case_pdf_button = button(
            "Case PDF…", "This film, its Grad-CAM and the verdict on one PDF page",
            self._choose_case_pdf,
        )

        tools = QHBoxLayout()
        for widget in (self.previous_button, self.next_button, fit, actual):
            tools.addWidget(widget)
        tools.addWidget(self.window_level, 2)
        tools.addWidget(self.case_pdf_button)

        left = QWidget()
        column = QVBoxLayout(left)
        for widget in (self.verdict_label, self.probability_label, self.model_label,
                       self.patient_label, self.file_label):
            column.addWidget(widget)
        column.addLayout(tools)
        column.addWidget(self.image_view, 1)
        column.addWidget(self.status_label)

        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.explain_panel)
        scroll.setMinimumWidth(300)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)

        for keys, slot in ((_PREVIOUS_KEYS, self.show_previous), (_NEXT_KEYS, self.show_next)):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(slot)
        self._update_navigation()
        self._update_case_pdf()

    # ------------------------------------------------------------------ public API

    @property
    def current_path(self) -> str | None:
        return self._path

    @property
    def current_image(self) -> LoadedImage | None:
        return self._image

    @property
    def classification(self) -> FilmClassification | None:
        """The shown film's classification (None before it arrives, or without a model)."""
        return self._classification

    def open_path(self, path: str | os.PathLike[str]) -> None:
        """Load and show ``path`` in the background, then classify it."""
        self._path = os.fspath(path)
        self._request += 1
        self._jobs.drop_queued()  # images skipped past need not be decoded at all
        self._set_classification(None)
        self.status_label.setText(f"Loading {os.path.basename(self._path)}…")
        worker = FunctionWorker(_decode_job, self._request, self._path)
        worker.signals.returned.connect(self._on_decoded)
        self._jobs.start(worker)
        self._update_navigation()

    def show_next(self) -> None:
        self._step(+1)

    def show_previous(self) -> None:
        self._step(-1)

    def export_case_pdf(self, path: str | os.PathLike[str]) -> bool:
        """Write the shown film's one-page PDF (film, Grad-CAM, verdict) in the background;
        ``caseReportWritten`` follows, or the error is shown. False if nothing to report."""
        if self._image is None or self._classification is None:
            self.status_label.setText("Open an image (and let the model load) first.")
            return False
        # The shown image's own path: self._path may already name the next file, loading.
        film = self._image.path or self._path
        # Imported here: matplotlib's PDF backend costs a second of start-up.
        from pneumo_desktop.core.pdf_report import write_case_report

        worker = FunctionWorker(write_case_report, os.fspath(path), film,
                                self._inference.client(Priority.EXPLAIN), loaded=self._image,
                                model_input=self._classification.model_input)
        worker.signals.returned.connect(self._on_case_pdf_written)
        worker.signals.errored.connect(self._on_case_pdf_failed)
        self.status_label.setText("Writing the case PDF…")
        self._jobs.start(worker)
        return True

    def shutdown(self) -> None:
        """Cancel the classification, stop the explanations and wait for the tab's workers;
        the tab may then be destroyed."""
        self._set_classification(None)
        self.explain_panel.shutdown()
        self._jobs.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)

    def _choose_case_pdf(self) -> None:
        stem = Path(self._path or "case").stem
        name, _ = QFileDialog.getSaveFileName(
            self, "Case PDF", str(Path.home() / f"{stem}_case.pdf"), "PDF files (*.pdf)"
        )
        if name:
            self.export_case_pdf(name if name.lower().endswith(".pdf") else name + ".pdf")

    def _on_case_pdf_written(self, path) -> None:
        self.status_label.setText(f"Case PDF written to {path}.")
        self.caseReportWritten.emit(str(path))

    def _on_case_pdf_failed(self, error: BaseException) -> None:
        self.status_label.setText(f"The case PDF could not be written: {error}")

    def _update_case_pdf(self) -> None:
        self.case_pdf_button.setEnabled(self._classification is not None)

    # ------------------------------------------------------------------ loading

    def _on_decoded(self, result: _Decoded) -> None:
        if result.request != self._request:
            return  # overtaken by a later request
        self.status_label.clear()
        if result.error is not None:
            self._image = None
            self.image_view.clear()
            self._show_verdict(result.error, Status.ERROR)
            for label in (self.probability_label, self.patient_label):
                label.clear()
            self.file_label.setText(os.path.basename(result.path))
            return
        self._image = result.image
        self.image_view.set_image(result.image.pixels)
        self._show_details(result.image)
        self._classify()
        if self.focusWidget() is None:  # so that +/-/F/1 work straight away
            self.image_view.setFocus()
        self.imageLoaded.emit(result.path)

    def _on_classifier_ready(self, _classifier) -> None:
        self._update_case_pdf()
        if self._image is not None and self._classification is None:
            self._classify()  # the film shown while the model was loading

    def _classify(self) -> None:
        """Classify the shown film on the inference thread, ahead of scan batches; nothing
        (verdict, explanation) is shown for it until its classification arrives."""
        self._set_classification(None)
        if not self._inference.is_ready:
            self._show_verdict("model loading…", _PENDING)
            self.probability_label.clear()
            self.model_label.clear()
            return
        image, path = self._image, self._image.path or self._path
        request = self._inference.submit(classify_film, image, priority=Priority.INTERACTIVE)
        request.returned.connect(self._on_classified)
        request.errored.connect(lambda error: self._on_classification_failed(path, error))
        self._classify_request = request

    def _set_classification(self, classification: FilmClassification | None) -> None:
        if self._classify_request is not None:
            self._classify_request.cancel()  # a film left behind needs no verdict
            self._classify_request = None
        self._classification = classification
        self.explain_panel.set_classification(classification)
        self._update_case_pdf()

    def _on_classified(self, classification: FilmClassification) -> None:
        self._classify_request = None
        self._set_classification(classification)
        self._show_prediction(classification.prediction)
        self.classified.emit(self._image.path or self._path)

    def _on_classification_failed(self, path: str, error: BaseException) -> None:
        self._classify_request = None
        self._show_verdict(f"Classification failed: {error}", Status.ERROR)
        self.probability_label.clear()
        self.classified.emit(path)

    # ------------------------------------------------------------------ verdict and details

    def _show_verdict(self, text: str, style: str) -> None:
        self.verdict_label.setText(text)
        size = _BIG if style != Status.ERROR else _SMALL
        self.verdict_label.setStyleSheet(size + _STYLES[style])

    def _show_prediction(self, prediction: Prediction) -> None:
        classifier = self._inference.classifier
        card = classifier.card
        self.model_label.setText(f"Model {card.name} {card.version} on {classifier.device}")
        if not prediction.is_xray:
            # No verdict: the model was not made for this picture (see core.heads.Heads).
            self._show_verdict("Not a chest X-ray — not classified", Status.NOT_XRAY)
            self.probability_label.setText(
                f"Feature distance {prediction.ood_distance:.0f} from the training films "
                f"(limit {classifier.ood_threshold:.0f})"
            )
            return
        self._show_verdict(prediction.verdict, prediction.verdict)
        text = prediction.probability_text  # at the threshold that made this verdict
        if prediction.subtype is not None:
            text += (
                f"\nLikely {prediction.subtype} (P(viral) = {prediction.subtype_probability:.2f});"
                " secondary estimate"
            )
        self.probability_label.setText(text)

    def _show_details(self, image: LoadedImage) -> None:
        tags = image.metadata
        patient = [tags.get("PatientName", "").replace("^", " ").strip()]
        if "PatientID" in tags:
            patient.append(f"ID {tags['PatientID']}")
        patient += [tags[key] for key in ("PatientSex", "PatientAge") if key in tags]
        study = [tags[key] for key in ("StudyDescription", "Modality") if key in tags]
        date = tags.get("StudyDate", "")
        if len(date) == 8 and date.isdigit():  # DICOM DA is YYYYMMDD
            date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
        lines = []
        if any(patient):
            lines.append("Patient: " + " · ".join(part for part in patient if part))
        if study or date:
            lines.append("Study: " + " · ".join(part for part in [date, *study] if part))
        self.patient_label.setText("\n".join(lines))
        self.patient_label.setVisible(bool(lines))
        width, height = image.original_size
        name = os.path.basename(image.path or self._path or "")
        self.file_label.setText(f"{name} — {width} × {height} px, {image.format}")

    # ------------------------------------------------------------------ navigation

    def _step(self, direction: int) -> None:
        if self._path is None:
            return
        current = Path(self._path)
        files = folder_images(current.parent)
        keys = [(p.name.casefold(), p.name) for p in files]
        key = (current.name.casefold(), current.name)
        # Works even if the current file was deleted or is unreadable: find its sort position.
        index = bisect.bisect_left(keys, key)
        exact = index < len(keys) and keys[index] == key
        target = index + 1 if (direction > 0 and exact) else index + min(direction, 0)
        if 0 <= target < len(files):
            self.open_path(files[target])
        else:
            self.status_label.setText(
                "Last image in this folder." if direction > 0 else "First image in this folder."
            )

    def _update_navigation(self) -> None:
        has_path = self._path is not None
        self.previous_button.setEnabled(has_path)
        self.next_button.setEnabled(has_path)
