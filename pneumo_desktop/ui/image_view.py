"""A zoomable, pannable grayscale film view with window/level and one colour overlay.

* The film is a 2-D uint8 array. Window/level only changes the *display* (a 256-entry lookup
  table applied to a copy); the array given is never modified, so what the model classifies
  and what the radiologist sees stay the same data.
* The overlay (Grad-CAM, LIME) is computed at the model's size (224x224) and lives in the same
  scene as the film, scaled onto the film's scene rect, so zoom and pan keep it aligned.

Mouse: wheel zooms under the pointer, left-drag pans, right-drag sets window/level
(horizontal = window width/contrast, vertical = level/brightness; drag up = brighter).
Keys: ``+``/``-`` zoom, ``F`` fit to window, ``1`` actual size (one film pixel per screen pixel).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

#: Identity window: level 127.5, width 255 maps 0..255 onto itself.
DEFAULT_LEVEL = 127.5
DEFAULT_WIDTH = 255.0
LEVEL_RANGE = (0.0, 255.0)
WIDTH_RANGE = (1.0, 1024.0)
ZOOM_STEP = 1.25
ZOOM_RANGE = (0.02, 40.0)
_WL_PER_PIXEL = 1.0  # grey levels per screen pixel of right-drag


def window_lut(level: float, width: float) -> np.ndarray:
    """The 256-entry display table of a window: ``level - width/2`` -> 0, ``+ width/2`` -> 255."""
    low = level - width / 2.0
    values = (np.arange(256, dtype=np.float64) - low) * (255.0 / width)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _qimage(buffer: np.ndarray, image_format: QImage.Format) -> QImage:
    height, width = buffer.shape[:2]
    return QImage(buffer.data, width, height, buffer.strides[0], image_format)


class ImageView(QGraphicsView):
    """Shows one grayscale film plus an optional RGBA overlay; see the module docstring."""

    windowLevelChanged = Signal(float, float)  # noqa: N815 - Qt naming; level, width
    zoomChanged = Signal(float)  # noqa: N815 - Qt naming; 1.0 = one film pixel per screen pixel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._image_item = QGraphicsPixmapItem()
        self._image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay_item = QGraphicsPixmapItem()
        self._overlay_item.setZValue(1)  # always above the film
        self._overlay_item.setVisible(False)
        self.scene().addItem(self._image_item)
        self.scene().addItem(self._overlay_item)

        self._pixels: np.ndarray | None = None
        self._display: np.ndarray | None = None  # buffer behind the current QImage
        self._qimage: QImage | None = None
        self._overlay: np.ndarray | None = None
        self._overlay_qimage: QImage | None = None
        self._overlay_visible = True
        self._level, self._width = DEFAULT_LEVEL, DEFAULT_WIDTH
        self._user_zoomed = False  # once the user zooms, resizing no longer refits
        self._wl_drag_origin: QPoint | None = None
        self._wl_drag_start = (self._level, self._width)

        self.setBackgroundBrush(QColor(0, 0, 0))  # films are read on black
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # right = W/L
        self.setToolTip(
            "Wheel or +/-: zoom · left-drag: pan · right-drag: contrast (left/right) and "
            "brightness (up/down) · F: fit · 1: actual size"
        )

    # ------------------------------------------------------------------ image

    @property
    def image_item(self) -> QGraphicsPixmapItem:
        return self._image_item

    @property
    def overlay_item(self) -> QGraphicsPixmapItem:
        return self._overlay_item

    @property
    def pixels(self) -> np.ndarray | None:
        """The array given to :meth:`set_image`, untouched by window/level."""
        return self._pixels

    def has_image(self) -> bool:
        return self._pixels is not None

    def set_image(self, pixels: np.ndarray | None) -> None:
        """Show a 2-D uint8 film (None clears). Resets window/level, zoom and the overlay: an
        overlay belongs to the image it was computed from."""
        if pixels is None:
            self.clear()
            return
        pixels = np.asarray(pixels)
        if pixels.ndim != 2 or pixels.dtype != np.uint8:
            raise ValueError(f"expected a 2-D uint8 image, got {pixels.dtype} {pixels.shape}")
        self._pixels = pixels
        self.set_overlay(None)
        self._level, self._width = DEFAULT_LEVEL, DEFAULT_WIDTH
        self._render()
        height, width = pixels.shape
        self.setSceneRect(QRectF(0, 0, width, height))
        self.fit_to_window()
        self.windowLevelChanged.emit(self._level, self._width)

    def clear(self) -> None:
        self._pixels = self._display = self._qimage = None
        self.set_overlay(None)
        self._image_item.setPixmap(QPixmap())
        self.setSceneRect(QRectF())
        self.resetTransform()
        self._user_zoomed = False

    def displayed_pixels(self) -> np.ndarray | None:
        """The grey values on screen (after window/level), same shape as :attr:`pixels`."""
        return self._display

    def _render(self) -> None:
        if self._pixels is None:
            return
        if (self._level, self._width) == (DEFAULT_LEVEL, DEFAULT_WIDTH):
            display = np.ascontiguousarray(self._pixels)  # identity: no copy needed
        else:
            display = window_lut(self._level, self._width)[self._pixels]
        # QImage does not own numpy memory: keep the buffer alive as long as the QImage.
        self._display = display
        self._qimage = _qimage(display, QImage.Format.Format_Grayscale8)
        self._image_item.setPixmap(QPixmap.fromImage(self._qimage))

    # ------------------------------------------------------------------ window / level

    def window_level(self) -> tuple[float, float]:
        return self._level, self._width

    def set_window_level(self, level: float, width: float) -> None:
        """Display window centred on ``level`` (0..255) spanning ``width`` grey levels."""
        level = float(np.clip(level, *LEVEL_RANGE))
        width = float(np.clip(width, *WIDTH_RANGE))
        if (level, width) == (self._level, self._width):
            return
        self._level, self._width = level, width
        self._render()
        self.windowLevelChanged.emit(level, width)

    def reset_window_level(self) -> None:
        self.set_window_level(DEFAULT_LEVEL, DEFAULT_WIDTH)

    # ------------------------------------------------------------------ zoom

    def zoom_factor(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        current = self.zoom_factor()
        target = float(np.clip(current * factor, *ZOOM_RANGE))
        if current > 0 and target != current:
            self.scale(target / current, target / current)
            self._user_zoomed = True
            self.zoomChanged.emit(self.zoom_factor())

    def zoom_in(self) -> None:
        self._zoom_about_centre(ZOOM_STEP)

    def zoom_out(self) -> None:
        self._zoom_about_centre(1 / ZOOM_STEP)

    def _zoom_about_centre(self, factor: float) -> None:
        # Keys and buttons have no meaningful pointer position: zoom about the view centre.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        try:
            self.zoom_by(factor)
        finally:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)

    def fit_to_window(self) -> None:
        """Whole film visible; stays fitted on resize until the user zooms."""
        self._user_zoomed = False
        if self._pixels is not None:
            self.fitInView(self._image_item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoomChanged.emit(self.zoom_factor())

    def actual_size(self) -> None:
        """One film pixel per screen pixel (ignoring the display's scaling)."""
        centre = self.mapToScene(self.viewport().rect().center())
        self.setTransform(QTransform())
        self.centerOn(centre)
        self._user_zoomed = True
        self.zoomChanged.emit(1.0)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if not self._user_zoomed:
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() / 120.0  # one notch = 120; touchpads send fractions
        if self._pixels is None or steps == 0:
            event.ignore()
            return
        self.zoom_by(ZOOM_STEP**steps)  # anchored under the mouse (transformationAnchor)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):  # '=' is '+' without Shift
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_out()
        elif key == Qt.Key.Key_F:
            self.fit_to_window()
        elif key == Qt.Key.Key_1:
            self.actual_size()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    # ------------------------------------------------------------------ right-drag W/L

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.RightButton and self._pixels is not None:
            self._wl_drag_origin = event.position().toPoint()
            self._wl_drag_start = (self._level, self._width)
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._wl_drag_origin is not None:
            delta = event.position().toPoint() - self._wl_drag_origin
            level, width = self._wl_drag_start
            # Right widens the window (less contrast); up lowers the level (brighter).
            self.set_window_level(
                level + delta.y() * _WL_PER_PIXEL, width + delta.x() * _WL_PER_PIXEL
            )
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.RightButton and self._wl_drag_origin is not None:
            self._wl_drag_origin = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)  # ScrollHandDrag's own
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # ------------------------------------------------------------------ overlay

    def overlay(self) -> np.ndarray | None:
        return self._overlay

    def set_overlay(self, rgba: np.ndarray | None, *, smooth: bool = True) -> None:
        """Show an ``(h, w, 4)`` uint8 RGBA overlay stretched over the whole film (None clears).

        ``smooth=False`` keeps hard edges (e.g. superpixel boundaries) when scaled up.
        """
        if rgba is None:
            self._overlay = self._overlay_qimage = None
            self._overlay_item.setPixmap(QPixmap())
            self._overlay_item.setVisible(False)
            return
        rgba = np.ascontiguousarray(rgba)
        if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
            raise ValueError(f"expected (h, w, 4) uint8 RGBA, got {rgba.dtype} {rgba.shape}")
        self._overlay = rgba
        self._overlay_qimage = _qimage(rgba, QImage.Format.Format_RGBA8888)
        self._overlay_item.setPixmap(QPixmap.fromImage(self._overlay_qimage))
        mode = Qt.TransformationMode
        self._overlay_item.setTransformationMode(
            mode.SmoothTransformation if smooth else mode.FastTransformation
        )
        self._align_overlay()
        self._overlay_item.setVisible(self._overlay_visible and self._pixels is not None)

    def _align_overlay(self) -> None:
        # Same scene rect as the film: scale the model-sized overlay onto it.
        if self._overlay is None or self._pixels is None:
            return
        overlay_h, overlay_w = self._overlay.shape[:2]
        image_h, image_w = self._pixels.shape
        self._overlay_item.setPos(self._image_item.pos())
        self._overlay_item.setTransform(
            QTransform.fromScale(image_w / overlay_w, image_h / overlay_h)
        )

    def set_overlay_opacity(self, opacity: float) -> None:
        self._overlay_item.setOpacity(float(np.clip(opacity, 0.0, 1.0)))

    def overlay_opacity(self) -> float:
        return self._overlay_item.opacity()

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = bool(visible)
        self._overlay_item.setVisible(self._overlay_visible and self._overlay is not None)

    def is_overlay_visible(self) -> bool:
        """True when an overlay is set and shown."""
        return self._overlay_item.isVisible()
