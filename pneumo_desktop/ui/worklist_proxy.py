"""The worklist's filter, sort and grouping, over :class:`~.results_model.ResultsTableModel`.

Sorting never moves errors off the bottom; grouping (by patient, by study, by folder for files
without DICOM tags: :mod:`pneumo_desktop.core.grouping`) keeps each group together, most
suspicious group first, and sorts inside each group by the chosen column. The worklist stays a
flat list, so Down and A walk film by film through every group.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont

from pneumo_desktop.core.grouping import Grouping, group_key, group_label
from pneumo_desktop.core.results import Band, Reason, ReviewMark, Status, StoredResult, Verdict
from pneumo_desktop.ui.results_model import COL_GROUP, COL_VERDICT, SORT_ROLE, ResultsTableModel

_GROUP_SHADE = QColor(226, 234, 246)  # every other group, behind its heading
_Index = QModelIndex | QPersistentModelIndex

# The filters the combo shows, each a test of one row; "Errors" includes films that are not
# X-rays. A row scanned before bands existed counts by its verdict.
FILTERS = {
    "All": lambda row: True,
    "Unreviewed": lambda row: row.status is Status.OK and not row.review,
    Band.LIKELY.wording: lambda row: row.status is Status.OK and (
        row.band is Band.LIKELY or (row.band is None and row.verdict is Verdict.PNEUMONIA)),
    Band.POSSIBLE.wording: lambda row: row.status is Status.OK and row.band is Band.POSSIBLE,
    Band.UNLIKELY.wording: lambda row: row.status is Status.OK and (
        row.band is Band.UNLIKELY or (row.band is None and row.verdict is Verdict.NORMAL)),
    "Overridden (disagreed)": lambda row: row.review is ReviewMark.DISAGREE,
    "Outside intended use": lambda row: row.reason is Reason.OUTSIDE_INTENDED_AGE,
    "Errors": lambda row: row.status is not Status.OK,
}
GROUPINGS = {"No grouping": Grouping.NONE, "By patient": Grouping.PATIENT,
             "By study": Grouping.STUDY}
_RESORT_MS = 150  # a streaming scan regroups at most this often


class ResultsFilterProxy(QSortFilterProxyModel):
    """Filters by :data:`FILTERS` and sorts via :data:`SORT_ROLE`; rows without a value
    (errors, for the probability column) stay at the bottom whichever way the column is
    sorted. Grouped (:meth:`set_grouping`), the groups come most suspicious first (by their
    highest P) whichever way the column is sorted, and the column sorts inside each group;
    the first row of a group carries its heading in the group column."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._filter = "All"
        # Films marked since the filter was chosen stay in sight (the mark must not move the
        # selection, nor a note typed next land on another film) until it is chosen again.
        self._kept: set[str] = set()
        self._grouping = Grouping.NONE
        self._ranks: dict[tuple[str, str], tuple] | None = None  # group key -> sort rank
        self._ordinals: dict[tuple[str, str], int] = {}  # group key -> place in the list
        self._regroup = QTimer(self, singleShot=True, interval=_RESORT_MS)
        self._regroup.timeout.connect(self.invalidate)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)  # a streamed-in or re-reviewed row moves into place

    def setSourceModel(self, model: ResultsTableModel) -> None:  # noqa: N802 - Qt's name
        super().setSourceModel(model)
        for signal in (model.rowsInserted, model.dataChanged, model.modelReset):
            signal.connect(self._source_changed)

    @property
    def filter_name(self) -> str:
        return self._filter

    @property
    def grouping(self) -> Grouping:
        return self._grouping

    def set_filter(self, name: str) -> None:
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}; expected one of {tuple(FILTERS)}")
        def change() -> None:
            self._filter, self._kept = name, set()

        self._change_filter(change)

    def keep_in_sight(self, path: str) -> None:
        """Keep ``path``'s row through the change about to be made to it (a review mark),
        whatever the filter, until the filter is chosen again."""
        self._kept.add(str(path))

    def set_grouping(self, grouping: Grouping) -> None:
        self._grouping, self._ranks = Grouping(grouping), None
        self.invalidate()

    def _change_filter(self, change) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:
            change()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        row = self.sourceModel().result_at(source_row)
        return row.path in self._kept or FILTERS[self._filter](row)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if self._grouping is not Grouping.NONE and index.isValid():
            if index.column() == COL_GROUP and role == Qt.ItemDataRole.DisplayRole:
                return group_label(self._row(index.row()), self._grouping) \
                    if self._starts_group(index.row()) else ""
            if index.column() == COL_GROUP and role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
            if role == Qt.ItemDataRole.BackgroundRole and index.column() != COL_VERDICT \
                    and self._group_number(index.row()) % 2:
                return QBrush(_GROUP_SHADE)
        return super().data(index, role)

    def lessThan(self, left: _Index, right: _Index) -> bool:  # noqa: N802
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        if self._grouping is not Grouping.NONE:
            source = self.sourceModel()
            a = self._rank(source.result_at(left.row()))
            b = self._rank(source.result_at(right.row()))
            if a != b:  # "a's group first", the same way up whichever way Qt sorts
                return (b < a) if descending else (a < b)
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            if a is None and b is None:
                return False
            # Qt sorts descending by reversing lessThan, so "missing is largest" in ascending
            # order and "missing is smallest" in descending order both put it last.
            return descending if a is None else not descending
        return a < b

    # Groups ------------------------------------------------------------------------------
    def _row(self, proxy_row: int) -> StoredResult:
        return self.sourceModel().result_at(self.mapToSource(self.index(proxy_row, 0)).row())

    def _key(self, proxy_row: int) -> tuple[str, str]:
        return group_key(self._row(proxy_row), self._grouping)

    def _starts_group(self, proxy_row: int) -> bool:
        return proxy_row == 0 or self._key(proxy_row - 1) != self._key(proxy_row)

    def _group_number(self, proxy_row: int) -> int:
        """The group's place in the list, from 0 (odd ones are shaded)."""
        self._group_ranks()
        return self._ordinals[self._key(proxy_row)]

    def _rank(self, row: StoredResult) -> tuple:
        return self._group_ranks()[group_key(row, self._grouping)]

    def _group_ranks(self) -> dict[tuple[str, str], tuple]:
        """Each group's place: highest P first, then its key (ties and groups of errors)."""
        if self._ranks is None:
            best: dict[tuple[str, str], float] = {}
            for row in self.sourceModel().results():
                key = group_key(row, self._grouping)
                best[key] = max(best.get(key, -1.0), -1.0 if row.probability is None
                                else row.probability)
            self._ranks = {key: (-p, key) for key, p in best.items()}
            ordered = sorted(self._ranks, key=self._ranks.__getitem__)
            self._ordinals = {key: number for number, key in enumerate(ordered)}
        return self._ranks

    def _source_changed(self, *_args) -> None:
        self._ranks = None
        if self._grouping is not Grouping.NONE:
            self._regroup.start()  # a new P may move its whole group
