"""The patients the model was made for, and the notice for a film outside them (no Qt).

The bundled models were trained and validated on paediatric chest X-rays of children aged one
to five years (Kermany et al., Cell 2018: the Guangzhou Women and Children's Medical Center
cohort). The model card does not state an age range, so it is this constant: a film whose DICOM
age is above it gets the ``outside_intended_age`` notice (:class:`Reason`) in the worklist,
the store, the CSV and the reports. Its verdict is still shown: the radiologist decides, but
knows the model was never shown a patient of that age. Films without an age (JPEG/PNG, DICOM
without PatientAge or birth date) get no notice: nothing says they are outside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .results import Reason

if TYPE_CHECKING:
    from .dicom_context import DicomContext

#: The oldest age, in completed years, of the films the model was validated on.
INTENDED_MAX_AGE_YEARS = 5


def outside_intended_age(age_years: float | None) -> bool:
    """Whether an age at the study (years, None if unknown) is above the intended range: a
    child of 5 years and 11 months is still 5."""
    return age_years is not None and int(age_years) > INTENDED_MAX_AGE_YEARS


def age_notice(age_text: str) -> str:
    """The notice for a film outside the intended range, e.g. for ``"34 y"``."""
    return (f"Outside intended use: patient age {age_text or 'unknown'} is above the "
            f"{INTENDED_MAX_AGE_YEARS} years the model was validated for "
            f"({Reason.OUTSIDE_INTENDED_AGE}).")


def intended_use_notice(context: DicomContext | None) -> str | None:
    """The notice for a film whose DICOM age is above the intended range; None without a
    DICOM context, without an age, or within the range (scan rows, banner and case PDF)."""
    if context is None or not outside_intended_age(context.age_years):
        return None
    return age_notice(context.age_text)
