"""Reading a worklist in the viewer: the review bar under the film, A and D stepping through the
worklist's order (as sorted and filtered), PageDown following the worklist or the folder, the
reader's marks kept with the review, and reviews made in either place shown in both. Real
widgets: a Batch tab that scanned a folder, a viewer, and the link between them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from pneumo_desktop.core import review
from pneumo_desktop.core.annotation_store import AnnotationStore
from pneumo_desktop.core.annotations import Annotation
from pneumo_desktop.core.results import ReviewMark, Verdict
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.batch_tab import BatchTab
from pneumo_desktop.ui.reading_order import WorklistOrder
from pneumo_desktop.ui.results_model import COL_PROBABILITY, COL_REVIEW
from pneumo_desktop.ui.review_panel import ReviewEdit
from pneumo_desktop.ui.viewer_tab import ViewerTab
from pneumo_desktop.ui.worklist_link import BatchTabWorklist
from tests.conftest import synthetic_xray
from tests.ui.test_batch_tab import write_films

TIMEOUT_MS = 60_000  # generous: a training job shares the CPU
#: The aim is under 1 s a step (issue 12); the bound here only catches a step gone wrong on a
#: busy shared machine. The test prints what it measured.
STEP_LIMIT_S = 5.0


@pytest.fixture
def reading(qtbot, inference, tmp_path):
    """A scan of six films (three pneumonia-like), a viewer linked to its worklist."""
    folder = write_films(tmp_path / "day", 6, seed=11)
    db = tmp_path / "r.sqlite3"
    batch = BatchTab(inference, db)
    batch.confirm = lambda question: False
    viewer = ViewerTab(inference)
    link = BatchTabWorklist(batch, db)
    viewer.set_worklist(link)
    batch.reviewSaved.connect(viewer.review_bar.refresh)
    for widget in (batch, viewer):
        qtbot.addWidget(widget)
    with qtbot.waitSignal(batch.scanFinished, timeout=TIMEOUT_MS):
        assert batch.start_scan(folder)
    viewer.resize(1100, 720)
    viewer.show()
    qtbot.waitExposed(viewer)
    yield batch, viewer, link, db
    link.close()


def open_from_worklist(qtbot, viewer: ViewerTab, path: str) -> None:
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        viewer.open_path(path, from_worklist=True)
    assert shown.args == [path]


def key_and_wait(qtbot, viewer: ViewerTab, key, text: str = "") -> tuple[str, float]:
    """Press ``key`` on the film and wait for the next film's verdict: (its path, seconds)."""
    viewer.image_view.setFocus()
    start = time.perf_counter()
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        qtbot.keyClick(viewer.image_view, key)
    return shown.args[0], time.perf_counter() - start


def stored(db, batch: BatchTab) -> dict:
    with ResultStore(db) as store:
        return {row.path: row for row in store.results(batch.current_scan_id)}


