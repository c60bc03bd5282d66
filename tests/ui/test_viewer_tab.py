"""ViewerTab over the real tiny classifier: verdict, broken files, folder navigation, the model
arriving late (and the film then explained on the model's own input), window/level sliders,
DICOM tags, the case PDF."""

from __future__ import annotations

import re
import threading

import numpy as np
import pydicom
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from pneumo_desktop.core.imaging import ImageLoadError, load_image, to_model_input
from pneumo_desktop.core.inference import Priority
from pneumo_desktop.core.results import Band
from pneumo_desktop.ui.film_corners import Corner
from pneumo_desktop.ui.image_view import DEFAULT_LEVEL, DEFAULT_WIDTH
from pneumo_desktop.ui.viewer_tab import ViewerTab, folder_images
from pneumo_desktop.ui.window_level_controls import PRESETS
from tests.conftest import synthetic_xray
from tests.dicom_films import make_dicom

TIMEOUT_MS = 60_000  # generous: a training job shares the CPU
BANDS = tuple(Band)


@pytest.fixture
def folder(tmp_path):
    """a.png, B.png (pneumonia), c.jpg (garbage), d.png, notes.txt: sorted ignoring case."""
    rng = np.random.default_rng(3)
    for name, pneumonia in (("a.png", False), ("B.png", True), ("d.png", False)):
        pixels = synthetic_xray(rng, pneumonia, size=128)
        Image.fromarray(pixels).resize((300, 500)).save(tmp_path / name)
    (tmp_path / "c.jpg").write_bytes(b"\x13\x37 definitely not a jpeg " * 20)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.fixture
def tab(qtbot, inference) -> ViewerTab:
    widget = ViewerTab(inference)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    return widget


def open_and_wait(qtbot, tab: ViewerTab, path, until: str = "classified") -> None:
    """Open ``path`` and wait for its verdict (``until="imageLoaded"``: for the film only)."""
    with qtbot.waitSignal(getattr(tab, until), timeout=TIMEOUT_MS) as shown:
        tab.open_path(path)
    assert shown.args == [str(path)]


def test_folder_images_sorted_case_insensitively(folder) -> None:
    assert [p.name for p in folder_images(folder)] == ["a.png", "B.png", "c.jpg", "d.png"]


def test_open_shows_the_classifiers_verdict(qtbot, tab, folder, tiny_classifier) -> None:
    path = folder / "B.png"
    open_and_wait(qtbot, tab, path)
    expected = tiny_classifier.classify(tiny_classifier.prepare(load_image(path)))
    assert tab.banner.headline.text() == expected.band.wording
    assert tab.banner.state is expected.band
    shown = re.match(r"P\(pneumonia\) = (\d\.\d+) \(threshold (\d\.\d+)\) · "
                     r"factory threshold \(model card\)", tab.banner.details.text())
    assert shown is not None, tab.banner.details.text()
    assert float(shown[1]) == pytest.approx(expected.probability, abs=5e-4)
    assert float(shown[2]) == pytest.approx(tiny_classifier.threshold, abs=5e-4)
    assert not tab.banner.notice.isVisible()  # a PNG has no age: no intended-use notice
    assert tab.corners.text(Corner.TOP_LEFT).startswith("B.png\nNo patient data")
    assert tab.corners.text(Corner.TOP_RIGHT).startswith("PNG\n300 × 500 px\n")
    assert tab.image_view.pixels.shape == (500, 300)
    size = tiny_classifier.input_size
    assert tab.explain_panel.model_input.shape == (size, size, tiny_classifier.channels)
    qtbot.waitUntil(lambda: tab.image_view.overlay() is not None, timeout=TIMEOUT_MS)


def test_broken_file_shows_the_message_and_the_tab_still_works(qtbot, tab, folder) -> None:
    broken = folder / "c.jpg"
    with pytest.raises(ImageLoadError) as info:
        load_image(broken)
    open_and_wait(qtbot, tab, folder / "a.png")
    with qtbot.assertNotEmitted(tab.imageLoaded, wait=0):
        tab.open_path(broken)
        qtbot.waitUntil(lambda: tab.banner.headline.text() == str(info.value),
                        timeout=TIMEOUT_MS)
    assert not tab.image_view.has_image() and tab.explain_panel.model_input is None
    assert "Traceback" not in tab.banner.headline.text()
    assert not tab.explain_panel.is_explainable and tab.image_view.overlay() is None
    assert all(not tab.corners.text(corner) for corner in Corner)  # a.png's corners went
    open_and_wait(qtbot, tab, folder / "d.png")
    assert tab.banner.state in BANDS and tab.image_view.has_image()
    assert tab.explain_panel.is_explainable


