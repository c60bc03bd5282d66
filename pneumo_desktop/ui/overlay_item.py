"""The film view's colour overlay (Grad-CAM, LIME): an RGBA picture at the model's size,
stretched over the film's scene rect, so zoom, pan and rotation keep it on its anatomy."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem


class OverlayItem(QGraphicsPixmapItem):
    """One RGBA overlay above the film; hidden while there is none or it is switched off."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(1)  # always above the film
        self.setVisible(False)
        self._rgba: np.ndarray | None = None
        self._qimage: QImage | None = None  # QImage does not own numpy memory: keep both
        self._switched_on = True

    @property
    def rgba(self) -> np.ndarray | None:
        return self._rgba

    def set_rgba(self, rgba: np.ndarray | None, film_shape: tuple[int, int] | None,
                 smooth: bool = True) -> None:
        """Show ``rgba`` (``(h, w, 4)`` uint8) over a film of ``film_shape`` (rows, columns);
        None clears. ``smooth=False`` keeps hard edges (superpixel outlines) when enlarged."""
        if rgba is None:
            self._rgba = self._qimage = None
            self.setPixmap(QPixmap())
            self.setVisible(False)
            return
        rgba = np.ascontiguousarray(rgba)
        if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
            raise ValueError(f"expected (h, w, 4) uint8 RGBA, got {rgba.dtype} {rgba.shape}")
        height, width = rgba.shape[:2]
        self._rgba = rgba
        self._qimage = QImage(rgba.data, width, height, rgba.strides[0],
                              QImage.Format.Format_RGBA8888)
        self.setPixmap(QPixmap.fromImage(self._qimage))
        mode = Qt.TransformationMode
        self.setTransformationMode(mode.SmoothTransformation if smooth
                                   else mode.FastTransformation)
        if film_shape is not None:
            film_h, film_w = film_shape
            self.setTransform(QTransform.fromScale(film_w / width, film_h / height))
        self.setVisible(self._switched_on and film_shape is not None)

    def switch(self, on: bool) -> None:
        """The user's "Show overlay": kept across overlays and films."""
        self._switched_on = bool(on)
        self.setVisible(self._switched_on and self._rgba is not None)
