"""A stored scan handed over: the worklist as CSV (at once) or as a PDF report (in the
background, its Grad-CAMs computed on the inference thread behind the viewer's work).

:class:`WorklistExports` reads the scan from the host's store on the GUI thread and writes on a
worker; it tells its host what happened through ``message`` and ``reportWritten``. Its
checkable :attr:`~WorklistExports.anonymise_action` (in the tab and the File menu) leaves the
patients' names, IDs and study UIDs out of both.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QWidget

from pneumo_desktop.core.csv_export import write_csv
from pneumo_desktop.core.inference import Priority
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.workers import FunctionWorker, JobTracker


def _with_suffix(name: str, suffix: str) -> Path:
    return Path(name) if name.lower().endswith(suffix) else Path(name + suffix)


class WorklistExports(QObject):
    """CSV and PDF exports of a stored scan, for the widget ``host`` (dialogs' parent)."""

    message = Signal(str, bool)  # the text for the user, whether it is an error
    reportWritten = Signal(str)  # noqa: N815 - Qt naming; the PDF's path
    busyChanged = Signal()  # noqa: N815 - a report started or ended

    def __init__(self, inference: InferenceService, store: ResultStore, host: QWidget) -> None:
        super().__init__(host)
        self._inference, self._store, self._host = inference, store, host
        self._reports = JobTracker()
        self.anonymise_action = QAction("&Anonymise exports and reports", self, checkable=True,
                                        objectName="anonymise_action")
        self.anonymise_action.setIconText("Anonymise")  # the button's words; the menu's in full
        self.anonymise_action.setToolTip("Leave patient names, IDs and study UIDs out of the "
                                         "CSV and the PDF report (to share them)")

    @property
    def anonymise(self) -> bool:
        return self.anonymise_action.isChecked()

    @property
    def is_writing_report(self) -> bool:
        return self._reports.busy

    def write_csv(self, scan_id: int | None, path: Path) -> int:
        """Write the scan's results with review marks to ``path`` (atomically; without the
        patient's name and ID when :attr:`anonymise`); returns the number of rows. Raises
        OSError if the file can't be written."""
        if scan_id is None:
            raise ValueError("no scan to export")
        return write_csv(Path(path), self._store.results(scan_id), anonymise=self.anonymise)

    def choose_csv(self, scan_id: int | None) -> None:
        start = Path.home() / f"pneumo_scan_{scan_id}.csv"
        name, _ = QFileDialog.getSaveFileName(self._host, "Export results", str(start),
                                              "CSV files (*.csv)")
        if not name:
            return
        path = _with_suffix(name, ".csv")
        try:
            count = self.write_csv(scan_id, path)
        except (OSError, ValueError) as error:
            self.message.emit(f"Export failed: {error}", True)
        else:
            self.message.emit(f"Exported {count} rows to {path}.", False)

    def write_pdf(self, scan_id: int | None, path: Path) -> bool:
        """Write the scan's PDF report (worklist with reviews and notes, the top of each band
        with Grad-CAM; anonymised when :attr:`anonymise`) to ``path`` in the background;
        ``reportWritten`` follows, or the error is told. False (with a message) if it can't
        start."""
        problem = ("No scan is shown." if scan_id is None
                   else "The model is still loading." if not self._inference.is_ready
                   else "A report is already being written." if self.is_writing_report
                   else None)
        if problem:
            self.message.emit(problem, True)
            return False
        # Read on this thread (the store's connection is this thread's); draw in the worker.
        info, results = self._store.scan(scan_id), self._store.results(scan_id)
        # Imported here: matplotlib's PDF backend costs a second of start-up.
        from pneumo_desktop.core.pdf_report import write_scan_report

        worker = FunctionWorker(write_scan_report, Path(path), info, results,
                                self._inference.client(Priority.BACKGROUND),
                                anonymise=self.anonymise)
        worker.signals.returned.connect(self._on_written)
        worker.signals.errored.connect(self._on_failed)
        worker.signals.finished.connect(self.busyChanged)
        self._reports.start(worker)
        self.message.emit(f"Writing the PDF report of scan #{info.id}…", False)
        self.busyChanged.emit()
        return True

    def choose_pdf(self, scan_id: int | None) -> None:
        start = Path.home() / f"pneumo_scan_{scan_id}.pdf"
        name, _ = QFileDialog.getSaveFileName(self._host, "PDF report", str(start),
                                              "PDF files (*.pdf)")
        if name:
            self.write_pdf(scan_id, _with_suffix(name, ".pdf"))

    def shutdown(self, timeout: float = 120.0) -> bool:
        """Wait for a report being written: a half-written one would leave a temp file."""
        return self._reports.shutdown(timeout)

    def _on_written(self, path: Path) -> None:
        self.message.emit(f"PDF report written to {path}.", False)
        self.reportWritten.emit(str(path))

    def _on_failed(self, error: BaseException) -> None:
        self.message.emit(f"The PDF report could not be written: {error}", True)
