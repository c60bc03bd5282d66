"""The worklist itself: the results table with its filter, the review controls under it, and the
public order of the films the viewer steps through.

:class:`WorklistView` shows one scan's :class:`StoredResult` rows (its host, the Batch tab,
hands them over), saves the radiologist's review marks to the host's store, and tells whoever
listens which films it shows in which order (``orderChanged``, :meth:`paths`) and which one is
selected (``currentPathChanged``). The viewer's review bar saves through :meth:`save_review`,
so a mark made there shows in the worklist at once, and the other way round.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.grouping import Grouping
from pneumo_desktop.core.results import Band, StoredResult
from pneumo_desktop.core.review import reviewable
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.controls import row
from pneumo_desktop.ui.film_preview import FilmPreview
from pneumo_desktop.ui.results_model import (
    COL_FILE,
    COL_GROUP,
    COL_NOTE,
    COL_PATIENT,
    COL_PROBABILITY,
    COL_REVIEW,
    COL_STATUS,
    COL_STUDY,
    COL_THRESHOLD,
    COL_VERDICT,
    ResultsTableModel,
)
from pneumo_desktop.ui.review_panel import ReviewEdit, ReviewPanel
from pneumo_desktop.ui.worklist_proxy import FILTERS, GROUPINGS, ResultsFilterProxy

log = logging.getLogger(__name__)

_COLUMN_WIDTHS = {COL_GROUP: 220, COL_FILE: 200, COL_PROBABILITY: 105, COL_VERDICT: 200,
                  COL_STATUS: 170, COL_REVIEW: 140, COL_NOTE: 160, COL_PATIENT: 210,
                  COL_STUDY: 150, COL_THRESHOLD: 100}
_FOCUS_STYLE = "QTableView#results_table:focus { border: 2px solid #2f6fdf; }"


class WorklistView(QWidget):
    """One scan's results, filtered and sorted, with review controls; see the module doc."""

    openRequested = Signal(str)  # noqa: N815 - Qt naming; Enter or double-click on a row
    orderChanged = Signal()  # noqa: N815 - the films shown, or their order, changed
    currentPathChanged = Signal(str)  # noqa: N815 - the selected film ("" for none)
    reviewSaved = Signal(str)  # noqa: N815 - a film's review mark or note was stored
    message = Signal(str, bool)  # the text for the user, whether it is an error

    def __init__(self, store: ResultStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._scan_id: int | None = None
        self.model = ResultsTableModel(parent=self)
        self.proxy = ResultsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        for signal in (self.proxy.layoutChanged, self.proxy.modelReset, self.proxy.rowsInserted,
                       self.proxy.rowsRemoved, self.proxy.rowsMoved):
            signal.connect(self._order_changed)

    def _build(self) -> None:
        self.filter_combo = QComboBox(self, objectName="filter_combo")
        self.filter_combo.addItems(list(FILTERS))
        self.filter_combo.currentTextChanged.connect(self.proxy.set_filter)
        self.group_combo = QComboBox(self, objectName="group_combo")
        self.group_combo.addItems(list(GROUPINGS))
        self.group_combo.setToolTip("Keep each patient's (or study's) films together; files "
                                    "without DICOM tags are grouped by folder")
        self.group_combo.currentTextChanged.connect(
            lambda text: self.set_grouping(GROUPINGS[text]))
        self.summary_label = QLabel(self, objectName="summary_label")
        self.preview_check = QCheckBox("Preview", self, objectName="preview_check",
                                       checked=True)
        self.preview_check.setToolTip("Show the selected film beside the worklist (P)")
        filters = row("Show:", self.filter_combo, self.group_combo, None, self.summary_label,
                      self.preview_check)

        self.table = QTableView(self, objectName="results_table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_PROBABILITY, Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in _COLUMN_WIDTHS.items():
            self.table.setColumnWidth(column, width)
        self.table.setColumnHidden(COL_GROUP, True)
        self.table.setWordWrap(False)  # one line a film: long words are elided, not cut
        # Where the keyboard is must show, also in themes whose focus frame is faint.
        self.table.setStyleSheet(_FOCUS_STYLE)
        # activated = double-click or Enter/Return (per the platform's style)
        self.table.activated.connect(self._on_activated)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)

        self.preview = FilmPreview(self)
        self.preview_check.toggled.connect(self.preview.setVisible)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)  # the film is worth the room

        self.review_panel = ReviewPanel(self)
        self.review_panel.reviewChanged.connect(self.save_review)
        self.review_panel.note_edit.returnPressed.connect(self.table.setFocus)
        for key, slot in (("A", self.agree_and_next), ("D", self.review_panel.disagree),
                          ("N", self.review_panel.note_edit.setFocus),
                          ("P", self.preview_check.toggle)):
            shortcut = QShortcut(QKeySequence(key), self)
            # A QLineEdit keeps its typed letters (it overrides shortcuts for text keys).
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.review_panel)

    def set_grouping(self, grouping: Grouping) -> None:
        """Group the worklist by patient or study (or not): films of a group together."""
        self.proxy.set_grouping(grouping)
        self.table.setColumnHidden(COL_GROUP, grouping is Grouping.NONE)
        self.group_combo.setCurrentText(next(k for k, v in GROUPINGS.items() if v == grouping))
        current = self.current_result()
        if current is not None:
            self.select_path(current.path)  # keep the selected film in sight

    def focus_table(self) -> None:
        """Put the keyboard in the table, on a film (the first if none is selected), so Down
        and A work straight away (after Ctrl+2, say)."""
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        if not self.table.currentIndex().isValid() and self.proxy.rowCount():
            self.table.setCurrentIndex(self.proxy.index(0, COL_FILE))

    def agree_and_next(self) -> None:
        """A: agree with the selected film's verdict, then go to the next film in the order
        shown (a film marked stays in sight until the filter is chosen again)."""
        current = self.current_result()
        if current is None or not reviewable(current):
            return
        # The order before the mark: sorted by the Review column, the mark moves the row.
        paths = self.paths()
        position = paths.index(current.path)
        self.review_panel.agree()
        if position + 1 < len(paths):
            self.select_path(paths[position + 1])
        else:
            self.message.emit("That was the last film of the worklist.", False)

    # The scan shown ----------------------------------------------------------------------
    def show_results(self, scan_id: int | None, results: list[StoredResult]) -> None:
        """Show ``scan_id``'s results (None and [] before a new scan's first result)."""
        self._scan_id = scan_id
        self.model.set_results(results)
        self._show_patient_columns(any(result.study for result in results))
        self._update_summary()
        self._on_current_changed()

    def _show_patient_columns(self, show: bool) -> None:
        """The patient and study columns, only for a scan with DICOM films (else empty)."""
        for column in (COL_PATIENT, COL_STUDY):
            self.table.setColumnHidden(column, not show)

    def set_scan_id(self, scan_id: int) -> None:
        """The scan whose results stream in (its id is known once it has begun)."""
        self._scan_id = scan_id

    def add_result(self, result: StoredResult) -> None:
        """A result of the running scan, already committed."""
        self.model.upsert(result)
        if result.study is not None:
            self._show_patient_columns(True)
        self._update_summary()

    def merge_results(self, results: list[StoredResult]) -> None:
        """Add or update the rows that differ from ``results`` (a scan read again)."""
        for result in results:
            if self.result_for_path(result.path) != result:
                self.add_result(result)

    # The order of films and the selection (the viewer steps through these) ----------------
    def paths(self) -> list[str]:
        """The paths of the films shown, in the order shown (after sorting and filtering)."""
        return [self.model.result_at(self.proxy.mapToSource(self.proxy.index(r, 0)).row()).path
                for r in range(self.proxy.rowCount())]

    def select_path(self, path: str) -> bool:
        """Select ``path``'s row (scrolled into view); False if the worklist does not show it
        (not in this scan, or filtered out)."""
        source = self.model.row_for_path(str(path))
        if source is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(source, COL_FILE))
        if not index.isValid():
            return False
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)
        return True

    def current_result(self) -> StoredResult | None:
        """The selected row (None when nothing is selected)."""
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.model.result_at(self.proxy.mapToSource(index).row())

    def result_for_path(self, path: str) -> StoredResult | None:
        """The shown scan's result for ``path`` (None when it has none)."""
        source = self.model.row_for_path(str(path))
        return None if source is None else self.model.result_at(source)

    # Review ------------------------------------------------------------------------------
    def save_review(self, edit: ReviewEdit) -> bool:
        """Store ``edit`` for the shown scan and show it; False (with a message) if it could
        not be saved. The worklist's panel and the viewer's review bar both save here."""
        if self._scan_id is None or self.model.row_for_path(edit.path) is None:
            self.message.emit(f"{edit.path} is not in the scan shown.", True)
            return False
        mark = edit.review
        self.proxy.keep_in_sight(edit.path)
        try:
            self._store.set_review(self._scan_id, edit.path, mark.mark, mark.corrected_label,
                                   edit.note)
        except Exception as error:  # shown to the user, never a traceback
            log.exception("saving the review of %s failed", edit.path)
            self.message.emit(f"The mark could not be saved: {error}", True)
            return False
        self.model.update_review(edit.path, mark.mark, mark.corrected_label, edit.note)
        self._update_summary()
        shown = self.review_panel.result
        if shown is not None and shown.path == edit.path:
            self.review_panel.set_result(self.result_for_path(edit.path))
            self.preview.show_result(self.result_for_path(edit.path))
        self.reviewSaved.emit(edit.path)
        return True

    # Helpers -----------------------------------------------------------------------------
    def _order_changed(self, *_args) -> None:
        self.orderChanged.emit()

    def _on_current_changed(self, *_args) -> None:
        result = self.current_result()
        self.review_panel.set_result(result)
        self.preview.show_result(result)
        self.currentPathChanged.emit(result.path if result is not None else "")

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit(self.model.result_at(self.proxy.mapToSource(index).row()).path)

    def _update_summary(self) -> None:
        counts = self.model.summary()
        parts = [f"{band.wording.split(' —')[0]} {counts[band]}" for band in Band]
        parts.append(f"not classified {counts['errors']}")
        if counts["outside"]:
            parts.append(f"outside intended use {counts['outside']}")
        parts.append(f"reviewed {counts['reviewed']} / {counts['total']}")
        if counts["overridden"]:
            parts.append(f"overridden {counts['overridden']}")
        self.summary_label.setText(" · ".join(parts))
