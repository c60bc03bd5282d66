"""Reading the worklist as a radiologist does: grouped by patient and study, a preview of the
selected film, the keyboard in the table after a tab switch, A agrees and moves on, and films
outside the intended age are marked."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTabWidget

from pneumo_desktop.core.card import ModelCard
from pneumo_desktop.core.grouping import Grouping
from pneumo_desktop.ui.batch_tab import BatchTab
from pneumo_desktop.ui.results_model import COL_GROUP, COL_PATIENT, COL_STATUS, COL_VERDICT
from tests.cards import card_data, write_card
from tests.dicom_films import make_dicom
from tests.fakes import FakeClassifier


def fake_card(folder: Path) -> ModelCard:
    """A card without equalisation: the fake model's P then follows the film's brightness."""
    data = card_data()
    data["input"]["equalize"] = None
    return ModelCard.load(write_card(folder, data))


@pytest.fixture
def fake_inference(make_inference, tmp_path):
    return make_inference(FakeClassifier(fake_card(tmp_path / "card")))


def film(brightness: int, size: int = 96) -> np.ndarray:
    """Black with a white band whose height gives the mean ``brightness`` (kept through the
    DICOM min-max stretch): the fake model's P rises with it, so the test sets the order."""
    pixels = np.zeros((size, size), np.uint8)
    pixels[: round(size * brightness / 255)] = 255
    return pixels


def write_clinic(folder: Path) -> Path:
    """Jane (4 y): two films of one study and one of another; Richard (34 y): one film; and a
    folder of two PNGs without tags."""
    folder.mkdir()
    jane = dict(PatientName="Doe^Jane", PatientID="P-0042", PatientAge="004Y")
    make_dicom(folder / "jane_1_pa", film(120), StudyInstanceUID="1.2.1", StudyDate="20240131",
               **jane)
    make_dicom(folder / "jane_1_lat", film(60), StudyInstanceUID="1.2.1", StudyDate="20240131",
               **jane)
    make_dicom(folder / "jane_2", film(150), StudyInstanceUID="1.2.2", StudyDate="20240301",
               **jane)
    make_dicom(folder / "richard", film(200), PatientName="Roe^Richard", PatientID="P-0099",
               PatientAge="034Y", StudyInstanceUID="1.2.9", StudyDate="20240202")
    (folder / "ward").mkdir()
    Image.fromarray(film(100)).save(folder / "ward" / "a.png")
    Image.fromarray(film(180)).save(folder / "ward" / "b.png")
    return folder


@pytest.fixture
def clinic_tab(qtbot, fake_inference, tmp_path) -> BatchTab:
    tab = BatchTab(fake_inference, tmp_path / "r.sqlite3")
    tab.confirm = lambda question: pytest.fail(f"unexpected question: {question}")
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.scanFinished, timeout=60000) as finished:
        assert tab.start_scan(write_clinic(tmp_path / "clinic"))
    assert finished.args[1] == "complete"
    return tab


def names(tab: BatchTab) -> list[str]:
    return [Path(path).name for path in tab.worklist_paths()]


def headings(tab: BatchTab) -> list[str]:
    proxy = tab.worklist.proxy
    return [proxy.index(row, COL_GROUP).data() for row in range(proxy.rowCount())]


def test_grouping_by_patient_and_by_study(qtbot, clinic_tab):
    tab = clinic_tab
    assert names(tab) == ["richard", "b.png", "jane_2", "jane_1_pa", "a.png", "jane_1_lat"]
    assert tab.worklist.table.isColumnHidden(COL_GROUP)
    with qtbot.waitSignal(tab.worklistOrderChanged, timeout=2000):
        tab.worklist.group_combo.setCurrentText("By patient")
    assert not tab.worklist.table.isColumnHidden(COL_GROUP)
    # Most suspicious group first, then by P inside each group; PNGs grouped by folder.
    assert names(tab) == ["richard", "b.png", "a.png", "jane_2", "jane_1_pa", "jane_1_lat"]
    assert headings(tab) == ["Roe, Richard · ID P-0099 · 34 y", "Folder ward", "",
                             "Doe, Jane · ID P-0042 · 4 y", "", ""]
    # Sorting the other way sorts inside the groups; the groups keep their order.
    tab.worklist.table.sortByColumn(COL_VERDICT, Qt.SortOrder.AscendingOrder)
    assert names(tab) == ["richard", "a.png", "b.png", "jane_1_lat", "jane_1_pa", "jane_2"]
    tab.worklist.set_grouping(Grouping.STUDY)
    assert tab.worklist.group_combo.currentText() == "By study"
    assert names(tab) == ["richard", "a.png", "b.png", "jane_2", "jane_1_lat", "jane_1_pa"]
    assert headings(tab)[3:] == ["Doe, Jane · 2024-03-01", "Doe, Jane · 2024-01-31", ""]
    assert tab.worklist.proxy.index(3, COL_PATIENT).data() == "Doe, Jane · ID P-0042 · 4 y"


