"""The viewer's reading tools on real widgets: window/level kept while paging, the ruler in mm
from a DICOM's PixelSpacing (pixels otherwise, and said so), rotate/flip, 1:1 about the centre
with the zoom shown, the loupe, a patient's earlier film with linked zoom, and no stale state
(LIME cleared on a new film, nothing explained on a film that is not an X-ray)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QSettings, Qt

from pneumo_desktop.core.results import Status
from pneumo_desktop.ui.film_corners import Corner
from pneumo_desktop.ui.film_marks import Tool
from pneumo_desktop.ui.preferences import LimeSettings, Preferences
from pneumo_desktop.ui.verdict_banner import NOT_XRAY
from pneumo_desktop.ui.viewer_tab import START_TEXT, ViewerTab
from tests.conftest import synthetic_xray
from tests.dicom_films import make_dicom

TIMEOUT_MS = 60_000  # generous: a training job shares the CPU


def write_png(path, seed: int = 0, pneumonia: bool = False, size: int = 160):
    Image.fromarray(synthetic_xray(np.random.default_rng(seed), pneumonia, size=size)).save(path)
    return path


@pytest.fixture
def preferences(tmp_path) -> Preferences:
    return Preferences(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def make_viewer(qtbot, inference, preferences):
    def make(service=None) -> ViewerTab:
        viewer = ViewerTab(service or inference, preferences)
        qtbot.addWidget(viewer)
        viewer.resize(1100, 720)
        viewer.show()
        qtbot.waitExposed(viewer)
        return viewer

    return make


def open_and_wait(qtbot, viewer: ViewerTab, path) -> None:
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS) as shown:
        viewer.open_path(path)
    assert shown.args == [str(path)]


def drag(qtbot, viewer: ViewerTab, start: QPoint, end: QPoint) -> None:
    port = viewer.image_view.viewport()
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(port, end)
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=end)


def test_the_empty_viewer_says_how_to_open_a_film(make_viewer) -> None:
    viewer = make_viewer()
    placeholder = viewer.image_view.placeholder
    assert placeholder.isVisible() and placeholder.text() == START_TEXT
    assert "Open a film" in START_TEXT and "Scan a folder" in START_TEXT
    assert not viewer.banner.isVisible()


def test_window_level_is_kept_across_films_unless_the_preference_is_off(
        qtbot, make_viewer, preferences, tmp_path) -> None:
    first, second = write_png(tmp_path / "a.png", 1), write_png(tmp_path / "b.png", 2)
    viewer = make_viewer()
    open_and_wait(qtbot, viewer, first)
    viewer.window_level.apply_preset("Bone")
    viewer.image_view.setFocus()
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_I)  # invert
    bone = viewer.image_view.window_level()
    qtbot.keyClick(viewer.image_view, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: viewer.current_image is not None
                    and viewer.current_image.path == str(second), timeout=TIMEOUT_MS)
    assert viewer.image_view.window_level() == bone and viewer.image_view.is_inverted()
    assert viewer.window_level.preset_combo.currentText() == "Bone"
    preferences.keep_window_level = False
    open_and_wait(qtbot, viewer, first)
    assert viewer.image_view.window_level() == (127.5, 255.0)
    assert not viewer.image_view.is_inverted()


def test_ruler_measures_in_mm_from_the_dicoms_pixel_spacing(qtbot, make_viewer,
                                                          tmp_path) -> None:
    pixels = synthetic_xray(np.random.default_rng(4), False, size=200)
    path = tmp_path / "spaced.dcm"
    make_dicom(path, pixels, PixelSpacing=[0.25, 0.2])  # rows 0.25 mm, columns 0.2 mm
    viewer = make_viewer()
    open_and_wait(qtbot, viewer, path)
    view = viewer.image_view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_L)
    assert viewer.marks.tool is Tool.RULER
    assert viewer.toolbar.tool_buttons[Tool.RULER].isChecked()
    start = view.mapFromScene(20.0, 50.0)
    end = view.mapFromScene(120.0, 50.0)
    drag(qtbot, viewer, start, end)
    [ruler] = viewer.marks.marks()
    (x0, y0), (x1, y1) = ruler.points
    expected = abs(x1 - x0) * 0.2  # horizontal: the column spacing
    assert abs(y1 - y0) < 2 and abs(x1 - x0) == pytest.approx(100, abs=2)
    text = viewer.marks.measurement_text(ruler)
    assert text.endswith(" mm") and float(text.split()[0]) == pytest.approx(expected, abs=0.1)
    assert "0.200 × 0.250 mm/px (PixelSpacing)" in viewer.corners.text(Corner.BOTTOM_LEFT)
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert viewer.marks.tool is Tool.PAN


def test_ruler_on_a_png_measures_pixels_and_says_so(qtbot, make_viewer, tmp_path) -> None:
    viewer = make_viewer()
    open_and_wait(qtbot, viewer, write_png(tmp_path / "a.png"))
    view = viewer.image_view
    viewer.toolbar.tool_buttons[Tool.RULER].click()
    drag(qtbot, viewer, view.mapFromScene(10.0, 10.0), view.mapFromScene(10.0, 90.0))
    [ruler] = viewer.marks.marks()
    text = viewer.marks.measurement_text(ruler)
    assert "px" in text and "no pixel spacing" in text, text


def test_rotate_flip_one_to_one_about_the_centre_and_the_zoom_shown(qtbot, make_viewer,
                                                                    tmp_path) -> None:
    viewer = make_viewer()
    open_and_wait(qtbot, viewer, write_png(tmp_path / "a.png", size=1200))  # > view at 1:1
    view = viewer.image_view
    view.setFocus()
    fitted = view.zoom_factor()
    assert viewer.toolbar.zoom_label.text() == f"{fitted * 100:.0f}%"
    corner = viewer.corners.labels[Corner.TOP_LEFT]
    placed = corner.pos()
    view.zoom_by(2.0, view.mapFromScene(300.0, 300.0))  # zoomed in on one part of the film
    centre = view.film_centre()
    view.horizontalScrollBar().setValue(view.horizontalScrollBar().value() + 40)  # a pan
    view.verticalScrollBar().setValue(view.verticalScrollBar().value() + 30)
    assert corner.pos() == placed  # the corners stay in the corners
    centre = view.film_centre()
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert view.zoom_factor() == 1.0 and viewer.toolbar.zoom_label.text() == "100%"
    after = view.film_centre()
    assert abs(after.x() - centre.x()) <= 2 and abs(after.y() - centre.y()) <= 2
    qtbot.keyClick(view, Qt.Key.Key_F)
    top_left = view.mapFromScene(0.0, 0.0)
    qtbot.keyClick(view, Qt.Key.Key_R)  # clockwise: the film's top-left goes top-right
    assert view.orientation() == (90, False)
    turned = view.mapFromScene(0.0, 0.0)
    assert turned.x() > view.viewport().width() / 2 and turned.y() < view.viewport().height() / 2
    qtbot.keyClick(view, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(view, Qt.Key.Key_H)
    assert view.orientation() == (0, True)
    flipped = view.mapFromScene(0.0, 0.0)
    assert flipped.x() > view.viewport().width() / 2 and abs(flipped.y() - top_left.y()) <= 2
    assert "flipped" in viewer.corners.text(Corner.BOTTOM_RIGHT)


def test_the_loupe_follows_the_mouse(qtbot, make_viewer, tmp_path) -> None:
    viewer = make_viewer()
    open_and_wait(qtbot, viewer, write_png(tmp_path / "a.png"))
    view, loupe = viewer.image_view, viewer.magnifier
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert loupe.active and loupe.isVisible() and viewer.toolbar.magnifier_button.isChecked()
    qtbot.mouseMove(view.viewport(), QPoint(150, 120))
    qtbot.waitUntil(lambda: loupe.centre == QPoint(150, 120), timeout=5000)
    source = loupe.source_rect().center()
    assert abs(source.x() - 150) <= 1 and abs(source.y() - 120) <= 1
    assert not loupe.geometry().contains(QPoint(150, 120))  # beside the pointer, not under it
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not loupe.active and not loupe.isVisible()


def test_a_patients_earlier_film_opens_beside_with_linked_zoom(qtbot, make_viewer,
                                                               tmp_path) -> None:
    rng = np.random.default_rng(9)
    older, newer = tmp_path / "IM_2023", tmp_path / "IM_2024"
    make_dicom(older, synthetic_xray(rng, False, size=128), PatientID="P-9",
               StudyDate="20230105")
    make_dicom(newer, synthetic_xray(rng, True, size=160), PatientID="P-9",
               StudyDate="20240210")
    make_dicom(tmp_path / "IM_other", synthetic_xray(rng, False, size=96), PatientID="P-1",
               StudyDate="20220101")
    viewer = make_viewer()
    with qtbot.waitSignal(viewer.prior.found, timeout=TIMEOUT_MS) as found:
        open_and_wait(qtbot, viewer, newer)
    assert found.args[0].path == str(older)
    compare = viewer.toolbar.compare_button
    assert compare.isEnabled() and compare.text() == "Earlier film 2023-01-05"
    viewer.image_view.setFocus()
    with qtbot.waitSignal(viewer.prior.shown, timeout=TIMEOUT_MS):
        qtbot.keyClick(viewer.image_view, Qt.Key.Key_C)
    assert viewer.prior.isVisible() and viewer.prior.view.pixels.shape == (128, 128)
    viewer.image_view.zoom_by(2.0)
    zoom, x, y = viewer.image_view.view_state()
    prior_zoom, prior_x, prior_y = viewer.prior.view.view_state()
    assert prior_zoom == pytest.approx(zoom, rel=1e-3)
    assert (prior_x, prior_y) == pytest.approx((x, y), abs=0.02)
    viewer.prior.view.zoom_by(1.5)  # either side leads
    assert viewer.image_view.view_state()[0] == pytest.approx(zoom * 1.5, rel=1e-3)
    with qtbot.waitSignal(viewer.prior.found, timeout=TIMEOUT_MS) as found:
        open_and_wait(qtbot, viewer, tmp_path / "IM_other")  # another patient: no prior
    assert found.args == [None] and not compare.isEnabled() and not viewer.prior.isVisible()


def test_lime_is_cleared_and_grad_cam_comes_back_on_a_new_film(qtbot, make_viewer,
                                                               tmp_path) -> None:
    first, second = write_png(tmp_path / "a.png", 1, True), write_png(tmp_path / "b.png", 2)
    viewer = make_viewer()
    panel = viewer.explain_panel
    panel.lime.batch_size = 25
    panel.lime.samples_spin.setMinimum(50)
    panel.apply_lime_settings(LimeSettings(num_samples=50, num_features=4))
    open_and_wait(qtbot, viewer, first)
    legend = panel.legend_label.text()
    with qtbot.waitSignal(panel.limeFinished, timeout=TIMEOUT_MS) as finished:
        panel.lime.explain_button.click()
    assert finished.args == ["done"] and panel.lime.status_label.text()
    assert panel.overlay_combo.currentText() == "LIME boundaries"
    lime_overlay = viewer.image_view.overlay()
    open_and_wait(qtbot, viewer, second)
    assert panel.lime.status_label.text() == "" and panel.overlay_combo.currentText() == "Grad-CAM"
    qtbot.waitUntil(lambda: viewer.image_view.overlay() is not None, timeout=TIMEOUT_MS)
    assert not np.array_equal(viewer.image_view.overlay(), lime_overlay)  # the new Grad-CAM
    panel.overlay_combo.setCurrentText("LIME heatmap")
    assert viewer.image_view.overlay() is None  # no LIME for this film yet
    assert legend in panel.legend_label.text()  # one legend for every overlay
    assert "Warm" in legend and "against" in legend


class NotAnXray:
    """The tiny classifier, except that it refuses every film (as the OOD head would a
    photograph)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def classify(self, model_input):
        prediction = self._inner.classify(model_input)
        return dataclasses.replace(prediction, status=Status.NOT_XRAY, verdict=None, band=None,
                                   subtype=None, subtype_probability=None, ood_distance=99.0)


def test_a_film_that_is_not_an_xray_gets_no_overlay_lime_or_case_pdf(
        qtbot, make_viewer, make_inference, tiny_classifier, tmp_path) -> None:
    viewer = make_viewer(make_inference(NotAnXray(tiny_classifier)))
    open_and_wait(qtbot, viewer, write_png(tmp_path / "photo.png", 3, True))
    assert viewer.banner.state == NOT_XRAY
    assert viewer.banner.headline.text() == "Not a chest X-ray — not classified"
    panel = viewer.explain_panel
    assert not panel.is_explainable and not panel.lime.explain_button.isEnabled()
    assert not panel.overlay_box.isEnabled() and "not a chest X-ray" in panel.status_label.text()
    assert not viewer.toolbar.case_pdf_button.isEnabled()
    qtbot.wait(300)  # a Grad-CAM, if one had been asked for, would have come by now
    assert viewer.image_view.overlay() is None and panel.model_input is None
