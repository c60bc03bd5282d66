"""The worklist table: scan results as a Qt model, plus the filtering/sorting proxy.

Rows are :class:`~pneumo_desktop.core.results.StoredResult` objects. Results stream in one by
one during a scan, so a new row is inserted with ``beginInsertRows`` and a changed one signals
``dataChanged``: the view never resets mid-scan, which would lose the radiologist's selection
and scroll position.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from pneumo_desktop.core.results import ReviewMark, Status, StoredResult, Verdict

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # a sortable Python value (None = no value)

COL_FILE, COL_PROBABILITY, COL_VERDICT, COL_REVIEW, COL_NOTE, COL_STATUS = range(6)
HEADERS = ("File", "P(pneumonia)", "Verdict", "Review", "Note", "Status")

# Light backgrounds with black text: readable in both light and dark desktop themes.
_VERDICT_BACKGROUND = {
    Verdict.PNEUMONIA: QColor(255, 205, 205), Verdict.NORMAL: QColor(208, 240, 208),
}
_ERROR_FOREGROUND = QColor(170, 90, 0)

_Index = QModelIndex | QPersistentModelIndex


def review_text(row: StoredResult) -> str:
    if row.review is ReviewMark.AGREE:
        return f"✓ {ReviewMark.AGREE}"
    if row.review is ReviewMark.DISAGREE:
        text = f"✗ {ReviewMark.DISAGREE}"
        return f"{text} → {row.corrected_label}" if row.corrected_label else text
    return ""


class ResultsTableModel(QAbstractTableModel):
    """One row per scanned file, in arrival order; the proxy does the sorting."""

    def __init__(self, rows: list[StoredResult] | None = None, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[StoredResult] = []
        self._by_path: dict[str, int] = {}
        # Kept up to date per row so the summary costs O(1) per streamed result.
        self._counts: Counter[str] = Counter()
        if rows:
            self.set_results(rows)

    # Qt model interface ------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_value(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_FILE:
                return row.path
            if column == COL_STATUS and row.message:
                return row.message
            if column == COL_NOTE and row.note:
                return row.note
            return None
        if role == Qt.ItemDataRole.BackgroundRole and column == COL_VERDICT:
            colour = _VERDICT_BACKGROUND.get(row.verdict)
            return QBrush(colour) if colour and row.status is Status.OK else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == COL_VERDICT and row.status is Status.OK and row.verdict:
                return QBrush(QColor(0, 0, 0))
            if row.status is not Status.OK:
                return QBrush(_ERROR_FOREGROUND)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_PROBABILITY:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: StoredResult, column: int) -> str:
        if column == COL_FILE:
            return Path(row.path).name
        if column == COL_PROBABILITY:
            return "" if row.probability is None else f"{row.probability:.3f}"
        if column == COL_VERDICT:
            if row.status is not Status.OK or not row.verdict:
                return "—"
            # The bacteria/virus estimate is secondary information, shown after the verdict.
            return f"{row.verdict} ({row.subtype}?)" if row.subtype else str(row.verdict)
        if column == COL_REVIEW:
            return review_text(row)
        if column == COL_NOTE:
            return row.note or ""
        if row.status is Status.NOT_XRAY:
            return "not an X-ray"
        return str(Status.OK) if row.status is Status.OK else f"{Status.ERROR}: {row.message}"

    @staticmethod
    def _sort_value(row: StoredResult, column: int):
        if column == COL_PROBABILITY:
            return row.probability  # None for errors: the proxy keeps those at the bottom
        if column == COL_FILE:
            return Path(row.path).name.lower()
        return ResultsTableModel._display(row, column).lower()

    # Row access and updates --------------------------------------------------------------
    def set_results(self, rows: list[StoredResult]) -> None:
        """Replace everything (loading a scan): the one place that resets the model."""
        self.beginResetModel()
        self._rows = list(rows)
        self._by_path = {row.path: index for index, row in enumerate(self._rows)}
        self._counts = Counter()
        for row in self._rows:
            self._count(row, +1)
        self.endResetModel()

    def clear(self) -> None:
        self.set_results([])

    def upsert(self, row: StoredResult) -> int:
        """Append ``row``, or replace the row with the same path (a rescanned file); returns
        its row number."""
        existing = self._by_path.get(row.path)
        if existing is not None:
            self._replace(existing, row)
            return existing
        position = len(self._rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.append(row)
        self._by_path[row.path] = position
        self._count(row, +1)
        self.endInsertRows()
        return position

    def update_review(self, path: str, review: ReviewMark | None,
                      corrected_label: Verdict | None, note: str | None) -> None:
        position = self._by_path[path]
        old = self._rows[position]
        self._replace(
            position, replace(old, review=review, corrected_label=corrected_label, note=note)
        )

    def _replace(self, position: int, row: StoredResult) -> None:
        self._count(self._rows[position], -1)
        self._rows[position] = row
        self._count(row, +1)
        self.dataChanged.emit(self.index(position, 0), self.index(position, len(HEADERS) - 1))

    def row_for_path(self, path: str) -> int | None:
        return self._by_path.get(str(path))

    def result_at(self, row: int) -> StoredResult:
        return self._rows[row]

    def results(self) -> list[StoredResult]:
        return list(self._rows)

    def summary(self) -> dict[str, int]:
        """Counts of each :class:`Verdict` (``PNEUMONIA``, ``NORMAL``), ``errors`` (not
        classified: unreadable or not an X-ray), ``reviewed`` and ``total``."""
        keys = (Verdict.PNEUMONIA, Verdict.NORMAL, "errors", "reviewed")
        return {key: self._counts[key] for key in keys} | {"total": len(self._rows)}

    def _count(self, row: StoredResult, delta: int) -> None:
        if row.status is not Status.OK:
            self._counts["errors"] += delta
        elif row.verdict:
            self._counts[row.verdict] += delta
        if row.review:
            self._counts["reviewed"] += delta


# The filter names the combo shows; "Errors" includes films that are not X-rays.
FILTERS = ("All", Verdict.PNEUMONIA, Verdict.NORMAL, "Errors", "Unreviewed")


class ResultsFilterProxy(QSortFilterProxyModel):
    """Filters by verdict and sorts via :data:`SORT_ROLE`; rows without a value (errors, for
    the probability column) stay at the bottom whichever way the column is sorted."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._filter = "All"
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)  # a streamed-in or re-reviewed row moves into place

    @property
    def filter_name(self) -> str:
        return self._filter

    def set_filter(self, name: str) -> None:
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}; expected one of {FILTERS}")
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated
            self.beginFilterChange()
            self._filter = name
            self.endFilterChange()
        else:
            self._filter = name
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        if self._filter == "All":
            return True
        row = self.sourceModel().result_at(source_row)
        if self._filter == "Errors":
            return row.status is not Status.OK
        if self._filter == "Unreviewed":
            return row.status is Status.OK and not row.review
        return row.status is Status.OK and row.verdict == self._filter

    def lessThan(self, left: _Index, right: _Index) -> bool:  # noqa: N802
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            if a is None and b is None:
                return False
            # Qt sorts descending by reversing lessThan, so "missing is largest" in ascending
            # order and "missing is smallest" in descending order both put it last.
            descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
            return descending if a is None else not descending
        return a < b
