"""The site's local ROC curve, drawn with QPainter (crisp at any size, no plotting backend),
with the factory and site operating points marked on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP, MARGIN_RIGHT = 52, 44, 14, 14
CURVE = QColor(20, 90, 180)
GRID = QColor(215, 215, 215)


@dataclass(frozen=True)
class Marker:
    """An operating point on the curve: its name, 1 - specificity and sensitivity."""

    label: str
    false_positive_rate: float
    sensitivity: float
    colour: QColor


class RocPlot(QWidget):
    """Empty until :meth:`set_curve`; says why when :meth:`clear` gives a reason."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("roc_plot")
        self.setMinimumSize(300, 280)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._fpr = self._tpr = np.zeros(0)
        self._auc: float | None = None
        self._markers: list[Marker] = []
        self._empty_text = "No labelled films yet"

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(380, 340)

    @property
    def markers(self) -> list[Marker]:
        return list(self._markers)

    @property
    def has_curve(self) -> bool:
        return self._fpr.size > 0

    def set_curve(self, fpr, tpr, auc: float, markers: list[Marker]) -> None:
        self._fpr, self._tpr = np.asarray(fpr, float), np.asarray(tpr, float)
        self._auc, self._markers = float(auc), list(markers)
        self.update()

    def clear(self, reason: str) -> None:
        self._fpr = self._tpr = np.zeros(0)
        self._auc, self._markers, self._empty_text = None, [], reason
        self.update()

    # Drawing -----------------------------------------------------------------------------
    def _plot_area(self) -> QRectF:
        width = self.width() - MARGIN_LEFT - MARGIN_RIGHT
        height = self.height() - MARGIN_TOP - MARGIN_BOTTOM
        side = max(min(width, height), 10)
        return QRectF(MARGIN_LEFT, MARGIN_TOP, side, side)

    def _to_screen(self, area: QRectF, x: float, y: float) -> QPointF:
        return QPointF(area.left() + x * area.width(), area.bottom() - y * area.height())

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        area = self._plot_area()
        self._draw_axes(painter, area)
        if not self.has_curve:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._empty_text)
            return
        path = QPainterPath(self._to_screen(area, self._fpr[0], self._tpr[0]))
        for x, y in zip(self._fpr[1:], self._tpr[1:], strict=True):
            path.lineTo(self._to_screen(area, x, y))
        painter.setPen(QPen(CURVE, 2))
        painter.drawPath(path)
        painter.setPen(self.palette().text().color())
        painter.drawText(area.adjusted(0, 0, -6, -6),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                         f"AUC {self._auc:.3f}")
        self._draw_markers(painter, area)

    def _draw_axes(self, painter: QPainter, area: QRectF) -> None:
        text = self.palette().text().color()
        for tick in np.linspace(0, 1, 6):
            painter.setPen(QPen(GRID, 1, Qt.PenStyle.DotLine))
            painter.drawLine(self._to_screen(area, tick, 0), self._to_screen(area, tick, 1))
            painter.drawLine(self._to_screen(area, 0, tick), self._to_screen(area, 1, tick))
            painter.setPen(text)
            below = self._to_screen(area, tick, 0)
            painter.drawText(QRectF(below.x() - 20, below.y() + 2, 40, 16),
                             Qt.AlignmentFlag.AlignHCenter, f"{tick:.1f}")
            left = self._to_screen(area, 0, tick)
            painter.drawText(QRectF(left.x() - 34, left.y() - 8, 30, 16),
                             Qt.AlignmentFlag.AlignRight, f"{tick:.1f}")
        painter.setPen(QPen(GRID, 1, Qt.PenStyle.DashLine))
        painter.drawLine(self._to_screen(area, 0, 0), self._to_screen(area, 1, 1))
        painter.setPen(QPen(text, 1))
        painter.drawRect(area)
        painter.drawText(QRectF(area.left(), area.bottom() + 20, area.width(), 18),
                         Qt.AlignmentFlag.AlignHCenter, "1 − specificity (normals flagged)")
        painter.save()
        painter.translate(14, area.center().y())
        painter.rotate(-90)
        painter.drawText(QRectF(-area.height() / 2, -8, area.height(), 18),
                         Qt.AlignmentFlag.AlignHCenter, "sensitivity")
        painter.restore()

    def _draw_markers(self, painter: QPainter, area: QRectF) -> None:
        """Each operating point as a dot on the curve, named in a legend above the AUC (the
        plot's empty lower right): names written beside two close dots would overlap, or seem
        to belong to the other one."""
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for index, marker in enumerate(self._markers):
            centre = self._to_screen(area, marker.false_positive_rate, marker.sensitivity)
            painter.setPen(QPen(marker.colour.darker(140), 2))
            painter.setBrush(marker.colour)
            painter.drawEllipse(centre, 6, 6)
            baseline = area.bottom() - 6 - metrics.height() * (len(self._markers) - index + 0.3)
            left = area.right() - 6 - metrics.horizontalAdvance(marker.label)
            painter.drawEllipse(QPointF(left - 10, baseline - metrics.ascent() / 3), 5, 5)
            painter.setPen(marker.colour.darker(160))
            painter.drawText(QPointF(left, baseline), marker.label)
