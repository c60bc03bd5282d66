"""A calibration folder scored with the classifier, and ``pneumo-calibrate`` end to end on the
tiny model (films the test makes)."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo_desktop.core.audit import AuditAction, AuditTrail
from pneumo_desktop.core.local_films import (
    as_labelled_scores,
    labelled_files,
    score_labelled_files,
)
from pneumo_desktop.core.results import Verdict
from tests.conftest import REPO_ROOT, synthetic_xray


def _films(folder: Path, normals: int, pneumonias: int, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    for name, count in (("NORMAL", normals), ("pneumonia", pneumonias)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixels = synthetic_xray(rng, name != "NORMAL")
            Image.fromarray(pixels).save(folder / name / f"{name}-{index}.png")
    return folder


@pytest.fixture
def site_folder(tmp_path) -> Path:
    folder = _films(tmp_path / "site", normals=5, pneumonias=6)
    (folder / "pneumonia" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (folder / "OTHER").mkdir()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(folder / "OTHER" / "x.png")
    return folder


def test_labelled_files_take_the_label_from_the_subfolder(site_folder):
    files = labelled_files(site_folder)
    labels = [label for _, label in files]
    assert labels.count(Verdict.NORMAL) == 5 and labels.count(Verdict.PNEUMONIA) == 7
    assert all("OTHER" not in str(path) for path, _ in files)
    with pytest.raises(NotADirectoryError):
        labelled_files(site_folder / "missing")


def test_an_unreadable_film_is_reported_and_skipped(site_folder, tiny_classifier):
    films = list(score_labelled_files(labelled_files(site_folder), tiny_classifier, batch_size=4))
    assert len(films) == 12
    broken = [film for film in films if not film.scored]
    assert [Path(film.path).name for film in broken] == ["broken.jpg"]
    assert broken[0].message
    scores = as_labelled_scores(films)
    assert scores.labels.tolist().count(1) == 6 and scores.labels.tolist().count(0) == 5
    assert np.all((scores.scores >= 0) & (scores.scores <= 1))


def _calibrate(*args: str, profile: Path | None = None) -> subprocess.CompletedProcess:
    env_profile = ["--profile", str(profile)] if profile else []
    return subprocess.run(
        [sys.executable, "-m", "pneumo_desktop.calibrate_cli", *args, *env_profile],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=900,
    )


def test_cli_prints_the_table_and_applies_only_when_asked(site_folder, tiny_models_dir, tmp_path):
    profile = tmp_path / "profile.json"
    done = _calibrate(str(site_folder), "--models-dir", str(tiny_models_dir), profile=profile)
    assert done.returncode == 0, done.stderr
    assert "11 local films (6 pneumonia, 5 normal; 1 skipped" in done.stdout
    assert "ROC AUC" in done.stdout and "factory (model card)" in done.stdout
    assert "143 more confirmed pneumonias" in done.stdout
    assert "broken.jpg" in done.stderr and "not applied" in done.stderr
    assert not profile.exists()

    done = _calibrate(
        str(site_folder), "--models-dir", str(tiny_models_dir), "--apply", profile=profile
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(profile.read_text())
    card = json.loads((tiny_models_dir / "cnn_deep_aug.card.json").read_text())
    assert data["model"]["sha256"] == card["sha256"] and data["active"]
    assert data["counts"]["pneumonia"] == 6 and data["counts"]["normal"] == 5
    assert "wrote site profile" in done.stderr
    with AuditTrail(os.environ["PNEUMO_DB"]) as trail:  # the tests' own database
        [row] = trail.entries()
    assert row.action is AuditAction.CALIBRATION and row.model_sha256 == card["sha256"]
    assert row.threshold == pytest.approx(data["threshold"]["value"])
    assert json.loads(row.old_value)["source"] == "factory"


def test_cli_without_pneumonias_exits_2_and_writes_nothing(tmp_path, tiny_models_dir):
    folder = _films(tmp_path / "site", normals=3, pneumonias=0)
    profile = tmp_path / "profile.json"
    done = _calibrate(
        str(folder), "--models-dir", str(tiny_models_dir), "--apply", profile=profile
    )
    assert done.returncode == 2
    assert "no confirmed pneumonia films" in done.stderr
    assert not profile.exists()


def test_cli_on_a_missing_or_empty_folder_or_a_bad_target_exits_2(tmp_path):
    assert _calibrate(str(tmp_path / "missing")).returncode == 2
    (tmp_path / "empty").mkdir()
    done = _calibrate(str(tmp_path / "empty"))
    assert done.returncode == 2 and "no films under" in done.stderr
    _films(tmp_path / "site", 1, 1)
    done = _calibrate(str(tmp_path / "site"), "--target-sensitivity", "0.9")
    assert done.returncode == 2 and "at least 0.95" in done.stderr


def test_cli_over_a_damaged_profile_exits_2_and_leaves_it(site_folder, tiny_models_dir, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text("{damaged")
    done = _calibrate(
        str(site_folder), "--models-dir", str(tiny_models_dir), "--apply", profile=profile
    )
    assert done.returncode == 2 and "not valid JSON" in done.stderr
    assert profile.read_text() == "{damaged"
    # Without --apply the table is still the answer: it ran, and says the profile is damaged.
    done = _calibrate(str(site_folder), "--models-dir", str(tiny_models_dir), profile=profile)
    assert done.returncode == 0 and "not valid JSON" in done.stderr


def test_cli_refuses_a_model_that_fails_its_checksum(site_folder, tiny_models_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    with open(models / "cnn_deep_aug.onnx", "ab") as handle:  # the graph the app runs
        handle.write(b"tampered")
    done = _calibrate(str(site_folder), "--models-dir", str(models))
    assert done.returncode == 3 and "does not match its model card" in done.stderr


# pneumo-scan with a site profile ------------------------------------------------------------


def _profile_for(models_dir: Path, path: Path, sha256: str | None = None) -> float:
    """A calibrated profile for the model in ``models_dir`` (or for another model's sha256);
    returns its operating threshold."""
    from pneumo_desktop.core.calibration import LabelledScores, calibrate
    from pneumo_desktop.core.model import ModelCard
    from pneumo_desktop.core.results import OperatingPoint, ThresholdSource
    from pneumo_desktop.core.site_profile import save_calibration

    card = ModelCard.load(models_dir / "cnn_deep_aug.card.json")
    rng = np.random.default_rng(0)
    films = LabelledScores.of(np.concatenate([rng.uniform(0.3, 1, 150), rng.uniform(0, 1, 60)]),
                              [1] * 150 + [0] * 60)
    factory = OperatingPoint(card.threshold, card.likely_threshold, ThresholdSource.FACTORY)
    profile = save_calibration(calibrate(films, factory), card, path)
    if sha256 is not None:
        data = profile.data
        data["model"].update(sha256=sha256, version="0.9")
        path.write_text(json.dumps(data))
    return profile.operating_point.threshold


def _scan(folder: Path, out: Path, models_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pneumo_desktop.cli", str(folder), "--out", str(out),
         "--models-dir", str(models_dir), *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=900,
    )


def _thresholds(out: Path) -> set[tuple[str, str]]:
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    return {(row["threshold"], row["threshold_source"]) for row in rows if row["status"] == "ok"}


def test_scan_with_a_named_profile_uses_its_threshold(site_folder, tiny_models_dir, tmp_path):
    profile = tmp_path / "named.json"
    threshold = _profile_for(tiny_models_dir, profile)
    out = tmp_path / "out.csv"
    done = _scan(site_folder, out, tiny_models_dir, "--profile", str(profile))
    assert done.returncode == 0, done.stderr
    assert f"site threshold {threshold:.4f}" in done.stderr
    assert f"threshold {threshold:.4f} (site)" in done.stderr
    assert _thresholds(out) == {(f"{threshold:.6f}", "site")}


def test_scan_applies_the_users_profile_only_for_its_model(
    site_folder, tiny_models_dir, tmp_path, monkeypatch
):
    users = tmp_path / "users_profile.json"
    monkeypatch.setenv("PNEUMO_SITE_PROFILE", str(users))
    card = json.loads((tiny_models_dir / "cnn_deep_aug.card.json").read_text())
    factory = (f"{card['threshold']['value']:.6f}", "factory")
    out = tmp_path / "out.csv"

    _profile_for(tiny_models_dir, users, sha256="f" * 64)
    done = _scan(site_folder, out, tiny_models_dir)
    assert done.returncode == 0, done.stderr
    assert "calibrated for model cnn_deep_aug 0.9" in done.stderr
    assert "recalibrate for each model version" in done.stderr
    assert _thresholds(out) == {factory}

    threshold = _profile_for(tiny_models_dir, users)
    done = _scan(site_folder, out, tiny_models_dir)
    assert done.returncode == 0, done.stderr
    assert _thresholds(out) == {(f"{threshold:.6f}", "site")}

    users.write_text("{damaged")  # the user's own damaged profile: said, and factory used
    done = _scan(site_folder, out, tiny_models_dir)
    assert done.returncode == 0, done.stderr
    assert "not valid JSON" in done.stderr and _thresholds(out) == {factory}


def test_scan_with_a_missing_or_damaged_named_profile_exits_2(
    site_folder, tiny_models_dir, tmp_path
):
    out = tmp_path / "out.csv"
    done = _scan(site_folder, out, tiny_models_dir, "--profile", str(tmp_path / "none.json"))
    assert done.returncode == 2 and "site profile not found" in done.stderr
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"profile_version": 1}')
    done = _scan(site_folder, out, tiny_models_dir, "--profile", str(damaged))
    assert done.returncode == 2 and "model.sha256" in done.stderr
    assert not out.exists()
