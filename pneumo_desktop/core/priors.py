"""A patient's earlier film, for side-by-side comparison (no Qt).

The candidates are the films the radiologist is reading through: the current scan's files or
the film's folder. Only DICOM films qualify: a JPEG carries no patient. A candidate is the
patient's earlier film when its ``PatientID`` is the current film's and its study is earlier
(study date, then study time; a film of the same study is not a prior). The most recent
earlier study wins.

Reading a header costs about a millisecond (``stop_before_pixels``), so a folder of 3,000
films takes seconds the first time: :class:`PriorIndex` keeps each file's header by path, size
and modification time, and the viewer asks it on a worker thread, with a cancel event.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from .dicom_context import DicomContext
from .dicom_preamble import read_dicom_header
from .files import FileIdentity, file_identity

log = logging.getLogger(__name__)

_TAGS = ("PatientID", "StudyDate", "StudyTime", "StudyInstanceUID")


@dataclass(frozen=True)
class StudyOf:
    """Who and when a film is: enough to find a prior."""

    path: str
    patient_id: str
    study_date: dt.date | None
    study_time: dt.time | None = None
    study_uid: str = ""

    @classmethod
    def of(cls, path: str, context: DicomContext | None) -> "StudyOf | None":
        if context is None or not context.patient_id:
            return None
        return cls(str(path), context.patient_id, context.study_date, context.study_time,
                   context.study_instance_uid)

    @property
    def when(self) -> tuple[dt.date, dt.time]:
        return self.study_date or dt.date.min, self.study_time or dt.time.min

    def is_prior_of(self, current: "StudyOf") -> bool:
        if self.path == current.path or self.patient_id != current.patient_id:
            return False
        if self.study_date is None or current.study_date is None:
            return False  # undated: no way to say which came first
        if self.study_uid and self.study_uid == current.study_uid:
            return False
        return self.when < current.when


def read_study(path: str | os.PathLike[str]) -> StudyOf | None:
    """The patient and study of a DICOM file (header only); None for anything else."""
    ds = read_dicom_header(path, list(_TAGS))
    if ds is None:
        return None
    return StudyOf.of(os.fspath(path), DicomContext.from_dataset(ds))


class PriorIndex:
    """Headers of candidate films, cached by path, size and mtime; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[str, tuple[FileIdentity, StudyOf | None]] = {}

    def study(self, path: str | os.PathLike[str]) -> StudyOf | None:
        path = os.fspath(path)
        identity = file_identity(path)
        if identity == (None, None):  # gone or unreadable
            return None
        with self._lock:
            cached = self._studies.get(path)
        if cached is not None and cached[0] == identity:
            return cached[1]
        study = read_study(path)
        with self._lock:
            self._studies[path] = (identity, study)
        return study

    def earlier_film(self, current: StudyOf, candidates: Iterable[str | os.PathLike[str]],
                     cancel: threading.Event | None = None) -> StudyOf | None:
        """The patient's most recent earlier film among ``candidates`` (None: there is none,
        or ``cancel`` was set)."""
        best: StudyOf | None = None
        for path in candidates:
            if cancel is not None and cancel.is_set():
                return None
            study = self.study(path)
            if study is not None and study.is_prior_of(current):
                if best is None or study.when > best.when:
                    best = study
        return best
