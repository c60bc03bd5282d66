"""The patient's earlier film, beside the current one, with linked zoom and pan.

For a DICOM film with a PatientID, a worker looks through the films the reader is stepping
through (the worklist's or the folder's) for the same patient's most recent earlier study
(:class:`~pneumo_desktop.core.priors.PriorIndex`). When there is one, ``found`` says so and
:meth:`PriorPane.show_prior` decodes and shows it. The two views are linked by *relative*
zoom (to each film's fit) and centre (as fractions of each film), so films of different sizes
still show the same region; panning or zooming either one moves the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from pneumo_desktop.core.priors import PriorIndex, StudyOf
from pneumo_desktop.ui.film_corners import FilmCorners
from pneumo_desktop.ui.film_decode import Decoded, decode_job
from pneumo_desktop.ui.image_view import ImageView
from pneumo_desktop.ui.workers import FunctionWorker, JobTracker


class PriorPane(QWidget):
    """The earlier film's view and caption; hidden until asked for."""

    found = Signal(object)  # a StudyOf, or None: the current film has no earlier film here
    shown = Signal(str)  # the earlier film's path, once on screen

    def __init__(self, current: ImageView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._current = current
        self._index = PriorIndex()
        self._jobs = JobTracker()
        self._search = 0  # the number of the last search: older answers are dropped
        self._cancel = threading.Event()
        self._prior: StudyOf | None = None
        self._linking = False
        self.caption = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.caption.setObjectName("prior_caption")
        self.caption.setStyleSheet("font-weight: bold;")
        self.view = ImageView()
        self.view.setObjectName("prior_view")
        self.corners = FilmCorners(self.view)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.caption)
        column.addWidget(self.view, 1)
        current.viewChanged.connect(lambda: self._follow(current, self.view))
        self.view.viewChanged.connect(lambda: self._follow(self.view, current))
        self.hide()

    @property
    def prior(self) -> StudyOf | None:
        """The current film's earlier film, once found (None: none, or not looked for yet)."""
        return self._prior

    def look_for(self, current: StudyOf | None, candidates: Callable[[], list[str]]) -> None:
        """Start looking for ``current``'s earlier film among ``candidates()`` (called on the
        worker); None (a film without a patient) finds nothing at once."""
        self._search += 1
        self._cancel.set()  # the previous film's search stops at its next file
        self._cancel = threading.Event()
        self._prior = None
        self._jobs.drop_queued()
        self.view.clear()
        self.corners.show_film(None)
        self.caption.setText("No earlier film of this patient found here.")
        if current is None:
            self.found.emit(None)
            return
        search, cancel, index = self._search, self._cancel, self._index
        worker = FunctionWorker(lambda: index.earlier_film(current, candidates(), cancel))
        worker.signals.returned.connect(lambda study: self._on_found(search, study))
        self._jobs.start(worker)

    def show_prior(self) -> None:
        """Decode and show the earlier film (when one was found)."""
        if self._prior is None:
            return
        search, path = self._search, self._prior.path
        self.caption.setText(f"Earlier film: loading {Path(path).name}…")
        # The viewer's decode job, numbered by this pane's search (a later film's drops it).
        worker = FunctionWorker(decode_job, search, path)
        worker.signals.returned.connect(self._on_loaded)
        self._jobs.start(worker)

    def shutdown(self) -> None:
        self._cancel.set()
        self._jobs.shutdown()

    def _on_found(self, search: int, study: StudyOf | None) -> None:
        if search != self._search:
            return
        self._prior = study
        if study is not None:
            when = study.study_date.isoformat() if study.study_date else "?"
            self.caption.setText(f"Earlier film of this patient: {when}")
            if self.isVisible():
                self.show_prior()
        self.found.emit(study)

    def _on_loaded(self, decoded: Decoded) -> None:
        if decoded.request != self._search:
            return
        if decoded.image is None:
            self.caption.setText(decoded.error)
            return
        loaded = decoded.image
        self.view.set_image(loaded.pixels)
        self.corners.show_film(loaded)
        when = self._prior.study_date.isoformat() if self._prior.study_date else "?"
        self.caption.setText(f"Earlier film: {when} — {Path(loaded.path).name}")
        self._follow(self._current, self.view)
        self.shown.emit(loaded.path)

    def _follow(self, leader: ImageView, follower: ImageView) -> None:
        """Show on ``follower`` what ``leader`` shows (relative zoom, centre, orientation)."""
        if self._linking or not self.isVisible() or not (leader.has_image()
                                                         and follower.has_image()):
            return
        self._linking = True
        try:
            follower.set_view_state(*leader.view_state())
        finally:
            self._linking = False
