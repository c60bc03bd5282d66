"""Brightness and contrast for an :class:`ImageView`: display only, never the film's data.

Brightness moves the window level; contrast narrows the window (log scale: x4 at +100). A
right-drag on the view changes the same window, and the sliders follow it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from pneumo_desktop.ui.controls import push_button
from pneumo_desktop.ui.image_view import DEFAULT_LEVEL, DEFAULT_WIDTH, ImageView


class WindowLevelControls(QWidget):
    """Two sliders and Reset, in one row, for ``view``."""

    def __init__(self, view: ImageView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self.brightness_slider = QSlider(Qt.Orientation.Horizontal, minimum=-127, maximum=127)
        self.brightness_slider.setToolTip("Brightness (display only; also right-drag up/down)")
        self.contrast_slider = QSlider(Qt.Orientation.Horizontal, minimum=-100, maximum=100)
        self.contrast_slider.setToolTip("Contrast (display only; also right-drag left/right)")
        self.reset_button = push_button("Reset", self.reset, tip="Original brightness and "
                                        "contrast", keeps_focus_away=True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Brightness"))
        row.addWidget(self.brightness_slider, 1)
        row.addWidget(QLabel("Contrast"))
        row.addWidget(self.contrast_slider, 1)
        row.addWidget(self.reset_button)
        self.brightness_slider.valueChanged.connect(self._sliders_moved)
        self.contrast_slider.valueChanged.connect(self._sliders_moved)
        view.windowLevelChanged.connect(self._window_level_changed)

    def reset(self) -> None:
        """The film's own grey levels again."""
        self._view.reset_window_level()

    def _sliders_moved(self) -> None:
        level = DEFAULT_LEVEL - self.brightness_slider.value()
        width = DEFAULT_WIDTH * 4.0 ** (-self.contrast_slider.value() / 100)
        self._view.set_window_level(level, width)

    def _window_level_changed(self, level: float, width: float) -> None:
        # Mirror right-drag changes on the sliders without feeding them back to the view.
        for slider, value in (
            (self.brightness_slider, DEFAULT_LEVEL - level),
            (self.contrast_slider, -100 * math.log(width / DEFAULT_WIDTH, 4.0)),
        ):
            slider.blockSignals(True)
            slider.setValue(round(value))
            slider.blockSignals(False)