def test_an_adult_film_is_marked_outside_intended_use(clinic_tab):
    tab = clinic_tab
    tab.worklist.filter_combo.setCurrentText("Outside intended use")
    assert names(tab) == ["richard"]
    status = tab.worklist.proxy.index(0, COL_STATUS)
    assert status.data() == "⚠ outside intended use" and "34 y" in status.data(
        Qt.ItemDataRole.ToolTipRole)
    assert tab.worklist.proxy.index(0, COL_VERDICT).data() == "Pneumonia likely"  # still shown
    assert "outside intended use 1" in tab.worklist.summary_label.text()
    assert tab.select_path(tab.worklist_paths()[0])
    assert "Outside intended use" in tab.worklist.preview.caption.text()


def test_the_preview_shows_the_selected_film(qtbot, clinic_tab):
    tab = clinic_tab
    preview = tab.worklist.preview
    tab.show()
    qtbot.waitExposed(tab)
    first, second = tab.worklist_paths()[:2]
    assert tab.select_path(first)
    qtbot.waitUntil(lambda: preview.shown_path == first, timeout=10000)
    assert not preview.picture.pixmap().isNull()
    assert "Pneumonia likely" in preview.caption.text() and "Roe, Richard" in \
        preview.caption.text()
    assert tab.select_path(second)
    qtbot.waitUntil(lambda: preview.shown_path == second, timeout=10000)
    started = time.perf_counter()
    assert tab.select_path(first)  # stepping back: kept, no decode
    assert preview.shown_path == first and time.perf_counter() - started < 0.5
    tab.worklist.preview_check.setChecked(False)
    assert not preview.isVisible()


def test_ctrl2_puts_the_keyboard_in_the_table_and_a_agrees_and_moves_on(qtbot, clinic_tab):
    tab = clinic_tab
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    elsewhere = QTabWidget()  # stands for the viewer, where the focus was
    tabs.addTab(elsewhere, "Viewer")
    tabs.addTab(tab, "Worklist")
    with qtbot.waitActive(tabs):
        tabs.show()
        tabs.activateWindow()
    elsewhere.setFocus()
    tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.worklist.table.hasFocus(), timeout=2000)
    order = tab.worklist_paths()
    assert tab.current_result().path == order[0]  # a film is selected at once
    qtbot.keyClick(tab.worklist.table, Qt.Key.Key_Down)
    assert tab.current_result().path == order[1]
    tab.worklist.filter_combo.setCurrentText("Unreviewed")
    assert tab.select_path(order[1])
    tab.worklist.table.setFocus()
    for expected in order[2:4]:
        qtbot.keyClick(tab.worklist.table, Qt.Key.Key_A)  # agree and next
        assert tab.current_result().path == expected
    assert [tab.result_for_path(p).review for p in order[1:3]] == ["agree", "agree"]
    assert tab.worklist_paths() == order  # marked films stay until the filter is chosen
    qtbot.keyClick(tab.worklist.table, Qt.Key.Key_D)  # disagree stays, for the note
    assert tab.current_result().path == order[3] and tab.current_result().review == "disagree"
    qtbot.keyClick(tab.worklist.table, Qt.Key.Key_N)
    assert tab.worklist.review_panel.note_edit.hasFocus()
    qtbot.keyClicks(tab.worklist.review_panel.note_edit, "old scar")
    qtbot.keyClick(tab.worklist.review_panel.note_edit, Qt.Key.Key_Return)
    assert tab.result_for_path(order[3]).note == "old scar"
    assert tab.worklist.table.hasFocus()  # back in the table for the next film
    tab.worklist.filter_combo.setCurrentText("All")
    tab.worklist.filter_combo.setCurrentText("Unreviewed")  # chosen again: marked ones go
    assert tab.worklist_paths() == [order[0], *order[4:]]
    tab.setParent(None)  # closed by qtbot, not deleted with the tab widget


def test_the_anonymise_choice_leaves_identity_out_of_csv_and_pdf(qtbot, clinic_tab, tmp_path):
    from tests.core.test_pdf_report import pdf_text

    tab = clinic_tab
    scan_id = tab.current_scan_id

    def export(name: str) -> str:
        tab.exports.write_csv(scan_id, tmp_path / f"{name}.csv")
        with qtbot.waitSignal(tab.reportWritten, timeout=60_000):
            assert tab.exports.write_pdf(scan_id, tmp_path / f"{name}.pdf")
        return ((tmp_path / f"{name}.csv").read_text(encoding="utf-8")
                + pdf_text((tmp_path / f"{name}.pdf").read_bytes()))

    tab.select_path(tab.worklist_paths()[0])
    tab.worklist.review_panel.disagree()  # overridden, with a note
    tab.worklist.review_panel.note_edit.setText("adult film, sent in error")
    tab.worklist.review_panel.note_edit.editingFinished.emit()  # Enter, or leaving the box
    assert tab.result_for_path(tab.worklist_paths()[0]).note == "adult film, sent in error"
    full = export("full")
    assert "Roe, Richard · ID P-0099 · 34 y" in full and "P-0042" in full
    assert "OVERRIDDEN" in full and "adult film, sent in error" in full
    tab.anonymise_button.click()  # the tab's button is the File menu's action
    assert tab.exports.anonymise_action.isChecked()
    anonymous = export("anonymous")
    for secret in ("Roe", "Richard", "Doe", "P-0042", "P-0099", "1.2.1"):
        assert secret not in anonymous
    assert "34 y · 2024-02-02" in anonymous and "adult film, sent in error" in anonymous


