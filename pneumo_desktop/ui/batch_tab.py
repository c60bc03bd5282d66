"""The Batch tab: scan a folder overnight, then work down the worklist in the morning.

The tab wires controls to the parts that do the work: :class:`ScanController` runs the scan
(and owns its thread), :class:`WorklistView` shows the results and saves review marks (its
:class:`ReviewPanel` applies the review rules), :class:`WorklistExports` writes the CSV and the
PDF report, and the tab's own :class:`ResultStore` (on the GUI thread) reads results.
Every result is committed before the table shows it, so a crash or a closed window loses
nothing, and a stopped scan can be resumed.

The viewer steps through the worklist's order (:meth:`BatchTab.worklist_paths`,
``worklistOrderChanged``), selects a film in it (:meth:`BatchTab.select_path`) and saves its
review bar's marks through :meth:`BatchTab.save_review`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.batch import ScanProgress
from pneumo_desktop.core.results import ScanState, StoredResult
from pneumo_desktop.core.scan import DEFAULT_BATCH_SIZE
from pneumo_desktop.core.scan_lease import runner_text, running_elsewhere
from pneumo_desktop.core.store import ResultStore, ScanInfo
from pneumo_desktop.ui.controls import push_button, row
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.review_panel import ReviewEdit
from pneumo_desktop.ui.scan_controller import ScanController
from pneumo_desktop.ui.scan_history import ScanHistoryBox
from pneumo_desktop.ui.worklist_exports import WorklistExports
from pneumo_desktop.ui.worklist_view import WorklistView

log = logging.getLogger(__name__)

FOLLOW_MS = 3000  # how often a scan running in another process is read again


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
    #: The films the worklist shows, or their order, changed (see :meth:`worklist_paths`).
    worklistOrderChanged = Signal()  # noqa: N815 - Qt naming
    currentPathChanged = Signal(str)  # noqa: N815 - the selected film ("" for none)
    reviewSaved = Signal(str)  # noqa: N815 - a film's review mark or note was stored

    def __init__(self, inference: InferenceService, db_path: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._inference, self._db_path = inference, Path(db_path)
        self._store = ResultStore(self._db_path)  # GUI thread's connection
        self._scan_id: int | None = None
        self._scan_state: ScanState | None = None
        self._previous_scan_id: int | None = None  # shown again if a new scan never begins
        self._last_folder: Path | None = None
        self._elsewhere = False  # the shown scan is running in another process
        self._follow_timer = QTimer(self, interval=FOLLOW_MS)
        self._follow_timer.timeout.connect(self._follow_elsewhere)
        self.scan_controller = ScanController(inference, self._db_path, self)
        self.exports = WorklistExports(inference, self._store, self)
        #: Asked before resuming an unfinished scan; tests replace it to avoid a modal box.
        self.confirm: Callable[[str], bool] = self._ask
        self.worklist = WorklistView(self._store, self)
        self._build_ui()
        self.scan_controller.started.connect(self._on_scan_started)
        self.scan_controller.progressed.connect(self._on_scan_progressed)
        self.scan_controller.finished.connect(self._on_scan_finished)
        self.scan_controller.failed.connect(self._on_scan_failed)
        self.exports.message.connect(self._say)
        self.worklist.message.connect(self._say)
        self.worklist.openRequested.connect(self.openRequested)
        self.worklist.orderChanged.connect(self.worklistOrderChanged)
        self.worklist.currentPathChanged.connect(self.currentPathChanged)
        self.worklist.reviewSaved.connect(self.reviewSaved)
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
        self.anonymise_button = QToolButton(self, objectName="anonymise_button")
        self.anonymise_button.setDefaultAction(self.exports.anonymise_action)
        self.scans_combo = ScanHistoryBox(self)
        self.scans_combo.scanChosen.connect(self.load_scan)
        top = row(self.scan_button, self.resume_button, self.cancel_button, None,
                    "Previous scans:", self.scans_combo, self.export_button, self.report_button,
                  self.anonymise_button)

        self.progress_bar = QProgressBar(self, objectName="progress_bar")
        self.progress_bar.setTextVisible(True)
        self.message_label = QLabel(self, objectName="message_label")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        for part in (top, self.progress_bar, self.message_label, self.worklist):
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

    # The worklist's order and selection, for the viewer ----------------------------------
    def worklist_paths(self) -> list[str]:
        """The films of the shown scan in the order the worklist shows them (after its sort
        and filter); ``worklistOrderChanged`` tells when that changes."""
        return self.worklist.paths()

    def select_path(self, path: str) -> bool:
        """Select ``path`` in the worklist; False when the worklist does not show it."""
        return self.worklist.select_path(path)

    def current_result(self) -> StoredResult | None:
        """The selected row (None when nothing is selected)."""
        return self.worklist.current_result()

    def result_for_path(self, path: str) -> StoredResult | None:
        """The shown scan's result for ``path``, with its review (None if it has none)."""
        return self.worklist.result_for_path(path)

    def save_review(self, edit: ReviewEdit) -> bool:
        """Store a review mark or note of a film of the shown scan, as the worklist's own
        controls do (``reviewSaved`` follows); False, with a message, if it was not saved."""
        return self.worklist.save_review(edit)

    # Scanning ----------------------------------------------------------------------------
    def start_scan(self, folder: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> bool:
        """Scan ``folder`` in the background; False (with a message) if that can't start."""
        self._last_folder = Path(folder)
        return self._start(Path(folder), None, batch_size)

    def resume_scan(self, scan_id: int, *, batch_size: int = DEFAULT_BATCH_SIZE) -> bool:
        """Show ``scan_id``'s results, then scan only its files that have no result yet."""
        if not self._can_start() or not self.load_scan(scan_id) or self._elsewhere:
            return False  # (load_scan said why a scan running elsewhere is not resumed)
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
            if running_elsewhere(info):  # never offered: another process is scanning it
                continue
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
        self.worklist.preview.shutdown()
        if not self.scan_controller.shutdown(timeout=60):
            self._say("The scan did not stop within a minute.", error=True)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Coming to the worklist (Ctrl+2, a click on its tab) puts the keyboard in the
        table, on a film: Down and A work at once. Not when the window is restored (a
        spontaneous show): a note being typed keeps it, or its next "a" would agree."""
        super().showEvent(event)
        if not event.spontaneous():
            self.worklist.focus_table()

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
        self._elsewhere = False
        self._follow_timer.stop()
        if resume_scan_id is None:
            self.worklist.show_results(None, [])
            self._scan_id, self._scan_state = None, ScanState.RUNNING
        self.scan_controller.start(folder, resume_scan_id=resume_scan_id, batch_size=batch_size)
        self._say(f"Scanning {folder}…" if folder else f"Resuming scan {resume_scan_id}…")
        self.progress_bar.setRange(0, 0)  # busy until the file list is known
        self._update_actions()
        return True

    # The scan controller's signals -------------------------------------------------------
    def _on_scan_started(self, item: ScanProgress) -> None:
        self._scan_id, self._scan_state = item.scan_id, ScanState.RUNNING
        self.worklist.set_scan_id(item.scan_id)
        self.progress_bar.setRange(0, max(item.total, 1))
        self._show_progress(item)
        self.refresh_scans()
        self.scanStarted.emit(item.scan_id)

    def _on_scan_progressed(self, item: ScanProgress) -> None:
        self.worklist.add_result(StoredResult.from_scan(item.result))
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
            counts = self.worklist.model.summary()
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
        self.worklist.show_results(info.id, self._store.results(scan_id))
        self._show_stored_progress(info)
        self._elsewhere = running_elsewhere(info)
        if self._elsewhere:  # follow it: its results appear as the other process saves them
            self._say(f"Scan #{info.id} of {info.folder} is {runner_text(info)}: its results "
                      "appear here as they are saved. It cannot be resumed here.")
            self._follow_timer.start()
        else:
            self._follow_timer.stop()
            self._say(f"Scan #{info.id} of {info.folder} ({info.state}).")
        self.refresh_scans()
        self._update_actions()
        return True

    def _show_stored_progress(self, info: ScanInfo) -> None:
        total = info.total_files or 0
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(info.done_files)
        self.progress_bar.setFormat(f"{info.done_files} / {total} images")

    def _follow_elsewhere(self) -> None:
        """A scan running in another process: show what it has saved since."""
        if self._scan_id is None or self.is_scanning:
            self._follow_timer.stop()
            return
        info = self._store.scan(self._scan_id)
        self.worklist.merge_results(self._store.results(info.id))
        self._show_stored_progress(info)
        if not running_elsewhere(info):  # it ended, or its process did
            self._follow_timer.stop()
            self._elsewhere, self._scan_state = False, info.state
            self._say(f"Scan #{info.id} of {info.folder} is no longer running elsewhere "
                      f"({info.state}, {info.done_files} images).")
            self.refresh_scans()
            self._update_actions()

    def _resume_current(self) -> None:
        if self._scan_id is not None:
            self.resume_scan(self._scan_id)

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

    def _update_actions(self) -> None:
        scanning, loaded = self.is_scanning, self._scan_id is not None
        ready = self._inference.is_ready
        self.scan_button.setEnabled(ready and not scanning)
        self.scan_button.setToolTip(
            "The model is still loading…" if not ready
            else "A scan is running" if scanning
            else "Classify every image in a folder (and its subfolders)")
        self.resume_button.setEnabled(ready and not scanning and loaded and not self._elsewhere
                                      and self._scan_state is not ScanState.COMPLETE)
        self.cancel_button.setEnabled(scanning)
        self.export_button.setEnabled(loaded and not scanning)
        self.report_button.setEnabled(loaded and not scanning and ready
                                      and not self.exports.is_writing_report)
        self.report_button.setToolTip(
            "The model is still loading…" if not ready
            else "Summary, worklist with reviews and notes, and the top of each band with "
                 "Grad-CAM, as a PDF")
        self.scans_combo.setEnabled(not scanning)
