"""The audit trail: every review action, calibration change and profile revert, append-only.

It lives in the results database file (its own table, ``audit_log``), so one file holds the
verdicts and who changed them. Rows are never changed:

* the API offers :meth:`AuditTrail.record` and reads, nothing that updates or deletes;
* SQLite triggers abort any ``UPDATE`` or ``DELETE`` of the table, and an ``INSERT OR
  REPLACE`` that would overwrite an existing row;
* each row carries ``row_hash``, the sha256 of the previous row's hash and its own fields, so
  an edit made by someone who dropped the triggers (they can: it is a file on their disk) is
  found by :meth:`AuditTrail.verify`.

Wiring: review marks are recorded by :meth:`ResultStore.set_review` itself, the one place
marks are saved (the worklist and the viewer's review bar both save there), in the same
transaction as the mark (:func:`append_row`); calibrations and reverts by
:mod:`.site_changes`. Anyone else calls ``AuditTrail(db_path).record(AuditAction...,
old_value=..., new_value=..., path=..., model=..., threshold=..., threshold_source=...)`` once
per action.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import hashlib
import json
import os
import sqlite3
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path

from .csv_export import AtomicCsvWriter
from .identity import ModelIdentity, file_sha256, sop_instance_uid
from .results import ThresholdSource

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,                 -- UTC, ISO 8601
    user TEXT NOT NULL,               -- the OS user
    action TEXT NOT NULL,             -- AuditAction
    path TEXT, sop_instance_uid TEXT, file_sha256 TEXT,
    model_name TEXT, model_version TEXT, model_sha256 TEXT,
    threshold REAL, threshold_source TEXT,
    old_value TEXT, new_value TEXT,
    row_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: rows cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: rows cannot be replaced'); END;
"""


class AuditAction(StrEnum):
    """What was done. Values are stored as these strings."""

    REVIEW = "review"  # a radiologist's mark set, changed or cleared on one film
    CALIBRATION = "calibration"  # a site threshold applied
    PROFILE_REVERT = "profile_revert"  # the site profile reverted to the factory threshold


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    user: str
    action: AuditAction
    path: str | None
    sop_instance_uid: str | None
    file_sha256: str | None
    model_name: str | None
    model_version: str | None
    model_sha256: str | None
    threshold: float | None
    threshold_source: ThresholdSource | None
    old_value: str | None
    new_value: str | None
    row_hash: str


CSV_COLUMNS = tuple(f.name for f in fields(AuditEntry))
_HASHED = CSV_COLUMNS[1:-1]  # every field but the row id and the hash itself


