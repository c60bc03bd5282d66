"""Changing the site's operating point: applying a calibration, or reverting to the factory
threshold. Each writes the site profile (:mod:`.site_profile`) and adds exactly one row to the
audit trail (:mod:`.audit`): who, when, the model, the threshold now in use and its source,
and the operating point before and after.

``pneumo-calibrate --apply`` and the app's Site calibration view both come here. Neither
touches a classifier: the caller puts the new point on it (the app does that on its inference
thread).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .audit import AuditAction, AuditTrail
from .calibration import SiteCalibration
from .identity import ModelIdentity
from .results import OperatingPoint, ThresholdSource
from .site_profile import (
    SiteProfile,
    SiteProfileError,
    load_profile,
    profile_for_model,
    revert_to_factory,
    save_calibration,
)

log = logging.getLogger(__name__)


def factory_point(card) -> OperatingPoint:
    """The model card's operating point."""
    return OperatingPoint(card.threshold, card.likely_threshold, ThresholdSource.FACTORY)


def point_in_use(card, profile_path: Path | None = None) -> OperatingPoint:
    """The point new verdicts of this model get: the profile's when it is for this model and
    active, else the card's (also when the profile is damaged)."""
    try:
        profile = profile_for_model(card, profile_path).profile
    except SiteProfileError:
        return factory_point(card)
    return profile.operating_point if profile is not None else factory_point(card)


def point_value(point: OperatingPoint) -> str:
    """An operating point as an audit row's old or new value."""
    return json.dumps({"threshold": point.threshold, "likely_threshold": point.likely_threshold,
                       "source": str(point.source)})


def _record(db_path: Path, action: AuditAction, card, old: OperatingPoint,
            new: OperatingPoint) -> None:
    with AuditTrail(db_path) as trail:
        trail.record(action, old_value=point_value(old), new_value=point_value(new),
                     model=ModelIdentity.from_card(card), threshold=new.threshold,
                     threshold_source=new.source)


def apply_calibration(calibration: SiteCalibration, card, *, db_path: Path,
                      profile_path: Path | None = None) -> SiteProfile:
    """Write ``calibration`` as the site's active profile and audit it; returns the profile.
    A damaged profile raises :class:`SiteProfileError` and nothing changes."""
    old = point_in_use(card, profile_path)
    profile = save_calibration(calibration, card, profile_path)
    _record(db_path, AuditAction.CALIBRATION, card, old, profile.operating_point)
    log.info("site calibration applied to %s: %s -> %s", profile.path, point_value(old),
             point_value(profile.operating_point))
    return profile


def revert(card, *, db_path: Path, profile_path: Path | None = None) -> SiteProfile | None:
    """Stop using the site threshold (the profile keeps its history) and audit it; None, with
    nothing changed or recorded, when no active profile is there to revert. A damaged
    profile raises :class:`SiteProfileError` and is left as it is."""
    existing = load_profile(profile_path)
    if existing is None or not existing.active:
        return None
    old = point_in_use(card, profile_path)
    profile = revert_to_factory(profile_path)
    _record(db_path, AuditAction.PROFILE_REVERT, card, old, factory_point(card))
    log.info("site profile %s reverted to the factory threshold", profile.path)
    return profile
