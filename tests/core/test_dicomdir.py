"""DICOMDIR of a CD or USB stick: patients -> studies -> series -> images, with file paths.
Every disc is written by the test with pydicom's FileSet."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from pneumo_desktop.core.dicomdir import DicomDirError, find_dicomdir, read_dicomdir
from pneumo_desktop.core.imaging import is_image_file, load_image
from tests.dicom_films import make_dicom

STORED = np.linspace(0, 4095, 32 * 48).reshape(32, 48).astype(np.uint16)


@pytest.fixture
def disc(tmp_path: Path) -> Path:
    """Two patients: Jane with one study of two films (written out of instance order) and a
    structured report, Rick with one film. Returns the disc's root folder."""
    sources = tmp_path / "sources"
    sources.mkdir()
    study, series = generate_uid(), generate_uid()
    films = [
        ("jane-2", dict(PatientID="P1", PatientName="Doe^Jane", InstanceNumber=2,
                        StudyDescription="Chest PA", AccessionNumber="A-77")),
        ("jane-1", dict(PatientID="P1", PatientName="Doe^Jane", InstanceNumber=1,
                        StudyDescription="Chest PA", AccessionNumber="A-77")),
        ("rick-1", dict(PatientID="P2", PatientName="Roe^Rick", StudyDate="20231105",
                        StudyInstanceUID=generate_uid(), SeriesInstanceUID=generate_uid())),
    ]
    file_set = FileSet()
    for name, attrs in films:
        attrs = {"StudyInstanceUID": study, "SeriesInstanceUID": series, **attrs}
        make_dicom(sources / name, STORED, ViewPosition="AP" if "2" in name else "PA", **attrs)
        file_set.add(sources / name)
    report = sources / "report"  # an SR on the same disc is not a film
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning = "18748-4", "LN", "Report"
    make_dicom(report, None, PatientID="P1", PatientName="Doe^Jane", StudyInstanceUID=study,
               SeriesInstanceUID=generate_uid(), SeriesNumber=2, Modality="SR",
               SOPClassUID="1.2.840.10008.5.1.4.1.1.88.33", CompletionFlag="COMPLETE",
               VerificationFlag="UNVERIFIED", ContentDate="20240131", ContentTime="101600",
               ConceptNameCodeSequence=[title])
    file_set.add(report)
    file_set.write(tmp_path / "disc")
    return tmp_path / "disc"


def test_dicomdir_lists_patients_studies_series_and_film_paths(disc):
    listing = read_dicomdir(disc / "DICOMDIR")
    assert [(p.patient_id, p.patient_name) for p in listing.patients] == [
        ("P1", "Doe^Jane"),
        ("P2", "Roe^Rick"),
    ]
    jane, rick = listing.patients
    (study,) = jane.studies
    assert study.study_date == dt.date(2024, 1, 31) and study.study_description == "Chest PA"
    assert study.accession_number == "A-77"
    assert len(FileSet(disc / "DICOMDIR")) == 4  # the SR is on the disc ...
    (series,) = study.series  # ... but its series holds no film: not listed
    assert series.modality == "CR" and series.series_number == 1
    assert [image.instance_number for image in series.images] == [1, 2]
    assert rick.studies[0].study_date == dt.date(2023, 11, 5)
    assert listing.missing == () and len(listing.images) == 3
    # Every path is a real file of the disc, and it is the film the record describes.
    for patient in listing.patients:
        for image in (i for s in patient.studies for se in s.series for i in se.images):
            assert image.path.is_file() and image.path.is_relative_to(disc)
            loaded = load_image(image.path)
            assert loaded.dicom.patient_id == patient.patient_id
            assert loaded.dicom.sop_instance_uid == image.sop_instance_uid
    views = [load_image(image.path).dicom.view_position for image in series.images]
    assert views == ["PA", "AP"]  # instance 1 is jane-1 (PA), instance 2 is jane-2 (AP)


def test_disc_mounted_in_lower_case_still_finds_every_film(disc):
    # Linux mounts a plain ISO 9660 disc with lower-case names; the DICOMDIR says IM000000.
    for root, folders, files in os.walk(disc, topdown=False):
        for name in [*files, *folders]:
            if name != "DICOMDIR":
                os.rename(Path(root) / name, Path(root) / name.lower())
    listing = read_dicomdir(disc / "DICOMDIR")
    assert len(listing.images) == 3 and listing.missing == ()
    assert all(path.is_file() and path.name.startswith("im") for path in listing.images)


@pytest.mark.parametrize("suffix", [";1", ".;1", "."])
def test_disc_showing_iso_9660_version_numbers_still_finds_every_film(disc, suffix):
    # Mounted without name mapping (Linux map=off, some copy tools), an ISO 9660 disc shows
    # its files as IM000000;1 or IM000000.;1 (the "." of a name without extension).
    for path in [p for p in disc.rglob("*") if p.is_file() and p.name != "DICOMDIR"]:
        path.rename(path.with_name(path.name + suffix))
    listing = read_dicomdir(disc / "DICOMDIR")
    assert len(listing.images) == 3 and listing.missing == ()
    assert all(path.is_file() and path.name.endswith(suffix) for path in listing.images)
    assert load_image(listing.images[0]).format == "DICOM"
    (disc / "DICOMDIR").rename(disc / f"DICOMDIR{suffix}")  # the index shows the same way
    assert find_dicomdir(disc) == disc / f"DICOMDIR{suffix}"
    assert not is_image_file(disc / f"DICOMDIR{suffix}")  # not listed as a film to scan


def test_missing_film_is_reported_and_the_rest_listed(disc):
    victim = read_dicomdir(disc / "DICOMDIR").images[0]
    victim.unlink()
    with pytest.warns(UserWarning, match="does not exist"):  # pydicom's own warning
        listing = read_dicomdir(disc / "DICOMDIR")
    assert listing.missing == (victim,)
    assert len(listing.images) == 2 and victim not in listing.images


def test_find_dicomdir_at_the_top_of_a_disc(disc, tmp_path):
    assert find_dicomdir(disc) == disc / "DICOMDIR"
    (disc / "DICOMDIR").rename(disc / "dicomdir")
    assert find_dicomdir(disc) == disc / "dicomdir"
    assert find_dicomdir(tmp_path / "sources") is None
    assert find_dicomdir(tmp_path / "no such folder") is None


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_bytes(b"hello" * 100), "not a DICOMDIR"),
        (lambda p: make_dicom(p, STORED), "not a DICOMDIR"),  # a film, not an index
        (lambda p: None, "could not be read"),
    ],
)
def test_not_a_dicomdir_gives_a_clear_error(tmp_path, make, words):
    path = tmp_path / "DICOMDIR"
    make(path)
    with pytest.raises(DicomDirError, match=words) as info:
        read_dicomdir(path)
    assert str(info.value).startswith('Cannot read "DICOMDIR"')
