"""Every keyboard shortcut of the app, in one table, and the Help → Keyboard shortcuts dialog
built from it.

The viewer and the window bind a key only through :func:`bind` (or :func:`key_sequences` for a
menu action), by the action's name in :data:`ACTIONS`: a name missing from the table is a
KeyError, so the dialog, which lists the table, cannot drift from the keys that work. The
worklist (``ui/worklist_view.py``) binds its own keys; its rows here are checked against the
keys it binds (tests/ui/test_main_window.py). Mouse gestures have no binding; :data:`MOUSE`
lists them for the same dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class KeyAction:
    name: str
    keys: tuple[str, ...]  # QKeySequence's portable text, e.g. "Ctrl+O", "PgDown"
    text: str  # what it does, for the dialog and tooltips
    area: str  # where it works


_WINDOW, _VIEWER, _REVIEW, _TOOLS, _WORKLIST = (
    "Anywhere", "Viewer: films", "Viewer: review", "Viewer: reading tools", "Worklist")

ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("open", ("Ctrl+O",), "Open a film (JPEG, PNG, TIFF, DICOM)", _WINDOW),
    KeyAction("scan_folder", ("Ctrl+Shift+O",), "Scan a folder", _WINDOW),
    KeyAction("tab_viewer", ("Ctrl+1",), "Viewer tab", _WINDOW),
    KeyAction("tab_worklist", ("Ctrl+2",), "Worklist tab", _WINDOW),
    KeyAction("tab_about", ("Ctrl+3",), "About / Validation tab", _WINDOW),
    # The site's tabs and menu (ui/site_features.py) bind these by name too.
    KeyAction("tab_calibration", ("Ctrl+4",), "Site calibration tab", _WINDOW),
    KeyAction("tab_audit", ("Ctrl+5",), "Audit trail tab", _WINDOW),
    KeyAction("dicom_result", ("Ctrl+Shift+D",),
              "Site → Write the DICOM result of the film on the viewer", _WINDOW),
    KeyAction("full_screen", ("F11",), "Full screen with the panels hidden (F11 or Esc leaves)",
              _WINDOW),
    KeyAction("shortcuts", ("F1",), "This list of keys", _WINDOW),
    KeyAction("quit", ("Ctrl+Q",), "Quit", _WINDOW),
    KeyAction("previous", ("PgUp", "Alt+Left"),
              "Previous film: of the worklist when opened from it, else of the folder", _VIEWER),
    KeyAction("next", ("PgDown", "Alt+Right"),
              "Next film: of the worklist when opened from it, else of the folder", _VIEWER),
    KeyAction("compare_prior", ("C",), "Show or hide the patient's earlier film beside this one",
              _VIEWER),
    KeyAction("agree_next", ("A",), "Agree with the verdict and go to the next film", _REVIEW),
    KeyAction("disagree_next", ("D",),
              "Disagree (the other label) and go to the next film", _REVIEW),
    KeyAction("note", ("N",), "Type a note for this film (Enter saves it)", _REVIEW),
    KeyAction("zoom_in", ("+", "="), "Zoom in", _TOOLS),
    KeyAction("zoom_out", ("-",), "Zoom out", _TOOLS),
    KeyAction("fit", ("F",), "Fit the whole film in the window", _TOOLS),
    KeyAction("actual_size", ("1",), "1:1, one film pixel per screen pixel, about the centre",
              _TOOLS),
    KeyAction("window_preset", ("W",), "Next window preset (Default, Lung, Bone, Soft tissue)",
              _TOOLS),
    KeyAction("window_reset", ("0",), "Default window, not inverted", _TOOLS),
    KeyAction("invert", ("I",), "Invert the grey scale", _TOOLS),
    KeyAction("rotate_right", ("R",), "Rotate the display 90° clockwise", _TOOLS),
    KeyAction("rotate_left", ("Shift+R",), "Rotate the display 90° anticlockwise", _TOOLS),
    KeyAction("flip", ("H",), "Flip the display left-right", _TOOLS),
    KeyAction("magnifier", ("M",), "Magnifier (a loupe following the mouse) on or off", _TOOLS),
    KeyAction("ruler", ("L",), "Ruler: drag to measure (mm when the DICOM says the pixel size)",
              _TOOLS),
    KeyAction("arrow", ("X",), "Arrow: drag from its tail to the point shown", _TOOLS),
    KeyAction("text", ("T",), "Text: click where it goes, then type it", _TOOLS),
    KeyAction("pan", ("Esc",), "Back to panning (ends the ruler, arrow or text tool)", _TOOLS),
    KeyAction("undo_mark", ("Ctrl+Z",), "Remove the last mark (ruler, arrow, text)", _TOOLS),
    KeyAction("worklist_agree", ("A",),
              "Agree with the selected film's verdict and go to the next film", _WORKLIST),
    KeyAction("worklist_disagree", ("D",), "Disagree with the selected film's verdict",
              _WORKLIST),
    KeyAction("worklist_note", ("N",), "Type a note for the selected film (Return: back)",
              _WORKLIST),
    KeyAction("worklist_preview", ("P",), "Show or hide the film preview", _WORKLIST),
    KeyAction("worklist_open", ("Return",),
              "Open the selected film in the viewer (or double-click)", _WORKLIST),
)

MOUSE: tuple[tuple[str, str], ...] = (
    ("Wheel", "Zoom about the pointer"),
    ("Left-drag", "Pan (with the ruler or arrow tool: draw)"),
    ("Right-drag", "Window: left/right = width (contrast), up/down = centre (brightness)"),
)

_BY_NAME = {action.name: action for action in ACTIONS}


def action(name: str) -> KeyAction:
    """The table's row; KeyError for a name that is not in it."""
    return _BY_NAME[name]


def key_sequences(name: str) -> list[QKeySequence]:
    return [QKeySequence(key) for key in action(name).keys]


def keys_text(name: str) -> str:
    """"PgDown or Alt+Right", for tooltips."""
    return " or ".join(QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)
                       for key in action(name).keys)


def tip(name: str, text: str | None = None) -> str:
    """A tooltip: ``text`` (else the table's) with the keys."""
    return f"{text or action(name).text} ({keys_text(name)})"


def bind(scope: QWidget, name: str, slot: Callable[[], object],
         context: Qt.ShortcutContext = Qt.ShortcutContext.WidgetWithChildrenShortcut,
         ) -> list[QShortcut]:
    """The keys of action ``name`` call ``slot`` while the focus is in ``scope`` (or as
    ``context`` says). The shortcuts are ``scope``'s children, named after the action."""
    made = []
    for sequence in key_sequences(name):
        shortcut = QShortcut(sequence, scope)
        shortcut.setContext(context)
        shortcut.setObjectName(f"shortcut_{name}")
        shortcut.activated.connect(slot)
        made.append(shortcut)
    return made


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: the table, then the mouse gestures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [(keys_text(a.name), a.text, a.area) for a in ACTIONS]
        rows += [(gesture, text, "Viewer: film") for gesture, text in MOUSE]
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Keys", "What it does", "Where"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 560)

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3))
                for r in range(self.table.rowCount())]