def test_a_steps_through_the_worklist_order_and_stores_each_agreement(qtbot, reading) -> None:
    batch, viewer, _, db = reading
    batch.worklist.table.sortByColumn(COL_PROBABILITY, Qt.SortOrder.AscendingOrder)
    order = batch.worklist_paths()
    assert order != sorted(order)  # the worklist's order is not the folder's
    open_from_worklist(qtbot, viewer, order[0])
    assert viewer.reading_order == "worklist"
    assert viewer.status_label.text() == "Worklist: film 1 of 6"
    assert viewer.review_bar.verdict_label.text().startswith("Scan's verdict: ")
    steps = []
    for index in range(1, 4):
        path, seconds = key_and_wait(qtbot, viewer, Qt.Key.Key_A)
        assert path == order[index]
        steps.append(seconds)
        assert batch.current_result().path == order[index]  # the worklist keeps the place
    print(f"\nA (agree and next) to the next verdict on screen: "
          f"{', '.join(f'{s:.2f}' for s in steps)} s")
    assert max(steps) < STEP_LIMIT_S
    rows = stored(db, batch)
    assert [rows[p].review for p in order[:3]] == [ReviewMark.AGREE] * 3
    assert all(rows[p].review is None for p in order[3:])
    assert batch.result_for_path(order[0]).review is ReviewMark.AGREE  # the worklist shows it

    # D disagrees (the other label) and goes on; N types a note that is saved with it.
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_N)
    note = viewer.review_bar.panel.note_edit
    assert note.hasFocus()
    qtbot.keyClicks(note, "look at the lateral")
    qtbot.keyClick(note, Qt.Key.Key_Return)
    assert viewer.image_view.hasFocus()  # back on the film: A and D work again
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_D)
    assert path == order[4]
    row = stored(db, batch)[order[3]]
    model_said = batch.result_for_path(order[3]).verdict
    assert row.review is ReviewMark.DISAGREE and row.note == "look at the lateral"
    assert row.corrected_label is ({Verdict.NORMAL: Verdict.PNEUMONIA,
                                     Verdict.PNEUMONIA: Verdict.NORMAL}[model_said])

    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_A)
    assert path == order[5]
    viewer.review_bar.agree_and_next()  # the last film: reviewed, and nowhere to go
    assert viewer.current_path == order[5] and stored(db, batch)[order[5]].review
    assert viewer.status_label.text() == "Last film of the worklist."


def test_unreviewed_filter_keeps_reviewed_films_in_sight_and_a_moves_on(qtbot,
                                                                          reading) -> None:
    batch, viewer, _, _ = reading
    batch.worklist.filter_combo.setCurrentText("Unreviewed")
    order = batch.worklist_paths()
    open_from_worklist(qtbot, viewer, order[0])
    for expected in order[1:3]:
        path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_A)
        assert path == expected
    assert batch.worklist_paths() == order  # marked films stay in sight…
    batch.worklist.filter_combo.setCurrentText("All")
    batch.worklist.filter_combo.setCurrentText("Unreviewed")  # …until the filter is chosen
    assert batch.worklist_paths() == order[2:]
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_A)  # the shown film is still in the list
    assert path == order[3]
    batch.worklist.filter_combo.setCurrentText("All")
    batch.worklist.filter_combo.setCurrentText("Unreviewed")  # order[2] reviewed: gone
    assert order[3] in batch.worklist_paths() and order[2] not in batch.worklist_paths()
    viewer.image_view.setFocus()
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_PageUp)  # nothing unreviewed before it
    assert viewer.current_path == order[3]
    assert viewer.status_label.text() == "First film of the worklist."


def test_page_down_follows_the_worklist_from_it_and_the_folder_otherwise(qtbot, reading) -> None:
    batch, viewer, _, _ = reading
    order = batch.worklist_paths()
    open_from_worklist(qtbot, viewer, order[2])
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_PageDown)
    assert path == order[3] and viewer.reading_order == "worklist"
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_PageUp)
    assert path == order[2]
    folder_order = sorted(order)
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS):
        viewer.open_path(folder_order[0])  # File → Open: the folder's order
    assert viewer.reading_order == "folder"
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_PageDown)
    assert path == folder_order[1]
    # Opened from the folder, a film of the scan can still be reviewed from the viewer.
    assert viewer.review_bar.panel.agree_button.isEnabled()


def test_reviews_show_in_both_places_and_marks_are_kept_with_the_review(qtbot, reading) -> None:
    batch, viewer, link, db = reading
    order = batch.worklist_paths()
    open_from_worklist(qtbot, viewer, order[0])
    assert batch.select_path(order[0])
    batch.worklist.review_panel.agree()  # reviewed in the worklist…
    assert viewer.review_bar.result.review is ReviewMark.AGREE  # …shows in the viewer at once
    viewer.review_bar.panel.note_edit.setText("small effusion?")
    viewer.review_bar.panel.note_edit.editingFinished.emit()
    assert batch.result_for_path(order[0]).note == "small effusion?"

    marks = [Annotation.arrow((10, 10), (60, 60)), Annotation.label((20, 90), "here")]
    for mark in marks:
        viewer.marks.add(mark)
    assert link.annotations(order[0]) == marks
    with AnnotationStore(db) as store:
        assert store.get(batch.current_scan_id, order[0]) == marks
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_PageDown)
    assert viewer.marks.marks() == []  # the next film has none
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_PageUp)
    assert path == order[0] and viewer.marks.marks() == marks  # reopened with the review's
    viewer.marks.undo_last()
    assert link.annotations(order[0]) == marks[:1]


