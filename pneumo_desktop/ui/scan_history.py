"""The "Previous scans" box: every stored scan, newest first, to show one in the worklist.

Showing another scan replaces the worklist, so it happens only on a deliberate choice: a click
in the open list, or Enter there. The arrow keys and the mouse wheel on the closed box open the
list instead of switching scans one by one (Qt's default), so a stray key never swaps the
radiologist's worklist for another.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import QComboBox, QWidget

from pneumo_desktop.core.scan_lease import running_elsewhere
from pneumo_desktop.core.store import ScanInfo

_OPENING_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp,
                           Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End})


def scan_title(info: ScanInfo) -> str:
    """``#12 · 2024-05-06 22:10 · day_folder · complete 68/68``"""
    started = dt.datetime.fromisoformat(info.started).astimezone()
    total = "?" if info.total_files is None else info.total_files
    state = "running elsewhere" if running_elsewhere(info) else info.state
    return (f"#{info.id} · {started:%Y-%m-%d %H:%M} · {Path(info.folder).name} · "
            f"{state} {info.done_files}/{total}")


class ScanHistoryBox(QComboBox):
    """Lists scans; ``scanChosen`` carries the id of one the user picked (not the shown one)."""

    scanChosen = Signal(int)  # noqa: N815 - Qt naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="scans_combo")
        self.setMinimumContentsLength(30)
        self.setToolTip("Show an earlier scan in the worklist (open the list, then Enter)")
        self._shown: int | None = None
        self.activated.connect(self._on_activated)  # user choices only

    def show_scans(self, scans: list[ScanInfo], shown: int | None) -> None:
        """List ``scans`` (newest first) with ``shown``, the worklist's scan, selected."""
        self._shown = shown
        self.blockSignals(True)
        self.clear()
        for info in scans:
            self.addItem(scan_title(info), info.id)
            self.setItemData(self.count() - 1, info.folder, Qt.ItemDataRole.ToolTipRole)
        self.setCurrentIndex(self.findData(shown))
        self.blockSignals(False)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in _OPENING_KEYS:
            self.showPopup()  # choose there; Enter shows the scan, Escape keeps the worklist
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        event.ignore()  # scrolling past the box must not switch the worklist

    def _on_activated(self, index: int) -> None:
        scan_id = self.itemData(index)
        if scan_id is not None and scan_id != self._shown:
            self.scanChosen.emit(int(scan_id))
