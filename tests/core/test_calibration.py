"""The calibration rules and local metrics, on synthetic scores."""

import numpy as np
import pytest
from scipy.stats import beta, binomtest
from sklearn.metrics import roc_auc_score

from pneumo_desktop.core.calibration import (
    SCORE_MARGIN,
    CalibrationError,
    LabelledScores,
    LocalMetrics,
    Proportion,
    RuleOutcome,
    calibrate,
    cp_rule_threshold,
    films_needed,
    likely_rule_threshold,
    lower_bound,
    point_estimate_threshold,
)
from pneumo_desktop.core.results import (
    OperatingPoint,
    ReviewMark,
    Status,
    StoredResult,
    ThresholdSource,
    Verdict,
)

FACTORY = OperatingPoint(0.05, 0.9, ThresholdSource.FACTORY)


@pytest.mark.parametrize(
    ("caught", "total"), [(1, 1), (5, 10), (9, 10), (147, 150), (299, 300), (40, 41)]
)
def test_lower_bound_is_the_beta_quantile(caught, total):
    assert lower_bound(caught, total) == pytest.approx(
        beta.ppf(0.05, caught, total - caught + 1), rel=1e-9
    )


@pytest.mark.parametrize("total", [1, 7, 59, 148, 149, 500])
def test_lower_bound_when_every_film_is_right_is_alpha_to_the_one_over_n(total):
    assert lower_bound(total, total) == pytest.approx(0.05 ** (1 / total), rel=1e-9)
    assert lower_bound(total, total) == pytest.approx(beta.ppf(0.05, total, 1), rel=1e-9)


def test_lower_bound_when_every_film_is_wrong_is_zero():
    assert lower_bound(0, 20) == 0.0
    assert lower_bound(0, 0) == 0.0


def test_the_rule_needs_149_pneumonias_at_098_and_59_normals_at_095():
    assert films_needed(0.98) == 149
    assert lower_bound(148, 148) < 0.98 <= lower_bound(149, 149)
    assert films_needed(0.95) == 59
    assert lower_bound(58, 58) < 0.95 <= lower_bound(59, 59)


def _pneumonia_scores(count: int, seed: int = 0, low: float = 0.2) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, 1.0, count)


def test_too_few_pneumonias_all_caught_keep_the_factory_threshold():
    threshold, outcome = cp_rule_threshold(_pneumonia_scores(148), 0.05, 0.98)
    assert (threshold, outcome) == (0.05, RuleOutcome.KEPT_FACTORY)


def test_a_pneumonia_below_the_factory_threshold_lowers_it_at_once_to_catch_it():
    scores = _pneumonia_scores(30)
    scores[7] = 0.013
    threshold, outcome = cp_rule_threshold(scores, 0.05, 0.98)
    assert outcome is RuleOutcome.LOWERED
    assert threshold == pytest.approx(0.013 - SCORE_MARGIN)
    assert np.all(scores >= threshold)


def test_enough_pneumonias_raise_the_threshold_as_far_as_the_bound_allows():
    for count in (149, 195, 300, 400, 1000):
        scores = _pneumonia_scores(count, seed=count)
        threshold, outcome = cp_rule_threshold(scores, 0.05, 0.98)
        assert outcome is RuleOutcome.CALIBRATED
        caught = int(np.sum(scores >= threshold))
        assert lower_bound(caught, count) >= 0.98
        # One film more missed (the next score up) would break the bound: nothing higher fits.
        next_up = np.sort(scores)[count - caught] + SCORE_MARGIN
        assert lower_bound(int(np.sum(scores >= next_up)), count) < 0.98
        assert threshold > 0.05


def test_enough_pneumonias_with_low_scores_lower_the_threshold_below_the_factory_one():
    scores = _pneumonia_scores(200)
    scores[:3] = [0.001, 0.002, 0.003]
    threshold, outcome = cp_rule_threshold(scores, 0.05, 0.98)
    assert outcome is RuleOutcome.CALIBRATED and threshold < 0.05
    assert lower_bound(int(np.sum(scores >= threshold)), 200) >= 0.98


@pytest.mark.parametrize("target", [0.9, 0.949, 1.0, 1.2])
def test_a_target_below_095_or_at_1_is_refused(target):
    with pytest.raises(CalibrationError, match="target sensitivity"):
        cp_rule_threshold(_pneumonia_scores(10), 0.05, target)


def test_point_estimate_rule_allows_the_share_of_misses_the_target_does():
    scores = np.arange(1, 101) / 100.0  # 100 pneumonias, 0.01 .. 1.00
    assert point_estimate_threshold(scores, 0.05, 0.98) == pytest.approx(0.03 - SCORE_MARGIN)
    assert point_estimate_threshold([], 0.05, 0.98) == 0.05


def test_likely_threshold_is_the_cards_until_enough_normals():
    normals = np.random.default_rng(1).uniform(0, 0.5, 58)
    assert likely_rule_threshold(normals, 0.1, 0.9) == 0.9
    assert likely_rule_threshold(normals, 0.95, 0.9) == 0.95  # never below the operating one


