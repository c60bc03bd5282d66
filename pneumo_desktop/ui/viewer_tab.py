"""The viewer: one film, the classifier's verdict, and the explanation panel beside it.

Loading (a full-resolution decode can take half a second) and classifying run in a worker; the
result carries the number of the request that produced it, so a slow file overtaken by the next
one (PageDown held) is never shown. A file that cannot be read shows the core's message in the
verdict area and leaves the tab usable.
"""

from __future__ import annotations

import bisect
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.imaging import (
    ImageLoadError,
    LoadedImage,
    is_image_file,
    load_image,
    to_model_input,
)
from pneumo_desktop.core.results import Prediction, Status, Verdict
from pneumo_desktop.ui.explain_panel import ExplainPanel
from pneumo_desktop.ui.image_view import DEFAULT_LEVEL, DEFAULT_WIDTH, ImageView
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
class _ViewResult:
    """What a load/classify job hands back to the GUI thread."""

    request: int
    path: str
    image: LoadedImage | None = None
    model_input: np.ndarray | None = None
    prediction: Prediction | None = None
    classifier: object | None = None  # the classifier that made ``prediction``
    error: str | None = None  # the file could not be read
    classify_error: str | None = None  # the file was read but the model failed


def _load_job(request: int, path: str, image: LoadedImage | None, classifier) -> _ViewResult:
    """Runs in a worker: decode (unless ``image`` is given), resize for the model, classify."""
    try:
        image = load_image(path) if image is None else image
    except ImageLoadError as error:
        return _ViewResult(request, path, error=str(error))
    except Exception as error:  # never a traceback: one line the user can pass on
        name = os.path.basename(path)
        return _ViewResult(request, path, error=f'Cannot open "{name}": {error!r}.')
    # Without the model yet, show the plain resized film as "what the model sees".
    model_input = classifier.prepare(image) if classifier else to_model_input(image)
    if classifier is None:
        return _ViewResult(request, path, image, model_input)
    try:
        prediction = classifier.classify(model_input)
    except Exception as error:
        return _ViewResult(request, path, image, model_input, None, classifier, None, str(error))
    return _ViewResult(request, path, image, model_input, prediction, classifier)


def folder_images(folder: Path) -> list[Path]:
    """Supported images of ``folder``, sorted case-insensitively by name."""
    try:
        entries = [p for p in folder.iterdir() if is_image_file(p) and p.is_file()]
    except OSError:
        return []
    return sorted(entries, key=lambda p: (p.name.casefold(), p.name))


