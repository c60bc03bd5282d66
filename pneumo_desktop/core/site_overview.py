"""Everything the app's Site calibration view shows, computed in one call off the GUI thread:
the site's labelled films (review marks from all scans, and a scored calibration folder), what
the default rule makes of them, the profile in use, and monitoring since calibration.

Qt-free: the view runs :func:`site_overview` in a worker and only draws what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .calibration import (
    DEFAULT_TARGET_SENSITIVITY,
    CalibrationError,
    LabelledScores,
    SiteCalibration,
    calibrate,
)
from .local_films import reviewed_films
from .monitoring import Baseline, MonitoringReport, monitor
from .site_changes import factory_point
from .site_profile import (
    ProfileChoice,
    SiteProfile,
    SiteProfileError,
    load_profile,
    profile_for_model,
)
from .store import ResultStore, model_sha256


@dataclass(frozen=True)
class ProfileState:
    """The site profile as the app sees it for one model."""

    choice: ProfileChoice | None  # None when the profile is damaged
    profile: SiteProfile | None  # the file's profile, for this model or not (its history)
    error: str | None = None  # why a damaged profile was not used
    for_another_model: bool = False  # a profile is there, calibrated for another model

    @property
    def in_use(self) -> bool:
        return self.choice is not None and self.choice.profile is not None

    @property
    def notice(self) -> str:
        """The line saying which threshold is in use and why."""
        return self.error if self.error else self.choice.notice


def profile_state(card, profile_path: Path | None = None) -> ProfileState:
    try:
        choice, profile = profile_for_model(card, profile_path), load_profile(profile_path)
    except SiteProfileError as error:
        return ProfileState(None, None, f"{error}; the factory threshold is in use")
    other = profile is not None and profile.model_sha256 != model_sha256(card)
    return ProfileState(choice, profile, None, other)


def without_duplicates(reviewed: LabelledScores, folder: LabelledScores) -> LabelledScores:
    """Both sources, a film in both counted once with the folder's label (sorted into
    NORMAL/PNEUMONIA on purpose). Films are matched by their resolved path."""
    in_folder = {str(Path(path).resolve()) for path in folder.paths}
    keep = [i for i, path in enumerate(reviewed.paths)
            if str(Path(path).resolve()) not in in_folder]
    kept = LabelledScores.of(reviewed.scores[keep], reviewed.labels[keep],
                             [reviewed.paths[i] for i in keep])
    return kept + folder


@dataclass(frozen=True)
class SiteOverview:
    reviewed: LabelledScores  # from the store's review marks
    folder: LabelledScores | None  # from a scored calibration folder, when one was given
    films: LabelledScores  # what calibration used: both, each film once
    calibration: SiteCalibration | None
    problem: str | None  # why there is no calibration (no films of a class, ...)
    state: ProfileState
    monitoring: MonitoringReport
    baseline: Baseline | None  # what monitoring compares with (the profile in use)

    @property
    def current_alert(self) -> str | None:
        """The alert of the latest week, when its share flagged left the calibration band:
        what the status bar shows (older weeks are in the view's table)."""
        weeks = self.monitoring.weekly
        return weeks[-1].alert() if weeks and weeks[-1].outside_band else None


def site_overview(db_path: Path, card, *, folder: LabelledScores | None = None,
                  target: float = DEFAULT_TARGET_SENSITIVITY,
                  profile_path: Path | None = None) -> SiteOverview:
    """Read the store (its own connection: call it on any one thread), calibrate and monitor.
    A calibration that cannot be made (a class missing) is reported in ``problem``."""
    with ResultStore(db_path) as store:
        dated = store.dated_results()
    sha = model_sha256(card)
    reviewed = reviewed_films(dated, sha)
    films = without_duplicates(reviewed, folder) if folder is not None else reviewed
    calibration, problem = None, None
    try:
        calibration = calibrate(films, factory_point(card), target)
    except CalibrationError as error:
        problem = str(error)
    state = profile_state(card, profile_path)
    baseline = Baseline.of_profile(state.choice.profile) if state.in_use else None
    return SiteOverview(reviewed, folder, films, calibration, problem, state,
                        monitor(dated, model_sha256=sha, baseline=baseline), baseline)


def class_counts(films: LabelledScores) -> tuple[int, int]:
    """(pneumonias, normals)."""
    return int(np.sum(films.labels == 1)), int(np.sum(films.labels == 0))
