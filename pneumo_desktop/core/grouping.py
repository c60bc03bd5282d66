"""Grouping a worklist by patient or by study (no Qt): the key and the words of each group.

DICOM films carry their patient (PatientID, else the name) and study (StudyInstanceUID), kept
with the result at scan time (:class:`~.results.PatientStudy`). Files without DICOM tags are
grouped by the folder they are in: a clinic that exports one folder per patient or per day
still sees its films together.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from .results import ScanResult


class Grouping(StrEnum):
    NONE = "none"
    PATIENT = "patient"
    STUDY = "study"


def group_key(result: ScanResult, grouping: Grouping) -> tuple[str, str]:
    """What films of one group share: ``("patient", id)``, ``("study", uid)`` or
    ``("folder", path)``; ``("", "")`` when not grouping."""
    if grouping is Grouping.NONE:
        return "", ""
    study = result.study
    if study is not None:
        if grouping is Grouping.PATIENT and (study.patient_id or study.patient_name):
            return "patient", study.patient_id or study.patient_name
        if grouping is Grouping.STUDY and study.study_uid:
            return "study", study.study_uid
    return "folder", str(Path(result.path).parent)


def patient_text(result: ScanResult, *, anonymise: bool = False) -> str:
    """``Doe, Jane · ID P-0042 · 4 y`` (``anonymise``: the age alone, as the CSV keeps it);
    "" for a film without DICOM tags."""
    study = result.study
    if study is None:
        return ""
    parts = [study.patient_age]
    if not anonymise:
        parts[:0] = [study.display_name, f"ID {study.patient_id}" if study.patient_id else ""]
    return " · ".join(part for part in parts if part)


def study_text(result: ScanResult) -> str:
    """``2024-01-31 · CHEST PA``; "" for a film without DICOM tags."""
    study = result.study
    if study is None:
        return ""
    return " · ".join(part for part in (study.study_date, study.study_description) if part)


def group_label(result: ScanResult, grouping: Grouping) -> str:
    """The heading of ``result``'s group."""
    kind, value = group_key(result, grouping)
    if kind == "folder":
        return f"Folder {Path(value).name or value}"
    if kind == "patient":
        return patient_text(result)
    if kind == "study":
        return " · ".join(part for part in (result.study.display_name, study_text(result))
                          if part) or f"Study {value}"
    return ""
