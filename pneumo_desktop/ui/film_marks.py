"""The reader's marks on the film view: ruler, arrow and text tools, drawn in the film's pixel
coordinates (so they follow zoom, pan, rotation and flip) and handed out as
:class:`~pneumo_desktop.core.annotations.Annotation` objects for the store.

With a tool chosen, a left-drag draws (a ruler or an arrow) or a click places a text, instead
of panning; Esc (the ``pan`` action) goes back to panning. Lines are cosmetic (the same screen
width at every zoom) and labels ignore the view's transform, so they stay readable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum

from PySide6.QtCore import QEvent, QLineF, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QInputDialog,
)

from pneumo_desktop.core.annotations import Annotation, AnnotationKind, measure
from pneumo_desktop.ui.image_view import ImageView

MARK_COLOUR = QColor("#5cff5c")  # green: no overlay uses it (warm = for, cool = against)
_MIN_DRAG = 4  # screen pixels: a shorter drag is a click, not a line


class Tool(StrEnum):
    PAN = "pan"
    RULER = "ruler"
    ARROW = "arrow"
    TEXT = "text"


def _pen() -> QPen:
    pen = QPen(MARK_COLOUR, 2)
    pen.setCosmetic(True)
    return pen


def _label(text: str, at: QPointF) -> QGraphicsSimpleTextItem:
    item = QGraphicsSimpleTextItem(text)
    item.setBrush(QBrush(MARK_COLOUR))
    item.setPen(QPen(QColor(0, 0, 0), 0.6))  # a dark edge: readable on white bone too
    font = item.font()
    font.setPointSize(11)
    font.setBold(True)
    item.setFont(font)
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
    item.setPos(at)
    item.setZValue(3)
    return item


def _arrow_path(tail: QPointF, head: QPointF) -> QPainterPath:
    path = QPainterPath(tail)
    path.lineTo(head)
    length = QLineF(tail, head).length()
    size = max(min(length * 0.25, 40.0), 4.0)
    angle = math.atan2(head.y() - tail.y(), head.x() - tail.x())
    for side in (+1, -1):
        wing = angle + math.pi - side * math.radians(25)
        path.moveTo(head)
        path.lineTo(head + QPointF(math.cos(wing) * size, math.sin(wing) * size))
    return path


class FilmMarks(QObject):
    """Marks over ``view``'s film; ``changed`` when the reader adds or removes one."""

    changed = Signal()
    toolChanged = Signal(str)  # noqa: N815 - Qt naming; a Tool

    def __init__(self, view: ImageView) -> None:
        super().__init__(view)
        self._view = view
        self._tool = Tool.PAN
        self._marks: list[tuple[Annotation, list[QGraphicsItem]]] = []
        self._spacing: tuple[float, float] | None = None
        self._spacing_source = ""
        self._start: QPointF | None = None
        self._drawing: QGraphicsItem | None = None
        #: Asks for a text mark's words; tests replace it to avoid a modal dialog.
        self.ask_text: Callable[[], str | None] = self._ask_text
        view.viewport().installEventFilter(self)

    @property
    def tool(self) -> Tool:
        return self._tool

    def set_tool(self, tool: Tool | str) -> None:
        self._tool = Tool(tool)
        panning = self._tool is Tool.PAN
        self._view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag if panning
                               else QGraphicsView.DragMode.NoDrag)
        if panning:
            self._view.viewport().unsetCursor()
        else:
            self._view.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self.toolChanged.emit(self._tool.value)

    def set_spacing(self, spacing: tuple[float, float] | None, source: str = "") -> None:
        """mm per film pixel (row, column) for rulers; None measures in pixels."""
        self._spacing, self._spacing_source = spacing, source
        marks = self.marks()
        self._remove_all()
        for mark in marks:
            self._add(mark)

    def marks(self) -> list[Annotation]:
        return [mark for mark, _ in self._marks]

    def set_marks(self, marks: list[Annotation]) -> None:
        """Show ``marks`` instead of the current ones (a film opened, its stored marks)."""
        self._remove_all()
        for mark in marks:
            self._add(mark)

    def add(self, mark: Annotation) -> None:
        """Add a mark as the reader would (``changed`` follows)."""
        self._add(mark)
        self.changed.emit()

    def undo_last(self) -> None:
        if self._marks:
            _, items = self._marks.pop()
            for item in items:
                self._view.scene().removeItem(item)
            self.changed.emit()

    def clear(self) -> None:
        """No marks (a new film); not a change by the reader."""
        self._remove_all()

    def measurement_text(self, mark: Annotation) -> str:
        return measure(*mark.points, self._spacing, self._spacing_source).text

    def _remove_all(self) -> None:
        for _, items in self._marks:
            for item in items:
                self._view.scene().removeItem(item)
        self._marks = []

    def _add(self, mark: Annotation) -> None:
        points = [QPointF(*point) for point in mark.points]
        items: list[QGraphicsItem] = []
        if mark.kind is AnnotationKind.RULER:
            line = QGraphicsLineItem(QLineF(*points))
            line.setPen(_pen())
            items = [line, _label(self.measurement_text(mark), points[1])]
        elif mark.kind is AnnotationKind.ARROW:
            arrow = QGraphicsPathItem(_arrow_path(*points))
            arrow.setPen(_pen())
            items = [arrow]
        else:
            items = [_label(mark.text, points[0])]
        for item in items:
            item.setZValue(max(item.zValue(), 2))
            self._view.scene().addItem(item)
        self._marks.append((mark, items))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if self._tool is Tool.PAN or not self._view.has_image():
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press(event.position().toPoint())
            return True
        if kind == QEvent.Type.MouseMove and self._start is not None:
            self._move(event.position().toPoint())
            return True
        if kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton \
                and self._start is not None:
            self._release(event.position().toPoint())
            return True
        return False

    def _press(self, position) -> None:
        point = self._view.film_point(position)
        if point is None:
            return
        if self._tool is Tool.TEXT:
            text = self.ask_text()
            if text:
                self.add(Annotation.label((point.x(), point.y()), text.strip()))
            return
        self._start = point
        self._drawing = QGraphicsLineItem(QLineF(point, point))
        self._drawing.setPen(_pen())
        self._view.scene().addItem(self._drawing)

    def _move(self, position) -> None:
        end = self._clamped(position)
        self._drawing.setLine(QLineF(self._start, end))

    def _release(self, position) -> None:
        start, end = self._start, self._clamped(position)
        self._view.scene().removeItem(self._drawing)
        self._start = self._drawing = None
        if (self._view.mapFromScene(end) - self._view.mapFromScene(start)).manhattanLength() \
                < _MIN_DRAG:
            return
        pair = ((start.x(), start.y()), (end.x(), end.y()))
        self.add(Annotation.ruler(*pair) if self._tool is Tool.RULER else Annotation.arrow(*pair))

    def _clamped(self, position) -> QPointF:
        point = self._view.mapToScene(position)
        rect = self._view.sceneRect()
        return QPointF(min(max(point.x(), rect.left()), rect.right()),
                       min(max(point.y(), rect.top()), rect.bottom()))

    def _ask_text(self) -> str | None:
        text, accepted = QInputDialog.getText(self._view, "Text on the film", "Text:")
        return text if accepted else None
