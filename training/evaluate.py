"""Metrics, threshold choice and plots. Test data is only ever scored here, never tuned on."""

from __future__ import annotations

import numpy as np


def choose_threshold(labels, probabilities, target_sensitivity: float) -> float:
    """The highest threshold whose sensitivity on these (validation) cases is >= the target.

    A case is called PNEUMONIA when ``probability >= threshold``. Keeping the threshold as high
    as the target allows is what buys specificity.
    """
    labels = np.asarray(labels).astype(int)
    positives = np.sort(np.asarray(probabilities, dtype=np.float64)[labels == 1])
    if positives.size == 0:
        raise ValueError("cannot choose a threshold without pneumonia cases in validation")
    allowed_misses = int(np.floor((1.0 - target_sensitivity) * positives.size + 1e-9))
    return float(positives[allowed_misses])


def binary_metrics(labels, probabilities, threshold: float, subtypes=None) -> dict:
    """Accuracy, sensitivity, specificity, precision, F1, ROC AUC, confusion matrix."""
    from sklearn.metrics import confusion_matrix, roc_auc_score

    labels = np.asarray(labels).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = (probabilities >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    sensitivity = tp / (tp + fn) if tp + fn else float("nan")
    specificity = tn / (tn + fp) if tn + fp else float("nan")
    precision = tp / (tp + fp) if tp + fp else 0.0
    f1 = 2 * precision * sensitivity / (precision + sensitivity) if precision + sensitivity else 0.0
    result = {
        "threshold": float(threshold),
        "n": int(labels.size),
        "accuracy": float((tp + tn) / labels.size),
        "sensitivity": float(sensitivity),
        "specificity": float(specificity),
        "precision": float(precision),
        "f1": float(f1),
        "roc_auc": float(roc_auc_score(labels, probabilities)) if len(set(labels)) == 2 else None,
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }
    if subtypes is not None:
        subtypes = np.asarray(subtypes)
        for subtype in ("bacteria", "virus"):
            mask = subtypes == subtype
            if mask.any():
                result[f"recall_{subtype}"] = float(predicted[mask].mean())
    return result


def metrics_at(labels, probabilities, operating_threshold: float, subtypes=None) -> dict:
    """Metrics at 0.5 and at the operating threshold."""
    return {
        "at_0.5": binary_metrics(labels, probabilities, 0.5, subtypes),
        "at_operating_threshold": binary_metrics(
            labels, probabilities, operating_threshold, subtypes
        ),
    }


def save_plots(out_dir, name: str, history: dict, labels, probabilities, threshold: float):
    """Learning curves, confusion matrix at the operating threshold, ROC; returns file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    from .io import atomic_savefig

    files = {}
    if history:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for axis, metric in zip(axes, ("loss", "auc"), strict=True):
            for prefix, style in (("", "-"), ("val_", "--")):
                values = history.get(prefix + metric)
                if values:
                    epochs = range(1, len(values) + 1)
                    axis.plot(epochs, values, style, label=(prefix or "train_") + metric)
            axis.set_xlabel("epoch")
            axis.set_title(metric)
            axis.legend()
        fig.suptitle(f"{name}: learning curves")
        files["learning_curves"] = atomic_savefig(fig, out_dir / f"{name}.learning_curves.png")
        plt.close(fig)

    labels = np.asarray(labels).astype(int)
    predicted = (np.asarray(probabilities) >= threshold).astype(int)
    matrix = np.zeros((2, 2), dtype=int)
    for truth, guess in zip(labels, predicted, strict=True):
        matrix[truth, guess] += 1
    fig, axis = plt.subplots(figsize=(4.5, 4))
    axis.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axis.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=14)
    axis.set_xticks([0, 1], ["NORMAL", "PNEUMONIA"])
    axis.set_yticks([0, 1], ["NORMAL", "PNEUMONIA"])
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"test, threshold {threshold:.3f}")
    fig.tight_layout()
    files["confusion_matrix"] = atomic_savefig(fig, out_dir / f"{name}.confusion_matrix.png")
    plt.close(fig)

    fpr, tpr, _ = roc_curve(labels, probabilities)
    fig, axis = plt.subplots(figsize=(4.5, 4))
    axis.plot(fpr, tpr, label="ROC")
    axis.plot([0, 1], [0, 1], ":", color="grey")
    op = binary_metrics(labels, probabilities, threshold)
    axis.plot(1 - op["specificity"], op["sensitivity"], "o", color="red", label="operating point")
    axis.set_xlabel("1 - specificity")
    axis.set_ylabel("sensitivity")
    axis.set_title("test ROC")
    axis.legend(loc="lower right")
    fig.tight_layout()
    files["roc"] = atomic_savefig(fig, out_dir / f"{name}.roc.png")
    plt.close(fig)
    return files
