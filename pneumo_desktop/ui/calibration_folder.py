"""The optional second source of labelled films: a folder the radiologist sorted into
``NORMAL/`` and ``PNEUMONIA/``, scored through the inference owner in a worker, with progress
and Cancel. An unreadable film, or one the model refuses, is listed and skipped."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QGroupBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from pneumo_desktop.core.calibration import LabelledScores
from pneumo_desktop.core.inference import Priority, SerialClassifier
from pneumo_desktop.core.local_films import (
    FolderFilm,
    as_labelled_scores,
    labelled_files,
    score_labelled_files,
)
from pneumo_desktop.ui.controls import push_button, row
from pneumo_desktop.ui.inference_service import InferenceService
from pneumo_desktop.ui.workers import GeneratorWorker

NO_FOLDER = "No calibration folder: the review marks alone are used."


def _score_folder(cancel: threading.Event, *, folder: Path,
                  classifier: SerialClassifier) -> Iterator[tuple[int, int, FolderFilm | None]]:
    """(done, total, film) per film; first (0, total, None) once the folder is listed."""
    files = labelled_files(folder)
    yield 0, len(files), None
    for done, film in enumerate(score_labelled_files(files, classifier, cancel=cancel), 1):
        yield done, len(files), film


class CalibrationFolderBox(QGroupBox):
    """Emits ``scored`` with the folder's labelled scores once every film is scored."""

    scored = Signal(object)  # LabelledScores
    cleared = Signal()

    def __init__(self, inference: InferenceService, parent: QWidget | None = None) -> None:
        super().__init__("Calibration folder (optional): NORMAL/ and PNEUMONIA/ subfolders",
                         parent)
        self._inference = inference
        self._worker: GeneratorWorker | None = None
        self._films: list[FolderFilm] = []
        self._folder: Path | None = None
        self._failed = False
        self.scores: LabelledScores | None = None
        self.choose_button = push_button("Score a folder…", self.choose, parent=self,
                                         name="choose_folder_button")
        self.cancel_button = push_button("Cancel", self.cancel, parent=self,
                                         name="cancel_folder_button")
        self.clear_button = push_button("Do not use it", self.clear, parent=self,
                                        name="clear_folder_button")
        self.progress_bar = QProgressBar(self, objectName="folder_progress")
        self.status_label = QLabel(NO_FOLDER, self, objectName="folder_status")
        self.status_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(row(self.choose_button, self.cancel_button, self.clear_button,
                             self.progress_bar))
        layout.addWidget(self.status_label)
        self._update_actions()

    @property
    def is_scoring(self) -> bool:
        return self._worker is not None

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder with NORMAL and PNEUMONIA subfolders", str(Path.home()))
        if folder:
            self.score(Path(folder))

    def score(self, folder: Path) -> bool:
        """Score every film under ``folder``/NORMAL and /PNEUMONIA in the background."""
        if self.is_scoring or not self._inference.is_ready:
            return False
        self._folder, self._films, self._failed = Path(folder), [], False
        worker = GeneratorWorker(partial(
            _score_folder, folder=self._folder,
            classifier=self._inference.client(Priority.BACKGROUND)))
        worker.signals.yielded.connect(self._on_film)
        worker.signals.errored.connect(self._on_error)
        worker.signals.finished.connect(self._on_finished)
        self._worker = worker
        self.status_label.setText(f"Listing {self._folder}…")
        self.progress_bar.setRange(0, 0)
        worker.start()
        self._update_actions()
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.abort()

    def clear(self) -> None:
        self.scores, self._films, self._folder = None, [], None
        self.status_label.setText(NO_FOLDER)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.reset()
        self._update_actions()
        self.cleared.emit()

    def shutdown(self, timeout: float = 30.0) -> bool:
        worker, self._worker = self._worker, None
        if worker is None:
            return True
        worker.abort()
        return worker.join(timeout)

    def _on_film(self, item: tuple[int, int, FolderFilm | None]) -> None:
        done, total, film = item
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done} / {total} films")
        if film is not None:
            self._films.append(film)

    def _on_error(self, error: BaseException) -> None:
        self.status_label.setText(f"The folder could not be scored: {error}")
        self._films, self._failed = [], True

    def _on_finished(self) -> None:
        worker, self._worker = self._worker, None
        self.progress_bar.setRange(0, 1)
        self._update_actions()
        if worker is None or self._folder is None:
            return
        if worker.abort_requested:
            self.status_label.setText("Scoring cancelled: the folder is not used.")
            return
        if self._failed:
            return
        if not self._films:
            self.status_label.setText(
                f"No films under {self._folder}/NORMAL or {self._folder}/PNEUMONIA.")
            return
        self.scores = as_labelled_scores(self._films)
        self.status_label.setText(self._summary())
        self.scored.emit(self.scores)

    def _summary(self) -> str:
        skipped = [film for film in self._films if not film.scored]
        pneumonia = int(self.scores.labels.sum())
        text = (f"{self._folder}: {len(self.scores.scores)} films scored ({pneumonia} pneumonia, "
                f"{len(self.scores.scores) - pneumonia} normal)")
        if skipped:
            names = "; ".join(f"{os.path.basename(f.path)}: {f.message}" for f in skipped[:5])
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            text += f"; {len(skipped)} skipped ({names}{more})"
        return text + "."

    def _update_actions(self) -> None:
        scoring = self.is_scoring
        self.choose_button.setEnabled(not scoring)
        self.cancel_button.setEnabled(scoring)
        self.clear_button.setEnabled(not scoring and self.scores is not None)
        self.progress_bar.setVisible(scoring)
