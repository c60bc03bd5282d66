"""The viewer's tool row: previous/next, fit, 1:1 and the zoom shown, rotate, flip, magnifier,
the mark tools (ruler, arrow, text, undo), the earlier film, and the case PDF.

Its buttons never take the keyboard focus (the film keeps it for its keys), and each tooltip
names its keys from the one shortcut table.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

from pneumo_desktop.ui import shortcuts
from pneumo_desktop.ui.film_marks import Tool


def tool_button(text: str, action: str, slot: Callable | None = None, *, checkable: bool = False,
                tip: str | None = None) -> QToolButton:
    """A button for the shortcut table's ``action`` (its keys in the tooltip), or for a
    keyless ``action`` when ``tip`` is given and the table has no such row."""
    button = QToolButton()
    button.setText(text)
    button.setObjectName(f"{action}_button")
    keyed = action in {row.name for row in shortcuts.ACTIONS}
    button.setToolTip(shortcuts.tip(action, tip) if keyed else tip)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.setCheckable(checkable)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    if slot is not None:
        (button.toggled if checkable else button.clicked).connect(slot)
    return button


class ViewerToolbar(QWidget):
    """The buttons; the viewer connects what they do (see :class:`ViewerTab`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.previous_button = tool_button("◀ Previous", "previous")
        self.next_button = tool_button("Next ▶", "next")
        self.fit_button = tool_button("Fit", "fit")
        self.actual_button = tool_button("1:1", "actual_size")
        self.zoom_label = QLabel("—")
        self.zoom_label.setObjectName("zoom_label")
        self.zoom_label.setToolTip("Zoom: 100% = one film pixel per screen pixel")
        self.zoom_label.setMinimumWidth(44)
        self.rotate_left_button = tool_button("⟲", "rotate_left")
        self.rotate_right_button = tool_button("⟳", "rotate_right")
        self.flip_button = tool_button("⇋", "flip")
        self.magnifier_button = tool_button("Loupe", "magnifier", checkable=True)
        self.tool_buttons = {
            Tool.RULER: tool_button("Ruler", "ruler", checkable=True),
            Tool.ARROW: tool_button("Arrow", "arrow", checkable=True),
            Tool.TEXT: tool_button("Text", "text", checkable=True),
        }
        self.tools = QButtonGroup(self)
        self.tools.setExclusive(False)  # a checked tool clicked again goes back to panning
        for button in self.tool_buttons.values():
            self.tools.addButton(button)
        self.undo_button = tool_button("Undo mark", "undo_mark")
        self.compare_button = tool_button("Earlier film", "compare_prior", checkable=True)
        self.compare_button.setEnabled(False)
        self.case_pdf_button = tool_button(
            "Case PDF…", "case_pdf", tip="This film, its Grad-CAM and the verdict on one PDF page")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        for widget in (self.previous_button, self.next_button, None, self.fit_button,
                       self.actual_button, self.zoom_label, self.rotate_left_button,
                       self.rotate_right_button, self.flip_button, self.magnifier_button, None,
                       *self.tool_buttons.values(), self.undo_button, None,
                       self.compare_button):
            if widget is None:
                row.addSpacing(10)
            else:
                row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.case_pdf_button)

    def show_tool(self, tool: str) -> None:
        """Check the button of ``tool`` (none for panning)."""
        for kind, button in self.tool_buttons.items():
            button.blockSignals(True)
            button.setChecked(kind.value == tool)
            button.blockSignals(False)

    def show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")