def test_next_and_previous_walk_the_folder(qtbot, tab, folder) -> None:
    open_and_wait(qtbot, tab, folder / "a.png")
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        tab.show_next()
    assert loaded.args == [str(folder / "B.png")]
    tab.show_next()  # c.jpg: unreadable, but navigation goes on from it
    qtbot.waitUntil(lambda: "c.jpg" in tab.banner.headline.text(), timeout=TIMEOUT_MS)
    assert tab.current_path == str(folder / "c.jpg")
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        tab.toolbar.next_button.click()
    assert loaded.args == [str(folder / "d.png")]
    tab.show_next()  # the end of the folder: stays put
    assert tab.current_path == str(folder / "d.png")
    assert tab.status_label.text() == "Last film of the folder."
    (folder / "B.png").rename(folder / "b2.png")  # the folder is re-read on every step
    tab.show_previous()
    qtbot.waitUntil(lambda: "c.jpg" in tab.banner.headline.text(), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        tab.toolbar.previous_button.click()
    assert loaded.args == [str(folder / "b2.png")]
    previous, following = tab.toolbar.previous_button, tab.toolbar.next_button
    assert "PgUp" in previous.toolTip() and "PgDown" in following.toolTip()
    assert tab.reading_order == "folder"


def test_page_down_key_goes_to_the_next_image(qtbot, tab, folder) -> None:
    tab.show()
    qtbot.waitExposed(tab)
    open_and_wait(qtbot, tab, folder / "a.png")
    tab.image_view.setFocus()
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        qtbot.keyClick(tab.image_view, Qt.Key.Key_PageDown)
    assert loaded.args == [str(folder / "B.png")]
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        qtbot.keyClick(tab.image_view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert loaded.args == [str(folder / "a.png")]


def test_a_film_opened_before_the_model_is_explained_on_the_models_own_input(
    qtbot, loading_inference, folder, tiny_classifier
) -> None:
    tab = ViewerTab(loading_inference)
    qtbot.addWidget(tab)
    open_and_wait(qtbot, tab, folder / "a.png", until="imageLoaded")
    assert tab.banner.headline.text() == "model loading…" and tab.image_view.has_image()
    panel = tab.explain_panel
    assert tab.classification is None and panel.model_input is None
    assert panel.status_label.text() == "model loading…"
    pdf_button = tab.toolbar.case_pdf_button
    assert not panel.lime.explain_button.isEnabled() and not pdf_button.isEnabled()
    with qtbot.waitSignal(tab.classified, timeout=TIMEOUT_MS):
        loading_inference.set_classifier(tiny_classifier)
    assert tab.banner.state in BANDS
    assert tab.banner.details.text().startswith("P(pneumonia) = ")
    film = load_image(folder / "a.png")
    assert np.array_equal(panel.model_input, tiny_classifier.prepare(film))
    # The model equalises its input: the plain resized film is not what it classified.
    assert not np.array_equal(panel.model_input, to_model_input(film))
    assert panel.lime.explain_button.isEnabled() and pdf_button.isEnabled()
    qtbot.waitUntil(lambda: tab.image_view.overlay() is not None, timeout=TIMEOUT_MS)


def test_a_film_left_behind_gets_no_verdict(qtbot, tab, inference, folder) -> None:
    """Paging on before a film's classification ran cancels it: only the last film's
    verdict is shown, and explained."""
    seen = []
    tab.classified.connect(seen.append)
    busy = threading.Event()  # holds the inference thread, so a.png's request waits queued
    inference.submit(lambda classifier: busy.wait(30), priority=Priority.INTERACTIVE)
    for name in ("a.png", "B.png"):
        with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS):
            tab.open_path(folder / name)
    with qtbot.waitSignal(tab.classified, timeout=TIMEOUT_MS):
        busy.set()
    qtbot.wait(100)  # a late verdict for a.png would have arrived by now
    assert seen == [str(folder / "B.png")] and tab.current_path == str(folder / "B.png")
    film = load_image(folder / "B.png")
    assert np.array_equal(tab.explain_panel.model_input, tab.classification.model_input)
    assert np.array_equal(tab.classification.model_input, inference.classifier.prepare(film))


def test_window_in_numbers_presets_and_invert_change_the_display_only(qtbot, tab,
                                                                     folder) -> None:
    open_and_wait(qtbot, tab, folder / "a.png")
    view, controls = tab.image_view, tab.window_level
    data = view.pixels.copy()
    controls.centre_spin.setValue(100)
    controls.width_spin.setValue(60)
    assert view.window_level() == (100, 60) and controls.preset_combo.currentText() == "Custom"
    assert not np.array_equal(view.displayed_pixels(), data)
    assert np.array_equal(view.pixels, data)
    controls.apply_preset("Lung")
    lung = next(p for p in PRESETS if p.name == "Lung")
    assert view.window_level() == (lung.centre, lung.width)
    assert (controls.centre_spin.value(), controls.width_spin.value()) == (85, 170)
    assert controls.preset_combo.currentText() == "Lung"
    view.set_window_level(DEFAULT_LEVEL, DEFAULT_WIDTH * 4)  # e.g. a right-drag
    assert controls.width_spin.value() == 1020 and controls.preset_combo.currentText() == "Custom"
    controls.reset_button.click()
    controls.invert_check.setChecked(True)
    assert view.is_inverted()
    assert np.array_equal(view.displayed_pixels(), 255 - data)
    controls.reset_button.click()
    assert view.window_level() == (DEFAULT_LEVEL, DEFAULT_WIDTH) and not view.is_inverted()
    assert np.array_equal(view.displayed_pixels(), data) and not controls.invert_check.isChecked()
    assert controls.preset_combo.currentText() == "Default"


def test_dicom_patient_and_study_are_in_the_corners(qtbot, tab, tmp_path) -> None:
    pixels = synthetic_xray(np.random.default_rng(5), False, size=96)
    path = tmp_path / "study.dcm"
    make_dicom(path, pixels, PatientName="DOE^JANE", PatientID="P42", PatientSex="F",
               PatientAge="004Y", StudyDate="20240131", StudyTime="101500",
               StudyDescription="CHEST PA", Modality="CR", ViewPosition="PA")
    assert pydicom.dcmread(path).PatientID == "P42"
    open_and_wait(qtbot, tab, path)
    assert tab.corners.text(Corner.TOP_LEFT) == "DOE, JANE\nID P42\n4 y · F"
    assert tab.corners.text(Corner.TOP_RIGHT) == "2024-01-31 10:15\nCR · PA\nCHEST PA"
    bottom_left = tab.corners.text(Corner.BOTTOM_LEFT).split("\n")
    assert bottom_left[0] == "study.dcm" and bottom_left[1].startswith("96 × 96 px, DICOM, ")
    assert bottom_left[2] == "no pixel spacing"
    assert tab.corners.text(Corner.BOTTOM_RIGHT).startswith("Zoom ")
    assert not tab.banner.notice.isVisible()  # four years old: within the intended use


def test_an_adults_film_is_marked_outside_intended_use(qtbot, tab, tmp_path) -> None:
    path = tmp_path / "adult.dcm"
    make_dicom(path, synthetic_xray(np.random.default_rng(5), False, size=96),
               PatientAge="034Y")
    open_and_wait(qtbot, tab, path)
    assert tab.banner.state in BANDS  # still classified, and said to be outside its use
    assert tab.banner.notice.isVisibleTo(tab)
    assert tab.banner.notice.text().startswith("Outside intended use: patient age 34 y")


def test_close_while_loading_is_clean(qtbot, tab, folder) -> None:
    tab.open_path(folder / "a.png")
    tab.close()  # waits for the load; must not raise or hang
    assert tab.current_path == str(folder / "a.png")


def test_case_pdf_of_the_shown_film(qtbot, tab, folder) -> None:
    out = folder / "out" / "B_case.pdf"
    pdf_button = tab.toolbar.case_pdf_button
    assert not pdf_button.isEnabled() and not tab.export_case_pdf(out)
    open_and_wait(qtbot, tab, folder / "B.png")
    assert pdf_button.isEnabled()
    with qtbot.waitSignal(tab.caseReportWritten, timeout=TIMEOUT_MS) as written:
        assert tab.export_case_pdf(out)
    assert written.args == [str(out)]
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and b"Pneumonia screening: B.png" in data  # its title
    assert [p.name for p in out.parent.iterdir()] == ["B_case.pdf"]
    assert "B_case.pdf" in tab.status_label.text()
    taken = folder / "taken.pdf"
    taken.mkdir()
    with qtbot.assertNotEmitted(tab.caseReportWritten, wait=0):
        assert tab.export_case_pdf(taken)
        qtbot.waitUntil(lambda: "could not be written" in tab.status_label.text(),
                        timeout=TIMEOUT_MS)
    tab.open_path(folder / "c.jpg")  # unreadable: nothing to report
    qtbot.waitUntil(lambda: not pdf_button.isEnabled(), timeout=TIMEOUT_MS)


def test_case_pdf_waits_for_the_model(qtbot, folder, loading_inference, tiny_classifier) -> None:
    widget = ViewerTab(loading_inference)
    qtbot.addWidget(widget)
    open_and_wait(qtbot, widget, folder / "a.png", until="imageLoaded")
    assert not widget.toolbar.case_pdf_button.isEnabled()
    assert not widget.export_case_pdf(folder / "a.pdf") and not (folder / "a.pdf").exists()
    with qtbot.waitSignal(widget.classified, timeout=TIMEOUT_MS):
        loading_inference.set_classifier(tiny_classifier)
    assert widget.toolbar.case_pdf_button.isEnabled()
