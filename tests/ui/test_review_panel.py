"""The review panel over core/review.py: what each control emits, what it shows, and a note
typed for one film never landing on another."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from pneumo_desktop.core.results import ReviewMark, Status, StoredResult, Verdict
from pneumo_desktop.core.review import Review
from pneumo_desktop.ui.review_panel import ReviewEdit, ReviewPanel

CALLED = StoredResult("/films/a.png", Status.OK, 0.91, Verdict.PNEUMONIA)
OTHER = StoredResult("/films/b.png", Status.OK, 0.12, Verdict.NORMAL, note="old note")
UNREADABLE = StoredResult("/films/c.jpg", Status.ERROR, message="truncated")


@pytest.fixture
def panel(qtbot) -> tuple[ReviewPanel, list[ReviewEdit]]:
    widget = ReviewPanel()
    qtbot.addWidget(widget)
    edits: list[ReviewEdit] = []
    widget.reviewChanged.connect(edits.append)
    return widget, edits


def test_each_control_emits_the_rule_of_core_review(panel):
    widget, edits = panel
    widget.set_result(CALLED)
    widget.agree_button.click()
    widget.disagree_button.click()
    widget.label_combo.setCurrentText(Verdict.PNEUMONIA)
    widget.label_combo.activated.emit(widget.label_combo.currentIndex())  # a user's choice
    widget.clear_button.click()
    assert edits == [
        ReviewEdit(CALLED.path, Review(ReviewMark.AGREE), None),
        ReviewEdit(CALLED.path, Review(ReviewMark.DISAGREE, Verdict.NORMAL), None),
        ReviewEdit(CALLED.path, Review(ReviewMark.AGREE), None),  # the model's own label
        ReviewEdit(CALLED.path, Review(None), None),
    ]


def test_it_shows_the_row_and_stays_disabled_for_films_without_a_verdict(panel):
    widget, edits = panel
    reviewed = replace(OTHER, review=ReviewMark.DISAGREE, corrected_label=Verdict.PNEUMONIA)
    widget.set_result(reviewed)
    assert widget.label_combo.currentText() == Verdict.PNEUMONIA
    assert widget.note_edit.text() == "old note" and widget.agree_button.isEnabled()
    for row in (UNREADABLE, None):
        widget.set_result(row)
        assert not any(w.isEnabled() for w in (widget.agree_button, widget.disagree_button,
                                                 widget.clear_button, widget.note_edit))
        widget.agree()
    assert edits == [] and widget.note_edit.text() == ""


def test_a_note_is_saved_to_the_film_it_was_typed_for(qtbot, panel):
    widget, edits = panel
    widget.set_result(OTHER)
    widget.note_edit.setFocus()
    qtbot.keyClicks(widget.note_edit, " on a")  # "a" and "d" are text here, not shortcuts
    qtbot.keyClick(widget.note_edit, Qt.Key.Key_Return)
    assert edits == [ReviewEdit(OTHER.path, Review(None), "old note on a")]
    widget.set_result(replace(OTHER, note="old note on a"))
    widget.note_edit.setText("typed, not yet saved")
    widget.note_edit.setModified(True)
    widget.set_result(CALLED)  # the host moved to another film first
    assert edits[-1] == ReviewEdit(OTHER.path, Review(None), "typed, not yet saved")
    assert widget.result is CALLED and widget.note_edit.text() == ""


def test_a_and_d_review_from_anywhere_in_the_scope(qtbot, panel):
    widget, edits = panel
    widget.add_shortcuts(widget)
    widget.set_result(CALLED)
    with qtbot.waitActive(widget):  # shortcuts only reach the active window
        widget.show()
        widget.activateWindow()
    widget.agree_button.setFocus()
    qtbot.keyClick(widget.agree_button, Qt.Key.Key_D)
    qtbot.keyClick(widget.agree_button, Qt.Key.Key_A)
    assert [edit.review.mark for edit in edits] == [ReviewMark.DISAGREE, ReviewMark.AGREE]
