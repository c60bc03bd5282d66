"""The viewer's review bar, under the film: the worklist's verdict for this film, Agree and
next (A), Disagree and next (D), the label and a note (N), by the rules of
:mod:`pneumo_desktop.core.review` (through :class:`ReviewPanel`).

A review belongs to a scan: the bar reviews the film's row in the worklist's current scan
(:class:`~.reading_order.Worklist`), whether the film was opened from the worklist or from its
folder, and is disabled, saying why, for a film the scan does not hold. "Next" is the next
film of the order the viewer is stepping through (the worklist's when the film was opened from
it), worked out *before* the review is saved: a worklist filtered on "Unreviewed" drops the
film as soon as it is reviewed. The reader's marks on the film are kept with the review.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from pneumo_desktop.core import review
from pneumo_desktop.core.annotations import Annotation
from pneumo_desktop.core.results import Status, StoredResult
from pneumo_desktop.ui import shortcuts
from pneumo_desktop.ui.reading_order import Worklist
from pneumo_desktop.ui.review_panel import ReviewEdit, ReviewPanel

log = logging.getLogger(__name__)

NOTE_MIN_WIDTH = 240  # pixels: about forty characters of a note in view


def scan_verdict_text(row: StoredResult) -> str:
    """What the scan said about the film, the verdict a review agrees or disagrees with."""
    if row.status is not Status.OK or row.verdict is None:
        return "Not classified in the scan: nothing to review"
    band = row.band.wording if row.band else str(row.verdict)
    probability = "" if row.probability is None else f", P {row.probability:.3f}"
    return f"Scan's verdict: {band} ({row.verdict}{probability})"


class ReviewBar(QWidget):
    """Review controls for the film on the viewer; see the module docstring."""

    #: After a review with "and next": the film to go to (None: the reviewed one was the
    #: last), as :attr:`find_next` gave it *before* the review was saved.
    nextRequested = Signal(object)  # noqa: N815 - Qt naming
    message = Signal(str)  # for the viewer's status line
    reviewSaved = Signal(object)  # noqa: N815 - the updated StoredResult

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worklist: Worklist | None = None
        self._path: str | None = None
        self._opening: str | None = None  # the film asked for, not yet on screen
        #: The film after the reviewed one, in the order being read (the viewer sets it). Asked
        #: before saving: a review may move its own row (a worklist sorted by its Review column).
        self.find_next: Callable[[str], str | None] = lambda path: None
        self.panel = ReviewPanel(self)
        self.panel.setObjectName("viewer_review_panel")
        for button, text, name, slot in (
                (self.panel.agree_button, "Agree, next", "agree_next", self.agree_and_next),
                (self.panel.disagree_button, "Disagree, next", "disagree_next",
                 self.disagree_and_next)):
            button.clicked.disconnect()
            button.clicked.connect(slot)
            button.setText(f"{text} ({shortcuts.keys_text(name)})")
            button.setToolTip(shortcuts.tip(name))
        self.panel.note_edit.setToolTip(shortcuts.tip("note"))
        self.panel.reviewChanged.connect(self._save)
        # At the first window size (1280 wide) the verdict wraps onto two lines rather than
        # leave the note a hundred pixels: a note being typed must show its words.
        self.verdict_label = QLabel(wordWrap=True)
        self.verdict_label.setObjectName("scan_verdict_label")
        self.panel.note_edit.setMinimumWidth(NOTE_MIN_WIDTH)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.verdict_label)
        row.addWidget(self.panel, 1)
        self.set_film(None, None)

    @property
    def result(self) -> StoredResult | None:
        """The scan's row of the film shown (None: none, or not in the scan)."""
        return self.panel.result

    @property
    def worklist(self) -> Worklist | None:
        return self._worklist

    def set_film(self, path: str | None, worklist: Worklist | None) -> None:
        """The film now on the viewer and the worklist whose scan may hold it."""
        self._path, self._worklist = path, worklist
        if path == self._opening:  # on screen now (refresh and sync show the same film again)
            self._opening = None
        row = worklist.result(path) if (worklist is not None and path is not None) else None
        self.panel.set_result(row)
        if path is None:
            text = ""
        elif worklist is None or worklist.scan_id is None:
            text = "Reviews are kept with a scan: scan this film's folder to review it"
        elif row is None:
            text = "Not in the worklist's scan: no review here"
        else:
            text = scan_verdict_text(row)
        self.verdict_label.setText(text)

    def refresh(self, path: str) -> None:
        """``path``'s review changed elsewhere (the worklist's own controls): show it."""
        if path == self._path:
            self.set_film(self._path, self._worklist)

    def set_opening(self, path: str) -> None:
        """``path`` is being opened. Until it is on screen (:meth:`set_film`), A and D do
        nothing: they would review the film still shown, the one just reviewed or left."""
        self._opening = path

    def sync(self) -> None:
        """The worklist's rows changed (another scan shown, the same folder scanned again, the
        film's result streamed in): show the row it now holds for the film, if that differs."""
        if self._path is not None and self._worklist is not None \
                and self._worklist.result(self._path) != self.result:
            self.set_film(self._path, self._worklist)

    def agree_and_next(self) -> None:
        self._review_and_next(review.agree)

    def disagree_and_next(self) -> None:
        self._review_and_next(review.disagree)

    def focus_note(self) -> None:
        if self.panel.note_edit.isEnabled():
            self.panel.note_edit.setFocus()
            self.panel.note_edit.selectAll()
        else:
            self.message.emit(self.verdict_label.text() or "Open a film first.")

    def stored_marks(self) -> list[Annotation]:
        row = self.result
        if row is None or self._worklist is None:
            return []
        try:
            return self._worklist.annotations(row.path)
        except Exception:  # a mark must never stop a film from opening
            log.exception("reading the marks of %s failed", row.path)
            return []

    def save_marks(self, marks: list[Annotation]) -> bool:
        """Keep the reader's marks with the film's review; False (with a message) when the film
        is not in the scan or they could not be stored."""
        row = self.result
        if row is None or self._worklist is None:
            self.message.emit("Marks are kept only for films of the worklist's scan.")
            return False
        try:
            self._worklist.save_annotations(row.path, marks)
        except Exception as error:  # shown to the user, never a traceback
            log.exception("saving the marks of %s failed", row.path)
            self.message.emit(f"The marks could not be saved: {error}")
            return False
        return True

    def _review_and_next(self, rule) -> None:
        if self._opening is not None:
            self.message.emit(f"Wait: {os.path.basename(self._opening)} is still opening.")
            return
        row = self.result
        if row is None or not review.reviewable(row):
            self.message.emit(self.verdict_label.text() or "Open a film first.")
            return
        target = self.find_next(row.path)
        if self._apply(rule, row):
            self.nextRequested.emit(target)

    def _apply(self, rule, row: StoredResult) -> bool:
        note = self.panel.note_edit.text().strip() or None
        return self._save(ReviewEdit(row.path, rule(row), note))

    def _save(self, edit: ReviewEdit) -> bool:
        if self._worklist is None:
            return False
        try:
            saved = self._worklist.save_review(edit)
        except Exception as error:  # shown to the user, never a traceback
            log.exception("saving the review of %s failed", edit.path)
            self.message.emit(f"The review could not be saved: {error}")
            return False
        if self._path is not None and saved is not None and saved.path == self._path:
            self.panel.set_result(saved)
            self.verdict_label.setText(scan_verdict_text(saved))
        self.reviewSaved.emit(saved)
        return True
