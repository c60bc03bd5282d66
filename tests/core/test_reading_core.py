"""The reading workflow's core: annotations and rulers (with the store), a patient's earlier
film, and the overlays' one colour language."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest

from pneumo_desktop.core.annotation_store import AnnotationStore
from pneumo_desktop.core.annotations import (
    Annotation,
    AnnotationKind,
    from_json,
    measure,
    pixel_spacing,
    to_json,
)
from pneumo_desktop.core.dicom_context import DicomContext
from pneumo_desktop.core.overlays import (
    AGAINST_PNEUMONIA,
    FOR_PNEUMONIA,
    GRADCAM_FLOOR,
    evidence_strength,
    gradcam_rgba,
)
from pneumo_desktop.core.priors import PriorIndex, StudyOf, read_study
from pneumo_desktop.core.results import ScanResult, Status
from pneumo_desktop.core.store import ResultStore
from tests.dicom_films import make_dicom


def test_annotations_round_trip_and_damaged_entries_are_skipped() -> None:
    marks = [Annotation.ruler((1, 2), (3.5, 4)), Annotation.arrow((0, 0), (10, 10)),
             Annotation.label((5, 6), "consolidation?")]
    assert from_json(to_json(marks)) == marks
    assert from_json(None) == [] and from_json("not json") == [] and from_json("{}") == []
    damaged = '[{"kind": "ruler", "points": [[1, 2]]}, {"kind": "blob", "points": []}, ' \
              '{"kind": "text", "points": [[1, 1]], "text": "ok"}]'
    assert from_json(damaged) == [Annotation(AnnotationKind.TEXT, ((1.0, 1.0),), "ok")]
    with pytest.raises(ValueError, match="takes 2 point"):
        Annotation(AnnotationKind.ARROW, ((0, 0),))


def test_ruler_in_mm_with_spacing_and_in_pixels_without() -> None:
    length = measure((0, 0), (30, 40), (0.2, 0.1), "PixelSpacing")  # row 0.2, column 0.1 mm
    assert length.value == pytest.approx(np.hypot(30 * 0.1, 40 * 0.2))
    assert length.calibrated and length.text == "8.5 mm" and length.source == "PixelSpacing"
    plain = measure((0, 0), (30, 40), None)
    assert plain.value == 50 and not plain.calibrated and "not in mm" in plain.text
    context = DicomContext(pixel_spacing=(0.15, 0.15), pixel_spacing_source="PixelSpacing")
    assert pixel_spacing(context, (100, 200)) == (0.15, 0.15)
    # A film shown at half its stored size has pixels twice as large.
    assert pixel_spacing(context, (100, 200), (400, 200)) == pytest.approx((0.3, 0.3))
    assert pixel_spacing(DicomContext(), (10, 10)) is None and pixel_spacing(None, (1, 1)) is None


def test_marks_are_kept_with_the_film_and_a_rescan_drops_them(tmp_path) -> None:
    film = tmp_path / "a.png"
    film.write_bytes(b"x")
    db = tmp_path / "r.sqlite3"
    with ResultStore(db) as store, AnnotationStore(db) as marks_store:
        scan = store.start_scan(tmp_path)
        store.record(scan, ScanResult(str(film), Status.ERROR, message="m"))
        marks = [Annotation.arrow((1, 1), (9, 9)), Annotation.label((2, 2), "here")]
        marks_store.set(scan, str(film), marks)
        assert marks_store.get(scan, str(film)) == marks
        marks_store.set(scan, str(film), marks[:1])
        assert marks_store.get(scan, str(film)) == marks[:1]
        with pytest.raises(KeyError):
            marks_store.set(scan, str(tmp_path / "other.png"), marks)
        assert marks_store.get(scan, str(tmp_path / "other.png")) == []
        store.record(scan, ScanResult(str(film), Status.ERROR, message="changed"))
        assert marks_store.get(scan, str(film)) == []
        marks_store.set(scan, str(film), marks)
        with AnnotationStore(db) as other:  # another connection sees them
            assert other.get(scan, str(film)) == marks
        marks_store.set(scan, str(film), [])
        assert marks_store.get(scan, str(film)) == []


def _film(path, patient: str, date: str, time: str = "101500", **attrs) -> str:
    make_dicom(path, np.zeros((8, 8), np.uint8), PatientID=patient, StudyDate=date,
               StudyTime=time, **attrs)
    return str(path)


def test_the_patients_most_recent_earlier_film_is_the_prior(tmp_path) -> None:
    current = _film(tmp_path / "now", "P1", "20240131")
    older = _film(tmp_path / "2022.dcm", "P1", "20220301")
    recent = _film(tmp_path / "2023", "P1", "20230615")
    same_day_earlier = _film(tmp_path / "morning.dcm", "P1", "20240131", "080000")
    _film(tmp_path / "other_patient.dcm", "P2", "20230101")
    _film(tmp_path / "later.dcm", "P1", "20250101")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    study = read_study(current)
    assert study == StudyOf(current, "P1", dt.date(2024, 1, 31), dt.time(10, 15),
                            study.study_uid)
    index = PriorIndex()
    candidates = sorted(str(p) for p in tmp_path.iterdir())
    assert index.earlier_film(study, candidates).path == same_day_earlier
    os.remove(same_day_earlier)
    assert index.earlier_film(study, candidates).path == recent
    assert index.earlier_film(read_study(recent), candidates).path == older
    assert index.earlier_film(read_study(older), candidates) is None
    assert read_study(tmp_path / "photo.png") is None
    # The same study (another view of it) is not a prior.
    same_study = _film(tmp_path / "lateral.dcm", "P1", "20220301", "090000",
                       StudyInstanceUID=read_study(older).study_uid)
    assert index.earlier_film(read_study(older), [same_study]) is None


def test_a_film_cut_short_is_no_prior_and_the_search_goes_on(tmp_path) -> None:
    """A broken copy among the candidates, cut anywhere in its header, is skipped: pydicom
    raises BytesLengthException or struct.error there, which once ended the whole search."""
    current = _film(tmp_path / "now.dcm", "P1", "20240131")
    older = _film(tmp_path / "older.dcm", "P1", "20220301")
    whole = open(older, "rb").read()
    broken = tmp_path / "broken.dcm"
    index = PriorIndex()
    for cut in range(132, 400):
        broken.write_bytes(whole[:cut])
        study = read_study(broken)  # None, or what of the header was whole
        assert study is None or study.patient_id in ("", "P1")
        # A copy whose study header is whole is as good a prior as the original.
        found = index.earlier_film(read_study(current), [str(broken), older])
        assert found.path == older or (study is not None and found.path == str(broken))


def test_prior_index_rereads_a_changed_file(tmp_path) -> None:
    path = tmp_path / "film.dcm"
    _film(path, "P1", "20200101")
    index = PriorIndex()
    assert index.study(path).study_date == dt.date(2020, 1, 1)
    _film(path, "P1", "20210101", PatientName="Longer^Name^To^Change^Size")
    assert index.study(path).study_date == dt.date(2021, 1, 1)


def test_gradcam_is_warm_and_scaled_by_the_verdicts_strength() -> None:
    cam = np.linspace(0, 1, 64 * 64).reshape(64, 64)
    full = gradcam_rgba(cam)
    assert full[0, 0, 3] == 0 and full[-1, -1, 3] == 255
    red, green, blue = full[-1, -1, :3].astype(int)
    assert red > 150 and red > blue + 100  # the strong end is red: warm
    assert evidence_strength(0.043, 0.043) == pytest.approx(0.5)
    assert evidence_strength(0.999, 0.043) > 0.99
    clearly_normal = evidence_strength(0.012, 0.043)
    assert clearly_normal < 0.25
    faint = gradcam_rgba(cam, clearly_normal)
    assert faint[..., 3].max() <= round(255 * clearly_normal)
    # Never red on a clear normal: its strongest colour is the warm scale's yellow end.
    strongest = faint[-1, -1, :3].astype(int)
    assert strongest[1] > 150 and strongest[0] - strongest[1] < 80
    assert gradcam_rgba(cam, GRADCAM_FLOOR / 2)[..., 3].max() == 0  # under the floor
    assert gradcam_rgba(np.full((4, 4), np.nan))[..., 3].max() == 0


def test_lime_colours_speak_the_same_language_as_gradcam() -> None:
    warm = gradcam_rgba(np.ones((2, 2)))[0, 0, :3].astype(int)
    assert FOR_PNEUMONIA[0] > FOR_PNEUMONIA[2] and warm[0] > warm[2]  # for: warm
    assert AGAINST_PNEUMONIA[2] > AGAINST_PNEUMONIA[0]  # against: cool
