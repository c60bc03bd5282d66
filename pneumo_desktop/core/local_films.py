"""The site's labelled films, from its two sources.

* A calibration folder: the films sorted by a radiologist into ``NORMAL/`` and ``PNEUMONIA/``
  subfolders (any depth below them), scored with the classifier. An unreadable film, or one
  the model refuses as not a chest X-ray, is reported and skipped: it has no score.
* The worklist's review marks (:func:`reviewed_films`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .calibration import LabelledScores
from .monitoring import one_per_film
from .results import Status, Verdict
from .scan import list_images, scan_files


@dataclass(frozen=True)
class FolderFilm:
    """One file of a calibration folder: its score, or why it has none."""

    path: str
    label: Verdict
    probability: float | None
    message: str = ""

    @property
    def scored(self) -> bool:
        return self.probability is not None


def labelled_files(folder: Path) -> list[tuple[Path, Verdict]]:
    """Every image under ``folder/NORMAL`` and ``folder/PNEUMONIA`` (names matched without
    regard to case) with the label its subfolder gives; other subfolders are not looked at."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"folder not found: {folder}")
    found = []
    for child in sorted(folder.iterdir()):
        label = {v.value: v for v in Verdict}.get(child.name.upper())
        if label is not None and child.is_dir():
            found.extend((path, label) for path in list_images(child))
    return found


def score_labelled_files(
    files: list[tuple[Path, Verdict]],
    classifier,
    *,
    batch_size: int = 32,
    cancel: threading.Event | None = None,
) -> Iterator[FolderFilm]:
    """One :class:`FolderFilm` per file, in order; stops between batches when cancelled."""
    labels = {str(path): label for path, label in files}
    for result in scan_files(
        [path for path, _ in files], classifier, batch_size=batch_size, cancel=cancel
    ):
        label = labels[result.path]
        if result.status == Status.OK:
            yield FolderFilm(result.path, label, float(result.probability))
        else:
            yield FolderFilm(result.path, label, None, result.message or str(result.status))


def as_labelled_scores(films: list[FolderFilm]) -> LabelledScores:
    scored = [film for film in films if film.scored]
    return LabelledScores.of(
        [film.probability for film in scored],
        [int(film.label == Verdict.PNEUMONIA) for film in scored],
        [film.path for film in scored],
    )


def reviewed_films(dated, model_sha256: str) -> LabelledScores:
    """The store's reviewed films (:meth:`ResultStore.dated_results`) scored by this model,
    from all scans, each film once (:func:`~.monitoring.one_per_film`: the same path, size and
    mtime is one film) with its latest mark: another model's scores mean nothing at this
    model's threshold, and a film counted twice would make the rule over-confident."""
    return LabelledScores.from_reviews(
        item.result for item in one_per_film(
            item for item in dated if item.model_sha256 == model_sha256
        )
    )