def test_a_film_outside_the_scan_cannot_be_reviewed_and_says_why(qtbot, reading,
                                                                tmp_path) -> None:
    _, viewer, _, _ = reading
    other = tmp_path / "elsewhere.png"
    Image.fromarray(synthetic_xray(np.random.default_rng(1), False, size=96)).save(other)
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS):
        viewer.open_path(other)
    bar = viewer.review_bar
    assert bar.verdict_label.text() == "Not in the worklist's scan: no review here"
    assert not bar.panel.agree_button.isEnabled()
    viewer.image_view.setFocus()
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_A)
    assert viewer.current_path == str(other)  # nothing saved, nowhere gone
    assert viewer.status_label.text() == "Not in the worklist's scan: no review here"


def test_a_film_that_left_the_list_is_stepped_from_the_place_it_had() -> None:
    class Shown:  # the part of a worklist the order reads
        def __init__(self, paths):
            self.shown = list(paths)

        def paths(self):
            return list(self.shown)

    worklist = Shown(["a", "b", "c", "d"])
    order = WorklistOrder(worklist)
    assert order.position("b") == (2, 4) and order.neighbour("b", +1) == "c"
    worklist.shown.remove("b")  # reviewed, then the filter chosen again
    assert order.neighbour("b", +1) == "c" and order.neighbour("b", -1) == "a"
    worklist.shown = ["d", "c", "a"]  # re-sorted meanwhile: the order as it is now
    assert order.neighbour("c", +1) == "a" and order.neighbour("d", -1) is None


def test_the_case_pdf_from_the_viewer_carries_the_review_and_its_note(qtbot, reading,
                                                                      tmp_path) -> None:
    from tests.core.test_pdf_report import pdf_text

    batch, viewer, _, _ = reading
    path = batch.worklist_paths()[0]
    open_from_worklist(qtbot, viewer, path)
    viewer.review_bar.panel.note_edit.setText("right lower lobe consolidation")
    viewer.review_bar.panel.note_edit.editingFinished.emit()
    viewer.review_bar.panel.agree()
    out = tmp_path / "case.pdf"
    with qtbot.waitSignal(viewer.caseReportWritten, timeout=TIMEOUT_MS):
        assert viewer.export_case_pdf(out)
    text = pdf_text(out.read_bytes())
    assert "right lower lobe consolidation" in text and "Radiologist's review: " in text
    assert "not recorded" not in text


# A review that moves its own row (the worklist sorted by its Review column) must not change
# which film comes next: "and next" is the film after it *before* the review, in the viewer
# (A/D on the film) and in the worklist (A on the table).
def sort_by_review(batch) -> list[str]:
    batch.worklist.table.sortByColumn(COL_REVIEW, Qt.SortOrder.AscendingOrder)
    return batch.worklist_paths()  # unreviewed first: a reviewed film moves below them


def test_a_on_the_film_goes_to_the_film_after_it_although_the_review_moved_it(qtbot,
                                                                             reading) -> None:
    batch, viewer, _, _ = reading
    order = sort_by_review(batch)
    open_from_worklist(qtbot, viewer, order[0])
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_A)
    assert path == order[1]
    assert batch.result_for_path(order[0]).review is ReviewMark.AGREE
    assert batch.worklist_paths()[-1] == order[0]  # the review did move it
    path, _ = key_and_wait(qtbot, viewer, Qt.Key.Key_D)
    assert path == order[2]
    assert batch.result_for_path(order[1]).review is ReviewMark.DISAGREE


