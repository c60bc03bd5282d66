"""The radiologist's marks on a film: rulers, arrows and text, kept with the review (no Qt).

Every point is in the film's own pixel coordinates (x right, y down, on the full-resolution
film the viewer shows), so rotating or flipping the display, zooming or a prior film beside it
never moves a mark off its anatomy. They are stored as JSON next to the review
(:class:`~pneumo_desktop.core.annotation_store.AnnotationStore`).

A ruler's length is in millimetres when the DICOM says how large a pixel is
(``PixelSpacing``, else ``ImagerPixelSpacing``: see :class:`~.dicom_context.DicomContext`),
and in pixels otherwise, said so, never guessed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum

from .dicom_context import DicomContext


class AnnotationKind(StrEnum):
    RULER = "ruler"  # a measured line between two points
    ARROW = "arrow"  # from its tail (first point) to its head (second point)
    TEXT = "text"  # a short text at one point


@dataclass(frozen=True)
class Annotation:
    kind: AnnotationKind
    points: tuple[tuple[float, float], ...]  # film pixels: two for a ruler or an arrow, one text
    text: str = ""

    def __post_init__(self) -> None:
        needed = 1 if self.kind is AnnotationKind.TEXT else 2
        if len(self.points) != needed:
            raise ValueError(f"a {self.kind} annotation takes {needed} point(s), "
                             f"not {len(self.points)}")

    @classmethod
    def ruler(cls, start, end) -> "Annotation":
        return cls(AnnotationKind.RULER, (_point(start), _point(end)))

    @classmethod
    def arrow(cls, tail, head) -> "Annotation":
        return cls(AnnotationKind.ARROW, (_point(tail), _point(head)))

    @classmethod
    def label(cls, at, text: str) -> "Annotation":
        return cls(AnnotationKind.TEXT, (_point(at),), text)


def _point(value) -> tuple[float, float]:
    x, y = value
    return float(x), float(y)


def to_json(annotations: list[Annotation] | tuple[Annotation, ...]) -> str:
    return json.dumps([{"kind": a.kind.value, "points": [list(p) for p in a.points],
                        "text": a.text} for a in annotations])


def from_json(text: str | None) -> list[Annotation]:
    """The annotations stored as ``text``; an entry that does not read is skipped (a stored
    mark must never stop a film from opening)."""
    if not text:
        return []
    try:
        entries = json.loads(text)
    except ValueError:
        return []
    out = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            points = tuple(_point(p) for p in entry["points"])
            kind, text = AnnotationKind(entry["kind"]), str(entry.get("text", ""))
            out.append(Annotation(kind, points, text))
        except (KeyError, TypeError, ValueError):
            continue
    return out


@dataclass(frozen=True)
class Length:
    """A measured distance: ``value`` in ``unit`` ("mm" or "px")."""

    value: float
    unit: str
    source: str = ""  # the DICOM attribute the spacing came from; "" in pixels

    @property
    def calibrated(self) -> bool:
        return self.unit == "mm"

    @property
    def text(self) -> str:
        if self.calibrated:
            return f"{self.value:.1f} mm"
        return f"{self.value:.0f} px (no pixel spacing: not in mm)"


def pixel_spacing(context: DicomContext | None, shown_shape: tuple[int, int],
                  original_size: tuple[int, int] | None = None) -> tuple[float, float] | None:
    """mm per shown pixel, (row, column), or None when the film does not say. A film shown
    smaller than it was stored (``original_size`` = (width, height)) has larger pixels."""
    if context is None or context.pixel_spacing is None:
        return None
    row, column = context.pixel_spacing
    if original_size is not None:
        width, height = original_size
        shown_height, shown_width = shown_shape
        row, column = row * height / shown_height, column * width / shown_width
    return row, column


def measure(start, end, spacing: tuple[float, float] | None, source: str = "") -> Length:
    """The length of the line ``start`` → ``end`` (film pixels, (x, y)) under ``spacing``
    (mm per pixel, (row, column)); in pixels without it."""
    (x0, y0), (x1, y1) = _point(start), _point(end)
    if spacing is None:
        return Length(math.hypot(x1 - x0, y1 - y0), "px")
    row, column = spacing
    return Length(math.hypot((x1 - x0) * column, (y1 - y0) * row), "mm", source)
