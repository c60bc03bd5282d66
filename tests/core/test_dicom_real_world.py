"""Films as clinics send them: headers with values DICOM does not allow, written the way
modalities write them (the tests patch the bytes, since pydicom refuses to write them)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLosslessSV1, RLELossless

from pneumo_desktop.core.dicom_results import DicomResultError, write_dicom_results
from pneumo_desktop.core.dicom_send import DicomNode, DicomSendError, send_to_pacs
from pneumo_desktop.core.identity import ModelIdentity, sop_instance_uid
from pneumo_desktop.core.imaging import ImageLoadError, load_image_bytes
from pneumo_desktop.core.intended_use import outside_intended_age
from pneumo_desktop.core.results import OperatingPoint, Prediction, Reason, Status
from pneumo_desktop.core.scan import scan_files
from tests.dicom_films import compress_dicom, make_dicom

# The films carry malformed values on purpose; pydicom warns about each.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
STORED = np.linspace(0, 4095, 32 * 48).reshape(32, 48).astype(np.uint16)


def patched(old: bytes, new: bytes, **attrs) -> bytes:
    """A film whose value ``old`` (written through ``attrs``; the file meta may repeat it) is
    replaced by ``new`` in the file's bytes, as a unit that ignores the standard writes it."""
    data = make_dicom(None, STORED, **attrs)
    assert len(old) == len(new) and data.count(old) in (1, 2)
    return data.replace(old, new)


def pixels(data: bytes) -> np.ndarray:
    return load_image_bytes(data, "film.dcm").pixels


# --------------------------------------------------------------------------- grey values


@pytest.mark.parametrize(
    "data",
    [
        make_dicom(None, STORED, WindowCenter=1000, WindowWidth=0),
        make_dicom(None, STORED, WindowCenter=1000, WindowWidth=-5),
        make_dicom(None, STORED, WindowCenter=1000, WindowWidth=500, VOILUTFunction="BOGUS"),
        patched(b"1234.5", b"abc   ", WindowCenter="1234.5", WindowWidth=500),
        patched(b"1234.5", b"wide  ", WindowCenter=1000, WindowWidth="1234.5"),
    ],
    ids=["width 0", "width negative", "unknown function", "centre not a number",
         "width not a number"],
)
def test_a_malformed_window_is_ignored_and_the_film_shown_over_its_range(data):
    # A window is a display preset: a broken one must not cost the film.
    np.testing.assert_array_equal(pixels(data), pixels(make_dicom(None, STORED)))


def test_a_malformed_rescale_is_ignored_with_the_window_that_depends_on_it():
    data = patched(b"1234.5", b"abc   ", RescaleSlope="1234.5", RescaleIntercept=-1024,
                   WindowCenter=0, WindowWidth=400)
    np.testing.assert_array_equal(pixels(data), pixels(make_dicom(None, STORED)))


def test_a_malformed_window_on_monochrome1_still_shows_bone_white():
    data = make_dicom(None, STORED, photometric="MONOCHROME1", WindowCenter=1, WindowWidth=0)
    np.testing.assert_array_equal(pixels(data), 255 - pixels(make_dicom(None, STORED)))


def test_a_file_cut_inside_its_file_meta_is_truncated_not_a_crash():
    # pydicom raises BytesLengthException there; the scan's per-film handling knows only
    # ImageLoadError, so anything else ended the whole scan.
    whole = make_dicom(None, STORED)
    group_length = whole.index(b"\x02\x00\x00\x00UL") + 8  # the value of (0002,0000)
    with pytest.raises(ImageLoadError) as info:
        load_image_bytes(whole[:group_length + 1], "cut.dcm")
    assert info.value.reason is Reason.TRUNCATED


def test_a_patient_tag_pydicom_cannot_read_is_left_out_and_the_film_shown():
    # A unit's bug (or one flipped byte) gives PatientSex an unknown VR, "QS".
    whole = make_dicom(None, STORED, PatientAge="004Y")
    at = whole.index(b"CS", whole.index(b"\x10\x00\x40\x00"))  # PatientSex's VR
    image = load_image_bytes(whole[:at] + b"QS" + whole[at + 2:], "film.dcm")
    np.testing.assert_array_equal(image.pixels, pixels(whole))
    assert "PatientSex" not in image.metadata and image.metadata["PatientAge"] == "004Y"
    assert image.dicom.sex == "" and image.dicom.patient_id == "P-0042"


