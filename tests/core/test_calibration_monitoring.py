"""Monitoring after calibration: flagged share per day and week, agreement, alerts."""

import datetime as dt

import numpy as np
import pytest
from scipy.stats import binom

from pneumo_desktop.core.local_films import reviewed_films
from pneumo_desktop.core.monitoring import (
    Baseline,
    Period,
    latest_per_film,
    monitor,
    one_per_film,
    summarise,
)
from pneumo_desktop.core.results import (
    OperatingPoint,
    Prediction,
    Reason,
    ReviewMark,
    ScanResult,
    Status,
    StoredResult,
    ThresholdSource,
    Verdict,
)
from pneumo_desktop.core.store import DatedResult, ResultStore

POINT = OperatingPoint(0.3, 0.9, ThresholdSource.SITE)
MONDAY = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)


def _dated(path, probability, when, review=None, sha="m1", status=Status.OK):
    result = StoredResult(
        path, status, probability, POINT.verdict(probability) if probability is not None else None,
        review=review,
    )
    return DatedResult(when, None, sha, result)


def _day_of_films(day: dt.datetime, flagged: int, films: int, prefix: str, reviews=()):
    items = []
    for index in range(films):
        probability = 0.8 if index < flagged else 0.1
        review = reviews[index] if index < len(reviews) else None
        items.append(_dated(f"{prefix}{index}", probability, day, review))
    return items


def test_flagged_share_per_day_and_per_week_with_agreement():
    tuesday = MONDAY + dt.timedelta(days=1)
    next_monday = MONDAY + dt.timedelta(days=7)
    dated = (
        _day_of_films(MONDAY, 3, 10, "a", [ReviewMark.AGREE, ReviewMark.DISAGREE])
        + _day_of_films(tuesday, 5, 10, "b", [ReviewMark.AGREE] * 4)
        + _day_of_films(next_monday, 1, 4, "c")
    )
    daily = summarise(dated, Period.DAY, threshold=0.3)
    assert [(d.start, d.films, d.flagged) for d in daily] == [
        (MONDAY.date(), 10, 3), (tuesday.date(), 10, 5), (next_monday.date(), 4, 1),
    ]
    weekly = summarise(dated, Period.WEEK, threshold=0.3)
    assert [(w.start, w.films, w.flagged, w.reviewed, w.agreed) for w in weekly] == [
        (MONDAY.date(), 20, 8, 6, 5), (next_monday.date(), 4, 1, 0, 0),
    ]
    assert weekly[0].flagged_share == pytest.approx(0.4)
    assert weekly[0].agreement.value == pytest.approx(5 / 6)


def test_flags_are_recomputed_at_the_given_threshold_else_the_stored_verdict():
    dated = [_dated("a", 0.25, MONDAY), _dated("b", 0.35, MONDAY)]
    assert summarise(dated, Period.DAY)[0].flagged == 1  # stored verdict at 0.3
    assert summarise(dated, Period.DAY, threshold=0.2)[0].flagged == 2


def test_a_film_scanned_twice_counts_once_with_its_latest_result():
    later = MONDAY + dt.timedelta(hours=2)
    dated = [_dated("a", 0.9, MONDAY), _dated("a", 0.1, later), _dated("b", 0.5, MONDAY)]
    latest = latest_per_film(dated)
    assert [(d.result.path, d.result.probability) for d in latest] == [("b", 0.5), ("a", 0.1)]


def test_the_expected_band_holds_95_percent_of_periods_at_the_calibration_share():
    baseline = Baseline(0.3, flagged=90, films=300)
    low, high = baseline.expected_flagged(100)
    assert low < 30 < high
    # At the calibration share itself the band holds well over 95% of periods ...
    inside = binom.cdf(high, 100, 0.3) - binom.cdf(low - 1, 100, 0.3)
    assert inside > 0.95
    # ... and twice the share falls outside it almost always.
    assert binom.cdf(high, 100, 0.6) < 0.01


