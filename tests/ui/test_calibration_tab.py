"""The Site calibration view over the real widgets: the films from the store's review marks
and a scored folder, the ROC and metrics, what the site still needs, Apply (confirmed) and
Revert each changing the classifier's operating point for new verdicts and adding exactly one
audit row, a profile for another model ignored with a visible notice, and monitoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import beta

from pneumo_desktop.core.audit import AuditAction, AuditTrail
from pneumo_desktop.core.calibration import (
    LabelledScores,
    LocalMetrics,
    calibrate,
    films_needed,
)
from pneumo_desktop.core.results import ThresholdSource
from pneumo_desktop.core.site_profile import default_profile_path, load_profile
from pneumo_desktop.ui.batch_tab import BatchTab
from pneumo_desktop.ui.calibration_tab import CalibrationTab
from pneumo_desktop.ui.site_profile_service import SiteProfileService, use_profile_at_load
from pneumo_desktop.ui.viewer_tab import ViewerTab
from tests.ui.site_helpers import (
    FACTORY,
    fake_classifier,
    reviewed_scan,
    unreviewed_scan,
    write_film,
)

TIMEOUT_MS = 30_000
RNG = np.random.default_rng(5)
PNEUMONIAS = np.clip(RNG.beta(6, 1.5, 170), 0.2, 0.999)  # all above the factory threshold
NORMALS = RNG.beta(1.2, 6, 90)


@pytest.fixture
def classifier(tmp_path):
    return fake_classifier(tmp_path / "card")


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "results.sqlite3"


@pytest.fixture
def inference(make_inference, classifier):
    return make_inference(classifier)


@pytest.fixture
def tab(qtbot, inference, db_path):
    profiles = SiteProfileService(inference, db_path)
    view = CalibrationTab(inference, profiles, db_path)
    qtbot.addWidget(view)
    view.confirm = lambda title, question: True
    yield view
    view.shutdown()


def _refreshed(qtbot, tab):
    with qtbot.waitSignal(tab.overviewUpdated, timeout=TIMEOUT_MS) as updated:
        assert tab.refresh()
    return updated.args[0]


def _applied(qtbot, tab, classifier, db_path, tmp_path) -> None:
    """Reviewed films enough to calibrate, and the rule's threshold applied."""
    reviewed_scan(db_path, classifier.card, tmp_path / "films", PNEUMONIAS, NORMALS)
    _refreshed(qtbot, tab)
    with qtbot.waitSignal(tab.overviewUpdated, timeout=TIMEOUT_MS):
        assert tab.apply()


def _cell(table, row, column) -> str:
    return table.item(row, column).text()


def _audit(db_path, action):
    with AuditTrail(db_path) as trail:
        return trail.entries(action=action)


def test_few_reviewed_films_show_the_roc_the_intervals_and_what_the_site_needs(
    qtbot, tab, classifier, db_path, tmp_path
):
    reviewed_scan(db_path, classifier.card, tmp_path / "monday", PNEUMONIAS[:20], NORMALS[:30])
    reviewed_scan(db_path, classifier.card, tmp_path / "monday", PNEUMONIAS[:20], NORMALS[:30])
    overview = _refreshed(qtbot, tab)
    # The same films reviewed in two scans count once.
    assert overview.films.scores.size == 50
    assert "20 confirmed pneumonia, 30 confirmed normal" in tab.films_label.text()
    assert tab.roc_plot.has_curve and len(tab.roc_plot.markers) == 2
    assert tab.metrics_table.rowCount() == 3
    assert _cell(tab.metrics_table, 0, 0) == f"{FACTORY.threshold:.4f}"
    assert _cell(tab.metrics_table, 0, 1).startswith("1.000 (0.832–1.000) 20/20")
    assert "129 more confirmed pneumonias" in tab.needs_label.text()
    assert "factory threshold kept" in tab.rule_label.text()
    assert tab.apply_button.isEnabled() and not tab.revert_button.isEnabled()
    assert "no site profile" in tab.notice_label.text()


