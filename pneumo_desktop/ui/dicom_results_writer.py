"""The per-case "Write DICOM result for this film": the Secondary Capture (film, Grad-CAM and
verdict burned in, marked derived) and the Comprehensive SR of one DICOM film, into the output
folder of Settings and, when a PACS node is set, sent there by C-STORE.

The work runs in a worker (:func:`write_film_results`); its Grad-CAM reaches the model through
the inference owner (``InferenceService.client``), like every model call of the app. The SR
carries the radiologist's mark when the film was reviewed in any scan.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from pneumo_desktop.core.identity import sop_instance_uid
from pneumo_desktop.core.inference import Priority
from pneumo_desktop.core.monitoring import one_per_film
from pneumo_desktop.core.results import Prediction
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.site_settings import DicomResultSettings
from pneumo_desktop.ui.workers import FunctionWorker

log = logging.getLogger(__name__)


def stored_review(db_path: Path, path: str):
    """The film's latest mark from any scan (a ``dicom_results.Review``), None when it was
    never reviewed. No reviewer name: the SR wants a person's name, and the app knows only
    the OS login (the audit trail records that)."""
    from pneumo_desktop.core.dicom_results import Review

    with ResultStore(db_path) as store:
        dated = [item for item in store.dated_results() if item.result.path == path]
    reviewed = [item.result for item in one_per_film(dated) if item.result.review is not None]
    if not reviewed:
        return None
    result = reviewed[-1]
    return Review(result.review, result.corrected_label, result.note)


def write_film_results(path: str, prediction: Prediction, classifier, *, db_path: Path,
                       settings: DicomResultSettings) -> str:
    """Write (and send) the SC and SR of the film at ``path``; the sentence to show. Raises
    with a clear message when the film is not DICOM, the folder is wrong or the PACS
    refuses."""
    # pydicom, highdicom and pynetdicom: loaded when a result is first asked for, not at start
    from pneumo_desktop.core.dicom_export import export_film_results
    from pneumo_desktop.core.dicom_results import DicomResultError
    from pneumo_desktop.core.dicom_send import send_to_pacs

    if sop_instance_uid(path) is None:
        raise DicomResultError(f"{Path(path).name} is not a DICOM film: DICOM results go "
                               "beside DICOM films only")
    files = export_film_results(Path(path), prediction, classifier, settings.folder,
                                review=stored_review(db_path, path))
    text = f"DICOM result of {Path(path).name} written to {files.secondary_capture.parent}"
    node = settings.node()
    if node is not None:
        send_to_pacs([files.secondary_capture, files.structured_report], node)
        text += f" and sent to {node}"
    log.info("%s", text)
    return text + "."


class DicomResultWriter(QObject):
    """Writes one film's DICOM results at a time; ``written``/``failed`` carry the sentence
    for the user."""

    written = Signal(str)
    failed = Signal(str)

    def __init__(self, inference: InferenceService, db_path: Path,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._inference, self._db_path = inference, Path(db_path)
        self._worker: FunctionWorker | None = None

    @property
    def is_writing(self) -> bool:
        return self._worker is not None

    def write(self, path: str | None, prediction: Prediction | None,
              settings: DicomResultSettings) -> bool:
        """Start writing; False (with ``failed``) when it cannot start."""
        problem = self._problem(path, prediction, settings)
        if problem:
            self.failed.emit(problem)
            return False
        worker = FunctionWorker(partial(
            write_film_results, path, prediction,
            self._inference.client(Priority.EXPLAIN), db_path=self._db_path,
            settings=settings))
        worker.signals.returned.connect(lambda text: self.written.emit(text))
        worker.signals.errored.connect(
            lambda error: self.failed.emit(f"No DICOM result for {Path(path).name}: {error}"))
        worker.signals.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()
        return True

    def shutdown(self, timeout: float = 60.0) -> bool:
        """Wait for a result being written (a half-written file would be left otherwise)."""
        return self._worker is None or self._worker.join(timeout)

    def _problem(self, path, prediction, settings: DicomResultSettings) -> str | None:
        if self._worker is not None:
            return "A DICOM result is being written; wait for it."
        if not self._inference.is_ready:
            return "The model is still loading."
        if path is None or prediction is None:
            return "Open a film (or select a classified row of the worklist) first."
        if prediction.verdict is None:
            return "This film has no verdict, so there is no result to write."
        problems = settings.problems()
        return f"{problems[0]}." if problems else None

    def _on_finished(self) -> None:
        self._worker = None
