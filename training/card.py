"""The model card: built after training, updated section by section, validated on every write.

The card is the contract with the app (``models/card.schema.json``, ``card_schema`` 1): the app
validates it against the same schema file and refuses a card that does not match. Sections:

* written by ``train`` (:func:`build_card`): identity, input, output, thresholds, data,
  training, metrics, plots, libraries, intended use, citation, changelog;
* ``heads`` by ``python -m training heads``; ``stress`` by ``python -m training stress --card``;
  ``onnx`` by ``python -m training export`` (:func:`update_section`);
* :func:`rebuild_card` (``python -m training card``) upgrades a card to the current schema for
  an existing model without retraining: it re-scores validation and test with the saved model,
  adds what older cards lack (the ``likely`` threshold, metrics at it), keeps the training
  section, the operating threshold and the other sections, and says if any metric moved.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data, evaluate
from .config import INPUT_SIZE, TrainConfig
from .io import atomic_write_json, sha256_of

log = logging.getLogger(__name__)

CARD_SCHEMA = 1
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "models" / "card.schema.json"

INTENDED_USE = (
    "Decision support for a radiologist screening paediatric chest X-rays for pneumonia. "
    "Not a diagnosis: every film is read by the radiologist, who makes the call."
)
DATASET_CITATION = (
    "Kermany D, Zhang K, Goldbaum M, et al. Identifying medical diagnoses and treatable "
    "diseases by image-based deep learning. Cell 172(5):1122-1131, 2018; Mendeley Data, "
    "doi:10.17632/rscbjbr9sj.2; licence CC BY 4.0."
)
#: The ``likely`` band starts where at most 1% of validation normals are flagged.
LIKELY_TARGET_SPECIFICITY = 0.99
LIKELY_RULE = (
    f"lowest threshold with validation specificity >= {LIKELY_TARGET_SPECIFICITY}, and not "
    "below the operating threshold (validation carved out of train by patient; test never "
    "consulted)"
)
#: The metric keys ``rebuild_card`` compares between the old card and the re-scored one.
COMPARED_METRICS = ("accuracy", "sensitivity", "specificity", "roc_auc")


class CardError(ValueError):
    """A card that does not match the schema, or a model that does not match its card."""


def card_path_for(model_file: Path) -> Path:
    model_file = Path(model_file)
    return model_file.with_name(model_file.stem + ".card.json")


def validate(card: dict) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    error = best_match(Draft202012Validator(schema).iter_errors(card))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "the top level"
        raise CardError(f"the card does not match {SCHEMA_PATH.name} at {where}: "
                        f"{error.message}")


def read_card(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_card(path: Path, card: dict) -> None:
    """Validate, then write atomically: an invalid card never reaches the disk."""
    validate(card)
    atomic_write_json(path, card)


def update_section(path: Path, section: str, value: dict) -> dict:
    """Set one section of the card at ``path`` (heads, stress, onnx) and write it back."""
    card = read_card(path)
    card[section] = value
    write_card(path, card)
    return card


@dataclass(frozen=True)
class Scored:
    """One split's labels (0 normal, 1 pneumonia), subtypes and the model's P(pneumonia)."""

    labels: np.ndarray
    subtypes: list[str]
    probabilities: np.ndarray

    @classmethod
    def of(cls, records: list[data.Record], probabilities) -> "Scored":
        return cls(np.array([r.label for r in records]), [r.subtype for r in records],
                   np.asarray(probabilities, dtype=np.float64).reshape(-1))


def choose_likely_threshold(labels, probabilities, operating: float,
                            target_specificity: float = LIKELY_TARGET_SPECIFICITY) -> float:
    """The lowest threshold at which validation specificity is still >= the target, and
    never below the operating threshold (a film called NORMAL cannot be "likely")."""
    labels = np.asarray(labels).astype(int)
    normals = np.sort(np.asarray(probabilities, dtype=np.float64)[labels == 0])[::-1]
    if normals.size == 0:
        raise CardError("cannot choose the likely threshold without normal films in validation")
    allowed = int(np.floor((1.0 - target_specificity) * normals.size + 1e-9))
    if allowed >= normals.size:
        return float(operating)
    # PNEUMONIA when P >= threshold: the first value above the (allowed+1)-th highest normal
    # flags exactly the ``allowed`` normals above it.
    lowest = float(np.nextafter(normals[allowed], np.inf))
    return float(min(max(lowest, operating), 1.0))


def metric_points(scored: Scored, operating: float, likely: float) -> dict:
    def at(threshold: float) -> dict:
        return evaluate.binary_metrics(scored.labels, scored.probabilities, threshold,
                                       scored.subtypes)

    return {"at_0.5": at(0.5), "at_operating_threshold": at(operating),
            "at_likely_threshold": at(likely)}


def threshold_section(value: float, rule: str, target_sensitivity: float | None,
                      likely: float) -> dict:
    return {
        "value": float(value),
        "rule": rule,
        "chosen_on": "validation",
        "target_sensitivity": target_sensitivity,
        "likely": {"value": float(likely), "rule": LIKELY_RULE,
                   "target_specificity": LIKELY_TARGET_SPECIFICITY},
    }


def input_section(channels: int, equalize: bool, working_size: int | None) -> dict:
    inside = (f"inside the model: rescale, resize to {working_size} px, normalise"
              if working_size else "inside the model: rescale, resize, normalise")
    return {
        "height": INPUT_SIZE,
        "width": INPUT_SIZE,
        "channels": channels,
        "color": "grayscale" if channels == 1 else "RGB (grey replicated)",
        "resize": "whole image, bilinear, aspect ratio not kept",
        "value_range": [0, 255],
        "dtype": "float32",
        "equalize": "histogram" if equalize else None,
        "preprocessing": (
            "histogram equalisation of the 224x224 grey film (Pillow ImageOps.equalize) "
            "before the model; " if equalize else "feed raw 0..255 pixels; "
        ) + inside,
    }


def changelog_with(previous: list | None, version: str, changes: str | None,
                   date: str | None = None) -> list[dict]:
    """``previous`` plus an entry for ``version`` (dated ``date``, default today) when it has
    none; ``changes`` replaces the text of an existing entry."""
    entries = [dict(entry) for entry in previous or []]
    for entry in entries:
        if entry.get("version") == version:
            if changes:
                entry["changes"] = changes
            return entries
    entries.append({"version": version, "date": date or dt.date.today().isoformat(),
                    "changes": changes or "trained with python -m training train"})
    return entries


def build_card(config: TrainConfig, model, model_path: Path, *, counts: dict,
               validation: Scored, test: Scored, threshold: float, rule: str,
               training: dict, plots: dict, libraries: dict,
               previous: dict | None = None) -> dict:
    """The card of a freshly trained model. ``counts``: train/validation/test counts;
    ``training``: seconds, epochs and device; ``previous``: the card this run replaces (its
    changelog is carried over)."""
    likely = choose_likely_threshold(validation.labels, validation.probabilities, threshold)
    target = config.target_sensitivity if config.threshold_rule != "fixed_0.5" else None
    return {
        "card_schema": CARD_SCHEMA,
        "name": config.model_name,
        "version": config.version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model_file": Path(model_path).name,
        "sha256": sha256_of(model_path),
        "parameters": int(model.count_params()),
        "input": input_section(config.channels, config.equalize, config.working_size),
        "output": {
            "activation": "sigmoid",
            "meaning": "P(PNEUMONIA)",
            "classes": list(data.CLASS_NAMES),
            "decision": "PNEUMONIA when probability >= threshold",
        },
        "threshold": threshold_section(threshold, rule, target, likely),
        "data": {
            "source": str(config.data_dir),
            "split": config.split,
            "split_seed": config.seed,
            "validation_fraction": config.val_fraction,
            **counts,
        },
        "training": training,
        "metrics": {
            "validation": metric_points(validation, threshold, likely),
            "test": metric_points(test, threshold, likely),
        },
        "plots": plots,
        "libraries": libraries,
        "intended_use": INTENDED_USE,
        "dataset_citation": DATASET_CITATION,
        "changelog": changelog_with(
            previous.get("changelog") if previous and previous.get("name") == config.model_name
            else None, config.version, None),
    }


def _predict(model, records: list[data.Record], config: TrainConfig) -> np.ndarray:
    dataset = data.build_dataset(records, config, training=False)
    return np.asarray(model.predict(dataset, verbose=0)).reshape(-1).astype(np.float64)


def rebuild_card(model_file: Path, data_dir: Path, *, changes: str | None = None,
                 limit_per_class: int | None = None) -> dict:
    """Upgrade the card of ``model_file`` to the current schema without retraining; returns
    the metrics that moved (``{"test.at_0.5.accuracy": (old, new), ...}``, empty when the
    re-scored metrics equal the card's)."""
    from .models import load_model

    model_file = Path(model_file)
    path = card_path_for(model_file)
    old = read_card(path)
    if sha256_of(model_file) != old["sha256"]:
        raise CardError(f"{model_file.name} does not match {path.name} (sha256): this is not "
                        "the model the card describes; retrain it or restore the file")
    spec = old["input"]
    equalize = spec.get("equalize") == "histogram"
    split = old["data"]
    config = TrainConfig(model_name=old["name"], data_dir=Path(data_dir),
                         channels=spec["channels"], equalize=equalize,
                         limit_per_class=limit_per_class)
    records = data.list_split(Path(data_dir) / "train", limit_per_class)
    train_records, val_records = data.split_validation(
        records, split["validation_fraction"], split["split_seed"], by=split["split"])
    test_records = data.list_split(Path(data_dir) / "test", limit_per_class)
    counts = {"train": data.counts(train_records), "validation": data.counts(val_records),
              "test": data.counts(test_records)}
    for key, value in counts.items():
        if key in split and split[key]["total"] != value["total"]:
            raise CardError(f"{data_dir} gives {value['total']} {key} films for this card's "
                            f"split, the card says {split[key]['total']}: not the same data")
    model = load_model(model_file)  # registers the framing layers
    validation = Scored.of(val_records, _predict(model, val_records, config))
    test = Scored.of(test_records, _predict(model, test_records, config))
    threshold = float(old["threshold"]["value"])
    likely = choose_likely_threshold(validation.labels, validation.probabilities, threshold)
    card = {"card_schema": CARD_SCHEMA, **old}
    card.update({
        "input": {**input_section(spec["channels"], equalize, None), **spec},
        "threshold": threshold_section(threshold, old["threshold"]["rule"],
                                       old["threshold"].get("target_sensitivity"), likely),
        "data": {**split, **counts},
        "metrics": {"validation": metric_points(validation, threshold, likely),
                    "test": metric_points(test, threshold, likely)},
        "intended_use": old.get("intended_use") or INTENDED_USE,
        "dataset_citation": old.get("dataset_citation") or DATASET_CITATION,
        "changelog": changelog_with(old.get("changelog"), old["version"], changes,
                                    old["created"][:10]),
    })
    onnx = card.get("onnx")
    if onnx and onnx.get("source_sha256") != old["sha256"]:
        del card["onnx"]  # exported from another model file: export again
    write_card(path, card)
    moved = metric_changes(old.get("metrics", {}), card["metrics"])
    log.info("%s: card rebuilt (card_schema %d); likely threshold %.4f; %s", old["name"],
             CARD_SCHEMA, likely, f"{len(moved)} metrics moved" if moved else "no metric moved")
    return moved


def metric_changes(old: dict, new: dict, tolerance: float = 1e-9) -> dict:
    moved = {}
    for split, points in old.items():
        for point, values in points.items():
            for key in COMPARED_METRICS:
                before = values.get(key)
                after = new.get(split, {}).get(point, {}).get(key)
                if before is None or after is None:
                    continue
                if not abs(before - after) <= tolerance:  # NaN counts as moved
                    moved[f"{split}.{point}.{key}"] = (before, after)
    return moved