class ViewerTab(QWidget):
    """Shows one image with the verdict; hosts the :class:`ExplainPanel` on the right."""

    imageLoaded = Signal(str)  # noqa: N815 - Qt naming; the path, once shown
    caseReportWritten = Signal(str)  # noqa: N815 - the case PDF's path, once written

    def __init__(self, classifier=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._classifier = classifier
        self._path: str | None = None  # the file asked for last (shown or failed)
        self._image: LoadedImage | None = None
        self._model_input: np.ndarray | None = None
        self._request = 0
        self._loading = False
        self._jobs = JobTracker()

        self.image_view = ImageView()
        self.explain_panel = ExplainPanel(classifier, self.image_view)
        self._build()
        self._show_verdict("No image", _PENDING)

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
            widget = QPushButton(text, toolTip=tip)
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep the keyboard on the film
            widget.clicked.connect(slot)
            return widget

        self.previous_button = button(
            "◀ Previous", "Previous image in this folder (PageUp or Alt+Left)", self.show_previous
        )
        self.next_button = button(
            "Next ▶", "Next image in this folder (PageDown or Alt+Right)", self.show_next
        )
        fit = button("Fit", "Fit the whole film in the window (F)", self.image_view.fit_to_window)
        actual = button("1:1", "One film pixel per screen pixel (1)", self.image_view.actual_size)
        # Brightness moves the window level; contrast narrows the window (log scale: x4 at +100).
        self.brightness_slider = QSlider(Qt.Orientation.Horizontal, minimum=-127, maximum=127)
        self.brightness_slider.setToolTip("Brightness (display only; also right-drag up/down)")
        self.contrast_slider = QSlider(Qt.Orientation.Horizontal, minimum=-100, maximum=100)
        self.contrast_slider.setToolTip("Contrast (display only; also right-drag left/right)")
        reset = button("Reset", "Original brightness and contrast", self.reset_window_level)
        self.case_pdf_button = button(
            "Case PDF…", "This film, its Grad-CAM and the verdict on one PDF page",
            self._choose_case_pdf,
        )

        tools = QHBoxLayout()
        for widget in (self.previous_button, self.next_button, fit, actual):
            tools.addWidget(widget)
        tools.addWidget(QLabel("Brightness"))
        tools.addWidget(self.brightness_slider, 1)
        tools.addWidget(QLabel("Contrast"))
        tools.addWidget(self.contrast_slider, 1)
        tools.addWidget(reset)
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
        self.brightness_slider.valueChanged.connect(self._sliders_moved)
        self.contrast_slider.valueChanged.connect(self._sliders_moved)
        self.image_view.windowLevelChanged.connect(self._window_level_changed)
        self._update_navigation()
        self._update_case_pdf()

    # ------------------------------------------------------------------ public API

    @property
    def current_path(self) -> str | None:
        return self._path

    @property
    def current_image(self) -> LoadedImage | None:
        return self._image

    def set_classifier(self, classifier) -> None:
        """The model arrived: classify the image already shown (unless a load is on its way,
        which will pick the classifier up)."""
        self._classifier = classifier
        self.explain_panel.set_classifier(classifier)
        self._update_case_pdf()
        if self._image is not None and not self._loading:
            self._start(self._path, self._image)

    def open_path(self, path: str | os.PathLike[str]) -> None:
        """Load, show and classify ``path`` in the background."""
        self._path = os.fspath(path)
        self._jobs.drop_queued()  # images skipped past need not be decoded at all
        self.status_label.setText(f"Loading {os.path.basename(self._path)}…")
        self._start(self._path, None)
        self._update_navigation()

    def show_next(self) -> None:
        self._step(+1)

    def show_previous(self) -> None:
        self._step(-1)

    def reset_window_level(self) -> None:
        self.image_view.reset_window_level()

    def export_case_pdf(self, path: str | os.PathLike[str]) -> bool:
        """Write the shown film's one-page PDF (film, Grad-CAM, verdict) in the background;
        ``caseReportWritten`` follows, or the error is shown. False if nothing to report."""
        if self._image is None or self._classifier is None:
            self.status_label.setText("Open an image (and let the model load) first.")
            return False
        # The shown image's own path: self._path may already name the next file, loading.
        film = self._image.path or self._path
        # Imported here: matplotlib's PDF backend costs a second of start-up.
        from pneumo_desktop.core.pdf_report import write_case_report

        worker = FunctionWorker(write_case_report, os.fspath(path), film,
                                self._classifier, loaded=self._image,
                                model_input=self._model_input)
        worker.signals.returned.connect(self._on_case_pdf_written)
        worker.signals.errored.connect(self._on_case_pdf_failed)
        self.status_label.setText("Writing the case PDF…")
        self._jobs.start(worker)
        return True

    def shutdown(self) -> None:
        """Abort and wait for all work; the tab may then be destroyed."""
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
        self.case_pdf_button.setEnabled(self._image is not None and self._classifier is not None)

    # ------------------------------------------------------------------ loading

    def _start(self, path: str, image: LoadedImage | None) -> None:
        self._request += 1
        self._loading = True
        worker = FunctionWorker(_load_job, self._request, path, image, self._classifier)
        worker.signals.returned.connect(self._on_result)
        self._jobs.start(worker)

    def _on_result(self, result: _ViewResult) -> None:
        if result.request != self._request:
            return  # overtaken by a later request
        self._loading = False
        self.status_label.clear()
        if result.error is not None:
            self._image = self._model_input = None
            self._update_case_pdf()
            self.image_view.clear()
            self.explain_panel.set_image(None, None)
            self._show_verdict(result.error, Status.ERROR)
            for label in (self.probability_label, self.patient_label):
                label.clear()
            self.file_label.setText(os.path.basename(result.path))
            return
        is_new = result.image is not self._image
        self._image, self._model_input = result.image, result.model_input
        self._update_case_pdf()
        if is_new:
            self.image_view.set_image(result.image.pixels)
        self._show_prediction(result)
        self._show_details(result.image)
        self.explain_panel.set_image(result.image, result.model_input)
        if self._classifier is not None and result.classifier is not self._classifier:
            self._start(result.path, result.image)  # the model arrived meanwhile
        if is_new:
            if self.focusWidget() is None:  # so that +/-/F/1 work straight away
                self.image_view.setFocus()
            self.imageLoaded.emit(result.path)

    # ------------------------------------------------------------------ verdict and details

    def _show_verdict(self, text: str, style: str) -> None:
        self.verdict_label.setText(text)
        size = _BIG if style != Status.ERROR else _SMALL
        self.verdict_label.setStyleSheet(size + _STYLES[style])

    def _show_prediction(self, result: _ViewResult) -> None:
        classifier, prediction = result.classifier, result.prediction
        if classifier is None:
            self._show_verdict("model loading…", _PENDING)
            self.probability_label.clear()
            self.model_label.clear()
            return
        card = classifier.card
        self.model_label.setText(f"Model {card.name} {card.version} on {classifier.device}")
        if prediction is None:
            self._show_verdict(f"Classification failed: {result.classify_error}", Status.ERROR)
            self.probability_label.clear()
            return
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

    # ------------------------------------------------------------------ window / level

    def _sliders_moved(self) -> None:
        level = DEFAULT_LEVEL - self.brightness_slider.value()
        width = DEFAULT_WIDTH * 4.0 ** (-self.contrast_slider.value() / 100)
        self.image_view.set_window_level(level, width)

    def _window_level_changed(self, level: float, width: float) -> None:
        # Mirror right-drag changes on the sliders without feeding them back to the view.
        for slider, value in (
            (self.brightness_slider, DEFAULT_LEVEL - level),
            (self.contrast_slider, -100 * math.log(width / DEFAULT_WIDTH, 4.0)),
        ):
            slider.blockSignals(True)
            slider.setValue(round(value))
            slider.blockSignals(False)
