"""Secondary Capture and Structured Report results: read back, linked to the film's patient,
study and series, valid by dciodvfy, never written into the scanned folder, sent to a PACS."""

from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage

from pneumo_desktop.core.dicom_results import (
    MIN_WIDTH,
    NOT_FOR_DIAGNOSIS,
    DicomResultError,
    Review,
    write_dicom_results,
)
from pneumo_desktop.core.dicom_send import DicomNode, DicomSendError, send_to_pacs
from pneumo_desktop.core.identity import ModelIdentity
from pneumo_desktop.core.receiver import ReceiverConfig, StorageReceiver
from pneumo_desktop.core.results import OperatingPoint, Prediction, ReviewMark, Verdict
from tests.core.test_receiver import write_film
from tests.packaging.conftest import require_tool

MODEL = ModelIdentity("cnn_deep_aug", "1.2.0", "0123456789abcdef" * 4)
POINT = OperatingPoint(threshold=0.043, likely_threshold=0.6)


def overlay_for(film_path, width=None) -> np.ndarray:
    """An RGB picture of the film's size (or ``width``), with a coloured blob as overlay."""
    film = pydicom.dcmread(film_path)
    rows, cols = film.Rows, width or film.Columns
    rgb = np.zeros((rows, cols, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, cols, dtype=np.uint8)[None, :]
    rgb[rows // 3: rows // 2, cols // 4: cols // 2] = (255, 40, 0)
    return rgb


@pytest.fixture()
def film(tmp_path):
    (tmp_path / "scanned").mkdir()
    return write_film(tmp_path / "scanned" / "film.dcm", rows=200, cols=MIN_WIDTH + 32)


def content_items(dataset):
    """(concept meaning, value) for every SR content item, depth first."""
    for item in dataset.get("ContentSequence", []):
        name = item.ConceptNameCodeSequence[0].CodeMeaning
        kind = item.ValueType
        if kind == "NUM":
            value = float(item.MeasuredValueSequence[0].NumericValue)
        elif kind == "CODE":
            value = item.ConceptCodeSequence[0].CodeMeaning
        elif kind in ("TEXT", "UIDREF", "PNAME"):
            value = str(item.get("TextValue") or item.get("UID") or item.get("PersonName"))
        elif kind == "IMAGE":
            value = item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        else:
            value = None
        yield name, value
        yield from content_items(item)


def test_sc_and_sr_are_written_read_back_and_linked_to_the_film(film, tmp_path):
    prediction = Prediction.under(POINT, 0.31)
    overlay = overlay_for(film)
    files = write_dicom_results(film, prediction, MODEL, overlay, tmp_path / "results",
                                scanned_folder=film.parent)
    source = pydicom.dcmread(film)
    assert files.secondary_capture.parent == tmp_path / "results" / source.StudyInstanceUID
    sc = pydicom.dcmread(files.secondary_capture)
    sr = pydicom.dcmread(files.structured_report)
    assert sc.SOPClassUID == SecondaryCaptureImageStorage
    assert sr.SOPClassUID == ComprehensiveSRStorage
    for result in (sc, sr):
        for keyword in ("StudyInstanceUID", "PatientID", "PatientName", "PatientSex",
                        "StudyDate", "AccessionNumber"):
            assert result.get(keyword) == source.get(keyword), keyword
        assert result.SeriesInstanceUID != source.SeriesInstanceUID  # a new series...
        assert result.SOPInstanceUID != source.SOPInstanceUID  # ...and a new object
    assert sc.SeriesInstanceUID != sr.SeriesInstanceUID

    # The SC: derived, annotated, pointing at the film; the film itself below the banner.
    assert list(sc.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert sc.BurnedInAnnotation == "YES"
    assert "not for diagnosis on its own" in sc.DerivationDescription
    assert sc.ImageComments.lower() == NOT_FOR_DIAGNOSIS.lower()
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert sc.SourceImageSequence[0].ReferencedSOPClassUID == source.SOPClassUID
    pixels = sc.pixel_array
    banner = pixels.shape[0] - overlay.shape[0]
    assert banner > 0 and pixels.shape[1:] == overlay.shape[1:]
    np.testing.assert_array_equal(pixels[banner:], overlay)
    assert pixels[:banner].max() == 255  # text was drawn on the black banner

    # The SR: evidence is the film, in its study and series.
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == source.StudyInstanceUID
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == source.SeriesInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    items = list(content_items(sr))
    values = dict(items)
    assert values["Probability"] == pytest.approx(0.31)
    assert values["Threshold Value"] == pytest.approx(0.043)
    assert values["Pneumonia"] == "Present"
    assert values["Triage band"] == "Possible pneumonia - look"
    assert values["Threshold source"] == "Model card threshold"
    assert values["Algorithm Name"] == "cnn_deep_aug"
    assert values["Algorithm Version"] == "1.2.0"
    parameters = [value for name, value in items if name == "Algorithm Parameters"]
    assert f"model sha256 {MODEL.sha256}" in parameters
    assert values["Source of Measurement"] == source.SOPInstanceUID
    assert "Radiologist review" not in values  # not reviewed yet


def test_the_reviewers_mark_is_in_the_sr_once_there_is_one(film, tmp_path):
    review = Review(ReviewMark.DISAGREE, Verdict.NORMAL, note="old scar, no consolidation",
                    reviewer="Mwangi^Grace")
    files = write_dicom_results(film, Prediction.under(POINT, 0.9), MODEL, overlay_for(film),
                                tmp_path / "results", review=review)
    values = dict(content_items(pydicom.dcmread(files.structured_report)))
    assert values["Triage band"] == "Pneumonia likely"
    assert values["Radiologist review"] == "Disagrees with the model"
    assert values["Pneumonia per radiologist"] == "Absent"
    assert values["Comment"] == "old scar, no consolidation"
    assert values["Person Observer Name"] == "Mwangi^Grace"


def test_a_narrow_film_is_enlarged_so_the_banner_is_readable(film, tmp_path):
    film = write_film(film.parent / "small.dcm", rows=224, cols=224)
    files = write_dicom_results(film, Prediction.under(POINT, 0.01), MODEL,
                                overlay_for(film), tmp_path / "results")
    sc = pydicom.dcmread(files.secondary_capture)
    assert sc.Columns == MIN_WIDTH and sc.Rows > MIN_WIDTH
    assert dict(content_items(pydicom.dcmread(files.structured_report)))["Pneumonia"] == "Absent"


def test_a_compressed_film_gets_results_too(film, tmp_path):
    film = write_film(film.parent / "jpeg.dcm", jpeg=True)
    files = write_dicom_results(film, Prediction.under(POINT, 0.2), MODEL, overlay_for(film),
                                tmp_path / "results")
    assert pydicom.dcmread(files.structured_report).StudyInstanceUID == \
        pydicom.dcmread(film).StudyInstanceUID


def test_never_written_into_the_scanned_folder(film, tmp_path):
    prediction = Prediction.under(POINT, 0.5)
    for out in (film.parent, film.parent / "results", tmp_path / "scanned" / "deep" / "er"):
        with pytest.raises(DicomResultError, match="outside the scanned folder"):
            write_dicom_results(film, prediction, MODEL, overlay_for(film), out,
                                scanned_folder=tmp_path / "scanned")
    assert [p.name for p in film.parent.rglob("*")] == ["film.dcm"]


def test_no_result_without_a_verdict_or_a_study(film, tmp_path):
    refused = Prediction.under(POINT, 0.5, ood_distance=99.0, ood_threshold=10.0)
    with pytest.raises(DicomResultError, match="no verdict"):
        write_dicom_results(film, refused, MODEL, overlay_for(film), tmp_path / "out")
    bare = pydicom.dcmread(film)
    del bare.StudyInstanceUID
    bare.save_as(film.parent / "bare.dcm")
    with pytest.raises(DicomResultError, match="StudyInstanceUID"):
        write_dicom_results(film.parent / "bare.dcm", Prediction.under(POINT, 0.5), MODEL,
                            overlay_for(film), tmp_path / "out")
    (film.parent / "photo.dcm").write_bytes(b"\xff\xd8\xff not DICOM")
    with pytest.raises(DicomResultError, match="not a readable DICOM"):
        write_dicom_results(film.parent / "photo.dcm", Prediction.under(POINT, 0.5), MODEL,
                            overlay_for(film), tmp_path / "out")


def test_dciodvfy_finds_no_error(film, tmp_path):
    # Skipped without it on a developer's machine; .ci/run installs it, so CI fails instead.
    require_tool("dciodvfy", "dicom3tools")
    review = Review(ReviewMark.AGREE, reviewer="Mwangi^Grace", note="agree")
    files = write_dicom_results(film, Prediction.under(POINT, 0.7), MODEL, overlay_for(film),
                                tmp_path / "results", review=review)
    for path in (files.secondary_capture, files.structured_report):
        report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        lines = (report.stdout + report.stderr).splitlines()
        errors = [line for line in lines if line.startswith("Error")]
        assert errors == [], "\n".join(lines)
        # The only warnings allowed: the local coding scheme, which dciodvfy cannot know.
        warnings = [line for line in lines if line.startswith("Warning")]
        assert all("99PNEUMO" in line for line in warnings), "\n".join(warnings)


def test_results_are_sent_to_a_pacs_node(film, tmp_path):
    files = write_dicom_results(film, Prediction.under(POINT, 0.31), MODEL, overlay_for(film),
                                tmp_path / "results")
    pacs = ReceiverConfig(tmp_path / "pacs", ae_title="PACS", port=0, bind="127.0.0.1",
                          allowed_calling_ae=("PNEUMO",))
    with StorageReceiver(pacs) as receiver:
        node = DicomNode("127.0.0.1", receiver.address[1], "PACS")
        send_to_pacs([files.secondary_capture, files.structured_report], node)
        assert receiver.stored == 2
        with pytest.raises(DicomSendError, match="did not accept"):
            send_to_pacs([files.structured_report], node, calling_ae="STRANGER")
    stored = {p.name for p in (tmp_path / "pacs").rglob("*.dcm")}
    assert stored == {f"{pydicom.dcmread(p).SOPInstanceUID}.dcm"
                      for p in (files.secondary_capture, files.structured_report)}


def test_a_classified_film_exports_its_gradcam_and_verdict(tmp_path, tiny_classifier):
    from pneumo_desktop.core.dicom_export import export_film_results, overlay_picture
    from pneumo_desktop.core.imaging import load_image
    from tests.conftest import synthetic_xray
    from tests.dicom_films import make_dicom

    (tmp_path / "scanned").mkdir()
    film = tmp_path / "scanned" / "child.dcm"
    pixels = synthetic_xray(np.random.default_rng(3), pneumonia=True, size=256)
    make_dicom(film, pixels)
    prediction = tiny_classifier.classify(tiny_classifier.prepare(load_image(film)))
    files = export_film_results(film, prediction, tiny_classifier, tmp_path / "results",
                                scanned_folder=tmp_path / "scanned")
    values = dict(content_items(pydicom.dcmread(files.structured_report)))
    assert values["Probability"] == pytest.approx(prediction.probability, abs=1e-6)
    assert values["Algorithm Name"] == tiny_classifier.card.name
    sc = pydicom.dcmread(files.secondary_capture).pixel_array
    film_part = sc[sc.shape[0] - MIN_WIDTH:]  # the 256 px film, enlarged to MIN_WIDTH
    assert film_part.shape[:2] == (MIN_WIDTH, MIN_WIDTH)
    spread = film_part.astype(int).max(axis=2) - film_part.astype(int).min(axis=2)
    assert spread.max() > 20  # colour: the heat map is over the grey film
    # Scaled by the verdict's strength, as in the viewer: a clear normal is barely coloured.
    normal = dataclasses.replace(prediction, probability=prediction.threshold / 100)
    quiet = export_film_results(film, normal, tiny_classifier, tmp_path / "quiet",
                                scanned_folder=tmp_path / "scanned")
    quiet_part = pydicom.dcmread(quiet.secondary_capture).pixel_array[sc.shape[0] - MIN_WIDTH:]
    quiet_spread = quiet_part.astype(int).max(axis=2) - quiet_part.astype(int).min(axis=2)
    assert quiet_spread.max() < spread.max()

    hot = np.zeros((4, 4))
    hot[0, 0] = 1.0
    picture = overlay_picture(np.full((8, 8), 100, np.uint8), hot)
    assert tuple(picture[7, 7]) == (100, 100, 100)  # no heat: the film unchanged
    assert picture[0, 0, 0] != picture[0, 0, 2]  # heat: coloured
