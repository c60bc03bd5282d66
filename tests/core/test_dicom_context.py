"""Patient context from DICOM: typed name, ID, dates, age, sex, UIDs, modality, view and pixel
spacing, on films the tests make."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.dicom_context import DicomContext, parse_age, parse_date
from pneumo_desktop.core.imaging import load_image, load_image_bytes
from tests.dicom_films import make_dicom

# Some tests write malformed values on purpose (as real modalities do); pydicom warns about them.
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")
STORED = np.linspace(0, 4095, 32 * 48).reshape(32, 48).astype(np.uint16)


def context(**attrs) -> DicomContext:
    return load_image_bytes(make_dicom(None, STORED, **attrs), "film.dcm").dicom


def test_context_carries_patient_study_and_image_identity():
    uids = {"StudyInstanceUID": "1.2.3.4", "SeriesInstanceUID": "1.2.3.4.5"}
    ctx = context(PatientBirthDate="20191115", PatientAge="004Y", StudyTime="083015.25",
                  AccessionNumber="ACC-9", StudyDescription="Chest PA", PatientSex="f",
                  ViewPosition="AP", Modality="DX", **uids)
    assert (ctx.patient_name, ctx.display_name, ctx.patient_id) == ("Doe^Jane", "Doe, Jane",
                                                                    "P-0042")
    assert ctx.birth_date == dt.date(2019, 11, 15) and ctx.sex == "F"
    assert ctx.study_date == dt.date(2024, 1, 31) and ctx.study_time == dt.time(8, 30, 15)
    assert (ctx.accession_number, ctx.study_description) == ("ACC-9", "Chest PA")
    assert (ctx.study_instance_uid, ctx.series_instance_uid) == ("1.2.3.4", "1.2.3.4.5")
    assert ctx.sop_instance_uid.startswith("1.2.") and len(ctx.sop_instance_uid) > 10
    assert (ctx.modality, ctx.view_position) == ("DX", "AP")
    assert ctx.age_years == 4.0 and ctx.age_text == "4 y"


@pytest.mark.parametrize(
    ("age", "years", "text"),
    [("004Y", 4.0, "4 y"), ("018M", 1.5, "18 mo"), ("003W", 21 / 365.2425, "3 wk"),
     ("010D", 10 / 365.2425, "10 d"), ("4y", 4.0, "4 y")],
)
def test_stated_age_in_each_unit(age, years, text):
    ctx = context(PatientAge=age, PatientBirthDate="19500101")  # the stated age wins
    assert ctx.age_years == pytest.approx(years) and ctx.age_text == text


@pytest.mark.parametrize(
    ("birth", "years", "text"),
    [
        ("20210131", 3.0, "3 y"),  # third birthday on the study date
        ("20210201", 2.997, "2 y"),  # third birthday is tomorrow
        ("20220731", 1.503, "18 mo"),
        ("20231201", 0.167, "8 wk"),
        ("20240121", 0.027, "10 d"),
        ("20240201", None, ""),  # born after the study: a broken date, no age
    ],
)
def test_age_from_birth_date_and_study_date_when_not_stated(birth, years, text):
    ctx = context(PatientBirthDate=birth)  # study date 20240131
    assert ctx.patient_age == ""
    assert ctx.age_years == (pytest.approx(years, abs=1e-3) if years is not None else None)
    assert ctx.age_text == text


def test_age_unknown_without_stated_age_or_both_dates():
    assert context(PatientAge="junk").age_years is None
    ctx = context(PatientBirthDate="20200101", StudyDate="")
    assert ctx.study_date is None and ctx.age_years is None and ctx.age_text == ""


@pytest.mark.parametrize(
    ("attrs", "spacing", "source"),
    [
        ({"PixelSpacing": [0.139, 0.143]}, (0.139, 0.143), "PixelSpacing"),
        ({"ImagerPixelSpacing": [0.2, 0.2]}, (0.2, 0.2), "ImagerPixelSpacing"),
        ({"PixelSpacing": [0.1, 0.1], "ImagerPixelSpacing": [0.2, 0.2]}, (0.1, 0.1),
         "PixelSpacing"),
        ({"PixelSpacing": [0.0, 0.1], "ImagerPixelSpacing": [0.2, 0.25]}, (0.2, 0.25),
         "ImagerPixelSpacing"),
        ({}, None, ""),
    ],
)
def test_pixel_spacing_prefers_calibrated_spacing(attrs, spacing, source):
    ctx = context(**attrs)
    assert ctx.pixel_spacing == (pytest.approx(spacing) if spacing else None)
    assert ctx.pixel_spacing_source == source


def test_broken_tags_do_not_stop_the_film():
    image = load_image_bytes(
        make_dicom(None, STORED, StudyDate="20241399", PatientBirthDate="2019", StudyTime="99"),
        "broken.dcm",
    )
    assert image.pixels.shape == (32, 48)
    ctx = image.dicom
    assert (ctx.study_date, ctx.birth_date, ctx.study_time, ctx.age_years) == (None,) * 4
    assert ctx.patient_id == "P-0042"


def test_parse_helpers():
    assert parse_date("20240131") == parse_date("2024.01.31") == dt.date(2024, 1, 31)
    assert parse_date("") is None and parse_date("31/01/2024") is None
    assert parse_age("006M") == 0.5 and parse_age("") is None and parse_age("6") is None


def test_preamble_less_dicom_has_context_and_other_formats_have_none(tmp_path):
    assert context(preamble=False).patient_id == "P-0042"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "film.png")
    assert load_image(tmp_path / "film.png").dicom is None