def test_a_on_the_worklist_selects_the_film_after_it_although_the_review_moved_it(
        qtbot, reading) -> None:
    batch, _, _, _ = reading
    order = sort_by_review(batch)
    table = batch.worklist.table
    with qtbot.waitActive(batch):  # the fixture shows the viewer only; keys need the tab
        batch.show()
        batch.activateWindow()
    batch.select_path(order[0])
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_A)
    assert batch.result_for_path(order[0]).review is ReviewMark.AGREE
    assert batch.current_result().path == order[1]
    qtbot.keyClick(table, Qt.Key.Key_A)
    assert batch.current_result().path == order[2]


def test_the_review_bar_follows_the_scan_the_worklist_shows(qtbot, reading) -> None:
    """A scan of the same folder again (or an earlier scan chosen) while a film is on the
    viewer: the bar shows that scan's row for the film, not the review of the scan before."""
    batch, viewer, _, _ = reading
    first_scan = batch.current_scan_id
    order = batch.worklist_paths()
    open_from_worklist(qtbot, viewer, order[0])
    key_and_wait(qtbot, viewer, Qt.Key.Key_A)
    key_and_wait(qtbot, viewer, Qt.Key.Key_PageUp)
    bar = viewer.review_bar
    assert viewer.current_path == order[0] and bar.result.review is ReviewMark.AGREE
    with qtbot.waitSignal(batch.scanFinished, timeout=TIMEOUT_MS):
        assert batch.start_scan(Path(order[0]).parent)
    assert batch.current_scan_id != first_scan
    assert batch.result_for_path(order[0]).review is None
    assert bar.result == batch.result_for_path(order[0])
    assert bar.panel.label_combo.currentText() == "—"
    assert batch.load_scan(first_scan)
    assert bar.result.review is ReviewMark.AGREE
    assert bar.panel.label_combo.currentText() == str(bar.result.final_label)


def type_a_note(qtbot, viewer: ViewerTab, text: str):
    """N on the film, then ``text`` typed into the note field (not saved yet); the field."""
    viewer.image_view.setFocus()
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_N)
    note = viewer.review_bar.panel.note_edit
    qtbot.keyClicks(note, text)
    return note


def test_page_down_from_a_note_saves_it_and_gives_the_keys_back_to_the_film(qtbot,
                                                                           reading) -> None:
    """N, a note, then PageDown: the note is kept with its film and A on the next film agrees
    with it (the keyboard must not stay in the note field, typing "a" into the next note)."""
    batch, viewer, _, db = reading
    order = batch.worklist_paths()
    open_from_worklist(qtbot, viewer, order[0])
    note = type_a_note(qtbot, viewer, "effusion")
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        qtbot.keyClick(note, Qt.Key.Key_PageDown)
    assert shown.args == [order[1]]
    assert stored(db, batch)[order[0]].note == "effusion"
    assert viewer.image_view.hasFocus()
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_A)
    assert shown.args == [order[2]]
    row = stored(db, batch)[order[1]]
    assert row.review is ReviewMark.AGREE and row.note is None


def test_page_down_from_a_note_to_a_film_the_scan_lacks_keeps_the_keys_on_the_film(
        qtbot, reading) -> None:
    """The next film is not in the scan (it came after it): the note field is disabled there,
    and the keyboard goes to the film, not to whatever Qt finds next."""
    batch, viewer, _, db = reading
    last = sorted(batch.worklist_paths())[-1]
    newcomer = Path(last).parent / "zz_after_the_scan.png"
    Image.fromarray(synthetic_xray(np.random.default_rng(1), True, size=120)).save(newcomer)
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS):
        viewer.open_path(last)
    note = type_a_note(qtbot, viewer, "old rib fracture")
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        qtbot.keyClick(note, Qt.Key.Key_PageDown)
    assert shown.args == [str(newcomer)] and not note.isEnabled()
    assert stored(db, batch)[last].note == "old rib fracture"
    assert viewer.image_view.hasFocus()


