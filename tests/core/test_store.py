import csv
import io
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.batch import ResumeError, run_scan
from pneumo_desktop.core.csv_export import CSV_COLUMNS, write_csv
from pneumo_desktop.core.results import (
    Band,
    OperatingPoint,
    Prediction,
    Reason,
    ReviewMark,
    ScanResult,
    ScanState,
    Status,
    ThresholdSource,
    Verdict,
)
from pneumo_desktop.core.store import ResultStore
from tests.conftest import synthetic_xray


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    images = tmp_path / "films"
    images.mkdir()
    for index in range(7):
        Image.fromarray(synthetic_xray(rng, index % 2 == 0)).save(images / f"film{index}.png")
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return images


def test_results_are_sorted_most_suspicious_first_errors_last(tmp_path):
    with ResultStore(tmp_path / "r.sqlite3") as store:
        scan = store.start_scan(tmp_path)
        for name, probability in (("a", 0.2), ("b", 0.9), ("c", None), ("d", 0.5)):
            path = tmp_path / name
            path.write_bytes(b"x")
            status = Status.ERROR if probability is None else Status.OK
            store.record(scan, ScanResult(str(path), status, probability))
        assert [Path(r.path).name for r in store.results(scan)] == ["b", "d", "a", "c"]


def test_review_marks_are_validated_and_kept(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"x")
    db = tmp_path / "r.sqlite3"
    with ResultStore(db) as store:
        scan = store.start_scan(tmp_path)
        store.record(scan, ScanResult(str(path), Status.OK, 0.7, Verdict.PNEUMONIA))
        store.set_review(scan, str(path), ReviewMark.DISAGREE, Verdict.NORMAL,
                         "old scar, not consolidation")
        with pytest.raises(ValueError, match="review must be"):
            store.set_review(scan, str(path), "maybe")
        with pytest.raises(ValueError, match="corrected label"):
            store.set_review(scan, str(path), ReviewMark.DISAGREE, "NOT_XRAY")
        with pytest.raises(KeyError):
            store.set_review(scan, str(tmp_path / "other.png"), ReviewMark.AGREE)
    with ResultStore(db) as reopened:
        (row,) = reopened.results(scan)
        assert (row.review, row.corrected_label, row.note) == (
            ReviewMark.DISAGREE, Verdict.NORMAL, "old scar, not consolidation"
        )
        assert row.review is ReviewMark.DISAGREE and row.final_label is Verdict.NORMAL


def test_every_verdict_keeps_the_threshold_that_made_it(tmp_path):
    """Stored and exported: the threshold, its source and the band, as enums on reading."""
    site = OperatingPoint(threshold=0.3, likely_threshold=0.9, source=ThresholdSource.SITE)
    films = {name: tmp_path / f"{name}.png" for name in ("likely", "possible", "unlikely")}
    for path in films.values():
        path.write_bytes(b"x")
    with ResultStore(tmp_path / "r.sqlite3") as store:
        scan = store.start_scan(tmp_path, threshold=site.threshold)
        for path, probability in zip(films.values(), (0.95, 0.5, 0.1), strict=True):
            prediction = Prediction.under(site, probability, subtype_probability=0.8)
            store.record(scan, ScanResult.from_prediction(str(path), prediction))
        rows = {Path(r.path).stem: r for r in store.results(scan)}
        assert store.scan(scan).threshold == 0.3
    assert {name: (r.verdict, r.band) for name, r in rows.items()} == {
        "likely": (Verdict.PNEUMONIA, Band.LIKELY),
        "possible": (Verdict.PNEUMONIA, Band.POSSIBLE),
        "unlikely": (Verdict.NORMAL, Band.UNLIKELY),
    }
    for row in rows.values():
        assert row.threshold == 0.3 and row.threshold_source is ThresholdSource.SITE
        assert row.status is Status.OK
    assert rows["possible"].subtype_probability == 0.8 and rows["unlikely"].subtype is None

    out = tmp_path / "r.csv"
    assert write_csv(out, rows.values()) == 3
    with out.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        exported = {Path(r["path"]).stem: r for r in reader}
        assert tuple(reader.fieldnames[:len(CSV_COLUMNS)]) == CSV_COLUMNS  # earlier columns first
    assert exported["possible"]["prediction"] == "PNEUMONIA"  # at the operating threshold
    assert (exported["possible"]["threshold"], exported["possible"]["threshold_source"],
            exported["possible"]["band"]) == ("0.300000", "site", "possible")