def test_the_case_pdf_gets_the_stored_review_the_reader_asked_once_and_anonymise(
        qtbot, clinic_tab, tmp_path, fake_inference):
    from PySide6.QtCore import QSettings

    from pneumo_desktop.core.pdf_report import write_case_report
    from pneumo_desktop.ui.case_report_details import CaseReportDetails
    from pneumo_desktop.ui.preferences import Preferences
    from tests.core.test_pdf_report import pdf_text

    tab = clinic_tab
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    details = CaseReportDetails(Preferences(settings), tab, tab)
    asked = []
    details.ask_reader = lambda: asked.append(1) or "Dr Ada Reader"
    film = next(p for p in tab.worklist_paths() if p.endswith("jane_2"))
    assert tab.select_path(film)
    tab.worklist.review_panel.agree()
    tab.worklist.review_panel.note_edit.setText("patchy right lower zone opacity")
    tab.worklist.review_panel.note_edit.editingFinished.emit()
    first = details(film)
    assert first["review"].note == "patchy right lower zone opacity"
    assert first["reader"] == "Dr Ada Reader" and first["anonymise"] is False
    tab.anonymise_button.click()
    assert details(film)["anonymise"] is True and asked == [1]  # asked once
    assert Preferences(settings).reader_name == "Dr Ada Reader"  # kept for the next start

    out = tmp_path / "case.pdf"
    write_case_report(out, film, fake_inference.classifier, **details(film))
    text = pdf_text(out.read_bytes())
    assert "patchy right lower zone opacity" in text and "Reader: Dr Ada Reader" in text
    assert "Radiologist's review: agreed" in text and "Doe" not in text


def test_the_subtype_is_worded_as_a_secondary_estimate_with_its_p_kept_upper_case():
    from pneumo_desktop.core.results import Status, StoredResult, Subtype, Verdict
    from pneumo_desktop.ui.results_model import subtype_text

    row = StoredResult("a.png", Status.OK, 0.9, Verdict.PNEUMONIA, subtype=Subtype.BACTERIA,
                       subtype_probability=0.44)
    assert subtype_text(row, first_word=True) == \
        "Likely bacteria (P(viral) = 0.44), a secondary estimate"
    assert subtype_text(row).startswith("likely bacteria")
    assert subtype_text(StoredResult("b.png", Status.OK, 0.1, Verdict.NORMAL)) == ""


def test_the_preview_of_an_unreadable_film_shows_the_whole_reason(qtbot, tmp_path):
    """A damaged file's reason, in a pane as narrow as it gets beside the table, is wrapped
    onto lines the reader can see, not cut off at both ends."""
    from pneumo_desktop.core.results import Status, StoredResult
    from pneumo_desktop.ui.film_preview import FilmPreview

    broken = tmp_path / "IM-0000-broken-with-a-long-name.jpeg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 64)
    preview = FilmPreview()
    qtbot.addWidget(preview)
    preview.resize(260, 400)
    preview.show()
    qtbot.waitExposed(preview)
    preview.show_result(StoredResult(str(broken), Status.ERROR, message="unreadable"))
    picture = preview.picture
    qtbot.waitUntil(lambda: broken.name in picture.text() and "Loading" not in picture.text(),
                    timeout=10000)
    one_line = picture.fontMetrics().horizontalAdvance(picture.text())
    assert one_line > picture.width()  # the reason is wider than the pane…
    assert picture.wordWrap()  # …so it is wrapped to it
    lines = picture.heightForWidth(picture.width()) // picture.fontMetrics().lineSpacing()
    assert 2 <= lines and picture.heightForWidth(picture.width()) <= picture.height()


def test_a_note_being_typed_keeps_the_keyboard_when_the_window_comes_back(qtbot, clinic_tab):
    """Minimised and restored mid-note: the worklist must not put the keyboard back in the
    table, where the next "a" typed would agree and move on."""
    tab = clinic_tab
    with qtbot.waitActive(tab):
        tab.show()
        tab.activateWindow()
    first = tab.worklist_paths()[0]
    assert tab.select_path(first)
    note = tab.worklist.review_panel.note_edit
    note.setFocus()
    qtbot.keyClicks(note, "comp")
    tab.showMinimized()
    qtbot.waitUntil(lambda: tab.isMinimized(), timeout=2000)
    with qtbot.waitActive(tab):
        tab.showNormal()
        tab.activateWindow()
    assert note.hasFocus()
    qtbot.keyClicks(QApplication.focusWidget(), "are with the lateral")
    qtbot.keyClick(note, Qt.Key.Key_Return)
    result = tab.result_for_path(first)
    assert result.note == "compare with the lateral" and result.review is None
