"""The audit trail: append-only through the API and through SQL, tamper-evident, exportable."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from dataclasses import dataclass

import pytest

from pneumo_desktop.core.audit import AuditAction, AuditTrail, current_user, review_value
from pneumo_desktop.core.identity import ModelIdentity
from pneumo_desktop.core.results import ReviewMark, ThresholdSource, Verdict
from pneumo_desktop.core.store import ResultStore
from tests.core.test_imaging import STORED
from tests.dicom_films import make_dicom

MODEL = ModelIdentity("cnn_deep_aug", "1.2.0", "ab" * 32)


@dataclass
class Reviewed:
    review: ReviewMark | None
    corrected_label: Verdict | None = None
    note: str | None = None


@pytest.fixture()
def trail(tmp_path):
    with AuditTrail(tmp_path / "results.sqlite3") as audit:
        yield audit


def _review(trail, film, before, after):
    return trail.record(
        AuditAction.REVIEW, old_value=review_value(before), new_value=review_value(after),
        path=film, model=MODEL, threshold=0.043, threshold_source=ThresholdSource.FACTORY,
    )


def test_a_review_records_who_when_film_model_threshold_and_values(trail, tmp_path):
    film = tmp_path / "film.dcm"
    data = make_dicom(film, STORED)
    entry = _review(trail, film, Reviewed(None),
                    Reviewed(ReviewMark.DISAGREE, Verdict.NORMAL, "old scar"))
    assert entry.action is AuditAction.REVIEW
    assert entry.user == current_user() and entry.user
    assert entry.at.endswith("+00:00")  # UTC
    assert entry.path == str(film)
    assert entry.file_sha256 == hashlib.sha256(data).hexdigest()
    expected_uid = str(__import__("pydicom").dcmread(film).SOPInstanceUID)
    assert entry.sop_instance_uid == expected_uid
    assert (entry.model_name, entry.model_version, entry.model_sha256) == (
        "cnn_deep_aug", "1.2.0", "ab" * 32)
    assert entry.threshold == 0.043 and entry.threshold_source is ThresholdSource.FACTORY
    assert entry.old_value is None
    assert json.loads(entry.new_value) == {
        "review": "disagree", "corrected_label": "NORMAL", "note": "old scar"}
    assert trail.entries() == [entry]


def test_a_review_a_calibration_and_a_revert_each_add_exactly_one_row(trail, tmp_path):
    film = tmp_path / "film.png"
    film.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _review(trail, film, Reviewed(None), Reviewed(ReviewMark.AGREE))
    assert len(trail.entries()) == 1
    trail.record(AuditAction.CALIBRATION, old_value="0.043", new_value="0.120", model=MODEL,
                 threshold=0.120, threshold_source=ThresholdSource.SITE)
    assert len(trail.entries()) == 2
    trail.record(AuditAction.PROFILE_REVERT, old_value="0.120", new_value="0.043", model=MODEL,
                 threshold=0.043, threshold_source=ThresholdSource.FACTORY)
    entries = trail.entries()
    assert [e.action for e in entries] == [
        AuditAction.REVIEW, AuditAction.CALIBRATION, AuditAction.PROFILE_REVERT]
    assert entries[0].sop_instance_uid is None  # not DICOM
    assert entries[1].path is None and entries[1].file_sha256 is None  # site-wide action
    assert [e.id for e in trail.entries(action=AuditAction.CALIBRATION)] == [entries[1].id]
    assert [e.id for e in trail.entries(path=str(film))] == [entries[0].id]


def test_the_api_offers_no_way_to_change_or_remove_a_row(trail):
    public = {name for name in dir(trail) if not name.startswith("_")}
    assert public == {"path", "record", "entries", "verify", "export_csv", "close"}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET new_value='agree' WHERE id=1",
        "UPDATE audit_log SET user='someone else'",
        "DELETE FROM audit_log WHERE id=1",
        "DELETE FROM audit_log",
        "INSERT OR REPLACE INTO audit_log (id, at, user, action, row_hash)"
        " VALUES (1, 'now', 'x', 'review', 'x')",
        "INSERT INTO audit_log (id, at, user, action, row_hash) VALUES (1, 'now', 'x', 'review',"
        " 'x') ON CONFLICT (id) DO UPDATE SET new_value='forged'",
    ],
)
def test_sql_cannot_change_or_delete_a_row(tmp_path, statement):
    db = tmp_path / "results.sqlite3"
    with AuditTrail(db) as trail:
        trail.record(AuditAction.CALIBRATION, old_value="0.043", new_value="0.1")
        before = trail.entries()
    connection = sqlite3.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only|UNIQUE"):
        connection.execute(statement)
    connection.commit()
    connection.close()
    with AuditTrail(db) as trail:
        assert trail.entries() == before
        assert trail.verify() is None


def test_verify_finds_a_row_edited_behind_the_triggers(tmp_path):
    db = tmp_path / "results.sqlite3"
    with AuditTrail(db) as trail:
        for value in ("0.05", "0.06", "0.07"):
            trail.record(AuditAction.CALIBRATION, old_value=None, new_value=value)
        assert trail.verify() is None
    connection = sqlite3.connect(db)
    connection.execute("DROP TRIGGER audit_log_no_update")
    connection.execute("UPDATE audit_log SET new_value='0.5' WHERE id=2")
    connection.commit()
    connection.close()
    with AuditTrail(db) as trail:  # reopening recreates the trigger, and the edit shows
        assert trail.verify() == 2


def test_shares_the_results_database_with_the_store(tmp_path):
    db = tmp_path / "results.sqlite3"
    with ResultStore(db) as store, AuditTrail(db) as trail:
        scan_id = store.start_scan(tmp_path)
        trail.record(AuditAction.CALIBRATION, old_value=None, new_value="0.1")
        assert store.scan(scan_id).id == scan_id
    tables = {row[0] for row in sqlite3.connect(db).execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"scans", "results", "audit_log"} <= tables


def test_csv_export_has_every_row(trail, tmp_path):
    _review(trail, None, Reviewed(None), Reviewed(ReviewMark.AGREE))
    trail.record(AuditAction.PROFILE_REVERT, old_value="0.2", new_value="0.043",
                 threshold=0.043, threshold_source=ThresholdSource.FACTORY)
    out = tmp_path / "exports" / "audit.csv"
    assert trail.export_csv(out) == 2
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [row["action"] for row in rows] == ["review", "profile_revert"]
    assert rows[1]["threshold_source"] == "factory" and rows[1]["old_value"] == "0.2"
    assert rows[0]["path"] == ""  # None is written as an empty cell
    assert not list(out.parent.glob(".*.tmp"))  # the temp file was renamed into place


def test_review_value_is_none_for_no_review():
    assert review_value(None) is None
    assert review_value(Reviewed(None)) is None
    assert json.loads(review_value(Reviewed(ReviewMark.AGREE))) == {
        "review": "agree", "corrected_label": None, "note": None}
