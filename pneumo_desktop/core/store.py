"""Scan results in SQLite: one transaction per result, so a crash loses nothing finished.

The database lives under the user's data directory, never in a scanned folder (a clinic's
folders may be read-only, and are not ours to write to). WAL journaling lets the GUI read while
a scan writes. A file is identified by path + size + modification time: a file that changed
since it was scanned is scanned again; one that did not is never run twice.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .files import file_identity
from .results import (
    Band,
    DatedResult,
    PatientStudy,
    Reason,
    ReviewMark,
    ScanResult,
    ScanState,
    Status,
    StoredResult,
    Subtype,
    ThresholdSource,
    Verdict,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY,
    folder TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    state TEXT NOT NULL DEFAULT 'running',  -- running | complete | cancelled
    model_name TEXT, model_version TEXT, model_sha256 TEXT, threshold REAL,
    total_files INTEGER,
    runner_pid INTEGER, runner_host TEXT, heartbeat TEXT  -- the process scanning it now
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    size INTEGER, mtime_ns INTEGER,
    status TEXT NOT NULL,                   -- ok | error | not_xray
    probability REAL, prediction TEXT, message TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',        -- why an error: truncated, too_large, ...
    subtype TEXT, subtype_probability REAL, -- bacteria | virus, P(virus | pneumonia)
    threshold REAL,                         -- the operating threshold that made the verdict
    threshold_source TEXT,                  -- factory | site
    band TEXT,                              -- likely | possible | unlikely
    scanned_at TEXT NOT NULL,
    review TEXT,            -- NULL | agree | disagree
    corrected_label TEXT,   -- NORMAL | PNEUMONIA when the radiologist disagrees
    note TEXT,
    reviewed_at TEXT,
    patient_id TEXT, patient_name TEXT, patient_age TEXT,   -- DICOM films: kept at scan time
    study_date TEXT, study_uid TEXT, study_description TEXT,
    UNIQUE (scan_id, path)
);
CREATE INDEX IF NOT EXISTS results_by_scan ON results (scan_id, probability);
CREATE TABLE IF NOT EXISTS annotations (  -- the reader's marks: core/annotation_store.py
    scan_id INTEGER NOT NULL, path TEXT NOT NULL, marks TEXT NOT NULL, saved_at TEXT NOT NULL,
    PRIMARY KEY (scan_id, path),
    FOREIGN KEY (scan_id, path) REFERENCES results (scan_id, path) ON DELETE CASCADE
);
"""


# A DICOM film's patient and study, stored with its result (PatientStudy's fields).
_STUDY_COLUMNS = ("patient_id", "patient_name", "patient_age", "study_date", "study_uid",
                  "study_description")


def default_db_path() -> Path:
    override = os.environ.get("PNEUMO_DB")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("pneumo_desktop", appauthor=False)) / "results.sqlite3"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ScanInfo:
    id: int
    folder: str
    started: str
    finished: str | None
    state: ScanState
    model_name: str | None
    model_version: str | None
    threshold: float | None
    total_files: int | None
    done_files: int
    runner: ScanRunner | None = None  # the process that holds the scan's lease, if any


@dataclass(frozen=True)
class ScanRunner:
    """The process scanning a scan now (see :mod:`.scan_lease`): its id, its machine and its
    last heartbeat."""

    pid: int
    host: str
    heartbeat: dt.datetime


