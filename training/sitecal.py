"""``python -m training sitecal``: the test set as a new clinic, simulated.

Every clinic is a new acquisition site, so the app calibrates its operating threshold on the
site's own confirmed films (``pneumo-calibrate``). This measures what that buys. Many times
over, the test films are split at random **by patient** into a calibration part (50, 100 or
200 films, or half) and a report part; each rule sets a threshold from the calibration part,
starting from the card's factory threshold, and sensitivity and specificity are measured on the
report part. The summary per size and rule: mean, 5th and 95th percentile, and the share of
splits whose report sensitivity falls below 0.98 and below 0.95.

Rules: ``factory`` (the card's threshold, never changed), ``default`` (the app's default rule:
the one-sided 95% Clopper–Pearson lower bound of sensitivity, see
``pneumo_desktop/core/calibration.py``), ``point_estimate`` (the highest threshold whose
calibration-part sensitivity is >= the target; for information).

This is the one place training looks at test films to set a threshold, and only inside this
protocol (a calibration part, reported on the other part): model choice, early stopping and the
factory threshold never see test. Patients: ``IM-XXXX`` and ``NORMAL2-IM-XXXX`` number patients
separately, so they are different patients here; so is each ``personNNN``.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from . import data

CALIBRATION_SIZES = (50, 100, 200, "half")
RULES = ("factory", "default", "point_estimate")
DEFAULT_SPLITS = 200
DEFAULT_TARGET = 0.98
SCORE_MARGIN = 1e-6  # as the app's: a threshold set at a score sits this far below it

_PATIENT = re.compile(r"^(NORMAL2-IM|IM|person)-?(\d+)", re.IGNORECASE)


def site_patient(file_name: str) -> str:
    """``NORMAL2-IM-0115-0001.jpeg`` -> ``NORMAL2-IM-115``, ``IM-0115-0001.jpeg`` ->
    ``IM-115``, ``person12_virus_3.jpeg`` -> ``person-12``."""
    match = _PATIENT.match(file_name)
    if match is None:
        raise ValueError(f"cannot read a patient id from file name {file_name!r}")
    return f"{match.group(1)}-{int(match.group(2))}"


# The default rule, a deliberate second copy of pneumo_desktop.core.calibration's: training and
# the app share no code (import-linter), and tests/test_calibration_parity.py checks that both
# copies choose the same threshold.
def _lower_bound(successes: int, trials: int) -> float:
    from scipy.stats import binomtest

    test = binomtest(successes, trials, alternative="greater")
    return float(test.proportion_ci(confidence_level=0.95, method="exact").low)


def _films_needed(target: float) -> int:
    needed = max(math.ceil(math.log(0.05) / math.log(target)) - 1, 1)
    while _lower_bound(needed, needed) < target:
        needed += 1
    return needed


def default_rule_threshold(pneumonia_scores, factory: float, target: float) -> float:
    scores = np.sort(np.asarray(pneumonia_scores, dtype=np.float64))
    if scores.size < _films_needed(target):
        lowest = float(scores[0]) if scores.size else factory
        return max(lowest - SCORE_MARGIN, 0.0) if lowest < factory else factory
    missed = 0
    while missed < scores.size and _lower_bound(scores.size - missed - 1, scores.size) >= target:
        missed += 1
    return max(float(scores[missed]) - SCORE_MARGIN, 0.0)


def point_estimate_threshold(pneumonia_scores, factory: float, target: float) -> float:
    scores = np.sort(np.asarray(pneumonia_scores, dtype=np.float64))
    if scores.size == 0:
        return factory
    missed = int(np.floor((1.0 - target) * scores.size + 1e-9))
    return max(float(scores[missed]) - SCORE_MARGIN, 0.0)


def rule_threshold(rule: str, pneumonia_scores, factory: float, target: float) -> float:
    if rule == "factory":
        return factory
    if rule == "default":
        return default_rule_threshold(pneumonia_scores, factory, target)
    return point_estimate_threshold(pneumonia_scores, factory, target)


def calibration_mask(patients: np.ndarray, size: int | None, rng: np.random.Generator):
    """Films of whole patients, drawn at random until there are at least ``size`` of them
    (``None``: half of all films)."""
    wanted = len(patients) / 2 if size is None else size
    unique, films_per_patient = np.unique(patients, return_counts=True)
    order = rng.permutation(len(unique))
    taken = np.cumsum(films_per_patient[order])
    chosen = unique[order[: int(np.searchsorted(taken, wanted)) + 1]]
    return np.isin(patients, chosen)


def _summary(values: np.ndarray) -> dict:
    return {
        "mean": float(np.mean(values)),
        "p5": float(np.percentile(values, 5)),
        "p95": float(np.percentile(values, 95)),
    }


def simulate(
    scores, labels, patients, factory: float, *, splits: int = DEFAULT_SPLITS,
    target: float = DEFAULT_TARGET, seed: int = 0, sizes=CALIBRATION_SIZES,
) -> list[dict]:
    """One row per (calibration size, rule) with the report part's figures over ``splits``
    random patient-level splits (the same splits for every rule)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(int)
    patients = np.asarray(patients)
    rows = []
    for size in sizes:
        if size != "half" and size > len(scores) / 2:
            continue  # the report part would be smaller than the calibration part
        rng = np.random.default_rng(seed)
        figures = {rule: {"sensitivity": [], "specificity": [], "threshold": []} for rule in RULES}
        films = []
        for _ in range(splits):
            calibration = calibration_mask(patients, None if size == "half" else size, rng)
            films.append(int(calibration.sum()))
            report_scores, report_labels = scores[~calibration], labels[~calibration]
            for rule in RULES:
                threshold = rule_threshold(
                    rule, scores[calibration & (labels == 1)], factory, target
                )
                called = report_scores >= threshold
                figures[rule]["sensitivity"].append(called[report_labels == 1].mean())
                figures[rule]["specificity"].append((~called[report_labels == 0]).mean())
                figures[rule]["threshold"].append(threshold)
        for rule in RULES:
            sensitivity = np.asarray(figures[rule]["sensitivity"])
            rows.append({
                "calibration_size": size,
                "calibration_films_mean": float(np.mean(films)),
                "rule": rule,
                "threshold": _summary(np.asarray(figures[rule]["threshold"])),
                "sensitivity": _summary(sensitivity)
                | {"below_0.98": float(np.mean(sensitivity < 0.98)),
                   "below_0.95": float(np.mean(sensitivity < 0.95))},
                "specificity": _summary(np.asarray(figures[rule]["specificity"])),
            })
    return rows


