"""The bundled classifier: its verified card and graph, batched classification, the device.

The card (``<name>.card.json``) is the contract with the training package: input spec,
thresholds, metrics, and the sha256 of every file the app runs. The app runs the exported ONNX
graph with onnxruntime (:mod:`.engine`) and never loads the Keras model, which stays in
``models/`` as the training artefact. A graph or heads file whose hash differs from its card,
or a graph exported from another Keras model than the card's, is refused: the card's metrics
would not be true of it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .card import (
    InputSpec,
    ModelCard,
    ModelChecksumError,
    ModelError,
    card_path,
    sha256_of,
)
from .engine import EngineProtocol, OnnxEngine
from .heads import Heads
from .results import OperatingPoint, Prediction, ThresholdSource

__all__ = ["Classifier", "ClassifierProtocol", "ModelCard", "ModelChecksumError", "ModelError",
           "default_models_dir", "model_input", "sha256_of"]

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


@runtime_checkable
class ClassifierProtocol(Protocol):
    """What widgets, scans and reports use of a classifier; widget tests may pass a fake."""

    card: ModelCard
    operating_point: OperatingPoint
    engine: EngineProtocol

    @property
    def device(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def threshold(self) -> float: ...

    @property
    def ood_threshold(self) -> float | None: ...

    @property
    def input_size(self) -> int: ...

    @property
    def channels(self) -> int: ...

    def prepare(self, image) -> np.ndarray: ...

    def classify(self, model_input: np.ndarray) -> Prediction: ...

    def classify_batch(self, model_inputs: np.ndarray) -> list[Prediction]: ...


class Classifier:
    """A verified model: card, onnxruntime engine, not-an-X-ray and subtype heads.

    Thread contract: everything is loaded and checked in ``__init__``; afterwards only
    :attr:`operating_point` may be replaced (as a whole: one assignment, which is atomic), and
    every method may be called from any thread (see :mod:`.engine`). The app calls it from one
    inference thread.
    """

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
        info = self.card.onnx
        if info is None:
            raise ModelError(f"model card {self.card.path}: onnx is missing (the model was "
                             "never exported for the app: python -m training export)")
        if info.source_sha256 != self.card.sha256:
            raise ModelChecksumError(
                f"{info.path.name} was exported from another model than its card describes "
                "(source sha256 differs): export it again (python -m training export)")
        self.engine: EngineProtocol = OnnxEngine(info, verify_checksum=verify_checksum,
                                                 batch_size=batch_size)
        self.batch_size = batch_size
        self.operating_point = OperatingPoint(
            self.card.threshold, self.card.likely_threshold, ThresholdSource.FACTORY
        )
        self.heads = self._load_heads(verify_checksum)

    def _load_heads(self, verify_checksum: bool) -> Heads | None:
        info = self.card.heads
        if info is None:
            return None
        if not info.path.is_file():
            raise ModelError(f"heads file not found: {info.path}")
        if verify_checksum and sha256_of(info.path) != info.sha256:
            raise ModelChecksumError(
                f"{info.path.name} does not match its model card: the file was changed or "
                "damaged; reinstall the application"
            )
        heads = Heads.load(info.path)
        features = self.engine.head.layers[0].kernel.shape[0]
        if heads.feature_count != features:
            raise ModelError(f"{info.path.name} was fitted on {heads.feature_count} features, "
                             f"the model has {features}: fit the heads again")
        return heads

    @property
    def device(self) -> str:
        """What computes: "CPU", "GPU (CUDA)" or "GPU (DirectML)"."""
        return self.engine.device

    @property
    def provider(self) -> str:
        """The onnxruntime execution provider in use, e.g. "CPUExecutionProvider"."""
        return self.engine.provider

    @property
    def provider_notice(self) -> str | None:
        """One line when the computation fell back to (or can only use) the CPU."""
        return self.engine.notice

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
        """A loaded film (or its grey pixels) as this model's input (:func:`model_input` with
        the card's input spec). Pure Pillow/numpy, so scan threads may call it in parallel."""
        pixels = image.pixels if hasattr(image, "pixels") else np.asarray(image)
        return model_input(pixels, self.card.input_spec)

    def classify_batch(self, model_inputs: np.ndarray) -> list[Prediction]:
        """One :class:`Prediction` per model input (``(N, size, size, channels)`` pixels in
        0..255), under :attr:`operating_point`, from one forward pass."""
        images = self._as_batch(model_inputs)
        if not len(images):
            return []
        probabilities, features = self.engine.classify_outputs(images)
        if self.heads is None:
            return [Prediction.under(self.operating_point, p) for p in probabilities]
        distances = self.heads.ood_distances(features)
        virus = self.heads.virus_probabilities(features)
        return [
            Prediction.under(self.operating_point, probability, ood_distance=float(distance),
                             ood_threshold=self.heads.ood_threshold,
                             subtype_probability=float(p_virus))
            for probability, distance, p_virus in zip(probabilities, distances, virus,
                                                      strict=True)
        ]

    def classify(self, model_input: np.ndarray) -> Prediction:
        return self.classify_batch(np.asarray(model_input)[None])[0]

    def _as_batch(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            images = images[..., None]
        if images.shape[-1] != self.channels:
            images = np.repeat(images[..., :1], self.channels, axis=-1)
        return images