def test_the_metrics_table_shows_what_core_calibration_computes_for_a_hand_made_store(
    qtbot, tab, classifier, db_path, tmp_path
):
    # 160 pneumonias (enough for the rule to raise the threshold), 5 of them at 0.3, and 50
    # normals (9 short of the likely rule's 59), half at 0.05 and half at 0.5: at the factory
    # threshold and at the rule's, all 160 pneumonias and 25 normals are flagged (185 of 210
    # films), as hand-counted below.
    pneumonias = [0.3] * 5 + [0.9] * 155
    normals = [0.05] * 25 + [0.5] * 25
    reviewed_scan(db_path, classifier.card, tmp_path / "hand", pneumonias, normals)
    overview = _refreshed(qtbot, tab)
    films = LabelledScores.of(pneumonias + normals, [1] * 160 + [0] * 50)
    expected = calibrate(films, FACTORY)
    assert overview.calibration.proposed == expected.proposed
    # The rule raises the threshold as far as every pneumonia stays caught: just below 0.3.
    assert expected.outcome == "calibrated"
    assert expected.proposed.threshold < 0.3
    assert expected.proposed.threshold == pytest.approx(0.3, abs=1e-5)

    rows = [(FACTORY.threshold, "1.000", "160/160", "0.500", "25/50", "88%"),
            (expected.proposed.threshold, "1.000", "160/160", "0.500", "25/50", "88%"),
            (expected.point_estimate_threshold, None, None, None, None, None)]
    assert tab.metrics_table.rowCount() == 3
    for row, (threshold, sensitivity, hits, specificity, passes, flagged) in enumerate(rows):
        metrics = LocalMetrics.at(films, threshold)
        assert _cell(tab.metrics_table, row, 0) == f"{threshold:.4f}"
        assert _cell(tab.metrics_table, row, 1) == str(metrics.sensitivity)
        assert _cell(tab.metrics_table, row, 2) == str(metrics.specificity)
        assert _cell(tab.metrics_table, row, 3) == f"{metrics.flagged.value:.0%}"
        if sensitivity is not None:  # the hand count agrees with core
            assert _cell(tab.metrics_table, row, 1).startswith(sensitivity)
            assert _cell(tab.metrics_table, row, 1).endswith(hits)
            assert _cell(tab.metrics_table, row, 2).startswith(specificity)
            assert _cell(tab.metrics_table, row, 2).endswith(passes)
            assert _cell(tab.metrics_table, row, 3) == flagged
    # The intervals are the exact (Clopper-Pearson) 95% ones: 25/50 and 160/160.
    low, high = beta.ppf(0.025, 25, 26), beta.ppf(0.975, 26, 25)
    assert f"({low:.3f}–{high:.3f})" in _cell(tab.metrics_table, 0, 2)
    assert f"({0.025 ** (1 / 160):.3f}–1.000)" in _cell(tab.metrics_table, 0, 1)
    assert tab.rule_label.text() == f"Rule: {expected.verdict()}."
    assert films_needed(0.95) - 50 == 9
    assert "9 more confirmed normals" in tab.needs_label.text()
    assert "pneumonias" not in tab.needs_label.text()
    assert tab.roc_plot.has_curve
    assert [m.label for m in tab.roc_plot.markers] == [
        f"factory {FACTORY.threshold:.4f}", f"site {expected.proposed.threshold:.4f}"]


def test_with_no_confirmed_pneumonia_the_view_says_so_and_offers_no_apply(
    qtbot, tab, classifier, db_path, tmp_path
):
    reviewed_scan(db_path, classifier.card, tmp_path / "day", [], NORMALS[:10])
    _refreshed(qtbot, tab)
    assert not tab.roc_plot.has_curve
    assert "no confirmed pneumonia films" in tab.rule_label.text()
    assert not tab.apply_button.isEnabled()


def test_apply_needs_a_confirmation_then_new_verdicts_say_site_and_one_row_is_audited(
    qtbot, tab, classifier, db_path, tmp_path, inference
):
    reviewed_scan(db_path, classifier.card, tmp_path / "films", PNEUMONIAS, NORMALS)
    overview = _refreshed(qtbot, tab)
    proposed = overview.calibration.proposed
    assert overview.calibration.outcome == "calibrated" and proposed.threshold > FACTORY.threshold

    tab.confirm = lambda title, question: False
    assert not tab.apply()
    assert load_profile() is None and _audit(db_path, AuditAction.CALIBRATION) == []

    asked = []
    tab.confirm = lambda title, question: asked.append(question) or True
    with qtbot.waitSignal(tab.overviewUpdated, timeout=TIMEOUT_MS):
        assert tab.apply()
    assert f"{proposed.threshold:.4f}" in asked[0] and "audit trail" in asked[0]
    assert classifier.operating_point == proposed  # on the classifier, for new verdicts
    assert load_profile().active and tab.revert_button.isEnabled()
    assert tab.in_use_label.text().startswith(f"Site threshold {proposed.threshold:.4f}")
    assert tab.history_table.rowCount() == 1 and _cell(tab.history_table, 0, 1) == "calibrated"
    [row] = _audit(db_path, AuditAction.CALIBRATION)
    assert row.threshold == pytest.approx(proposed.threshold)
    assert row.threshold_source is ThresholdSource.SITE
    assert json.loads(row.old_value)["source"] == "factory"

    # The viewer's next verdict is made at the site threshold.
    viewer = ViewerTab(inference)
    qtbot.addWidget(viewer)
    film = write_film(tmp_path / "new" / "film.png", 0.5)
    with qtbot.waitSignal(viewer.classified, timeout=TIMEOUT_MS):
        viewer.open_path(film)
    prediction = viewer.classification.prediction
    assert prediction.threshold_source is ThresholdSource.SITE
    assert prediction.threshold == pytest.approx(proposed.threshold)

    # So is a scan's, in the worklist and the store.
    batch = BatchTab(inference, db_path)
    qtbot.addWidget(batch)
    write_film(tmp_path / "new" / "other.png", 0.05)
    with qtbot.waitSignal(batch.scanFinished, timeout=TIMEOUT_MS):
        assert batch.start_scan(tmp_path / "new")
    scanned = [batch.result_for_path(path) for path in batch.worklist_paths()]
    assert len(scanned) == 2
    assert {row.threshold_source for row in scanned} == {ThresholdSource.SITE}
    assert all(row.threshold == pytest.approx(proposed.threshold) for row in scanned)


