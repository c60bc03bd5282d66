"""The not-an-X-ray and bacteria/virus heads over the model's pooled features, in numpy.

Fitted by ``python -m training heads`` and stored as plain arrays in ``<name>.heads.npz``;
the card records the file's sha256, the rules and the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Heads:
    ood_mean: np.ndarray
    ood_precision: np.ndarray
    ood_threshold: float
    subtype_coef: np.ndarray
    subtype_intercept: float

    @classmethod
    def load(cls, path: Path) -> "Heads":
        with np.load(path) as arrays:
            return cls(
                arrays["ood_mean"],
                arrays["ood_precision"],
                float(arrays["ood_threshold"]),
                arrays["subtype_coef"],
                float(arrays["subtype_intercept"]),
            )

    @property
    def feature_count(self) -> int:
        return int(self.ood_mean.shape[0])

    def ood_distances(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each film's features from the training films'."""
        centred = np.asarray(features, dtype=np.float64) - self.ood_mean
        return np.sqrt(np.einsum("ij,jk,ik->i", centred, self.ood_precision, centred))

    def virus_probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(virus | pneumonia), logistic regression on the features."""
        logits = np.asarray(features, dtype=np.float64) @ self.subtype_coef
        return 1.0 / (1.0 + np.exp(-(logits + self.subtype_intercept)))