class ResultStore:
    """One connection per store object; give each thread its own ``ResultStore``."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_db_path()
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed result survives power loss
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A store made by an earlier version gains the newer columns."""
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(scans)")}
        for column, declaration in (("runner_pid", "INTEGER"), ("runner_host", "TEXT"),
                                    ("heartbeat", "TEXT")):
            if column not in have:
                self._db.execute(f"ALTER TABLE scans ADD COLUMN {column} {declaration}")
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(results)")}
        for column, declaration in (
            ("reason", "TEXT NOT NULL DEFAULT ''"),
            ("subtype", "TEXT"),
            ("subtype_probability", "REAL"),
            ("threshold", "REAL"),  # rows scanned before it existed keep NULL: unknown
            ("threshold_source", "TEXT"),
            ("band", "TEXT"),
            *((column, "TEXT") for column in _STUDY_COLUMNS),
        ):
            if column not in have:
                self._db.execute(f"ALTER TABLE results ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Scans -------------------------------------------------------------------------------
    def start_scan(self, folder: Path, card=None, total_files: int | None = None, *,
                   threshold: float | None = None) -> int:
        """A new RUNNING scan; ``threshold`` defaults to the card's."""
        if threshold is None:
            threshold = getattr(card, "threshold", None)
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO scans (folder, started, model_name, model_version, model_sha256,"
                " threshold, total_files) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    str(Path(folder).resolve()),
                    _now(),
                    getattr(card, "name", None),
                    getattr(card, "version", None),
                    model_sha256(card),
                    threshold,
                    total_files,
                ),
            )
        return int(cursor.lastrowid)

    def set_total(self, scan_id: int, total_files: int) -> None:
        with self._db:
            self._db.execute("UPDATE scans SET total_files=? WHERE id=?", (total_files, scan_id))

    def finish_scan(self, scan_id: int, state: ScanState = ScanState.COMPLETE) -> None:
        state = ScanState(state)
        if state not in (ScanState.COMPLETE, ScanState.CANCELLED):
            raise ValueError(f"a scan finishes complete or cancelled, not {state!r}")
        with self._db:
            self._db.execute(
                "UPDATE scans SET state=?, finished=? WHERE id=?", (state, _now(), scan_id)
            )

    def scan(self, scan_id: int) -> ScanInfo:
        rows = self._scan_rows("WHERE s.id=?", (scan_id,))
        if not rows:
            raise KeyError(f"no scan {scan_id}")
        return rows[0]

    def scan_model_sha256(self, scan_id: int) -> str | None:
        row = self._db.execute("SELECT model_sha256 FROM scans WHERE id=?", (scan_id,)).fetchone()
        return row["model_sha256"] if row else None

    def scans(self) -> list[ScanInfo]:
        return self._scan_rows("", ())

    def unfinished_scans(self) -> list[ScanInfo]:
        return self._scan_rows("WHERE s.state=?", (ScanState.RUNNING,))

    def _scan_rows(self, where: str, params: tuple) -> list[ScanInfo]:
        rows = self._db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM results r WHERE r.scan_id=s.id) AS done_files "
            f"FROM scans s {where} ORDER BY s.id DESC",
            params,
        ).fetchall()
        return [
            ScanInfo(
                r["id"], r["folder"], r["started"], r["finished"], ScanState(r["state"]),
                r["model_name"],
                r["model_version"], r["threshold"], r["total_files"], r["done_files"],
                _runner(r),
            )
            for r in rows
        ]

    def hold_scan(self, scan_id: int, pid: int | None, host: str = "") -> None:
        """Mark ``scan_id`` as being scanned by process ``pid`` on ``host`` now (a heartbeat);
        ``pid`` None releases it."""
        with self._db:
            self._db.execute(
                "UPDATE scans SET runner_pid=?, runner_host=?, heartbeat=? WHERE id=?",
                (pid, host if pid is not None else None, _now() if pid is not None else None,
                 scan_id),
            )

    # Results -----------------------------------------------------------------------------
    def pending_files(self, scan_id: int, files: list[Path]) -> list[Path]:
        """The files of ``files`` with no result yet, or whose size or mtime changed since."""
        known = {
            row["path"]: (row["size"], row["mtime_ns"])
            for row in self._db.execute(
                "SELECT path, size, mtime_ns FROM results WHERE scan_id=?", (scan_id,)
            )
        }
        pending = []
        for path in files:
            seen = known.get(str(path))
            if seen is None or seen != file_identity(path):
                pending.append(path)
        return pending

    def record(self, scan_id: int, result: ScanResult) -> None:
        """Commit one result; a re-scan of a changed file replaces the old row and review."""
        size, mtime_ns = result.file_identity or file_identity(result.path)
        study = result.study or PatientStudy()
        columns = ("scan_id", "path", "size", "mtime_ns", "status", "probability",
                   "prediction", "message", "reason", "subtype", "subtype_probability",
                   "threshold", "threshold_source", "band", "scanned_at", *_STUDY_COLUMNS)
        values = (
            scan_id, result.path, size, mtime_ns, result.status, result.probability,
            result.verdict, result.message, result.reason or "", result.subtype,
            result.subtype_probability, result.threshold, result.threshold_source,
            result.band, _now(), *(getattr(study, name) or None for name in _STUDY_COLUMNS),
        )
        replaced = ", ".join(f"{column}=excluded.{column}" for column in columns[2:])
        with self._db:
            self._db.execute(
                f"INSERT INTO results ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})"
                f" ON CONFLICT (scan_id, path) DO UPDATE SET {replaced}, review=NULL,"
                " corrected_label=NULL, note=NULL, reviewed_at=NULL",
                values,
            )
            # A changed file's earlier marks went with its review.
            self._db.execute("DELETE FROM annotations WHERE scan_id=? AND path=?",
                             (scan_id, result.path))

    def results(self, scan_id: int) -> list[StoredResult]:
        """All results of a scan, most suspicious first, errors last."""
        rows = self._db.execute(
            "SELECT * FROM results WHERE scan_id=? "
            "ORDER BY probability IS NULL, probability DESC, path",
            (scan_id,),
        ).fetchall()
        return [_stored_result(row) for row in rows]

    def dated_results(self) -> list[DatedResult]:
        """Every result of every scan with when it was scanned and reviewed and by which
        model, oldest first: what monitoring and calibration from review marks read."""
        rows = self._db.execute(
            "SELECT r.*, s.model_sha256 FROM results r JOIN scans s ON s.id = r.scan_id "
            "ORDER BY r.scanned_at, r.id"
        ).fetchall()
        return [
            DatedResult(
                dt.datetime.fromisoformat(r["scanned_at"]),
                dt.datetime.fromisoformat(r["reviewed_at"]) if r["reviewed_at"] else None,
                r["model_sha256"],
                _stored_result(r),
                r["size"],
                r["mtime_ns"],
            )
            for r in rows
        ]

    def set_review(
        self,
        scan_id: int,
        path: str,
        review: ReviewMark | None,
        corrected_label: Verdict | None = None,
        note: str | None = None,
    ) -> bool:
        """The radiologist's mark: AGREE/DISAGREE (with the corrected label) or None, and its
        audit row, in one transaction (:mod:`.review_save`); returns whether it changed."""
        from .review_save import save_review

        return save_review(self._db, scan_id, path, review, corrected_label, note)


