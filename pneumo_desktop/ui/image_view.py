"""A zoomable, pannable grayscale film view: window/level, invert, rotate/flip, one overlay.

* The film is a 2-D uint8 array. Window/level and invert only change the *display* (a
  256-entry lookup table applied to a copy); the array given is never modified, so what the
  model classifies and what the radiologist sees stay the same data.
* Rotation (90° steps) and the left-right flip are the view's transform, like the zoom: the
  scene keeps film pixel coordinates, so the overlay (Grad-CAM, LIME, computed at the model's
  224x224 and scaled onto the film's rect) and the reader's marks stay on their anatomy.
* Zoom is anchored: under the pointer for the wheel, about the view's centre for keys and
  buttons (1:1 included), so the part looked at stays in view.

Mouse: wheel zooms under the pointer, left-drag pans, right-drag sets window/level
(horizontal = window width/contrast, vertical = centre/brightness; drag up = brighter).
Keys (when the view has the focus): see :mod:`.shortcuts` (``+``/``-``, ``F``, ``1``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from pneumo_desktop.ui import shortcuts
from pneumo_desktop.ui.overlay_item import OverlayItem

#: Identity window: centre 127.5, width 255 maps 0..255 onto itself.
DEFAULT_LEVEL = 127.5
DEFAULT_WIDTH = 255.0
LEVEL_RANGE = (0.0, 255.0)
WIDTH_RANGE = (1.0, 1024.0)
ZOOM_STEP = 1.25
ZOOM_RANGE = (0.02, 40.0)
_WL_PER_PIXEL = 1.0  # grey levels per screen pixel of right-drag
_FIT_MARGIN = 2  # pixels left free around a fitted film


def window_lut(level: float, width: float, inverted: bool = False) -> np.ndarray:
    """The 256-entry display table of a window: ``level - width/2`` -> 0, ``+ width/2`` -> 255
    (the other way round when ``inverted``)."""
    low = level - width / 2.0
    values = (np.arange(256, dtype=np.float64) - low) * (255.0 / width)
    lut = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return 255 - lut if inverted else lut


def _qimage(buffer: np.ndarray, image_format: QImage.Format) -> QImage:
    height, width = buffer.shape[:2]
    return QImage(buffer.data, width, height, buffer.strides[0], image_format)


class ImageView(QGraphicsView):
    """Shows one grayscale film plus an optional RGBA overlay; see the module docstring."""

    windowLevelChanged = Signal(float, float)  # noqa: N815 - Qt naming; level, width
    invertedChanged = Signal(bool)  # noqa: N815 - Qt naming
    zoomChanged = Signal(float)  # noqa: N815 - Qt naming; 1.0 = one film pixel per screen pixel
    viewChanged = Signal()  # noqa: N815 - zoom, pan or orientation changed (for linked views)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._image_item = QGraphicsPixmapItem()
        self._image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay_item = OverlayItem()
        self.scene().addItem(self._image_item)
        self.scene().addItem(self._overlay_item)

        self._pixels: np.ndarray | None = None
        self._display: np.ndarray | None = None  # buffer behind the current QImage
        self._qimage: QImage | None = None
        self._level, self._width, self._inverted = DEFAULT_LEVEL, DEFAULT_WIDTH, False
        self._zoom, self._rotation, self._flipped = 1.0, 0, False
        self._user_zoomed = False  # once the user zooms, resizing no longer refits
        self._wl_drag_origin: QPoint | None = None
        self._wl_drag_start = (self._level, self._width)

        self.setObjectName("film_view")
        self.setBackgroundBrush(QColor(0, 0, 0))  # films are read on black
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # see _set_zoom
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # Redraw the whole viewport when panning instead of scrolling its pixels, which would
        # carry the widgets on it (corner labels, loupe) along with the film.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        for policy in (self.setHorizontalScrollBarPolicy, self.setVerticalScrollBarPolicy):
            policy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # a film, not a document: drag to pan
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # right = W/L
        self.setToolTip("Wheel or +/-: zoom · left-drag: pan · right-drag: window width "
                        "(left/right) and centre (up/down) · F: fit · 1: actual size")
        self.placeholder = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.placeholder.setStyleSheet("color: #c8c8c8; font-size: 13pt; background: transparent;")
        self.placeholder.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        placeholder_layout = QVBoxLayout(self.viewport())
        placeholder_layout.addWidget(self.placeholder)
        for name, slot in (("zoom_in", self.zoom_in), ("zoom_out", self.zoom_out),
                           ("fit", self.fit_to_window), ("actual_size", self.actual_size)):
            shortcuts.bind(self, name, slot, Qt.ShortcutContext.WidgetShortcut)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.valueChanged.connect(self.viewChanged)

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

    def set_placeholder(self, text: str) -> None:
        """What the empty view says (shown while there is no film)."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(self._pixels is None and bool(text))

    def set_image(self, pixels: np.ndarray | None, *, keep_window: bool = False) -> None:
        """Show a 2-D uint8 film (None clears). Resets zoom, orientation and the overlay (an
        overlay belongs to the image it was computed from), and the window and invert unless
        ``keep_window``."""
        if pixels is None:
            self.clear()
            return
        pixels = np.asarray(pixels)
        if pixels.ndim != 2 or pixels.dtype != np.uint8:
            raise ValueError(f"expected a 2-D uint8 image, got {pixels.dtype} {pixels.shape}")
        self._pixels = pixels
        self.placeholder.hide()
        self.set_overlay(None)
        if not keep_window:
            self._level, self._width, self._inverted = DEFAULT_LEVEL, DEFAULT_WIDTH, False
        self._render()
        height, width = pixels.shape
        self.setSceneRect(QRectF(0, 0, width, height))
        self._rotation, self._flipped = 0, False
        self.fit_to_window()
        self.windowLevelChanged.emit(self._level, self._width)
        self.invertedChanged.emit(self._inverted)

    def clear(self) -> None:
        self._pixels = self._display = self._qimage = None
        self.set_overlay(None)
        self._image_item.setPixmap(QPixmap())
        self.setSceneRect(QRectF())
        self._zoom, self._rotation, self._flipped = 1.0, 0, False
        self.resetTransform()
        self._user_zoomed = False
        self.placeholder.setVisible(bool(self.placeholder.text()))

    def displayed_pixels(self) -> np.ndarray | None:
        """The grey values on screen (after window/level and invert), same shape as
        :attr:`pixels`."""
        return self._display

    def _render(self) -> None:
        if self._pixels is None:
            return
        if (self._level, self._width, self._inverted) == (DEFAULT_LEVEL, DEFAULT_WIDTH, False):
            display = np.ascontiguousarray(self._pixels)  # identity: no copy needed
        else:
            display = window_lut(self._level, self._width, self._inverted)[self._pixels]
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

    def is_inverted(self) -> bool:
        return self._inverted

    def set_inverted(self, inverted: bool) -> None:
        if bool(inverted) != self._inverted:
            self._inverted = bool(inverted)
            self._render()
            self.invertedChanged.emit(self._inverted)

    # ------------------------------------------------------------------ orientation

    def orientation(self) -> tuple[int, bool]:
        """(clockwise rotation in degrees: 0, 90, 180 or 270; flipped left-right)."""
        return self._rotation, self._flipped

    def rotate_by(self, degrees: int) -> None:
        """Rotate the display by a multiple of 90° (clockwise positive); refits the film."""
        self._rotation = (self._rotation + int(degrees) // 90 * 90) % 360
        self.fit_to_window()

    def flip(self) -> None:
        self._flipped = not self._flipped
        self._apply_transform()

    # ------------------------------------------------------------------ zoom and pan

    def zoom_factor(self) -> float:
        return self._zoom

    def fit_zoom(self) -> float:
        """The zoom at which the whole (rotated) film fits the viewport."""
        if self._pixels is None:
            return 1.0
        height, width = self._pixels.shape
        if self._rotation in (90, 270):
            width, height = height, width
        area = self.viewport().rect().adjusted(_FIT_MARGIN, _FIT_MARGIN, -_FIT_MARGIN,
                                               -_FIT_MARGIN)
        if area.width() <= 0 or area.height() <= 0:
            return self._zoom
        return min(area.width() / width, area.height() / height)

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom by ``factor`` keeping the film point under ``anchor`` (a viewport position;
        default the view's centre) where it is."""
        self._user_zoomed = True
        self._set_zoom(self._zoom * factor, anchor)

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def fit_to_window(self) -> None:
        """Whole film visible and centred; stays fitted on resize until the user zooms."""
        self._user_zoomed = False
        if self._pixels is None:
            self.zoomChanged.emit(self._zoom)
            return
        self._set_zoom(self.fit_zoom())
        self.centerOn(self._image_item.sceneBoundingRect().center())

    def actual_size(self) -> None:
        """One film pixel per screen pixel (ignoring the display's scaling), about the film
        point at the view's centre."""
        self._user_zoomed = True
        self._set_zoom(1.0)

    def film_centre(self) -> QPointF:
        """The film point (scene coordinates) at the view's centre."""
        return self.mapToScene(self.viewport().rect().center())

    def view_state(self) -> tuple[float, float, float]:
        """(zoom relative to fit, centre x and y as fractions of the film): how another film
        of another size can be shown the same way (:meth:`set_view_state`)."""
        if self._pixels is None:
            return 1.0, 0.5, 0.5
        height, width = self._pixels.shape
        centre = self.film_centre()
        return self._zoom / self.fit_zoom(), centre.x() / width, centre.y() / height

    def set_view_state(self, relative_zoom: float, x: float, y: float) -> None:
        if self._pixels is None:
            return
        height, width = self._pixels.shape
        self._user_zoomed = abs(relative_zoom - 1.0) > 1e-6
        self._set_zoom(self.fit_zoom() * relative_zoom)
        self.centerOn(QPointF(x * width, y * height))

    def _set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        fixed = self.mapToScene(anchor)
        self._zoom = float(np.clip(zoom, *ZOOM_RANGE))
        self._apply_transform()
        moved = self.mapFromScene(fixed) - anchor
        for bar, delta in ((self.horizontalScrollBar(), moved.x()),
                           (self.verticalScrollBar(), moved.y())):
            bar.setValue(bar.value() + delta)
        self.zoomChanged.emit(self._zoom)

    def _apply_transform(self) -> None:
        orientation = QTransform().rotate(self._rotation)
        flip = QTransform.fromScale(-1.0 if self._flipped else 1.0, 1.0)
        self.setTransform(orientation * flip * QTransform.fromScale(self._zoom, self._zoom))
        self.viewChanged.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if not self._user_zoomed:
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() / 120.0  # one notch = 120; touchpads send fractions
        if self._pixels is None or steps == 0:
            event.ignore()
            return
        self.zoom_by(ZOOM_STEP**steps, event.position().toPoint())
        event.accept()

    def film_point(self, viewport_position: QPoint) -> QPointF | None:
        """The film pixel (x, y) under a viewport position; None off the film."""
        if self._pixels is None:
            return None
        point = self.mapToScene(viewport_position)
        return point if self.sceneRect().contains(point) else None

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
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # ------------------------------------------------------------------ overlay

    def overlay(self) -> np.ndarray | None:
        return self._overlay_item.rgba

    def set_overlay(self, rgba: np.ndarray | None, *, smooth: bool = True) -> None:
        """Show an ``(h, w, 4)`` uint8 RGBA overlay stretched over the whole film (None
        clears); see :class:`OverlayItem`."""
        shape = None if self._pixels is None else self._pixels.shape
        self._overlay_item.set_rgba(rgba, shape, smooth)

    def set_overlay_opacity(self, opacity: float) -> None:
        self._overlay_item.setOpacity(float(np.clip(opacity, 0.0, 1.0)))

    def overlay_opacity(self) -> float:
        return self._overlay_item.opacity()

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_item.switch(visible)

    def is_overlay_visible(self) -> bool:
        """True when an overlay is set and shown."""
        return self._overlay_item.isVisible()