def test_clicking_the_note_after_a_window_number_keeps_the_keys_in_the_note(qtbot,
                                                                          reading) -> None:
    """A centre typed into the window row, then a click into the note: the note must keep the
    keyboard (leaving the spin box used to hand it to the film, where "a" agrees and moves on)."""
    batch, viewer, _, db = reading
    order = batch.worklist_paths()
    open_from_worklist(qtbot, viewer, order[0])
    centre = viewer.window_level.centre_spin
    qtbot.mouseClick(centre.lineEdit(), Qt.MouseButton.LeftButton)
    assert centre.hasFocus()
    centre.selectAll()
    qtbot.keyClicks(centre, "100")
    note = viewer.review_bar.panel.note_edit
    qtbot.mouseClick(note, Qt.MouseButton.LeftButton)
    assert note.hasFocus()
    qtbot.keyClicks(QApplication.focusWidget(), "air bronchogram")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert viewer.current_path == order[0] and viewer.image_view.window_level()[0] == 100
    row = stored(db, batch)[order[0]]
    assert row.note == "air bronchogram" and row.review is None
    centre.setFocus()
    qtbot.keyClicks(centre, "5")
    qtbot.keyClick(centre, Qt.Key.Key_Return)  # Enter in the window row: back to the film
    assert viewer.image_view.hasFocus()


def test_d_pressed_while_the_next_film_opens_does_not_overwrite_the_film_just_agreed(
        qtbot, reading) -> None:
    """A, then D before the next film is on screen: D must not land on the film A agreed with
    (the bar still shows it while the next one decodes)."""
    batch, viewer, _, db = reading
    order = batch.worklist_paths()
    open_from_worklist(qtbot, viewer, order[0])
    viewer.image_view.setFocus()
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        qtbot.keyClick(viewer.image_view, Qt.Key.Key_A)
        # The worklist stores a note meanwhile: the bar shows the film again, still not the
        # next one, so D must still wait.
        agreed = batch.result_for_path(order[0])
        assert batch.save_review(ReviewEdit(order[0], review.agree(agreed), "hilar"))
        qtbot.keyClick(viewer.image_view, Qt.Key.Key_D)  # no event loop in between
    assert shown.args == [order[1]]
    rows = stored(db, batch)
    assert rows[order[0]].review is ReviewMark.AGREE and rows[order[0]].note == "hilar"
    assert rows[order[1]].review is None and viewer.current_path == order[1]


def test_the_note_field_has_room_at_the_first_window_size(qtbot, reading) -> None:
    """At the window's first size (1280 wide, for a 1366x768 laptop), a note being typed
    shows a useful stretch of words beside the scan's verdict and the review buttons."""
    batch, viewer, _, _ = reading
    viewer.resize(1272, 600)  # the main window's first size less its frame
    open_from_worklist(qtbot, viewer, batch.worklist_paths()[0])
    qtbot.wait(50)  # the layout settles
    note = viewer.review_bar.panel.note_edit
    print(f"\nnote field: {note.width()} px; verdict: {viewer.review_bar.verdict_label.width()} px")
    assert note.width() >= 200
    assert viewer.review_bar.verdict_label.text().startswith("Scan's verdict: ")


def test_a_note_typed_on_the_viewer_keeps_the_keyboard_when_the_window_comes_back(
        qtbot, reading) -> None:
    batch, viewer, _, db = reading
    order = batch.worklist_paths()
    open_from_worklist(qtbot, viewer, order[0])
    note = type_a_note(qtbot, viewer, "comp")
    viewer.showMinimized()
    qtbot.waitUntil(viewer.isMinimized, timeout=2000)
    with qtbot.waitActive(viewer):
        viewer.showNormal()
        viewer.activateWindow()
    assert note.hasFocus()  # not the film, where "a" agrees and moves on
    qtbot.keyClicks(QApplication.focusWidget(), "are")
    qtbot.keyClick(note, Qt.Key.Key_Return)
    row = stored(db, batch)[order[0]]
    assert row.note == "compare" and row.review is None
