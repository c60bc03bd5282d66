"""Saving a radiologist's review mark together with its audit row (the work of
:meth:`ResultStore.set_review <pneumo_desktop.core.store.ResultStore.set_review>`).

``set_review`` is the one place marks are saved (the worklist and the viewer's review bar both
come there), so it is also where each is audited: the mark and its audit row (who, when, the
film's identity, the model and threshold that made the verdict, old -> new) commit in one
transaction, or neither does. Saving what is already there changes nothing and records nothing.
"""

from __future__ import annotations

import sqlite3

from .results import ReviewMark, Verdict
from .review import checked_mark
from .store import _now, _stored_result


def save_review(db: sqlite3.Connection, scan_id: int, path: str, review: ReviewMark | None,
                corrected_label: Verdict | None, note: str | None) -> bool:
    """Save the mark of ``path`` in ``scan_id`` and its audit row; whether the mark changed.
    KeyError when the scan has no result for ``path``; ValueError for a mark that is none."""
    # Imported here: audit reads DICOM headers (pydicom), which the store alone never needs.
    from .audit import AuditAction, append_row, create_table, film_fields, row_values

    review, corrected_label = checked_mark(review, corrected_label)
    create_table(db)
    film = film_fields(path)  # hashing the film takes a moment: before the transaction
    db.execute("BEGIN IMMEDIATE")
    try:
        change = _changed_mark(db, scan_id, path, review, corrected_label, note)
        if change is not None:
            append_row(db, row_values(AuditAction.REVIEW, film=film, **change))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return change is not None


def _changed_mark(db, scan_id, path, review, corrected_label, note) -> dict | None:
    """In save_review's transaction: save the mark; the audit fields of the change (None when
    the mark is already that)."""
    from .audit import review_change

    row = db.execute(
        "SELECT r.*, s.model_name, s.model_version, s.model_sha256 FROM results r "
        "JOIN scans s ON s.id = r.scan_id WHERE r.scan_id=? AND r.path=?", (scan_id, path)
    ).fetchone()
    if row is None:
        raise KeyError(f"no result for {path} in scan {scan_id}")
    change = review_change(_stored_result(row), row, review, corrected_label, note)
    if change is not None:
        db.execute(
            "UPDATE results SET review=?, corrected_label=?, note=?, reviewed_at=? "
            "WHERE scan_id=? AND path=?",
            (review, corrected_label, note, _now() if review else None, scan_id, path),
        )
    return change
