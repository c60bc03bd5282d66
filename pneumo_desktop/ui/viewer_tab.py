"""The viewer: one film, its verdict, the review bar, the reading tools, and the explanation
panel beside it.

Opening a film takes two steps. A worker decodes it (a full-resolution decode can take half a
second) and the film is shown; then, once the model is there, the film is classified on the
inference thread, ahead of any scan batch, and the verdict and the explanation panel follow.
Each decode carries the number of the request that produced it, so a slow file overtaken by
the next one (PageDown held) is never shown, and the classification of a film left behind is
cancelled. A file that cannot be read shows the core's message on the banner and leaves the
tab usable; every per-film part (corners, marks, overlay, LIME, feature maps, model input, the
earlier film, the review) is cleared or recomputed with each film, and a film without a
verdict gets no explanation and no case PDF.

Stepping (PageUp/PageDown, and the review bar's "and next") follows the worklist's order when
the film was opened from the worklist, and the folder's otherwise (:mod:`.reading_order`).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from pneumo_desktop.core.annotations import pixel_spacing
from pneumo_desktop.core.imaging import LoadedImage
from pneumo_desktop.core.inference import FilmClassification, Priority, classify_film
from pneumo_desktop.core.intended_use import intended_use_notice
from pneumo_desktop.core.priors import StudyOf
from pneumo_desktop.ui import shortcuts
from pneumo_desktop.ui.case_pdf import CasePdf
from pneumo_desktop.ui.explain_panel import ExplainPanel
from pneumo_desktop.ui.film_corners import FilmCorners
from pneumo_desktop.ui.film_decode import Decoded, decode_job
from pneumo_desktop.ui.film_marks import FilmMarks, Tool
from pneumo_desktop.ui.image_view import ImageView
from pneumo_desktop.ui.inference_service import InferenceService, Request
from pneumo_desktop.ui.magnifier import Magnifier
from pneumo_desktop.ui.preferences import Preferences
from pneumo_desktop.ui.prior_pane import PriorPane
from pneumo_desktop.ui.reading_order import FolderOrder, Worklist, WorklistOrder, folder_images
from pneumo_desktop.ui.reading_tools import connect_reading_tools
from pneumo_desktop.ui.review_bar import ReviewBar
from pneumo_desktop.ui.verdict_banner import VerdictBanner
from pneumo_desktop.ui.viewer_toolbar import ViewerToolbar
from pneumo_desktop.ui.window_level_controls import WindowLevelControls
from pneumo_desktop.ui.workers import FunctionWorker, JobTracker

__all__ = ["ViewerTab", "folder_images"]

START_TEXT = ("No film open.\n\nOpen a film: File → Open (Ctrl+O), or drag a file here.\n"
              "Scan a folder overnight: File → Scan folder (Ctrl+Shift+O), then read the "
              "worklist (Ctrl+2).\n\nHelp → Keyboard shortcuts (F1) lists every key.")


class ViewerTab(QWidget):
    """Shows one film with its verdict and review; hosts the :class:`ExplainPanel`."""

    imageLoaded = Signal(str)  # noqa: N815 - Qt naming; the path, once the film is shown
    classified = Signal(str)  # noqa: N815 - the path, once its verdict (or failure) is shown
    caseReportWritten = Signal(str)  # noqa: N815 - the case PDF's path, once written
    escapePressed = Signal()  # noqa: N815 - Esc with no tool to end (leaves full screen)

    def __init__(self, inference: InferenceService, preferences: Preferences | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._inference, self._preferences = inference, preferences
        self._path: str | None = None  # the file asked for last (shown or failed)
        self._image: LoadedImage | None = None
        self._classification: FilmClassification | None = None
        self._classify_request: Request | None = None
        self._request = 0
        self._jobs = JobTracker()
        self._worklist: Worklist | None = None
        self._order: FolderOrder | WorklistOrder = FolderOrder()

        self.image_view = ImageView()
        self.image_view.set_placeholder(START_TEXT)
        self.explain_panel = ExplainPanel(inference, self.image_view)
        self.corners = FilmCorners(self.image_view)
        self.magnifier = Magnifier(self.image_view)
        self.marks = FilmMarks(self.image_view)
        self.prior = PriorPane(self.image_view)
        self.case_pdf = CasePdf(inference, self._jobs, self)
        self.case_pdf.written.connect(self.caseReportWritten)
        self._build()
        self.banner.hide()  # until there is a film: the view says how to open one
        inference.classifierReady.connect(self._on_classifier_ready)

    def _build(self) -> None:
        self.banner = VerdictBanner()
        self.toolbar = ViewerToolbar()
        self.window_level = WindowLevelControls(self.image_view)
        self.review_bar = ReviewBar()
        self.status_label = QLabel()
        self.status_label.setObjectName("viewer_status")
        toolbar, view, marks = self.toolbar, self.image_view, self.marks
        connect_reading_tools(self, toolbar, view, marks, self.magnifier, self.window_level)
        for button, slot in ((toolbar.previous_button, self.show_previous),
                             (toolbar.next_button, self.show_next),
                             (toolbar.case_pdf_button, self._choose_case_pdf)):
            button.clicked.connect(slot)
        marks.changed.connect(lambda: self.review_bar.save_marks(marks.marks()))
        toolbar.compare_button.toggled.connect(self.set_prior_visible)
        self.prior.found.connect(self._on_prior_found)
        self.review_bar.find_next = lambda path: self._order.neighbour(path, +1)
        self.review_bar.nextRequested.connect(self._go_to)
        self.review_bar.message.connect(self.status_label.setText)
        self.case_pdf.message.connect(self.status_label.setText)
        self.review_bar.panel.note_edit.returnPressed.connect(view.setFocus)

        films = QSplitter(Qt.Orientation.Horizontal)
        films.addWidget(self.prior)
        films.addWidget(view)
        films.setChildrenCollapsible(False)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        for widget in (self.banner, toolbar, self.window_level):
            column.addWidget(widget)
        column.addWidget(films, 1)
        column.addWidget(self.review_bar)
        column.addWidget(self.status_label)
        self.side_panel = QScrollArea(widgetResizable=True)
        self.side_panel.setWidget(self.explain_panel)
        # Wide enough for the panel's rows: no sideways scrolling.
        self.side_panel.setMinimumWidth(self.explain_panel.minimumSizeHint().width() + 24)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.side_panel)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(splitter)
        self._update_actions()
        for name, slot in (
                ("previous", self.show_previous), ("next", self.show_next),
                ("agree_next", self.review_bar.agree_and_next),
                ("disagree_next", self.review_bar.disagree_and_next),
                ("note", self.review_bar.focus_note),
                ("compare_prior", self.toolbar.compare_button.click), ("pan", self.escape)):
            shortcuts.bind(self, name, slot)

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

    @property
    def reading_order(self) -> str:
        """"worklist" or "folder": what PageDown and "and next" step through."""
        return self._order.name

    def set_worklist(self, worklist: Worklist | None) -> None:
        """The worklist whose scan holds the reviews (the main window's Batch tab)."""
        self._worklist = worklist
        if worklist is not None:  # the review bar shows the scan the worklist shows
            worklist.on_changed(self.review_bar.sync)

    def open_path(self, path: str | os.PathLike[str], *, from_worklist: bool = False) -> None:
        """Load and show ``path`` in the background, then classify it. ``from_worklist``:
        stepping then follows the worklist's order instead of the folder's."""
        if from_worklist and self._worklist is not None:
            self._order = WorklistOrder(self._worklist)
        elif not from_worklist:
            self._order = FolderOrder()
        self._open(os.fspath(path))

    def show_next(self) -> None:
        self._step(+1)

    def show_previous(self) -> None:
        self._step(-1)

    def escape(self) -> None:
        """Esc: end a mark tool, else the magnifier, else ask to leave full screen."""
        if self.marks.tool is not Tool.PAN:
            self.marks.set_tool(Tool.PAN)
        elif self.magnifier.active:
            self.magnifier.set_active(False)
        else:
            self.escapePressed.emit()

    def set_panels_visible(self, visible: bool) -> None:
        """The explanation panel beside the film (hidden in full screen); film, verdict,
        tools and review stay."""
        self.side_panel.setVisible(visible)

    def set_prior_visible(self, visible: bool) -> None:
        """Show the patient's earlier film beside this one (when one was found)."""
        visible = visible and self.prior.prior is not None
        self.prior.setVisible(visible)
        if visible:
            self.prior.show_prior()
        self.toolbar.compare_button.setChecked(visible)

    def export_case_pdf(self, path: str | os.PathLike[str]) -> bool:
        """Write the shown film's one-page PDF (film, Grad-CAM, verdict, the review and its
        note as the impression, when the worklist's scan holds the film) in the background;
        ``caseReportWritten`` follows, or the error is shown. False if nothing to report."""
        if not self._can_report():
            self.status_label.setText("Open a film the model classified (let it load) first.")
            return False
        # The shown image's own path: self._path may already name the next file, loading.
        self.case_pdf.write(path, self._image, self._image.path or self._path,
                            self._classification, self.review_bar.result)
        return True

    def shutdown(self) -> None:
        """Cancel the classification, stop the explanations and wait for the tab's workers;
        the tab may then be destroyed."""
        self._set_classification(None)
        self.explain_panel.shutdown()
        self.prior.shutdown()
        self._jobs.shutdown()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Coming to the viewer (Enter on the worklist, Ctrl+1) puts the keyboard on the film,
        so A, D and N work at once; else Qt gives it to the first spin box, which eats them."""
        super().showEvent(event)
        if not event.spontaneous():  # not a window restored: a note being typed keeps it
            self.image_view.setFocus(Qt.FocusReason.OtherFocusReason)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ loading

    def _open(self, path: str) -> None:
        self._path = path
        self._request += 1
        self._jobs.drop_queued()  # images skipped past need not be decoded at all
        self._set_classification(None)
        self.review_bar.set_opening(path)  # A/D wait for it: the bar still shows the last film
        self.status_label.setText(f"Loading {os.path.basename(path)}…")
        worker = FunctionWorker(decode_job, self._request, path)
        worker.signals.returned.connect(self._on_decoded)
        self._jobs.start(worker)
        self._update_actions()

    def _on_decoded(self, result: Decoded) -> None:
        if result.request != self._request:
            return  # overtaken by a later request
        typing = self.review_bar.panel.note_edit.hasFocus()  # before set_film disables it
        self.banner.show()
        self.review_bar.set_film(result.path, self._worklist)
        position = (self._order.position(result.path)
                    if isinstance(self._order, WorklistOrder) else None)
        where = f"Worklist: film {position[0]} of {position[1]}" if position else ""
        self.status_label.setText(where)
        if result.error is not None:
            self._image = None
            self.image_view.clear()
            self.image_view.set_placeholder(result.error)
            self.banner.show_error(result.error)
            self._film_parts(None, None)
            self.explain_panel.set_not_classified("No explanation: the file could not be read.")
            self._keys_to_film(typing)
            return
        keep = self._image is not None and (self._preferences is None
                                            or self._preferences.keep_window_level)
        self._image = result.image
        self.image_view.set_image(result.image.pixels, keep_window=keep)
        self._film_parts(result.image, result.size)
        self._classify()
        self._keys_to_film(typing)
        self.imageLoaded.emit(result.path)

    def _keys_to_film(self, typing: bool) -> None:
        """So that the film's keys work straight away; from the note field too (``typing``:
        its note went with its own film, and A must not type into the next film's note)."""
        focus = self.focusWidget()
        if typing or focus is None or not focus.isVisible():
            self.image_view.setFocus()

    def _film_parts(self, image: LoadedImage | None, size: int | None) -> None:
        """Everything shown about the film itself: corners, marks, the earlier film."""
        self.corners.show_film(image, size)
        self.marks.set_tool(Tool.PAN)
        context = image.dicom if image is not None else None
        if image is not None:
            spacing = pixel_spacing(context, image.pixels.shape, image.original_size)
            self.marks.set_spacing(spacing, context.pixel_spacing_source if spacing else "")
            self.marks.set_marks(self.review_bar.stored_marks())
        else:
            self.marks.clear()
        study = StudyOf.of(self._path, context) if image is not None else None
        self.prior.look_for(study, self._candidates())

    def _candidates(self):
        """Where an earlier film may be: the scan's films when reading the worklist, else the
        folder's. A worker calls what this returns: the folder is listed and the scan's
        films read from the store off the GUI thread."""
        if isinstance(self._order, WorklistOrder):
            return self._order.worklist.scan_paths(self._order.worklist.scan_id)
        folder = Path(self._path).parent
        return lambda: [os.fspath(p) for p in folder_images(folder)]

    def _on_prior_found(self, study) -> None:
        self.toolbar.compare_button.setEnabled(study is not None)
        when = study.study_date.isoformat() if study is not None and study.study_date else ""
        self.toolbar.compare_button.setText(f"Earlier film {when}".strip())
        if study is None and self.prior.isVisible():
            self.prior.hide()
            self.toolbar.compare_button.setChecked(False)

    def _on_classifier_ready(self, _classifier) -> None:
        self._update_actions()
        if self._image is not None and self._classification is None:
            self._classify()  # the film shown while the model was loading

    def _classify(self) -> None:
        """Classify the shown film on the inference thread, ahead of scan batches; nothing
        (verdict, explanation) is shown for it until its classification arrives."""
        self._set_classification(None)
        if not self._inference.is_ready:
            self.banner.show_pending("model loading…")
            return
        self.banner.show_pending("classifying…")
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
        self._update_actions()

    def _on_classified(self, classification: FilmClassification) -> None:
        self._classify_request = None
        self._set_classification(classification)
        prediction = classification.prediction
        if prediction.is_xray:
            notice = intended_use_notice(self._image.dicom if self._image else None)
            self.banner.show_prediction(prediction, notice)
        else:
            self.banner.show_not_xray(prediction, self._inference.classifier.ood_threshold)
        self.classified.emit(self._image.path or self._path)

    def _on_classification_failed(self, path: str, error: BaseException) -> None:
        self._classify_request = None
        self.banner.show_error(f"Classification failed: {error}")
        self.explain_panel.set_not_classified("No explanation: the classification failed.")
        self.classified.emit(path)

    # ------------------------------------------------------------------ helpers

    def _step(self, direction: int) -> None:
        if self._path is not None:
            self._go_to(self._order.neighbour(self._path, direction), direction)

    def _go_to(self, target: str | None, direction: int = +1) -> None:
        if target is None:
            end = "Last" if direction > 0 else "First"
            self.status_label.setText(f"{end} film of the {self._order.name}.")
            return
        if isinstance(self._order, WorklistOrder):
            self._order.worklist.select(target)
        self._open(target)

    def _can_report(self) -> bool:
        classification = self._classification
        return (self._image is not None and classification is not None
                and classification.prediction.is_xray)

    def _update_actions(self) -> None:
        has_path = self._path is not None
        self.toolbar.previous_button.setEnabled(has_path)
        self.toolbar.next_button.setEnabled(has_path)
        self.toolbar.case_pdf_button.setEnabled(self._can_report())

    def _choose_case_pdf(self) -> None:
        path = self.case_pdf.choose(self, Path(self._path or "case").stem)
        if path:
            self.export_case_pdf(path)
