"""The radiologist's review controls for one result: Agree, Disagree, Clear, the corrected
label and a note, by the rules of :mod:`pneumo_desktop.core.review`.

The panel saves nothing itself, so the worklist and the viewer's review bar can share it: it
shows the :class:`StoredResult` its host gives it (:meth:`ReviewPanel.set_result`) and emits
``reviewChanged`` with a :class:`ReviewEdit`; the host stores it and gives the panel the
updated row back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from pneumo_desktop.core import review
from pneumo_desktop.core.results import StoredResult, Verdict
from pneumo_desktop.ui.controls import push_button

NO_LABEL = "—"


@dataclass(frozen=True)
class ReviewEdit:
    """What the radiologist decided about one film: the mark, and the note beside it."""

    path: str
    review: review.Review
    note: str | None


class ReviewPanel(QWidget):
    """One row of review controls; disabled unless the result can be reviewed."""

    reviewChanged = Signal(object)  # noqa: N815 - Qt naming; a ReviewEdit

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row: StoredResult | None = None

        self.agree_button = push_button("Agree (A)", self.agree, parent=self,
                                        name="agree_button")
        self.disagree_button = push_button("Disagree (D)", self.disagree, parent=self,
                                           name="disagree_button")
        self.clear_button = push_button("Clear mark", self.clear_mark, parent=self,
                                        name="clear_button")
        self.label_combo = QComboBox(self, objectName="label_combo")
        self.label_combo.addItems([NO_LABEL, Verdict.NORMAL, Verdict.PNEUMONIA])
        self.label_combo.setToolTip("The radiologist's label for this film")
        self.label_combo.activated.connect(self._on_label_chosen)  # user choices only
        self.note_edit = QLineEdit(self, objectName="note_edit")
        self.note_edit.setPlaceholderText("Note for this film (saved on Enter or leaving)")
        self.note_edit.editingFinished.connect(self._commit_note)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.agree_button, self.disagree_button, self.clear_button,
                       QLabel("Label:"), self.label_combo, QLabel("Note:"), self.note_edit):
            row.addWidget(widget)
        self.set_result(None)

    @property
    def result(self) -> StoredResult | None:
        """The row the controls show and edit."""
        return self._row

    def set_result(self, row: StoredResult | None) -> None:
        """Show ``row``'s review (None: nothing selected). A note typed for the previous row and
        not yet saved is saved to that row first, never to this one (also when there is no
        row now: a film the scan does not hold, or none selected)."""
        if self._row is not None and (row is None or row.path != self._row.path):
            self._commit_note()
        self._row = row
        enabled = row is not None and review.reviewable(row)
        for widget in (self.agree_button, self.disagree_button, self.clear_button,
                       self.label_combo, self.note_edit):
            widget.setEnabled(enabled)
        label = row.final_label if row is not None else None
        self.label_combo.setCurrentText(label or NO_LABEL)
        self.note_edit.setText((row.note or "") if row else "")
        self.note_edit.setModified(False)

    def add_shortcuts(self, scope: QWidget) -> None:
        """``A`` agrees and ``D`` disagrees while the focus is anywhere in ``scope``. A
        QLineEdit keeps its typed letters (it overrides shortcuts for text keys), so a note can
        contain a and d."""
        for key, slot in (("A", self.agree), ("D", self.disagree)):
            shortcut = QShortcut(QKeySequence(key), scope)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def agree(self) -> None:
        """The model's verdict is right."""
        self._apply(review.agree)

    def disagree(self) -> None:
        """The model's verdict is wrong: the corrected label is the other one."""
        self._apply(review.disagree)

    def set_corrected_label(self, label: Verdict | None) -> None:
        """The radiologist's label (see :func:`review.review_for_label`); None clears."""
        self._apply(lambda row: review.review_for_label(row, label))

    def clear_mark(self) -> None:
        self.set_corrected_label(None)

    def _apply(self, rule: Callable[[StoredResult], review.Review]) -> None:
        row = self._row
        if row is not None and review.reviewable(row):
            self.reviewChanged.emit(ReviewEdit(row.path, rule(row), row.note))

    def _on_label_chosen(self, index: int) -> None:
        text = self.label_combo.itemText(index)
        self.set_corrected_label(None if text == NO_LABEL else Verdict(text))

    def _commit_note(self) -> None:
        row = self._row
        if row is None or not review.reviewable(row):
            return
        note = self.note_edit.text().strip() or None
        if note != row.note:
            mark = review.Review(row.review, row.corrected_label)
            self.note_edit.setModified(False)
            self.reviewChanged.emit(ReviewEdit(row.path, mark, note))
