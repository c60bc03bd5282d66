import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.batch import ResumeError, run_scan
from pneumo_desktop.core.scan import ScanResult
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
            status = "error" if probability is None else "ok"
            store.record(scan, ScanResult(str(path), status, probability))
        assert [Path(r.path).name for r in store.results(scan)] == ["b", "d", "a", "c"]


def test_review_marks_are_validated_and_kept(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"x")
    db = tmp_path / "r.sqlite3"
    with ResultStore(db) as store:
        scan = store.start_scan(tmp_path)
        store.record(scan, ScanResult(str(path), "ok", 0.7, "PNEUMONIA"))
        store.set_review(scan, str(path), "disagree", "NORMAL", "old scar, not consolidation")
        with pytest.raises(ValueError):
            store.set_review(scan, str(path), "maybe")
        with pytest.raises(KeyError):
            store.set_review(scan, str(tmp_path / "other.png"), "agree")
    with ResultStore(db) as reopened:
        (row,) = reopened.results(scan)
        assert (row.review, row.corrected_label, row.note) == (
            "disagree", "NORMAL", "old scar, not consolidation"
        )


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
        assert store.scan(first.scan_id).state == "complete"
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
    with ResultStore(tmp_path / "r.sqlite3") as store:
        with store._db:
            store._db.execute(
                "INSERT INTO scans (id, folder, started, model_name, model_sha256)"
                " VALUES (7, ?, 'now', 'other', 'abc')",
                (str(folder),),
            )
        with pytest.raises(ResumeError, match="another model"):
            list(run_scan(store, tiny_classifier, resume_scan_id=7))
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

