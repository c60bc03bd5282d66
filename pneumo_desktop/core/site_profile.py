"""The site profile: a clinic's calibrated operating point, kept as JSON.

It lives in the user's data directory (``PNEUMO_SITE_PROFILE`` overrides the place) or in a
file the user names. It holds the thresholds, the rule and its target, the counts and metrics
it rests on, the date, the share of films flagged at calibration (monitoring's baseline) and
the history of every calibration and revert, and the calibration films' scores and labels
(so that review marks can later be added to them without the folder).

A profile is bound to the model file's sha256: scores of another model version mean nothing
at this threshold, so a profile for another model is ignored with a notice (recalibrate for
each model version). A damaged profile is never used and never overwritten. "Revert to
factory" (:func:`revert_to_factory`) keeps the file and its history and marks it inactive.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .calibration import (
    BOUND_CONFIDENCE,
    LIKELY_MIN_SPECIFICITY,
    LabelledScores,
    SiteCalibration,
)
from .results import OperatingPoint, ThresholdSource
from .store import model_sha256

PROFILE_VERSION = 1
PROFILE_FILE_NAME = "site_profile.json"

RULE_TEXT = (
    "keep the factory threshold until the site has enough confirmed pneumonias for the "
    "one-sided {confidence:.0%} Clopper-Pearson lower bound of sensitivity to reach "
    "{target:g}; then the highest threshold at which that bound stays >= {target:g}; a "
    "confirmed pneumonia below the threshold lowers it at once"
)
LIKELY_RULE_TEXT = (
    "the card's until the site has enough reviewed normals; then the lowest threshold at which "
    "the one-sided {confidence:.0%} lower bound of specificity is >= {specificity:g}, never "
    "below the operating threshold"
)


class SiteProfileError(Exception):
    """The profile file is unreadable or damaged; nothing was used or changed."""


def default_profile_path() -> Path:
    override = os.environ.get("PNEUMO_SITE_PROFILE")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("pneumo_desktop", appauthor=False)) / PROFILE_FILE_NAME


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SiteProfile:
    path: Path
    data: dict

    @property
    def model_sha256(self) -> str:
        return self.data["model"]["sha256"]

    @property
    def model_label(self) -> str:
        model = self.data["model"]
        return f"{model.get('name', '?')} {model.get('version', '?')} ({self.model_sha256[:12]}…)"

    @property
    def active(self) -> bool:
        return bool(self.data["active"])

    @property
    def calibrated(self) -> str:
        return self.data["calibrated"]

    @property
    def history(self) -> list[dict]:
        return list(self.data["history"])

    @property
    def operating_point(self) -> OperatingPoint:
        return OperatingPoint(
            float(self.data["threshold"]["value"]),
            float(self.data["likely_threshold"]["value"]),
            ThresholdSource.SITE,
        )

    @property
    def calibration_films(self) -> LabelledScores:
        """The scores and labels calibration used (no paths: file names may name patients),
        so that later review marks can be added to them."""
        scores = self.data.get("scores", {})
        pneumonia, normal = scores.get("pneumonia", []), scores.get("normal", [])
        return LabelledScores.of(pneumonia + normal, [1] * len(pneumonia) + [0] * len(normal))

    @property
    def calibration_flagged(self) -> tuple[int, int]:
        """Films flagged at the site threshold, and films, at calibration."""
        flagged = self.data["flagged"]
        return int(flagged["flagged"]), int(flagged["films"])


def _check(path: Path, data) -> None:
    """Raise :class:`SiteProfileError` naming the first field that is missing or wrong."""
    checks = (
        ("profile_version", lambda d: d["profile_version"] == PROFILE_VERSION),
        ("model.sha256", lambda d: isinstance(d["model"]["sha256"], str)),
        ("active", lambda d: isinstance(d["active"], bool)),
        ("calibrated", lambda d: isinstance(d["calibrated"], str)),
        ("threshold.value", lambda d: 0.0 <= float(d["threshold"]["value"]) <= 1.0),
        # Above 1 is allowed: no film is "likely" (set just above a normal scoring 1.0).
        ("likely_threshold.value", lambda d: 0.0 <= float(d["likely_threshold"]["value"]) < 2.0),
        ("flagged", lambda d: int(d["flagged"]["flagged"]) <= int(d["flagged"]["films"])),
        ("history", lambda d: isinstance(d["history"], list)),
    )
    for field, ok in checks:
        try:
            valid = ok(data)
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise SiteProfileError(
                f"site profile {path} is damaged ({field} is missing or wrong) and was not "
                "used; recalibrate with pneumo-calibrate --apply, or delete the file"
            )


def load_profile(path: Path | None = None) -> SiteProfile | None:
    """The profile at ``path`` (default: the user's), None when there is none."""
    path = Path(path) if path else default_profile_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SiteProfileError(f"site profile {path} cannot be read: {error}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise SiteProfileError(
            f"site profile {path} is not valid JSON ({error}) and was not used; recalibrate "
            "with pneumo-calibrate --apply, or delete the file"
        ) from None
    _check(path, data)
    return SiteProfile(path, data)


@dataclass(frozen=True)
class ProfileChoice:
    """The profile that applies to a model (None: the factory threshold) and the one line
    that tells the user which threshold is in use and why."""

    profile: SiteProfile | None
    notice: str


def profile_for_model(card, path: Path | None = None) -> ProfileChoice:
    """The profile at ``path`` (default: the user's) if it is for this model and active.

    Raises :class:`SiteProfileError` for a damaged profile."""
    profile = load_profile(path)
    factory = f"factory threshold {card.threshold:.4f}"
    if profile is None:
        return ProfileChoice(None, f"no site profile; {factory}")
    if profile.model_sha256 != model_sha256(card):
        return ProfileChoice(
            None,
            f"site profile {profile.path} was calibrated for model {profile.model_label}, not "
            f"this one ({card.name} {card.version}): ignored, {factory}; recalibrate for each "
            "model version",
        )
    if not profile.active:
        return ProfileChoice(None, f"site profile {profile.path} is reverted to factory; {factory}")
    point = profile.operating_point
    counts = profile.data["counts"]
    return ProfileChoice(
        profile,
        f"site threshold {point.threshold:.4f} (likely {point.likely_threshold:.4f}) from "
        f"{profile.path}, calibrated {profile.calibrated} on {counts['pneumonia']} pneumonia "
        f"and {counts['normal']} normal films",
    )


def use_site_profile(classifier, path: Path | None = None) -> ProfileChoice:
    """Put the matching profile's operating point on ``classifier`` (its public
    ``operating_point``, which every later prediction uses); otherwise leave it alone."""
    choice = profile_for_model(classifier.card, path)
    if choice.profile is not None:
        classifier.operating_point = choice.profile.operating_point
    return choice


def _write(path: Path, data: dict) -> None:
    """Temp file in the same folder, flushed to disk, then renamed over the profile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_calibration(
    calibration: SiteCalibration, card, path: Path | None = None
) -> SiteProfile:
    """Write ``calibration`` as the active profile, keeping the history of the one there.
    A damaged existing profile raises :class:`SiteProfileError` and is left as it is."""
    path = Path(path) if path else default_profile_path()
    existing = load_profile(path)
    point, films = calibration.proposed, calibration.films
    counts = {
        "pneumonia": int(films.pneumonia_scores.size),
        "normal": int(films.normal_scores.size),
        "pneumonias_needed": calibration.pneumonias_needed,
        "normals_needed": calibration.normals_needed,
    }
    metrics = calibration.at_proposed
    now = _now()
    data = {
        "profile_version": PROFILE_VERSION,
        "model": {"name": card.name, "version": card.version, "sha256": model_sha256(card)},
        "active": True,
        "calibrated": now,
        "threshold": {
            "value": point.threshold,
            "source": ThresholdSource.SITE.value,
            "outcome": calibration.outcome.value,
            "target_sensitivity": calibration.target_sensitivity,
            "rule": RULE_TEXT.format(
                confidence=BOUND_CONFIDENCE, target=calibration.target_sensitivity
            ),
        },
        "likely_threshold": {
            "value": point.likely_threshold,
            "rule": LIKELY_RULE_TEXT.format(
                confidence=BOUND_CONFIDENCE, specificity=LIKELY_MIN_SPECIFICITY
            ),
        },
        "factory": {
            "threshold": calibration.factory.threshold,
            "likely_threshold": calibration.factory.likely_threshold,
        },
        "counts": counts,
        "metrics": {
            "auc": calibration.auc,
            "sensitivity": [metrics.sensitivity.successes, metrics.sensitivity.trials],
            "specificity": [metrics.specificity.successes, metrics.specificity.trials],
        },
        "flagged": {"flagged": metrics.flagged.successes, "films": metrics.flagged.trials},
        "scores": {
            "pneumonia": films.pneumonia_scores.tolist(), "normal": films.normal_scores.tolist(),
        },
        "history": (existing.history if existing else [])
        + [
            {
                "date": now, "action": "calibrated", "model_sha256": model_sha256(card),
                "threshold": point.threshold, "likely_threshold": point.likely_threshold,
                **{key: counts[key] for key in ("pneumonia", "normal")},
            }
        ],
    }
    _write(path, data)
    return SiteProfile(path, data)


def revert_to_factory(path: Path | None = None) -> SiteProfile | None:
    """Stop using the site threshold: the profile stays (with its history), inactive.
    None when there is no profile to revert."""
    path = Path(path) if path else default_profile_path()
    existing = load_profile(path)
    if existing is None:
        return None
    data = dict(existing.data, active=False)
    data["history"] = existing.history + [
        {"date": _now(), "action": "reverted", "model_sha256": existing.model_sha256}
    ]
    _write(path, data)
    return SiteProfile(path, data)
