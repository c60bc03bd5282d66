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
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.results import StoredResult, Verdict
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.controls import row
from pneumo_desktop.ui.results_model import (
    COL_FILE,
    COL_PROBABILITY,
    COL_VERDICT,
    FILTERS,
    ResultsFilterProxy,
    ResultsTableModel,
)
from pneumo_desktop.ui.review_panel import ReviewEdit, ReviewPanel

log = logging.getLogger(__name__)


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
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)

        self.review_panel = ReviewPanel(self)
        self.review_panel.add_shortcuts(self)
        self.review_panel.reviewChanged.connect(self.save_review)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.review_panel)

    # The scan shown ----------------------------------------------------------------------
    def show_results(self, scan_id: int | None, results: list[StoredResult]) -> None:
        """Show ``scan_id``'s results (None and [] before a new scan's first result)."""
        self._scan_id = scan_id
        self.model.set_results(results)
        self._update_summary()
        self._on_current_changed()

    def set_scan_id(self, scan_id: int) -> None:
        """The scan whose results stream in (its id is known once it has begun)."""
        self._scan_id = scan_id

    def add_result(self, result: StoredResult) -> None:
        """A result of the running scan, already committed."""
        self.model.upsert(result)
        self._update_summary()

    def merge_results(self, results: list[StoredResult]) -> None:
        """Add or update the rows that differ from ``results`` (a scan read again)."""
        for result in results:
            if self.result_for_path(result.path) != result:
                self.model.upsert(result)
        self._update_summary()

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
        self.reviewSaved.emit(edit.path)
        return True

    # Helpers -----------------------------------------------------------------------------
    def _order_changed(self, *_args) -> None:
        self.orderChanged.emit()

    def _on_current_changed(self, *_args) -> None:
        result = self.current_result()
        self.review_panel.set_result(result)
        self.currentPathChanged.emit(result.path if result is not None else "")

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit(self.model.result_at(self.proxy.mapToSource(index).row()).path)

    def _update_summary(self) -> None:
        counts = self.model.summary()
        self.summary_label.setText(
            f"{Verdict.PNEUMONIA} {counts[Verdict.PNEUMONIA]} · "
            f"{Verdict.NORMAL} {counts[Verdict.NORMAL]} · "
            f"not classified {counts['errors']} · reviewed {counts['reviewed']} / {counts['total']}"
        )