def test_revert_goes_back_to_the_factory_threshold_with_one_audit_row(
    qtbot, tab, classifier, db_path, tmp_path
):
    _applied(qtbot, tab, classifier, db_path, tmp_path)
    with qtbot.waitSignal(tab.overviewUpdated, timeout=TIMEOUT_MS):
        assert tab.revert()
    assert classifier.operating_point == FACTORY
    assert not load_profile().active and not tab.revert_button.isEnabled()
    assert [_cell(tab.history_table, r, 1) for r in range(2)] == ["reverted", "calibrated"]
    assert len(_audit(db_path, AuditAction.PROFILE_REVERT)) == 1
    assert len(_audit(db_path, AuditAction.CALIBRATION)) == 1
    assert "Applied: every verdict from now on uses the factory threshold" in \
        tab.message_label.text()


def test_a_profile_for_another_model_is_ignored_with_a_visible_notice(
    qtbot, tab, classifier, db_path, tmp_path
):
    reviewed_scan(db_path, classifier.card, tmp_path / "films", PNEUMONIAS, NORMALS)
    other = fake_classifier(tmp_path / "other", sha256="cd" * 32, version="9.9.9")
    from pneumo_desktop.core.calibration import calibrate
    from pneumo_desktop.core.site_changes import apply_calibration

    calibration = calibrate(_refreshed(qtbot, tab).films, FACTORY)
    apply_calibration(calibration, other.card, db_path=tmp_path / "other.sqlite3")
    use_profile_at_load(classifier)  # what loading the model does
    assert classifier.operating_point == FACTORY
    _refreshed(qtbot, tab)
    assert "calibrated for model handmade 9.9.9" in tab.notice_label.text()
    assert "font-weight: bold" in tab.notice_label.styleSheet()
    assert tab.in_use_label.text().startswith("Factory threshold")
    assert tab.history_table.rowCount() == 1  # the other model's history, shown for what it is
    assert not tab.revert_button.isEnabled()


def test_a_damaged_profile_is_named_and_the_factory_threshold_kept(qtbot, tab, classifier):
    default_profile_path().write_text("{ damaged")
    use_profile_at_load(classifier)
    assert classifier.operating_point == FACTORY
    _refreshed(qtbot, tab)
    assert "damaged" in tab.notice_label.text() or "not valid JSON" in tab.notice_label.text()


def test_a_folder_is_scored_on_the_inference_thread_with_progress_and_joins_the_films(
    qtbot, tab, classifier, db_path, tmp_path
):
    reviewed_scan(db_path, classifier.card, tmp_path / "films", PNEUMONIAS[:10], NORMALS[:10])
    folder = tmp_path / "site"
    for index, score in enumerate((0.6, 0.7, 0.95)):
        write_film(folder / "PNEUMONIA" / f"p{index}.png", score)
    for index, score in enumerate((0.05, 0.1)):
        write_film(folder / "NORMAL" / f"n{index}.png", score)
    (folder / "NORMAL" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    progress = []
    tab.folder_box.progress_bar.valueChanged.connect(progress.append)
    with qtbot.waitSignal(tab.overviewUpdated, timeout=TIMEOUT_MS) as updated:
        with qtbot.waitSignal(tab.folder_box.scored, timeout=TIMEOUT_MS):
            assert tab.folder_box.score(folder)
    overview = updated.args[0]
    assert overview.folder.scores.size == 5 and overview.films.scores.size == 25
    assert set(classifier.threads) == {"inference"}
    assert progress[-1] == 6
    assert "5 films scored (3 pneumonia, 2 normal); 1 skipped (broken.png" in \
        tab.folder_box.status_label.text()
    tab.folder_box.clear()
    qtbot.waitUntil(lambda: not tab.is_refreshing and tab.overview.folder is None,
                    timeout=TIMEOUT_MS)


def test_monitoring_shows_the_share_flagged_and_alerts_when_it_leaves_the_band(
    qtbot, tab, classifier, db_path, tmp_path
):
    _applied(qtbot, tab, classifier, db_path, tmp_path)
    box = tab.monitoring_box
    assert not box.alert_label.isVisibleTo(tab) and tab.overview.current_alert is None
    assert "260 films classified, 260 reviewed" in box.summary_label.text()
    # A new X-ray machine: this week, 300 films that all score low.
    unreviewed_scan(db_path, classifier.card, tmp_path / "new_machine", [0.01] * 300)
    overview = _refreshed(qtbot, tab)
    assert overview.current_alert is not None and "recalibrate" in overview.current_alert
    assert box.alert_label.isVisibleTo(tab)
    assert box.table.rowCount() == 1  # this week
    assert _cell(box.table, 0, 1) == "560"
