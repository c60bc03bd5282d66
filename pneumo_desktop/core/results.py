"""The result vocabulary: every status, verdict, band, subtype, review mark, threshold source and
reason code the app, the CLI, the store and the reports use, and the one record family that
carries a verdict from the model to the worklist.

Values are ``StrEnum``s, so they compare equal to, print as, and are stored in SQLite and CSV
as the plain strings they replaced (``Status.OK == "ok"``). Nothing else in the app spells
these strings.

Record family (each one adds to the one before):

* :class:`Prediction` -- what the model says about one film under one :class:`OperatingPoint`.
* :class:`ScanResult` -- one file of a scan: a prediction, or why there is none.
* :class:`StoredResult` -- a scan result as the store keeps it, with the radiologist's review.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from .files import FileIdentity


class Status(StrEnum):
    """Whether a file got a verdict."""

    OK = "ok"  # classified
    ERROR = "error"  # could not be read; ``reason`` says why
    NOT_XRAY = "not_xray"  # read, but not a chest X-ray the model was made for


class Verdict(StrEnum):
    """The call at the operating threshold (the CSV's ``prediction`` column)."""

    NORMAL = "NORMAL"
    PNEUMONIA = "PNEUMONIA"

    @property
    def other(self) -> "Verdict":
        return Verdict.NORMAL if self is Verdict.PNEUMONIA else Verdict.PNEUMONIA


class Band(StrEnum):
    """Three-band triage instead of one hard label (see :class:`OperatingPoint`)."""

    LIKELY = "likely"  # P >= the upper (high-specificity) threshold
    POSSIBLE = "possible"  # between the operating and the upper threshold
    UNLIKELY = "unlikely"  # below the operating threshold

    @property
    def wording(self) -> str:
        """What a radiologist reads on the banner, the worklist and the reports."""
        return _BAND_WORDING[self]


_BAND_WORDING = {
    Band.LIKELY: "Pneumonia likely",
    Band.POSSIBLE: "Possible pneumonia — look",
    Band.UNLIKELY: "No pneumonia found",
}


class Subtype(StrEnum):
    """The secondary bacterial/viral estimate, for pneumonia calls only."""

    BACTERIA = "bacteria"
    VIRUS = "virus"


class ReviewMark(StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"


class ScanState(StrEnum):
    """Where a scan stands (the store's ``scans.state``)."""

    RUNNING = "running"  # scanning now, or stopped without finishing: resumable
    COMPLETE = "complete"
    CANCELLED = "cancelled"  # stopped by the user (or a resume declined); still resumable
    # Never stored: a run that failed with an error stays RUNNING in the store, to be resumed;
    # FAILED is how the app reports that run's end.
    FAILED = "error"


class ThresholdSource(StrEnum):
    """Where the operating threshold of a verdict came from."""

    FACTORY = "factory"  # the model card's, chosen on validation films
    SITE = "site"  # the clinic's site profile, calibrated on its own reviewed films


class Reason(StrEnum):
    """Stable, machine-readable codes: why a file has no verdict (``error`` / ``not_xray``
    rows), or a notice on a classified one (``outside_intended_age``). README lists them."""

    NOT_XRAY = "not_xray"
    OUTSIDE_INTENDED_AGE = "outside_intended_age"
    MISSING = "missing"
    NOT_A_FILE = "not_a_file"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    TRUNCATED = "truncated"
    NOT_IMAGE = "not_image"
    UNSUPPORTED = "unsupported"  # an image mode or shape the app cannot show
    UNSUPPORTED_DICOM = "unsupported_dicom"  # a DICOM transfer syntax no bundled decoder reads
    TOO_LARGE = "too_large"
    OUT_OF_MEMORY = "out_of_memory"

    @classmethod
    def parse(cls, text: str | None) -> "Reason | None":
        """A stored code, including those older versions wrote; None for no reason."""
        if not text:
            return None
        return cls(_LEGACY_REASONS.get(text, text))


_LEGACY_REASONS = {
    "dicom_compressed": "unsupported_dicom",
    "dicom_no_pixels": "not_image",
    "memory": "out_of_memory",
}


@dataclass(frozen=True)
class OperatingPoint:
    """The thresholds that turn P(pneumonia) into a verdict and a band.

    ``threshold`` is the operating threshold (PNEUMONIA at or above it); ``likely_threshold``
    the upper one, set for high specificity. An upper threshold below the operating one is
    treated as equal to it (there is then no ``possible`` band).
    """

    threshold: float
    likely_threshold: float
    source: ThresholdSource = ThresholdSource.FACTORY

    def verdict(self, probability: float) -> Verdict:
        return Verdict.PNEUMONIA if probability >= self.threshold else Verdict.NORMAL

    def band(self, probability: float) -> Band:
        if probability < self.threshold:
            return Band.UNLIKELY
        if probability >= max(self.likely_threshold, self.threshold):
            return Band.LIKELY
        return Band.POSSIBLE


@dataclass(frozen=True)
class Prediction:
    """What the model says about one film. ``status`` is OK or NOT_XRAY (a film the model
    refuses gets no verdict, band or subtype: a confident NORMAL on a photograph would be
    worse than none)."""

    status: Status
    probability: float  # P(pneumonia), 0..1
    threshold: float
    threshold_source: ThresholdSource
    verdict: Verdict | None = None
    band: Band | None = None
    ood_distance: float | None = None  # distance from the training films' features
    subtype: Subtype | None = None  # for PNEUMONIA verdicts only
    subtype_probability: float | None = None  # P(virus | pneumonia)

    @property
    def is_xray(self) -> bool:
        return self.status is Status.OK

    @property
    def probability_text(self) -> str:
        """``P(pneumonia) = 0.512 (threshold 0.043)``: more digits only where three would
        print P equal to the threshold beside a verdict that differs."""
        probability, threshold, digits = self.probability, self.threshold, 3
        while digits < 6 and f"{probability:.{digits}f}" == f"{threshold:.{digits}f}":
            digits += 1
        return f"P(pneumonia) = {probability:.{digits}f} (threshold {threshold:.{digits}f})"

    @classmethod
    def under(
        cls,
        point: OperatingPoint,
        probability: float,
        *,
        ood_distance: float | None = None,
        ood_threshold: float | None = None,
        subtype_probability: float | None = None,
    ) -> "Prediction":
        """The prediction for ``probability`` at ``point``; NOT_XRAY when the distance is over
        the limit; the subtype only for a PNEUMONIA verdict."""
        common = dict(
            probability=float(probability), threshold=point.threshold,
            threshold_source=point.source, ood_distance=ood_distance,
        )
        if ood_distance is not None and ood_threshold is not None and ood_distance > ood_threshold:
            return cls(Status.NOT_XRAY, **common)
        verdict = point.verdict(probability)
        subtype = None
        if verdict is Verdict.PNEUMONIA and subtype_probability is not None:
            subtype = Subtype.VIRUS if subtype_probability >= 0.5 else Subtype.BACTERIA
        return cls(
            Status.OK, verdict=verdict, band=point.band(probability), subtype=subtype,
            subtype_probability=subtype_probability if verdict is Verdict.PNEUMONIA else None,
            **common,
        )


@dataclass(frozen=True)
class PatientStudy:
    """Whose film it is and from which study, as a scan keeps it with the result (DICOM films;
    files without DICOM tags have none). Empty strings for tags the film does not carry."""

    patient_id: str = ""
    patient_name: str = ""  # DICOM PN as stored, e.g. "Doe^Jane"
    patient_age: str = ""  # at the study, as a radiologist writes it: "4 y", "18 mo"
    study_date: str = ""  # ISO 8601, e.g. "2024-01-31"
    study_uid: str = ""  # StudyInstanceUID
    study_description: str = ""

    @property
    def display_name(self) -> str:
        """"Family, Given" from the PN "Family^Given^Middle"."""
        parts = [part.strip() for part in self.patient_name.split("=")[0].split("^")]
        return ", ".join(p for p in (parts[0], " ".join(p for p in parts[1:3] if p)) if p)


@dataclass(frozen=True)
class ScanResult:
    """One file of a scan. ``status`` ERROR or NOT_XRAY rows carry ``reason`` and ``message``
    and no probability/verdict (NOT_XRAY keeps its probability out of every report)."""

    path: str
    status: Status
    probability: float | None = None
    verdict: Verdict | None = None
    band: Band | None = None
    threshold: float | None = None
    threshold_source: ThresholdSource | None = None
    subtype: Subtype | None = None
    subtype_probability: float | None = None
    message: str = ""
    reason: Reason | None = None
    study: PatientStudy | None = None  # DICOM films: the patient and study
    #: (size, mtime_ns) taken *before* the file was read: a film still being copied when it
    #: was read must not be stored with the size it reached later, or it is never rescanned.
    file_identity: FileIdentity | None = None

    @classmethod
    def from_prediction(cls, path: str, prediction: Prediction, message: str = "",
                        reason: Reason | None = None,
                        study: PatientStudy | None = None) -> "ScanResult":
        if not prediction.is_xray:
            return cls(path, Status.NOT_XRAY, message=message, reason=Reason.NOT_XRAY,
                       threshold=prediction.threshold,
                       threshold_source=prediction.threshold_source, study=study)
        return cls(
            path, Status.OK, prediction.probability, prediction.verdict, prediction.band,
            prediction.threshold, prediction.threshold_source, prediction.subtype,
            prediction.subtype_probability, message, reason, study,
        )

    @classmethod
    def failed(cls, path: str, message: str, reason: Reason) -> "ScanResult":
        return cls(path, Status.ERROR, message=message, reason=reason)


@dataclass(frozen=True)
class StoredResult(ScanResult):
    """A scan result as stored, with the radiologist's review (None until reviewed)."""

    review: ReviewMark | None = None
    corrected_label: Verdict | None = None  # set when the review is DISAGREE
    note: str | None = None

    @classmethod
    def from_scan(cls, result: ScanResult) -> "StoredResult":
        """A freshly scanned result: a (re)scan clears any earlier review."""
        return cls(**{f.name: getattr(result, f.name) for f in dataclasses.fields(ScanResult)})

    @property
    def reviewed(self) -> bool:
        return self.review is not None

    @property
    def final_label(self) -> Verdict | None:
        """The radiologist's label when reviewed (agree: the model's verdict), else None."""
        if self.review is ReviewMark.AGREE:
            return self.verdict
        if self.review is ReviewMark.DISAGREE:
            return self.corrected_label
        return None


@dataclass(frozen=True)
class DatedResult:
    """A stored result with when it was scanned and reviewed and by which model, and the
    file's size and mtime when it was scanned (with the path, the store's file identity)."""

    scanned_at: dt.datetime
    reviewed_at: dt.datetime | None
    model_sha256: str | None
    result: StoredResult
    size: int | None = None
    mtime_ns: int | None = None

    @property
    def film(self) -> tuple[str, int | None, int | None]:
        """The film's identity: the same path, size and mtime in any scan is the same film."""
        return self.result.path, self.size, self.mtime_ns
