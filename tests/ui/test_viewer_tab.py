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


def test_a_film_opened_before_the_model_is_explained_on_the_models_own_input(
    qtbot, loading_inference, folder, tiny_classifier
) -> None:
    tab = ViewerTab(loading_inference)
    qtbot.addWidget(tab)
    open_and_wait(qtbot, tab, folder / "a.png", until="imageLoaded")
    assert tab.verdict_label.text() == "model loading…" and tab.image_view.has_image()
    panel = tab.explain_panel
    assert tab.classification is None and panel.model_input is None
    assert panel.status_label.text() == "model loading…"
    assert not panel.lime.explain_button.isEnabled() and not tab.case_pdf_button.isEnabled()
    with qtbot.waitSignal(tab.classified, timeout=TIMEOUT_MS):
        loading_inference.set_classifier(tiny_classifier)
    assert tab.verdict_label.text() in VERDICTS
    assert tab.probability_label.text().startswith("P(pneumonia) = ")
    film = load_image(folder / "a.png")
    assert np.array_equal(panel.model_input, tiny_classifier.prepare(film))
    # The model equalises its input: the plain resized film is not what it classified.
    assert not np.array_equal(panel.model_input, to_model_input(film))
    assert panel.lime.explain_button.isEnabled() and tab.case_pdf_button.isEnabled()
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


def test_sliders_change_the_display_only_and_reset(qtbot, tab, folder) -> None:
    open_and_wait(qtbot, tab, folder / "a.png")
    view = tab.image_view
    data = view.pixels.copy()
    controls = tab.window_level
    controls.brightness_slider.setValue(40)
    controls.contrast_slider.setValue(50)
    level, width = view.window_level()
    assert level == pytest.approx(DEFAULT_LEVEL - 40) and width == pytest.approx(127.5)
    assert not np.array_equal(view.displayed_pixels(), data)
    assert np.array_equal(view.pixels, data)
    view.set_window_level(DEFAULT_LEVEL, DEFAULT_WIDTH * 4)  # e.g. a right-drag
    assert controls.contrast_slider.value() == -100 and controls.brightness_slider.value() == 0
    controls.reset_button.click()
    assert view.window_level() == (DEFAULT_LEVEL, DEFAULT_WIDTH)
    assert np.array_equal(view.displayed_pixels(), data) and controls.contrast_slider.value() == 0


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


def test_case_pdf_waits_for_the_model(qtbot, folder, loading_inference, tiny_classifier) -> None:
    widget = ViewerTab(loading_inference)
    qtbot.addWidget(widget)
    open_and_wait(qtbot, widget, folder / "a.png", until="imageLoaded")
    assert not widget.case_pdf_button.isEnabled()
    assert not widget.export_case_pdf(folder / "a.pdf") and not (folder / "a.pdf").exists()
    with qtbot.waitSignal(widget.classified, timeout=TIMEOUT_MS):
        loading_inference.set_classifier(tiny_classifier)
    assert widget.case_pdf_button.isEnabled()
