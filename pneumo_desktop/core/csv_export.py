"""CSV export of scan results, written atomically.

The columns of earlier versions come first and keep their names (``prediction`` is the
verdict at the operating threshold); each verdict then says which threshold made it
(``threshold``, ``threshold_source``) and its triage ``band``. A DICOM film's patient and study
follow (empty for other files), then the radiologist's review and note.

``anonymise`` leaves out the columns that identify the patient: ``patient_id``,
``patient_name`` and ``study_uid`` (a UID leads back to the patient in the PACS). The age and
the study date stay: a reader needs them, and neither names anyone alone. File paths and free
notes are kept as they are: whoever shares an anonymised file checks those.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .results import PatientStudy, ScanResult

CSV_COLUMNS = (
    "path", "status", "probability", "prediction", "message", "reason", "subtype",
    "subtype_probability", "threshold", "threshold_source", "band",
)
PATIENT_COLUMNS = ("patient_id", "patient_name", "patient_age", "study_date", "study_uid")
#: The columns ``anonymise`` leaves out.
IDENTIFYING_COLUMNS = ("patient_id", "patient_name", "study_uid")
REVIEW_COLUMNS = ("review", "corrected_label", "note")


def csv_columns(*, anonymise: bool = False) -> tuple[str, ...]:
    """The header of an exported CSV."""
    patient = tuple(c for c in PATIENT_COLUMNS if not (anonymise and c in IDENTIFYING_COLUMNS))
    return CSV_COLUMNS + patient + REVIEW_COLUMNS


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


log = logging.getLogger(__name__)


def result_row(result: ScanResult) -> dict:
    """One CSV row, every column; the review columns are filled when ``result`` (a
    :class:`~pneumo_desktop.core.results.StoredResult`) carries a review."""
    row = {
        "path": result.path,
        "status": result.status,
        "probability": _number(result.probability),
        "prediction": result.verdict or "",
        "message": result.message,
        "reason": result.reason or "",
        "subtype": result.subtype or "",
        "subtype_probability": _number(result.subtype_probability),
        "threshold": _number(result.threshold),
        "threshold_source": result.threshold_source or "",
        "band": result.band or "",
    }
    study = result.study or PatientStudy()
    for column in PATIENT_COLUMNS:
        row[column] = getattr(study, column)
    for column in REVIEW_COLUMNS:
        row[column] = getattr(result, column, None) or ""
    return row


class AtomicCsvWriter:
    """Rows go to a temp file beside the target; :meth:`commit` renames it into place, so the
    target is either the previous file or a complete new one."""

    def __init__(self, path: Path, columns: Iterable[str] = CSV_COLUMNS):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        self._handle = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=list(columns))
        self._writer.writeheader()

    def write(self, row: dict) -> None:
        self._writer.writerow(row)

    def commit(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._handle.close()
        Path(self._tmp).unlink(missing_ok=True)

    def __enter__(self) -> "AtomicCsvWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_csv(path: Path, results: Iterable[ScanResult], *, anonymise: bool = False) -> int:
    """Write ``results`` to ``path`` atomically (see the module doc for the columns and
    ``anonymise``); returns the number of rows."""
    count = 0
    columns = csv_columns(anonymise=anonymise)
    with AtomicCsvWriter(path, columns) as writer:
        for result in results:
            row = result_row(result)
            writer.write({column: row[column] for column in columns})
            count += 1
    log.info("wrote CSV %s (%d rows%s)", path, count, ", anonymised" if anonymise else "")
    return count