def current_user() -> str:
    """The OS user running the app; "unknown" where the OS will not say."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name, no passwd entry, no pwd module
        return "unknown"


def review_value(result) -> str | None:
    """The ``old_value``/``new_value`` of a REVIEW row: the review fields of a stored result
    (anything with ``review``, ``corrected_label`` and ``note``) as JSON; None when there is
    neither a mark nor a note."""
    review = getattr(result, "review", None)
    corrected = getattr(result, "corrected_label", None)
    note = getattr(result, "note", None) or None
    if review is None and corrected is None and note is None:  # a note alone still counts
        return None
    return json.dumps(
        {"review": None if review is None else str(review),
         "corrected_label": None if corrected is None else str(corrected), "note": note},
        ensure_ascii=False,
    )


def review_change(before, row, review, corrected_label, note) -> dict | None:
    """The fields of a REVIEW row for changing ``before`` (a stored result; ``row`` has its
    scan's model_name/version/sha256) to the given mark: old -> new, the model and the
    threshold that made the verdict. None when the mark is already that (nothing to record)."""
    after = dataclasses.replace(before, review=review, corrected_label=corrected_label,
                                note=note)
    if (before.review, before.corrected_label, before.note) == (review, corrected_label, note):
        return None
    model = None
    if row["model_sha256"]:
        model = ModelIdentity(str(row["model_name"]), str(row["model_version"]),
                              str(row["model_sha256"]))
    return {"old_value": review_value(before), "new_value": review_value(after),
            "model": model, "threshold": before.threshold,
            "threshold_source": before.threshold_source}


def _row_hash(previous_hash: str, values: dict) -> str:
    canonical = json.dumps([previous_hash, *(values[name] for name in _HASHED)], default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def film_fields(path: str | os.PathLike[str] | None) -> dict:
    """The film columns of a row: its path, SOP Instance UID (DICOM) and sha256. Read before a
    transaction opens (hashing a film takes a moment); a film moved or deleted since keeps its
    path only."""
    film = {"path": None, "sop_instance_uid": None, "file_sha256": None}
    if path is not None:
        film["path"] = str(path)
        film["sop_instance_uid"] = sop_instance_uid(path)
        try:
            film["file_sha256"] = file_sha256(path)
        except OSError:
            pass
    return film


def row_values(
    action: AuditAction,
    *,
    old_value: str | None,
    new_value: str | None,
    film: dict | None = None,
    model: ModelIdentity | None = None,
    threshold: float | None = None,
    threshold_source: ThresholdSource | None = None,
    user: str | None = None,
) -> dict:
    """One row's columns but the id and hash; ``film`` from :func:`film_fields`."""
    return {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "user": user or current_user(),
        "action": AuditAction(action).value,
        **(film or film_fields(None)),
        "model_name": model.name if model else None,
        "model_version": model.version if model else None,
        "model_sha256": model.sha256 if model else None,
        "threshold": None if threshold is None else float(threshold),
        "threshold_source": ThresholdSource(threshold_source).value
        if threshold_source is not None else None,
        "old_value": old_value, "new_value": new_value,
    }


def create_table(connection: sqlite3.Connection) -> None:
    """The table and its triggers, when the database has none yet (outside a transaction)."""
    connection.executescript(SCHEMA)


def append_row(connection: sqlite3.Connection, values: dict) -> int:
    """Append one row inside the caller's open write transaction (``BEGIN IMMEDIATE``: no
    other writer slips a row in between reading the last hash and this one), so a change and
    its audit row commit together. Returns the new row's id."""
    last = connection.execute("SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    values = dict(values, row_hash=_row_hash(last[0] if last else "", values))
    cursor = connection.execute(
        f"INSERT INTO audit_log ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
        tuple(values.values()),
    )
    return int(cursor.lastrowid)


class AuditTrail:
    """The ``audit_log`` table of a results database. One connection per object; give each
    thread its own."""

    def __init__(self, db_path: Path | str):
        self.path = Path(db_path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        create_table(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "AuditTrail":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def record(
        self,
        action: AuditAction,
        *,
        old_value: str | None,
        new_value: str | None,
        path: str | os.PathLike[str] | None = None,
        model: ModelIdentity | None = None,
        threshold: float | None = None,
        threshold_source: ThresholdSource | None = None,
        user: str | None = None,
    ) -> AuditEntry:
        """Append one row and return it. ``path`` is the film (None for site-wide actions);
        its sha256 and, for DICOM, its SOP Instance UID are read here. ``user`` defaults to
        the OS user."""
        values = row_values(
            action, old_value=old_value, new_value=new_value, film=film_fields(path),
            model=model, threshold=threshold, threshold_source=threshold_source, user=user,
        )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row_id = append_row(self._db, values)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return self._entry(self._db.execute(
            "SELECT * FROM audit_log WHERE id=?", (row_id,)
        ).fetchone())

    def entries(
        self, *, action: AuditAction | None = None, path: str | None = None
    ) -> list[AuditEntry]:
        """Rows in the order they were written, optionally of one action or one film."""
        where, params = [], []
        if action is not None:
            where.append("action=?")
            params.append(AuditAction(action).value)
        if path is not None:
            where.append("path=?")
            params.append(str(path))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._db.execute(f"SELECT * FROM audit_log {clause}ORDER BY id", params)
        return [self._entry(row) for row in rows]

    def verify(self) -> int | None:
        """The id of the first row whose hash does not follow from the rows before it (a row
        edited, inserted or removed behind the API's back), or None when the chain holds."""
        previous = ""
        for entry in self.entries():
            values = asdict(entry)
            if _row_hash(previous, values) != entry.row_hash:
                return entry.id
            previous = entry.row_hash
        return None

    def export_csv(self, path: Path) -> int:
        """Write every row to ``path`` (atomically); returns the number of rows."""
        entries = self.entries()
        with AtomicCsvWriter(Path(path), CSV_COLUMNS) as writer:
            for entry in entries:
                row = asdict(entry)
                writer.write({key: "" if value is None else value for key, value in row.items()})
        return len(entries)

    @staticmethod
    def _entry(row: sqlite3.Row) -> AuditEntry:
        values = dict(row)
        values["action"] = AuditAction(values["action"])
        if values["threshold_source"] is not None:
            values["threshold_source"] = ThresholdSource(values["threshold_source"])
        return AuditEntry(**values)