def test_likely_threshold_from_enough_normals_is_the_lowest_with_the_specificity_bound():
    normals = np.random.default_rng(2).uniform(0, 0.6, 300)
    likely = likely_rule_threshold(normals, 0.1, 0.99)
    below = int(np.sum(normals < likely))
    assert lower_bound(below, 300) >= 0.95
    lower = np.sort(normals)[below - 1]  # the highest normal under it, if it moved down
    assert lower_bound(int(np.sum(normals < lower)), 300) < 0.95
    assert likely < 0.99  # the site's normals, not the card, set it


def test_proportion_carries_the_two_sided_exact_interval():
    proportion = Proportion(45, 117)
    ci = binomtest(45, 117).proportion_ci(0.95, method="exact")
    assert proportion.value == pytest.approx(45 / 117)
    assert proportion.interval == pytest.approx((ci.low, ci.high))
    assert "45/117" in str(proportion)


def test_local_metrics_count_the_confusion_matrix():
    films = LabelledScores.of([0.9, 0.6, 0.2, 0.7, 0.1, 0.05], [1, 1, 1, 0, 0, 0])
    metrics = LocalMetrics.at(films, 0.5)
    assert (metrics.sensitivity.successes, metrics.sensitivity.trials) == (2, 3)
    assert (metrics.specificity.successes, metrics.specificity.trials) == (2, 3)
    assert (metrics.flagged.successes, metrics.flagged.trials) == (3, 6)


def _stored(path, probability, review=None, corrected=None, status=Status.OK):
    point = FACTORY
    verdict = point.verdict(probability) if status is Status.OK else None
    return StoredResult(
        path, status, probability if status is Status.OK else None, verdict,
        review=review, corrected_label=corrected,
    )


def test_review_marks_give_the_radiologists_labels_and_skip_the_rest():
    results = [
        _stored("a", 0.9, ReviewMark.AGREE),  # PNEUMONIA confirmed
        _stored("b", 0.01, ReviewMark.AGREE),  # NORMAL confirmed
        _stored("c", 0.7, ReviewMark.DISAGREE, Verdict.NORMAL),  # a false positive
        _stored("d", 0.02, ReviewMark.DISAGREE, Verdict.PNEUMONIA),  # a miss
        _stored("e", 0.5),  # not reviewed
        _stored("f", 0.5, ReviewMark.AGREE, status=Status.ERROR),
    ]
    films = LabelledScores.from_reviews(results)
    assert films.paths == ("a", "b", "c", "d")
    assert films.labels.tolist() == [1, 0, 0, 1]
    assert films.scores.tolist() == [0.9, 0.01, 0.7, 0.02]


def _site(pneumonias: int, normals: int, seed: int = 3) -> LabelledScores:
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.beta(5, 1.5, pneumonias), rng.beta(1.2, 5, normals)])
    return LabelledScores.of(scores, [1] * pneumonias + [0] * normals)


def test_calibrate_on_a_large_site_raises_the_threshold_and_keeps_the_bound():
    films = _site(250, 150)
    result = calibrate(films, FACTORY, 0.98)
    assert result.outcome is RuleOutcome.CALIBRATED
    assert result.proposed.source is ThresholdSource.SITE
    assert result.proposed.threshold > FACTORY.threshold
    assert result.pneumonias_needed == 0 and result.normals_needed == 0
    assert result.auc == pytest.approx(roc_auc_score(films.labels, films.scores))
    sensitivity = result.at_proposed.sensitivity
    assert lower_bound(sensitivity.successes, sensitivity.trials) >= 0.98
    assert result.at_proposed.specificity.value > result.at_factory.specificity.value
    assert result.proposed.likely_threshold >= result.proposed.threshold
    fpr, tpr, thresholds = result.roc_points()
    assert fpr[0] == 0 and tpr[-1] == 1 and len(fpr) == len(thresholds)
    assert "lower bound" in result.verdict()


def test_calibrate_on_a_small_site_keeps_the_factory_threshold_and_says_what_it_needs():
    films = LabelledScores.of([0.3, 0.8, 0.9, 0.01, 0.2], [1, 1, 1, 0, 0])
    result = calibrate(films, FACTORY)
    assert result.outcome is RuleOutcome.KEPT_FACTORY
    assert result.proposed.threshold == FACTORY.threshold
    assert result.proposed.likely_threshold == FACTORY.likely_threshold
    assert (result.pneumonias_needed, result.normals_needed) == (146, 57)
    assert "146 more confirmed pneumonias" in result.verdict()


@pytest.mark.parametrize(
    ("labels", "missing"), [([0, 0, 0], "pneumonia"), ([1, 1, 1], "normal")]
)
def test_calibrate_without_one_class_says_which_is_missing(labels, missing):
    with pytest.raises(CalibrationError, match=f"no confirmed {missing} films"):
        calibrate(LabelledScores.of([0.1, 0.5, 0.9], labels), FACTORY)
