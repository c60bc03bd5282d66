"""The result vocabulary: operating points, bands, and the record family."""

from __future__ import annotations

import pytest

from pneumo_desktop.core.results import (
    Band,
    OperatingPoint,
    Prediction,
    Reason,
    ReviewMark,
    ScanResult,
    Status,
    StoredResult,
    Subtype,
    ThresholdSource,
    Verdict,
)

POINT = OperatingPoint(threshold=0.2, likely_threshold=0.8, source=ThresholdSource.SITE)


@pytest.mark.parametrize(
    ("probability", "verdict", "band"),
    [
        (0.0, Verdict.NORMAL, Band.UNLIKELY),
        (0.1999, Verdict.NORMAL, Band.UNLIKELY),
        (0.2, Verdict.PNEUMONIA, Band.POSSIBLE),
        (0.7999, Verdict.PNEUMONIA, Band.POSSIBLE),
        (0.8, Verdict.PNEUMONIA, Band.LIKELY),
        (1.0, Verdict.PNEUMONIA, Band.LIKELY),
    ],
)
def test_verdict_and_band_follow_the_two_thresholds(probability, verdict, band):
    assert POINT.verdict(probability) is verdict
    assert POINT.band(probability) is band


def test_an_upper_threshold_below_the_operating_one_leaves_no_possible_band():
    point = OperatingPoint(threshold=0.5, likely_threshold=0.3)
    assert point.band(0.4) is Band.UNLIKELY
    assert point.band(0.5) is Band.LIKELY


def test_prediction_over_the_distance_limit_is_not_an_xray_and_has_no_verdict():
    prediction = Prediction.under(POINT, 0.95, ood_distance=40.0, ood_threshold=30.0,
                                  subtype_probability=0.9)
    assert prediction.status is Status.NOT_XRAY and not prediction.is_xray
    assert prediction.verdict is None and prediction.band is None and prediction.subtype is None
    assert prediction.threshold_source is ThresholdSource.SITE


def test_subtype_only_for_pneumonia_verdicts():
    pneumonia = Prediction.under(POINT, 0.9, ood_distance=1.0, ood_threshold=30.0,
                                 subtype_probability=0.7)
    normal = Prediction.under(POINT, 0.1, ood_distance=1.0, ood_threshold=30.0,
                              subtype_probability=0.7)
    assert pneumonia.subtype is Subtype.VIRUS and pneumonia.subtype_probability == 0.7
    assert normal.subtype is None and normal.subtype_probability is None


def test_stored_result_from_scan_keeps_every_scan_field_and_no_review():
    prediction = Prediction.under(POINT, 0.5, subtype_probability=0.2)
    scanned = ScanResult.from_prediction("/films/a.png", prediction)
    stored = StoredResult.from_scan(scanned)
    assert stored.verdict is Verdict.PNEUMONIA and stored.band is Band.POSSIBLE
    assert stored.subtype is Subtype.BACTERIA and stored.threshold == 0.2
    assert stored.review is None and stored.final_label is None
    disagreed = StoredResult(**{**vars(stored), "review": ReviewMark.DISAGREE,
                                "corrected_label": Verdict.NORMAL})
    assert disagreed.final_label is Verdict.NORMAL


def test_enums_are_the_strings_the_store_and_csv_always_held():
    assert Status.OK == "ok" and Verdict.PNEUMONIA == "PNEUMONIA" and ReviewMark.AGREE == "agree"
    assert f"{Band.LIKELY}" == "likely"


def test_reason_parse_reads_codes_older_versions_wrote():
    assert Reason.parse("dicom_compressed") is Reason.UNSUPPORTED_DICOM
    assert Reason.parse("memory") is Reason.OUT_OF_MEMORY
    assert Reason.parse("dicom_no_pixels") is Reason.NOT_IMAGE
    assert Reason.parse("truncated") is Reason.TRUNCATED
    assert Reason.parse("") is None
    with pytest.raises(ValueError):
        Reason.parse("no_such_code")
