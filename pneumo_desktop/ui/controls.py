"""Small builders the widgets share, so a button or a row is made one way everywhere."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


def push_button(text: str, slot: Callable, *, parent: QWidget | None = None, name: str = "",
                tip: str = "", keeps_focus_away: bool = False) -> QPushButton:
    """A button calling ``slot`` when clicked. ``keeps_focus_away``: clicking it leaves the
    keyboard where it was (on the film, for the viewer's keys)."""
    button = QPushButton(text, parent)
    if name:
        button.setObjectName(name)
    if tip:
        button.setToolTip(tip)
    if keeps_focus_away:
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.clicked.connect(slot)
    return button


def row(*parts) -> QHBoxLayout:
    """A row of widgets; a string is a label, None a stretch."""
    layout = QHBoxLayout()
    for part in parts:
        if part is None:
            layout.addStretch(1)
        else:
            layout.addWidget(QLabel(part) if isinstance(part, str) else part)
    return layout
