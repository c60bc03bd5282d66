"""A DICOM film's patient and study are kept with its result at scan time, exported in the CSV
(and left out under anonymise), and a film above the intended age gets its notice."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.batch import run_scan
from pneumo_desktop.core.csv_export import IDENTIFYING_COLUMNS, csv_columns, write_csv
from pneumo_desktop.core.intended_use import (
    INTENDED_MAX_AGE_YEARS,
    outside_intended_age,
)
from pneumo_desktop.core.pdf_report import write_case_report, write_scan_report
from pneumo_desktop.core.results import PatientStudy, Reason, ReviewMark, Status
from pneumo_desktop.core.store import ResultStore
from tests.cards import card_data, write_card
from tests.conftest import synthetic_xray
from tests.core.test_pdf_report import pdf_text
from tests.dicom_films import make_dicom
from tests.fakes import FakeClassifier


@pytest.fixture
def fake_classifier(tmp_path):
    from pneumo_desktop.core.card import ModelCard

    card_file = write_card(tmp_path / "card", card_data())
    return FakeClassifier(ModelCard.load(card_file))


def write_clinic(folder: Path) -> Path:
    """Two DICOM films of a child, one of an adult, and a PNG without tags."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    film = synthetic_xray(rng, True, size=96)
    make_dicom(folder / "child_pa", film, PatientName="Doe^Jane", PatientID="P-0042",
               PatientAge="004Y", StudyInstanceUID="1.2.3.4", StudyDate="20240131",
               StudyDescription="CHEST PA")
    make_dicom(folder / "child_lat.dcm", film, PatientName="Doe^Jane", PatientID="P-0042",
               PatientBirthDate="20190301", StudyInstanceUID="1.2.3.4", StudyDate="20240131")
    make_dicom(folder / "adult.dcm", film, PatientName="Roe^Richard", PatientID="P-0099",
               PatientAge="034Y", StudyInstanceUID="1.2.3.9", StudyDate="20240202")
    Image.fromarray(film).save(folder / "plain.png")
    return folder


def test_the_intended_age_is_in_completed_years():
    assert not outside_intended_age(None) and not outside_intended_age(0.1)
    assert not outside_intended_age(INTENDED_MAX_AGE_YEARS + 0.99)  # five and eleven months
    assert outside_intended_age(INTENDED_MAX_AGE_YEARS + 1) and outside_intended_age(34)


def test_a_scan_keeps_patient_and_study_and_marks_an_adult(tmp_path, fake_classifier):
    folder = write_clinic(tmp_path / "clinic")
    with ResultStore(tmp_path / "r.sqlite3") as store:
        items = list(run_scan(store, fake_classifier, folder))
        rows = {Path(r.path).name: r for r in store.results(items[0].scan_id)}
    assert {r.status for r in rows.values()} == {Status.OK}
    assert rows["child_pa"].study == PatientStudy(
        patient_id="P-0042", patient_name="Doe^Jane", patient_age="4 y",
        study_date="2024-01-31", study_uid="1.2.3.4", study_description="CHEST PA")
    assert rows["child_lat.dcm"].study.patient_age == "4 y"  # from the birth date
    assert rows["child_pa"].study.display_name == "Doe, Jane"
    assert rows["plain.png"].study is None
    adult = rows["adult.dcm"]
    assert adult.reason is Reason.OUTSIDE_INTENDED_AGE and adult.verdict is not None
    assert "34 y" in adult.message and "Outside intended use" in adult.message
    assert rows["child_pa"].reason is None and rows["child_pa"].message == ""