def test_a_store_of_an_earlier_version_gains_the_new_columns(tmp_path):
    """Old rows read back with NULL threshold, source and band, and legacy reason codes."""
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as old:
        old.executescript("""
            CREATE TABLE scans (id INTEGER PRIMARY KEY, folder TEXT NOT NULL,
                started TEXT NOT NULL, finished TEXT, state TEXT NOT NULL DEFAULT 'running',
                model_name TEXT, model_version TEXT, model_sha256 TEXT, threshold REAL,
                total_files INTEGER);
            CREATE TABLE results (id INTEGER PRIMARY KEY, scan_id INTEGER NOT NULL,
                path TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, status TEXT NOT NULL,
                probability REAL, prediction TEXT, message TEXT NOT NULL DEFAULT '',
                scanned_at TEXT NOT NULL, review TEXT, corrected_label TEXT, note TEXT,
                reviewed_at TEXT, UNIQUE (scan_id, path));
            INSERT INTO scans VALUES (1, '/films', 'then', 'then', 'complete', 'cnn', '1.0',
                'abc', 0.5, 2);
            INSERT INTO results (scan_id, path, status, probability, prediction, scanned_at,
                review) VALUES (1, '/films/a.png', 'ok', 0.8, 'PNEUMONIA', 'then', 'agree');
            INSERT INTO results (scan_id, path, status, message, scanned_at)
                VALUES (1, '/films/b.dcm', 'error', 'compressed', 'then');
        """)
        old.execute("ALTER TABLE results ADD COLUMN reason TEXT NOT NULL DEFAULT ''")
        old.execute("UPDATE results SET reason='dicom_compressed' WHERE path LIKE '%.dcm'")
    with ResultStore(db) as store:
        assert store.scan(1).state is ScanState.COMPLETE
        ok, failed = store.results(1)
    assert (ok.status, ok.verdict, ok.review, ok.final_label) == (
        Status.OK, Verdict.PNEUMONIA, ReviewMark.AGREE, Verdict.PNEUMONIA)
    assert ok.threshold is None and ok.threshold_source is None and ok.band is None
    assert failed.status is Status.ERROR and failed.reason is Reason.UNSUPPORTED_DICOM
    columns = {row[1] for row in sqlite3.connect(db).execute("PRAGMA table_info(results)")}
    assert {"threshold", "threshold_source", "band", "subtype_probability", "patient_id",
            "study_uid"} <= columns
    assert ok.study is None


def test_interrupted_scan_resumes_without_losing_or_repeating(folder, tmp_path, tiny_classifier):
    db = tmp_path / "r.sqlite3"
    with ResultStore(db) as store:
        generator = run_scan(store, tiny_classifier, folder, batch_size=2)
        first = next(generator)
        assert (first.done, first.total) == (0, 8)
        for _ in range(3):
            next(generator)
        generator.close()  # as if the process died here
        (unfinished,) = store.unfinished_scans()
        assert unfinished.done_files == 3 and unfinished.id == first.scan_id

    with ResultStore(db) as store:
        items = list(run_scan(store, tiny_classifier, resume_scan_id=first.scan_id))
        assert items[0].done == 3
        assert len(items) == 1 + 5  # the starting item, then only the five missing files
        assert store.scan(first.scan_id).state is ScanState.COMPLETE
        assert not store.unfinished_scans()
    count = sqlite3.connect(db).execute("SELECT COUNT(*), COUNT(DISTINCT path) FROM results")
    assert count.fetchone() == (8, 8)


def test_a_changed_file_is_scanned_again(folder, tmp_path, tiny_classifier):
    with ResultStore(tmp_path / "r.sqlite3") as store:
        items = list(run_scan(store, tiny_classifier, folder))
        scan = items[0].scan_id
        files = sorted(folder.iterdir())
        assert store.pending_files(scan, files) == []
        Image.fromarray(np.zeros((80, 80), np.uint8)).save(folder / "film0.png")
        assert store.pending_files(scan, files) == [folder / "film0.png"]


def test_resume_refuses_a_scan_made_with_another_model(folder, tmp_path, tiny_classifier):
    # A card as the store reads it, of another model (its sha256 in either card layout).
    other = SimpleNamespace(name="other", version="1.0.0", threshold=0.5, sha256="abc",
                            data={"sha256": "abc"})
    with ResultStore(tmp_path / "r.sqlite3") as store:
        scan_id = store.start_scan(folder, other, total_files=3)
        assert store.scan_model_sha256(scan_id) == "abc"
        with pytest.raises(ResumeError, match="another model"):
            list(run_scan(store, tiny_classifier, resume_scan_id=scan_id))
        with pytest.raises(ResumeError, match="no scan 99"):
            list(run_scan(store, tiny_classifier, resume_scan_id=99))


def test_the_scanned_folder_is_never_written_to(folder, tmp_path, tiny_classifier):
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    folder.chmod(0o555)
    try:
        with ResultStore(tmp_path / "r.sqlite3") as store:
            items = list(run_scan(store, tiny_classifier, folder))
        assert items[-1].done == 8
    finally:
        folder.chmod(0o755)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before



def test_a_film_that_grew_after_it_was_read_is_scanned_again(tmp_path, monkeypatch):
    """A film still being copied when the scan read it gets a TRUNCATED row; once the copy
    completes, its size is not the one read, so the next pass scans it again (the row kept the
    size it was read at, not the size the file reached by the time the row was written)."""
    from pneumo_desktop.core import scan as scan_module
    from pneumo_desktop.core.card import ModelCard
    from pneumo_desktop.core.results import Reason
    from tests.cards import card_data, write_card
    from tests.fakes import FakeClassifier

    folder = tmp_path / "arriving"
    folder.mkdir()
    whole = io.BytesIO()
    Image.fromarray(np.full((64, 64), 120, np.uint8)).save(whole, format="PNG")
    film = folder / "film.png"
    film.write_bytes(whole.getvalue()[:40])  # the copy has only begun
    real_load = scan_module.load_image

    def load_while_the_copy_finishes(path, **kwargs):
        try:
            return real_load(path, **kwargs)
        finally:
            film.write_bytes(whole.getvalue())  # the rest arrives during the batch

    monkeypatch.setattr(scan_module, "load_image", load_while_the_copy_finishes)
    with ResultStore(tmp_path / "r.sqlite3") as store:
        classifier = FakeClassifier(ModelCard.load(write_card(tmp_path / "card", card_data())))
        scan_id = list(run_scan(store, classifier, folder))[-1].scan_id
        [row] = store.results(scan_id)
        assert row.status is Status.ERROR and row.reason is Reason.TRUNCATED
        assert store.pending_files(scan_id, [film]) == [film]
