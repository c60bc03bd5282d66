"""Two small heads fitted on the trained CNN's pooled features, without retraining it:

* **Not a chest X-ray.** The Mahalanobis distance of a film's features from the training
  films' features (mean and Ledoit-Wolf covariance). Films farther than the threshold are
  refused as ``not_xray``. The threshold is set on validation films only: a high quantile of
  their distances (the largest) times a small margin.
* **Bacterial vs viral** pneumonia: logistic regression on the same features, trained on the
  training split's pneumonia films (subtype from the file name), its C chosen on validation.

Both are stored as plain arrays in ``<model>.heads.npz`` beside the model; the card records the
file's sha256, the rules and the metrics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data
from .card import read_card, update_section
from .config import TrainConfig
from .io import atomic_write_bytes, sha256_of

logger = logging.getLogger(__name__)

FEATURE_LAYER = "gap"
# The limit is the largest distance of any validation film, plus 5%. Validation films are
# real films the fit never saw; the pooled features leave little room between real films
# (validation maximum about 29) and the nearest non-films (about 29-31), so a wide margin
# would let photographs and MR slices through.
OOD_MARGIN = 1.05


@dataclass(frozen=True)
class SplitFeatures:
    features: np.ndarray
    labels: np.ndarray  # 0 normal, 1 pneumonia
    subtypes: np.ndarray  # "normal" / "bacteria" / "virus"


def build_feature_model(model):
    import keras

    return keras.Model(model.input, model.get_layer(FEATURE_LAYER).output)


def extract_features(feature_model, records, config: TrainConfig) -> SplitFeatures:
    dataset = data.build_dataset(records, config, training=False)
    features = np.asarray(feature_model.predict(dataset, verbose=0), dtype=np.float64)
    return SplitFeatures(
        features,
        np.array([r.label for r in records]),
        np.array([r.subtype for r in records]),
    )


def fit_ood(train: np.ndarray, validation: np.ndarray) -> dict:
    """Mean, precision matrix and threshold of the Mahalanobis distance."""
    from sklearn.covariance import LedoitWolf

    estimator = LedoitWolf().fit(train)
    mean, precision = estimator.location_, estimator.precision_
    val_distances = mahalanobis(validation, mean, precision)
    threshold = float(val_distances.max() * OOD_MARGIN)
    return {"mean": mean, "precision": precision, "threshold": threshold}


def mahalanobis(features: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    centred = np.asarray(features, dtype=np.float64) - mean
    return np.sqrt(np.einsum("ij,jk,ik->i", centred, precision, centred))


def fit_subtype(train: SplitFeatures, validation: SplitFeatures) -> dict:
    """Logistic regression P(virus) on standardised features; C chosen on validation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    def pneumonia_only(split: SplitFeatures):
        mask = split.labels == 1
        return split.features[mask], (split.subtypes[mask] == "virus").astype(int)

    x_train, y_train = pneumonia_only(train)
    x_val, y_val = pneumonia_only(validation)
    centre, scale = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    best = None
    for c in (0.001, 0.01, 0.1, 1.0):
        fitted = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        fitted.fit((x_train - centre) / scale, y_train)
        auc = roc_auc_score(y_val, fitted.predict_proba((x_val - centre) / scale)[:, 1])
        if best is None or auc > best[0]:
            best = (auc, c, fitted)
    _, c, fitted = best
    # Folding the standardisation into the weights keeps the app's arithmetic one dot product.
    coef = fitted.coef_[0] / scale
    intercept = float(fitted.intercept_[0] - np.dot(fitted.coef_[0], centre / scale))
    return {"coef": coef, "intercept": intercept, "C": c}


def subtype_probability(features: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.asarray(features) @ coef + intercept)))


def subtype_metrics(split: SplitFeatures, coef, intercept) -> dict:
    from sklearn.metrics import roc_auc_score

    mask = split.labels == 1
    p_virus = subtype_probability(split.features[mask], coef, intercept)
    is_virus = split.subtypes[mask] == "virus"
    called_virus = p_virus >= 0.5
    return {
        "n": int(mask.sum()),
        "bacteria": int((~is_virus).sum()),
        "virus": int(is_virus.sum()),
        "accuracy": float((called_virus == is_virus).mean()),
        "recall_bacteria": float((~called_virus[~is_virus]).mean()),
        "recall_virus": float(called_virus[is_virus].mean()),
        "roc_auc": float(roc_auc_score(is_virus, p_virus)),
    }


def fit_heads(models_dir: Path, name: str, config: TrainConfig, log=logger.info) -> dict:
    """Fit both heads for ``models_dir/name.keras``, write the npz and update the card."""
    import io

    from .models import load_model

    card_path = Path(models_dir) / f"{name}.card.json"
    card = read_card(card_path)
    model = load_model(Path(models_dir) / card["model_file"])
    feature_model = build_feature_model(model)
    config = config.replace(
        channels=card["input"]["channels"],
        equalize=card["input"].get("equalize") == "histogram",
    )
    data_dir = Path(config.data_dir)
    records = data.list_split(data_dir / "train", config.limit_per_class)
    train_records, val_records = data.split_validation(
        records, config.val_fraction, card["data"]["split_seed"], by=card["data"]["split"]
    )
    test_records = data.list_split(data_dir / "test", config.limit_per_class)
    splits = {
        key: extract_features(feature_model, recs, config)
        for key, recs in (("train", train_records), ("validation", val_records),
                          ("test", test_records))
    }
    ood = fit_ood(splits["train"].features, splits["validation"].features)
    subtype = fit_subtype(splits["train"], splits["validation"])

    buffer = io.BytesIO()
    np.savez(
        buffer,
        ood_mean=ood["mean"],
        ood_precision=ood["precision"],
        ood_threshold=np.array(ood["threshold"]),
        subtype_coef=subtype["coef"],
        subtype_intercept=np.array(subtype["intercept"]),
    )
    heads_path = Path(models_dir) / f"{name}.heads.npz"
    atomic_write_bytes(heads_path, buffer.getvalue())

    refused = {
        key: float(np.mean(mahalanobis(split.features, ood["mean"], ood["precision"])
                           > ood["threshold"]))
        for key, split in splits.items()
    }
    heads = {
        "file": heads_path.name,
        "sha256": sha256_of(heads_path),
        "feature_layer": FEATURE_LAYER,
        "not_xray": {
            "method": "Mahalanobis distance of pooled CNN features from the training films "
            "(Ledoit-Wolf covariance)",
            "threshold": ood["threshold"],
            "rule": f"largest distance of a validation film x {OOD_MARGIN}",
            "xrays_refused": refused,
        },
        "subtype": {
            "method": "logistic regression P(virus) on pooled CNN features, pneumonia films of "
            f"the training split, class-balanced, C={subtype['C']} chosen on validation AUC",
            "decision": "virus when P(virus) >= 0.5, else bacteria",
            "validation": subtype_metrics(splits["validation"], subtype["coef"],
                                          subtype["intercept"]),
            "test": subtype_metrics(splits["test"], subtype["coef"], subtype["intercept"]),
        },
    }
    update_section(card_path, "heads", heads)
    log(f"{name}: heads written; X-rays refused as not_xray: {refused}; subtype test "
        f"accuracy {heads['subtype']['test']['accuracy']:.3f}")
    return heads
