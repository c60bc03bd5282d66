"""The Batch tab: scan a folder overnight, then work down the worklist in the morning.

The scan runs :func:`~pneumo_desktop.core.batch.run_scan` in a :class:`GeneratorWorker`; the
worker opens its own :class:`ResultStore` (an SQLite connection belongs to the thread that made
it) while this tab keeps another, on the GUI thread, to read results and save review marks.
Every result is committed before the table shows it, so a crash or a closed window loses
nothing, and a stopped scan can be resumed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from functools import partial
from pathlib import Path

from PySide6.QtCore import QModelIndex, QObject, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core import review
from pneumo_desktop.core.batch import ScanProgress, run_scan
from pneumo_desktop.core.csv_export import write_csv
from pneumo_desktop.core.results import ReviewMark, ScanState, StoredResult, Verdict
from pneumo_desktop.core.scan import DEFAULT_BATCH_SIZE
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.results_model import (
    COL_FILE,
    COL_PROBABILITY,
    COL_VERDICT,
    FILTERS,
    ResultsFilterProxy,
    ResultsTableModel,
)
from pneumo_desktop.ui.workers import FunctionWorker, GeneratorWorker

NO_LABEL = "—"

log = logging.getLogger(__name__)


class _RunState:
    """What the GUI and the worker thread share about one run; each field has one writer."""

    def __init__(self) -> None:
        self.scan_id: int | None = None  # written by the worker at the first item
        self.user_cancel = threading.Event()  # set by the GUI before it aborts the worker


def _scan_in_worker(worker_abort: threading.Event, *, db_path: Path, classifier,
                    folder: Path | None, resume_scan_id: int | None, batch_size: int,
                    state: _RunState) -> Iterator[ScanProgress]:
    """Runs on the worker thread, so its store (SQLite connection) is created here.

    run_scan decides the end state: the user's Cancel (``state.user_cancel``) ends the scan
    CANCELLED; an abort without it (the app closing) leaves it RUNNING, so the next start
    offers to resume it. The worker's own abort event only stops the loop (the worker closes
    this generator at the next item)."""
    store = ResultStore(db_path)
    try:
        with closing(run_scan(store, classifier, folder, resume_scan_id=resume_scan_id,
                              batch_size=batch_size, cancel=state.user_cancel)) as items:
            for item in items:
                state.scan_id = item.scan_id
                yield item
    finally:
        store.close()


class _ScanJob(QObject):
    """One scan run. It lives on the GUI thread, so the worker's signals reach it queued, and
    it tags them with itself: a late signal from a finished or abandoned run is ignored."""

    def __init__(self, tab: BatchTab, previous_scan_id: int | None, **scan_arguments) -> None:
        super().__init__()  # no Qt parent: the tab drops it once its thread is surely done
        self.tab, self.previous_scan_id, self.state = tab, previous_scan_id, _RunState()
        # The generator holds only the plain state, not this QObject: no reference cycle, so
        # nothing Qt is ever freed by a garbage collection on the worker thread.
        self.worker = GeneratorWorker(partial(_scan_in_worker, state=self.state, **scan_arguments))
        self.error: BaseException | None = None
        self.worker.signals.yielded.connect(self._on_yielded)
        self.worker.signals.errored.connect(self._on_errored)
        self.worker.signals.finished.connect(self._on_finished)

    @property
    def scan_id(self) -> int:
        return -1 if self.state.scan_id is None else self.state.scan_id

    @Slot(object)
    def _on_yielded(self, item: ScanProgress) -> None:
        self.tab._on_progress(self, item)

    @Slot(object)
    def _on_errored(self, error: BaseException) -> None:
        self.error = error

    @Slot()
    def _on_finished(self) -> None:
        self.tab._on_job_finished(self)


def _format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _hbox(*parts) -> QHBoxLayout:
    """A row of widgets; a string is a label, None a stretch."""
    row = QHBoxLayout()
    for part in parts:
        if part is None:
            row.addStretch(1)
        else:
            row.addWidget(QLabel(part) if isinstance(part, str) else part)
    return row


class BatchTab(QWidget):
    """Batch scan and review worklist. ``classifier`` may be None until the model has loaded
    (see :meth:`set_classifier`)."""

    scanStarted = Signal(int)  # noqa: N815 - Qt naming
    scanFinished = Signal(int, str)  # noqa: N815 - scan id (-1 if none began), complete|cancelled|error
    openRequested = Signal(str)  # noqa: N815 - the path to show in the viewer
    reportWritten = Signal(str)  # noqa: N815 - the PDF report's path, once written

    def __init__(self, classifier, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._classifier, self._db_path = classifier, Path(db_path)
        self._store = ResultStore(self._db_path)  # GUI thread's connection
        self._scan_id: int | None = None
        self._scan_state: ScanState | None = None
        self._job: _ScanJob | None = None
        self._finished_job: _ScanJob | None = None  # kept until its thread has surely ended
        self._report_worker: FunctionWorker | None = None  # kept like _finished_job
        self._review_path: str | None = None  # the row the review panel edits
        self._last_folder: Path | None = None
        # One scan at a time (they share the model), on a pool this tab owns and waits for.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        #: Asked before resuming an unfinished scan; tests replace it to avoid a modal box.
        self.confirm: Callable[[str], bool] = self._ask
        self.model = ResultsTableModel(parent=self)
        self.proxy = ResultsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build_ui()
        scans = self._store.scans()
        if scans:  # the morning's worklist is the newest scan
            self.load_scan(scans[0].id)
        else:
            self.refresh_scans()
        self._update_actions()

    # Construction ------------------------------------------------------------------------
    def _build_ui(self) -> None:
        def button(text: str, slot: Callable, name: str) -> QPushButton:
            widget = QPushButton(text, self)
            widget.setObjectName(name)
            widget.clicked.connect(slot)
            return widget

        self.scan_button = button("Scan folder…", self._choose_folder, "scan_button")
        self.resume_button = button("Resume", self._resume_current, "resume_button")
        self.cancel_button = button("Cancel", self.cancel_scan, "cancel_button")
        self.export_button = button("Export CSV…", self._choose_export, "export_button")
        self.report_button = button("PDF report…", self._choose_report, "report_button")
        self.scans_combo = QComboBox(self, objectName="scans_combo")
        self.scans_combo.setMinimumContentsLength(30)
        self.scans_combo.activated.connect(self._on_scan_chosen)
        top = _hbox(self.scan_button, self.resume_button, self.cancel_button, None,
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
        filters = _hbox("Show:", self.filter_combo, None, self.summary_label)

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

        self.agree_button = button("Agree (A)", self.agree, "agree_button")
        self.disagree_button = button("Disagree (D)", self.disagree, "disagree_button")
        self.clear_button = button("Clear mark", lambda: self.set_corrected_label(None),
                                   "clear_button")
        self.label_combo = QComboBox(self, objectName="label_combo")
        self.label_combo.addItems([NO_LABEL, Verdict.NORMAL, Verdict.PNEUMONIA])
        self.label_combo.setToolTip("The radiologist's label for this film")
        self.label_combo.activated.connect(self._on_label_chosen)  # user choices only
        self.note_edit = QLineEdit(self, objectName="note_edit")
        self.note_edit.setPlaceholderText("Note for this film (saved on Enter or leaving)")
        self.note_edit.editingFinished.connect(self._on_note_edited)
        review_row = _hbox(self.agree_button, self.disagree_button, self.clear_button, "Label:",
                           self.label_combo, "Note:", self.note_edit)
        # Plain-letter shortcuts while focus is anywhere in the tab; a QLineEdit keeps its
        # typed letters (it overrides shortcuts for text keys), so notes can contain a and d.
        for key, slot in (("A", self.agree), ("D", self.disagree)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        layout = QVBoxLayout(self)
        for part in (top, self.progress_bar, self.message_label, filters, self.table, review_row):
            (layout.addLayout if isinstance(part, QHBoxLayout) else layout.addWidget)(part)

    # Public state ------------------------------------------------------------------------
    @property
    def last_folder(self) -> Path | None:
        return self._last_folder

    @last_folder.setter
    def last_folder(self, folder: Path | str | None) -> None:
        self._last_folder = Path(folder) if folder else None

    @property
    def current_scan_id(self) -> int | None:
        return self._scan_id

    @property
    def is_scanning(self) -> bool:
        return self._job is not None

    @property
    def worker(self) -> GeneratorWorker | None:
        return self._job.worker if self._job else None

    def set_classifier(self, classifier) -> None:
        self._classifier = classifier
        self._update_actions()

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
        if self._job is not None:
            self._job.state.user_cancel.set()  # before abort: run_scan reads it on close
            self._job.worker.abort()
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
        """Stop a running scan and wait for its thread (window closing). The scan stays
        resumable; nothing more arrives from it."""
        if self._report_worker is not None:  # a half-written report would be a stray temp file
            self._report_worker.wait(120)
        job, self._job = self._job, None
        if job is None:
            return
        self._finished_job = job
        job.worker.abort()
        if not job.worker.wait(60):
            self._say("The scan did not stop within a minute.", error=True)
        self._pool.waitForDone(10_000)  # until run() has returned, not just the generator
        self._update_actions()
        self.scanFinished.emit(job.scan_id, ScanState.CANCELLED)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def _can_start(self, quiet: bool = False) -> bool:
        problem = ("The model is still loading." if self._classifier is None
                   else "A scan is already running." if self.is_scanning else None)
        if problem and not quiet:
            self._say(problem, error=True)
        return problem is None

    def _start(self, folder: Path | None, resume_scan_id: int | None, batch_size: int) -> bool:
        if not self._can_start():
            return False
        previous = self._scan_id
        if resume_scan_id is None:
            self.model.clear()
            self._scan_id, self._scan_state = None, ScanState.RUNNING
        job = _ScanJob(self, previous, db_path=self._db_path, classifier=self._classifier,
                       folder=folder, resume_scan_id=resume_scan_id, batch_size=batch_size)
        self._job = job
        self._say(f"Scanning {folder}…" if folder else f"Resuming scan {resume_scan_id}…")
        self.progress_bar.setRange(0, 0)  # busy until the file list is known
        self._update_actions()
        job.worker.start(self._pool)
        return True

    # Worker events (GUI thread) ----------------------------------------------------------
    def _on_progress(self, job: _ScanJob, item: ScanProgress) -> None:
        if job is not self._job:
            return  # a run that was abandoned by shutdown()
        if item.result is None:  # the "starting" item: scan id and files already done
            self._scan_id, self._scan_state = item.scan_id, ScanState.RUNNING
            self.progress_bar.setRange(0, max(item.total, 1))
            self.refresh_scans()
            self.scanStarted.emit(item.scan_id)
        else:
            self.model.upsert(StoredResult.from_scan(item.result))
            self._update_summary()
        self.progress_bar.setValue(item.done)
        self.progress_bar.setFormat(self._progress_text(item))

    @staticmethod
    def _progress_text(item: ScanProgress) -> str:
        text = f"{item.done} / {item.total} images"
        if item.rate is not None:
            text += f" · {item.rate:.1f} images/s · ETA {_format_duration(item.eta)}"
        return text

    def _on_job_finished(self, job: _ScanJob) -> None:
        if job is not self._job:
            return
        self._job, self._finished_job = None, job
        if job.error is not None:
            state = ScanState.FAILED
        else:
            stored = (self._store.scan(job.scan_id).state if job.scan_id >= 0
                      else ScanState.CANCELLED)
            state = ScanState.COMPLETE if stored is ScanState.COMPLETE else ScanState.CANCELLED
        if job.scan_id >= 0:
            self._scan_state = self._store.scan(job.scan_id).state
            self.progress_bar.setRange(0, max(self.progress_bar.maximum(), 1))
            counts = self.model.summary()
            errors = (f", {counts['errors']} not classified (unreadable or not an X-ray)"
                      if counts["errors"] else "")
            self._say(f"Scan {state}: {counts['total']} images{errors}." if counts["total"]
                      else "No images (JPEG, PNG, BMP, TIFF or DICOM) were found there.")
        elif job.previous_scan_id is not None:  # nothing began: show the earlier worklist
            self.load_scan(job.previous_scan_id)
        else:
            self.progress_bar.setRange(0, 1)  # stop the busy indicator
            self.progress_bar.setFormat("")
        if job.error is not None:
            self._say(f"The scan stopped: {job.error}", error=True)
        self.refresh_scans()
        self._update_actions()
        self.scanFinished.emit(job.scan_id, state)

    # Previous scans ----------------------------------------------------------------------
    def refresh_scans(self) -> None:
        """Fill the previous-scans combo, newest first."""
        self.scans_combo.blockSignals(True)
        self.scans_combo.clear()
        for info in self._store.scans():
            started = dt.datetime.fromisoformat(info.started).astimezone()
            total = "?" if info.total_files is None else info.total_files
            self.scans_combo.addItem(
                f"#{info.id} · {started:%Y-%m-%d %H:%M} · {Path(info.folder).name} · "
                f"{info.state} {info.done_files}/{total}", info.id)
            self.scans_combo.setItemData(self.scans_combo.count() - 1, info.folder,
                                         Qt.ItemDataRole.ToolTipRole)
        self.scans_combo.setCurrentIndex(self.scans_combo.findData(self._scan_id))
        self.scans_combo.blockSignals(False)

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

    def _on_scan_chosen(self, index: int) -> None:
        scan_id = self.scans_combo.itemData(index)
        if scan_id is not None and scan_id != self._scan_id:
            self.load_scan(int(scan_id))

    def _resume_current(self) -> None:
        if self._scan_id is not None:
            self.resume_scan(self._scan_id)

    # Review ------------------------------------------------------------------------------
    def _current_result(self) -> StoredResult | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.model.result_at(self.proxy.mapToSource(index).row())

    def agree(self) -> None:
        """Mark the selected film as agreeing with the model."""
        self._apply_review(review.agree)

    def disagree(self) -> None:
        """Mark the selected film as disagreeing: the corrected label is the other one."""
        self._apply_review(review.disagree)

    def set_corrected_label(self, label: Verdict | None) -> None:
        """The radiologist's label (see :func:`review.review_for_label`)."""
        self._apply_review(lambda row: review.review_for_label(row, label))

    def _apply_review(self, rule: Callable[[StoredResult], review.Review]) -> None:
        row = self._current_result()
        if row is not None and review.reviewable(row):
            mark = rule(row)
            self._save_review(row.path, mark.mark, mark.corrected_label, row.note)

    def _on_label_chosen(self, index: int) -> None:
        text = self.label_combo.itemText(index)
        self.set_corrected_label(None if text == NO_LABEL else Verdict(text))

    def _on_note_edited(self) -> None:
        # Saved to the row the editor was filled from: focus leaving the editor for another
        # row must not put the note on that other row.
        position = self.model.row_for_path(self._review_path) if self._review_path else None
        if position is None:
            return
        row = self.model.result_at(position)
        note = self.note_edit.text().strip() or None
        if note != row.note:
            self._save_review(row.path, row.review, row.corrected_label, note)

    def _save_review(self, path: str, mark: ReviewMark | None, label: Verdict | None,
                     note: str | None) -> None:
        if self._scan_id is None:
            return
        try:
            self._store.set_review(self._scan_id, path, mark, label, note)
        except Exception as error:  # shown to the user, never a traceback
            log.exception("saving the review of %s failed", path)
            self._say(f"The mark could not be saved: {error}", error=True)
            return
        self.model.update_review(path, mark, label, note)
        self._update_summary()
        if path == self._review_path:
            self._show_review()

    def _show_review(self, *_args) -> None:
        """Fill the review panel from the selected row."""
        row = self._current_result()
        self._review_path = row.path if row else None
        reviewable = row is not None and review.reviewable(row)
        for widget in (self.agree_button, self.disagree_button, self.clear_button,
                       self.label_combo, self.note_edit):
            widget.setEnabled(reviewable)
        label = row.final_label if row is not None else None
        self.label_combo.setCurrentText(label or NO_LABEL)
        self.note_edit.setText((row.note or "") if row else "")

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit(self.model.result_at(self.proxy.mapToSource(index).row()).path)

    # Export ------------------------------------------------------------------------------
    def export_csv(self, path: Path) -> int:
        """Write the shown scan's results with review marks to ``path`` (atomically);
        returns the number of rows. Raises OSError if the file can't be written."""
        if self._scan_id is None:
            raise ValueError("no scan to export")
        return write_csv(Path(path), self._store.results(self._scan_id), review=True)

    def _choose_export(self) -> None:
        start = Path.home() / f"pneumo_scan_{self._scan_id}.csv"
        name, _ = QFileDialog.getSaveFileName(self, "Export results", str(start),
                                              "CSV files (*.csv)")
        if not name:
            return
        path = Path(name) if name.lower().endswith(".csv") else Path(name + ".csv")
        try:
            count = self.export_csv(path)
        except (OSError, ValueError) as error:
            self._say(f"Export failed: {error}", error=True)
        else:
            self._say(f"Exported {count} rows to {path}.")

    @property
    def is_writing_report(self) -> bool:
        return self._report_worker is not None and not self._report_worker.wait(0)

    def export_pdf(self, path: Path) -> bool:
        """Write the shown scan's PDF report (worklist with review marks, flagged films with
        Grad-CAM) to ``path`` in the background; ``reportWritten`` follows, or the error is
        shown. False (with a message) if it can't start."""
        problem = ("No scan is shown." if self._scan_id is None
                   else "The model is still loading." if self._classifier is None
                   else "A report is already being written." if self.is_writing_report
                   else None)
        if problem:
            self._say(problem, error=True)
            return False
        # Read on this thread (the store's connection is this thread's); draw in the worker.
        info, results = self._store.scan(self._scan_id), self._store.results(self._scan_id)
        # Imported here: matplotlib's PDF backend costs a second of start-up.
        from pneumo_desktop.core.pdf_report import write_scan_report

        worker = FunctionWorker(write_scan_report, Path(path), info, results, self._classifier)
        worker.signals.returned.connect(self._on_report_written)
        worker.signals.errored.connect(self._on_report_failed)
        worker.signals.finished.connect(self._update_actions)
        self._report_worker = worker
        self._say(f"Writing the PDF report of scan #{info.id}…")
        self._update_actions()
        worker.start()
        return True

    def _choose_report(self) -> None:
        start = Path.home() / f"pneumo_scan_{self._scan_id}.pdf"
        name, _ = QFileDialog.getSaveFileName(self, "PDF report", str(start),
                                              "PDF files (*.pdf)")
        if name:
            self.export_pdf(Path(name) if name.lower().endswith(".pdf") else Path(name + ".pdf"))

    def _on_report_written(self, path: Path) -> None:
        self._say(f"PDF report written to {path}.")
        self.reportWritten.emit(str(path))

    def _on_report_failed(self, error: BaseException) -> None:
        self._say(f"The PDF report could not be written: {error}", error=True)

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
        self.scan_button.setEnabled(self._classifier is not None and not scanning)
        self.scan_button.setToolTip(
            "The model is still loading…" if self._classifier is None
            else "A scan is running" if scanning
            else "Classify every image in a folder (and its subfolders)")
        self.resume_button.setEnabled(self._classifier is not None and not scanning and loaded
                                      and self._scan_state is not ScanState.COMPLETE)
        self.cancel_button.setEnabled(scanning)
        self.export_button.setEnabled(loaded and not scanning)
        self.report_button.setEnabled(loaded and not scanning and self._classifier is not None
                                      and not self.is_writing_report)
        self.report_button.setToolTip(
            "The model is still loading…" if self._classifier is None
            else "Summary, worklist and the flagged films with Grad-CAM, as a PDF")
        self.scans_combo.setEnabled(not scanning)
