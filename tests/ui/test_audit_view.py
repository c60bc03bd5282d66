"""The Audit trail view: a review from the worklist and one from any other screen (both save
through the store), a calibration and a revert each add exactly one row; newest first, filtered
by film and by action, exported as CSV."""

from __future__ import annotations

import csv

import pytest

from pneumo_desktop.core.audit import AuditAction, AuditTrail
from pneumo_desktop.core.results import ReviewMark, Verdict
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.audit_view import AuditView, value_text
from pneumo_desktop.ui.batch_tab import BatchTab
from tests.ui.site_helpers import fake_classifier, unreviewed_scan, write_film

TIMEOUT_MS = 30_000


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "results.sqlite3"


@pytest.fixture
def view(qtbot, db_path):
    widget = AuditView(db_path)
    qtbot.addWidget(widget)
    return widget


def test_a_review_in_the_worklist_adds_exactly_one_row_with_the_films_identity(
    qtbot, make_inference, tmp_path, db_path, view
):
    classifier = fake_classifier(tmp_path / "card")
    folder = tmp_path / "films"
    for index, score in enumerate((0.9, 0.05)):
        write_film(folder / f"film{index}.png", score)
    batch = BatchTab(make_inference(classifier), db_path)
    qtbot.addWidget(batch)
    with qtbot.waitSignal(batch.scanFinished, timeout=TIMEOUT_MS):
        batch.start_scan(folder)
    assert batch.select_path(batch.worklist_paths()[0])  # the most suspicious first
    batch.worklist.review_panel.agree()  # the worklist's own Agree button
    view.refresh()
    [entry] = view.shown_entries()
    assert entry.action is AuditAction.REVIEW and entry.path == str(folder / "film0.png")
    assert len(entry.file_sha256) == 64 and entry.model_sha256 == classifier.card.sha256
    assert view.model.data(view.model.index(0, 9)) == "agree"
    batch.worklist.review_panel.agree()  # the same mark again changes nothing
    view.refresh()
    assert len(view.shown_entries()) == 1


def test_newest_first_filtered_by_film_and_action_and_exported(qtbot, tmp_path, db_path, view):
    classifier = fake_classifier(tmp_path / "card")
    scan_id = unreviewed_scan(db_path, classifier.card, tmp_path / "day", [0.9, 0.2])
    with ResultStore(db_path) as store:  # what the viewer's review bar saves, too
        store.set_review(scan_id, str(tmp_path / "day" / "u0.png"), ReviewMark.AGREE)
        store.set_review(scan_id, str(tmp_path / "day" / "u1.png"), ReviewMark.DISAGREE,
                         Verdict.PNEUMONIA, "retrocardiac")
    with AuditTrail(db_path) as trail:
        trail.record(AuditAction.CALIBRATION, old_value='{"threshold": 0.12, "source": '
                     '"factory"}', new_value='{"threshold": 0.3, "source": "site"}')
    view.refresh()
    assert [e.action for e in view.shown_entries()] == [
        AuditAction.CALIBRATION, AuditAction.REVIEW, AuditAction.REVIEW]
    assert view.count_label.text() == "3 of 3 rows, newest first"
    assert view.model.data(view.model.index(0, 9)) == "site 0.3000"
    assert view.model.data(view.model.index(1, 9)) == "disagree → PNEUMONIA (retrocardiac)"

    view.film_edit.setText("u1")
    assert [e.path for e in view.shown_entries()] == [str(tmp_path / "day" / "u1.png")]
    view.film_edit.setText("")
    view.action_combo.setCurrentText(AuditAction.CALIBRATION.value)
    assert [e.action for e in view.shown_entries()] == [AuditAction.CALIBRATION]

    out = tmp_path / "export" / "audit.csv"
    assert view.write_csv(out) == 3
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [row["action"] for row in rows] == ["review", "review", "calibration"]
    assert "Wrote 3 audit rows" in view.message_label.text()


def test_a_row_changed_outside_the_app_is_reported(qtbot, db_path, view):
    import sqlite3

    with AuditTrail(db_path) as trail:
        for value in ("0.1", "0.2"):
            trail.record(AuditAction.CALIBRATION, old_value=None, new_value=value)
    connection = sqlite3.connect(db_path)
    connection.execute("DROP TRIGGER audit_log_no_update")
    connection.execute("UPDATE audit_log SET new_value='0.9' WHERE id=1")
    connection.commit()
    connection.close()
    view.refresh()
    assert "Row 1 of the audit trail was changed outside the app" in view.message_label.text()


def test_values_read_as_words():
    assert value_text(None) == "—"
    assert value_text('{"review": "agree", "corrected_label": null, "note": null}') == "agree"
    assert value_text('{"review": null, "corrected_label": null, "note": "see CT"}') == \
        "no mark (see CT)"
    assert value_text('{"threshold": 0.04321, "likely_threshold": 0.8, "source": "factory"}') \
        == "factory 0.0432"
