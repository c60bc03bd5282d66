"""The radiologist's review rules, as plain functions over a
:class:`~pneumo_desktop.core.results.StoredResult`: the worklist, the viewer's review bar and
any later reader apply the same ones.

* Only a classified film (status OK, with a verdict) can be reviewed.
* Agree keeps the model's verdict; disagree records the other label.
* Choosing a label: the model's own label means agree, the other one disagree, none clears.
* The label a review records is :attr:`StoredResult.final_label`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .results import ReviewMark, Status, StoredResult, Verdict


class NotReviewable(ValueError):
    """The film has no verdict to agree or disagree with (unreadable, or not an X-ray)."""


@dataclass(frozen=True)
class Review:
    """A review mark as the store keeps it: ``corrected_label`` only with DISAGREE."""

    mark: ReviewMark | None
    corrected_label: Verdict | None = None


CLEARED = Review(None)


def reviewable(row: StoredResult) -> bool:
    return row.status is Status.OK and row.verdict is not None


def _check(row: StoredResult) -> Verdict:
    if not reviewable(row):
        raise NotReviewable(f"{row.path} has no verdict to review ({row.status})")
    return row.verdict


def agree(row: StoredResult) -> Review:
    _check(row)
    return Review(ReviewMark.AGREE)


def disagree(row: StoredResult) -> Review:
    """Disagree: with two labels, the corrected one is the other label."""
    return Review(ReviewMark.DISAGREE, _check(row).other)


def review_for_label(row: StoredResult, label: Verdict | None) -> Review:
    """The mark that records ``label`` as the radiologist's: the model's own label means
    agree, the other disagree, None clears the mark."""
    verdict = _check(row)
    if label is None:
        return CLEARED
    label = Verdict(label)
    return Review(ReviewMark.AGREE) if label is verdict else Review(ReviewMark.DISAGREE, label)


def checked_mark(review, corrected_label) -> tuple[ReviewMark | None, Verdict | None]:
    """A mark as the store takes it (values or enums); ValueError naming what is wrong."""
    try:
        review = None if review is None else ReviewMark(review)
    except ValueError:
        raise ValueError(f"review must be agree, disagree or None, not {review!r}") from None
    try:
        corrected_label = None if corrected_label is None else Verdict(corrected_label)
    except ValueError:
        raise ValueError(
            f"corrected label must be NORMAL or PNEUMONIA, not {corrected_label!r}"
        ) from None
    return review, corrected_label
