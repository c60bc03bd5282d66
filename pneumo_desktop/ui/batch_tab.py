"""The Batch tab: scan a folder overnight, then work down the worklist in the morning.

The tab wires controls to the parts that do the work: :class:`ScanController` runs the scan
(and owns its thread), :class:`ReviewPanel` applies the review rules to the selected row, and
:class:`WorklistExports` writes the CSV and the PDF report, and the tab's own
:class:`ResultStore` (on the GUI thread) reads results and saves review marks.
Every result is committed before the table shows it, so a crash or a closed window loses
nothing, and a stopped scan can be resumed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.batch import ScanProgress
from pneumo_desktop.core.results import ScanState, StoredResult, Verdict
from pneumo_desktop.core.scan import DEFAULT_BATCH_SIZE
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.controls import push_button, row
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.results_model import (
    COL_FILE,
    COL_PROBABILITY,
    COL_VERDICT,
    FILTERS,
    ResultsFilterProxy,
    ResultsTableModel,
)
from pneumo_desktop.ui.review_panel import ReviewEdit, ReviewPanel
from pneumo_desktop.ui.scan_controller import ScanController
from pneumo_desktop.ui.scan_history import ScanHistoryBox
from pneumo_desktop.ui.worklist_exports import WorklistExports

log = logging.getLogger(__name__)


def _format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class BatchTab(QWidget):
    """Batch scan and review worklist; scans can start once ``inference`` has its model."""

    scanStarted = Signal(int)  # noqa: N815 - Qt naming
    scanFinished = Signal(int, str)  # noqa: N815 - scan id (-1 if none began), complete|cancelled|error
    openRequested = Signal(str)  # noqa: N815 - the path to show in the viewer
    reportWritten = Signal(str)  # noqa: N815 - the PDF report's path, once written

    def __init__(self, inference: InferenceService, db_path: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._inference, self._db_path = inference, Path(db_path)
        self._store = ResultStore(self._db_path)  # GUI thread's connection
        self._scan_id: int | None = None
        self._scan_state: ScanState | None = None
        self._previous_scan_id: int | None = None  # shown again if a new scan never begins
        self._last_folder: Path | None = None
        self.scan_controller = ScanController(inference, self._db_path, self)
        self.exports = WorklistExports(inference, self._store, self)
        #: Asked before resuming an unfinished scan; tests replace it to avoid a modal box.
        self.confirm: Callable[[str], bool] = self._ask
        self.model = ResultsTableModel(parent=self)
        self.proxy = ResultsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build_ui()
        self.scan_controller.started.connect(self._on_scan_started)
        self.scan_controller.progressed.connect(self._on_scan_progressed)
        self.scan_controller.finished.connect(self._on_scan_finished)
        self.scan_controller.failed.connect(self._on_scan_failed)
        self.exports.message.connect(self._say)
        self.exports.reportWritten.connect(self.reportWritten)
        self.exports.busyChanged.connect(self._update_actions)
        inference.classifierReady.connect(self._update_actions)
        scans = self._store.scans()
        if scans:  # the morning's worklist is the newest scan
            self.load_scan(scans[0].id)
        else:
            self.refresh_scans()
        self._update_actions()

    def _build_ui(self) -> None:
        def button(text: str, slot: Callable, name: str) -> QPushButton:
            return push_button(text, slot, parent=self, name=name)

        self.scan_button = button("Scan folder…", self._choose_folder, "scan_button")
        self.resume_button = button("Resume", self._resume_current, "resume_button")
        self.cancel_button = button("Cancel", self.cancel_scan, "cancel_button")
        self.export_button = button("Export CSV…", lambda: self.exports.choose_csv(self._scan_id),
                                    "export_button")
        self.report_button = button("PDF report…", lambda: self.exports.choose_pdf(self._scan_id),
                                    "report_button")
        self.scans_combo = ScanHistoryBox(self)
        self.scans_combo.scanChosen.connect(self.load_scan)
        top = row(self.scan_button, self.resume_button, self.cancel_button, None,
                    "Previous scans:", self.scans_combo, self.export_button, self.report_button)

        self.progress_bar = QProgressBar(self, objectName="progress_bar")
        self.progress_bar.setTextVisible(True)
        self.message_label = QLabel(self, objectName="message_label")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.filter_combo = QComboBox(self, objectName="filter_combo")
        self.filter_combo.addItems(FILTERS)
        self.filter_combo.currentTextChanged.connect(self.proxy.set_filter)
        self.summary_label = QLabel(self, objectName="summary_label")
        filters = row("Show:", self.filter_combo, None, self.summary_label)

        self.table = QTableView(self, objectName="results_table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_PROBABILITY, Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(COL_FILE, 260)
        self.table.setColumnWidth(COL_VERDICT, 190)  # "PNEUMONIA (bacteria?)" on one line
        # activated = double-click or Enter/Return (per the platform's style)
        self.table.activated.connect(self._on_activated)
        self.table.selectionModel().currentRowChanged.connect(self._show_review)

        self.review_panel = ReviewPanel(self)
        self.review_panel.add_shortcuts(self)
        self.review_panel.reviewChanged.connect(self._save_review)

        layout = QVBoxLayout(self)
        for part in (top, self.progress_bar, self.message_label, filters, self.table,
                     self.review_panel):
            (layout.addLayout if isinstance(part, QHBoxLayout) else layout.addWidget)(part)

    # Public state ------------------------------------------------------------------------
    @property
    def last_folder(self) -> Path | None:
        return self._last_folder

    @property
    def current_scan_id(self) -> int | None:
        return self._scan_id

    @property
    def is_scanning(self) -> bool:
        return self.scan_controller.is_running

    # Scanning ----------------------------------------------------------------------------
    def start_scan(self, folder: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> bool:
        """Scan ``folder`` in the background; False (with a message) if that can't start."""
        self._last_folder = Path(folder)
        return self._start(Path(folder), None, batch_size)

    def resume_scan(self, scan_id: int, *, batch_size: int = DEFAULT_BATCH_SIZE) -> bool:
        """Show ``scan_id``'s results, then scan only its files that have no result yet."""
        if not self._can_start() or not self.load_scan(scan_id):
            return False
        return self._start(None, scan_id, batch_size)

    def cancel_scan(self) -> None:
        if self.is_scanning:
            self.scan_controller.cancel()
            self._say("Cancelling after the current image…")

    def offer_resume(self) -> bool:
        """Ask whether to resume each unfinished (crashed or interrupted) scan, newest first;
        resumes the first accepted one. A declined scan is marked cancelled so it is not asked
        about at every start; it can still be reopened and resumed."""
        if not self._can_start(quiet=True):
            return False
        for info in self._store.unfinished_scans():
            total = "?" if info.total_files is None else info.total_files
            question = (f"A scan of {info.folder} stopped after {info.done_files} of {total} "
                        "images. Resume it?")
            if self.confirm(question):
                return self.resume_scan(info.id)
            self._store.finish_scan(info.id, ScanState.CANCELLED)
        self.refresh_scans()
        return False

    def shutdown(self) -> None:
        """Stop a running scan and wait for its thread, and for a report being written (a
        half-written one would leave a stray temp file): the window is closing. The scan
        stays resumable."""
        self.exports.shutdown(timeout=120)
        if not self.scan_controller.shutdown(timeout=60):
            self._say("The scan did not stop within a minute.", error=True)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def _can_start(self, quiet: bool = False) -> bool:
        problem = self.scan_controller.problem()
        if problem and not quiet:
            self._say(problem, error=True)
        return problem is None

    def _start(self, folder: Path | None, resume_scan_id: int | None, batch_size: int) -> bool:
        if not self._can_start():
            return False
        self._previous_scan_id = self._scan_id
        if resume_scan_id is None:
            self.model.clear()
            self._scan_id, self._scan_state = None, ScanState.RUNNING
        self.scan_controller.start(folder, resume_scan_id=resume_scan_id, batch_size=batch_size)
        self._say(f"Scanning {folder}…" if folder else f"Resuming scan {resume_scan_id}…")
        self.progress_bar.setRange(0, 0)  # busy until the file list is known
        self._update_actions()
        return True

    # The scan controller's signals -------------------------------------------------------
    def _on_scan_started(self, item: ScanProgress) -> None:
        self._scan_id, self._scan_state = item.scan_id, ScanState.RUNNING
        self.progress_bar.setRange(0, max(item.total, 1))
        self._show_progress(item)
        self.refresh_scans()
        self.scanStarted.emit(item.scan_id)

    def _on_scan_progressed(self, item: ScanProgress) -> None:
        self.model.upsert(StoredResult.from_scan(item.result))
        self._update_summary()
        self._show_progress(item)

    def _show_progress(self, item: ScanProgress) -> None:
        text = f"{item.done} / {item.total} images"
        if item.rate is not None:
            text += f" · {item.rate:.1f} images/s · ETA {_format_duration(item.eta)}"
        self.progress_bar.setValue(item.done)
        self.progress_bar.setFormat(text)

    def _on_scan_finished(self, scan_id: int, state: ScanState,
                          error: BaseException | None = None) -> None:
        if scan_id >= 0:
            self._scan_state = self._store.scan(scan_id).state
            self.progress_bar.setRange(0, max(self.progress_bar.maximum(), 1))
            counts = self.model.summary()
            errors = (f", {counts['errors']} not classified (unreadable or not an X-ray)"
                      if counts["errors"] else "")
            self._say(f"Scan {state}: {counts['total']} images{errors}." if counts["total"]
                      else "No images (JPEG, PNG, BMP, TIFF or DICOM) were found there.")
        elif self._previous_scan_id is not None:  # nothing began: show the earlier worklist
            self.load_scan(self._previous_scan_id)
        else:
            self.progress_bar.setRange(0, 1)  # stop the busy indicator
            self.progress_bar.setFormat("")
        if error is not None:
            self._say(f"The scan stopped: {error}", error=True)
        self.refresh_scans()
        self._update_actions()
        self.scanFinished.emit(scan_id, state)

    def _on_scan_failed(self, scan_id: int, error: BaseException) -> None:
        self._on_scan_finished(scan_id, ScanState.FAILED, error)

    # Previous scans ----------------------------------------------------------------------
    def refresh_scans(self) -> None:
        """Fill the previous-scans box, newest first."""
        self.scans_combo.show_scans(self._store.scans(), self._scan_id)

    def load_scan(self, scan_id: int) -> bool:
        """Show a stored scan's results and review marks."""
        if self.is_scanning and scan_id != self._scan_id:
            self._say("Wait for the running scan to finish (or cancel it) first.", error=True)
            return False
        try:
            info = self._store.scan(scan_id)
        except KeyError as error:
            self._say(str(error.args[0]), error=True)
            return False
        self._scan_id, self._scan_state = info.id, info.state
        self.model.set_results(self._store.results(scan_id))
        total = info.total_files or 0
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(info.done_files)
        self.progress_bar.setFormat(f"{info.done_files} / {total} images")
        self._say(f"Scan #{info.id} of {info.folder} ({info.state}).")
        self.refresh_scans()
        self._update_summary()
        self._update_actions()
        self._show_review()
        return True

    def _resume_current(self) -> None:
        if self._scan_id is not None:
            self.resume_scan(self._scan_id)

    # Review ------------------------------------------------------------------------------
    def current_result(self) -> StoredResult | None:
        """The selected row (None when nothing is selected)."""
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.model.result_at(self.proxy.mapToSource(index).row())

    def _show_review(self, *_args) -> None:
        self.review_panel.set_result(self.current_result())

    def _save_review(self, edit: ReviewEdit) -> None:
        if self._scan_id is None:
            return
        mark = edit.review
        try:
            self._store.set_review(self._scan_id, edit.path, mark.mark, mark.corrected_label,
                                   edit.note)
        except Exception as error:  # shown to the user, never a traceback
            log.exception("saving the review of %s failed", edit.path)
            self._say(f"The mark could not be saved: {error}", error=True)
            return
        self.model.update_review(edit.path, mark.mark, mark.corrected_label, edit.note)
        self._update_summary()
        shown = self.review_panel.result
        if shown is not None and shown.path == edit.path:
            self.review_panel.set_result(self.model.result_at(self.model.row_for_path(edit.path)))

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit(self.model.result_at(self.proxy.mapToSource(index).row()).path)

    # Helpers -----------------------------------------------------------------------------
    def _choose_folder(self) -> None:
        start = str(self._last_folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose the folder to scan", start)
        if folder:
            self.start_scan(Path(folder))

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(
            self, "Resume scan?", question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _say(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #b00020;" if error else "")

    def _update_summary(self) -> None:
        counts = self.model.summary()
        self.summary_label.setText(
            f"{Verdict.PNEUMONIA} {counts[Verdict.PNEUMONIA]} · "
            f"{Verdict.NORMAL} {counts[Verdict.NORMAL]} · "
            f"not classified {counts['errors']} · reviewed {counts['reviewed']} / {counts['total']}"
        )

    def _update_actions(self) -> None:
        scanning, loaded = self.is_scanning, self._scan_id is not None
        ready = self._inference.is_ready
        self.scan_button.setEnabled(ready and not scanning)
        self.scan_button.setToolTip(
            "The model is still loading…" if not ready
            else "A scan is running" if scanning
            else "Classify every image in a folder (and its subfolders)")
        self.resume_button.setEnabled(ready and not scanning and loaded
                                      and self._scan_state is not ScanState.COMPLETE)
        self.cancel_button.setEnabled(scanning)
        self.export_button.setEnabled(loaded and not scanning)
        self.report_button.setEnabled(loaded and not scanning and ready
                                      and not self.exports.is_writing_report)
        self.report_button.setToolTip(
            "The model is still loading…" if not ready
            else "Summary, worklist and the flagged films with Grad-CAM, as a PDF")
        self.scans_combo.setEnabled(not scanning)