def test_a_scan_over_such_films_gives_each_its_status_and_finishes(tmp_path, tiny_classifier):
    whole = make_dicom(None, STORED)
    group_length = whole.index(b"\x02\x00\x00\x00UL") + 8
    at = whole.index(b"CS", whole.index(b"\x10\x00\x40\x00"))
    films = {"cut.dcm": whole[:group_length + 1], "bad_vr.dcm": whole[:at] + b"QS" + whole[at + 2:],
             "good.dcm": whole}
    for name, data in films.items():
        (tmp_path / name).write_bytes(data)
    results = {Path(r.path).name: r for r in scan_files(sorted(tmp_path.iterdir()),
                                                       tiny_classifier, batch_size=4)}
    assert set(results) == set(films)
    assert (results["cut.dcm"].status, results["cut.dcm"].reason) == (Status.ERROR,
                                                                      Reason.TRUNCATED)
    assert results["bad_vr.dcm"].status is results["good.dcm"].status is Status.OK


@pytest.mark.parametrize("syntax", [JPEGLosslessSV1, JPEG2000Lossless, RLELossless],
                         ids=["jpeg lossless", "jpeg 2000", "rle"])
@pytest.mark.parametrize("missing", [10, 200])
def test_a_compressed_film_cut_short_is_truncated_not_foreign(syntax, missing):
    # A copy or a C-STORE that broke off: pydicom returns an empty dataset, which was called
    # "not a valid DICOM file" (not_image), as if it were someone's holiday photo.
    data = compress_dicom(make_dicom(None, STORED), syntax)
    with pytest.raises(ImageLoadError, match="truncated or damaged") as info:
        load_image_bytes(data[:-missing], "film.dcm")
    assert info.value.reason is Reason.TRUNCATED


def test_a_film_cut_before_its_pixel_data_is_truncated_not_a_report():
    data = make_dicom(None, STORED)
    with pytest.raises(ImageLoadError, match="truncated or damaged") as info:
        load_image_bytes(data[:data.index(b"\xe0\x7f\x10\x00") - 8], "film.dcm")
    assert info.value.reason is Reason.TRUNCATED
    # A DICOM object that never had an image (a report) is still called one.
    with pytest.raises(ImageLoadError, match="no pixel data") as info:
        load_image_bytes(make_dicom(None, None), "report.dcm")
    assert info.value.reason is Reason.NOT_IMAGE


# --------------------------------------------------------------------------- SC and SR results

MODEL = ModelIdentity("cnn_deep_aug", "1.2.0", "0123456789abcdef" * 4)
PREDICTION = Prediction.under(OperatingPoint(threshold=0.043, likely_threshold=0.6), 0.5)
JAPANESE = {"SpecificCharacterSet": ["", "ISO 2022 IR 87"],
            "PatientName": "Yamada^Tarou=山田^太郎=やまだ^たろう"}


def results_of(tmp_path, data: bytes, name: str = "film.dcm"):
    """The SC and SR written for the film ``data``, read back."""
    (tmp_path / "films").mkdir(exist_ok=True)
    film = tmp_path / "films" / name
    film.write_bytes(data)
    files = write_dicom_results(film, PREDICTION, MODEL, np.zeros((32, 48, 3), np.uint8),
                                tmp_path / "results")
    return pydicom.dcmread(files.secondary_capture), pydicom.dcmread(files.structured_report)


@pytest.mark.parametrize(
    ("data", "keyword"),
    [
        (make_dicom(None, STORED, PatientSex="X"), "PatientSex"),
        (patched(b"20240131", b"20241399"), "StudyDate"),
        (patched(b"20200101", b"2020-1-1", PatientBirthDate="20200101"), "PatientBirthDate"),
        (patched(b"101500", b"25:99 "), "StudyTime"),
    ],
    ids=["sex X", "study date month 13", "birth date with dashes", "study time 25:99"],
)
def test_a_malformed_patient_or_study_value_is_left_empty_in_the_results(tmp_path, data,
                                                                         keyword):
    # The results still belong to the film's patient and study (the UIDs and ID link them).
    for result in results_of(tmp_path, data):
        assert result.PatientID == "P-0042" and keyword in result and not result[keyword].value
        assert result.StudyInstanceUID == pydicom.dcmread(io.BytesIO(data)).StudyInstanceUID


def test_lower_case_sex_and_an_old_style_date_are_carried_in_standard_form(tmp_path):
    data = make_dicom(None, STORED, PatientSex="f", PatientBirthDate="2020.01.05")
    for result in results_of(tmp_path, data):
        assert (result.PatientSex, result.PatientBirthDate) == ("F", "20200105")


