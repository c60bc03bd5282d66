"""The review rules: agree, disagree, choosing a label, and what cannot be reviewed."""

from __future__ import annotations

import pytest

from pneumo_desktop.core import review
from pneumo_desktop.core.results import (
    OperatingPoint,
    Prediction,
    Reason,
    ReviewMark,
    ScanResult,
    StoredResult,
    Verdict,
)

POINT = OperatingPoint(threshold=0.5, likely_threshold=0.9)


def stored(probability: float) -> StoredResult:
    prediction = Prediction.under(POINT, probability)
    return StoredResult.from_scan(ScanResult.from_prediction("/films/a.png", prediction))


@pytest.mark.parametrize(("probability", "verdict"), [(0.7, Verdict.PNEUMONIA),
                                                      (0.2, Verdict.NORMAL)])
def test_agree_keeps_the_verdict_and_disagree_records_the_other_label(probability, verdict):
    row = stored(probability)
    assert row.verdict is verdict
    assert review.agree(row) == review.Review(ReviewMark.AGREE, None)
    assert review.disagree(row) == review.Review(ReviewMark.DISAGREE, verdict.other)


def test_choosing_a_label_the_models_own_means_agree_the_other_disagree_none_clears():
    row = stored(0.7)
    assert review.review_for_label(row, Verdict.PNEUMONIA).mark is ReviewMark.AGREE
    assert review.review_for_label(row, Verdict.NORMAL) == review.Review(
        ReviewMark.DISAGREE, Verdict.NORMAL)
    assert review.review_for_label(row, None) == review.CLEARED
    # A label read back from a combo box as plain text is the same label.
    assert review.review_for_label(row, "NORMAL").corrected_label is Verdict.NORMAL
    with pytest.raises(ValueError):
        review.review_for_label(row, "maybe")


def test_a_film_without_a_verdict_cannot_be_reviewed():
    unreadable = StoredResult.from_scan(ScanResult.failed("/films/b.jpg", "truncated",
                                                          Reason.TRUNCATED))
    refused = StoredResult.from_scan(ScanResult.from_prediction(
        "/films/photo.jpg",
        Prediction.under(POINT, 0.9, ood_distance=50.0, ood_threshold=10.0)))
    for row in (unreadable, refused):
        assert not review.reviewable(row)
        for rule in (review.agree, review.disagree):
            with pytest.raises(review.NotReviewable):
                rule(row)
    assert review.reviewable(stored(0.1))

