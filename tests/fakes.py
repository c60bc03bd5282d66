"""A fast fake classifier that satisfies ``ClassifierProtocol``: it calls a film PNEUMONIA by
its brightness, and its engine's maps are the film itself, so what it says is known in advance.
Widget and core tests can use it where the real model's time or answers get in the way."""

from __future__ import annotations

import numpy as np

from pneumo_desktop.core.card import ModelCard
from pneumo_desktop.core.engine import DenseHead, DenseLayer
from pneumo_desktop.core.model import model_input
from pneumo_desktop.core.results import OperatingPoint, Prediction


class FakeEngine:
    provider, device, notice = "FakeExecutionProvider", "CPU", None
    feature_map_layers = ("brightness",)

    def __init__(self) -> None:
        # logit = 8 * mean brightness (0..1) - 4: P = 0.5 at mid grey.
        self.head = DenseHead([DenseLayer(np.eye(1), np.zeros(1), "relu"),
                               DenseLayer(np.array([[8.0]]), np.array([-4.0]), "sigmoid")])

    def _maps(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(images, np.float64)[:, ::8, ::8, :1] / 255.0

    def classify_outputs(self, images):
        features = self._maps(images).mean(axis=(1, 2))
        return 1 / (1 + np.exp(-self.head.logits(features))), features

    def logits(self, images):
        return self.head.logits(self._maps(images).mean(axis=(1, 2)))

    def gradcam_inputs(self, images):
        maps = self._maps(images)
        return maps, maps.mean(axis=(1, 2)), None

    def feature_maps(self, images, layer):
        return self._maps(images)


class FakeClassifier:
    def __init__(self, card: ModelCard):
        self.card, self.engine = card, FakeEngine()
        self.operating_point = OperatingPoint(card.threshold, card.likely_threshold)
        self.device, self.provider = self.engine.device, self.engine.provider
        self.ood_threshold = None
        self.input_size, self.channels = card.input_spec.size, card.input_spec.channels

    @property
    def threshold(self) -> float:
        return self.operating_point.threshold

    def prepare(self, image) -> np.ndarray:
        return model_input(getattr(image, "pixels", image), self.card.input_spec)

    def classify_batch(self, model_inputs) -> list[Prediction]:
        probabilities, _ = self.engine.classify_outputs(model_inputs)
        return [Prediction.under(self.operating_point, p) for p in probabilities]

    def classify(self, model_input) -> Prediction:
        return self.classify_batch(np.asarray(model_input)[None])[0]
