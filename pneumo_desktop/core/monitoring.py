"""Monitoring after calibration, as WHO advises for CAD: the share of films flagged per day
and per week, how often the radiologist agrees with the model, how many films were reviewed,
and an alert when the share flagged leaves the band seen at calibration (a new X-ray machine,
a new population).

Pure functions over the store's dated results (:meth:`ResultStore.dated_results`). A film
scanned more than once (the same path, size and mtime: a folder scanned every night) counts
once, on the day of its first scan, with its review from whichever scan has one
(:func:`one_per_film`). Flags are recomputed from the
stored P(pneumonia) at the site threshold, so periods before and after a threshold change
compare; only the films of the profile's model count (another model's scores mean nothing at
this threshold).

The band: the counts a period of ``n`` films shows with 95% probability if its true share is
anywhere inside the 95% interval of the share flagged at calibration. That share is the
site's daily flow only if the calibration films were (review marks are; a hand-picked
calibration folder has the prevalence it was given). Alerts are raised per week: per day, a
5% false-alarm rate would cry wolf every three weeks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from .calibration import Proportion
from .results import ReviewMark, Status, Verdict


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday

    def start_of(self, moment: dt.datetime) -> dt.date:
        day = moment.date()
        return day if self is Period.DAY else day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True)
class Baseline:
    """What calibration saw: films flagged at the site threshold, of films."""

    threshold: float
    flagged: int
    films: int

    @classmethod
    def of_profile(cls, profile) -> "Baseline":
        flagged, films = profile.calibration_flagged
        return cls(profile.operating_point.threshold, flagged, films)

    def expected_flagged(self, films: int) -> tuple[int, int]:
        """The range of flagged counts (inclusive) a period of ``films`` films stays in."""
        from scipy.stats import binom

        low_share, high_share = Proportion(self.flagged, self.films).interval
        return int(binom.ppf(0.025, films, low_share)), int(binom.ppf(0.975, films, high_share))


@dataclass(frozen=True)
class PeriodSummary:
    period: Period
    start: dt.date
    films: int  # classified films scanned in the period
    flagged: int
    reviewed: int
    agreed: int
    expected: tuple[int, int] | None  # flagged counts expected from calibration

    @property
    def flagged_share(self) -> float:
        return self.flagged / self.films

    @property
    def agreement(self) -> Proportion:
        return Proportion(self.agreed, self.reviewed)

    @property
    def outside_band(self) -> bool:
        return self.expected is not None and not (
            self.expected[0] <= self.flagged <= self.expected[1]
        )

    def alert(self) -> str:
        low, high = self.expected
        return (
            f"{self.period} of {self.start.isoformat()}: {self.flagged_share:.0%} of "
            f"{self.films} films flagged, outside the {low / self.films:.0%}–"
            f"{high / self.films:.0%} expected from calibration (a new X-ray machine or "
            "population?): look at the films, and recalibrate if it persists"
        )


@dataclass(frozen=True)
class MonitoringReport:
    daily: list[PeriodSummary]
    weekly: list[PeriodSummary]
    agreement: Proportion  # agreed of reviewed, all periods
    films: int

    @property
    def alerts(self) -> list[str]:
        return [week.alert() for week in self.weekly if week.outside_band]


def latest_per_film(dated: Iterable) -> list:
    """One dated result per path: the latest scanned."""
    latest = {}
    for item in dated:
        kept = latest.get(item.result.path)
        if kept is None or item.scanned_at >= kept.scanned_at:
            latest[item.result.path] = item
    return sorted(latest.values(), key=lambda item: item.scanned_at)


def one_per_film(dated: Iterable) -> list:
    """One dated result per film (``DatedResult.film``: path, size and mtime), dated by the
    film's first scan: its latest reviewed result when it was reviewed in any scan, else its
    latest result. A folder scanned every night thus counts each film on the day it arrived,
    and a mark made in one scan is not lost when a later scan of the same film has none."""
    groups: dict[tuple, list] = {}
    for item in dated:
        groups.setdefault(item.film, []).append(item)
    merged = []
    for items in groups.values():
        first = min(item.scanned_at for item in items)
        reviewed = [item for item in items if item.result.review is not None]
        chosen = (max(reviewed, key=lambda item: item.reviewed_at or item.scanned_at)
                  if reviewed else max(items, key=lambda item: item.scanned_at))
        merged.append(dataclasses.replace(chosen, scanned_at=first))
    return sorted(merged, key=lambda item: item.scanned_at)


def summarise(
    dated: Iterable, period: Period, *, threshold: float | None = None,
    baseline: Baseline | None = None,
) -> list[PeriodSummary]:
    """Per period: films, flagged (at ``threshold``, else the stored verdict), reviewed and
    agreed; with a baseline, the flagged counts calibration leads one to expect."""
    groups: dict[dt.date, list] = {}
    for item in dated:
        groups.setdefault(period.start_of(item.scanned_at), []).append(item.result)
    summaries = []
    for start in sorted(groups):
        films = groups[start]
        if threshold is None:
            flagged = sum(r.verdict == Verdict.PNEUMONIA for r in films)
        else:
            flagged = sum(r.probability >= threshold for r in films)
        summaries.append(
            PeriodSummary(
                period, start, len(films), flagged,
                reviewed=sum(r.review is not None for r in films),
                agreed=sum(r.review == ReviewMark.AGREE for r in films),
                expected=baseline.expected_flagged(len(films)) if baseline else None,
            )
        )
    return summaries


def monitor(
    dated: Iterable, *, model_sha256: str | None = None, baseline: Baseline | None = None
) -> MonitoringReport:
    """The monitoring report over the store's dated results, for one model's classified
    films; with a baseline, flags at its threshold and alerts against its share."""
    films = [
        item for item in one_per_film(
            item for item in dated if model_sha256 is None or item.model_sha256 == model_sha256
        )
        if item.result.status == Status.OK and item.result.probability is not None
    ]
    threshold = baseline.threshold if baseline else None
    daily = summarise(films, Period.DAY, threshold=threshold, baseline=baseline)
    weekly = summarise(films, Period.WEEK, threshold=threshold, baseline=baseline)
    return MonitoringReport(
        daily, weekly,
        Proportion(sum(w.agreed for w in weekly), sum(w.reviewed for w in weekly)),
        len(films),
    )
