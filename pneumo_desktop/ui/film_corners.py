"""The four corners of the film, as on a PACS screen: who (top left), which study (top right),
which file (bottom left) and how it is shown (bottom right: zoom, window, orientation).

For a DICOM film: patient name, ID, age (or birth date) and sex; study date and time, modality,
view and description; the file with its size and pixel spacing. For other files (no patient
data in them): name, format, size in pixels and on disk.
"""

from __future__ import annotations

import os
from enum import Enum

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel

from pneumo_desktop.core.imaging import LoadedImage
from pneumo_desktop.ui.image_view import ImageView


class Corner(Enum):
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"


_MARGIN = 6
_STYLE = ("color: #f2f2c8; background: rgba(0, 0, 0, 150); padding: 2px 4px;"
          " font-size: 9pt; border-radius: 2px;")


def file_size_text(size: int | None) -> str:
    if size is None:
        return ""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def corner_texts(image: LoadedImage, file_size: int | None = None) -> dict[Corner, list[str]]:
    """The static corners' lines for ``image`` (the bottom right is :func:`display_text`)."""
    width, height = image.original_size
    name = os.path.basename(image.path or "")
    context = image.dicom
    if context is None:
        return {
            Corner.TOP_LEFT: [name, "No patient data: not a DICOM file"],
            Corner.TOP_RIGHT: [image.format, f"{width} × {height} px", file_size_text(file_size)],
            Corner.BOTTOM_LEFT: [],
        }
    age = context.age_text or (f"born {context.birth_date.isoformat()}"
                               if context.birth_date else "age unknown")
    when = context.study_date.isoformat() if context.study_date else "study date unknown"
    if context.study_time is not None:
        when += f" {context.study_time.strftime('%H:%M')}"
    spacing = ("no pixel spacing" if context.pixel_spacing is None else
               f"{context.pixel_spacing[1]:.3f} × {context.pixel_spacing[0]:.3f} mm/px "
               f"({context.pixel_spacing_source})")
    return {
        Corner.TOP_LEFT: [context.display_name or "name not given",
                          f"ID {context.patient_id}" if context.patient_id else "no patient ID",
                          " · ".join(part for part in (age, context.sex) if part)],
        Corner.TOP_RIGHT: [when, " · ".join(p for p in (context.modality,
                                                         context.view_position) if p),
                           context.study_description],
        Corner.BOTTOM_LEFT: [name, f"{width} × {height} px, DICOM, {file_size_text(file_size)}",
                             spacing],
    }


def display_text(zoom: float, level: float, width: float, inverted: bool,
                 orientation: tuple[int, bool]) -> list[str]:
    """The bottom-right corner: how the film is shown right now."""
    rotation, flipped = orientation
    lines = [f"Zoom {zoom * 100:.0f}%", f"C {level:.0f}  W {width:.0f}" + ("  inverted"
                                                                          if inverted else "")]
    turned = [f"rotated {rotation}°"] if rotation else []
    if flipped:
        turned.append("flipped")
    if turned:
        lines.append(", ".join(turned))
    return lines


class FilmCorners(QObject):
    """Four labels in the corners of ``view``'s viewport, kept there on resize; the bottom
    right follows the view's zoom, window and orientation."""

    def __init__(self, view: ImageView) -> None:
        super().__init__(view)
        self._view = view
        self.labels = {corner: QLabel(view.viewport()) for corner in Corner}
        for corner, label in self.labels.items():
            label.setObjectName(f"corner_{corner.value}")
            label.setStyleSheet(_STYLE)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            right = corner in (Corner.TOP_RIGHT, Corner.BOTTOM_RIGHT)
            label.setAlignment(Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft)
            label.hide()
        view.viewport().installEventFilter(self)
        for signal in (view.zoomChanged, view.windowLevelChanged, view.invertedChanged,
                       view.viewChanged):
            signal.connect(self._show_display)

    def text(self, corner: Corner) -> str:
        return self.labels[corner].text()

    def set_lines(self, corner: Corner, lines: list[str]) -> None:
        label = self.labels[corner]
        label.setText("\n".join(line for line in lines if line))
        label.setVisible(bool(label.text()))
        label.ensurePolished()  # its style's font and padding count in its size
        label.adjustSize()
        self._place(corner)

    def show_film(self, image: LoadedImage | None, file_size: int | None = None) -> None:
        """The static corners for ``image``; None empties all four."""
        texts = corner_texts(image, file_size) if image is not None else {}
        for corner in (Corner.TOP_LEFT, Corner.TOP_RIGHT, Corner.BOTTOM_LEFT):
            self.set_lines(corner, texts.get(corner, []))
        self._show_display()

    def _show_display(self, *_args) -> None:
        view = self._view
        lines = (display_text(view.zoom_factor(), *view.window_level(), view.is_inverted(),
                              view.orientation()) if view.has_image() else [])
        self.set_lines(Corner.BOTTOM_RIGHT, lines)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize:
            for corner in Corner:
                self._place(corner)
        return False

    def _place(self, corner: Corner) -> None:
        label, area = self.labels[corner], self._view.viewport().rect()
        x = _MARGIN if corner in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT) else \
            area.width() - label.width() - _MARGIN
        y = _MARGIN if corner in (Corner.TOP_LEFT, Corner.TOP_RIGHT) else \
            area.height() - label.height() - _MARGIN
        label.move(max(x, 0), max(y, 0))