def test_csv_carries_patient_review_and_note_and_anonymise_leaves_out_identity(
        tmp_path, fake_classifier):
    folder = write_clinic(tmp_path / "clinic")
    with ResultStore(tmp_path / "r.sqlite3") as store:
        scan_id = list(run_scan(store, fake_classifier, folder))[0].scan_id
        child = str(folder / "child_pa")
        store.set_review(scan_id, child, ReviewMark.AGREE, note="right upper lobe")
        results = store.results(scan_id)

    def read(path: Path) -> tuple[list[str], dict[str, dict]]:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            return reader.fieldnames, {Path(r["path"]).name: r for r in reader}

    assert write_csv(tmp_path / "full.csv", results) == 4
    header, rows = read(tmp_path / "full.csv")
    assert tuple(header) == csv_columns()
    assert (rows["child_pa"]["patient_id"], rows["child_pa"]["patient_name"],
            rows["child_pa"]["study_date"], rows["child_pa"]["patient_age"]) == (
        "P-0042", "Doe^Jane", "2024-01-31", "4 y")
    assert (rows["child_pa"]["review"], rows["child_pa"]["note"]) == ("agree",
                                                                     "right upper lobe")
    assert rows["plain.png"]["patient_id"] == "" and rows["plain.png"]["review"] == ""
    assert rows["adult.dcm"]["reason"] == "outside_intended_age"

    write_csv(tmp_path / "anonymous.csv", results, anonymise=True)
    header, rows = read(tmp_path / "anonymous.csv")
    assert not set(IDENTIFYING_COLUMNS) & set(header)
    assert {"patient_age", "study_date", "review", "note"} <= set(header)
    text = (tmp_path / "anonymous.csv").read_text(encoding="utf-8")
    for secret in ("P-0042", "Doe", "Jane", "Roe", "1.2.3.4"):
        assert secret not in text
    assert rows["child_pa"]["note"] == "right upper lobe"


@pytest.fixture
def reviewed_clinic(tmp_path, fake_classifier):
    """The clinic scanned; the child's PA agreed with a note, the adult overridden."""
    folder = write_clinic(tmp_path / "clinic")
    with ResultStore(tmp_path / "r.sqlite3") as store:
        scan_id = list(run_scan(store, fake_classifier, folder))[0].scan_id
        store.set_review(scan_id, str(folder / "child_pa"), ReviewMark.AGREE,
                         note="right upper lobe consolidation")
        adult = next(r for r in store.results(scan_id) if r.path.endswith("adult.dcm"))
        store.set_review(scan_id, adult.path, ReviewMark.DISAGREE, adult.verdict.other,
                         note="old scar, not pneumonia")
        return folder, store.scan(scan_id), store.results(scan_id)


def test_scan_pdf_carries_reviews_notes_and_patients_and_anonymise_leaves_them_out(
        tmp_path, reviewed_clinic):
    folder, info, results = reviewed_clinic
    adult = next(r for r in results if r.path.endswith("adult.dcm"))
    write_scan_report(tmp_path / "full.pdf", info, results)
    text = pdf_text((tmp_path / "full.pdf").read_bytes())
    assert "Doe, Jane · ID P-0042 · 4 y · 2024-01-31" in text
    assert "Roe, Richard · ID P-0099 · 34 y · 2024-02-02" in text
    assert f"OVERRIDDEN → {adult.verdict.other}" in text and "agreed" in text
    assert "right upper lobe consolidation" in text and "old scar, not pneumonia" in text
    assert "Reviews and notes" in text and "agreed 1, overridden 1" in text
    assert f"{adult.band.wording} †" in text  # the adult's verdict, outside intended use
    assert f"{adult.threshold:.4f} factory" in text

    write_scan_report(tmp_path / "anonymous.pdf", info, results, anonymise=True)
    text = pdf_text((tmp_path / "anonymous.pdf").read_bytes())
    for secret in ("P-0042", "Doe", "Jane", "Roe", "P-0099"):
        assert secret not in text
    assert "4 y · 2024-01-31" in text and "Anonymised: patient names" in text
    assert "right upper lobe consolidation" in text  # notes are kept, as the CSV keeps them


def test_case_pdf_has_patient_verdict_source_impression_and_reader(
        tmp_path, reviewed_clinic, fake_classifier):
    folder, _info, results = reviewed_clinic
    child = next(r for r in results if r.path.endswith("child_pa"))
    write_case_report(tmp_path / "case.pdf", child.path, fake_classifier, review=child,
                      reader="Dr A. Reader")
    text = pdf_text((tmp_path / "case.pdf").read_bytes())
    assert "Patient: Doe Jane · ID P-0042 · F · 004Y" in text and "Study: 2024-01-31" in text
    assert child.band.wording in text
    assert f"Operating threshold {child.threshold:.4f}, source: factory" in text
    assert "Radiologist's review: agreed" in text
    assert "Impression" in text and "right upper lobe consolidation" in text
    assert "Reader: Dr A. Reader" in text and "Date: " in text

    write_case_report(tmp_path / "anonymous.pdf", child.path, fake_classifier, review=child,
                      anonymise=True)
    text = pdf_text((tmp_path / "anonymous.pdf").read_bytes())
    assert "Doe" not in text and "P-0042" not in text and "Patient: F · 004Y" in text
    assert "Reader: ____" in text  # no name given: a line to sign on


