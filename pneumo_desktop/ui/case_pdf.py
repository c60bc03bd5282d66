"""The viewer's case PDF: the film on screen, its Grad-CAM, the verdict and the review (its note
as the impression) on one page (core/case_report.py), drawn on a worker (its model calls go to
the inference thread through a client)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from pneumo_desktop.core.imaging import LoadedImage
from pneumo_desktop.core.inference import FilmClassification, Priority
from pneumo_desktop.core.results import StoredResult
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.workers import FunctionWorker, JobTracker


class CasePdf(QObject):
    """Writes case PDFs; ``written`` with the path, or ``message`` with what went wrong."""

    written = Signal(str)
    message = Signal(str)

    def __init__(self, inference: InferenceService, jobs: JobTracker,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._inference, self._jobs = inference, jobs
        #: ``details(film)``: the case report's review, reader and anonymise choice for a film
        #: (the main window's :class:`~.case_report_details.CaseReportDetails`); without it the
        #: PDF carries the review given to :meth:`write`.
        self.details: Callable[[str], dict] | None = None

    def choose(self, parent: QWidget, stem: str) -> str | None:
        """Ask where to write it; None when cancelled."""
        name, _ = QFileDialog.getSaveFileName(
            parent, "Case PDF", str(Path.home() / f"{stem}_case.pdf"), "PDF files (*.pdf)")
        if not name:
            return None
        return name if name.lower().endswith(".pdf") else name + ".pdf"

    def write(self, path: str | os.PathLike[str], image: LoadedImage, film: str,
              classification: FilmClassification, review: StoredResult | None = None) -> None:
        """Write in the background; ``review``: the film's stored row (review, note)."""
        extra = self.details(film) if self.details is not None else {"review": review}
        # Imported here: matplotlib's PDF backend costs a second of start-up.
        from pneumo_desktop.core.pdf_report import write_case_report

        worker = FunctionWorker(write_case_report, os.fspath(path), film,
                                self._inference.client(Priority.EXPLAIN), loaded=image,
                                model_input=classification.model_input, **extra)
        worker.signals.returned.connect(self._written)
        worker.signals.errored.connect(
            lambda error: self.message.emit(f"The case PDF could not be written: {error}"))
        self.message.emit("Writing the case PDF…")
        self._jobs.start(worker)

    def _written(self, path) -> None:
        self.message.emit(f"Case PDF written to {path}.")
        self.written.emit(str(path))
