"""Site calibration: the clinic's own labelled films set its operating threshold.

Every clinic is a new acquisition site, and a threshold chosen on the training hospital's
validation films does not carry over (issue 10). As WHO advises for CAD in TB screening, the
threshold is calibrated on the local population:

* **Default rule** (:func:`cp_rule_threshold`). Keep the factory (card) threshold until the site
  has enough confirmed pneumonias; then set the highest threshold at which the one-sided 95%
  Clopper–Pearson lower bound of local sensitivity stays >= the target (0.98 by default, never
  below 0.95). "Enough" is the smallest count whose bound can reach the target at all, with
  every pneumonia caught (149 at 0.98). Before that, a confirmed pneumonia scoring below the
  factory threshold lowers the threshold at once, to just below its score.
* **The upper ("likely") threshold** (:func:`likely_rule_threshold`). The card's until the site
  has enough reviewed normals for the same kind of bound on specificity (59 for 0.95); then the
  lowest threshold at which the one-sided 95% lower bound of local specificity is >= 0.95,
  never below the operating threshold. A "Pneumonia likely" call then rests on normals of this
  site, not of the training hospital.

Labelled films come from review marks (:meth:`LabelledScores.from_reviews`) or from a folder
with ``NORMAL/`` and ``PNEUMONIA/`` subfolders (:mod:`.local_films`).

``training/sitecal.py`` holds a deliberate second copy of the default rule (the app and the
training package share no code); ``tests/test_calibration_parity.py`` keeps the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .results import OperatingPoint, Status, ThresholdSource, Verdict

DEFAULT_TARGET_SENSITIVITY = 0.98
MIN_TARGET_SENSITIVITY = 0.95
BOUND_CONFIDENCE = 0.95  # one-sided, for the rules; metrics carry two-sided 95% intervals
LIKELY_MIN_SPECIFICITY = 0.95
# A threshold set at a film's score sits this far below it: the score is recomputed at scan
# time in another batch, and float32 results differ in the last digits between batches.
SCORE_MARGIN = 1e-6


class CalibrationError(Exception):
    """The labelled films cannot calibrate (a class is missing, or a setting is out of range)."""


class RuleOutcome(StrEnum):
    """What the default rule did."""

    KEPT_FACTORY = "kept_factory"  # too few confirmed pneumonias, none below the factory one
    LOWERED = "lowered"  # too few to calibrate, and a confirmed pneumonia scored below
    CALIBRATED = "calibrated"  # enough pneumonias: the bound sets the threshold


def lower_bound(successes: int, trials: int, confidence: float = BOUND_CONFIDENCE) -> float:
    """One-sided exact (Clopper–Pearson) lower confidence bound of a binomial proportion."""
    from scipy.stats import binomtest

    if trials == 0:
        return 0.0
    test = binomtest(successes, trials, alternative="greater")
    return float(test.proportion_ci(confidence_level=confidence, method="exact").low)


def films_needed(target: float, confidence: float = BOUND_CONFIDENCE) -> int:
    """The fewest films whose lower bound reaches ``target`` when all are right (149 at 0.98,
    59 at 0.95): (1 - confidence) ** (1 / n) >= target."""
    needed = math.ceil(math.log(1.0 - confidence) / math.log(target))
    while needed > 1 and lower_bound(needed - 1, needed - 1, confidence) >= target:
        needed -= 1
    while lower_bound(needed, needed, confidence) < target:
        needed += 1
    return needed


def check_target(target: float) -> float:
    if not MIN_TARGET_SENSITIVITY <= target < 1.0:
        raise CalibrationError(
            f"target sensitivity {target} is out of range: it must be at least "
            f"{MIN_TARGET_SENSITIVITY} and below 1"
        )
    return float(target)


def _most_wrong_allowed(total: int, target: float) -> int:
    """The most films that may be wrong among ``total`` with the lower bound still >= target
    (assumes the bound holds with none wrong)."""
    wrong = 0
    while wrong + 1 <= total and lower_bound(total - wrong - 1, total) >= target:
        wrong += 1
    return wrong


def _just_below(score: float) -> float:
    return max(float(score) - SCORE_MARGIN, 0.0)


def cp_rule_threshold(
    pneumonia_scores, factory_threshold: float, target: float = DEFAULT_TARGET_SENSITIVITY
) -> tuple[float, RuleOutcome]:
    """The default rule's operating threshold for these confirmed pneumonias' scores."""
    target = check_target(target)
    scores = np.sort(np.asarray(pneumonia_scores, dtype=np.float64))
    if scores.size < films_needed(target):
        if scores.size and scores[0] < factory_threshold:
            return _just_below(scores[0]), RuleOutcome.LOWERED
        return float(factory_threshold), RuleOutcome.KEPT_FACTORY
    missed = _most_wrong_allowed(scores.size, target)
    return _just_below(scores[missed]), RuleOutcome.CALIBRATED


def point_estimate_threshold(pneumonia_scores, factory_threshold: float, target: float) -> float:
    """For information: the highest threshold whose local sensitivity (the point estimate) is
    >= the target, however few the films. It over-promises on a small site."""
    scores = np.sort(np.asarray(pneumonia_scores, dtype=np.float64))
    if scores.size == 0:
        return float(factory_threshold)
    missed = int(np.floor((1.0 - target) * scores.size + 1e-9))
    return _just_below(scores[missed])


def likely_rule_threshold(
    normal_scores, operating_threshold: float, factory_likely: float
) -> float:
    """The upper threshold (see the module's docstring); the card's until enough normals."""
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64))[::-1]
    if scores.size < films_needed(LIKELY_MIN_SPECIFICITY):
        return max(float(factory_likely), float(operating_threshold))
    flagged = _most_wrong_allowed(scores.size, LIKELY_MIN_SPECIFICITY)
    return max(float(scores[flagged]) + SCORE_MARGIN, float(operating_threshold))


@dataclass(frozen=True)
class LabelledScores:
    """P(pneumonia) of a site's films with their confirmed labels (1 pneumonia, 0 normal)."""

    scores: np.ndarray
    labels: np.ndarray
    paths: tuple[str, ...] = ()

    @classmethod
    def of(cls, scores, labels, paths: Iterable[str] = ()) -> "LabelledScores":
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if scores.shape != labels.shape:
            raise ValueError(f"{scores.size} scores for {labels.size} labels")
        return cls(scores, labels, tuple(paths))

    @classmethod
    def from_reviews(cls, results: Iterable) -> "LabelledScores":
        """The reviewed, classified films of a scan (``results.StoredResult``): the label is
        the radiologist's (agree: the model's verdict; disagree: the corrected label)."""
        kept = [
            r for r in results
            if r.status == Status.OK and r.probability is not None and r.final_label is not None
        ]
        return cls.of(
            [r.probability for r in kept],
            [int(r.final_label == Verdict.PNEUMONIA) for r in kept],
            [r.path for r in kept],
        )

    def __add__(self, other: "LabelledScores") -> "LabelledScores":
        return LabelledScores.of(
            np.concatenate([self.scores, other.scores]),
            np.concatenate([self.labels, other.labels]),
            self.paths + other.paths,
        )

    @property
    def pneumonia_scores(self) -> np.ndarray:
        return self.scores[self.labels == 1]

    @property
    def normal_scores(self) -> np.ndarray:
        return self.scores[self.labels == 0]


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``trials``, with its two-sided 95% exact interval."""

    successes: int
    trials: int

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        from scipy.stats import binomtest

        if self.trials == 0:
            return float("nan"), float("nan")
        ci = binomtest(self.successes, self.trials).proportion_ci(0.95, method="exact")
        return float(ci.low), float(ci.high)

    def __str__(self) -> str:
        low, high = self.interval
        return f"{self.value:.3f} ({low:.3f}–{high:.3f}) {self.successes}/{self.trials}"


@dataclass(frozen=True)
class LocalMetrics:
    """Sensitivity and specificity on the site's films at one threshold, and the share of all
    its films flagged there (the baseline that monitoring compares with)."""

    threshold: float
    sensitivity: Proportion
    specificity: Proportion
    flagged: Proportion

    @classmethod
    def at(cls, films: LabelledScores, threshold: float) -> "LocalMetrics":
        called = films.scores >= threshold
        positives = films.labels == 1
        return cls(
            float(threshold),
            Proportion(int(np.sum(called & positives)), int(np.sum(positives))),
            Proportion(int(np.sum(~called & ~positives)), int(np.sum(~positives))),
            Proportion(int(np.sum(called)), int(films.scores.size)),
        )


@dataclass(frozen=True)
class SiteCalibration:
    """What the site's films say: the proposed operating point next to the factory one."""

    films: LabelledScores
    target_sensitivity: float
    factory: OperatingPoint
    proposed: OperatingPoint
    outcome: RuleOutcome
    pneumonias_needed: int  # more confirmed pneumonias before the rule may raise the threshold
    normals_needed: int  # more reviewed normals before the likely threshold is the site's
    auc: float
    at_factory: LocalMetrics
    at_proposed: LocalMetrics
    point_estimate_threshold: float  # for information only

    def roc_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """False-positive rate, true-positive rate and thresholds of the local ROC."""
        from sklearn.metrics import roc_curve

        return roc_curve(self.films.labels, self.films.scores)

    def verdict(self) -> str:
        """The rule's verdict in a sentence a radiologist reads."""
        count = int(np.sum(self.films.labels == 1))
        if self.outcome is RuleOutcome.CALIBRATED:
            bound = lower_bound(self.at_proposed.sensitivity.successes, count)
            return (
                f"site threshold {self.proposed.threshold:.4f}: on {count} confirmed pneumonias "
                f"the 95% lower bound of sensitivity there is {bound:.3f} "
                f"(target {self.target_sensitivity:g})"
            )
        more = f"{self.pneumonias_needed} more confirmed pneumonias needed to calibrate"
        if self.outcome is RuleOutcome.LOWERED:
            return (
                f"threshold lowered to {self.proposed.threshold:.4f}: a confirmed pneumonia "
                f"scored below the factory threshold; {more}"
            )
        return f"factory threshold kept: {count} confirmed pneumonias, {more}"


def calibrate(
    films: LabelledScores,
    factory: OperatingPoint,
    target_sensitivity: float = DEFAULT_TARGET_SENSITIVITY,
) -> SiteCalibration:
    """Apply the rules to the site's labelled films."""
    from sklearn.metrics import roc_auc_score

    target = check_target(target_sensitivity)
    pneumonias, normals = films.pneumonia_scores, films.normal_scores
    if pneumonias.size == 0 or normals.size == 0:
        missing = "pneumonia" if pneumonias.size == 0 else "normal"
        raise CalibrationError(
            f"no confirmed {missing} films among the {films.scores.size} labelled: a site "
            "threshold needs confirmed films of both classes"
        )
    threshold, outcome = cp_rule_threshold(pneumonias, factory.threshold, target)
    likely = likely_rule_threshold(normals, threshold, factory.likely_threshold)
    proposed = OperatingPoint(threshold, likely, ThresholdSource.SITE)
    return SiteCalibration(
        films=films,
        target_sensitivity=target,
        factory=factory,
        proposed=proposed,
        outcome=outcome,
        pneumonias_needed=max(films_needed(target) - pneumonias.size, 0),
        normals_needed=max(films_needed(LIKELY_MIN_SPECIFICITY) - normals.size, 0),
        auc=float(roc_auc_score(films.labels, films.scores)),
        at_factory=LocalMetrics.at(films, factory.threshold),
        at_proposed=LocalMetrics.at(films, threshold),
        point_estimate_threshold=point_estimate_threshold(pneumonias, factory.threshold, target),
    )
