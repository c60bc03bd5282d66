"""The bundled classifier: its model card, checksum check, batched prediction, device.

The card (``<name>.card.json`` beside ``<name>.keras``) is the contract with the training
package: input size and channels, operating threshold, metrics, and the model file's sha256.
A model file whose hash differs from its card is refused: the card's metrics would not be true
of it.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .card import InputSpec, ModelCard, ModelChecksumError, ModelError, card_path
from .results import OperatingPoint, Prediction, ThresholdSource

__all__ = ["Classifier", "ModelCard", "ModelChecksumError", "ModelError", "model_input"]

DEFAULT_MODEL_NAME = "cnn_deep_aug"


def default_models_dir() -> Path:
    """``PNEUMO_MODELS_DIR``, else the installer's bundle, else ``models/`` of the checkout."""
    override = os.environ.get("PNEUMO_MODELS_DIR")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "models"
    return Path(__file__).resolve().parents[2] / "models"


def sha256_of(path: Path) -> str:
    # training/io.py has the same function on purpose: the app and the training package share
    # no code, only the files in models/ (an import-linter contract keeps it so).
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_input(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """The one preprocessing of the app: grey pixels (any size) as the model's input,
    ``(size, size, channels)`` float32 in 0..255, exactly as the training package made it:
    squashed to the input size (:func:`imaging.to_model_input`), then, for models trained on
    equalised films, Pillow's histogram equalisation of the resized grey film."""
    from PIL import Image, ImageOps

    from .imaging import to_model_input

    resized = to_model_input(pixels, size=spec.size, channels=1)
    if spec.equalize:
        grey = Image.fromarray(resized[..., 0].astype(np.uint8))
        resized = np.asarray(ImageOps.equalize(grey), dtype=np.float32)[..., None]
    return np.repeat(resized, spec.channels, axis=-1) if spec.channels != 1 else resized


def compute_device() -> str:
    """What TensorFlow computes on: the first GPU's name, or "CPU"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU: {details.get('device_name', gpus[0].name)}"


@dataclass(frozen=True)
class Analysis:
    """Everything the model says about a batch, one array entry per image."""

    probabilities: np.ndarray  # P(pneumonia)
    ood_distances: np.ndarray | None  # None when the model has no heads file
    virus_probabilities: np.ndarray | None


@dataclass(frozen=True)
class Heads:
    """The not-an-X-ray and bacteria/virus heads over the model's pooled features."""

    feature_layer: str
    ood_mean: np.ndarray
    ood_precision: np.ndarray
    ood_threshold: float
    subtype_coef: np.ndarray
    subtype_intercept: float

    @classmethod
    def load(cls, path: Path, feature_layer: str) -> "Heads":
        with np.load(path) as arrays:
            return cls(
                feature_layer,
                arrays["ood_mean"],
                arrays["ood_precision"],
                float(arrays["ood_threshold"]),
                arrays["subtype_coef"],
                float(arrays["subtype_intercept"]),
            )

    def ood_distances(self, features: np.ndarray) -> np.ndarray:
        centred = np.asarray(features, dtype=np.float64) - self.ood_mean
        return np.sqrt(np.einsum("ij,jk,ik->i", centred, self.ood_precision, centred))

    def virus_probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = np.asarray(features, dtype=np.float64) @ self.subtype_coef
        return 1.0 / (1.0 + np.exp(-(logits + self.subtype_intercept)))


class Classifier:
    """A verified Keras model plus its card. Construct it off the GUI thread: it imports
    TensorFlow, which takes seconds."""

    def __init__(
        self,
        models_dir: Path | None = None,
        name: str = DEFAULT_MODEL_NAME,
        *,
        verify_checksum: bool = True,
        batch_size: int = 32,
    ):
        models_dir = Path(models_dir) if models_dir else default_models_dir()
        self.card = ModelCard.load(card_path(models_dir, name))
        model_path = self.card.model_path
        if not model_path.is_file():
            raise ModelError(f"model file not found: {model_path}")
        if verify_checksum:
            actual = sha256_of(model_path)
            if actual != self.card.sha256:
                raise ModelChecksumError(
                    f"{model_path.name} does not match its model card (sha256 {actual[:12]}… "
                    f"≠ {self.card.sha256[:12]}…): the file was changed or damaged; "
                    "reinstall the application"
                )
        import keras

        try:
            self.model = keras.models.load_model(model_path, compile=False)
        except (OSError, ValueError, TypeError) as error:
            raise ModelError(f"cannot load {model_path.name}: {error}") from None
        self.batch_size = batch_size
        self.operating_point = OperatingPoint(
            self.card.threshold, self.card.likely_threshold, ThresholdSource.FACTORY
        )
        self.device = compute_device()
        self.heads = self._load_heads(verify_checksum)
        self._with_features = None
        if self.heads is not None:
            layer = self.model.get_layer(self.heads.feature_layer)
            self._with_features = keras.Model(self.model.input, [layer.output, self.model.output])

    def _load_heads(self, verify_checksum: bool) -> Heads | None:
        info = self.card.heads
        if info is None:
            return None
        path = info.path
        if not path.is_file():
            raise ModelError(f"heads file not found: {path}")
        if verify_checksum and sha256_of(path) != info.sha256:
            raise ModelChecksumError(
                f"{path.name} does not match its model card: the file was changed or damaged; "
                "reinstall the application"
            )
        return Heads.load(path, info.feature_layer)

    @property
    def ood_threshold(self) -> float | None:
        return self.heads.ood_threshold if self.heads is not None else None

    @property
    def threshold(self) -> float:
        """The operating threshold in use (the card's, or a site profile's)."""
        return self.operating_point.threshold

    @property
    def input_size(self) -> int:
        return self.card.input_spec.size

    @property
    def channels(self) -> int:
        return self.card.input_spec.channels

    def prepare(self, image) -> np.ndarray:
        """A loaded film (or its grey pixels) as this model's input, preprocessed exactly as
        the training package did: squashed to the input size, equalised if the card says so.
        Pure Pillow/numpy, so scan threads may call it in parallel."""
        pixels = image.pixels if hasattr(image, "pixels") else np.asarray(image)
        return model_input(pixels, self.card.input_spec)

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """P(pneumonia) for ``(N, size, size, channels)`` pixels in 0..255.

        Calls the model directly rather than ``model.predict``, whose per-call set-up costs
        more than a small batch's forward pass.
        """
        images = self._as_batch(images)
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            out.append(np.asarray(self.model(batch, training=False)).reshape(-1))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def analyse_batch(self, images: np.ndarray) -> Analysis:
        """P(pneumonia) plus, when the model has heads, the not-an-X-ray distance and
        P(virus), from one forward pass."""
        if self._with_features is None:
            return Analysis(self.predict_batch(images), None, None)
        images = self._as_batch(images)
        features, probabilities = [], []
        for start in range(0, len(images), self.batch_size):
            pooled, output = self._with_features(
                images[start : start + self.batch_size], training=False
            )
            features.append(np.asarray(pooled))
            probabilities.append(np.asarray(output).reshape(-1))
        if not features:
            empty = np.zeros(0)
            return Analysis(empty, empty, empty)
        pooled = np.concatenate(features)
        return Analysis(
            np.concatenate(probabilities),
            self.heads.ood_distances(pooled),
            self.heads.virus_probabilities(pooled),
        )

    def classify_batch(self, model_inputs: np.ndarray) -> list[Prediction]:
        """One :class:`Prediction` per model input, under :attr:`operating_point`."""
        analysis = self.analyse_batch(model_inputs)
        predictions = []
        for index, probability in enumerate(analysis.probabilities):
            if analysis.ood_distances is None:
                predictions.append(Prediction.under(self.operating_point, probability))
                continue
            predictions.append(
                Prediction.under(
                    self.operating_point,
                    probability,
                    ood_distance=float(analysis.ood_distances[index]),
                    ood_threshold=self.heads.ood_threshold,
                    subtype_probability=float(analysis.virus_probabilities[index]),
                )
            )
        return predictions

    def _as_batch(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            images = images[..., None]
        if images.shape[-1] != self.channels:
            images = np.repeat(images[..., :1], self.channels, axis=-1)
        return images

    def classify(self, model_input: np.ndarray) -> Prediction:
        return self.classify_batch(model_input[None])[0]