def test_pneumo_scan_anonymise_leaves_identity_out_of_csv_and_pdf(tmp_path, tiny_models_dir):
    from tests.core.test_scan import _run_scan

    folder = write_clinic(tmp_path / "clinic")
    out, report = tmp_path / "out.csv", tmp_path / "report.pdf"
    done = _run_scan(str(folder), "--out", str(out), "--report", str(report), "--anonymise",
                     "--models-dir", str(tiny_models_dir))
    assert done.returncode == 0, done.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and not set(IDENTIFYING_COLUMNS) & set(rows[0])
    assert {row["patient_age"] for row in rows} == {"4 y", "34 y", ""}
    text = out.read_text(encoding="utf-8") + pdf_text(report.read_bytes())
    for secret in ("P-0042", "Doe", "Jane", "Roe", "P-0099", "1.2.3.4"):
        assert secret not in text
    assert "4 y · 2024-01-31" in text and "Anonymised: patient names" in text


def test_case_pdf_of_an_adult_film_carries_the_outside_intended_use_notice(
        tmp_path, reviewed_clinic, fake_classifier):
    folder, _info, results = reviewed_clinic
    adult = next(r for r in results if r.path.endswith("adult.dcm"))
    write_case_report(tmp_path / "adult.pdf", adult.path, fake_classifier, review=adult)
    text = pdf_text((tmp_path / "adult.pdf").read_bytes())
    assert "Outside intended use: patient age 34 y is above the 5 years" in text
    assert f"Radiologist's review: OVERRIDDEN → {adult.corrected_label}" in text
    write_case_report(tmp_path / "child.pdf", folder / "child_pa", fake_classifier)
    assert "Outside intended use" not in pdf_text((tmp_path / "child.pdf").read_bytes())


def _text_boxes(figure):
    """Window extents of every piece of text on a page (a boxed text by its box)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    texts = list(figure.texts) + [ax.title for ax in figure.axes]
    boxes = []
    for text in texts:
        if not text.get_text().strip():
            continue
        patch = text.get_bbox_patch()
        if patch is not None:
            text.update_bbox_position_size(renderer)
        artist = patch if patch is not None else text
        boxes.append((text.get_text()[:30], artist.get_window_extent(renderer)))
    return boxes


@pytest.mark.parametrize(("note_lines", "page_count"), [(0, 1), (3, 1), (40, 2), (100, 4)])
def test_case_pdf_texts_never_overlap_and_a_long_impression_continues(
        tmp_path, reviewed_clinic, fake_classifier, note_lines, page_count):
    """The worst page: an adult's film (the age notice), anonymised (a second footnote), and
    an impression of 0 to 100 lines; a long one goes on to further pages, whole."""
    from pneumo_desktop.core.case_report import case_pages

    _folder, _info, results = reviewed_clinic
    adult = next(r for r in results if r.path.endswith("adult.dcm"))
    note = "\n".join(f"line {i:02d} of the impression: finding described" for i in
                     range(note_lines))
    review = dataclasses.replace(adult, note=note)
    figures = case_pages(adult.path, fake_classifier, review=review, anonymise=True)
    assert len(figures) == page_count
    for figure in figures:
        boxes = _text_boxes(figure)
        for i, (name, box) in enumerate(boxes):
            for other, other_box in boxes[i + 1:]:
                assert not box.overlaps(other_box), (name, other)
    write_case_report(tmp_path / "case.pdf", adult.path, fake_classifier, review=review,
                      anonymise=True)
    text = pdf_text((tmp_path / "case.pdf").read_bytes())
    assert all(f"line {i:02d} of the impression" in text for i in range(note_lines))
    assert f"page 1/{len(figures)}" in text
