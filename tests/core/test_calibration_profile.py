"""The site profile: written atomically, bound to the model, reverted in one call, and never
used or changed when it is damaged."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from pneumo_desktop.core.calibration import LabelledScores, calibrate
from pneumo_desktop.core.results import OperatingPoint, ThresholdSource
from pneumo_desktop.core.site_profile import (
    SiteProfileError,
    default_profile_path,
    load_profile,
    profile_for_model,
    revert_to_factory,
    save_calibration,
    use_site_profile,
)


@dataclass
class FakeCard:
    sha256: str = "a" * 64
    name: str = "cnn_deep_aug"
    version: str = "1.2.0"
    threshold: float = 0.05
    likely_threshold: float = 0.9


@dataclass
class FakeClassifier:
    card: FakeCard
    operating_point: OperatingPoint = field(init=False)

    def __post_init__(self):
        self.operating_point = OperatingPoint(
            self.card.threshold, self.card.likely_threshold, ThresholdSource.FACTORY
        )


@pytest.fixture
def calibration():
    rng = np.random.default_rng(4)
    scores = np.concatenate([rng.beta(5, 1.5, 200), rng.beta(1.2, 5, 100)])
    films = LabelledScores.of(scores, [1] * 200 + [0] * 100)
    return calibrate(films, OperatingPoint(0.05, 0.9, ThresholdSource.FACTORY))


def test_the_default_place_is_the_users_data_directory_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("PNEUMO_SITE_PROFILE", raising=False)
    assert default_profile_path().name == "site_profile.json"
    assert "pneumo_desktop" in str(default_profile_path())
    monkeypatch.setenv("PNEUMO_SITE_PROFILE", str(tmp_path / "p.json"))
    assert default_profile_path() == tmp_path / "p.json"


def test_a_saved_profile_gives_the_site_operating_point_for_its_model(calibration, tmp_path):
    path = tmp_path / "site" / "profile.json"
    card = FakeCard()
    saved = save_calibration(calibration, card, path)
    assert [p.name for p in path.parent.iterdir()] == ["profile.json"]  # no temp file left
    loaded = load_profile(path)
    assert loaded.data == saved.data
    assert loaded.operating_point == OperatingPoint(
        calibration.proposed.threshold, calibration.proposed.likely_threshold,
        ThresholdSource.SITE,
    )
    assert loaded.data["counts"] == {
        "pneumonia": 200, "normal": 100, "pneumonias_needed": 0, "normals_needed": 0,
    }
    assert loaded.calibration_flagged == (
        calibration.at_proposed.flagged.successes, 300
    )
    films = loaded.calibration_films
    assert sorted(films.scores.tolist()) == sorted(calibration.films.scores.tolist())
    assert films.labels.sum() == 200 and not films.paths  # no file names in the profile
    choice = profile_for_model(card, path)
    assert choice.profile is not None
    assert f"site threshold {calibration.proposed.threshold:.4f}" in choice.notice

    classifier = FakeClassifier(card)
    use_site_profile(classifier, path)
    assert classifier.operating_point == loaded.operating_point


def test_a_profile_for_another_model_is_ignored_with_a_notice(calibration, tmp_path):
    path = tmp_path / "profile.json"
    save_calibration(calibration, FakeCard(sha256="b" * 64, version="1.1.0"), path)
    classifier = FakeClassifier(FakeCard())
    before = classifier.operating_point
    choice = use_site_profile(classifier, path)
    assert choice.profile is None
    assert "1.1.0" in choice.notice and "recalibrate" in choice.notice
    assert "factory threshold 0.0500" in choice.notice
    assert classifier.operating_point == before


def test_no_profile_means_the_factory_threshold(tmp_path):
    classifier = FakeClassifier(FakeCard())
    choice = use_site_profile(classifier, tmp_path / "none.json")
    assert choice.profile is None and "no site profile" in choice.notice
    assert classifier.operating_point.source is ThresholdSource.FACTORY


@pytest.mark.parametrize(
    ("text", "field_name"),
    [
        ("{not json", "not valid JSON"),
        ('{"profile_version": 1}', "model.sha256"),
        ("[]", "profile_version"),
    ],
)
def test_a_damaged_profile_is_refused_naming_the_problem(tmp_path, text, field_name):
    path = tmp_path / "profile.json"
    path.write_text(text)
    with pytest.raises(SiteProfileError, match=field_name):
        load_profile(path)
    classifier = FakeClassifier(FakeCard())
    with pytest.raises(SiteProfileError):
        use_site_profile(classifier, path)
    assert classifier.operating_point.source is ThresholdSource.FACTORY


def test_a_wrong_threshold_is_named(calibration, tmp_path):
    path = tmp_path / "profile.json"
    data = save_calibration(calibration, FakeCard(), path).data
    data["threshold"]["value"] = "high"
    path.write_text(json.dumps(data))
    with pytest.raises(SiteProfileError, match="threshold.value"):
        load_profile(path)


def test_calibrating_over_a_damaged_profile_changes_nothing(calibration, tmp_path):
    path = tmp_path / "profile.json"
    path.write_bytes(b'{"profile_version": 1, "model": ')
    with pytest.raises(SiteProfileError):
        save_calibration(calibration, FakeCard(), path)
    assert path.read_bytes() == b'{"profile_version": 1, "model": '
    assert [p.name for p in tmp_path.iterdir()] == ["profile.json"]


def test_revert_to_factory_is_one_call_and_keeps_the_history(calibration, tmp_path):
    path = tmp_path / "profile.json"
    card = FakeCard()
    save_calibration(calibration, card, path)
    save_calibration(calibration, card, path)
    reverted = revert_to_factory(path)
    assert not reverted.active
    assert [entry["action"] for entry in reverted.history] == [
        "calibrated", "calibrated", "reverted",
    ]
    choice = profile_for_model(card, path)
    assert choice.profile is None and "reverted to factory" in choice.notice
    again = save_calibration(calibration, card, path)
    assert again.active and len(again.history) == 4


def test_reverting_without_a_profile_does_nothing(tmp_path):
    assert revert_to_factory(tmp_path / "none.json") is None
    assert not (tmp_path / "none.json").exists()


def test_recalibrating_for_a_new_model_keeps_the_old_models_history(calibration, tmp_path):
    path = tmp_path / "profile.json"
    save_calibration(calibration, FakeCard(sha256="b" * 64), path)
    profile = save_calibration(calibration, FakeCard(), path)
    assert [entry["model_sha256"][0] for entry in profile.history] == ["b", "a"]
    assert profile_for_model(FakeCard(), Path(path)).profile is not None


def test_a_likely_threshold_just_above_a_normal_scoring_one_is_kept(tmp_path):
    rng = np.random.default_rng(5)
    normals = np.append(rng.uniform(0, 0.5, 80), 1.0)  # float32 sigmoids do reach 1.0
    films = LabelledScores.of(np.concatenate([rng.uniform(0.6, 1, 10), normals]),
                              [1] * 10 + [0] * 81)
    result = calibrate(films, OperatingPoint(0.05, 0.9, ThresholdSource.FACTORY))
    assert result.proposed.likely_threshold > 1.0
    save_calibration(result, FakeCard(), tmp_path / "p.json")
    assert load_profile(tmp_path / "p.json").operating_point.likely_threshold > 1.0
