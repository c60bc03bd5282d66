"""ImageView: display-only window/level, zoom, and overlays aligned with the film."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from pneumo_desktop.ui.image_view import DEFAULT_LEVEL, DEFAULT_WIDTH, ImageView, window_lut


def gradient(width: int = 300, height: int = 500) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return ((x + y) * 255 // (width + height - 2)).astype(np.uint8)


@pytest.fixture
def view(qtbot) -> ImageView:
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_image(gradient())
    return widget


def test_window_level_changes_display_not_data(view, qtbot) -> None:
    original = view.pixels.copy()
    assert np.array_equal(view.displayed_pixels(), original)  # identity window by default
    with qtbot.waitSignal(view.windowLevelChanged) as signal:
        view.set_window_level(100, 50)
    assert signal.args == [100.0, 50.0]
    shown = view.displayed_pixels()
    assert not np.array_equal(shown, original)
    assert shown[original <= 75].max() == 0 and shown[original >= 125].min() == 255
    assert np.array_equal(view.pixels, original)  # the data given is untouched
    view.reset_window_level()
    assert view.window_level() == (DEFAULT_LEVEL, DEFAULT_WIDTH)
    assert np.array_equal(view.displayed_pixels(), original)


def test_window_lut_identity_and_clamping() -> None:
    assert np.array_equal(window_lut(DEFAULT_LEVEL, DEFAULT_WIDTH), np.arange(256))
    lut = window_lut(128, 2)
    assert lut[0] == 0 and lut[126] == 0 and lut[129] == 255 and lut[255] == 255


def test_right_drag_sets_window_level(view, qtbot) -> None:
    viewport = view.viewport()
    start = QPoint(200, 150)
    qtbot.mousePress(viewport, Qt.MouseButton.RightButton, pos=start)
    qtbot.mouseMove(viewport, start + QPoint(40, -30))
    qtbot.mouseRelease(viewport, Qt.MouseButton.RightButton, pos=start + QPoint(40, -30))
    level, width = view.window_level()
    assert width == pytest.approx(DEFAULT_WIDTH + 40)  # right: wider window, less contrast
    assert level == pytest.approx(DEFAULT_LEVEL - 30)  # up: lower level, brighter
    assert np.array_equal(view.pixels, gradient())


def test_fit_actual_size_and_keys(view, qtbot) -> None:
    fitted = view.zoom_factor()
    assert 0 < fitted < 1  # a 300x500 film in a 400x300 view is shrunk to fit
    view.actual_size()
    assert view.zoom_factor() == pytest.approx(1.0)
    view.fit_to_window()
    assert view.zoom_factor() == pytest.approx(fitted)
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.zoom_factor() == pytest.approx(fitted * 1.25)
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.zoom_factor() == pytest.approx(fitted)
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert view.zoom_factor() == pytest.approx(1.0)
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert view.zoom_factor() == pytest.approx(fitted)


def test_wheel_zooms_and_stops_refitting_on_resize(view, qtbot) -> None:
    fitted = view.zoom_factor()
    position = QPointF(100, 100)
    event = QWheelEvent(
        position, view.viewport().mapToGlobal(position), QPoint(), QPoint(0, 120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    zoomed = view.zoom_factor()
    assert zoomed == pytest.approx(fitted * 1.25)
    view.resize(600, 500)
    qtbot.wait(10)
    assert view.zoom_factor() == pytest.approx(zoomed)  # the user's zoom is kept
    view.fit_to_window()
    view.resize(800, 700)
    qtbot.waitUntil(lambda: view.zoom_factor() > fitted * 1.5)  # fitted again on resize


def test_overlay_is_scaled_onto_the_film(view) -> None:
    overlay = np.zeros((224, 224, 4), np.uint8)
    overlay[..., 0] = overlay[..., 3] = 255
    view.set_overlay(overlay)
    image_rect = view.image_item.sceneBoundingRect()
    overlay_rect = view.overlay_item.sceneBoundingRect()
    assert (image_rect.width(), image_rect.height()) == (300, 500)
    for a, b in zip(overlay_rect.getCoords(), image_rect.getCoords(), strict=True):
        assert a == pytest.approx(b)
    assert view.is_overlay_visible()
    view.actual_size()
    view.zoom_by(3)  # zooming moves both together: they share the scene
    on_screen = view.mapFromScene(view.overlay_item.sceneBoundingRect()).boundingRect()
    assert on_screen == view.mapFromScene(view.image_item.sceneBoundingRect()).boundingRect()


def test_overlay_opacity_visibility_and_new_image_clears_it(view) -> None:
    view.set_overlay(np.full((224, 224, 4), 200, np.uint8))
    view.set_overlay_opacity(0.3)
    assert view.overlay_opacity() == pytest.approx(0.3)
    view.set_overlay_visible(False)
    assert not view.is_overlay_visible()
    view.set_overlay_visible(True)
    assert view.is_overlay_visible()
    view.set_image(gradient(64, 64))  # an overlay belongs to the image it was made for
    assert view.overlay() is None and not view.is_overlay_visible()
    with pytest.raises(ValueError):
        view.set_overlay(np.zeros((224, 224, 3), np.uint8))


def test_clear_and_bad_input(view) -> None:
    view.clear()
    assert not view.has_image() and view.displayed_pixels() is None
    with pytest.raises(ValueError):
        view.set_image(np.zeros((10, 10), np.float32))
