"""The Audit trail view: every review action, calibration change and revert, newest first,
filtered by film or action, exported as CSV. Read-only: the trail (``core/audit.py``) offers
no way to change a row, and neither does this view."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.core.audit import AuditAction, AuditEntry, AuditTrail
from pneumo_desktop.ui.controls import push_button, row

log = logging.getLogger(__name__)

ALL_ACTIONS = "All actions"
COLUMNS = ("When (UTC)", "Who", "Action", "Film", "SOP Instance UID", "File sha256", "Model",
           "Threshold", "Old", "New")
_Index = QModelIndex | QPersistentModelIndex


def value_text(value: str | None) -> str:
    """An old or new value as a person reads it: a mark, or an operating point."""
    if value is None:
        return "—"
    try:
        data = json.loads(value)
    except ValueError:
        return value
    if not isinstance(data, dict):
        return str(data)
    if "threshold" in data:  # an operating point
        return f"{data.get('source', '?')} {float(data['threshold']):.4f}"
    text = str(data.get("review") or "no mark")
    if data.get("corrected_label"):
        text += f" → {data['corrected_label']}"
    return text + (f" ({data['note']})" if data.get("note") else "")


def _cells(entry: AuditEntry) -> tuple[str, ...]:
    model = f"{entry.model_name} {entry.model_version}" if entry.model_name else ""
    threshold = "" if entry.threshold is None else \
        f"{entry.threshold:.4f} {entry.threshold_source or ''}".strip()
    return (entry.at.replace("T", " ").split("+")[0], entry.user, str(entry.action),
            entry.path or "", entry.sop_instance_uid or "",
            (entry.file_sha256 or "")[:16], model, threshold, value_text(entry.old_value),
            value_text(entry.new_value))


def matches(entry: AuditEntry, film: str) -> bool:
    """Whether the row is about the film the user typed: part of its path, or its SOP
    Instance UID or sha256 (or their start)."""
    film = film.strip().lower()
    return not film or any(film in (text or "").lower() for text in (
        entry.path, entry.sop_instance_uid, entry.file_sha256))


class AuditTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[AuditEntry] = []

    def set_entries(self, entries: list[AuditEntry]) -> None:
        self.beginResetModel()
        self._rows = list(entries)
        self.endResetModel()

    def entry_at(self, row: int) -> AuditEntry:
        return self._rows[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cells(entry)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:  # the full values, untruncated
            return (f"{entry.path or ''}\nsha256 {entry.file_sha256 or '—'}\n"
                    f"model sha256 {entry.model_sha256 or '—'}\n"
                    f"old: {entry.old_value}\nnew: {entry.new_value}")
        return None


class AuditView(QWidget):
    """Reads the trail of ``db_path`` when shown and on Refresh."""

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db_path = Path(db_path)
        self._entries: list[AuditEntry] = []
        self.film_edit = QLineEdit(self, objectName="film_filter")
        self.film_edit.setPlaceholderText("Film: part of its path, SOP Instance UID or sha256")
        self.film_edit.setClearButtonEnabled(True)
        self.film_edit.textChanged.connect(self._show)
        self.action_combo = QComboBox(self, objectName="action_filter")
        self.action_combo.addItems([ALL_ACTIONS, *(action.value for action in AuditAction)])
        self.action_combo.currentTextChanged.connect(self._show)
        self.refresh_button = push_button("Refresh", self.refresh, parent=self,
                                          name="audit_refresh_button")
        self.export_button = push_button("Export CSV…", self.choose_csv, parent=self,
                                         name="audit_export_button")
        self.count_label = QLabel(self, objectName="audit_count")
        self.message_label = QLabel(self, objectName="audit_message")
        self.message_label.setWordWrap(True)
        self.model = AuditTableModel(self)
        self.table = QTableView(self, objectName="audit_table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addLayout(row(self.film_edit, self.action_combo, self.refresh_button,
                             self.export_button))
        layout.addWidget(self.count_label)
        layout.addWidget(self.table)
        layout.addWidget(self.message_label)

    def refresh(self) -> None:
        try:
            with AuditTrail(self._db_path) as trail:
                self._entries = trail.entries()
                broken = trail.verify()
        except Exception as error:  # shown to the user, never a traceback
            log.exception("reading the audit trail of %s failed", self._db_path)
            self._say(f"The audit trail could not be read: {error}", error=True)
            return
        if broken is not None:
            self._say(f"Row {broken} of the audit trail was changed outside the app: the "
                      "trail from there on cannot be trusted.", error=True)
        else:
            self._say("")
        self._show()

    def shown_entries(self) -> list[AuditEntry]:
        """The rows on screen, newest first."""
        return [self.model.entry_at(row) for row in range(self.model.rowCount())]

    def write_csv(self, path: Path) -> int:
        """Every row of the trail (not only those shown), atomically; the number of rows."""
        with AuditTrail(self._db_path) as trail:
            count = trail.export_csv(Path(path))
        self._say(f"Wrote {count} audit rows to {path}.")
        return count

    def choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the audit trail",
                                              str(Path.home() / "audit_trail.csv"),
                                              "CSV (*.csv)")
        if path:
            try:
                self.write_csv(Path(path))
            except OSError as error:
                self._say(f"The audit trail could not be written: {error}", error=True)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.refresh()
        super().showEvent(event)

    def _show(self, *_args) -> None:
        action = self.action_combo.currentText()
        film = self.film_edit.text()
        shown = [entry for entry in reversed(self._entries)
                 if (action == ALL_ACTIONS or entry.action == action) and matches(entry, film)]
        self.model.set_entries(shown)
        self.table.resizeColumnsToContents()
        self.count_label.setText(f"{len(shown)} of {len(self._entries)} rows, newest first")

    def _say(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #b00020;" if error else "")
