"""Every review mark saved through the store adds exactly one audit row, in the same
transaction, whichever screen saved it (the worklist and the viewer's review bar both save
through ``ResultStore.set_review``)."""

from __future__ import annotations

import hashlib
import json

import pydicom
import pytest

from pneumo_desktop.core.audit import AuditAction, AuditTrail, current_user
from pneumo_desktop.core.results import (
    OperatingPoint,
    Prediction,
    ReviewMark,
    ScanResult,
    ThresholdSource,
    Verdict,
)
from pneumo_desktop.core.store import ResultStore
from tests.core.test_imaging import STORED
from tests.dicom_films import make_dicom

SITE = OperatingPoint(0.2, 0.7, ThresholdSource.SITE)


class Card:
    name, version, threshold, sha256 = "cnn_deep_aug", "1.2.0", 0.043, "cd" * 32


@pytest.fixture()
def scanned(tmp_path):
    """A store with one classified DICOM film, scanned under a site threshold."""
    film = tmp_path / "films" / "chest.dcm"
    film.parent.mkdir()
    data = make_dicom(film, STORED)
    db = tmp_path / "results.sqlite3"
    with ResultStore(db) as store:
        scan_id = store.start_scan(film.parent, Card(), 1)
        store.record(scan_id, ScanResult.from_prediction(str(film), Prediction.under(SITE, 0.9)))
        yield store, scan_id, film, data, db


def _rows(db):
    with AuditTrail(db) as trail:
        return trail.entries(action=AuditAction.REVIEW)


def test_a_review_adds_one_row_with_who_film_model_threshold_and_old_new(scanned):
    store, scan_id, film, data, db = scanned
    assert store.set_review(scan_id, str(film), ReviewMark.AGREE) is True
    [row] = _rows(db)
    assert row.user == current_user()
    assert row.path == str(film)
    assert row.file_sha256 == hashlib.sha256(data).hexdigest()
    assert row.sop_instance_uid == str(pydicom.dcmread(film).SOPInstanceUID)
    assert (row.model_name, row.model_version, row.model_sha256) == (
        "cnn_deep_aug", "1.2.0", "cd" * 32)
    assert row.threshold == pytest.approx(0.2) and row.threshold_source is ThresholdSource.SITE
    assert row.old_value is None
    assert json.loads(row.new_value) == {"review": "agree", "corrected_label": None,
                                         "note": None}


def test_each_change_adds_exactly_one_row_and_a_repeat_adds_none(scanned):
    store, scan_id, film, _data, db = scanned
    store.set_review(scan_id, str(film), ReviewMark.AGREE)
    assert store.set_review(scan_id, str(film), ReviewMark.AGREE) is False  # nothing changed
    assert len(_rows(db)) == 1
    store.set_review(scan_id, str(film), ReviewMark.DISAGREE, Verdict.NORMAL, "rib overlap")
    store.set_review(scan_id, str(film), None)
    rows = _rows(db)
    assert len(rows) == 3
    assert json.loads(rows[1].old_value)["review"] == "agree"
    assert json.loads(rows[1].new_value) == {
        "review": "disagree", "corrected_label": "NORMAL", "note": "rib overlap"}
    assert json.loads(rows[2].old_value)["review"] == "disagree" and rows[2].new_value is None
    with AuditTrail(db) as trail:
        assert trail.verify() is None


def test_a_note_alone_is_a_change_too(scanned):
    store, scan_id, film, _data, db = scanned
    store.set_review(scan_id, str(film), None, note="compare with last year")
    [row] = _rows(db)
    assert row.old_value is None
    assert json.loads(row.new_value)["note"] == "compare with last year"


def test_a_failed_save_records_nothing(scanned):
    store, scan_id, film, _data, db = scanned
    with pytest.raises(KeyError):
        store.set_review(scan_id, str(film.parent / "other.dcm"), ReviewMark.AGREE)
    with pytest.raises(ValueError):
        store.set_review(scan_id, str(film), "maybe")
    assert _rows(db) == []


def test_the_mark_and_its_row_commit_together(scanned, monkeypatch):
    """An audit row that cannot be written leaves the mark unsaved too."""
    store, scan_id, film, _data, db = scanned
    import pneumo_desktop.core.audit as audit

    def broken(connection, values):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append_row", broken)
    with pytest.raises(RuntimeError):
        store.set_review(scan_id, str(film), ReviewMark.AGREE)
    assert store.results(scan_id)[0].review is None
