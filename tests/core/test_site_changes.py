"""Applying a calibration and reverting to factory: each writes the profile and adds exactly
one audit row saying who, which model, and the operating point before and after."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pneumo_desktop.core.audit import AuditAction, AuditTrail, current_user
from pneumo_desktop.core.calibration import LabelledScores, calibrate
from pneumo_desktop.core.results import OperatingPoint, ThresholdSource
from pneumo_desktop.core.site_changes import (
    apply_calibration,
    factory_point,
    point_in_use,
    revert,
)
from pneumo_desktop.core.site_profile import SiteProfileError, load_profile
from tests.core.test_calibration_profile import FakeCard as Card


@pytest.fixture
def calibration():
    rng = np.random.default_rng(11)
    scores = np.concatenate([rng.beta(6, 1.5, 160), rng.beta(1.2, 6, 90)])
    films = LabelledScores.of(scores, [1] * 160 + [0] * 90)
    return calibrate(films, factory_point(Card()))


def _rows(db):
    with AuditTrail(db) as trail:
        return trail.entries()


def test_applying_writes_the_profile_and_one_audit_row(calibration, tmp_path):
    db, path = tmp_path / "results.sqlite3", tmp_path / "profile.json"
    profile = apply_calibration(calibration, Card(), db_path=db, profile_path=path)
    assert load_profile(path).active and profile.operating_point == calibration.proposed
    assert point_in_use(Card(), path) == calibration.proposed
    [row] = _rows(db)
    assert row.action is AuditAction.CALIBRATION and row.user == current_user()
    assert (row.model_name, row.model_version, row.model_sha256) == (
        "cnn_deep_aug", "1.2.0", "a" * 64)
    assert row.threshold == pytest.approx(calibration.proposed.threshold)
    assert row.threshold_source is ThresholdSource.SITE
    assert json.loads(row.old_value) == {"threshold": 0.05, "likely_threshold": 0.9,
                                         "source": "factory"}
    assert json.loads(row.new_value)["threshold"] == pytest.approx(
        calibration.proposed.threshold)
    assert row.path is None  # a site-wide action


def test_reverting_writes_the_profile_and_one_audit_row(calibration, tmp_path):
    db, path = tmp_path / "results.sqlite3", tmp_path / "profile.json"
    apply_calibration(calibration, Card(), db_path=db, profile_path=path)
    assert revert(Card(), db_path=db, profile_path=path) is not None
    assert not load_profile(path).active and point_in_use(Card(), path) == factory_point(Card())
    rows = _rows(db)
    assert [r.action for r in rows] == [AuditAction.CALIBRATION, AuditAction.PROFILE_REVERT]
    assert json.loads(rows[1].old_value)["source"] == "site"
    assert rows[1].threshold == 0.05 and rows[1].threshold_source is ThresholdSource.FACTORY
    # Nothing left to revert: nothing changes, nothing is recorded.
    assert revert(Card(), db_path=db, profile_path=path) is None
    assert revert(Card(), db_path=db, profile_path=tmp_path / "none.json") is None
    assert len(_rows(db)) == 2


def test_a_damaged_profile_is_neither_overwritten_nor_audited(calibration, tmp_path):
    db, path = tmp_path / "results.sqlite3", tmp_path / "profile.json"
    path.write_text("{ not json")
    with pytest.raises(SiteProfileError):
        apply_calibration(calibration, Card(), db_path=db, profile_path=path)
    with pytest.raises(SiteProfileError):
        revert(Card(), db_path=db, profile_path=path)
    assert path.read_text() == "{ not json" and _rows(db) == []
    assert point_in_use(Card(), path) == factory_point(Card())


def test_another_models_profile_is_not_in_use(calibration, tmp_path):
    db, path = tmp_path / "results.sqlite3", tmp_path / "profile.json"
    apply_calibration(calibration, Card(sha256="f" * 64), db_path=db, profile_path=path)
    assert point_in_use(Card(), path) == OperatingPoint(0.05, 0.9, ThresholdSource.FACTORY)