@pytest.mark.parametrize(
    "attrs",
    [JAPANESE, {"SpecificCharacterSet": "ISO_IR 6", "PatientName": "Doe^Jane"}],
    ids=["japanese ISO 2022", "ISO_IR 6 stated"],
)
def test_results_keep_the_patient_name_in_any_character_set(tmp_path, attrs):
    for result in results_of(tmp_path, make_dicom(None, STORED, **attrs)):
        assert str(result.PatientName) == attrs["PatientName"]


def test_a_film_without_preamble_gets_its_results_like_any_film(tmp_path):
    # load_image reads such old .dcm files; their results must not say "not readable".
    sc, sr = results_of(tmp_path, make_dicom(None, STORED, preamble=False), "old.dcm")
    assert sc.PatientID == sr.PatientID == "P-0042"


def test_a_value_no_result_can_carry_is_a_clear_error_not_a_crash(tmp_path):
    # "ISO_IR100" (no space): pydicom reads the name anyway, highdicom refuses to write it.
    # pneumo-scan --dicom-out reports a DicomResultError for the film and goes on.
    data = make_dicom(None, STORED, SpecificCharacterSet="ISO_IR100")
    with pytest.raises(DicomResultError, match=r'header of "film.dcm" .*ISO_IR100'):
        results_of(tmp_path, data)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("StudyInstanceUID", b"..////////////"), ("SOPInstanceUID", b"../../evil.dcm"),
     ("SOPInstanceUID", b"1.2.3.4.5.abcd")],
    ids=["study up two", "instance up two", "letters"],
)
def test_a_film_uid_that_is_not_a_uid_names_no_file(tmp_path, keyword, value):
    # The results are named by the film's UIDs: "../.." would write them anywhere.
    data = patched(b"1.2.3.4.5.6.78", value, **{keyword: "1.2.3.4.5.6.78"})
    with pytest.raises(DicomResultError, match=f"{keyword} .* is not a valid UID"):
        results_of(tmp_path, data)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["film.dcm", "films"]


# --------------------------------------------------------------------------- identity


def test_the_sop_instance_uid_of_a_film_cut_anywhere_is_none_not_a_crash(tmp_path):
    # The audit trail asks for it when a review is saved: a film truncated since (a copy that
    # broke, a full disk) must not stop the review. Cut inside the file meta and the dataset.
    for preamble, cuts in ((True, range(130, 400, 3)), (False, range(4, 300, 3))):
        whole = make_dicom(None, STORED, preamble=preamble)
        uid = pydicom.dcmread(io.BytesIO(whole), force=True).SOPInstanceUID
        for cut in cuts:
            path = tmp_path / f"cut{cut}.dcm"
            path.write_bytes(whole[:cut])
            assert sop_instance_uid(path) in (None, uid)  # never a UID cut short
        (tmp_path / "whole.dcm").write_bytes(whole)
        assert sop_instance_uid(tmp_path / "whole.dcm") == uid


def test_a_dicomdir_opened_as_a_film_is_still_not_an_image(tmp_path):
    from pydicom.fileset import FileSet

    make_dicom(tmp_path / "film", STORED)
    file_set = FileSet()
    file_set.add(tmp_path / "film")
    file_set.write(tmp_path / "disc")
    with pytest.raises(ImageLoadError, match="not a valid DICOM file") as info:
        load_image_bytes((tmp_path / "disc" / "DICOMDIR").read_bytes(), "DICOMDIR")
    assert info.value.reason is Reason.NOT_IMAGE


@pytest.mark.parametrize("preamble", [True, False], ids=["part 10", "old bare .dcm"])
def test_a_grey_film_without_photometric_interpretation_is_read_as_monochrome2(preamble):
    # Old units (ACR-NEMA era) leave it empty; the decoder took a missing one as MONOCHROME2
    # in its own code, but pydicom refused the film first ("truncated or damaged").
    reference = pixels(make_dicom(None, STORED))
    data = make_dicom(None, STORED, PhotometricInterpretation=None, preamble=preamble)
    np.testing.assert_array_equal(pixels(data), reference)


def test_a_lower_case_photometric_interpretation_is_read_as_written():
    reference = pixels(make_dicom(None, STORED, photometric="MONOCHROME1"))
    np.testing.assert_array_equal(
        pixels(make_dicom(None, STORED, photometric="monochrome1 ")), reference)


# --------------------------------------------------------------------------- sending


