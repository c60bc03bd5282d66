"""A preview of the film selected in the worklist, so no mark is made on a film nobody saw.

The film is decoded and shrunk on a worker (a full-size DICOM takes a moment), then shown
scaled to the pane; paging quickly through the worklist drops the decodes of films already
left behind, and the last few previews are kept so stepping back is immediate. The verdict,
the patient and any notice are written under the picture.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from pneumo_desktop.core.grouping import patient_text, study_text
from pneumo_desktop.core.imaging import ImageLoadError, load_image
from pneumo_desktop.core.results import Reason, Status, StoredResult
from pneumo_desktop.ui.results_model import subtype_text, threshold_text, verdict_text
from pneumo_desktop.ui.workers import FunctionWorker, JobTracker

PREVIEW_PIXELS = 640  # the longest side a preview is decoded to: sharp in a side pane
_CACHED = 8  # previews kept for stepping back


@dataclass(frozen=True)
class _Decoded:
    path: str
    pixels: np.ndarray | None  # 2-D uint8, at most PREVIEW_PIXELS on its longest side
    error: str = ""


def decode_preview(path: str) -> _Decoded:
    """Runs on a worker: the film, shrunk to :data:`PREVIEW_PIXELS` (or why it can't be)."""
    try:
        image = load_image(path, min_side=PREVIEW_PIXELS // 2)
    except (ImageLoadError, MemoryError) as error:
        return _Decoded(path, None, str(error) or "not enough memory")
    picture = Image.fromarray(image.pixels)
    picture.thumbnail((PREVIEW_PIXELS, PREVIEW_PIXELS), Image.Resampling.LANCZOS)
    return _Decoded(path, np.ascontiguousarray(np.asarray(picture)))


class FilmPreview(QWidget):
    """Shows :meth:`show_result`'s film and what the worklist says about it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="film_preview")
        self._path: str | None = None
        self._pixmap: QPixmap | None = None
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._jobs = JobTracker()
        self.picture = QLabel("No film selected", self, objectName="preview_picture",
                              alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(QSize(160, 160))
        self.picture.setStyleSheet("background: #111; color: #bbb;")
        self.caption = QLabel(self, objectName="preview_caption", wordWrap=True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)

    @property
    def shown_path(self) -> str | None:
        """The film whose picture is on screen (None while loading or with none)."""
        return self._path if self._pixmap is not None else None

    def show_result(self, result: StoredResult | None) -> None:
        self.caption.setText(_caption(result) if result is not None else "")
        path = result.path if result is not None else None
        if path == self._path and (self._pixmap is not None or path is None):
            return
        self._path, self._pixmap = path, None
        self._jobs.drop_queued()  # films stepped past need no decode
        if path is None:
            self.picture.clear()
            self.picture.setText("No film selected")
        elif path in self._cache:
            self._cache.move_to_end(path)
            self._set_pixmap(self._cache[path])
        else:
            self.picture.clear()
            self.picture.setText(f"Loading {os.path.basename(path)}…")
            worker = FunctionWorker(decode_preview, path)
            worker.signals.returned.connect(self._on_decoded)
            self._jobs.start(worker)

    def shutdown(self) -> None:
        self._jobs.shutdown()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._pixmap is not None:
            self._set_pixmap(self._pixmap)

    def _on_decoded(self, decoded: _Decoded) -> None:
        if decoded.pixels is None:
            if decoded.path == self._path:
                self.picture.setText(decoded.error)
            return
        height, width = decoded.pixels.shape
        image = QImage(decoded.pixels.data, width, height, decoded.pixels.strides[0],
                       QImage.Format.Format_Grayscale8)
        pixmap = QPixmap.fromImage(image)  # a copy: the numpy buffer may go
        self._cache[decoded.path] = pixmap
        while len(self._cache) > _CACHED:
            self._cache.popitem(last=False)
        if decoded.path == self._path:
            self._set_pixmap(pixmap)

    def _set_pixmap(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self.picture.setPixmap(pixmap.scaled(self.picture.size(),
                                             Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))


def _caption(result: StoredResult) -> str:
    lines = [os.path.basename(result.path)]
    if result.status is Status.OK:
        probability = "" if result.probability is None else f"P = {result.probability:.3f} · "
        lines.append(f"{verdict_text(result)} · {probability}threshold {threshold_text(result)}")
        if result.subtype is not None:
            lines.append(subtype_text(result, first_word=True))
    else:
        lines.append(result.message or str(result.status))
    for text in (patient_text(result), study_text(result)):
        if text:
            lines.append(text)
    if result.reason is Reason.OUTSIDE_INTENDED_AGE:
        lines.append(f"⚠ {result.message}")
    return "\n".join(lines)
