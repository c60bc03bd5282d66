"""The site-calibration simulation, on synthetic scores."""

import json

import numpy as np
import pytest

from tests.conftest import MODELS_DIR
from training import sitecal
from training.__main__ import main as training_main


def test_the_two_normal_series_and_each_person_are_separate_patients():
    assert sitecal.site_patient("IM-0115-0001.jpeg") == "IM-115"
    assert sitecal.site_patient("NORMAL2-IM-0115-0001.jpeg") == "NORMAL2-IM-115"
    assert sitecal.site_patient("person12_virus_3.jpeg") == "person-12"
    assert sitecal.site_patient("person12_bacteria_40.jpeg") == "person-12"
    with pytest.raises(ValueError, match="patient id"):
        sitecal.site_patient("scan.png")


def test_a_calibration_part_takes_whole_patients_until_it_has_enough_films():
    rng = np.random.default_rng(0)
    patients = np.repeat([f"p{i}" for i in range(100)], rng.integers(1, 5, 100))
    for size in (10, 50, None):
        mask = sitecal.calibration_mask(patients, size, rng)
        wanted = len(patients) / 2 if size is None else size
        assert wanted <= mask.sum() < wanted + 4  # at most one patient over
        assert not set(patients[mask]) & set(patients[~mask])


def _site(pneumonias: int, normals: int, seed: int = 0):
    """Separable classes: pneumonias 0.6-1, normals 0-0.4 (a quarter of them above 0.3)."""
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.uniform(0.6, 1.0, pneumonias), rng.uniform(0, 0.4, normals)])
    labels = np.array([1] * pneumonias + [0] * normals)
    patients = np.array([f"p{i // 2}" for i in range(pneumonias + normals)])
    return scores, labels, patients


def test_simulation_reports_every_size_and_rule_on_the_report_part():
    scores, labels, patients = _site(400, 240)
    rows = sitecal.simulate(scores, labels, patients, 0.3, splits=20, seed=1)
    assert [(r["calibration_size"], r["rule"]) for r in rows] == [
        (size, rule) for size in sitecal.CALIBRATION_SIZES for rule in sitecal.RULES
    ]
    by = {(r["calibration_size"], r["rule"]): r for r in rows}
    # The factory threshold 0.3 catches every pneumonia and flags the normals above it.
    factory = by[(50, "factory")]
    assert factory["sensitivity"]["mean"] == 1.0 and factory["sensitivity"]["below_0.98"] == 0
    assert factory["specificity"]["mean"] == pytest.approx(0.75, abs=0.05)
    # 50 films hold too few pneumonias: the default rule keeps the factory threshold ...
    assert by[(50, "default")]["threshold"]["p95"] == pytest.approx(0.3)
    assert by[(50, "default")]["specificity"] == factory["specificity"]
    # ... while half of 640 films holds enough to raise it just under the lowest pneumonia.
    half = by[("half", "default")]
    assert half["threshold"]["p5"] > 0.59 and half["specificity"]["mean"] == 1.0
    assert half["calibration_films_mean"] == pytest.approx(320, abs=2)


def test_shares_below_098_and_095_count_the_splits():
    # Overlapping classes: the point estimate at 0.98 misses more than 2% on many report parts.
    rng = np.random.default_rng(3)
    scores = np.concatenate([rng.beta(4, 2, 300), rng.beta(2, 4, 300)])
    labels = np.array([1] * 300 + [0] * 300)
    patients = np.arange(600).astype(str)
    rows = sitecal.simulate(scores, labels, patients, 0.05, splits=50, sizes=(50,))
    point = next(r for r in rows if r["rule"] == "point_estimate")
    shares = point["sensitivity"]
    assert 0 < shares["below_0.95"] <= shares["below_0.98"] < 1
    assert shares["p5"] <= shares["mean"] <= shares["p95"]


def test_sizes_larger_than_half_the_films_are_skipped():
    scores, labels, patients = _site(40, 40)
    rows = sitecal.simulate(scores, labels, patients, 0.3, splits=3)
    assert {r["calibration_size"] for r in rows} == {"half"}


def test_command_reads_a_scores_file_and_writes_the_card_section(tmp_path, capsys):
    """The section goes through training.card's validated, section-wise update."""
    scores, labels, _ = _site(200, 120)
    paths = [
        f"test/{'PNEUMONIA' if label else 'NORMAL'}/"
        + (f"person{i}_bacteria_{i}.jpeg" if label else f"NORMAL2-IM-{i:04d}-0001.jpeg")
        for i, label in enumerate(labels)
    ]
    scores_file = tmp_path / "scores.csv"
    sitecal.write_scores(scores_file, paths, labels, scores)
    assert sitecal.read_scores(scores_file)[2].tolist() == scores.tolist()  # lossless
    model_file = tmp_path / "m.keras"
    card_path = tmp_path / "m.card.json"
    card = json.loads((MODELS_DIR / "cnn_deep_aug.card.json").read_text())  # a valid card
    card["threshold"]["value"] = 0.3
    card.pop("site_calibration", None)
    card_path.write_text(json.dumps(card))

    code = training_main([
        "sitecal", "--model-file", str(model_file), "--scores", str(scores_file),
        "--splits", "5", "--card", "--json", str(tmp_path / "report.json"),
    ])

    assert code == 0
    assert "point_estimate" in capsys.readouterr().out
    card = json.loads(card_path.read_text())
    section = card["site_calibration"]
    assert card["name"] == "cnn_deep_aug" and section["films"] == 320 and section["splits"] == 5
    assert section["factory_threshold"] == 0.3 and "149" in section["rules"]["default"]
    assert json.loads((tmp_path / "report.json").read_text()) == section
    assert len(section["results"]) == 3 * len(sitecal.RULES)  # 200 > half of 320: skipped


def test_labels_come_from_the_folder_when_the_scores_file_has_none(tmp_path):
    scores_file = tmp_path / "scan.csv"
    scores_file.write_text(
        "path,status,probability\n/x/NORMAL/IM-0001-0001.jpeg,ok,0.25\n"
        "/x/PNEUMONIA/person1_virus_1.jpeg,ok,0.75\n/x/NORMAL/bad.jpeg,error,\n"
    )
    paths, labels, scores = sitecal.read_scores(scores_file)
    assert labels.tolist() == [0, 1] and scores.tolist() == [0.25, 0.75] and len(paths) == 2
