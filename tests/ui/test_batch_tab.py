"""The Batch tab: a scan fills the worklist, marks persist, export, cancel, close and resume."""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from pneumo_desktop.core.batch import run_scan
from pneumo_desktop.core.csv_export import csv_columns
from pneumo_desktop.core.results import Band, Reason, ScanResult
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.batch_tab import BatchTab
from pneumo_desktop.ui.results_model import (
    COL_FILE,
    COL_PROBABILITY,
    COL_REVIEW,
    COL_STATUS,
    COL_THRESHOLD,
    COL_VERDICT,
    SORT_ROLE,
)
from pneumo_desktop.ui.workers import running_workers
from pneumo_desktop.ui.worklist_proxy import FILTERS
from tests.conftest import synthetic_xray


class SlowClassifier:
    """The tiny classifier, slowed per batch so a scan is still running when the test acts."""

    def __init__(self, inner, delay: float = 0.05):
        self._inner, self._delay = inner, delay

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def classify_batch(self, images):
        time.sleep(self._delay)
        return self._inner.classify_batch(images)


def write_films(folder: Path, count: int, garbage: bool = False, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        pixels = synthetic_xray(rng, pneumonia=index % 2 == 0)
        Image.fromarray(pixels).save(folder / f"film_{index:03d}.png")
    if garbage:
        (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    return folder


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "r.sqlite3"


def make_tab(qtbot, inference, db_path: Path) -> BatchTab:
    tab = BatchTab(inference, db_path)
    tab.confirm = lambda question: pytest.fail(f"unexpected question: {question}")
    qtbot.addWidget(tab)
    return tab


def scan(qtbot, tab: BatchTab, folder: Path, **kwargs) -> list:
    with qtbot.waitSignal(tab.scanFinished, timeout=60000) as finished:
        assert tab.start_scan(folder, **kwargs)
    return finished.args


def shown(tab: BatchTab, column: int, role=Qt.ItemDataRole.DisplayRole) -> list:
    proxy = tab.worklist.proxy
    return [proxy.index(row, column).data(role) for row in range(proxy.rowCount())]


def select(tab: BatchTab, row: int) -> str:
    tab.worklist.table.setCurrentIndex(tab.worklist.proxy.index(row, 0))
    return tab.worklist.proxy.index(row, COL_FILE).data(Qt.ItemDataRole.ToolTipRole)


@pytest.fixture
def scanned(qtbot, inference, tmp_path, db_path):
    """A tab that has scanned 6 films and one unreadable file."""
    tab = make_tab(qtbot, inference, db_path)
    scan_id, state = scan(qtbot, tab, write_films(tmp_path / "day", 6, garbage=True))
    assert state == "complete"
    return tab, scan_id


def test_scan_fills_worklist_most_suspicious_first(qtbot, scanned):
    tab, scan_id = scanned
    assert tab.worklist.proxy.rowCount() == 7 and tab.current_scan_id == scan_id
    probabilities = shown(tab, COL_PROBABILITY, SORT_ROLE)
    assert probabilities[-1] is None  # the unreadable file, at the bottom
    assert probabilities[:-1] == sorted(probabilities[:-1], reverse=True)
    assert shown(tab, COL_PROBABILITY)[0] == f"{probabilities[0]:.3f}"
    status = shown(tab, COL_STATUS)[-1]
    message = tab.worklist.proxy.index(6, COL_STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert status.startswith("error") and message and message in status
    assert tab.progress_bar.format().startswith("7 / 7 images")
    summary = tab.worklist.summary_label.text()
    assert "not classified 1" in summary and "reviewed 0 / 7" in summary
    # Ascending order still keeps the error row last.
    tab.worklist.table.sortByColumn(COL_PROBABILITY, Qt.SortOrder.AscendingOrder)
    ascending = shown(tab, COL_PROBABILITY, SORT_ROLE)
    assert ascending[:-1] == sorted(probabilities[:-1]) and ascending[-1] is None


def test_filters_by_band_review_and_error(scanned):
    tab, _ = scanned
    counts, bands = {}, {}
    for name in FILTERS:
        tab.worklist.filter_combo.setCurrentText(name)
        counts[name] = tab.worklist.proxy.rowCount()
        bands[name] = {tab.result_for_path(path).band for path in tab.worklist_paths()}
    assert counts["Errors"] == 1 and counts["All"] == 7 and counts["Unreviewed"] == 6
    assert sum(counts[band.wording] for band in Band) == 6
    for band in Band:
        assert bands[band.wording] <= {band}
    assert counts["Overridden (disagreed)"] == 0 and counts["Outside intended use"] == 0


def test_verdict_shows_band_wording_colour_and_threshold(scanned):
    tab, _ = scanned
    tab.worklist.filter_combo.setCurrentText("All")
    colours = {}
    for row in range(6):
        result = tab.result_for_path(tab.worklist_paths()[row])
        verdict = tab.worklist.proxy.index(row, COL_VERDICT)
        assert verdict.data().startswith(result.band.wording)
        colours.setdefault(result.band, set()).add(
            verdict.data(Qt.ItemDataRole.BackgroundRole).color().name())
        threshold = tab.worklist.proxy.index(row, COL_THRESHOLD).data()
        assert threshold == f"{result.threshold:.4f} factory"
        tip = verdict.data(Qt.ItemDataRole.ToolTipRole)
        assert f"operating threshold {result.threshold:.4f} (factory)" in tip
    assert all(len(shades) == 1 for shades in colours.values())  # one colour per band
    assert len(set().union(*colours.values())) == len(colours)  # and different bands differ
    assert tab.worklist.proxy.index(6, COL_VERDICT).data() == "—"  # the unreadable file


def test_review_marks_saved_and_reloaded_and_exported(qtbot, scanned, inference, db_path,
                                                     tmp_path):
    tab, scan_id = scanned
    with qtbot.waitActive(tab):  # shortcuts only reach the active window
        tab.show()
        tab.activateWindow()
    first = select(tab, 0)
    tab.worklist.table.setFocus()
    qtbot.keyClick(tab.worklist.table, Qt.Key.Key_A)  # the Agree shortcut
    second = select(tab, 1)
    prediction = tab.worklist.model.result_at(tab.worklist.model.row_for_path(second)).verdict
    panel = tab.worklist.review_panel
    panel.disagree()
    qtbot.keyClicks(panel.note_edit, "see lateral")
    qtbot.keyClick(panel.note_edit, Qt.Key.Key_Return)
    assert shown(tab, COL_REVIEW)[:2] == [
        "✓ agree", f"✗ disagree → {'NORMAL' if prediction == 'PNEUMONIA' else 'PNEUMONIA'}"]
    assert "reviewed 2 / 7" in tab.worklist.summary_label.text()
    third = select(tab, 2)  # the label combo: the model's own label means agree
    own = tab.worklist.model.result_at(tab.worklist.model.row_for_path(third)).verdict
    panel.set_corrected_label(own)
    assert shown(tab, COL_REVIEW)[2] == "✓ agree" and panel.label_combo.currentText() == own
    panel.clear_button.click()
    assert shown(tab, COL_REVIEW)[2] == "" and "reviewed 2 / 7" in tab.worklist.summary_label.text()

    with ResultStore(db_path) as fresh:
        marks = {r.path: (r.review, r.corrected_label, r.note) for r in fresh.results(scan_id)}
    opposite = "NORMAL" if prediction == "PNEUMONIA" else "PNEUMONIA"
    assert marks[first] == ("agree", None, None)
    assert marks[second] == ("disagree", opposite, "see lateral")

    reopened = make_tab(qtbot, inference, db_path)
    assert reopened.load_scan(scan_id)
    row = reopened.worklist.model.result_at(reopened.worklist.model.row_for_path(second))
    assert (row.review, row.corrected_label, row.note) == marks[second]
    reopened.worklist.filter_combo.setCurrentText("Unreviewed")
    assert reopened.worklist.proxy.rowCount() == 4  # 6 readable films, 2 reviewed

    out = tmp_path / "export" / "worklist.csv"
    assert reopened.exports.write_csv(reopened.current_scan_id, out) == 7
    with open(out, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = {r["path"]: r for r in reader}
        assert tuple(reader.fieldnames) == csv_columns()
    assert len(rows) == 7
    assert (rows[second]["review"], rows[second]["corrected_label"]) == ("disagree", opposite)
    assert rows[second]["note"] == "see lateral" and rows[first]["review"] == "agree"
    assert sum(r["status"] == "error" for r in rows.values()) == 1


def test_enter_and_double_click_request_open(qtbot, scanned):
    tab, _ = scanned
    tab.show()
    qtbot.waitExposed(tab)
    path = select(tab, 0)
    with qtbot.waitSignal(tab.openRequested, timeout=2000) as opened:
        qtbot.keyClick(tab.worklist.table, Qt.Key.Key_Return)
    assert opened.args == [path]
    index = tab.worklist.proxy.index(2, COL_FILE)
    centre = tab.worklist.table.visualRect(index).center()
    with qtbot.waitSignal(tab.openRequested, timeout=2000) as opened:
        # QTest's double-click lacks the press before it, which the view needs to see
        qtbot.mouseClick(tab.worklist.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(tab.worklist.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert opened.args == [index.data(Qt.ItemDataRole.ToolTipRole)]


def test_cancel_mid_scan(qtbot, make_inference, tiny_classifier, tmp_path, db_path):
    folder = write_films(tmp_path / "many", 60)
    tab = make_tab(qtbot, make_inference(SlowClassifier(tiny_classifier)), db_path)
    with qtbot.waitSignal(tab.scanFinished, timeout=60000) as finished:
        tab.start_scan(folder, batch_size=2)
        assert tab.cancel_button.isEnabled() and not tab.scan_button.isEnabled()
        qtbot.waitUntil(lambda: tab.worklist.model.rowCount() >= 2, timeout=30000)
        tab.cancel_scan()
    scan_id, state = finished.args
    assert state == "cancelled" and 2 <= tab.worklist.model.rowCount() < 60
    with ResultStore(db_path) as fresh:
        assert fresh.scan(scan_id).state == "cancelled"
        assert len(fresh.results(scan_id)) == tab.worklist.model.rowCount()
    assert tab.scan_button.isEnabled() and tab.resume_button.isEnabled()


def test_close_during_scan_stops_worker_and_stays_resumable(qtbot, make_inference,
                                                           tiny_classifier, tmp_path, db_path):
    folder = write_films(tmp_path / "many", 60)
    tab = make_tab(qtbot, make_inference(SlowClassifier(tiny_classifier)), db_path)
    tab.start_scan(folder, batch_size=2)
    qtbot.waitUntil(lambda: tab.worklist.model.rowCount() >= 2, timeout=30000)
    worker = tab.scan_controller.worker
    assert worker in running_workers()
    with qtbot.waitSignal(tab.scanFinished, timeout=5000) as finished:
        tab.close()
    assert finished.args[1] == "cancelled" and not tab.is_scanning
    assert worker.join(0) and worker not in running_workers()  # its thread is done
    shown_rows = tab.worklist.model.rowCount()
    qtbot.wait(200)  # late queued signals from the stopped run are ignored
    assert tab.worklist.model.rowCount() == shown_rows
    with ResultStore(db_path) as fresh:
        [unfinished] = fresh.unfinished_scans()
        assert unfinished.id == finished.args[0] and 0 < unfinished.done_files < 60


def test_offer_resume_completes_without_duplicates(qtbot, inference, tiny_classifier, tmp_path,
                                                  db_path):
    folder = write_films(tmp_path / "night", 9)
    with ResultStore(db_path) as store:  # a scan killed after 3 films
        items = run_scan(store, tiny_classifier, folder, batch_size=2)
        scan_id = next(items).scan_id
        for _ in range(3):
            next(items)
        items.close()
    tab = make_tab(qtbot, inference, db_path)
    questions = []
    tab.confirm = lambda question: questions.append(question) or True
    with qtbot.waitSignal(tab.scanFinished, timeout=60000) as finished:
        assert tab.offer_resume()
        assert tab.worklist.model.rowCount() == 3  # the earlier results are shown first
    assert finished.args == [scan_id, "complete"]
    assert questions == [f"A scan of {folder.resolve()} stopped after 3 of 9 images. Resume it?"]
    with sqlite3.connect(db_path) as db:
        total, distinct = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT path) FROM results WHERE scan_id=?", (scan_id,)
        ).fetchone()
        state = db.execute("SELECT state FROM scans WHERE id=?", (scan_id,)).fetchone()[0]
    assert (total, distinct, state) == (9, 9, "complete")
    assert tab.worklist.model.rowCount() == 9


def test_declined_resume_is_not_asked_again(qtbot, inference, tiny_classifier, tmp_path, db_path):
    folder = write_films(tmp_path / "night", 3)
    with ResultStore(db_path) as store:
        items = run_scan(store, tiny_classifier, folder)
        next(items)
        items.close()
    tab = make_tab(qtbot, inference, db_path)
    questions = []
    tab.confirm = lambda question: questions.append(question) or False
    assert not tab.offer_resume() and not tab.offer_resume()
    assert len(questions) == 1 and not tab.is_scanning


def test_model_loading_and_scan_errors_are_shown(qtbot, loading_inference, tiny_classifier,
                                                 tmp_path, db_path):
    tab = make_tab(qtbot, loading_inference, db_path)
    assert not tab.scan_button.isEnabled() and "loading" in tab.scan_button.toolTip().lower()
    assert not tab.start_scan(tmp_path) and "loading" in tab.message_label.text().lower()
    loading_inference.set_classifier(tiny_classifier)
    assert tab.scan_button.isEnabled()
    scan_id, state = scan(qtbot, tab, tmp_path / "vanished")
    assert (scan_id, state) == (-1, "error")
    assert "folder not found" in tab.message_label.text() and tab.scan_button.isEnabled()


def test_pdf_report_is_written_in_the_background(qtbot, scanned, tmp_path):
    tab, scan_id = scanned
    assert tab.report_button.isEnabled()
    out = tmp_path / "reports" / "night.pdf"
    with qtbot.waitSignal(tab.reportWritten, timeout=60000) as written:
        assert tab.exports.write_pdf(scan_id, out)
        assert not tab.report_button.isEnabled()  # one report at a time
        assert not tab.exports.write_pdf(scan_id, tmp_path / "second.pdf")
    assert written.args == [str(out)]
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and f"scan #{scan_id}".encode() in data  # its title
    assert [p.name for p in out.parent.iterdir()] == ["night.pdf"]
    assert str(out) in tab.message_label.text()
    qtbot.waitUntil(tab.report_button.isEnabled, timeout=10000)
    assert not (tmp_path / "second.pdf").exists()


def test_pdf_report_failure_is_shown_and_needs_a_scan_and_model(qtbot, scanned, tmp_path,
                                                                db_path, loading_inference,
                                                                inference):
    tab, scan_id = scanned
    taken = tmp_path / "taken.pdf"
    taken.mkdir()  # a folder where the file should go
    with qtbot.assertNotEmitted(tab.reportWritten, wait=0):
        assert tab.exports.write_pdf(scan_id, taken)
        qtbot.waitUntil(lambda: "could not be written" in tab.message_label.text(),
                        timeout=60000)
    assert str(taken) in tab.message_label.text() and "Traceback" not in tab.message_label.text()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    qtbot.waitUntil(tab.report_button.isEnabled, timeout=10000)
    # Another tab on the same store shows the same scan; its model is still loading.
    no_model = make_tab(qtbot, loading_inference, db_path)
    assert no_model.current_scan_id == scan_id and not no_model.report_button.isEnabled()
    assert not no_model.exports.write_pdf(scan_id, tmp_path / "x.pdf")
    assert "loading" in no_model.message_label.text()
    no_scan = make_tab(qtbot, inference, tmp_path / "empty.sqlite3")
    assert not no_scan.report_button.isEnabled()
    assert not no_scan.exports.write_pdf(no_scan.current_scan_id, tmp_path / "x.pdf")
    assert "No scan" in no_scan.message_label.text()
    assert not (tmp_path / "x.pdf").exists()


def test_worklist_order_and_selection_are_public(qtbot, scanned):
    """What the viewer steps through: the paths in the order shown, told when it changes."""
    tab, _ = scanned
    order = tab.worklist_paths()
    assert order == shown(tab, COL_FILE, Qt.ItemDataRole.ToolTipRole) and len(order) == 7
    with qtbot.waitSignal(tab.worklistOrderChanged, timeout=2000):
        tab.worklist.table.sortByColumn(COL_PROBABILITY, Qt.SortOrder.AscendingOrder)
    assert tab.worklist_paths()[:-1] == list(reversed(order[:-1]))  # errors stay last
    with qtbot.waitSignal(tab.currentPathChanged, timeout=2000) as selected:
        assert tab.select_path(order[3])
    assert selected.args == [order[3]] and tab.current_result().path == order[3]
    with qtbot.waitSignal(tab.worklistOrderChanged, timeout=2000):
        tab.worklist.filter_combo.setCurrentText("Errors")
    assert tab.worklist_paths() == [order[-1]]
    assert not tab.select_path(order[0])  # filtered out
    assert not tab.select_path("/no/such/film.png")


def test_a_review_saved_from_outside_shows_in_the_worklist(qtbot, scanned, db_path):
    from pneumo_desktop.core import review
    from pneumo_desktop.ui.review_panel import ReviewEdit

    tab, scan_id = scanned
    path = tab.worklist_paths()[0]
    row = tab.result_for_path(path)
    with qtbot.waitSignal(tab.reviewSaved, timeout=2000) as saved:
        assert tab.save_review(ReviewEdit(path, review.agree(row), "from the viewer"))
    assert saved.args == [path]
    assert shown(tab, COL_REVIEW)[0] == "✓ agree"
    assert tab.result_for_path(path).note == "from the viewer"
    with ResultStore(db_path) as fresh:
        stored = {r.path: r for r in fresh.results(scan_id)}[path]
    assert (stored.review, stored.note) == ("agree", "from the viewer")
    assert not tab.save_review(ReviewEdit("/elsewhere.png", review.CLEARED, None))
    assert "not in the scan shown" in tab.message_label.text()


def test_a_scan_running_elsewhere_is_never_offered_and_is_followed(qtbot, inference,
                                                                  tiny_classifier, tmp_path,
                                                                  db_path, monkeypatch):
    from pneumo_desktop.ui import batch_tab
    from tests.core.test_scan_lease import hold_in_another_process

    folder = write_films(tmp_path / "night", 4)
    with ResultStore(db_path) as store:  # pneumo-scan, two films in
        items = run_scan(store, tiny_classifier, folder, batch_size=1)
        scan_id = next(items).scan_id
        next(items), next(items)
        items.close()
    holder = hold_in_another_process(db_path, scan_id)  # ... and still running
    try:
        monkeypatch.setattr(batch_tab, "FOLLOW_MS", 100)
        tab = make_tab(qtbot, inference, db_path)  # confirm() fails the test if asked
        assert not tab.offer_resume()
        assert tab.current_scan_id == scan_id and "running elsewhere" in tab.message_label.text()
        assert f"process {holder.pid}" in tab.message_label.text()
        assert "running elsewhere" in tab.scans_combo.currentText()
        assert not tab.resume_button.isEnabled() and not tab.resume_scan(scan_id)
        assert tab.worklist.model.rowCount() == 2
        with ResultStore(db_path) as store:  # the other process saves a third film
            store.record(scan_id, ScanResult.failed(str(folder / "film_003.png"), "late",
                                                    Reason.TRUNCATED))
        qtbot.waitUntil(lambda: tab.worklist.model.rowCount() == 3, timeout=5000)
    finally:
        holder.kill()
        holder.wait(10)
    qtbot.waitUntil(lambda: "no longer running elsewhere" in tab.message_label.text(),
                    timeout=5000)
    assert tab.resume_button.isEnabled()


def test_arrow_keys_on_previous_scans_do_not_switch_the_worklist(qtbot, scanned, tmp_path):
    tab, first = scanned
    second, _ = scan(qtbot, tab, write_films(tmp_path / "second", 2, seed=1))
    assert tab.current_scan_id == second and tab.scans_combo.count() == 2
    tab.show()
    qtbot.waitExposed(tab)
    box = tab.scans_combo
    box.setFocus()
    with qtbot.assertNotEmitted(box.scanChosen, wait=100):
        qtbot.keyClick(box, Qt.Key.Key_Down)
    assert tab.current_scan_id == second and box.view().isVisible()  # the list opened
    qtbot.keyClick(box.view(), Qt.Key.Key_Down)
    with qtbot.waitSignal(box.scanChosen, timeout=2000) as chosen:
        qtbot.keyClick(box.view(), Qt.Key.Key_Return)
    assert chosen.args == [first] and tab.current_scan_id == first
