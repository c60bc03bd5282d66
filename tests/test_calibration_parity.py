"""The default site-calibration rule exists twice on purpose (the app and the training package
share no code): both copies must choose the same threshold."""

import numpy as np
import pytest

from pneumo_desktop.core import calibration
from training import sitecal


def _cases(count: int):
    rng = np.random.default_rng(2024)
    for _ in range(count):
        # Sizes around the 59/149/299-film steps, and scores that straddle the factory one.
        size = int(rng.choice([0, 1, 5, 58, 59, 60, 148, 149, 150, 200, 298, 299, 300, 450]))
        scores = rng.beta(rng.uniform(0.3, 5), rng.uniform(0.3, 3), size)
        if size and rng.random() < 0.3:
            scores[rng.integers(size)] = rng.uniform(0, 0.01)  # a pneumonia scoring very low
        yield scores, float(rng.uniform(0.001, 0.3)), float(rng.choice([0.95, 0.97, 0.98, 0.99]))


@pytest.mark.parametrize("case", list(_cases(120)), ids=lambda case: f"n{len(case[0])}")
def test_both_copies_choose_the_same_threshold(case):
    scores, factory, target = case
    app, _ = calibration.cp_rule_threshold(scores, factory, target)
    assert sitecal.default_rule_threshold(scores, factory, target) == app
    assert sitecal.point_estimate_threshold(scores, factory, target) == (
        calibration.point_estimate_threshold(scores, factory, target)
    )


def test_both_copies_agree_on_how_many_pneumonias_the_rule_needs():
    for target in (0.95, 0.96, 0.97, 0.98, 0.99, 0.995):
        assert sitecal._films_needed(target) == calibration.films_needed(target)