def test_a_pacs_that_refuses_sr_gets_the_sc_and_a_clear_error(tmp_path):
    # Many PACS accept images only. pynetdicom's ValueError ("no presentation context")
    # escaped send_to_pacs, which pneumo-scan --pacs does not catch: the run ended.
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import SecondaryCaptureImageStorage

    (tmp_path / "films").mkdir()
    film = tmp_path / "films" / "film.dcm"
    film.write_bytes(make_dicom(None, STORED))
    files = write_dicom_results(film, PREDICTION, MODEL, np.zeros((32, 48, 3), np.uint8),
                                tmp_path / "results")
    stored = []
    pacs = AE(ae_title="PACS")
    pacs.add_supported_context(SecondaryCaptureImageStorage)
    server = pacs.start_server(("127.0.0.1", 0), block=False, evt_handlers=[
        (evt.EVT_C_STORE, lambda event: stored.append(event.request.AffectedSOPClassUID) or 0)])
    try:
        node = DicomNode("127.0.0.1", server.server_address[1], "PACS")
        with pytest.raises(DicomSendError, match=r"sr\.dcm \(the node does not accept "
                                                 r"Comprehensive SR Storage\)"):
            send_to_pacs([files.secondary_capture, files.structured_report], node, timeout=10)
    finally:
        server.shutdown()
    assert stored == [SecondaryCaptureImageStorage]


# --------------------------------------------------------------------------- age


@pytest.mark.parametrize(
    "dates",
    [{"StudyDate": "", "AcquisitionDate": "20240131"},
     {"StudyDate": None, "ContentDate": "20240131"},
     {"SeriesDate": "20240131"}],  # and the study date (also 20240131) made 20241399
    ids=["study date empty", "study date absent", "study date malformed"],
)
def test_age_comes_from_the_date_the_film_was_taken_when_the_study_date_is_missing(dates):
    # An adult's film must still carry the outside-intended-use notice.
    data = make_dicom(None, STORED, PatientBirthDate="19900115", **dates)
    if "SeriesDate" in dates:
        data = data.replace(b"20240131", b"20241399", 1)  # the study date comes first
    context = load_image_bytes(data, "film.dcm").dicom
    assert context.age_text == "34 y" and outside_intended_age(context.age_years)
    assert context.study_date is None  # what the film says of its study is kept as it is


def test_the_study_date_still_wins_over_the_acquisition_date():
    data = make_dicom(None, STORED, PatientBirthDate="20200115", StudyDate="20240131",
                      AcquisitionDate="20260131")
    assert load_image_bytes(data, "film.dcm").dicom.age_text == "4 y"


# --------------------------------------------------------------------------- pixel padding

INNER = np.linspace(1000, 3000, 24 * 40).reshape(24, 40).astype(np.uint16)


def framed(padding: int) -> np.ndarray:
    """INNER inside a 4-pixel border of the padding value (outside the collimated field)."""
    film = np.full((32, 48), padding, np.uint16)
    film[4:28, 4:44] = INNER
    return film


@pytest.mark.parametrize("padding", [4095, 0])
def test_padding_outside_the_field_does_not_take_the_films_contrast(padding):
    # Without a window the film is stretched over min..max; a padding value far from the
    # data (4095 around values 1000..3000) squeezed the lungs into a third of the grey range.
    shown = pixels(make_dicom(None, framed(padding), PixelPaddingValue=padding))
    np.testing.assert_array_equal(shown[4:28, 4:44], pixels(make_dicom(None, INNER)))
    assert (shown[:4] == 0).all()  # the padding is black, outside the film


def test_padding_on_monochrome1_is_black_too():
    shown = pixels(make_dicom(None, framed(4095), photometric="MONOCHROME1",
                              PixelPaddingValue=4095))
    inner = pixels(make_dicom(None, INNER, photometric="MONOCHROME1"))
    np.testing.assert_array_equal(shown[4:28, 4:44], inner)
    assert (shown[:4] == 0).all()


# --------------------------------------------------------------------------- atomic files


def test_two_writers_of_the_same_file_both_finish_and_leave_it_whole(tmp_path, monkeypatch):
    # A unit that times out re-sends the same film on a second association: two receiver
    # threads store the same <SOP>.dcm at once. Here the second writes while the first is
    # between fsync and rename; with one shared "<SOP>.dcm.partial" the first failed
    # (FileNotFoundError -> the unit is told "out of resources") after the second truncated it.
    from pneumo_desktop.core import files

    target = tmp_path / "1.2.3.dcm"
    real_fsync, calls = os.fsync, []

    def fsync_then_a_second_writer(descriptor):
        real_fsync(descriptor)
        if not calls:
            calls.append(descriptor)
            files.write_bytes_atomically(target, b"B" * 1000)

    monkeypatch.setattr(files.os, "fsync", fsync_then_a_second_writer)
    files.write_bytes_atomically(target, b"A" * 1000)
    assert target.read_bytes() in (b"A" * 1000, b"B" * 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.2.3.dcm"]