def model_sha256(card) -> str | None:
    """The sha256 of the model file a card vouches for (None without a card): the one place
    the app reads it from the card."""
    return card.sha256 if card is not None else None


def _runner(row: sqlite3.Row) -> ScanRunner | None:
    if row["runner_pid"] is None or not row["heartbeat"]:
        return None
    return ScanRunner(row["runner_pid"], row["runner_host"] or "",
                      dt.datetime.fromisoformat(row["heartbeat"]))


def _optional(kind, value):
    """A stored string as its enum; NULL (and the empty string) as None."""
    return kind(value) if value else None


def _stored_result(row: sqlite3.Row) -> StoredResult:
    """A results row as the record family's :class:`StoredResult`; legacy reason codes are
    read through :meth:`Reason.parse`."""
    return StoredResult(
        path=row["path"],
        status=Status(row["status"]),
        probability=row["probability"],
        verdict=_optional(Verdict, row["prediction"]),
        band=_optional(Band, row["band"]),
        threshold=row["threshold"],
        threshold_source=_optional(ThresholdSource, row["threshold_source"]),
        subtype=_optional(Subtype, row["subtype"]),
        subtype_probability=row["subtype_probability"],
        message=row["message"],
        reason=Reason.parse(row["reason"]),
        review=_optional(ReviewMark, row["review"]),
        corrected_label=_optional(Verdict, row["corrected_label"]),
        note=row["note"],
        study=_patient_study(row),
    )


def _patient_study(row: sqlite3.Row) -> PatientStudy | None:
    values = {name: row[name] or "" for name in _STUDY_COLUMNS}
    return PatientStudy(**values) if any(values.values()) else None

