"""ViewerTab over the real tiny classifier: verdict, broken files, folder navigation, the model
arriving late, window/level sliders, DICOM tags."""

from __future__ import annotations

import re

import numpy as np
import pydicom
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from pneumo_desktop.core.imaging import ImageLoadError, load_image
from pneumo_desktop.ui.image_view import DEFAULT_LEVEL, DEFAULT_WIDTH
from pneumo_desktop.ui.viewer_tab import ViewerTab, folder_images
from tests.conftest import synthetic_xray
from tests.core.test_imaging import make_dicom

TIMEOUT_MS = 60_000  # generous: a training job shares the CPU
VERDICTS = ("NORMAL", "PNEUMONIA")


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
def tab(qtbot, tiny_classifier) -> ViewerTab:
    widget = ViewerTab(tiny_classifier)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    return widget


def open_and_wait(qtbot, tab: ViewerTab, path) -> None:
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        tab.open_path(path)
    assert loaded.args == [str(path)]


def test_folder_images_sorted_case_insensitively(folder) -> None:
    assert [p.name for p in folder_images(folder)] == ["a.png", "B.png", "c.jpg", "d.png"]


def test_open_shows_the_classifiers_verdict(qtbot, tab, folder, tiny_classifier) -> None:
    path = folder / "B.png"
    open_and_wait(qtbot, tab, path)
    expected = tiny_classifier.classify(tiny_classifier.prepare(load_image(path)))
    assert tab.verdict_label.text() == expected.verdict
    shown = re.fullmatch(r"P\(pneumonia\) = (\d\.\d+) \(threshold (\d\.\d+)\)",
                         tab.probability_label.text())
    assert shown is not None, tab.probability_label.text()
    assert float(shown[1]) == pytest.approx(expected.probability, abs=5e-4)
    assert float(shown[2]) == pytest.approx(tiny_classifier.threshold, abs=5e-4)
    card = tiny_classifier.card
    assert card.name in tab.model_label.text() and card.version in tab.model_label.text()
    assert tab.file_label.text() == "B.png — 300 × 500 px, PNG"
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
        qtbot.waitUntil(lambda: tab.verdict_label.text() == str(info.value), timeout=TIMEOUT_MS)
    assert not tab.image_view.has_image() and tab.explain_panel.model_input is None
    assert "Traceback" not in tab.verdict_label.text()
    open_and_wait(qtbot, tab, folder / "d.png")
    assert tab.verdict_label.text() in VERDICTS and tab.image_view.has_image()


def test_next_and_previous_walk_the_folder(qtbot, tab, folder) -> None:
    open_and_wait(qtbot, tab, folder / "a.png")
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        tab.show_next()
    assert loaded.args == [str(folder / "B.png")]
    tab.show_next()  # c.jpg: unreadable, but navigation goes on from it
    qtbot.waitUntil(lambda: "c.jpg" in tab.verdict_label.text(), timeout=TIMEOUT_MS)
    assert tab.current_path == str(folder / "c.jpg")
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        tab.next_button.click()
    assert loaded.args == [str(folder / "d.png")]
    tab.show_next()  # the end of the folder: stays put
    assert tab.current_path == str(folder / "d.png") and "Last image" in tab.status_label.text()
    (folder / "B.png").rename(folder / "b2.png")  # the folder is re-read on every step
    tab.show_previous()
    qtbot.waitUntil(lambda: "c.jpg" in tab.verdict_label.text(), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(tab.imageLoaded, timeout=TIMEOUT_MS) as loaded:
        tab.previous_button.click()
    assert loaded.args == [str(folder / "b2.png")]
    assert "PageUp" in tab.previous_button.toolTip() and "PageDown" in tab.next_button.toolTip()


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


def test_model_arriving_later(qtbot, folder, tiny_classifier) -> None:
    tab = ViewerTab(None)
    qtbot.addWidget(tab)
    open_and_wait(qtbot, tab, folder / "a.png")
    assert tab.verdict_label.text() == "model loading…" and tab.image_view.has_image()
    assert not tab.explain_panel.explain_button.isEnabled()
    tab.set_classifier(tiny_classifier)
    qtbot.waitUntil(lambda: tab.verdict_label.text() in VERDICTS, timeout=TIMEOUT_MS)
    assert tab.probability_label.text().startswith("P(pneumonia) = ")
    assert tab.explain_panel.explain_button.isEnabled()


def test_sliders_change_the_display_only_and_reset(qtbot, tab, folder) -> None:
    open_and_wait(qtbot, tab, folder / "a.png")
    view = tab.image_view
    data = view.pixels.copy()
    tab.brightness_slider.setValue(40)
    tab.contrast_slider.setValue(50)
    level, width = view.window_level()
    assert level == pytest.approx(DEFAULT_LEVEL - 40) and width == pytest.approx(127.5)
    assert not np.array_equal(view.displayed_pixels(), data)
    assert np.array_equal(view.pixels, data)
    view.set_window_level(DEFAULT_LEVEL, DEFAULT_WIDTH * 4)  # e.g. a right-drag
    assert tab.contrast_slider.value() == -100 and tab.brightness_slider.value() == 0
    tab.reset_window_level()
    assert view.window_level() == (DEFAULT_LEVEL, DEFAULT_WIDTH)
    assert np.array_equal(view.displayed_pixels(), data) and tab.contrast_slider.value() == 0


def test_dicom_tags_are_shown(qtbot, tab, tmp_path) -> None:
    pixels = synthetic_xray(np.random.default_rng(5), False, size=96)
    path = tmp_path / "study.dcm"
    make_dicom(path, pixels, PatientName="DOE^JANE", PatientID="P42", PatientSex="F",
               PatientAge="004Y", StudyDate="20240131", StudyDescription="CHEST PA",
               Modality="CR")
    assert pydicom.dcmread(path).PatientID == "P42"
    open_and_wait(qtbot, tab, path)
    text = tab.patient_label.text()
    for part in ("DOE JANE", "ID P42", "F", "004Y", "2024-01-31", "CHEST PA", "CR"):
        assert part in text
    assert tab.file_label.text() == "study.dcm — 96 × 96 px, DICOM"


def test_close_while_loading_is_clean(qtbot, tab, folder) -> None:
    tab.open_path(folder / "a.png")
    tab.close()  # waits for the load; must not raise or hang
    assert tab.current_path == str(folder / "a.png")


def test_case_pdf_of_the_shown_film(qtbot, tab, folder) -> None:
    out = folder / "out" / "B_case.pdf"
    assert not tab.case_pdf_button.isEnabled() and not tab.export_case_pdf(out)
    open_and_wait(qtbot, tab, folder / "B.png")
    assert tab.case_pdf_button.isEnabled()
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
    qtbot.waitUntil(lambda: not tab.case_pdf_button.isEnabled(), timeout=TIMEOUT_MS)


def test_case_pdf_waits_for_the_model(qtbot, folder, tiny_classifier) -> None:
    widget = ViewerTab(None)
    qtbot.addWidget(widget)
    open_and_wait(qtbot, widget, folder / "a.png")
    assert not widget.case_pdf_button.isEnabled()
    assert not widget.export_case_pdf(folder / "a.pdf") and not (folder / "a.pdf").exists()
    widget.set_classifier(tiny_classifier)
    assert widget.case_pdf_button.isEnabled()