def format_report(rows: list[dict]) -> str:
    lines = [
        f"{'calibration':>11} {'rule':<14} {'threshold':>9}  {'sensitivity mean [p5, p95]':<27}"
        f" {'<0.98':>6} {'<0.95':>6}  specificity mean [p5, p95]",
    ]
    for row in rows:
        sens, spec = row["sensitivity"], row["specificity"]
        lines.append(
            f"{str(row['calibration_size']):>11} {row['rule']:<14} "
            f"{row['threshold']['mean']:9.4f}  "
            f"{sens['mean']:.3f} [{sens['p5']:.3f}, {sens['p95']:.3f}]{'':7} "
            f"{sens['below_0.98']:6.1%} {sens['below_0.95']:6.1%}  "
            f"{spec['mean']:.3f} [{spec['p5']:.3f}, {spec['p95']:.3f}]"
        )
    return "\n".join(lines)


def card_section(rows: list[dict], *, films: int, factory: float, splits: int, target: float,
                 seed: int, source: str) -> dict:
    return {
        "protocol": (
            f"the test set as a new clinic: {splits} random patient-level splits into a "
            "calibration part and a report part (IM, NORMAL2-IM and person numbers as separate "
            "patients); each rule's threshold from the calibration part, starting from the "
            "factory threshold; figures on the report part"
        ),
        "rules": {
            "factory": "the card's threshold, never changed",
            "default": (
                f"the app's default: the factory threshold until enough confirmed pneumonias "
                f"({_films_needed(target)}) for the one-sided 95% Clopper-Pearson lower bound "
                f"of sensitivity to reach {target:g} (a pneumonia below it lowers it at once); "
                "then the highest threshold keeping that bound"
            ),
            "point_estimate": f"highest threshold with calibration sensitivity >= {target:g}",
        },
        "films": films,
        "factory_threshold": factory,
        "target_sensitivity": target,
        "splits": splits,
        "seed": seed,
        "scores": source,
        "results": rows,
    }


def read_scores(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Paths, labels and P(pneumonia) from a CSV with ``path`` and ``probability`` columns (a
    ``pneumo-scan`` CSV will do) and a ``label`` column, or else the label from the film's
    ``NORMAL``/``PNEUMONIA`` folder. Rows without a probability are left out."""
    paths, labels, scores = [], [], []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if not row.get("probability"):
                continue
            label = row.get("label") or Path(row["path"]).parent.name.upper()
            paths.append(row["path"])
            labels.append(data.CLASS_NAMES.index(label))
            scores.append(float(row["probability"]))
    return paths, np.asarray(labels), np.asarray(scores)


def write_scores(path: Path, paths, labels, scores) -> None:
    import io

    from .io import atomic_write_bytes

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "label", "probability"])
    for film, label, score in zip(paths, labels, scores, strict=True):
        writer.writerow([film, data.CLASS_NAMES[label], repr(float(score))])
    atomic_write_bytes(Path(path), text.getvalue().encode("utf-8"))


def score_test_set(model_file: Path, card: dict, data_dir: Path):
    """Paths, labels and the Keras model's P(pneumonia) for the test films."""
    from .config import config_for
    from .models import load_model

    model = load_model(model_file)  # registers the framing layers
    records = data.list_split(Path(data_dir) / "test")
    config = config_for(
        card["name"], channels=int(model.input_shape[-1]),
        equalize=card["input"].get("equalize") == "histogram",
    )
    dataset = data.build_dataset(records, config, training=False)
    scores = np.asarray(model.predict(dataset, verbose=0), dtype=np.float64).reshape(-1)
    return [r.path for r in records], np.asarray([r.label for r in records]), scores
