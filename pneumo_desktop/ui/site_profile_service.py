"""The app's one owner of the site's operating point: which threshold new verdicts get, and
changing it (apply a calibration, revert to factory).

* At load, :func:`use_profile_at_load` puts the user's profile on the classifier on the
  inference thread, before any verdict is made (a profile for another model, or a damaged one,
  leaves the factory threshold, and says so).
* :meth:`SiteProfileService.apply` and :meth:`SiteProfileService.revert` write the profile and
  its audit row (:mod:`pneumo_desktop.core.site_changes`), then replace the classifier's
  operating point as a job on the inference thread, so every verdict made after it (viewer,
  scans) carries the new threshold and its source, and none is made half-way.
* ``changed`` carries the :class:`ProfileState` once the classifier has the new point (and
  after :meth:`refresh`); ``failed`` a message when the profile could not be changed.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from pneumo_desktop.core.inference import Priority
from pneumo_desktop.core.results import OperatingPoint
from pneumo_desktop.core.site_changes import apply_calibration, factory_point, revert
from pneumo_desktop.core.site_overview import ProfileState, profile_state
from pneumo_desktop.core.site_profile import SiteProfileError, use_site_profile
from pneumo_desktop.ui.inference_service import InferenceService, Request

log = logging.getLogger(__name__)


def use_profile_at_load(classifier, profile_path: Path | None = None) -> None:
    """Runs on the inference thread as the model loads: the user's site profile, when it is
    for this model and active, sets the classifier's operating point."""
    try:
        log.info("%s", use_site_profile(classifier, profile_path).notice)
    except SiteProfileError as error:
        log.warning("%s; the factory threshold is in use", error)


def _put_point(classifier, point: OperatingPoint) -> OperatingPoint:
    """A job for the inference thread: between two model calls, never during one."""
    classifier.operating_point = point
    return point


class SiteProfileService(QObject):
    changed = Signal(object)  # ProfileState
    failed = Signal(str)

    def __init__(self, inference: InferenceService, db_path: Path,
                 profile_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._inference, self._db_path, self._profile_path = inference, Path(db_path), profile_path
        self._state: ProfileState | None = None
        inference.classifierReady.connect(self.refresh)

    @property
    def profile_path(self) -> Path | None:
        """The profile file (None: the user's default)."""
        return self._profile_path

    @property
    def state(self) -> ProfileState | None:
        """The profile as last read (None before the model is loaded)."""
        return self._state

    @property
    def operating_point(self) -> OperatingPoint | None:
        """The point new verdicts get (None before the model is loaded)."""
        classifier = self._inference.classifier
        return None if classifier is None else classifier.operating_point

    def refresh(self, *_args) -> ProfileState | None:
        """Read the profile again (it is small) and announce it."""
        classifier = self._inference.classifier
        if classifier is None:
            return None
        self._state = profile_state(classifier.card, self._profile_path)
        self.changed.emit(self._state)
        return self._state

    def apply(self, calibration) -> Request | None:
        """Write ``calibration`` as the site profile (audited), then use its point."""
        card = self._card()
        if card is None:
            return None
        try:
            profile = apply_calibration(calibration, card, db_path=self._db_path,
                                        profile_path=self._profile_path)
        except (SiteProfileError, OSError, sqlite3.Error) as error:
            return self._fail(f"The site threshold was not applied: {error}")
        return self._put(profile.operating_point)

    def revert(self) -> Request | None:
        """Go back to the card's threshold (audited); the profile keeps its history."""
        card = self._card()
        if card is None:
            return None
        try:
            reverted = revert(card, db_path=self._db_path, profile_path=self._profile_path)
        except (SiteProfileError, OSError, sqlite3.Error) as error:
            return self._fail(f"The site profile was not reverted: {error}")
        if reverted is None:
            return self._fail("There is no site threshold in use to revert.")
        return self._put(factory_point(card))

    def _card(self):
        classifier = self._inference.classifier
        if classifier is None:
            self._fail("The model is still loading.")
            return None
        return classifier.card

    def _fail(self, message: str) -> None:
        log.error("%s", message)
        self.failed.emit(message)
        return None

    def _put(self, point: OperatingPoint) -> Request:
        request = self._inference.submit(_put_point, point, priority=Priority.INTERACTIVE)
        request.returned.connect(self.refresh)
        request.errored.connect(lambda error: self._fail(f"The threshold was not changed: "
                                                         f"{error}"))
        return request