def test_monitor_alerts_when_a_week_leaves_the_calibration_band():
    rng = np.random.default_rng(0)
    dated = []
    for week, share in enumerate((0.3, 0.32, 0.7)):
        start = MONDAY + dt.timedelta(days=7 * week)
        for index in range(120):
            day = start + dt.timedelta(days=index % 5)
            probability = 0.8 if rng.random() < share else 0.1
            dated.append(_dated(f"w{week}-{index}", probability, day))
    dated.append(_dated("other-model", 0.9, MONDAY, sha="m0"))
    dated.append(_dated("broken", None, MONDAY, status=Status.ERROR))
    report = monitor(dated, model_sha256="m1", baseline=Baseline(0.3, 90, 300))
    assert report.films == 360
    assert [w.outside_band for w in report.weekly] == [False, False, True]
    assert len(report.alerts) == 1 and "2026-12-07" in report.alerts[0]
    assert "recalibrate" in report.alerts[0]
    assert len(report.daily) == 15


def test_monitor_without_a_baseline_reports_but_never_alerts():
    dated = _day_of_films(MONDAY, 9, 10, "a", [ReviewMark.AGREE] * 3)
    report = monitor(dated)
    assert report.alerts == [] and report.weekly[0].expected is None
    assert (report.agreement.successes, report.agreement.trials) == (3, 3)


def test_the_store_gives_every_result_with_its_dates_model_and_review(tmp_path):
    class Card:
        name, version, threshold, sha256 = "m", "1", 0.3, "m1"

    with ResultStore(tmp_path / "r.sqlite3") as store:
        scan_id = store.start_scan(tmp_path, Card(), 2)
        store.record(scan_id, ScanResult.from_prediction("x.png", Prediction.under(POINT, 0.8)))
        store.record(scan_id, ScanResult.failed("y.png", "damaged", Reason.TRUNCATED))
        store.set_review(scan_id, "x.png", ReviewMark.DISAGREE, Verdict.NORMAL, "a nipple shadow")
        dated = {d.result.path: d for d in store.dated_results()}
    x, y = dated["x.png"], dated["y.png"]
    assert x.model_sha256 == "m1" and x.scanned_at.tzinfo is not None
    assert x.reviewed_at >= x.scanned_at and y.reviewed_at is None
    assert x.result.status is Status.OK and x.result.verdict is Verdict.PNEUMONIA
    assert x.result.review is ReviewMark.DISAGREE and x.result.final_label is Verdict.NORMAL
    assert x.result.threshold == 0.3 and x.result.threshold_source is ThresholdSource.SITE
    assert y.result.status is Status.ERROR and y.result.reason is Reason.TRUNCATED


def test_reviewed_films_are_this_models_reviewed_films_once_each_with_the_latest_mark():
    later = MONDAY + dt.timedelta(days=1)
    dated = [
        _dated("a", 0.9, MONDAY, ReviewMark.AGREE),  # the same film scanned again later,
        _dated("a", 0.9, later),  # unreviewed there: Monday's mark still labels it
        _dated("b", 0.2, MONDAY, ReviewMark.AGREE),
        _dated("b", 0.2, later, ReviewMark.AGREE),  # reviewed in two scans: counted once
        _dated("c", 0.7, MONDAY, ReviewMark.AGREE, sha="m0"),  # another model's score
        DatedResult(later, later, "m1", StoredResult(  # a miss the radiologist caught
            "d", Status.OK, 0.1, Verdict.NORMAL, review=ReviewMark.DISAGREE,
            corrected_label=Verdict.PNEUMONIA,
        )),
        _dated("e", 0.6, MONDAY),  # never reviewed
    ]
    films = reviewed_films(dated, "m1")
    assert sorted(zip(films.paths, films.labels.tolist(), strict=True)) == [
        ("a", 1), ("b", 0), ("d", 1)]


def test_one_film_is_one_path_size_and_mtime_dated_by_its_first_scan():
    tuesday, wednesday = MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=2)

    def scanned(when, size, review=None, reviewed_at=None):
        result = StoredResult("a", Status.OK, 0.8, Verdict.PNEUMONIA, review=review)
        return DatedResult(when, reviewed_at, "m1", result, size, 1000)

    dated = [scanned(MONDAY, 10, ReviewMark.DISAGREE, MONDAY), scanned(tuesday, 10),
             scanned(wednesday, 10, ReviewMark.AGREE, wednesday),
             scanned(wednesday, 11)]  # the file changed: another film
    films = one_per_film(dated)
    assert [(f.scanned_at, f.size, f.result.review) for f in films] == [
        (MONDAY, 10, ReviewMark.AGREE), (wednesday, 11, None)]
    # Scanned every night, a film counts on the day it arrived.
    assert [d.films for d in monitor(dated).daily] == [1, 1]
