"""Who and what a DICOM film is: the patient and study context the reading workflow needs,
typed, read once from the dataset (no Qt).

Decisions:

* **Raw DICOM strings are kept** for names and identifiers (``Doe^Jane``, ``P-0042``): derived
  objects (Secondary Capture, SR) copy them unchanged; :attr:`DicomContext.display_name` is
  the form for people.
* **Dates and times are typed** (``datetime.date``/``time``) or ``None`` when absent or
  malformed: a broken tag must not stop the film from being shown.
* **Age**: the modality's ``PatientAge`` (``004Y``, ``018M``, ``003W``, ``010D``) when it is
  well formed, else computed from the birth date and the study date (when the study date is
  empty or malformed: the series, acquisition or content date, the day the film was taken).
  Never from today's date: an old film of a child who is now an adult must still read as a
  child's film.
* **Pixel spacing** (mm per pixel, row then column): ``PixelSpacing`` when present (calibrated
  in the patient), else ``ImagerPixelSpacing`` (at the detector, so anatomy measures slightly
  large by the geometric magnification). :attr:`DicomContext.pixel_spacing_source` says which.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydicom itself only where a value is parsed: the viewer imports this
    from pydicom.dataset import Dataset  # module at start, before any DICOM is opened

_DAYS_PER_YEAR = 365.2425
_AGE_UNITS_IN_YEARS = {"D": 1 / _DAYS_PER_YEAR, "W": 7 / _DAYS_PER_YEAR, "M": 1 / 12, "Y": 1.0}
_AGE_LABELS = {"D": "d", "W": "wk", "M": "mo", "Y": "y"}
_AGE_PATTERN = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DicomContext:
    """Patient and study context of one DICOM film. Empty strings for absent text tags."""

    patient_name: str = ""  # DICOM PN as stored, e.g. "Doe^Jane"
    patient_id: str = ""
    birth_date: dt.date | None = None
    patient_age: str = ""  # DICOM AS as stored, e.g. "004Y"
    sex: str = ""  # "M", "F", "O" or ""
    study_date: dt.date | None = None
    study_time: dt.time | None = None
    study_description: str = ""
    accession_number: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    sop_instance_uid: str = ""
    modality: str = ""  # "CR", "DX", ...
    view_position: str = ""  # "PA", "AP", "LL", ...
    pixel_spacing: tuple[float, float] | None = None  # mm per pixel: (row, column)
    pixel_spacing_source: str = ""  # "PixelSpacing", "ImagerPixelSpacing" or ""
    taken_date: dt.date | None = None  # series/acquisition/content date: age without a study date

    @classmethod
    def from_dataset(cls, ds: Dataset) -> "DicomContext":
        spacing, source = _pixel_spacing(ds)
        return cls(
            patient_name=_text(ds, "PatientName"),
            patient_id=_text(ds, "PatientID"),
            birth_date=parse_date(_text(ds, "PatientBirthDate")),
            patient_age=_text(ds, "PatientAge"),
            sex=_text(ds, "PatientSex").upper(),
            study_date=parse_date(_text(ds, "StudyDate")),
            study_time=_time(ds, "StudyTime"),
            study_description=_text(ds, "StudyDescription"),
            accession_number=_text(ds, "AccessionNumber"),
            study_instance_uid=_text(ds, "StudyInstanceUID"),
            series_instance_uid=_text(ds, "SeriesInstanceUID"),
            sop_instance_uid=_text(ds, "SOPInstanceUID"),
            modality=_text(ds, "Modality"),
            view_position=_text(ds, "ViewPosition"),
            pixel_spacing=spacing,
            pixel_spacing_source=source,
            taken_date=next(filter(None, (parse_date(_text(ds, keyword)) for keyword in
                                          ("SeriesDate", "AcquisitionDate", "ContentDate"))),
                            None),
        )

    @property
    def _age_date(self) -> dt.date | None:
        return self.study_date or self.taken_date

    @property
    def age_years(self) -> float | None:
        """Age at the study in years: from ``PatientAge``, else the birth and study dates."""
        stated = parse_age(self.patient_age)
        if stated is not None:
            return stated
        if self.birth_date is None or self._age_date is None:
            return None
        return _years_between(self.birth_date, self._age_date)

    @property
    def age_text(self) -> str:
        """The age as a radiologist writes it: "4 y", "18 mo", "3 wk", "10 d"; "" if unknown."""
        match = _AGE_PATTERN.match(self.patient_age)
        if match is not None:
            return f"{int(match.group(1))} {_AGE_LABELS[match.group(2).upper()]}"
        on = self._age_date
        if self.birth_date is None or on is None:
            return ""
        days = (on - self.birth_date).days
        if days < 0:
            return ""
        if days < 28:
            return f"{days} d"
        if days < 91:
            return f"{days // 7} wk"
        months = _months_between(self.birth_date, on)
        return f"{months} mo" if months < 24 else f"{months // 12} y"

    @property
    def display_name(self) -> str:
        """"Family, Given Middle" from the PN "Family^Given^Middle^Prefix^Suffix"."""
        parts = [part.strip() for part in self.patient_name.split("=")[0].split("^")]
        family, given = parts[0], " ".join(p for p in parts[1:3] if p)
        return ", ".join(p for p in (family, given) if p)


def parse_age(value: str) -> float | None:
    """DICOM Age String ("004Y", "018M", "003W", "010D") in years; None if not one."""
    match = _AGE_PATTERN.match(value or "")
    if match is None:
        return None
    return int(match.group(1)) * _AGE_UNITS_IN_YEARS[match.group(2).upper()]


def _months_between(birth: dt.date, on: dt.date) -> int:
    """Completed calendar months from ``birth`` to ``on`` (born on the 31st: a month is
    complete on the last day of a shorter month)."""
    anniversary_day = min(birth.day, calendar.monthrange(on.year, on.month)[1])
    return (on.year - birth.year) * 12 + on.month - birth.month - (on.day < anniversary_day)


def _years_between(birth: dt.date, on: dt.date) -> float | None:
    """Completed calendar years plus the fraction of the current year of life."""
    years = _months_between(birth, on) // 12
    if years < 0:
        return None
    last, following = _birthday(birth, birth.year + years), _birthday(birth, birth.year + years + 1)
    return years + (on - last).days / (following - last).days


def _birthday(birth: dt.date, year: int) -> dt.date:
    try:
        return birth.replace(year=year)
    except ValueError:  # born on 29 February: the birthday is 28 February in other years
        return dt.date(year, 2, 28)


def _text(ds: Dataset, keyword: str) -> str:
    from pydicom.errors import BytesLengthException

    try:
        value = ds.get(keyword)
    except (ValueError, TypeError, NotImplementedError, BytesLengthException):
        return ""  # an unknown VR, a value of the wrong length: that tag is unknown
    return "" if value is None else str(value).strip()


def parse_date(text: str) -> dt.date | None:
    """A DICOM DA value ("20240131", or the old "2024.01.31") as a date; None if not one."""
    from pydicom.valuerep import DA

    text = (text or "").strip()
    try:
        value = DA(text) if text else None
    except ValueError:  # e.g. "20241399": a broken date is shown as unknown
        return None
    return dt.date(value.year, value.month, value.day) if value is not None else None


def _time(ds: Dataset, keyword: str) -> dt.time | None:
    from pydicom.valuerep import TM

    text = _text(ds, keyword)
    try:
        value = TM(text) if text else None
    except ValueError:
        return None
    return dt.time(value.hour, value.minute, value.second) if value is not None else None


def _pixel_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str]:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        try:
            row, column = (float(v) for v in value)
        except (TypeError, ValueError):  # absent, one value only, or not numbers
            continue
        if row > 0 and column > 0:
            return (row, column), keyword
    return None, ""
