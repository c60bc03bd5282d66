"""Hand-made model cards in the training package's format (card_schema 1), for the tests that
need a card with particular values without training a model."""

from __future__ import annotations

import copy
import json
from pathlib import Path

COUNTS = {"total": 10, "patients": 4, "normal": 3, "bacteria": 5, "virus": 2}


def metrics(threshold: float, **changes) -> dict:
    values = {
        "threshold": threshold, "n": 624, "accuracy": 0.9, "sensitivity": 0.98712,
        "specificity": 0.75, "precision": 0.5, "f1": 0.66, "roc_auc": 0.95,
        "confusion_matrix": {"tn": 7, "fp": 3, "fn": 1, "tp": 20}, "recall_bacteria": 1.0,
        "recall_virus": 0.9,
    }
    values.update(changes)
    return values


def card_data(**changes) -> dict:
    """A complete, valid card; ``changes`` replace top-level sections."""
    points = {"at_0.5": metrics(0.5), "at_operating_threshold": metrics(0.123456),
              "at_likely_threshold": metrics(0.8)}
    card = {
        "card_schema": 1, "name": "handmade", "version": "2.3.4",
        "created": "2024-05-06T07:08:09+00:00", "model_file": "handmade.keras",
        "sha256": "ab" * 32, "parameters": 1234567,
        "input": {"height": 224, "width": 224, "channels": 1, "color": "grayscale",
                  "resize": "whole image", "value_range": [0, 255], "dtype": "float32",
                  "equalize": "histogram", "preprocessing": "equalised"},
        "output": {"activation": "sigmoid", "meaning": "P(PNEUMONIA)",
                   "classes": ["NORMAL", "PNEUMONIA"],
                   "decision": "PNEUMONIA when probability >= threshold"},
        "threshold": {"value": 0.123456, "rule": "by hand", "chosen_on": "validation",
                      "target_sensitivity": 0.99,
                      "likely": {"value": 0.8, "rule": "by hand, high",
                                 "target_specificity": 0.99}},
        "data": {"source": "nowhere", "split": "patient", "split_seed": 7,
                 "validation_fraction": 0.1, "train": COUNTS, "validation": COUNTS,
                 "test": COUNTS},
        "training": {"seconds": 90.0, "epochs_run": 3, "best_epoch": 2,
                     "seconds_per_epoch": 30.0, "device": "CPU", "config": {}},
        "metrics": {"validation": copy.deepcopy(points), "test": copy.deepcopy(points)},
        "plots": {"confusion_matrix": "handmade.confusion_matrix.png",
                  "roc": "handmade.roc.png", "learning_curves": "handmade.learning_curves.png"},
        "libraries": {"keras": "3.0"},
        "intended_use": "Card's own intended use.",
        "dataset_citation": "Someone et al., CC BY 4.0.",
        "changelog": [{"version": "2.3.4", "date": "2024-05-06", "changes": "first"}],
    }
    card.update(changes)
    return card


def write_card(folder: Path, data: dict, name: str = "handmade") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.card.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def set_field(data: dict, dotted: str, value) -> dict:
    """A copy of ``data`` with the field at ``dotted`` ("threshold.value") set, or removed
    when ``value`` is :data:`REMOVE`."""
    data = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is REMOVE:
        del node[last]
    else:
        node[last] = value
    return data


REMOVE = object()
