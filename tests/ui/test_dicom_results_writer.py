"""Write DICOM result for this film: SC + SR into the output folder, the SR carrying the
radiologist's mark and who made it, sent to a PACS when one is set; its Grad-CAM goes through
the inference thread; problems are said in words."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from pneumo_desktop.core.imaging import load_image
from pneumo_desktop.core.inference import classify_film
from pneumo_desktop.core.receiver import ReceiverConfig, StorageReceiver
from pneumo_desktop.core.results import Prediction, ReviewMark, ScanResult, Status
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.dicom_results_writer import DicomResultWriter
from pneumo_desktop.ui.site_settings import DicomResultSettings
from tests.dicom_films import make_dicom
from tests.ui.site_helpers import fake_classifier

TIMEOUT_MS = 60_000
BRIGHT = np.full((256, 256), 3500, np.uint16)  # the fake scores a bright film high


class GradcamRecorder:
    """The fake classifier, noting on which thread its engine makes Grad-CAM maps."""

    def __init__(self, inner) -> None:
        self._inner, self.threads = inner, []
        engine = inner.engine
        original = engine.gradcam_inputs

        def recorded(images):
            import threading

            self.threads.append(threading.current_thread().name)
            return original(images)

        engine.gradcam_inputs = recorded

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.fixture
def film(tmp_path):
    path = tmp_path / "films" / "chest.dcm"
    path.parent.mkdir()
    make_dicom(path, BRIGHT)
    return path


@pytest.fixture
def classifier(tmp_path):
    return GradcamRecorder(fake_classifier(tmp_path / "card"))


def _prediction(classifier, path) -> Prediction:
    return classify_film(classifier, load_image(path)).prediction


def test_sc_and_sr_are_written_with_the_mark_and_sent_to_the_pacs(
    qtbot, make_inference, classifier, film, tmp_path
):
    db = tmp_path / "results.sqlite3"
    prediction = _prediction(classifier, film)
    with ResultStore(db) as store:  # reviewed in the worklist earlier
        scan_id = store.start_scan(film.parent, classifier.card, 1)
        store.record(scan_id, ScanResult.from_prediction(str(film), prediction))
        store.set_review(scan_id, str(film), ReviewMark.AGREE, note="right lower lobe")
    pacs = StorageReceiver(ReceiverConfig(tmp_path / "pacs", ae_title="PACS", port=0,
                                          bind="127.0.0.1"))
    pacs.start()
    try:
        settings = DicomResultSettings(tmp_path / "results", "PACS", "127.0.0.1",
                                       pacs.address[1])
        writer = DicomResultWriter(make_inference(classifier), db)
        with qtbot.waitSignal(writer.written, timeout=TIMEOUT_MS) as written:
            assert writer.write(str(film), prediction, settings)
        assert pacs.stored == 2
    finally:
        pacs.stop()
    assert "written to" in written.args[0] and "sent to PACS@127.0.0.1" in written.args[0]
    assert classifier.threads == ["inference"]
    source = pydicom.dcmread(film)
    sc, sr = (tmp_path / "results" / str(source.StudyInstanceUID) /
              f"{source.SOPInstanceUID}.{kind}.dcm" for kind in ("sc", "sr"))
    assert pydicom.dcmread(sc).StudyInstanceUID == source.StudyInstanceUID
    report = str(pydicom.dcmread(sr))
    assert "right lower lobe" in report and "AGREE" in report


@pytest.mark.parametrize(("case", "expected"), [
    ("no folder", "No output folder for DICOM results is set"),
    ("no film", "Open a film"),
    ("not classified", "no verdict"),
])
def test_what_stops_a_result_is_said_before_anything_runs(
    qtbot, make_inference, classifier, film, tmp_path, case, expected
):
    writer = DicomResultWriter(make_inference(classifier), tmp_path / "r.sqlite3")
    settings = DicomResultSettings(None if case == "no folder" else tmp_path / "out")
    prediction = _prediction(classifier, film)
    if case == "not classified":
        prediction = Prediction(Status.NOT_XRAY, 0.5, 0.1, prediction.threshold_source)
    with qtbot.waitSignal(writer.failed, timeout=1000) as failed:
        assert not writer.write(None if case == "no film" else str(film), prediction, settings)
    assert expected in failed.args[0]


def test_a_film_that_is_not_dicom_gets_a_clear_message(
    qtbot, make_inference, classifier, tmp_path
):
    from tests.ui.site_helpers import write_film

    png = write_film(tmp_path / "films" / "chest.png", 0.9)
    writer = DicomResultWriter(make_inference(classifier), tmp_path / "r.sqlite3")
    with qtbot.waitSignal(writer.failed, timeout=TIMEOUT_MS) as failed:
        writer.write(str(png), _prediction(classifier, png),
                     DicomResultSettings(tmp_path / "out"))
    assert "chest.png is not a DICOM film" in failed.args[0]
    assert not (tmp_path / "out").exists()
