"""Hyper-parameters of a training run, as frozen dataclasses.

Each ``build_*`` function in this package takes a :class:`TrainConfig`; nothing reads globals.
Each model's preset (the fields that differ from these defaults) is in :mod:`training.registry`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

#: Every model sees 224x224 pixels with values 0..255; resizing to the network's working
#: resolution and all normalisation happen inside the model, so whoever loads it cannot
#: preprocess wrongly.
INPUT_SIZE = 224


@dataclass(frozen=True)
class AugmentConfig:
    """Random geometry and intensity changes applied to training batches only."""

    rotation_degrees: float = 10.0
    shift_fraction: float = 0.08
    shear_fraction: float = 0.0
    # A fraction f zooms in and out by up to f; a pair (low, high) gives Keras' RandomZoom range
    # itself (negative zooms in, crops; positive zooms out, pads with black).
    zoom_fraction: float | tuple[float, float] = 0.15
    # Zooming height and width independently changes the aspect ratio: the source films were
    # squashed to 224x224 from very different shapes, and the model must not learn the shape.
    independent_zoom: bool = True
    contrast: float = 0.0
    brightness: float = 0.0
    gamma: float = 0.0  # log-uniform gamma in [1/(1+g), 1+g]; 0 disables it.
    # Blur (0) .. unchanged (0.5) .. sharpened (1): machines and JPEG settings differ in
    # sharpness and noise, and the model must not read them as disease.
    sharpness: tuple[float, float] | None = None
    # Per film, blend up to this much of a half-resolution copy in: the originals of the two
    # classes differ in size (normals ~2.7 MP, pneumonias ~1.2 MP), so fine texture tells the
    # class apart without any disease in it (training/stress.py measures how much it sways).
    resolution_loss: float = 0.0


NOTEBOOK_AUGMENT = AugmentConfig(
    rotation_degrees=20.0,
    shift_fraction=0.2,
    shear_fraction=0.2,
    zoom_fraction=0.2,
    independent_zoom=False,
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides one training run."""

    model_name: str
    data_dir: Path = Path("../shared/data/chest_xray")
    out_dir: Path = Path("models")
    channels: int = 1
    working_size: int = 160  # resolution the network computes at (resized inside the model)
    batch_size: int = 32
    epochs: int = 30
    learning_rate: float = 1e-3
    cosine_decay: bool = True
    early_stopping_patience: int = 8
    val_fraction: float = 0.10
    # "patient" (random patients), "patient_earliest" (the lowest patient numbers, a hold-out
    # in acquisition time) or "image" (the notebook's leaky split, for its recipe only).
    split: str = "patient"
    seed: int = 1337
    class_weights: bool = True
    # Mixup (Zhang et al. 2018): train on convex blends of two films and of their labels, with
    # the blend drawn from Beta(alpha, alpha); 0 disables it. It discourages the saturated,
    # confident outputs a network gives to films unlike any it trained on.
    mixup_alpha: float = 0.0
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    threshold_rule: str = "val_sensitivity"  # or "fixed_0.5" for the notebook recipe
    target_sensitivity: float = 0.99
    # Histogram-equalise every film (Pillow, before the model) so that films from other
    # machines, with other exposure curves, look alike; the card tells the app to do the same.
    equalize: bool = False
    # Crop every film to its lung fields inside the model (training/framing.py), so that the
    # network sees the same field of view whatever the machine and the radiographer did.
    frame_lungs: bool = False
    frame_jitter: float = 0.0  # training only: each box edge moves by up to this (film fraction)
    equalize_crop: bool = False  # histogram-equalise the crop itself inside the model
    weights_file: Path | None = None  # ImageNet weights for the transfer models
    limit_per_class: int | None = None  # a tiny subset, for smoke runs in CI
    version: str = "1.0.0"

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def config_for(model_name: str, **overrides) -> TrainConfig:
    """The preset for ``model_name`` with command-line ``overrides`` applied (None means unset).

    Presets live in :mod:`training.registry`, the one place a model is added.
    """
    from .registry import spec_for  # the registry imports this module

    values = dict(spec_for(model_name).preset)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return TrainConfig(model_name=model_name, **values)
