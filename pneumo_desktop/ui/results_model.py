"""The worklist table: scan results as a Qt model (the filtering, sorting and grouping proxy
is :mod:`.worklist_proxy`).

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
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from pneumo_desktop.core.grouping import patient_text, study_text
from pneumo_desktop.core.results import Band, Reason, ReviewMark, Status, StoredResult, Verdict

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # a sortable Python value (None = no value)

# What a reader needs first comes first; the patient and study are also the groups' headings.
(COL_GROUP, COL_FILE, COL_PROBABILITY, COL_VERDICT, COL_STATUS, COL_REVIEW, COL_NOTE,
 COL_PATIENT, COL_STUDY, COL_THRESHOLD) = range(10)
HEADERS = ("Group", "File", "P(pneumonia)", "Verdict", "Status", "Review", "Note", "Patient",
           "Study", "Threshold")

# Light backgrounds with black text: readable in both light and dark desktop themes. The band
# decides the colour (a "possible" film is amber, not the red of a likely one).
_BAND_BACKGROUND = {
    Band.LIKELY: QColor(255, 205, 205), Band.POSSIBLE: QColor(255, 228, 170),
    Band.UNLIKELY: QColor(208, 240, 208),
}
_VERDICT_BACKGROUND = {  # rows scanned before bands existed
    Verdict.PNEUMONIA: QColor(255, 205, 205), Verdict.NORMAL: QColor(208, 240, 208),
}
_ERROR_FOREGROUND = QColor(170, 90, 0)
OUTSIDE_INTENDED_USE = "⚠ outside intended use"

_Index = QModelIndex | QPersistentModelIndex


def review_text(row: StoredResult) -> str:
    if row.review is ReviewMark.AGREE:
        return f"✓ {ReviewMark.AGREE}"
    if row.review is ReviewMark.DISAGREE:
        text = f"✗ {ReviewMark.DISAGREE}"
        return f"{text} → {row.corrected_label}" if row.corrected_label else text
    return ""


def verdict_text(row: StoredResult) -> str:
    """The band's words (the verdict for rows scanned before bands)."""
    if row.status is not Status.OK or not row.verdict:
        return "—"
    return row.band.wording if row.band else str(row.verdict)


def subtype_text(row: StoredResult, *, first_word: bool = False) -> str:
    """``likely bacteria (P(viral) = 0.21), a secondary estimate`` ("Likely …" as the
    ``first_word`` of a line); "" without one."""
    if row.subtype is None:
        return ""
    viral = row.subtype_probability
    viral = "" if viral is None else f" (P(viral) = {viral:.2f})"
    return f"{'L' if first_word else 'l'}ikely {row.subtype}{viral}, a secondary estimate"


def threshold_text(row: StoredResult) -> str:
    """``0.0430 site``: the operating threshold that made the verdict, and its source."""
    if row.threshold is None:
        return ""
    return f"{row.threshold:.4f} {row.threshold_source or ''}".strip()


def verdict_tooltip(row: StoredResult) -> str | None:
    if row.status is not Status.OK or row.probability is None or not row.verdict:
        return None
    lines = [f"P(pneumonia) = {row.probability:.3f}: {verdict_text(row)}"]
    if row.threshold is not None:
        lines.append(f"{row.verdict} at the operating threshold {row.threshold:.4f} "
                     f"({row.threshold_source or 'source unknown'})")
    if row.subtype is not None:  # secondary information: here, not in the column
        lines.append(subtype_text(row, first_word=True))
    if row.reason is Reason.OUTSIDE_INTENDED_AGE:
        lines.append(row.message)
    return "\n".join(lines)


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
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.BackgroundRole and column == COL_VERDICT:
            if row.status is not Status.OK:
                return None
            colour = _BAND_BACKGROUND.get(row.band) or _VERDICT_BACKGROUND.get(row.verdict)
            return QBrush(colour) if colour else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == COL_VERDICT and row.status is Status.OK and row.verdict:
                return QBrush(QColor(0, 0, 0))
            if row.status is not Status.OK or (column == COL_STATUS and row.reason):
                return QBrush(_ERROR_FOREGROUND)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_PROBABILITY,
                                                                     COL_THRESHOLD):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: StoredResult, column: int) -> str:
        if column == COL_FILE:
            return Path(row.path).name
        if column == COL_PROBABILITY:
            return "" if row.probability is None else f"{row.probability:.3f}"
        if column == COL_VERDICT:
            return verdict_text(row)
        if column == COL_THRESHOLD:
            return threshold_text(row)
        if column == COL_PATIENT:
            return patient_text(row)
        if column == COL_STUDY:
            return study_text(row)
        if column == COL_REVIEW:
            return review_text(row)
        if column == COL_NOTE:
            return row.note or ""
        if column != COL_STATUS:
            return ""  # the group column: the proxy writes each group's heading
        if row.status is Status.NOT_XRAY:
            return "not an X-ray"
        if row.status is not Status.OK:
            return f"{Status.ERROR}: {row.message}"
        if row.reason is Reason.OUTSIDE_INTENDED_AGE:
            return OUTSIDE_INTENDED_USE
        return ""  # classified, nothing to add

    @staticmethod
    def _tooltip(row: StoredResult, column: int) -> str | None:
        if column == COL_FILE:
            return row.path
        if column in (COL_VERDICT, COL_PROBABILITY, COL_THRESHOLD):
            return verdict_tooltip(row)
        if column == COL_STATUS and row.message:
            return row.message
        if column == COL_NOTE and row.note:
            return row.note
        if column in (COL_PATIENT, COL_STUDY) and row.study is not None:
            return f"Study UID {row.study.study_uid}" if row.study.study_uid else None
        return None

    @staticmethod
    def _sort_value(row: StoredResult, column: int):
        if column in (COL_PROBABILITY, COL_VERDICT):  # the band follows P
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
        """Counts of each :class:`Verdict` and :class:`Band`, ``errors`` (not classified:
        unreadable or not an X-ray), ``outside`` (outside the intended age), ``reviewed``,
        ``overridden`` (the radiologist disagreed) and ``total``."""
        keys = (*Verdict, *Band, "errors", "outside", "reviewed", "overridden")
        return {key: self._counts[key] for key in keys} | {"total": len(self._rows)}

    def _count(self, row: StoredResult, delta: int) -> None:
        if row.status is not Status.OK:
            self._counts["errors"] += delta
        elif row.verdict:
            self._counts[row.verdict] += delta
            if row.band:
                self._counts[row.band] += delta
        if row.reason is Reason.OUTSIDE_INTENDED_AGE:
            self._counts["outside"] += delta
        if row.review:
            self._counts["reviewed"] += delta
        if row.review is ReviewMark.DISAGREE:
            self._counts["overridden"] += delta
