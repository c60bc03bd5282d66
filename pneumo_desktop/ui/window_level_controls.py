"""Window/level in numbers for an :class:`ImageView`: centre and width, presets, invert.
Display only, never the film's data.

The films reach the viewer as 8-bit display values (a DICOM's own VOI window is applied when
it is decoded), so the presets are windows over 0..255, not Hounsfield or detector units:
they are starting points that stretch the dark (lung), bright (bone) or middle (soft tissue)
part of the grey scale, chosen by eye on the bundled test films.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from pneumo_desktop.ui import shortcuts
from pneumo_desktop.ui.controls import push_button
from pneumo_desktop.ui.image_view import (
    DEFAULT_LEVEL,
    DEFAULT_WIDTH,
    LEVEL_RANGE,
    WIDTH_RANGE,
    ImageView,
)


@dataclass(frozen=True)
class WindowPreset:
    name: str
    centre: float
    width: float


PRESETS = (
    WindowPreset("Default", DEFAULT_LEVEL, DEFAULT_WIDTH),
    WindowPreset("Lung", 85.0, 170.0),  # 0..170 over the full grey scale: lung markings
    WindowPreset("Bone", 175.0, 160.0),  # 95..255: ribs, clavicles, spine
    WindowPreset("Soft tissue", 135.0, 110.0),  # 80..190: heart borders, mediastinum
)
CUSTOM = "Custom"


class WindowLevelControls(QWidget):
    """Centre and width spin boxes, a preset list, Invert and Reset, in one row, for ``view``."""

    def __init__(self, view: ImageView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self.centre_spin = QSpinBox(minimum=int(LEVEL_RANGE[0]), maximum=int(LEVEL_RANGE[1]))
        self.centre_spin.setToolTip("Window centre (level), display grey values 0–255; "
                                    "also right-drag up/down")
        self.width_spin = QSpinBox(minimum=int(WIDTH_RANGE[0]), maximum=int(WIDTH_RANGE[1]))
        self.width_spin.setToolTip("Window width (contrast: narrower = more contrast); "
                                   "also right-drag left/right")
        self.preset_combo = QComboBox()
        self.preset_combo.addItems([preset.name for preset in PRESETS] + [CUSTOM])
        self.preset_combo.setToolTip(shortcuts.tip("window_preset", "Window presets"))
        self.invert_check = QCheckBox("Invert")
        self.invert_check.setToolTip(shortcuts.tip("invert"))
        self.reset_button = push_button("Reset", self.reset, tip=shortcuts.tip("window_reset"),
                                        keeps_focus_away=True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (QLabel("Window: centre"), self.centre_spin, QLabel("width"),
                       self.width_spin, self.preset_combo, self.invert_check, self.reset_button):
            row.addWidget(widget)
        row.addStretch(1)  # numbers keep their size; the row's room goes to the right
        for spin in (self.centre_spin, self.width_spin):
            # Enter: the film's keys work again. Not editingFinished: it also fires when the
            # spin box loses the focus, and took it back from the note just clicked into.
            spin.lineEdit().returnPressed.connect(view.setFocus)
        self.centre_spin.valueChanged.connect(self._numbers_changed)
        self.width_spin.valueChanged.connect(self._numbers_changed)
        self.preset_combo.activated.connect(self._preset_chosen)
        self.invert_check.toggled.connect(view.set_inverted)
        view.windowLevelChanged.connect(self._window_level_changed)
        view.invertedChanged.connect(self._inverted_changed)
        self._window_level_changed(*view.window_level())

    def reset(self) -> None:
        """The film's own grey levels again, not inverted."""
        self._view.reset_window_level()
        self._view.set_inverted(False)

    def apply_preset(self, name: str) -> None:
        preset = next(p for p in PRESETS if p.name == name)
        self._view.set_window_level(preset.centre, preset.width)

    def next_preset(self) -> None:
        """The preset after the current one (Default after Custom)."""
        index = self.preset_combo.currentIndex()
        following = PRESETS[(index + 1) % len(PRESETS)] if index < len(PRESETS) else PRESETS[0]
        self.apply_preset(following.name)

    def toggle_invert(self) -> None:
        self._view.set_inverted(not self._view.is_inverted())

    def _preset_chosen(self, index: int) -> None:
        if index < len(PRESETS):
            self.apply_preset(PRESETS[index].name)

    def _numbers_changed(self) -> None:
        self._view.set_window_level(self.centre_spin.value(), self.width_spin.value())

    def _window_level_changed(self, level: float, width: float) -> None:
        # Mirror changes made on the view (right-drag, presets, keys) without feeding back.
        for spin, value in ((self.centre_spin, level), (self.width_spin, width)):
            spin.blockSignals(True)
            spin.setValue(round(value))
            spin.blockSignals(False)
        name = next((p.name for p in PRESETS if (p.centre, p.width) == (level, width)), CUSTOM)
        self.preset_combo.setCurrentText(name)

    def _inverted_changed(self, inverted: bool) -> None:
        self.invert_check.blockSignals(True)
        self.invert_check.setChecked(inverted)
        self.invert_check.blockSignals(False)
