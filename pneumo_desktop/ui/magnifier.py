"""A loupe over the film view: a square that follows the mouse and shows what is under it
enlarged (the scene re-drawn at the higher zoom, film, overlay and marks alike, not a blown-up
screen grab), switched on and off with a key or a button."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QGraphicsView, QWidget

LOUPE_SIZE = 220  # pixels on screen
MAGNIFICATION = 3.0  # times the view's current zoom


class Magnifier(QWidget):
    """The loupe, a child of ``view``'s viewport; hidden until :meth:`set_active`."""

    toggled = Signal(bool)

    def __init__(self, view: QGraphicsView) -> None:
        super().__init__(view.viewport())
        self._view = view
        self._centre = QPoint()
        self._active = False
        self.setObjectName("magnifier")
        self.setFixedSize(LOUPE_SIZE, LOUPE_SIZE)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()
        view.viewport().installEventFilter(self)

    @property
    def active(self) -> bool:
        return self._active

    @property
    def centre(self) -> QPoint:
        """The viewport position magnified (the mouse's, last seen)."""
        return QPoint(self._centre)

    def set_active(self, active: bool) -> None:
        if bool(active) == self._active:
            return
        self._active = bool(active)
        if self._active:
            self._view.viewport().setMouseTracking(True)  # moves without a button held
            position = self._view.viewport().mapFromGlobal(self.cursor().pos())
            inside = self._view.viewport().rect().contains(position)
            self.move_to(position if inside else self._view.viewport().rect().center())
        self.setVisible(self._active)
        self.toggled.emit(self._active)

    def toggle(self) -> None:
        self.set_active(not self._active)

    def move_to(self, position: QPoint) -> None:
        """Magnify around ``position`` (viewport coordinates); the loupe sits beside it so the
        pointer itself stays visible."""
        self._centre = QPoint(position)
        area = self._view.viewport().rect()
        x = position.x() + 24 if position.x() + 24 + LOUPE_SIZE <= area.width() \
            else position.x() - 24 - LOUPE_SIZE
        y = min(max(position.y() - LOUPE_SIZE // 2, 0), max(area.height() - LOUPE_SIZE, 0))
        self.move(max(x, 0), y)
        self.update()

    def source_rect(self) -> QRect:
        """The viewport area shown enlarged."""
        side = round(LOUPE_SIZE / MAGNIFICATION)
        return QRect(self._centre.x() - side // 2, self._centre.y() - side // 2, side, side)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if self._active and event.type() == QEvent.Type.MouseMove:
            self.move_to(event.position().toPoint())
        return False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self._view.render(painter, QRectF(self.rect()), self.source_rect())
        painter.setPen(QPen(QColor("#f2f2c8"), 2))
        painter.drawRect(self.rect().adjusted(1, 1, -1, -1))
        painter.end()
